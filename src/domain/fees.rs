//! Information processing fees (信息处理费), Measures of 2020 (国办函〔2020〕109号), in force from
//! 2021-01-01. Amounts in fen (1 yuan = 100 fen): money is never a float.

/// How the fee is computed; one basis per application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeBasis {
    /// 按件: by the number of the same applicant's applications in one calendar month.
    PerPiece,
    /// 按量: by the pages of one application.
    PerPage,
}

impl FeeBasis {
    pub fn code(self) -> &'static str {
        match self {
            FeeBasis::PerPiece => "per_piece",
            FeeBasis::PerPage => "per_page",
        }
    }

    pub fn parse(code: &str) -> Option<FeeBasis> {
        match code {
            "per_piece" => Some(FeeBasis::PerPiece),
            "per_page" => Some(FeeBasis::PerPage),
            _ => None,
        }
    }
}

const YUAN: i64 = 100;

/// The Measures (国办函〔2020〕109号) are in force from 1 January 2021; no fee notice before.
pub fn in_force_from() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap_or(chrono::NaiveDate::MIN)
}

/// The fee for the applicant's `n`-th application of the calendar month (1-based): pieces 1–10
/// free; 11–30 100 yuan each; from 31 in bands of 10, each band 100 yuan more per piece.
pub fn per_piece_fen(n: u32) -> i64 {
    match n {
        0..=10 => 0,
        11..=30 => 100 * YUAN,
        _ => {
            let band = i64::from((n - 31) / 10); // 31–40 → 0, 41–50 → 1, …
            (200 + 100 * band) * YUAN
        }
    }
}

/// The fee for one application of `pages` pages, progressive on the excess: 1–30 free; 31–100
/// 10 yuan a page; 101–200 20 yuan; 201 and up 40 yuan.
pub fn per_page_fen(pages: u32) -> i64 {
    let p = i64::from(pages);
    let band = |from: i64, to: i64| (p.min(to) - from).max(0);
    (10 * band(30, 100) + 20 * band(100, 200) + 40 * band(200, i64::MAX)) * YUAN
}

/// The most a fee notice may charge.
pub fn maximum_fen(basis: FeeBasis, nth_in_month: u32, pages: Option<u32>) -> i64 {
    match basis {
        FeeBasis::PerPiece => per_piece_fen(nth_in_month),
        FeeBasis::PerPage => per_page_fen(pages.unwrap_or(0)),
    }
}

/// Fen as a decimal yuan string, "1234.50".
pub fn yuan_string(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_piece_fees_follow_the_bands() {
        assert_eq!(per_piece_fen(1), 0);
        assert_eq!(per_piece_fen(10), 0);
        assert_eq!(per_piece_fen(11), 10_000);
        assert_eq!(per_piece_fen(30), 10_000);
        assert_eq!(per_piece_fen(31), 20_000);
        assert_eq!(per_piece_fen(40), 20_000);
        assert_eq!(per_piece_fen(41), 30_000);
        assert_eq!(per_piece_fen(51), 40_000);
    }

    #[test]
    fn per_page_fees_are_progressive_on_the_excess() {
        assert_eq!(per_page_fen(30), 0);
        assert_eq!(per_page_fen(31), 1_000);
        assert_eq!(per_page_fen(100), 70 * 1_000);
        assert_eq!(per_page_fen(101), 70 * 1_000 + 2_000);
        assert_eq!(per_page_fen(200), 70 * 1_000 + 100 * 2_000);
        assert_eq!(per_page_fen(201), 70 * 1_000 + 100 * 2_000 + 4_000);
    }

    #[test]
    fn yuan_strings_have_two_decimals() {
        assert_eq!(yuan_string(0), "0.00");
        assert_eq!(yuan_string(12_345), "123.45");
        assert_eq!(yuan_string(5), "0.05");
    }
}
