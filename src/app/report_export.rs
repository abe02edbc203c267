//! Exports of the yearly report in the official layout: one grid model of each table (cells
//! with row and column spans, exact labels), rendered to HTML, XLSX (merged cells) and CSV.

use base64::Engine as _;
use rust_xlsxwriter::{Format as XFormat, FormatAlign, FormatBorder, Workbook};
use sha2::{Digest, Sha256};

use super::reports::Report;
use crate::domain::report::{self, APPLICATION_COLUMNS, REMEDY_GROUPS, REMEDY_OUTCOMES, SECTIONS};

#[derive(Debug, Clone)]
pub struct Cell {
    pub row: u32,
    pub col: u16,
    pub rowspan: u32,
    pub colspan: u16,
    pub text: String,
    pub header: bool,
    pub number: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct Grid {
    pub cells: Vec<Cell>,
    pub rows: u32,
    pub cols: u16,
    /// Where each part of the table starts and how many header rows it has: one part for
    /// tables 三 and 四, one per block for table 二 (each block has its own header). A printed
    /// page repeats the header of the part it continues.
    pub parts: Vec<(u32, u32)>,
}

impl Grid {
    fn put(
        &mut self,
        row: u32,
        col: u16,
        rowspan: u32,
        colspan: u16,
        text: impl Into<String>,
        header: bool,
    ) {
        self.rows = self.rows.max(row + rowspan);
        self.cols = self.cols.max(col + colspan);
        self.cells.push(Cell {
            row,
            col,
            rowspan,
            colspan,
            text: text.into(),
            header,
            number: None,
        });
    }

    fn num(&mut self, row: u32, col: u16, colspan: u16, text: &str) {
        self.put(row, col, 1, colspan, text, false);
        if let Some(c) = self.cells.last_mut() {
            c.number = text.parse::<f64>().ok();
        }
    }
}

/// Table 二: per block a title row, a header row and its data rows.
pub fn proactive_grid(r: &Report) -> Grid {
    let mut g = Grid::default();
    let width: u16 = r
        .tables
        .proactive
        .rows
        .iter()
        .map(|x| x.columns.len() as u16)
        .max()
        .unwrap_or(1)
        + 1;
    let mut row = 0;
    let mut last_block = String::new();
    for (i, pr) in r.tables.proactive.rows.iter().enumerate() {
        let next_same = r
            .tables
            .proactive
            .rows
            .get(i + 1)
            .is_some_and(|n| n.block == pr.block && n.columns == pr.columns);
        if pr.block != last_block {
            g.parts.push((row, 2));
            g.put(row, 0, 1, width, pr.block.clone(), true);
            row += 1;
            g.put(row, 0, 1, 1, "信息内容", true);
            let n = pr.columns.len() as u16;
            for (j, c) in pr.columns.iter().enumerate() {
                let span = if j as u16 == n - 1 {
                    width - 1 - j as u16
                } else {
                    1
                };
                g.put(row, 1 + j as u16, 1, span, c.label.clone(), true);
            }
            row += 1;
            last_block = pr.block.clone();
        }
        g.put(row, 0, 1, 1, pr.label.clone(), false);
        let n = pr.columns.len() as u16;
        for (j, c) in pr.columns.iter().enumerate() {
            let span = if j as u16 == n - 1 {
                width - 1 - j as u16
            } else {
                1
            };
            let v = pr
                .values
                .get(&c.code)
                .map(ToString::to_string)
                .unwrap_or_default();
            g.num(row, 1 + j as u16, span, &v);
        }
        row += 1;
        if !next_same
            && r.tables
                .proactive
                .rows
                .get(i + 1)
                .is_some_and(|n| n.block == pr.block)
        {
            // The same block with other columns: start a new header.
            last_block.clear();
        }
    }
    g
}

/// Table 三 in the official layout: the balance note, the applicant columns, and the merged
/// group labels of the result rows.
pub fn applications_grid(r: &Report) -> Grid {
    let mut g = Grid::default();
    let t = &r.tables.applications;
    g.parts.push((0, 3));
    g.put(0, 0, 3, 3, report::BALANCE_NOTE, true);
    g.put(0, 3, 1, 7, "申请人情况", true);
    g.put(1, 3, 2, 1, "自然人", true);
    g.put(1, 4, 1, 5, "法人或其他组织", true);
    g.put(1, 9, 2, 1, "总计", true);
    for (i, label) in [
        "商业企业",
        "科研机构",
        "社会公益组织",
        "法律服务机构",
        "其他",
    ]
    .iter()
    .enumerate()
    {
        g.put(2, 4 + i as u16, 1, 1, *label, true);
    }
    let first = 3u32;
    let result_rows: Vec<usize> = t
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.groups.first().is_some_and(|g| g == report::RESULT_GROUP))
        .map(|(i, _)| i)
        .collect();
    if let (Some(a), Some(b)) = (result_rows.first(), result_rows.last()) {
        g.put(
            first + *a as u32,
            0,
            (*b - *a + 1) as u32,
            1,
            report::RESULT_GROUP,
            false,
        );
    }
    let mut i = 0;
    while i < t.rows.len() {
        let row = &t.rows[i];
        let y = first + i as u32;
        match row.groups.len() {
            0 => g.put(y, 0, 1, 3, row.label.clone(), false),
            1 => g.put(y, 1, 1, 2, row.label.clone(), false),
            _ => {
                let sub = row.groups[1].clone();
                if i == 0 || t.rows[i - 1].groups.get(1) != Some(&sub) {
                    let n = t.rows[i..]
                        .iter()
                        .take_while(|r| r.groups.get(1) == Some(&sub))
                        .count();
                    g.put(y, 1, n as u32, 1, sub, false);
                }
                g.put(y, 2, 1, 1, row.label.clone(), false);
            }
        }
        for (j, c) in APPLICATION_COLUMNS.iter().enumerate() {
            g.num(
                y,
                3 + j as u16,
                1,
                &row.values.get(*c).copied().unwrap_or(0).to_string(),
            );
        }
        i += 1;
    }
    g
}

