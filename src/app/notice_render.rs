//! Notices rendered as official documents (issue 13 item 5): a Word document (DOCX) and a
//! printable HTML page, both in the layout of GB/T 9704-2012 《党政机关公文格式》 (domain.md §12,
//! "Format"): A4, margins 37/35/28/26 mm, the title in 小标宋 二号 (22 pt), the document number
//! and the body in 仿宋 三号 (16 pt), 22 lines to the page, the agency name and the date at
//! the end.
//!
//! Pure: both are made from the notice's whole text as the API shows it — for an issued notice
//! the frozen text (so the document shows exactly the wording that was issued, numbered and
//! hashed, never a recomposition from today's case and letterhead), for a draft the letter as
//! it stands. A notice not yet issued carries a visible 「草稿」 mark so that nobody prints a
//! draft as an issued letter.

use docx_rs::{
    AlignmentType, DocGrid, DocGridType, Docx, FieldCharType, Footer, Header, InstrPAGE, InstrText,
    LineSpacing, LineSpacingType, PageMargin, Paragraph, Run, RunFonts, SpecialIndentType,
};

use super::notices::NoticeView;

/// A4 in twips (1/20 pt; 1 mm = 56.6929 twips): 210 × 297 mm.
pub const PAGE_WIDTH: u32 = 11906;
pub const PAGE_HEIGHT: u32 = 16838;
/// GB/T 9704-2012 margins in twips: top 37 mm, bottom 35 mm, left 28 mm, right 26 mm.
pub const MARGIN_TOP: i32 = 2098;
pub const MARGIN_BOTTOM: i32 = 1984;
pub const MARGIN_LEFT: i32 = 1587;
pub const MARGIN_RIGHT: i32 = 1474;
/// Where the header (the draft mark) sits: 15 mm from the top edge, inside the top margin.
const HEADER_FROM_TOP: i32 = 850;
/// The page number's line sits 7 mm below the type area (GB/T 9704 7.5): its foot about 23 mm
/// from the bottom edge.
const FOOTER_FROM_BOTTOM: i32 = 1304;
/// 四号 (14 pt), the page number's size, in half-points.
const PAGE_NUMBER_SIZE: usize = 28;
const PAGE_NUMBER_FONT: &str = "宋体";
/// The line pitch: the type area's 225 mm (12756 twips) over 22 lines, 579 twips (28.95 pt).
pub const LINE_PITCH: i32 = 579;
const GRID_PITCH: usize = LINE_PITCH as usize;
/// 二号 (22 pt) and 三号 (16 pt) in half-points, as DOCX counts sizes.
pub const TITLE_SIZE: usize = 44;
pub const BODY_SIZE: usize = 32;
/// One character of 三号 (16 pt) in twips; body paragraphs are indented two.
const ONE_CHAR: i32 = 320;
const TWO_CHARS: i32 = 2 * ONE_CHAR;
/// The date ends four characters in from the right margin (GB/T 9704 7.3.5.1).
const DATE_FROM_RIGHT: i32 = 4 * ONE_CHAR;

/// The title face and the body face of the standard; the names Chinese Word installations know.
pub const TITLE_FONT: &str = "方正小标宋简体";
pub const BODY_FONT: &str = "仿宋_GB2312";
/// Latin letters and digits (GB/T 9704 leaves them to the setter; Times New Roman is usual).
const LATIN_FONT: &str = "Times New Roman";

/// The mark on a notice that is not issued.
pub const DRAFT_MARK: &str = "草稿（未签发，不得作为正式文书使用）";

/// A notice laid out: the parts of the page, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub title: String,
    /// 发文字号 (the placeholder until issued).
    pub number: String,
    /// The salutation (主送, e.g. `张三：`), set flush left.
    pub recipient: Option<String>,
    /// The body's paragraphs (each a line of the text), first line indented two characters.
    pub body: Vec<String>,
    /// The name above the seal.
    pub signature: String,
    /// The date in Chinese (`2026年3月4日`).
    pub date: String,
    /// Not issued: show the draft mark.
    pub draft: bool,
}

impl Page {
    /// The notice's page from the text the API shows (`NoticeView::text`): for an issued notice
    /// the frozen text, for any other the letter as it stands (`Letter::text()`).
    pub fn of(v: &NoticeView) -> Page {
        Page::from_text(&v.text, v.state != "issued")
    }

