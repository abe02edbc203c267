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