/// Table 四: review (5 columns), litigation direct (5) and after review (5).
pub fn remedies_grid(r: &Report) -> Grid {
    let mut g = Grid::default();
    g.parts.push((0, 3));
    g.put(0, 0, 1, 5, "行政复议", true);
    g.put(0, 5, 1, 10, "行政诉讼", true);
    for (i, (_, label)) in REMEDY_OUTCOMES.iter().enumerate() {
        g.put(1, i as u16, 2, 1, *label, true);
    }
    g.put(1, 5, 1, 5, "未经复议直接起诉", true);
    g.put(1, 10, 1, 5, "复议后起诉", true);
    for k in 0..2u16 {
        for (i, (_, label)) in REMEDY_OUTCOMES.iter().enumerate() {
            g.put(2, 5 + k * 5 + i as u16, 1, 1, *label, true);
        }
    }
    for (gi, (group, _)) in REMEDY_GROUPS.iter().enumerate() {
        let values = r.tables.remedies.get(*group).cloned().unwrap_or_default();
        for (i, (o, _)) in REMEDY_OUTCOMES.iter().enumerate() {
            g.num(
                3,
                gi as u16 * 5 + i as u16,
                1,
                &values.get(*o).copied().unwrap_or(0).to_string(),
            );
        }
    }
    g
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_row(out: &mut String, g: &Grid, row: u32) {
    out.push_str("<tr>");
    let mut cells: Vec<&Cell> = g.cells.iter().filter(|c| c.row == row).collect();
    cells.sort_by_key(|c| c.col);
    for c in cells {
        let tag = if c.header { "th" } else { "td" };
        out.push('<');
        out.push_str(tag);
        if c.rowspan > 1 {
            out.push_str(&format!(" rowspan=\"{}\"", c.rowspan));
        }
        if c.colspan > 1 {
            out.push_str(&format!(" colspan=\"{}\"", c.colspan));
        }
        if c.number.is_some() {
            out.push_str(" class=\"n\"");
        }
        out.push('>');
        out.push_str(&esc(&c.text));
        out.push_str(&format!("</{tag}>"));
    }
    out.push_str("</tr>\n");
}

/// One `<table>` per part of the grid, its header rows in `<thead>` (repeated by the browser
/// on every printed page the table runs over), its other rows in `<tbody>`.
fn html_table(g: &Grid) -> String {
    let parts = if g.parts.is_empty() {
        vec![(0, 0)]
    } else {
        g.parts.clone()
    };
    let mut out = String::new();
    for (i, (start, head)) in parts.iter().enumerate() {
        let end = parts.get(i + 1).map_or(g.rows, |p| p.0);
        out.push_str(if i == 0 {
            "<table>\n"
        } else {
            "<table class=\"cont\">\n"
        });
        let body_from = (start + head).min(end);
        if *head > 0 {
            out.push_str("<thead>\n");
            for row in *start..body_from {
                html_row(&mut out, g, row);
            }
            out.push_str("</thead>\n");
        }
        out.push_str("<tbody>\n");
        for row in body_from..end {
            html_row(&mut out, g, row);
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out
}

fn paragraphs(text: &str) -> String {
    let ps: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("<p>{}</p>", esc(l.trim())))
        .collect();
    if ps.is_empty() {
        "<p>（无）</p>".to_string()
    } else {
        ps.join("\n")
    }
}

fn fee_sentence(r: &Report) -> String {
    format!(
        "本年度发出收费通知{}件，收费金额{}元，实际收取{}元。",
        r.fees.notices, r.fees.amount_charged_yuan, r.fees.amount_collected_yuan
    )
}

/// The report's status in Chinese, as printed on the exports.
pub fn status_label(status: &str) -> &str {
    match status {
        "draft" => "草稿",
        "published" => "已发布",
        "superseded" => "已被取代",
        "rollup" => "汇总",
        other => other,
    }
}

/// The inline style of the HTML export, the only resource it may use (its policy allows this
/// very text by its hash). Printed in A4 landscape (table 四 has 15 columns); a table split
/// over pages repeats its header; a heading stays with what follows.
pub const HTML_STYLE: &str = "body{font-family:\"SimSun\",\"Songti SC\",serif;max-width:60em;margin:2em auto;line-height:1.8}h1{text-align:center;font-size:1.4em}h2{font-size:1.1em}table{border-collapse:collapse;width:100%;margin:1em 0}table.cont{margin-top:-1px}thead{display:table-header-group}tr{page-break-inside:avoid;break-inside:avoid}th,td{border:1px solid #000;padding:.3em .4em;text-align:center;font-weight:normal}td.n{text-align:right}@page{size:A4 landscape;margin:15mm}@media print{body{margin:0;max-width:none;font-size:10.5pt}h1,h2{page-break-after:avoid;break-after:avoid}p{orphans:2;widows:2}}";

/// The Content-Security-Policy of the HTML export: nothing (`default-src 'none'`) but its own
/// inline style, allowed by the SHA-256 of the exact text emitted between `<style>` and
/// `</style>`.
pub fn html_csp() -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(HTML_STYLE));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
}

