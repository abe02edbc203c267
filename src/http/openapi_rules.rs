//! What the service checks of a request that the derived schemas cannot say by themselves:
//! texts that must not be blank or hold control characters (`domain::validation::text`),
//! lists that must not be empty, amounts above zero, the calendar's date range. Declared here,
//! by schema and member, so that a client (or a conformance tool) knows before it sends, and
//! the document finds no request it allows that the service then refuses for such a reason.
//!
//! A rule naming a schema or member that no longer exists is reported by [`apply`], and the
//! OpenAPI tests fail on it, so a rename cannot leave a rule silently behind.

use serde_json::{Value, json};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::RefOr;

use crate::domain::agency::AgencyCode;
use crate::domain::user::NewPassword;
use utoipa::openapi::schema::{Object, Schema, SchemaFormat};

/// Control characters (Unicode Cc) refused in a single-line text.
const NO_CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";
/// Control characters refused in a multi-line text (tab, line feed and carriage return pass).
const NO_CONTROL_MULTILINE: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F";

#[derive(Debug, Clone, Copy)]
enum Rule {
    /// A single line with at least one visible character.
    Line,
    /// A single line, may be empty.
    LineOptional,
    /// Text with line breaks allowed, with at least one visible character.
    Text,
    /// Text with line breaks allowed, may be empty.
    TextOptional,
    /// At least this many items.
    MinItems(u64),
    /// At least this many characters.
    MinLength(u64),
    /// At most this many characters.
    MaxLength(u64),
    /// At least this number.
    Minimum(i64),
    /// An absolute `http(s)` URL.
    HttpUrl,
    /// Matches this pattern.
    Pattern(&'static str),
    /// Each item of an array is a non-blank text (line breaks allowed).
    ItemsText,
    /// Each item of an array is a webhook event type.
    ItemsEventType,
}

/// `*`, `<entity>.*` or `<entity>.<action>`, the entities those of `app::webhooks`.
fn event_type_pattern() -> String {
    format!(
        r"^\s*(\*|({})\.(\*|[a-z_]{{1,64}}))\s*$",
        crate::app::webhooks::ENTITIES.join("|")
    )
}

/// (schema, member, rule) for request bodies.
const BODY_RULES: &[(&str, &str, Rule)] = &[
    (
        "CreateAgencyRequest",
        "code",
        Rule::Pattern(r"^\s*[A-Za-z0-9_-]+\s*$"),
    ),
    (
        "CreateAgencyRequest",
        "code",
        Rule::MaxLength(AgencyCode::MAX_LEN as u64),
    ),
    ("CreateAgencyRequest", "name", Rule::Line),
    ("CreateAgencyRequest", "region", Rule::LineOptional),
    ("CreateUserRequest", "username", Rule::Line),
    (
        "CreateUserRequest",
        "password",
        Rule::MinLength(NewPassword::MIN_CHARS as u64),
    ),
    ("CreateUserRequest", "display_name", Rule::LineOptional),
    ("CreateUserRequest", "roles", Rule::MinItems(1)),
    ("CreateClientRequest", "name", Rule::Line),
    ("CreateClientRequest", "scopes", Rule::MinItems(1)),
    ("CreateRequestDto", "description", Rule::Text),
    ("ExtendBody", "reason", Rule::Text),
    ("OverrideDeadlineBody", "reason", Rule::Text),
    ("WaiveFeeBody", "reason", Rule::Text),
    ("WithdrawBody", "reason", Rule::TextOptional),
    ("IssueFeeNoticeBody", "amount_fen", Rule::Minimum(1)),
    ("RecordPaymentBody", "amount_fen", Rule::Minimum(1)),
    ("RequestCorrectionBody", "items", Rule::MinItems(1)),
    ("RequestCorrectionBody", "items", Rule::ItemsText),
    ("StartConsultationBody", "whom", Rule::Line),
    ("CreateWebhookRequest", "url", Rule::HttpUrl),
    ("CreateWebhookRequest", "event_types", Rule::MinItems(1)),
    ("CreateWebhookRequest", "event_types", Rule::ItemsEventType),
    ("PatchWebhookRequest", "url", Rule::HttpUrl),
    ("PatchWebhookRequest", "event_types", Rule::MinItems(1)),
    ("PatchWebhookRequest", "event_types", Rule::ItemsEventType),
    ("PatchClientRequest", "name", Rule::Line),
    ("PatchClientRequest", "scopes", Rule::MinItems(1)),
    ("PatchUserRequest", "display_name", Rule::LineOptional),
    (
        "PatchUserRequest",
        "password",
        Rule::MinLength(NewPassword::MIN_CHARS as u64),
    ),
    ("ReplyBody", "legal_basis", Rule::TextOptional),
    ("ReplyBody", "provision", Rule::TextOptional),
    ("ReplyBody", "reason", Rule::TextOptional),
    ("LetterheadFields", "official_name", Rule::LineOptional),
    ("LetterheadFields", "seal_name", Rule::LineOptional),
    ("LetterheadFields", "office_name", Rule::LineOptional),
    ("LetterheadFields", "address", Rule::LineOptional),
    (
        "LetterheadFields",
        "postcode",
        Rule::Pattern(r"^\s*([0-9]{6})?\s*$"),
    ),
    (
        "LetterheadFields",
        "telephone",
        Rule::Pattern(r"^\s*([0-9+() （）转-]*[0-9+()（）转-])?\s*$"),
    ),
    ("LetterheadFields", "number_pattern", Rule::LineOptional),
    ("LetterheadFields", "review_body", Rule::LineOptional),
    ("LetterheadFields", "court", Rule::LineOptional),
    ("CreateReviewDto", "applicant_name", Rule::Line),
    ("CreateReviewDto", "reviewing_body", Rule::Line),
    ("CreateReviewDto", "notes", Rule::TextOptional),
    ("CreateLitigationDto", "applicant_name", Rule::Line),
    ("CreateLitigationDto", "court", Rule::Line),
    ("CreateLitigationDto", "notes", Rule::TextOptional),
];

/// Dates the working-day calendar can count over (`domain::calendar`: 1950-01-01 to
/// 2199-12-31), as a pattern beside `format: date`.
const CALENDAR_DATE: &str = r"^(19[5-9][0-9]|2[01][0-9][0-9])-";

fn fragment(rule: Rule) -> Value {
    // The service trims white space (line breaks included) from both ends before it looks
    // for control characters, so white space may surround the text.
    let text = |class: &str, visible: bool| {
        if visible {
            format!(r"^\s*[^{class}]*[^\s{NO_CONTROL}][^{class}]*\s*$")
        } else {
            format!(r"^\s*(?:[^{class}]*[^\s{NO_CONTROL}])?\s*$")
        }
    };
    match rule {
        Rule::Line => json!({"minLength": 1, "pattern": text(NO_CONTROL, true)}),
        Rule::LineOptional => json!({"pattern": text(NO_CONTROL, false)}),
        Rule::Text => json!({"minLength": 1, "pattern": text(NO_CONTROL_MULTILINE, true)}),
        Rule::TextOptional => json!({"pattern": text(NO_CONTROL_MULTILINE, false)}),
        Rule::MinItems(n) => json!({"minItems": n}),
        Rule::MinLength(n) => json!({"minLength": n}),
        Rule::MaxLength(n) => json!({"maxLength": n}),
        Rule::Minimum(n) => json!({"minimum": n}),
        Rule::HttpUrl => json!({"format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]+"}),
        Rule::Pattern(p) => json!({"pattern": p}),
        Rule::ItemsText => json!({"items": fragment(Rule::Text)}),
        Rule::ItemsEventType => json!({"items": {"pattern": event_type_pattern()}}),
    }
}

/// Applies the rules to the document; answers the rules whose target is missing.
pub fn apply(doc: &mut OpenApiDoc) -> Vec<String> {
    let mut missing = Vec::new();
    let schemas = doc.components.as_mut().map(|c| &mut c.schemas);
    let mut schemas = schemas;
    for (schema, member, rule) in BODY_RULES {
        let target = schemas
            .as_mut()
            .and_then(|s| s.get_mut(*schema))
            .and_then(|s| match s {
                RefOr::T(Schema::Object(o)) => o.properties.get_mut(*member),
                _ => None,
            });
        let applied = match target {
            Some(RefOr::T(Schema::Object(o))) => {
                let fits = !matches!(
                    rule,
                    Rule::MinItems(_) | Rule::ItemsText | Rule::ItemsEventType
                );
                if fits {
                    apply_fragment(o, &fragment(*rule));
                }
                fits
            }
            Some(RefOr::T(Schema::Array(a))) => match rule {
                Rule::MinItems(n) => {
                    a.min_items = Some(*n as usize);
                    true
                }
                Rule::ItemsText | Rule::ItemsEventType => match &mut a.items {
                    utoipa::openapi::schema::ArrayItems::RefOrSchema(item) => match item.as_mut() {
                        RefOr::T(Schema::Object(o)) => {
                            apply_fragment(o, &fragment(*rule)["items"]);
                            true
                        }
                        _ => false,
                    },
                    _ => false,
                },
                _ => false,
            },
            _ => false,
        };
        if !applied {
            missing.push(format!("{schema}.{member}"));
        }
    }
    for (path, name) in [
        ("/api/v1/calendar/working-days/add", "from"),
        ("/api/v1/calendar/working-days/count", "from"),
        ("/api/v1/calendar/working-days/count", "to"),
    ] {
        let param = doc
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| item.get.as_mut())
            .and_then(|op| op.parameters.as_mut())
            .and_then(|ps| {
                ps.iter_mut().find_map(|p| match p {
                    RefOr::T(p) if p.name == name => Some(p),
                    _ => None,
                })
            });
        match param.and_then(|p| p.schema.as_mut()) {
            Some(RefOr::T(Schema::Object(o))) => o.pattern = Some(CALENDAR_DATE.into()),
            _ => missing.push(format!("{path} {name}")),
        }
    }
    // The review list has no lawsuit route to filter by (the query type is shared with the
    // lawsuit list; the service refuses `route` on reviews).
    match doc
        .paths
        .paths
        .get_mut("/api/v1/reviews")
        .and_then(|item| item.get.as_mut())
        .and_then(|op| op.parameters.as_mut())
    {
        Some(ps) if ps.iter().any(|p| is_named(p, "route")) => ps.retain(|p| !is_named(p, "route")),
        _ => missing.push("/api/v1/reviews route".into()),
    }
    missing
}

