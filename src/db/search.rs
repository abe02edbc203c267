//! The free-text search of the application list (`q`).
//!
//! `q` keeps its old meaning, a substring of the case number, the applicant name or the
//! description, but no longer scans the table. Each application stores `search_text`: the
//! distinct single characters and overlapping two-character grams of the letter-or-digit runs
//! of those three fields, ASCII lowercased, separated by spaces (computed here, written by the
//! one writer path, `requests::to_row`). PostgreSQL indexes it as an array (GIN over
//! `string_to_array(search_text, ' ')`), SQLite copies it into an FTS5 table by triggers
//! (tokenized by `ascii`, so each gram, of any script, is exactly one token). A
//! search asks the index for the rows holding every gram of the query, and then rechecks the
//! original columns with the old `LIKE`, so the result is exactly the substring match. A query
//! of one or two ideographs or digits (a name like 张伟) needs no recheck: its one gram is held
//! exactly by the rows that contain it ([`grams_are_exact`]).
//!
//! Why grams of two: Chinese names are often two characters (张三) and a search of one or two
//! characters must find them; trigram indexes (pg_trgm, FTS5's `trigram`) cannot, and
//! pg_trgm's idea of a word character depends on the database's locale. The gram lists are
//! plain tokens, so neither database parses or stems them.

use std::collections::BTreeSet;

/// The letter-or-digit runs of a text, ASCII lowercased.
fn runs(text: &str) -> impl Iterator<Item = Vec<char>> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|r| !r.is_empty())
        .map(|r| r.chars().map(|c| c.to_ascii_lowercase()).collect())
}

/// The stored grams of an application's searchable fields: every single character and every
/// pair of neighbours within a run, distinct, space-separated, in a stable order.
pub fn document_grams(fields: &[&str]) -> String {
    let mut grams = BTreeSet::new();
    for run in fields.iter().flat_map(|f| runs(f)) {
        for (i, c) in run.iter().enumerate() {
            grams.insert(c.to_string());
            if let Some(next) = run.get(i + 1) {
                grams.insert([*c, *next].iter().collect::<String>());
            }
        }
    }
    grams.into_iter().collect::<Vec<_>>().join(" ")
}

/// The grams a match must hold: the pairs of each run of the query, or the character of a
/// one-character run. Empty when the query has no letter or digit (then only the recheck
/// applies).
pub fn query_grams(query: &str) -> Vec<String> {
    let mut grams = BTreeSet::new();
    for run in runs(query) {
        if run.len() == 1 {
            grams.insert(run[0].to_string());
        }
        for pair in run.windows(2) {
            grams.insert(pair.iter().collect::<String>());
        }
    }
    grams.into_iter().collect()
}

/// Whether holding the grams of `query` is the same as containing it: a query of one or two
/// CJK ideographs or ASCII digits (a name such as 张伟, a number). The stored grams are every
/// such character and every neighbouring pair of a field, so a field contains the query exactly
/// when its grams hold the query's one gram, and the recheck on the original columns can be
/// left out. Not for longer queries (the grams of `张三丰` are also held by `张三 三丰`), nor
/// for ASCII letters (the grams are lowercased, PostgreSQL's `LIKE` is case-sensitive). Kept to
/// ideographs and digits, where nothing else can differ: the other characters Rust calls
/// alphanumeric include marks and symbols (Devanagari ा, Tibetan ི, 🄰), which an FTS5
/// tokenizer other than the `ascii` one SQLite's copy uses would split or drop (`unicode61`,
/// used before, looked `का` up as `क`).
pub fn grams_are_exact(query: &str) -> bool {
    (1..=2).contains(&query.chars().count())
        && query
            .chars()
            .all(|c| c.is_alphanumeric() && is_ideograph_or_digit(c))
}

/// In a block of CJK unified or compatibility ideographs (up to extension I), or an ASCII
/// digit. The blocks hold unassigned code points, which are no gram: the caller also asks for
/// a letter or digit.
fn is_ideograph_or_digit(c: char) -> bool {
    matches!(c,
        '0'..='9'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FA1F}'
        | '\u{30000}'..='\u{323AF}')
}