pub fn title(r: &Report) -> String {
    format!("{}{}年政府信息公开工作年度报告", r.agency_name, r.year)
}

/// A printable page in the official layout: six sections, merged label cells, exact labels.
pub fn html(r: &Report) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!("<title>{}</title>\n", esc(&title(r))));
    out.push_str(&format!("<style>{HTML_STYLE}</style>\n</head>\n<body>\n"));
    out.push_str(&format!("<h1>{}</h1>\n", esc(&title(r))));
    if r.status != "published" {
        out.push_str(&format!(
            "<p><em>状态：{}（版本 {}）</em></p>\n",
            esc(status_label(&r.status)),
            r.version
        ));
    }
    out.push_str(&format!(
        "<h2>{}</h2>\n{}\n",
        SECTIONS[0],
        paragraphs(&r.narrative.overview)
    ));
    // Sections 二, 三 and 四: the paragraph (when written), then the table.
    for (heading, text, grid) in [
        (SECTIONS[1], &r.narrative.proactive_text, proactive_grid(r)),
        (
            SECTIONS[2],
            &r.narrative.applications_text,
            applications_grid(r),
        ),
        (SECTIONS[3], &r.narrative.remedies_text, remedies_grid(r)),
    ] {
        let text = if text.trim().is_empty() {
            String::new()
        } else {
            format!("{}\n", paragraphs(text))
        };
        out.push_str(&format!("<h2>{heading}</h2>\n{text}{}", html_table(&grid)));
    }
    out.push_str(&format!(
        "<h2>{}</h2>\n{}\n",
        SECTIONS[4],
        paragraphs(&r.narrative.problems_and_improvements)
    ));
    out.push_str(&format!(
        "<h2>{}</h2>\n<p>{}</p>\n{}\n",
        SECTIONS[5],
        esc(&fee_sentence(r)),
        paragraphs(&r.narrative.other_matters)
    ));
    out.push_str("</body>\n</html>\n");
    out
}

