//! The language of an answer: `Accept-Language` (RFC 9110 §12.5.4) against the two languages
//! the service speaks, Chinese (`zh-CN`) and English (`en`); the deployment's
//! `i18n.default_language` when the request prefers neither. Problems are rendered in it and
//! say so in `Content-Language`, with `Vary: Accept-Language`.

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderMap, HeaderValue};

use super::problem::ApiError;
use crate::domain::text::Language;

/// The deployment's default language (`i18n.default_language`), as app data.
#[derive(Debug, Clone, Copy, Default)]
pub struct LanguagePolicy {
    pub default: Language,
}

/// The language of one range of `Accept-Language`: `zh`, `zh-CN`, `zh-Hans-CN`, `zh-TW` …
/// are Chinese, `en`, `en-GB` … English; `None` for `*` and for every other language.
fn language_of(range: &str) -> Option<Language> {
    let primary = range.split('-').next().unwrap_or("");
    if primary.eq_ignore_ascii_case("zh") {
        Some(Language::Chinese)
    } else if primary.eq_ignore_ascii_case("en") {
        Some(Language::English)
    } else {
        None
    }
}

/// A weight (`q`): `0`, `1`, or `0.` with up to three digits (RFC 9110 §12.4.2), in
/// thousandths. `None` when malformed.
fn weight(q: &str) -> Option<u16> {
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

/// The language to answer in: the one of the two whose best weight in `Accept-Language` is
/// highest (a range like `zh-CN` or `zh` counts for Chinese; `*` counts for a language no
/// range names); at equal weight the one named first. `q=0` refuses a language. No header,
/// no acceptable language, or only `*`: `default`. A malformed element is ignored.
pub fn negotiate(accept_language: Option<&str>, default: Language) -> Language {
    let Some(header) = accept_language else {
        return default;
    };
    // Per language: (weight, position) of its explicit ranges; and of `*`.
    let mut explicit: [Option<(u16, usize)>; 2] = [None, None];
    let mut wildcard: Option<(u16, usize)> = None;
    let slot = |l: Language| match l {
        Language::Chinese => 0,
        Language::English => 1,
    };
    for (pos, element) in header.split(',').enumerate() {
        let mut parts = element.split(';');
        let range = parts.next().unwrap_or("").trim();
        if range.is_empty() {
            continue;
        }
        let mut q = Some(1000);
        for param in parts {
            let Some((name, value)) = param.split_once('=') else {
                q = None;
                continue;
            };
            if name.trim().eq_ignore_ascii_case("q") {
                q = weight(value.trim());
            }
        }
        let Some(q) = q else {
            continue;
        };
        let target = if range == "*" {
            &mut wildcard
        } else {
            match language_of(range) {
                Some(l) => &mut explicit[slot(l)],
                None => continue,
            }
        };
        // The best weight of the language; its first position among the ranges naming it.
        *target = Some(match *target {
            Some((best, first)) => (best.max(q), first),
            None => (q, pos),
        });
    }
    let candidates = [Language::Chinese, Language::English].map(|l| {
        let (q, pos, named) = match (explicit[slot(l)], wildcard) {
            (Some((q, pos)), _) => (q, pos, true),
            (None, Some((q, pos))) => (q, pos, false),
            (None, None) => (0, usize::MAX, false),
        };
        (l, q, named, pos)
    });
    let best = candidates
        .iter()
        .filter(|c| c.1 > 0)
        // Highest weight; then a language named over one only matched by `*`; then the first.
        .max_by(|a, b| a.1.cmp(&b.1).then(a.2.cmp(&b.2)).then(b.3.cmp(&a.3)));
    match best {
        None => default,
        Some(&(l, _, true, _)) => l,
        // Matched by `*` only: when no language is named, any will do, so the default;
        // otherwise the named one weighs less (or is refused).
        Some(&(l, _, false, _)) => {
            if candidates.iter().any(|c| c.2) {
                l
            } else {
                default
            }
        }
    }
}

/// The language the request asks for, from its `Accept-Language` and the deployment default.
pub fn of_request(headers: &HeaderMap, policy: LanguagePolicy) -> Language {
    // Several Accept-Language fields are one list (RFC 9110 §5.3).
    let joined: Option<String> = {
        let values: Vec<&str> = headers
            .get_all(header::ACCEPT_LANGUAGE)
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    negotiate(joined.as_deref(), policy.default)
}

/// `Content-Language` of an answer in `lang`, and `Vary: Accept-Language` (kept once).
pub fn mark(h: &mut HeaderMap, lang: Language) {
    h.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.tag()),
    );
    let varies = h
        .get_all(header::VARY)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("accept-language"));
    if !varies {
        h.append(header::VARY, HeaderValue::from_static("Accept-Language"));
    }
}

