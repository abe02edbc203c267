//! `gongkai seed`: realistic synthetic applications for demos and benchmarks. Every application
//! goes through the real domain (intake parsing, then legal actions with their guards), so the
//! seeded records are ones the API itself could have produced.

use chrono::{Datelike, Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::AppError;
use crate::db::{self, DbConnection, agencies::AgencyRow, requests::EventRow};
use crate::domain::agency::child_path;
use crate::domain::calendar::Calendar;
use crate::domain::disposition::Disposition;
use crate::domain::identity;
use crate::domain::request::application::Registration;
use crate::domain::request::{
    self, Action, ActionContext, ApplicantInput, Application, IdDocumentInput, IntakeInput,
    NewRequest, ReplyInput, State, Workflow,
};

pub struct SeedOptions {
    pub agencies: u32,
    pub requests: u64,
    pub years: (i32, i32),
    pub rng_seed: u64,
    /// Today, where the agency is: nothing is dated after it.
    pub today: NaiveDate,
    /// The instant stamped on the records made (created_at, updated_at), from the clock.
    pub now: chrono::NaiveDateTime,
}

pub struct SeedReport {
    pub agencies: u32,
    pub requests: u64,
    pub events: u64,
}

const CHANNELS: [&str; 6] = ["in_person", "letter", "fax", "email", "online", "other"];
const KINDS: [&str; 6] = [
    "natural_person",
    "commercial_enterprise",
    "research_institution",
    "social_welfare_organization",
    "legal_service_institution",
    "other_organization",
];
const SURNAMES: [&str; 10] = ["张", "王", "李", "赵", "陈", "刘", "杨", "黄", "周", "吴"];
const GIVEN: [&str; 8] = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋"];
const SUBJECTS: [&str; 6] = [
    "行政许可决定清单",
    "财政预算执行情况",
    "征地补偿安置方案",
    "行政处罚决定书",
    "政府采购合同",
    "环境影响评价报告",
];

/// A valid resident identity number with a random birth date and sequence.
fn resident_id(rng: &mut StdRng) -> String {
    let birth = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or_default()
        + Duration::days(rng.random_range(0..20_000));
    let body = format!(
        "110101{}{:03}",
        birth.format("%Y%m%d"),
        rng.random_range(0..1000)
    );
    let check = identity::resident_id_check_char(&body).unwrap_or('0');
    format!("{body}{check}")
}

/// A valid unified social credit code.
fn credit_code(rng: &mut StdRng) -> String {
    const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let body: String = "91"
        .chars()
        .chain((0..15).map(|_| ALPHABET[rng.random_range(0..31)] as char))
        .collect();
    let check = identity::credit_code_check_char(&body).unwrap_or('0');
    format!("{body}{check}")
}

fn applicant(rng: &mut StdRng, kind: &str) -> ApplicantInput {
    let person = kind == "natural_person";
    let name = if person {
        format!(
            "{}{}",
            SURNAMES[rng.random_range(0..10)],
            GIVEN[rng.random_range(0..8)]
        )
    } else {
        format!("某某{}有限公司", rng.random_range(1..500))
    };
    ApplicantInput {
        kind: kind.to_string(),
        name,
        id_document: person.then(|| IdDocumentInput {
            doc_type: "resident_id_card".into(),
            number: resident_id(rng),
        }),
        credit_code: (!person).then(|| credit_code(rng)),
        contact_person: None,
        phone: Some(format!("138{:08}", rng.random_range(0..100_000_000))),
        email: None,
        address: Some("北京市东城区".into()),
    }
}

struct Step {
    on: NaiveDate,
    action: Action,
}

/// Steps that take a processing application to a random end, each dated after the last.
fn plan(rng: &mut StdRng, wf: &Workflow, cal: &Calendar, today: NaiveDate) -> Vec<Step> {
    let Some(receipt) = wf.clock.receipt_date else {
        return Vec::new();
    };
    let wd = |d: NaiveDate, n: u32| cal.add_working_days(d, n).unwrap_or(d);
    let mut steps = Vec::new();
    let mut at = receipt;
    let roll: u32 = rng.random_range(0..100);
    if roll < 8 {
        at = wd(at, rng.random_range(1..=5));
        steps.push(Step {
            on: at,
            action: Action::RequestCorrection {
                items: vec!["请明确所需信息的名称".into()],
                reply_by: wd(at, 10),
            },
        });
        if roll < 2 {
            steps.push(Step {
                on: wd(at, 12),
                action: Action::CloseUncorrected,
            });
            return steps;
        }
        at = wd(at, rng.random_range(1..=8));
        steps.push(Step {
            on: at,
            action: Action::ReceiveCorrection,
        });
    } else if roll < 14 {
        at = wd(at, rng.random_range(1..=5));
        let party = if rng.random_bool(0.5) {
            request::Party::ThirdParty
        } else {
            request::Party::OtherAgency
        };
        steps.push(Step {
            on: at,
            action: Action::StartConsultation {
                party,
                whom: "某公司".into(),
                received_on: None,
            },
        });
        at = wd(at, rng.random_range(3..=14));
        steps.push(Step {
            on: at,
            action: Action::EndConsultation {
                opinion: request::Opinion::Consent,
            },
        });
    }
    if rng.random_range(0..100) < 10 {
        at = wd(at, rng.random_range(1..=10));
        steps.push(Step {
            on: at,
            action: Action::Extend {
                days: rng.random_range(5..=20),
                reason: "需要调取档案".into(),
            },
        });
    }
    let roll: u32 = rng.random_range(0..100);
    if roll < 3 {
        at = wd(at, rng.random_range(1..=5));
        steps.push(Step {
            on: at,
            action: Action::Withdraw { reason: None },
        });
        return steps;
    }
    // Reply: mostly on time, some late.
    let delay = if rng.random_range(0..100) < 7 {
        rng.random_range(21..40)
    } else {
        rng.random_range(1..19)
    };
    at = wd(at, delay);
    let d = Disposition::ALL[match rng.random_range(0..100) {
        0..=44 => 0,
        45..=59 => 1,
        60..=75 => 2 + rng.random_range(0..8),
        76..=88 => 10 + rng.random_range(0..2),
        _ => 13 + rng.random_range(0..5),
    }];
    let r = d.requirements();
    steps.push(Step {
        on: at,
        action: Action::Reply(ReplyInput {
            disposition: d,
            reason: r.reason.then(|| "依据《条例》作出答复".to_string()),
            legal_basis: r.legal_basis.then(|| "《条例》第十四条".to_string()),
            provision: r.provision.then(|| "以电子邮件方式提供".to_string()),
            responsible_agency: None,
            repeats_request_id: None,
            objection_override: None,
            served_on: None,
        }),
    });
    steps.retain(|s| s.on <= today);
    steps
}

/// A review (decided or pending, some late) and perhaps a suit after it or a direct suit.
fn seed_cases(
    rng: &mut StdRng,
    cal: &Calendar,
    agency_id: &str,
    request_id: &str,
    applicant: &str,
    replied: NaiveDate,
    opts: &SeedOptions,
) -> Vec<db::remedies::RemedyRow> {
    let (today, now) = (opts.today, opts.now);
    use crate::domain::remedy::{self, Case, DecisionType, RemedyKind, Route};
    let mut out = Vec::new();
    let make = |kind: RemedyKind,
                filed: NaiveDate,
                route: Option<Route>,
                review: Option<(&str, NaiveDate)>,
                rng: &mut StdRng| {
        let decided = filed + Duration::days(rng.random_range(30..120));
        let decision = (decided <= today && rng.random_range(0..100) < 85).then(|| {
            let pick = DecisionType::ALL[rng.random_range(0..DecisionType::ALL.len())];
            if kind == RemedyKind::Litigation && pick == DecisionType::Upheld {
                DecisionType::ClaimRejected
            } else {
                pick
            }
        });
        let case = Case {
            applicant_name: applicant.to_string(),
            body_name: if kind == RemedyKind::Review {
                "某市人民政府".into()
            } else {
                "某区人民法院".into()
            },
            filed_on: filed,
            received_on: Some(filed + Duration::days(rng.random_range(1..6)))
                .filter(|d| *d <= today),
            act_known_on: (route != Some(Route::AfterReview)).then_some(replied),
            decision,
            decided_on: decision.map(|_| decided),
            decision_served_on: None,
            notes: None,
            route,
            instance: (kind == RemedyKind::Litigation).then(|| "first".to_string()),
        };
        let facts = remedy::ActFacts {
            reply_on: Some(replied),
            review_decided_on: review.map(|r| r.1),
            ..remedy::ActFacts::default()
        };
        let limit = remedy::filing_limit(kind, &case, &facts, cal);
        db::remedies::RemedyRow {
            id: uuid::Uuid::new_v4().to_string(),
            kind: kind.code().into(),
            agency_id: agency_id.into(),
            request_id: Some(request_id.into()),
            applicant_name: case.applicant_name.clone(),
            body_name: case.body_name.clone(),
            filed_on: case.filed_on,
            received_on: case.received_on,
            act_known_on: case.act_known_on,
            route: case.route.map(|r| r.code().into()),
            review_id: review.map(|r| r.0.to_string()),
            instance: case.instance.clone(),
            decision_type: case.decision.map(|d| d.code().into()),
            decided_on: case.decided_on,
            outcome: remedy::outcome(case.decision).code().into(),
            notes: None,
            filing_deadline: limit.as_ref().map(|l| l.deadline),
            filing_rule: limit.as_ref().map(|l| l.rule.into()),
            filed_late: limit.as_ref().is_some_and(|l| l.filed_late),
            decision_served_on: None,
            filing_starts_on: limit.as_ref().map(|l| l.starts_on),
            filing_start_basis: limit.as_ref().map(|l| l.basis.code().into()),
            review_first_required: false,
            version: 1,
            created_by: Some("seed".into()),
            created_at: now,
            updated_at: now,
        }
    };
    let filed = replied + Duration::days(rng.random_range(5..70));
    if filed > today {
        return out;
    }
    if rng.random_range(0..100) < 75 {
        let review = make(RemedyKind::Review, filed, None, None, rng);
        if let Some(decided) = review.decided_on
            && rng.random_range(0..100) < 30
        {
            let suit_filed = decided + Duration::days(rng.random_range(3..20));
            if suit_filed <= today {
                let suit = make(
                    RemedyKind::Litigation,
                    suit_filed,
                    Some(Route::AfterReview),
                    Some((&review.id, decided)),
                    rng,
                );
                out.push(review);
                out.push(suit);
                return out;
            }
        }
        out.push(review);
    } else {
        out.push(make(
            RemedyKind::Litigation,
            filed,
            Some(Route::Direct),
            None,
            rng,
        ));
    }
    out
}

/// Fills the database. Runs in batches of one transaction each.
pub fn run(
    conn: &mut DbConnection,
    cal: &Calendar,
    opts: &SeedOptions,
) -> Result<SeedReport, AppError> {
    let mut rng = StdRng::seed_from_u64(opts.rng_seed);
    let root = db::agencies::list(
        conn,
        &db::agencies::AgencyFilter {
            visibility: &crate::domain::access::Visibility::Subtree("/".into()),
            parent_id: None,
            q: None,
        },
        0,
        1,
    )?
    .0
    .into_iter()
    .find(|a| a.parent_id.is_none())
    .ok_or(AppError::NotFound(crate::text!(
        "根机关（请先启动一次服务）",
        "root agency (start the service once first)"
    )))?;
    let run_tag = format!("{:04X}", rng.random_range(0..0xFFFF));
    let mut agencies: Vec<AgencyRow> = Vec::new();
    db::transaction(conn, |conn| {
        for i in 0..opts.agencies.max(1) {
            let id = uuid::Uuid::new_v4().to_string();
            let now = opts.now;
            let row = AgencyRow {
                path: child_path(&root.path, &id),
                depth: root.depth + 1,
                id,
                code: format!("S{run_tag}-{:03}", i + 1),
                name: format!("示例机关{}", i + 1),
                parent_id: Some(root.id.clone()),
                region: Some("示例市".into()),
                created_at: now,
                updated_at: now,
                report_kind: "department".into(),
            };
            db::agencies::insert(conn, &row)?;
            agencies.push(row);
        }
        Ok::<(), AppError>(())
    })?;
    let mut counters: std::collections::HashMap<(usize, i32), i32> =
        std::collections::HashMap::new();
    let (y0, y1) = opts.years;
    let mut made = 0u64;
    let mut events = 0u64;
    let batch = 500u64;
    while made < opts.requests {
        let n = batch.min(opts.requests - made);
        let mut rows = Vec::with_capacity(n as usize);
        let mut evs = Vec::with_capacity(n as usize * 3);
        let mut cases: Vec<db::remedies::RemedyRow> = Vec::new();
        for _ in 0..n {
            let ai = rng.random_range(0..agencies.len());
            let year = rng.random_range(y0..=y1);
            let start = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(opts.today);
            let end = NaiveDate::from_ymd_opt(year, 12, 31)
                .unwrap_or(opts.today)
                .min(opts.today);
            if end < start {
                continue;
            }
            let arrival = start + Duration::days(rng.random_range(0..=(end - start).num_days()));
            let channel = CHANNELS[rng.random_range(0..6)];
            let kind = KINDS[if rng.random_bool(0.7) {
                0
            } else {
                rng.random_range(1..6)
            }];
            let confirm = (channel != "in_person" && channel != "other").then(|| {
                cal.add_working_days(arrival, rng.random_range(0..2))
                    .unwrap_or(arrival)
                    .min(opts.today)
            });
            let input = IntakeInput {
                channel: channel.into(),
                arrival_date: arrival,
                arrival_in_future: false,
                signed_for_on: None,
                confirmed_on: if rng.random_range(0..100) < 3 {
                    None
                } else {
                    confirm
                },
                applicant: applicant(&mut rng, kind),
                description: format!(
                    "{}年度{}",
                    year - 1,
                    SUBJECTS[rng.random_range(0..SUBJECTS.len())]
                ),
                document_numbers: Vec::new(),
                requested_form: Some("electronic".into()),
                delivery: Some("email".into()),
                external_reference: None,
            };
            let parsed = NewRequest::parse(&input, opts.today).map_err(AppError::Validation)?;
            let applicant_name = parsed.details.applicant.name.clone();
            let mut wf = parsed.workflow.clone();
            let mut trail = vec![("intake".to_string(), wf.clock.receipt_date, None, wf.state)];
            for step in plan(&mut rng, &wf, cal, opts.today) {
                let ctx = ActionContext {
                    today: opts.today,
                    calendar: cal,
                    actor_is_approver: true,
                    actor_name: "seed",
                    nth_in_month: 1,
                    delivery_allowance: 3,
                };
                match request::apply(&wf, step.on, &step.action, &ctx) {
                    Ok(next) => {
                        trail.push((
                            step.action.name().to_string(),
                            Some(step.on),
                            Some(wf.state),
                            next.state,
                        ));
                        wf = next;
                    }
                    Err(_) => break,
                }
            }
            let seq = counters.entry((ai, arrival.year())).or_insert(0);
            *seq += 1;
            let agency = &agencies[ai];
            let created = arrival.and_hms_opt(9, 0, 0).unwrap_or_default()
                + Duration::seconds(rng.random_range(0..28_800));
            let id = uuid::Uuid::new_v4().to_string();
            for (i, (action, on, before, after)) in trail.iter().enumerate() {
                evs.push(EventRow {
                    id: uuid::Uuid::new_v4().to_string(),
                    request_id: id.clone(),
                    seq: i as i32 + 1,
                    occurred_at: created,
                    actor_user_id: None,
                    actor_label: "seed".into(),
                    action: action.clone(),
                    on_date: *on,
                    state_before: before.map(|s: State| s.code().to_string()),
                    state_after: after.code().to_string(),
                    payload: json!({"seeded": true}).to_string(),
                    http_request_id: None,
                });
            }
            // About one denial or non-disclosure in ten is taken to review, some of those to
            // court after it, and a few straight to court.
            if let (Some(closed), Some(disp)) = (wf.clock.closed_on, wf.disposition())
                && disp != Disposition::Granted
                && rng.random_range(0..100) < 10
            {
                cases.extend(seed_cases(
                    &mut rng,
                    cal,
                    &agency.id,
                    &id,
                    &applicant_name,
                    closed,
                    opts,
                ));
            }
            let steps = trail.len() as i32;
            let mut app = Application::register(
                NewRequest {
                    workflow: wf,
                    ..parsed
                },
                Registration {
                    id,
                    agency_id: agency.id.clone(),
                    agency_code: agency.code.clone(),
                    case_seq: *seq,
                    query_code: format!("{:010}", rng.random_range(0..10_000_000_000u64)),
                    arrived_at: created - Duration::hours(8),
                    created_by: Some("seed".into()),
                    now: created,
                },
                cal,
                opts.today,
            )
            .map_err(super::requests::refusal)?;
            app.version = steps;
            rows.push(app);
        }
        made += n;
        events += evs.len() as u64;
        db::transaction(conn, |conn| {
            db::requests::insert_many(conn, &rows, &evs)?;
            for c in &cases {
                db::remedies::insert(conn, c)?;
            }
            Ok::<(), AppError>(())
        })?;
    }
    db::transaction(conn, |conn| {
        for ((ai, year), seq) in &counters {
            db::requests::set_case_counter(conn, &agencies[*ai].id, *year, *seq)?;
        }
        Ok::<(), AppError>(())
    })?;
    // Statistics and the visibility map current before anyone lists (issue 15).
    db::requests::analyze_after_bulk_load(conn)?;
    Ok(SeedReport {
        agencies: opts.agencies.max(1),
        requests: made,
        events,
    })
}
