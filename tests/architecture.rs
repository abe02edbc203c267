//! The domain stays pure: no web framework, no database, no token or OpenAPI crate.

#![allow(clippy::unwrap_used)]

#[test]
fn the_domain_does_not_use_actix_diesel_jsonwebtoken_or_utoipa() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    let mut checked = 0;
    for entry in walkdir::WalkDir::new(&root) {
        let entry = entry.unwrap();
        if entry.path().extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for banned in [
                "actix",
                "diesel",
                "jsonwebtoken",
                "utoipa",
                "reqwest",
                "tokio",
                "std::fs",
                "std::net",
                "Utc::now",
                "Local::now",
            ] {
                assert!(
                    !code.contains(banned),
                    "{}:{} uses {banned}: the domain must stay pure",
                    entry.path().display(),
                    n + 1
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 3, "found the domain sources");
}

#[test]
fn http_does_not_name_types_of_the_db_layer() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut checked = 0;
    let mut offences = Vec::new();
    for entry in walkdir::WalkDir::new(&root) {
        let entry = entry.unwrap();
        if entry.path().extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let bytes = code.as_bytes();
            // `crate::db`, `super::db`, `db::…`, but not `…_db::` or `some_db::`.
            let names_db = code.contains("crate::db")
                || code.match_indices("db::").any(|(i, _)| {
                    i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')
                });
            if names_db {
                offences.push(format!(
                    "{}:{}: {}",
                    entry.path().display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
        checked += 1;
    }
    assert!(checked >= 10, "found the http sources");
    assert!(
        offences.is_empty(),
        "src/http must not name src/db types (hand views from src/app):\n{}",
        offences.join("\n")
    );
}

/// Diesel's `.first(conn)` sends `LIMIT ?` with the limit as a bound value. SQLite (3.46 and
/// later) lets a bound integer `LIMIT` shape the plan and so expires the prepared statement
/// whenever that value is bound again, which diesel does on every execution: each such query
/// was parsed and planned anew every time (a `perf` profile of reading one application showed
/// half the time in `sqlite3Reprepare`). Every lookup here is by a unique key or an aggregate,
/// so `.get_result(conn)` (no `LIMIT`) gives the same row.
#[test]
fn the_database_layer_sends_no_bound_limit_for_single_rows() {
    let mut offences = Vec::new();
    for (path, text) in rust_sources("src") {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if let Some(i) = code.find(".first(")
                && !code[i..].starts_with(".first()")
            {
                offences.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "use .get_result(conn) for a single row (see the test's comment):\n{}",
        offences.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The error-code catalogue: no code the API can answer is missing from `ErrorCode`.
// ---------------------------------------------------------------------------------------------

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use gongkai::error_codes::ErrorCode;

/// Struct literals with a `code` field that is not a problem code (report rows and checks).
/// (`Flag` and `NextStep`: a warning's and a queue step's codes, listed in the OpenAPI document.)
const NOT_PROBLEM_TYPES: &[&str] = &["RowDef", "Check", "Flag", "NextStep"];

/// Types whose `fn code(self) -> &'static str` yields problem codes, passed as `x.code()`, with
/// the module a file that passes one uses.
const CODE_METHOD_TYPES: &[(&str, &str)] = &[("IdProblem", "identity")];

fn rust_sources(dir: &str) -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(&root) {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "rs") {
            let mut text = std::fs::read_to_string(entry.path()).unwrap();
            // Unit tests (a `mod tests` at the end of a file) answer nothing.
            if let Some(at) = text.find("#[cfg(test)]\n")
                && text[at..]
                    .lines()
                    .take(3)
                    .any(|l| l.starts_with("mod tests"))
            {
                text.truncate(at);
            }
            // Comments are not code: drop whole comment lines (a `//` inside a string stays).
            let code: String = text
                .lines()
                .map(|l| {
                    if l.trim_start().starts_with("//") {
                        ""
                    } else {
                        l
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            out.push((entry.path().to_path_buf(), code));
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits the arguments of a call whose `(` ends at `start`; `None` when unbalanced.
fn call_args(text: &str, start: usize) -> Option<Vec<String>> {
    let mut depth = 0usize;
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut chars = text[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                cur.push(c);
                while let Some(d) = chars.next() {
                    cur.push(d);
                    if d == '\\' {
                        cur.extend(chars.next());
                    } else if d == '"' {
                        break;
                    }
                }
                continue;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => {
                args.push(cur.trim().to_string());
                return Some(args);
            }
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                args.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    None
}

/// The string literals in a piece of code (no raw strings: codes are plain identifiers).
fn literals(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        if c == '"' {
            let mut s = String::new();
            while let Some(d) = chars.next() {
                match d {
                    '\\' => {
                        chars.next();
                    }
                    '"' => break,
                    _ => s.push(d),
                }
            }
            out.push(s);
        }
    }
    out
}

/// The balanced `{ … }` block that starts at the first `{` at or after `from`.
fn block_at(text: &str, from: usize) -> &str {
    let Some(open) = text[from..].find('{').map(|i| i + from) else {
        return "";
    };
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open..open + i + 1];
                }
            }
            _ => {}
        }
    }
    ""
}

/// The literals that follow `=>` (match arms yielding a code, possibly inside a tuple).
fn arm_literals(block: &str) -> Vec<String> {
    block
        .match_indices("=>")
        .filter_map(|(i, _)| {
            let rest = block[i + 2..].trim_start();
            let rest = rest.strip_prefix('(').unwrap_or(rest).trim_start();
            rest.starts_with('"')
                .then(|| literals(rest).into_iter().next())
                .flatten()
        })
        .collect()
}

/// The name of the struct literal enclosing byte `at` (the path before the nearest open `{`).
fn enclosing_struct(text: &str, at: usize) -> String {
    let mut depth = 0;
    for (i, c) in text[..at].char_indices().rev() {
        match c {
            '}' => depth += 1,
            '{' if depth == 0 => {
                let before = text[..i].trim_end();
                let start = before
                    .rfind(|c: char| !(is_ident(c) || c == ':'))
                    .map_or(0, |p| p + 1);
                return before[start..]
                    .rsplit("::")
                    .next()
                    .unwrap_or("")
                    .to_string();
            }
            '{' => depth -= 1,
            _ => {}
        }
    }
    String::new()
}

/// A helper that takes a problem code: how it is called, and which argument is the code.
struct CodeHelper {
    /// `Type::name(` (also `Self::name(` in its own file) or, for a free function, `name(`.
    type_name: Option<String>,
    name: String,
    file: PathBuf,
    arg: usize,
}

/// Every function with a parameter `code: &'static str`, found by reading the sources.
fn code_helpers(sources: &[(PathBuf, String)]) -> Vec<CodeHelper> {
    let mut out = Vec::new();
    for (file, text) in sources {
        for (i, _) in text.match_indices("fn ") {
            if i > 0 && text[..i].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            let rest = &text[i + 3..];
            let Some(paren) = rest.find('(') else {
                continue;
            };
            let name = rest[..paren]
                .split('<')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            if name.is_empty() || !name.chars().all(is_ident) {
                continue;
            }
            let Some(params) = call_args(rest, paren + 1) else {
                continue;
            };
            let params: Vec<&String> = params
                .iter()
                .filter(|p| !p.is_empty() && !p.ends_with("self"))
                .collect();
            let Some(arg) = params
                .iter()
                .position(|p| p.replace(' ', "") == "code:&'staticstr")
            else {
                continue;
            };
            // Inside `impl Type { … }`? Then it is called as `Type::name(`.
            let line_start = text[..i].rfind('\n').map_or(0, |p| p + 1);
            let indented = i > line_start;
            let type_name = indented
                .then(|| {
                    text[..i].rfind("\nimpl").map(|p| {
                        let head = &text[p + 5..];
                        let head = head[..head.find('{').unwrap_or(0)].trim();
                        let head = head.rsplit(" for ").next().unwrap_or(head);
                        let head = head.trim_start_matches(['<', '>']);
                        head.split(['<', ' ']).next().unwrap_or("").to_string()
                    })
                })
                .flatten();
            out.push(CodeHelper {
                type_name,
                name,
                file: file.clone(),
                arg,
            });
        }
    }
    out
}

/// Every problem code that `src/` can hand to a problem, with where it was seen.
fn codes_in_sources() -> BTreeMap<String, BTreeSet<String>> {
    let sources = rust_sources("src");
    let helpers = code_helpers(&sources);
    assert!(
        helpers
            .iter()
            .any(|h| h.name == "new" && h.type_name.as_deref() == Some("FieldError")),
        "the scanner finds FieldError::new"
    );
    let mut codes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for (file, text) in &sources {
        let rel = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(file)
            .display()
            .to_string();
        let line_of = |at: usize| text[..at].lines().count();
        let mut add = |code: String, at: usize| {
            codes
                .entry(code)
                .or_default()
                .insert(format!("{rel}:{}", line_of(at)));
        };
        // 1. Calls of a helper taking a code: the code argument.
        for h in &helpers {
            let mut patterns = Vec::new();
            match &h.type_name {
                Some(t) => {
                    patterns.push(format!("{t}::{}(", h.name));
                    if &h.file == file {
                        patterns.push(format!("Self::{}(", h.name));
                    }
                }
                None if &h.file == file => patterns.push(format!("{}(", h.name)),
                None => {}
            }
            for pattern in &patterns {
                for (at, _) in text.match_indices(pattern.as_str()) {
                    let before = text[..at].chars().next_back();
                    if h.type_name.is_none()
                        && before.is_some_and(|c| is_ident(c) || c == ':' || c == '.')
                    {
                        continue;
                    }
                    // (`super::validation::FieldError::new(` is a call: a path may precede.)
                    if h.type_name.is_some() && before.is_some_and(is_ident) {
                        continue;
                    }
                    // The helper's own definition is not a call.
                    if text[..at].trim_end().ends_with("fn") {
                        continue;
                    }
                    let Some(args) = call_args(text, at + pattern.len()) else {
                        continue;
                    };
                    let Some(arg) = args.get(h.arg) else { continue };
                    let lits = literals(arg);
                    if !lits.is_empty() {
                        for l in lits {
                            add(l, at);
                        }
                    } else if arg == "code" || arg.ends_with(".code") {
                        // Forwarded: its origin is a literal scanned elsewhere.
                    } else if arg.ends_with(".code()") {
                        if !CODE_METHOD_TYPES
                            .iter()
                            .any(|(t, m)| text.contains(t) || text.contains(m))
                        {
                            problems.push(format!(
                                "{rel}:{}: {arg} is not of a type in CODE_METHOD_TYPES",
                                line_of(at)
                            ));
                        }
                    } else if !arg.is_empty()
                        && arg.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                    {
                        let decl = format!("const {arg}: &str = ");
                        match text.find(&decl) {
                            Some(d) => {
                                for l in literals(&text[d..d + text[d..].find(';').unwrap_or(0)]) {
                                    add(l, d);
                                }
                            }
                            None => problems.push(format!(
                                "{rel}:{}: cannot find the constant {arg}",
                                line_of(at)
                            )),
                        }
                    } else {
                        problems.push(format!(
                            "{rel}:{}: cannot tell which code `{arg}` is; pass a literal",
                            line_of(at)
                        ));
                    }
                }
            }
        }
        // 2. Struct literals `code: "…"` (AppError::Conflict { code, … }, Refusal, …).
        for (at, _) in text.match_indices("code:") {
            if text[..at].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            let rest = text[at + 5..].trim_start();
            if !rest.starts_with('"') {
                continue;
            }
            if NOT_PROBLEM_TYPES.contains(&enclosing_struct(text, at).as_str()) {
                continue;
            }
            if let Some(l) = literals(rest).into_iter().next() {
                add(l, at);
            }
        }
        // 3. A code chosen by a match: `let code = match …` / `let (code, …) = match …`.
        for pat in ["let code = match", "let (code,"] {
            for (at, _) in text.match_indices(pat) {
                for l in arm_literals(block_at(text, at)) {
                    add(l, at);
                }
            }
        }
        // 4. The `code()` of the types listed in CODE_METHOD_TYPES.
        for (t, _) in CODE_METHOD_TYPES {
            if let Some(at) = text.find(&format!("impl {t} {{")) {
                let body = block_at(text, at);
                if let Some(f) = body.find("fn code(") {
                    for l in arm_literals(block_at(body, f)) {
                        add(l, at);
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    codes
}

#[test]
fn every_problem_code_in_the_sources_is_in_the_catalogue() {
    let codes = codes_in_sources();
    // The scanner sees the codes of every layer (a sanity check that it reads the sources).
    for known in [
        "validation_failed",
        "required",
        "extension_already_used",
        "invalid_check_digit",
        "method_not_allowed",
        "range_reversed",
        "forbidden",
        "internal_error",
    ] {
        assert!(codes.contains_key(known), "the scanner missed {known}");
    }
    let missing: Vec<String> = codes
        .iter()
        .filter(|(c, _)| ErrorCode::parse(c).is_none())
        .map(|(c, at)| {
            format!(
                "{c} (at {})",
                at.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    assert!(
        missing.is_empty(),
        "problem codes missing from src/error_codes.rs:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_catalogued_code_is_answered_somewhere() {
    let codes = codes_in_sources();
    let unused: Vec<&str> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !codes.contains_key(*c))
        .collect();
    assert!(
        unused.is_empty(),
        "catalogued codes no source answers (remove them, or teach the scanner): {unused:?}"
    );
}

#[test]
fn docs_api_md_lists_every_error_code_with_its_meaning() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/API.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- error-codes:begin -->\n", "<!-- error-codes:end -->");
    let start = text
        .find(begin)
        .expect("docs/API.md has the error-codes markers")
        + begin.len();
    let stop = text.find(end).expect("docs/API.md has the end marker");
    let table = ErrorCode::markdown_table();
    if text[start..stop] != table && std::env::var_os("GONGKAI_UPDATE_DOCS").is_some() {
        let updated = format!("{}{table}{}", &text[..start], &text[stop..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert!(
        text[start..stop] == table,
        "the error-code table of docs/API.md is out of date; run \
         `GONGKAI_UPDATE_DOCS=1 cargo test --test architecture` to rewrite it"
    );
}