/// A handler's problem rendered again in the negotiated language (it was rendered in the
/// default, Chinese, where it arose, without the request at hand).
pub fn localize(res: ServiceResponse<BoxBody>, lang: Language) -> ServiceResponse<BoxBody> {
    let body = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .map(|api| api.body(lang));
    match body {
        None => res,
        Some(body) => {
            let mut res = res.map_body(|_, _| BoxBody::new(body));
            mark(res.headers_mut(), lang);
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Language::{Chinese as Zh, English as En};

    #[test]
    fn chinese_tags_and_english_tags_are_recognised() {
        for h in ["zh", "zh-CN", "zh-cn", "ZH-Hans", "zh-Hans-CN", "zh-TW"] {
            assert_eq!(negotiate(Some(h), En), Zh, "{h}");
        }
        for h in ["en", "en-US", "EN-gb"] {
            assert_eq!(negotiate(Some(h), Zh), En, "{h}");
        }
    }

    #[test]
    fn without_a_header_or_an_acceptable_language_the_default_answers() {
        assert_eq!(negotiate(None, Zh), Zh);
        assert_eq!(negotiate(None, En), En);
        assert_eq!(negotiate(Some(""), En), En);
        assert_eq!(negotiate(Some("fr, de;q=0.5"), Zh), Zh);
        assert_eq!(negotiate(Some("fr, de;q=0.5"), En), En);
        assert_eq!(negotiate(Some("*"), En), En);
        assert_eq!(negotiate(Some("*"), Zh), Zh);
        assert_eq!(negotiate(Some("zh;q=0, en;q=0"), En), En);
    }

    #[test]
    fn q_values_decide_and_order_breaks_ties() {
        assert_eq!(negotiate(Some("en;q=0.5, zh;q=0.8"), En), Zh);
        assert_eq!(negotiate(Some("zh-CN;q=0.4, en;q=0.9"), Zh), En);
        assert_eq!(negotiate(Some("fr, en;q=0.3, zh;q=0.2"), Zh), En);
        assert_eq!(negotiate(Some("en, zh"), Zh), En);
        assert_eq!(negotiate(Some("zh, en"), En), Zh);
        // The best weight of a language counts, and the first position it is named at.
        assert_eq!(
            negotiate(Some("zh-TW;q=0.1, en;q=0.5, zh-CN;q=0.9"), En),
            Zh
        );
        // q=0 refuses.
        assert_eq!(negotiate(Some("zh;q=0, en"), Zh), En);
        assert_eq!(negotiate(Some("en;q=0.000, zh;q=0.001"), En), Zh);
        // Nothing acceptable (English refused, Chinese not named): the default all the same.
        assert_eq!(negotiate(Some("en;q=0"), En), En);
        assert_eq!(negotiate(Some("en;q=1.000, zh;q=0.999"), Zh), En);
    }

    #[test]
    fn the_wildcard_stands_for_a_language_no_range_names() {
        // zh is refused, anything else welcome: English.
        assert_eq!(negotiate(Some("zh;q=0, *"), Zh), En);
        // English named lower than the wildcard: Chinese, matched by `*`, weighs more.
        assert_eq!(negotiate(Some("en;q=0.2, *;q=0.5"), En), Zh);
        // Named beats wildcard at equal weight.
        assert_eq!(negotiate(Some("*, en"), Zh), En);
        assert_eq!(negotiate(Some("*;q=0.5, fr"), En), En);
    }

    #[test]
    fn malformed_elements_are_ignored() {
        assert_eq!(negotiate(Some("en;q=2, zh;q=0.5"), En), Zh);
        assert_eq!(negotiate(Some("en;q=abc"), Zh), Zh);
        assert_eq!(negotiate(Some("en;q=0.1234"), Zh), Zh);
        assert_eq!(negotiate(Some("en;q"), Zh), Zh);
        assert_eq!(negotiate(Some(",,; ,en-US;q=0.7"), Zh), En);
        assert_eq!(negotiate(Some("en ; q = 0.5 , zh;q=0.4"), Zh), En);
    }

    #[test]
    fn several_header_fields_are_one_list_and_marking_keeps_vary_once() {
        let mut h = HeaderMap::new();
        h.append(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("fr;q=0.9"),
        );
        h.append(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("en;q=0.5"),
        );
        assert_eq!(of_request(&h, LanguagePolicy { default: Zh }), En);
        assert_eq!(
            of_request(&HeaderMap::new(), LanguagePolicy { default: En }),
            En
        );

        let mut out = HeaderMap::new();
        out.insert(header::VARY, HeaderValue::from_static("Origin"));
        mark(&mut out, Zh);
        mark(&mut out, En);
        assert_eq!(
            out.get(header::CONTENT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
            Some("en")
        );
        let vary: Vec<&str> = out
            .get_all(header::VARY)
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(vary, ["Origin", "Accept-Language"]);
    }
}
