//! Identity numbers: the resident identity card number (GB 11643, 公民身份号码) and the unified
//! social credit code (GB 32100, 统一社会信用代码), each with its check character.

use chrono::NaiveDate;

/// Why a number is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdProblem {
    Length,
    Characters,
    BirthDate,
    CheckCharacter,
}

impl IdProblem {
    pub fn code(self) -> &'static str {
        match self {
            IdProblem::Length => "invalid_length",
            IdProblem::Characters => "invalid_format",
            IdProblem::BirthDate => "invalid_birth_date",
            IdProblem::CheckCharacter => "invalid_check_digit",
        }
    }

    pub fn message(self) -> super::text::Text {
        let (zh, en) = match self {
            IdProblem::Length => ("须为 18 位", "must be 18 characters"),
            IdProblem::Characters => (
                "含有不允许的字符",
                "contains characters that are not allowed",
            ),
            IdProblem::BirthDate => (
                "号码中的出生日期不存在",
                "the birth date inside the number is not a real date",
            ),
            IdProblem::CheckCharacter => (
                "校验码不符（可能输入有误）",
                "the check character does not match (typing error?)",
            ),
        };
        super::text::Text::new(zh, en)
    }
}

/// Upper-cases and trims, so `…123x` and `…123X` are one number.
pub fn normalize(number: &str) -> String {
    number.trim().to_ascii_uppercase()
}

/// GB 11643-1999: 17 digits (area, birth date YYYYMMDD, sequence) and a check character
/// computed by ISO 7064 MOD 11-2 (`X` stands for 10).
pub fn check_resident_id(number: &str) -> Result<(), IdProblem> {
    let n = normalize(number);
    let bytes = n.as_bytes();
    if bytes.len() != 18 {
        return Err(IdProblem::Length);
    }
    if !bytes[..17].iter().all(u8::is_ascii_digit)
        || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
    {
        return Err(IdProblem::Characters);
    }
    let birth = &n[6..14];
    if NaiveDate::parse_from_str(birth, "%Y%m%d").is_err() {
        return Err(IdProblem::BirthDate);
    }
    if resident_id_check_char(&n[..17]) == Some(bytes[17] as char) {
        Ok(())
    } else {
        Err(IdProblem::CheckCharacter)
    }
}

/// The GB 11643 check character (ISO 7064 MOD 11-2) of the first 17 digits.
pub fn resident_id_check_char(first17: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    Some(CHECK[(sum % 11) as usize] as char)
}

/// The 31 characters of credit codes (no I, O, Z, S, V).
const CREDIT_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The GB 32100 check character (modulo 31) of the first 17 characters of a credit code.
pub fn credit_code_check_char(first17: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (b, w) in first17.bytes().zip(WEIGHTS) {
        sum += CREDIT_ALPHABET.iter().position(|a| *a == b)? as u32 * w;
    }
    Some(CREDIT_ALPHABET[((31 - sum % 31) % 31) as usize] as char)
}

/// GB 32100-2015: 18 characters from the 31-character alphabet, the last a check character.
pub fn check_credit_code(code: &str) -> Result<(), IdProblem> {
    let c = normalize(code);
    if c.len() != 18 {
        return Err(IdProblem::Length);
    }
    if !c.bytes().all(|b| CREDIT_ALPHABET.contains(&b)) {
        return Err(IdProblem::Characters);
    }
    if credit_code_check_char(&c[..17]) == c.chars().nth(17) {
        Ok(())
    } else {
        Err(IdProblem::CheckCharacter)
    }
}

