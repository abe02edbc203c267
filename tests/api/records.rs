//! Stored records survive upgrades: the checked-in fixtures of each stored format (see
//! `tests/fixtures/records/README.md`) decode with this release, keep their meaning, and are
//! written back in the current format.

use gongkai::domain::disposition::Disposition;
use gongkai::domain::fees::FeeBasis;
use gongkai::domain::request::{Opinion, State};
use gongkai::domain::stored::{
    DETAILS_FORMAT, WORKFLOW_FORMAT, decode_details, decode_workflow, encode_details,
    encode_workflow,
};

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/records")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_workflow_fixture_decodes_and_round_trips_in_the_current_format() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .to_string();
        let text = fixture(&name);
        if name.starts_with("workflow-") {
            let wf = decode_workflow(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let again = encode_workflow(&wf);
            assert!(again.contains(&format!("\"format\":{WORKFLOW_FORMAT}")));
            assert_eq!(decode_workflow(&again).as_ref(), Ok(&wf), "{name}");
            n += 1;
        } else if name.starts_with("details-") {
            let d = decode_details(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let again = encode_details(&d);
            assert!(again.contains(&format!("\"format\":{DETAILS_FORMAT}")));
            assert_eq!(decode_details(&again).as_ref(), Ok(&d), "{name}");
            n += 1;
        }
    }
    assert!(n >= 5, "found the fixtures ({n})");
}

#[test]
fn a_closed_record_keeps_every_fact_of_its_steps() {
    let wf = decode_workflow(&fixture("workflow-closed-every-step.json")).expect("decodes");
    assert_eq!(wf.state, State::Closed);
    assert_eq!(wf.disposition(), Some(Disposition::PartiallyGranted));
    assert_eq!(wf.correction_items.len(), 2);
    assert_eq!(wf.consultations[0].opinion, Some(Opinion::Objection));
    let fee = wf.fee.as_ref().expect("fee");
    assert_eq!(fee.basis, FeeBasis::PerPiece);
    assert_eq!(fee.paid_fen, Some(10_000));
    assert_eq!(wf.clock.extension.as_ref().map(|e| e.days), Some(15));
    assert!(wf.clock.deadline_override.is_some());
    assert_eq!(wf.clock.pauses.len(), 2);
    let paying = decode_workflow(&fixture("workflow-awaiting-payment.json")).expect("decodes");
    assert_eq!(paying.state, State::AwaitingPayment);
    assert_eq!(
        paying.fee.as_ref().map(|f| f.basis),
        Some(FeeBasis::PerPage)
    );
}

#[test]
fn details_keep_the_applicant_and_what_was_asked() {
    let p = decode_details(&fixture("details-natural-person.json")).expect("decodes");
    assert_eq!(p.applicant.name, "张三");
    assert_eq!(
        p.applicant.id_document_number.as_deref(),
        Some("110101199003071233")
    );
    assert_eq!(p.document_numbers.len(), 1);
    let o = decode_details(&fixture("details-organisation.json")).expect("decodes");
    assert!(o.applicant.kind.is_organisation());
    assert!(o.document_numbers.is_empty());
}

#[test]
fn an_unknown_extra_field_or_a_missing_optional_one_still_loads() {
    let text = fixture("details-organisation.json");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let m = v.as_object_mut().expect("object");
    m.insert(
        "added_by_a_later_release".into(),
        serde_json::json!({"x": 1}),
    );
    m.remove("document_numbers");
    m.remove("delivery");
    let d = decode_details(&v.to_string()).expect("still loads");
    assert!(d.document_numbers.is_empty());
    assert_eq!(d.delivery, None);
}
