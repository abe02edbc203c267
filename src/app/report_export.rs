//! Exports of the yearly report in the official layout: one grid model of each table (cells
//! with row and column spans, exact labels), rendered to HTML, XLSX (merged cells) and CSV.

use rust_xlsxwriter::{Format as XFormat, FormatAlign, FormatBorder, Workbook};

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

fn html_table(g: &Grid) -> String {
    let mut out = String::from("<table>\n");
    for row in 0..g.rows {
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
    out.push_str("</table>\n");
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

pub fn title(r: &Report) -> String {
    format!("{}{}年政府信息公开工作年度报告", r.agency_name, r.year)
}

/// A printable page in the official layout: six sections, merged label cells, exact labels.
pub fn html(r: &Report) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!("<title>{}</title>\n", esc(&title(r))));
    out.push_str("<style>body{font-family:\"SimSun\",\"Songti SC\",serif;max-width:60em;margin:2em auto;line-height:1.8}h1{text-align:center;font-size:1.4em}h2{font-size:1.1em}table{border-collapse:collapse;width:100%;margin:1em 0;page-break-inside:avoid}th,td{border:1px solid #000;padding:.3em .4em;text-align:center;font-weight:normal}td.n{text-align:right}@media print{body{margin:0}}</style>\n</head>\n<body>\n");
    out.push_str(&format!("<h1>{}</h1>\n", esc(&title(r))));
    if r.status != "published" {
        out.push_str(&format!(
            "<p><em>状态：{}（版本 {}）</em></p>\n",
            esc(&r.status),
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

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
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

/// One sheet per table, in the same layout with merged cells.
pub fn xlsx(r: &Report) -> Result<Vec<u8>, String> {
    let mut wb = Workbook::new();
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
    let num = XFormat::new().set_border(FormatBorder::Thin);
    for (name, grid) in [
        ("主动公开", proactive_grid(r)),
        ("申请办理", applications_grid(r)),
        ("复议诉讼", remedies_grid(r)),
    ] {
        let ws = wb.add_worksheet();
        ws.set_name(name).map_err(|e| e.to_string())?;
        for col in 0..grid.cols {
            ws.set_column_width(col, if col < 3 { 18 } else { 12 })
                .map_err(|e| e.to_string())?;
        }
        for c in &grid.cells {
            let fmt = if c.header {
                &head
            } else if c.number.is_some() {
                &num
            } else {
                &text
            };
            if c.rowspan > 1 || c.colspan > 1 {
                ws.merge_range(
                    c.row,
                    c.col,
                    c.row + c.rowspan - 1,
                    c.col + c.colspan - 1,
                    &c.text,
                    fmt,
                )
                .map_err(|e| e.to_string())?;
                if let Some(n) = c.number {
                    ws.write_number_with_format(c.row, c.col, n, fmt)
                        .map_err(|e| e.to_string())?;
                }
            } else if let Some(n) = c.number {
                ws.write_number_with_format(c.row, c.col, n, fmt)
                    .map_err(|e| e.to_string())?;
            } else {
                ws.write_string_with_format(c.row, c.col, &c.text, fmt)
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    wb.save_to_buffer().map_err(|e| e.to_string())
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
                table.to_string(),
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