/// An identity number as lists and logs may show it: of an 18-character number the first 6
/// and last 4 characters; of a shorter one (a passport) the first and the last 2.
pub fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let (head, tail) = match chars.len() {
        n if n >= 15 => (6, 4),
        n if n > 4 => (1, 2),
        _ => (0, 0),
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < head || i >= chars.len() - tail {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// Masks every resident identity number (18 characters, the last a digit or `X`; or the old
/// 15-digit form) and unified social credit code (18 characters of its alphabet with the
/// 6-digit area code in place) found in a text, keeping the first 3 and last 2 characters:
/// `110*************33`. For log lines: paths, query strings, JSON, error messages.
///
/// A candidate is a whole run of ASCII letters and digits (so longer tokens such as hashes are
/// left alone); `%XX` escapes and terminal colour codes count as separators, so URL-encoded
/// text and coloured log lines are masked too. Numbers
/// with a wrong check character are masked as well: a mistyped number is still personal data.
pub fn mask_identity_numbers(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphanumeric() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            // ASCII bytes are character boundaries, so these slices are safe.
            let run = &text[start..i];
            if looks_like_identity_number(run) {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[copied..start]);
                o.push_str(&mask_keep(run, 3, 2));
                copied = i;
            } else {
                // A resident number written against letters (`ID330102198506141232`,
                // `身份证号码110…X号` is already split by the Chinese): its digits inside the run.
                for (from, to) in embedded_resident_numbers(run) {
                    let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                    o.push_str(&text[copied..start + from]);
                    o.push_str(&mask_keep(&run[from..to], 3, 2));
                    copied = start + to;
                }
            }
        } else if b == 0x1b && bytes.get(i + 1) == Some(&b'[') {
            // A terminal colour code (ESC [ … final byte) of a coloured log line: a separator.
            i += 2;
            while i < bytes.len() && !(0x40..=0x7e).contains(&bytes[i]) {
                i += 1;
            }
            i += 1;
        } else if b == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            i += 3;
        } else {
            i += 1;
        }
    }
    match out {
        None => std::borrow::Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            std::borrow::Cow::Owned(o)
        }
    }
}

/// Resident identity numbers inside a run of letters and digits: a run of exactly 17 digits
/// followed by a check digit or `X`, or of exactly 15 digits, between letters (never part of a
/// longer run of digits). Byte ranges into `run`, in order.
fn embedded_resident_numbers(run: &str) -> Vec<(usize, usize)> {
    let b = run.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = i - start;
        let check_x = digits == 17 && b.get(i).is_some_and(|c| *c == b'X' || *c == b'x');
        if digits == 18 || digits == 15 {
            found.push((start, i));
        } else if check_x {
            found.push((start, i + 1));
            i += 1;
        }
    }
    found
}

