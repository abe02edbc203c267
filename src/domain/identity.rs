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

    pub fn message(self) -> &'static str {
        match self {
            IdProblem::Length => "must be 18 characters",
            IdProblem::Characters => "contains characters that are not allowed",
            IdProblem::BirthDate => "the birth date inside the number is not a real date",
            IdProblem::CheckCharacter => "the check character does not match (typing error?)",
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