    /// Splits a letter's text back into its parts. `Letter::text()` writes the title, the
    /// number, an empty line, each section followed by an empty line, the signature and the
    /// date: the first two lines and the last two are the frame, every other non-empty line a
    /// paragraph (a section's own line breaks, e.g. the numbered items, are kept as paragraphs),
    /// and the first paragraph is the salutation — every letter opens with `recipient`.
    pub fn from_text(text: &str, draft: bool) -> Page {
        let mut lines: Vec<&str> = text.lines().collect();
        // `text()` ends with a line break; an office's trailing blank lines are not content.
        while lines.len() > 4 && lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines.pop();
        }
        let at = |i: usize| lines.get(i).map_or_else(String::new, |l| l.to_string());
        let n = lines.len();
        let (title, number) = (at(0), at(1));
        let (signature, date, middle) = if n >= 4 {
            (at(n - 2), at(n - 1), &lines[2..n - 2])
        } else {
            (String::new(), String::new(), &lines[n.min(2)..])
        };
        let mut body: Vec<String> = middle
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.to_string())
            .collect();
        let recipient = if body.is_empty() {
            None
        } else {
            Some(body.remove(0))
        };
        Page {
            title,
            number,
            recipient,
            body,
            signature,
            date,
            draft,
        }
    }

    /// The file's name without extension: the title with the number, or with 草稿 for a draft.
    pub fn file_stem(&self) -> String {
        let tail = if self.draft {
            "草稿".to_string()
        } else {
            self.number.clone()
        };
        format!("{}（{tail}）", self.title)
            .chars()
            .map(|c| {
                if matches!(c, '/' | '\\') || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect()
    }
}

fn body_fonts() -> RunFonts {
    RunFonts::new()
        .east_asia(BODY_FONT)
        .ascii(LATIN_FONT)
        .hi_ansi(LATIN_FONT)
        .cs(BODY_FONT)
}

fn exact_lines() -> LineSpacing {
    LineSpacing::new()
        .line_rule(LineSpacingType::Exact)
        .line(LINE_PITCH)
        .before(0)
        .after(0)
}

fn body_run(text: &str) -> Run {
    Run::new()
        .add_text(text)
        .size(BODY_SIZE)
        .fonts(body_fonts())
}

fn line(text: &str) -> Paragraph {
    Paragraph::new()
        .add_run(body_run(text))
        .line_spacing(exact_lines())
}

fn empty_line() -> Paragraph {
    Paragraph::new().line_spacing(exact_lines())
}

/// The notice as a Word document (DOCX bytes).
pub fn docx(p: &Page) -> Result<Vec<u8>, String> {
    let mut doc = Docx::new()
        .page_size(PAGE_WIDTH, PAGE_HEIGHT)
        .page_margin(
            PageMargin::new()
                .top(MARGIN_TOP)
                .bottom(MARGIN_BOTTOM)
                .left(MARGIN_LEFT)
                .right(MARGIN_RIGHT)
                .header(HEADER_FROM_TOP)
                .footer(FOOTER_FROM_BOTTOM)
                .gutter(0),
        )
        .default_size(BODY_SIZE)
        .default_fonts(body_fonts());
    // 22 lines to the page: the grid Word snaps lines to.
    doc.document.section_property = doc.document.section_property.doc_grid(
        DocGrid::new()
            .grid_type(DocGridType::Lines)
            .line_pitch(GRID_PITCH),
    );
    doc = doc.footer(page_number_footer());
    if p.draft {
        doc = doc.header(
            Header::new().add_paragraph(
                Paragraph::new().align(AlignmentType::Center).add_run(
                    Run::new()
                        .add_text(DRAFT_MARK)
                        .size(BODY_SIZE)
                        .bold()
                        .color("C00000")
                        .fonts(body_fonts()),
                ),
            ),
        );
    }
    // The title: 小标宋 二号, centred; then the number, centred, and an empty line.
    doc = doc
        .add_paragraph(
            Paragraph::new()
                .align(AlignmentType::Center)
                .line_spacing(exact_lines())
                .add_run(
                    Run::new().add_text(&p.title).size(TITLE_SIZE).fonts(
                        RunFonts::new()
                            .east_asia(TITLE_FONT)
                            .ascii(LATIN_FONT)
                            .hi_ansi(LATIN_FONT)
                            .cs(TITLE_FONT),
                    ),
                ),
        )
        .add_paragraph(line(&p.number).align(AlignmentType::Center))
        .add_paragraph(empty_line());
    if let Some(r) = &p.recipient {
        doc = doc.add_paragraph(line(r));
    }
    for b in &p.body {
        doc = doc.add_paragraph(line(b).indent(
            None,
            Some(SpecialIndentType::FirstLine(TWO_CHARS)),
            None,
            None,
        ));
    }
    // Room for the seal, then the agency's name centred over the date, the date four
    // characters in from the right margin (GB/T 9704 7.3.5.1), both right-aligned.
    doc = doc.add_paragraph(empty_line()).add_paragraph(empty_line());
    let (name_right, date_right) = signature_indents(&p.signature, &p.date);
    for (s, right) in [(&p.signature, name_right), (&p.date, date_right)] {
        doc = doc.add_paragraph(line(s).align(AlignmentType::Right).indent(
            None,
            None,
            Some(right),
            None,
        ));
    }
    let mut out = std::io::Cursor::new(Vec::new());
    doc.build().pack(&mut out).map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

/// Width in characters of 三号: Chinese characters and full-width forms one, others half.
fn width_in_chars(s: &str) -> i32 {
    let halves: usize = s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    i32::try_from(halves.div_ceil(2)).unwrap_or(i32::MAX)
}

/// The right indents (twips) of the agency's name and of the date: the date four characters
/// in, the name centred over it (flush with the date's end if the name is the longer).
fn signature_indents(name: &str, date: &str) -> (i32, i32) {
    let half_difference = (width_in_chars(date) - width_in_chars(name)).max(0) * ONE_CHAR / 2;
    (DATE_FROM_RIGHT + half_difference, DATE_FROM_RIGHT)
}

/// 「— 1 —」 centred under the type area, 宋体 四号 (GB/T 9704 7.5 puts it at the outer side,
/// one character in, on printed pairs of pages; a letter is mostly one sheet).
fn page_number_footer() -> Footer {
    let fonts = || {
        RunFonts::new()
            .east_asia(PAGE_NUMBER_FONT)
            .ascii(PAGE_NUMBER_FONT)
            .hi_ansi(PAGE_NUMBER_FONT)
    };
    let text = |t: &str| Run::new().add_text(t).size(PAGE_NUMBER_SIZE).fonts(fonts());
    Footer::new().add_paragraph(
        Paragraph::new()
            .align(AlignmentType::Center)
            .add_run(text("— "))
            .add_run(
                Run::new()
                    .size(PAGE_NUMBER_SIZE)
                    .fonts(fonts())
                    .add_field_char(FieldCharType::Begin, false)
                    .add_instr_text(InstrText::PAGE(InstrPAGE::new()))
                    .add_field_char(FieldCharType::Separate, false)
                    .add_text("1")
                    .add_field_char(FieldCharType::End, false),
            )
            .add_run(text(" —")),
    )
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The page's style: GB/T 9704 on paper (`@page`), and the same sheet on screen.
const STYLE: &str = r#"@page { size: A4; margin: 37mm 26mm 35mm 28mm }
@page { @bottom-center { content: "— " counter(page) " —"; font-family: "SimSun", "宋体", serif; font-size: 14pt; vertical-align: top; padding-top: 7mm } }
html { background: #e8e8e8 }
body { margin: 0; color: #000; font-family: "FangSong", "仿宋", "仿宋_GB2312", "STFangsong", serif; font-size: 16pt; line-height: 28.95pt }
.sheet { box-sizing: content-box; width: 156mm; min-height: 225mm; padding: 37mm 26mm 35mm 28mm; margin: 8mm auto; background: #fff; box-shadow: 0 0 2mm rgba(0,0,0,.3) }
h1 { margin: 0; font-family: "方正小标宋简体", "FZXiaoBiaoSong-B05S", "小标宋", "SimSun", "宋体", "Songti SC", serif; font-size: 22pt; font-weight: normal; line-height: 28.95pt; text-align: center }
p { margin: 0; text-indent: 2em; white-space: pre-wrap; text-align: justify }
p.number { text-indent: 0; text-align: center; margin-bottom: 28.95pt }
p.recipient { text-indent: 0 }
.signature { display: table; margin: 57.9pt 4em 0 auto; text-align: center }
.signature p { text-indent: 0; white-space: nowrap; text-align: center }
.draft { margin: 0 0 28.95pt; padding: 2mm; border: 1mm solid #c00000; color: #c00000; font-weight: bold; text-align: center; text-indent: 0 }
@media print { html { background: none } .sheet { width: auto; min-height: 0; padding: 0; margin: 0; box-shadow: none } }
"#;

/// The notice as a standalone HTML page for the print preview: no script, no external
/// resource, every text escaped (the office's paragraphs are its own words).
pub fn html(p: &Page) -> String {
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!("<title>{}</title>\n", esc(&p.file_stem())));
    out.push_str("<style>\n");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<div class=\"sheet\">\n");
    if p.draft {
        out.push_str(&format!("<p class=\"draft\">{}</p>\n", esc(DRAFT_MARK)));
    }
    out.push_str(&format!("<h1>{}</h1>\n", esc(&p.title)));
    out.push_str(&format!("<p class=\"number\">{}</p>\n", esc(&p.number)));
    if let Some(r) = &p.recipient {
        out.push_str(&format!("<p class=\"recipient\">{}</p>\n", esc(r)));
    }
    for b in &p.body {
        out.push_str(&format!("<p>{}</p>\n", esc(b)));
    }
    out.push_str(&format!(
        "<div class=\"signature\">\n<p>{}</p>\n<p>{}</p>\n</div>\n",
        esc(&p.signature),
        esc(&p.date)
    ));
    out.push_str("</div>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUED: &str = "政府信息公开申请补正告知书\n定民依公开〔2026〕1号\n\n张三：\n\n本机关于2026年3月2日收到您的申请。\n\n请您作出以下补正：\n1. 写明文号\n2. 写明年份\n\n请于2026年3月18日前提交补正材料。\n\n定西市民政局\n2026年3月4日\n";

    #[test]
    fn a_letters_text_splits_back_into_its_parts() {
        let p = Page::from_text(ISSUED, false);
        assert_eq!(p.title, "政府信息公开申请补正告知书");
        assert_eq!(p.number, "定民依公开〔2026〕1号");
        assert_eq!(p.recipient.as_deref(), Some("张三："));
        assert_eq!(
            p.body,
            [
                "本机关于2026年3月2日收到您的申请。",
                "请您作出以下补正：",
                "1. 写明文号",
                "2. 写明年份",
                "请于2026年3月18日前提交补正材料。",
            ]
        );
        assert_eq!(p.signature, "定西市民政局");
        assert_eq!(p.date, "2026年3月4日");
        assert_eq!(
            p.file_stem(),
            "政府信息公开申请补正告知书（定民依公开〔2026〕1号）"
        );
    }

    #[test]
    fn a_short_or_empty_text_does_not_panic() {
        for t in ["", "标题", "标题\n文号", "标题\n文号\n\n", "a\nb\nc"] {
            let p = Page::from_text(t, true);
            assert!(p.draft);
            assert!(docx(&p).is_ok());
            assert!(html(&p).contains("@page"));
        }
    }

    #[test]
    fn html_escapes_the_offices_words_and_marks_a_draft() {
        let p = Page::from_text(
            "标题\n（文号于签发时编定）\n\n张三：\n\n<script>alert('x')</script> & \"q\"\n\n机关\n2026年3月4日\n",
            true,
        );
        let h = html(&p);
        assert!(!h.contains("<script"), "{h}");
        assert!(h.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"));
        assert!(h.contains("草稿"));
        assert!(!html(&Page { draft: false, ..p }).contains("草稿"));
    }

    #[test]
    fn the_name_is_centred_over_the_date_which_ends_four_characters_in() {
        // 2026年3月4日: six digits at half a character each, three Chinese: 6 characters.
        assert_eq!(width_in_chars("2026年3月4日"), 6);
        assert_eq!(width_in_chars("定西市民政局"), 6);
        assert_eq!(
            signature_indents("定西市民政局", "2026年3月4日"),
            (1280, 1280)
        );
        assert_eq!(
            signature_indents("定西市民政局", "2026年12月31日"),
            (1280 + 160, 1280)
        );
        assert_eq!(
            signature_indents("定西市", "2026年12月31日"),
            (1280 + 640, 1280)
        );
        assert_eq!(
            signature_indents("定西市人民政府办公室信息公开科", "2026年3月4日"),
            (1280, 1280)
        );
    }

    #[test]
    fn a_file_name_has_no_path_separators() {
        let p = Page::from_text("甲/乙\n1\\2\n\n张三：\n\n正文\n\n机关\n日期\n", false);
        assert_eq!(p.file_stem(), "甲_乙（1_2）");
    }
}