fn looks_like_identity_number(run: &str) -> bool {
    let b = run.as_bytes();
    match b.len() {
        15 => b.iter().all(u8::is_ascii_digit),
        18 => {
            let resident = b[..17].iter().all(u8::is_ascii_digit)
                && (b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x');
            // GB 32100: registration authority, kind, 6-digit area code, 9 characters of
            // organisation code, check character.
            let credit = b
                .iter()
                .all(|c| CREDIT_ALPHABET.contains(&c.to_ascii_uppercase()))
                && b[2..8].iter().all(u8::is_ascii_digit);
            resident || credit
        }
        _ => false,
    }
}

fn mask_keep(run: &str, head: usize, tail: usize) -> String {
    let n = run.len();
    run.char_indices()
        .map(|(i, c)| if i < head || i >= n - tail { c } else { '*' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_numbers_are_masked_wherever_they_appear() {
        let m = |s: &str| mask_identity_numbers(s).into_owned();
        assert_eq!(m("110101199003071233"), "110*************33");
        // Against letters.
        assert_eq!(m("ID330102198506141232"), "ID330*************32");
        assert_eq!(m("id=ID11010519491231002Xok"), "id=ID110*************2Xok");
        assert_eq!(m("no110101900307123end"), "no110**********23end");
        // A longer run of digits is not a number of a person.
        assert_eq!(m("x12345678901234567890y"), "x12345678901234567890y");
        assert_eq!(m("11010519491231002x"), "110*************2x");
        assert_eq!(m("11010519491231002X"), "110*************2X");
        // The old 15-digit form and a credit code.
        assert_eq!(m("110101900307123"), "110**********23");
        assert_eq!(m("91350100M000100Y43"), "913*************43");
        // In a URL query, also percent-encoded after a Chinese name.
        assert_eq!(
            m("/api/v1/requests?applicant_id=110101199003071233&page=2"),
            "/api/v1/requests?applicant_id=110*************33&page=2"
        );
        assert_eq!(
            m("q=%E5%BC%A0%E4%B8%89110101199003071233"),
            "q=%E5%BC%A0%E4%B8%89110*************33"
        );
        // In JSON and in Chinese text.
        assert_eq!(
            m(r#"{"number":"110101199003071233","credit_code":"11100000MB0341032Y"}"#),
            r#"{"number":"110*************33","credit_code":"111*************2Y"}"#
        );
        assert_eq!(
            m("身份证110101199003071233号"),
            "身份证110*************33号"
        );
        // Right after a terminal colour code.
        assert_eq!(
            m("query\u{1b}[2m=\u{1b}[0m110101199003071233\u{1b}[1m}"),
            "query\u{1b}[2m=\u{1b}[0m110*************33\u{1b}[1m}"
        );
        // Two in one text.
        assert_eq!(
            m("a=110101199003071233,b=110101199003071233"),
            "a=110*************33,b=110*************33"
        );
    }

    #[test]
    fn other_tokens_are_left_alone() {
        let keep = [
            "request 7f1c2d3e-0a1b-4c5d-8e9f-0123456789ab done",
            // A longer digit run (not an identity number) and a shorter one.
            "1101011990030712334 11010119900307123",
            // A SHA-256 in hex.
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "2026-03-02T09:30:00+08:00 case 2026-000123",
            "AUTHORIZATIONHEADE",
        ];
        for t in keep {
            assert!(
                matches!(mask_identity_numbers(t), std::borrow::Cow::Borrowed(_)),
                "{t}"
            );
        }
    }

    #[test]
    fn a_resident_id_with_the_right_check_digit_passes() {
        // The example of the issue and the well-known GB 11643 sample.
        assert_eq!(check_resident_id("110101199003071233"), Ok(()));
        assert_eq!(check_resident_id("11010519491231002X"), Ok(()));
        assert_eq!(check_resident_id("11010519491231002x"), Ok(()));
    }

    #[test]
    fn a_resident_id_with_a_typing_error_fails() {
        assert_eq!(
            check_resident_id("110101199003071234"),
            Err(IdProblem::CheckCharacter)
        );
        assert_eq!(
            check_resident_id("110101199002301233"),
            Err(IdProblem::BirthDate)
        );
        assert_eq!(
            check_resident_id("11010119900307123"),
            Err(IdProblem::Length)
        );
        assert_eq!(
            check_resident_id("1101011990030712A3"),
            Err(IdProblem::Characters)
        );
    }

    #[test]
    fn every_single_digit_change_of_a_resident_id_is_caught() {
        let good = "110101199003071233";
        for i in 0..17 {
            for d in b'0'..=b'9' {
                let mut b = good.as_bytes().to_vec();
                if b[i] == d {
                    continue;
                }
                b[i] = d;
                let s = String::from_utf8(b).unwrap_or_default();
                assert!(check_resident_id(&s).is_err(), "{s}");
            }
        }
    }

    #[test]
    fn credit_codes_are_checked_modulo_31() {
        // Published codes: 国家市场监督管理总局 and a sample company.
        assert_eq!(check_credit_code("11100000MB0341032Y"), Ok(()));
        assert_eq!(check_credit_code("91350100M000100Y43"), Ok(()));
        assert_eq!(
            check_credit_code("91350100M000100Y44"),
            Err(IdProblem::CheckCharacter)
        );
        assert_eq!(
            check_credit_code("91350100M000100I43"),
            Err(IdProblem::Characters)
        );
        assert_eq!(check_credit_code("9135010"), Err(IdProblem::Length));
    }

    #[test]
    fn masking_keeps_only_the_ends() {
        assert_eq!(mask("110101199003071233"), "110101********1233");
        assert_eq!(mask("E12345678"), "E******78");
        assert_eq!(mask("1234"), "****");
    }
}