/// One CSV cell. A cell a spreadsheet would take for a formula (starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return: OWASP "CSV injection") gets a leading `'`, so it shows as
/// the text it is; then quoting as RFC 4180 needs.
fn csv_field(s: &str) -> String {
    let s: std::borrow::Cow<'_, str> = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

fn csv_grid(out: &mut String, g: &Grid) {
    for row in 0..g.rows {
        let mut line = vec![String::new(); g.cols as usize];
        for c in g.cells.iter().filter(|c| c.row == row) {
            line[c.col as usize] = csv_field(&c.text);
        }
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
}

/// UTF-8 with a byte-order mark, so that Excel shows the Chinese labels; the three tables one
/// after the other, each after its section title (merged cells written once, at their start).
pub fn csv(r: &Report) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&csv_field(&title(r)));
    out.push_str("\r\n");
    for (section, grid) in [
        (SECTIONS[1], proactive_grid(r)),
        (SECTIONS[2], applications_grid(r)),
        (SECTIONS[3], remedies_grid(r)),
    ] {
        out.push_str("\r\n");
        out.push_str(section);
        out.push_str("\r\n");
        csv_grid(&mut out, &grid);
    }
    out.push_str("\r\n");
    out.push_str(SECTIONS[5]);
    out.push_str("\r\n");
    out.push_str(&csv_field(&fee_sentence(r)));
    out.push_str("\r\n");
    out
}

/// Column widths (in characters of the default font) of each sheet: wide label columns, narrow
/// figure columns; the whole sheet fits an A4 page across.
fn column_widths(sheet: usize, cols: u16) -> Vec<f64> {
    (0..cols)
        .map(|c| match (sheet, c) {
            (0, 0) => 30.0,
            (0, _) => 16.0,
            (1, 0) => 10.0,
            (1, 1) => 14.0,
            (1, 2) => 30.0,
            (1, _) => 10.0,
            _ => 9.0,
        })
        .collect()
}

/// The width of a text in column-width units: a Chinese character takes about two.
fn text_width(s: &str) -> f64 {
    s.chars()
        .map(|c| if c.is_ascii() { 1.0 } else { 2.1 })
        .sum()
}

/// The number of lines a wrapped text takes in a cell of the given width.
fn lines(text: &str, width: f64) -> f64 {
    text.lines()
        .map(|l| (text_width(l) / (width - 1.0).max(1.0)).ceil().max(1.0))
        .sum::<f64>()
        .max(1.0)
}

/// Point heights of the rows that need more than one line (a line is 15 points), so that the
/// wrapped labels show whole: a cell over several rows shares its height among them.
fn row_heights(g: &Grid, widths: &[f64]) -> Vec<f64> {
    const LINE: f64 = 15.0;
    let mut h = vec![LINE; g.rows as usize];
    let span_width = |c: &Cell| -> f64 {
        widths[c.col as usize..(c.col + c.colspan) as usize]
            .iter()
            .sum()
    };
    for c in g.cells.iter().filter(|c| c.rowspan == 1) {
        let need = lines(&c.text, span_width(c)) * LINE + 3.0;
        let row = &mut h[c.row as usize];
        *row = row.max(need);
    }
    for c in g.cells.iter().filter(|c| c.rowspan > 1) {
        let need = lines(&c.text, span_width(c)) * LINE + 3.0;
        let rows = c.row as usize..(c.row + c.rowspan) as usize;
        let have: f64 = h[rows.clone()].iter().sum();
        if have < need {
            let add = (need - have) / f64::from(c.rowspan);
            for x in &mut h[rows] {
                *x += add;
            }
        }
    }
    h
}