/// An FTS5 query asking for every gram in the `grams` column (each gram a quoted phrase).
pub fn fts5_query(grams: &[String]) -> String {
    let phrases: Vec<String> = grams
        .iter()
        .map(|g| format!("\"{}\"", g.replace('"', "\"\"")))
        .collect();
    format!("{{grams}} : ({})", phrases.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_all(doc: &str, q: &str) -> bool {
        let doc: BTreeSet<&str> = doc.split(' ').collect();
        query_grams(q).iter().all(|g| doc.contains(g.as_str()))
    }

    #[test]
    fn a_two_character_name_yields_its_characters_and_its_pair() {
        assert_eq!(document_grams(&["张三"]), "三 张 张三");
    }

    #[test]
    fn runs_break_at_punctuation_and_ascii_is_lowercased() {
        let doc = document_grams(&["GK-2026"]);
        assert!(doc.split(' ').any(|g| g == "gk"));
        assert!(!doc.contains('-'));
        assert!(!doc.split(' ').any(|g| g == "k2"));
    }

    #[test]
    fn every_substring_of_a_field_finds_its_grams() {
        let fields = [
            "京公开〔2026〕第12号",
            "北京市张三有限公司",
            "申请公开2025年Road预算",
        ];
        let doc = document_grams(&fields);
        for f in fields {
            let chars: Vec<char> = f.chars().collect();
            for i in 0..chars.len() {
                for j in i + 1..=chars.len() {
                    let q: String = chars[i..j].iter().collect();
                    assert!(has_all(&doc, &q), "{q}");
                    assert!(has_all(&doc, &q.to_uppercase()), "{q}");
                }
            }
        }
    }

    #[test]
    fn a_query_without_letters_or_digits_asks_for_no_gram() {
        assert!(query_grams("〔-〕").is_empty());
        assert_eq!(query_grams("三"), vec!["三"]);
        assert_eq!(query_grams("张三丰"), vec!["三丰", "张三"]);
    }

    #[test]
    fn one_or_two_ideographs_or_digits_are_matched_by_their_gram_alone() {
        for q in ["娜", "张伟", "12", "7号", "𠀋", "丽"] {
            assert!(grams_are_exact(q), "{q}");
        }
        // Longer, cased, marks and symbols, or with a separator: the columns are rechecked.
        for q in [
            "张三丰",
            "ab",
            "Ab",
            "Жж",
            "ǅ",
            "का",
            "ि",
            "བི",
            "张🄰",
            "张 伟",
            "〔",
            "０",
            "张\u{2F000}",
            "",
        ] {
            assert!(!grams_are_exact(q), "{q}");
        }
    }

    #[test]
    fn an_exact_query_is_held_by_a_document_exactly_when_a_field_contains_it() {
        let fields = [
            "北京市张三有限公司",
            "申请公开2025年预算〔12〕号",
            "京-张伟",
        ];
        let doc = document_grams(&fields);
        let chars: std::collections::BTreeSet<char> = fields
            .iter()
            .flat_map(|f| f.chars())
            .chain("王伟5三张".chars())
            .collect();
        // Every query of one or two of these characters: the grams and the substring agree.
        let mut queries: Vec<String> = chars.iter().map(|c| c.to_string()).collect();
        for a in &chars {
            for b in &chars {
                queries.push([*a, *b].iter().collect());
            }
        }
        let mut checked = 0;
        for q in queries.iter().filter(|q| grams_are_exact(q)) {
            let contained = fields.iter().any(|f| f.contains(q.as_str()));
            assert_eq!(has_all(&doc, q), contained, "{q}");
            checked += 1;
        }
        assert!(checked > 100, "{checked}");
    }

    #[test]
    fn the_fts5_query_quotes_each_gram() {
        assert_eq!(
            fts5_query(&["张三".into(), "a".into()]),
            "{grams} : (\"张三\" AND \"a\")"
        );
    }
}