fn is_named(p: &RefOr<utoipa::openapi::path::Parameter>, name: &str) -> bool {
    matches!(p, RefOr::T(p) if p.name == name)
}

/// Sets on a string or number schema the keywords of a rule's fragment.
fn apply_fragment(o: &mut Object, f: &Value) {
    if let Some(n) = f.get("minLength").and_then(Value::as_u64) {
        o.min_length = Some(n as usize);
    }
    if let Some(n) = f.get("maxLength").and_then(Value::as_u64) {
        o.max_length = Some(n as usize);
    }
    if let Some(p) = f.get("pattern").and_then(Value::as_str) {
        o.pattern = Some(p.to_string());
    }
    if let Some(n) = f.get("minimum").and_then(Value::as_i64) {
        o.minimum = Some(n.into());
    }
    if let Some(format) = f.get("format").and_then(Value::as_str) {
        o.format = Some(SchemaFormat::Custom(format.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(rule: Rule, s: &str) -> bool {
        let schema = json!({"type": "string", "pattern": fragment(rule)["pattern"]});
        jsonschema::is_valid(&schema, &json!(s))
    }

    #[test]
    fn text_patterns_agree_with_the_validator() {
        use crate::domain::validation::text;
        let cases = [
            "a",
            " a ",
            "",
            "   ",
            "a\u{0}b",
            "a\nb",
            "a\tb",
            "申请人",
            "a\u{7f}",
            "\u{3000}",
            "a\n",
            "\ta",
            " a b\t\r\n",
            "\u{b}a",
            "a\n\u{1}",
        ];
        for s in cases {
            assert_eq!(
                matches(Rule::Line, s),
                text("f", s, 1000, false).is_ok(),
                "line {s:?}"
            );
            assert_eq!(
                matches(Rule::Text, s),
                text("f", s, 1000, true).is_ok(),
                "text {s:?}"
            );
        }
        for s in cases {
            let optional = |multiline| match s.trim() {
                "" => true,
                _ => text("f", s, 1000, multiline).is_ok(),
            };
            assert_eq!(
                matches(Rule::LineOptional, s),
                optional(false),
                "line? {s:?}"
            );
            assert_eq!(
                matches(Rule::TextOptional, s),
                optional(true),
                "text? {s:?}"
            );
        }
    }

    #[test]
    fn the_event_type_pattern_agrees_with_the_webhook_validator() {
        let schema = json!({"type": "string", "pattern": event_type_pattern()});
        for t in [
            "*",
            " * ",
            "application.*",
            "review.decided",
            "report.*",
            "notice.*",
            "application.",
            "application.Issued",
            "",
            "applications.*",
            "*.*",
            "review.decision_served",
        ] {
            assert_eq!(
                jsonschema::is_valid(&schema, &json!(t)),
                crate::app::webhooks::parse_event_types(&[t.to_string()]).is_ok(),
                "{t:?}"
            );
        }
    }
}