/// The title row of each sheet: agency, year, which table, version and status.
pub fn sheet_title(r: &Report, table: &str) -> String {
    format!(
        "{}　{}　版本 {}　{}",
        title(r),
        table,
        r.version,
        status_label(&r.status)
    )
}

/// One sheet per table, in the same layout with merged cells, under a title row; printed on one
/// A4 page in landscape, centred, the title and the table's header repeated on every page.
pub fn xlsx(r: &Report) -> Result<Vec<u8>, String> {
    let e = |e: rust_xlsxwriter::XlsxError| e.to_string();
    let mut wb = Workbook::new();
    let caption = XFormat::new()
        .set_bold()
        .set_font_size(14)
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_text_wrap();
    let head = XFormat::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_text_wrap();
    let text = XFormat::new()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::VerticalCenter)
        .set_text_wrap();
    let num = XFormat::new()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::VerticalCenter);
    for (sheet, (name, table, grid)) in [
        ("主动公开", SECTIONS[1], proactive_grid(r)),
        ("申请办理", SECTIONS[2], applications_grid(r)),
        ("复议诉讼", SECTIONS[3], remedies_grid(r)),
    ]
    .into_iter()
    .enumerate()
    {
        // The grid starts under the title row.
        const TOP: u32 = 1;
        let ws = wb.add_worksheet();
        ws.set_name(name).map_err(e)?;
        ws.set_paper_size(9)
            .set_landscape()
            .set_print_fit_to_pages(1, 1)
            .set_print_center_horizontally(true);
        let widths = column_widths(sheet, grid.cols.max(1));
        for (col, w) in widths.iter().enumerate() {
            ws.set_column_width(col as u16, *w).map_err(e)?;
        }
        let title_text = sheet_title(r, table);
        let last_col = grid.cols.max(1) - 1;
        let title_height = lines(&title_text, widths.iter().sum::<f64>() / 1.3) * 20.0 + 6.0;
        if last_col > 0 {
            ws.merge_range(0, 0, 0, last_col, &title_text, &caption)
                .map_err(e)?;
        } else {
            ws.write_string_with_format(0, 0, &title_text, &caption)
                .map_err(e)?;
        }
        ws.set_row_height(0, title_height).map_err(e)?;
        // Repeat the title and, for a table with a single header, that header.
        let repeat = match grid.parts.as_slice() {
            [(0, head)] => TOP + head - 1,
            _ => 0,
        };
        ws.set_repeat_rows(0, repeat).map_err(e)?;
        for (row, h) in row_heights(&grid, &widths).into_iter().enumerate() {
            if h > 15.0 {
                ws.set_row_height(TOP + row as u32, h).map_err(e)?;
            }
        }
        for c in &grid.cells {
            let fmt = if c.header {
                &head
            } else if c.number.is_some() {
                &num
            } else {
                &text
            };
            let row = TOP + c.row;
            if c.rowspan > 1 || c.colspan > 1 {
                ws.merge_range(
                    row,
                    c.col,
                    row + c.rowspan - 1,
                    c.col + c.colspan - 1,
                    &c.text,
                    fmt,
                )
                .map_err(e)?;
                if let Some(n) = c.number {
                    ws.write_number_with_format(row, c.col, n, fmt).map_err(e)?;
                }
            } else if let Some(n) = c.number {
                ws.write_number_with_format(row, c.col, n, fmt).map_err(e)?;
            } else {
                ws.write_string_with_format(row, c.col, &c.text, fmt)
                    .map_err(e)?;
            }
        }
    }
    wb.save_to_buffer().map_err(e)
}

/// The tidy CSV: one line per figure (agency, year, version, table, row, column, value, with
/// the row's and column's official labels), for programs that collect figures across agencies
/// and years. UTF-8 with a byte-order mark like the layout CSV, so that Excel reads the labels;
/// CRLF line ends (RFC 4180). Table codes: `proactive` (二), `applications` (三), `remedies`
/// (四); row and column codes as in the JSON report.
pub fn tidy_csv(r: &Report) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str("agency_code,year,version,table,row,row_label,column,column_label,value\r\n");
    let mut line =
        |table: &str, row: &str, row_label: &str, col: &str, col_label: &str, v: &str| {
            let fields = [
                csv_field(&r.agency_code),
                r.year.to_string(),
                r.version.to_string(),
                csv_field(table),
                csv_field(row),
                csv_field(row_label),
                csv_field(col),
                csv_field(col_label),
                csv_field(v),
            ];
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        };
    for row in &r.tables.proactive.rows {
        for col in &row.columns {
            let v = row.values.get(&col.code).copied().unwrap_or_default();
            line(
                "proactive",
                &row.code,
                &row.label,
                &col.code,
                &col.label,
                &v.to_string(),
            );
        }
    }
    let apps = &r.tables.applications;
    for row in &apps.rows {
        // The label as printed: the merged group cells, then the row's own.
        let label = row
            .groups
            .iter()
            .map(String::as_str)
            .chain([row.label.as_str()])
            .collect::<Vec<_>>()
            .join("/");
        for col in &apps.columns {
            let v = row.values.get(col).copied().unwrap_or(0);
            line(
                "applications",
                &row.code,
                &label,
                col,
                report::column_label(col),
                &v.to_string(),
            );
        }
    }
    for (group, group_label) in REMEDY_GROUPS {
        let values = r.tables.remedies.get(group);
        for (outcome, outcome_label) in REMEDY_OUTCOMES {
            let v = values.and_then(|m| m.get(outcome)).copied().unwrap_or(0);
            line(
                "remedies",
                group,
                group_label,
                outcome,
                outcome_label,
                &v.to_string(),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn cells_a_spreadsheet_would_run_are_neutralised() {
        assert_eq!(
            super::csv_field("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(super::csv_field("+1"), "'+1");
        assert_eq!(super::csv_field("-2"), "'-2");
        assert_eq!(super::csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(super::csv_field("\tx"), "'\tx");
        assert_eq!(super::csv_field("\rx"), "\"'\rx\"");
        assert_eq!(super::csv_field("某市人民政府"), "某市人民政府");
        assert_eq!(super::csv_field("12"), "12");
    }

    use std::collections::BTreeMap;
    use std::io::Read as _;

    use super::*;
    use crate::app::reports::{Fees, ProactiveTable, Tables};
    use crate::domain::report::{ApplicationCounts, Format};

    fn report(status: &str) -> Report {
        let format = Format::F2021;
        Report {
            agency_id: "a".into(),
            agency_code: "A".into(),
            agency_name: "某某市某某局".into(),
            year: 2025,
            format,
            status: status.into(),
            version: 2,
            published_at: None,
            published_by: None,
            tables: Tables {
                proactive: ProactiveTable {
                    rows: report::proactive_table(format, &BTreeMap::new()).expect("layout"),
                },
                applications: report::applications_table(format, &ApplicationCounts::default()),
                remedies: report::remedies_table(&BTreeMap::new()),
            },
            checks: Vec::new(),
            fees: Fees {
                notices: 0,
                amount_charged_yuan: "0.00".into(),
                amount_collected_yuan: "0.00".into(),
            },
            narrative: Default::default(),
            publication_deadline: None,
            agencies: None,
            revision: 0,
            figures: Default::default(),
        }
    }

    fn between<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
        let from = s.find(open).expect(open) + open.len();
        let to = from + s[from..].find(close).expect(close);
        &s[from..to]
    }

    #[test]
    fn the_csp_allows_exactly_the_emitted_style_by_its_hash() {
        let page = html(&report("draft"));
        let style = between(&page, "<style>", "</style>");
        assert_eq!(style, HTML_STYLE);
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style));
        let csp = html_csp();
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        assert!(
            csp.contains(&format!("style-src 'sha256-{hash}';")),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(!csp.contains("script-src"), "{csp}");
    }

    #[test]
    fn the_html_prints_in_landscape_with_headers_in_thead() {
        let page = html(&report("draft"));
        assert!(page.contains("@page{size:A4 landscape"));
        assert!(page.contains("thead{display:table-header-group}"));
        let tables = page.matches("<table").count();
        assert!(tables >= 3);
        assert_eq!(page.matches("<thead>").count(), tables, "{page}");
        assert_eq!(page.matches("</thead>").count(), tables);
        assert_eq!(page.matches("<tbody>").count(), tables);
        // Table 三's three header rows, with the balance note, are its head.
        let head = page
            .split("<thead>")
            .skip(1)
            .map(|t| between(t, "", "</thead>"))
            .find(|t| t.contains(report::BALANCE_NOTE))
            .expect("table 三's head");
        assert_eq!(head.matches("<tr>").count(), 3);
        assert!(head.contains("法律服务机构"));
        assert!(!head.contains("<td"));
    }

    #[test]
    fn the_status_is_printed_in_chinese() {
        for (status, word) in [
            ("draft", "草稿"),
            ("superseded", "已被取代"),
            ("rollup", "汇总"),
        ] {
            let page = html(&report(status));
            assert!(
                page.contains(&format!("<p><em>状态：{word}（版本 2）</em></p>")),
                "{status}"
            );
            assert!(!page.contains(status), "{status}");
        }
        assert_eq!(status_label("published"), "已发布");
        assert!(!html(&report("published")).contains("状态："));
    }

    fn part(xlsx: &[u8], name: &str) -> String {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).expect("a ZIP");
        let mut s = String::new();
        z.by_name(name)
            .expect(name)
            .read_to_string(&mut s)
            .expect("UTF-8");
        s
    }

    #[test]
    fn report_export_xlsx_sheets_print_on_one_landscape_a4_page_under_a_title() {
        let r = report("draft");
        let bytes = xlsx(&r).expect("xlsx");
        let strings = part(&bytes, "xl/sharedStrings.xml");
        let workbook = part(&bytes, "xl/workbook.xml");
        for (i, table) in SECTIONS[1..4].iter().enumerate() {
            let sheet = part(&bytes, &format!("xl/worksheets/sheet{}.xml", i + 1));
            assert!(sheet.contains("orientation=\"landscape\""), "{sheet}");
            assert!(sheet.contains("paperSize=\"9\""), "{sheet}");
            assert!(sheet.contains("<pageSetUpPr fitToPage=\"1\"/>"), "{sheet}");
            assert!(sheet.contains("horizontalCentered=\"1\""), "{sheet}");
            assert!(sheet.contains("<cols>"), "column widths");
            assert!(sheet.contains("customHeight=\"1\""), "row heights");
            // The title row spans the table's width.
            assert!(sheet.contains("<mergeCell ref=\"A1:"), "{sheet}");
            let title = sheet_title(&r, table);
            assert!(title.contains("某某市某某局2025年"));
            assert!(title.contains("版本 2"));
            assert!(title.contains("草稿"));
            assert!(strings.contains(&title), "{title}");
        }
        // The title and the header rows repeat on every printed page.
        assert!(workbook.contains("_xlnm.Print_Titles"), "{workbook}");
        assert!(workbook.contains("申请办理!$1:$4"), "{workbook}");
        assert!(workbook.contains("复议诉讼!$1:$4"), "{workbook}");
        assert!(workbook.contains("主动公开!$1:$1"), "{workbook}");
    }

    #[test]
    fn report_export_row_heights_fit_wrapped_labels() {
        let g = applications_grid(&report("draft"));
        let widths = column_widths(1, g.cols);
        let h = row_heights(&g, &widths);
        // The balance note over three rows of 54 characters' width takes two lines.
        let three: f64 = h[0..3].iter().sum();
        assert!(three >= 2.0 * 15.0, "{h:?}");
        for c in g.cells.iter().filter(|c| !c.header && c.number.is_none()) {
            let w: f64 = widths[c.col as usize..(c.col + c.colspan) as usize]
                .iter()
                .sum();
            let have: f64 = h[c.row as usize..(c.row + c.rowspan) as usize].iter().sum();
            assert!(have + 0.01 >= lines(&c.text, w) * 15.0, "{}", c.text);
        }
    }
}
