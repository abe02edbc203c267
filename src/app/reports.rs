//! The yearly report: computed tables (SQL aggregates), entered parts, checks, publishing and
//! reopening, drill-down and roll-up.

use crate::domain::report::publication::{self, ReportKind};
use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{AppError, AppState, Page, RequestContext, audit};
use crate::config::RemedyCountingSetting;
use crate::db::reports::{DraftRow, RemedyCounting, ReportScope, VersionRow};
use crate::db::{self, DbConnection, agencies::AgencyRow};
use crate::domain::access::{Actor, Role};
use crate::domain::fees::yuan_string;
use crate::domain::report::narrative::{self, Figures};
use crate::domain::report::{
    self, ApplicationsTable, Check, Format, Narrative, ProactiveRow, RemediesTable, Severity,
};

pub mod stored;

pub const MIN_YEAR: i32 = 2019;

/// The whole report, as served, exported and frozen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub agency_id: String,
    pub agency_code: String,
    pub agency_name: String,
    pub year: i32,
    pub format: Format,
    /// `draft` or `published`.
    pub status: String,
    pub version: i32,
    pub published_at: Option<String>,
    pub published_by: Option<String>,
    pub tables: Tables,
    #[serde(default)]
    pub checks: Vec<Check>,
    pub fees: Fees,
    #[serde(default)]
    pub narrative: Narrative,
    /// The last day to publish (art. 49): 31 January of the next year for a department, 31
    /// March for a people's government's overall report. Absent in snapshots published before
    /// it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publication_deadline: Option<NaiveDate>,
    /// Roll-ups only: the agencies summed, and whether each has published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agencies: Option<Vec<RollupAgency>>,
    /// The report's revision (its ETag, not in the body): bumped by every write of the report.
    #[serde(skip)]
    pub revision: i32,
    /// The figures the narrative states, as counted (live reports only).
    #[serde(skip)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tables {
    pub proactive: ProactiveTable,
    pub applications: ApplicationsTable,
    pub remedies: RemediesTable,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProactiveTable {
    pub rows: Vec<ProactiveRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fees {
    pub notices: i64,
    pub amount_charged_yuan: String,
    pub amount_collected_yuan: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollupAgency {
    pub agency_id: String,
    pub code: String,
    pub name: String,
    pub published: bool,
}

fn counting(state: &AppState) -> RemedyCounting {
    match state.settings.report.remedy_counting {
        RemedyCountingSetting::ReceivedInYear => RemedyCounting::ReceivedInYear,
        RemedyCountingSetting::ActiveInYear => RemedyCounting::ActiveInYear,
    }
}

fn year_bounds(year: i32) -> Result<(NaiveDate, NaiveDate), AppError> {
    match (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year, 12, 31),
    ) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(AppError::NotFound(crate::text!("年度报告", "report year"))),
    }
}

pub fn check_year(year: i32, today: NaiveDate) -> Result<(), AppError> {
    use chrono::Datelike;
    if year < MIN_YEAR || year > today.year() {
        return Err(AppError::NotFound(crate::text!("年度报告", "report year")));
    }
    Ok(())
}

fn visible_agency(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<AgencyRow, AppError> {
    super::agencies::visible_agency(conn, actor, id)
}

/// Table 二's entered values: row code → column code → value.
pub type Entered = BTreeMap<String, BTreeMap<String, String>>;

/// The entered parts, parsed (empty when nothing was entered).
fn entered(
    conn: &mut DbConnection,
    agency_id: &str,
    year: i32,
) -> Result<(Entered, Narrative, Option<DraftRow>), AppError> {
    match db::reports::find_draft(conn, agency_id, year)? {
        None => Ok((BTreeMap::new(), Narrative::default(), None)),
        Some(d) => {
            let record = format!("report draft {agency_id}/{year}");
            let p = stored::decode_proactive(&format!("{record} (table 二)"), &d.proactive)?;
            let n = stored::decode_narrative(&format!("{record} (narrative)"), &d.narrative)?;
            Ok((p, n, Some(d)))
        }
    }
}

/// Computes the live report of an agency (or a subtree for roll-ups) for a year.
fn compute(
    conn: &mut DbConnection,
    agency: &AgencyRow,
    scope: &ReportScope,
    year: i32,
    counting: RemedyCounting,
    proactive_values: &BTreeMap<String, BTreeMap<String, String>>,
    narrative: Narrative,
) -> Result<Report, AppError> {
    let format = Format::for_year(year);
    let (start, end) = year_bounds(year)?;
    let counts = db::reports::application_counts(conn, scope, start, end)?;
    let applications = report::applications_table(format, &counts);
    let remedies = report::remedies_table(&db::reports::remedy_counts(
        conn, scope, start, end, counting,
    )?);
    // The year before: as published when it was (catches records changed after publication),
    // else as counted now.
    let previous_report = match scope {
        ReportScope::Agency(id) if year > MIN_YEAR => db::reports::versions(conn, id, year - 1)?
            .into_iter()
            .rev()
            .find(|v| v.reopened_at.is_none())
            .map(|v| snapshot(&v))
            .transpose()?,
        _ => None,
    };
    let published_previous = previous_report.as_ref().and_then(|r| {
        r.tables
            .applications
            .rows
            .iter()
            .find(|row| row.code == "carried_out")
            .map(|row| row.values.clone())
    });
    let previous = published_previous
        .or_else(|| (year > MIN_YEAR).then(|| counts.previous_carried_out.clone()));
    let mut checks = report::checks(format, &applications, &remedies, previous.as_ref());
    let proactive =
        report::proactive_table(format, proactive_values).map_err(AppError::Validation)?;
    checks.extend(report::continuity_checks(
        &proactive,
        previous_report
            .as_ref()
            .map(|r| r.tables.proactive.rows.as_slice()),
    ));
    let (notices, charged, collected) = db::reports::fee_totals(conn, scope, start, end)?;
    let figures = figures(&applications, &remedies, (notices, charged, collected));
    checks.extend(narrative::agreement_checks(&narrative, &figures));
    let versions = db::reports::versions(conn, &agency.id, year)?;
    Ok(Report {
        agency_id: agency.id.clone(),
        agency_code: agency.code.clone(),
        agency_name: agency.name.clone(),
        year,
        format,
        status: "draft".into(),
        version: versions.last().map_or(1, |v| v.version + 1),
        published_at: None,
        published_by: None,
        tables: Tables {
            proactive: ProactiveTable { rows: proactive },
            applications,
            remedies,
        },
        checks,
        fees: Fees {
            notices,
            amount_charged_yuan: yuan_string(charged),
            amount_collected_yuan: yuan_string(collected),
        },
        narrative,
        publication_deadline: Some(publication::deadline(
            year,
            ReportKind::parse(&agency.report_kind).unwrap_or_default(),
        )),
        agencies: None,
        revision: 0,
        figures,
    })
}

/// The figures of tables 三 and 四 and the fee facts that the narrative states.
fn figures(
    applications: &ApplicationsTable,
    remedies: &RemediesTable,
    (notices, charged, collected): (i64, i64, i64),
) -> Figures {
    let total_of = |pred: &dyn Fn(&str) -> bool| -> i64 {
        applications
            .rows
            .iter()
            .filter(|r| pred(&r.code))
            .map(|r| r.values.get("total").copied().unwrap_or(0))
            .sum()
    };
    let remedy = |g: &str| {
        remedies
            .get(g)
            .and_then(|o| o.get("total"))
            .copied()
            .unwrap_or(0)
    };
    let (direct, after) = (
        remedy("litigation_direct"),
        remedy("litigation_after_review"),
    );
    Figures {
        new: total_of(&|c| c == "new"),
        carried_in: total_of(&|c| c == "carried_in"),
        total: total_of(&|c| c == "total"),
        carried_out: total_of(&|c| c == "carried_out"),
        granted: total_of(&|c| c == "granted"),
        partly_granted: total_of(&|c| c == "partially_granted"),
        denied: total_of(&|c| c.starts_with("denied.")),
        unavailable: total_of(&|c| c.starts_with("unavailable.")),
        not_processed: total_of(&|c| c.starts_with("not_processed.")),
        other: total_of(&|c| c == "other" || c.starts_with("other.")),
        reviews: remedy("review"),
        lawsuits: direct + after,
        lawsuits_direct: direct,
        lawsuits_after_review: after,
        fee_notices: notices,
        fees_charged_fen: charged,
        fees_collected_fen: collected,
    }
}

fn snapshot(v: &VersionRow) -> Result<Report, AppError> {
    let record = format!("report version {}/{}/{}", v.agency_id, v.year, v.version);
    let mut r = stored::decode_snapshot(&record, &v.snapshot)?;
    r.status = if v.reopened_at.is_none() {
        "published".into()
    } else {
        "superseded".into()
    };
    Ok(r)
}

/// The report as it stands: the frozen snapshot when published, else the live draft; or one
/// published version when asked for.
pub async fn get(
    state: &AppState,
    actor: Actor,
    agency_id: String,
    year: i32,
    version: Option<i32>,
) -> Result<Report, AppError> {
    check_year(year, state.today())?;
    let counting = counting(state);
    state
        .with_conn(move |conn| {
            let agency = visible_agency(conn, &actor, &agency_id)?;
            current(conn, &agency, year, version, counting)
        })
        .await
}

fn current(
    conn: &mut DbConnection,
    agency: &AgencyRow,
    year: i32,
    version: Option<i32>,
    counting: RemedyCounting,
) -> Result<Report, AppError> {
    let versions = db::reports::versions(conn, &agency.id, year)?;
    // Only the revision of the draft row for a snapshot: a published report is served even
    // when its draft documents could not be decoded.
    let revision = db::reports::find_draft(conn, &agency.id, year)?.map_or(0, |d| d.revision);
    let mut r = if let Some(n) = version {
        let v = versions
            .iter()
            .find(|v| v.version == n)
            .ok_or(AppError::NotFound(crate::text!(
                "报告版本",
                "report version"
            )))?;
        snapshot(v)?
    } else if let Some(v) = versions.last().filter(|v| v.reopened_at.is_none()) {
        snapshot(v)?
    } else {
        let (p, n, _) = entered(conn, &agency.id, year)?;
        compute(
            conn,
            agency,
            &ReportScope::Agency(agency.id.clone()),
            year,
            counting,
            &p,
            n,
        )?
    };
    r.revision = revision;
    Ok(r)
}

/// A generated draft of the narrative from the report's own figures (domain
/// `narrative::draft`): the sentences of 二, 三, 四 and 六 that the agreement check reads,
/// skeletons for 一 and 五. Counted live (a published year's figures cannot move, so it says
/// what the published tables say).
pub async fn narrative_draft(
    state: &AppState,
    actor: Actor,
    agency_id: String,
    year: i32,
) -> Result<Narrative, AppError> {
    check_year(year, state.today())?;
    let counting = counting(state);
    state
        .with_conn(move |conn| {
            let agency = visible_agency(conn, &actor, &agency_id)?;
            let (p, n, _) = entered(conn, &agency.id, year)?;
            let r = compute(
                conn,
                &agency,
                &ReportScope::Agency(agency.id.clone()),
                year,
                counting,
                &p,
                n,
            )?;
            let proactive: Vec<(String, Vec<(String, String)>)> = r
                .tables
                .proactive
                .rows
                .iter()
                .map(|row| {
                    let cols = row
                        .columns
                        .iter()
                        .map(|c| {
                            let v = row.values.get(&c.code).copied().unwrap_or_default();
                            (c.label.clone(), v.to_string())
                        })
                        .collect();
                    (row.label.clone(), cols)
                })
                .collect();
            Ok(narrative::draft(year, &r.figures, &proactive))
        })
        .await
}

fn may_edit(actor: &Actor, agency: &AgencyRow) -> Result<(), AppError> {
    if !actor.sees(&agency.id, &agency.path) {
        return Err(AppError::NotFound(crate::text!("机关", "agency")));
    }
    if actor.has(Role::Admin)
        || (agency.id == actor.agency_id && (actor.has(Role::Clerk) || actor.has(Role::Approver)))
    {
        Ok(())
    } else {
        Err(AppError::Forbidden {
            code: "forbidden",
            detail: crate::text!(
                "填报年度报告数据须具有本机关的经办人（clerk）、审批人（approver）或管理员（admin）角色",
                "entering report figures needs the role clerk, approver or admin of the agency"
            ),
        })
    }
}

fn refuse_published(conn: &mut DbConnection, agency_id: &str, year: i32) -> Result<(), AppError> {
    if db::reports::is_published(conn, agency_id, year)? {
        return Err(AppError::conflict(
            "period_published",
            crate::text!(
                "本机关 {year} 年度报告已公布，须先由管理员重新开放",
                "the {year} report of this agency is published; an admin must reopen it first"
            ),
        ));
    }
    Ok(())
}

/// Years of this agency whose report is published and not reopened.
pub fn published_years(conn: &mut DbConnection, agency_id: &str) -> Result<Vec<i32>, AppError> {
    Ok(db::reports::published_years(conn, agency_id)?)
}

/// Refuses a change that would alter a published year's figures: for every published year, the
/// cells the record counts in before and after must be the same.
pub fn ensure_figures_unchanged<T: PartialEq>(
    conn: &mut DbConnection,
    agency_id: &str,
    cells: impl Fn(i32) -> (T, T),
) -> Result<(), AppError> {
    figures_unchanged_in(&published_years(conn, agency_id)?, cells)
}

/// [`ensure_figures_unchanged`] for published years already read (a bulk import reads them
/// once per agency, not once per application).
pub fn figures_unchanged_in<T: PartialEq>(
    published: &[i32],
    cells: impl Fn(i32) -> (T, T),
) -> Result<(), AppError> {
    for &year in published {
        let (before, after) = cells(year);
        if before != after {
            return Err(AppError::conflict(
                "period_published",
                crate::text!(
                    "这将改变本机关已公布的 {year} 年度报告，须先由管理员重新开放",
                    "this would change the published {year} report of this agency; an admin must reopen it first"
                ),
            ));
        }
    }
    Ok(())
}

/// A change of the entered parts: a `PUT` replaces, a `PATCH` merges what was sent.
pub enum Entry {
    /// Table 二, every row and column of the format.
    ProactivePut(Entered),
    /// Table 二 cells to change; the others are kept.
    ProactivePatch(Entered),
    /// All six sections.
    NarrativePut(Narrative),
    /// The sections sent (field name → text); the others are kept.
    NarrativePatch(BTreeMap<String, String>),
}

fn validate_narrative_text(
    field: &str,
    v: &str,
) -> Result<(), crate::domain::validation::FieldError> {
    crate::domain::validation::optional_text(field, Some(v), 50_000, true).map(|_| ())
}

/// Checks what can be checked before the transaction: the values and, for a `PUT`, that
/// nothing is missing.
fn validate_entry(year: i32, entry: &Entry) -> Result<(), AppError> {
    let format = Format::for_year(year);
    match entry {
        Entry::ProactivePut(values) => {
            // Bad cells and missing ones, all named at once.
            let mut errors = report::proactive_table(format, values)
                .err()
                .unwrap_or_default();
            errors.extend(report::missing_cells(format, values));
            if !errors.is_empty() {
                return Err(AppError::Validation(errors));
            }
        }
        Entry::ProactivePatch(values) => {
            report::proactive_table(format, values).map_err(AppError::Validation)?;
        }
        Entry::NarrativePut(n) => {
            let mut errors = crate::domain::validation::Errors::new();
            for (field, v) in narrative::FIELDS.iter().zip(n.sections()) {
                if let Err(e) = validate_narrative_text(field, v) {
                    errors.push(e);
                }
            }
            errors.into_result()?;
        }
        Entry::NarrativePatch(fields) => {
            let mut errors = crate::domain::validation::Errors::new();
            for (field, v) in fields {
                if !narrative::FIELDS.contains(&field.as_str()) {
                    errors.push(crate::domain::validation::FieldError::new(
                        field.clone(),
                        "unknown_field",
                        crate::text!(
                            "未知字段 `{field}`，不是报告正文的部分",
                            "unknown field `{field}`, not a section of the narrative"
                        ),
                    ));
                } else if let Err(e) = validate_narrative_text(field, v) {
                    errors.push(e);
                }
            }
            errors.into_result()?;
        }
    }
    Ok(())
}

/// Enters table 二 or the narrative (`PUT` or `PATCH`), with `If-Match` the report's revision.
pub async fn enter(
    state: &AppState,
    actor: Actor,
    agency_id: String,
    year: i32,
    entry: Entry,
    if_match: Option<i32>,
    ctx: RequestContext,
) -> Result<Report, AppError> {
    check_year(year, state.today())?;
    validate_entry(year, &entry)?;
    let clock = state.clock;
    let counting = counting(state);
    state
        .in_transaction(move |conn| {
            let agency = visible_agency(conn, &actor, &agency_id)?;
            may_edit(&actor, &agency)?;
            let (mut proactive, mut narrative, draft) = entered(conn, &agency.id, year)?;
            let revision = precondition(if_match, draft.as_ref())?;
            refuse_published(conn, &agency.id, year)?;
            let (action, change) = match entry {
                Entry::ProactivePut(values) => {
                    let change = json!({"before": proactive, "after": values});
                    proactive = values;
                    ("proactive_entered", change)
                }
                Entry::ProactivePatch(values) => {
                    let before = proactive.clone();
                    for (row, cols) in values {
                        proactive.entry(row).or_default().extend(cols);
                    }
                    let change = json!({"before": before, "after": proactive});
                    ("proactive_entered", change)
                }
                Entry::NarrativePut(n) => {
                    let change = json!({"before": narrative, "after": n});
                    narrative = n;
                    ("narrative_entered", change)
                }
                Entry::NarrativePatch(fields) => {
                    let before = narrative.clone();
                    for (field, v) in fields {
                        if let Some(t) = narrative.field_mut(&field) {
                            *t = v;
                        }
                    }
                    let change = json!({"before": before, "after": narrative});
                    ("narrative_entered", change)
                }
            };
            let now = clock.now_micros();
            save(
                conn,
                now,
                &agency.id,
                year,
                (&proactive, &narrative),
                &actor,
                revision + 1,
            )?;
            let entity = format!("{}:{year}", agency.id);
            audit(
                conn,
                now,
                Some(&actor),
                Some(&agency.id),
                ("report", &entity),
                action,
                change,
                &ctx,
            )?;
            let scope = ReportScope::Agency(agency.id.clone());
            let mut r = compute(conn, &agency, &scope, year, counting, &proactive, narrative)?;
            r.revision = revision + 1;
            Ok(r)
        })
        .await
}

/// The report's revision when `If-Match` names it: 428 without one, 412 for another.
fn precondition(if_match: Option<i32>, draft: Option<&DraftRow>) -> Result<i32, AppError> {
    let expected = if_match.ok_or(AppError::PreconditionRequired)?;
    let current = draft.map_or(0, |d| d.revision);
    if expected != current {
        return Err(AppError::PreconditionFailed);
    }
    Ok(current)
}

/// Stores the entered parts as `revision`, if nobody wrote since (else 412).
fn save(
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
    agency_id: &str,
    year: i32,
    (proactive, narrative): (&Entered, &Narrative),
    actor: &Actor,
    revision: i32,
) -> Result<(), AppError> {
    let saved = db::reports::save_draft(
        conn,
        &DraftRow {
            agency_id: agency_id.to_string(),
            year,
            proactive: stored::encode_proactive(proactive)?,
            narrative: stored::encode_narrative(narrative)?,
            updated_at: now,
            updated_by: Some(actor.recorded_as()),
            revision,
        },
    )?;
    if !saved {
        return Err(AppError::PreconditionFailed);
    }
    Ok(())
}

fn require_admin(actor: &Actor, agency: &AgencyRow) -> Result<(), AppError> {
    actor
        .may_administer(&agency.id, &agency.path)
        .map_err(AppError::from)
}

/// Freezes the report as a new version (admins). Refused while a check of severity `error`
/// fails, and while a section of the narrative is incomplete.
pub async fn publish(
    state: &AppState,
    actor: Actor,
    agency_id: String,
    year: i32,
    if_match: Option<i32>,
    ctx: RequestContext,
) -> Result<Report, AppError> {
    let clock = state.clock;
    let today = state.today();
    check_year(year, today)?;
    let counting = counting(state);
    state
        .in_transaction(move |conn| {
            let agency = visible_agency(conn, &actor, &agency_id)?;
            require_admin(&actor, &agency)?;
            let (p, n, draft) = entered(conn, &agency.id, year)?;
            let revision = precondition(if_match, draft.as_ref())?;
            if !publication::year_is_over(year, today) {
                return Err(AppError::conflict(
                    "year_not_over",
                    crate::text!(
                        "{year} 年度报告须在 {year} 年结束后（{}-01-01 起）才能公布",
                        "the {year} report can be published once {year} is over (from {}-01-01); the office keeps working on {year} until then",
                        year + 1
                    ),
                ));
            }
            if db::reports::is_published(conn, &agency.id, year)? {
                return Err(AppError::conflict(
                    "already_published",
                    crate::text!(
                        "该报告已公布；须重新开放后再公布新版本",
                        "this report is published; reopen it to publish a new version"
                    ),
                ));
            }
            let mut r = compute(
                conn,
                &agency,
                &ReportScope::Agency(agency.id.clone()),
                year,
                counting,
                &p,
                n.clone(),
            )?;
            let failed: Vec<&str> = r
                .checks
                .iter()
                .filter(|c| !c.holds && c.severity == Severity::Error)
                .map(|c| c.code.as_str())
                .collect();
            if !failed.is_empty() {
                return Err(AppError::conflict(
                    "checks_failed",
                    crate::text!(
                        "报告校验未通过：{}",
                        "checks fail: {}",
                        failed.join(", ")
                    ),
                ));
            }
            let incomplete = narrative::incomplete_sections(&r.narrative, &r.figures);
            if !incomplete.is_empty() {
                let sections: Vec<String> = incomplete.iter().map(|(_, s)| s.clone()).collect();
                let fields: Vec<&str> = incomplete
                    .iter()
                    .filter_map(|(i, _)| narrative::FIELDS.get(*i).copied())
                    .collect();
                return Err(AppError::conflict(
                    "narrative_incomplete",
                    crate::domain::text::Text::new(
                        format!("报告正文不完整，不能公布：{}", sections.join("；")),
                        format!(
                            "the narrative is incomplete; the report cannot be published: {}",
                            fields.join(", ")
                        ),
                    ),
                ));
            }
            let now = clock.now_micros();
            save(conn, now, &agency.id, year, (&p, &n), &actor, revision + 1)?;
            r.revision = revision + 1;
            r.status = "published".into();
            r.published_at = Some(
                now.and_utc()
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            );
            r.published_by = Some(actor.recorded_as());
            db::reports::insert_version(
                conn,
                &VersionRow {
                    agency_id: agency.id.clone(),
                    year,
                    version: r.version,
                    snapshot: stored::encode_snapshot(&r)?,
                    published_at: now,
                    published_by: actor.recorded_as(),
                    reopened_at: None,
                    reopened_by: None,
                    reopen_reason: None,
                },
            )?;
            audit(
                conn,
                now,
                Some(&actor),
                Some(&agency.id),
                ("report", &format!("{}:{year}", agency.id)),
                "report_published",
                json!({"version": r.version}),
                &ctx,
            )?;
            Ok(r)
        })
        .await
}

/// Reopens a published report (admins, with a reason); the next publication is a new version.
pub async fn reopen(
    state: &AppState,
    actor: Actor,
    agency_id: String,
    year: i32,
    reason: String,
    if_match: Option<i32>,
    ctx: RequestContext,
) -> Result<Report, AppError> {
    let clock = state.clock;
    check_year(year, state.today())?;
    let reason = crate::domain::validation::text("reason", &reason, 1000, true)
        .map_err(|e| AppError::Validation(vec![e]))?;
    let counting = counting(state);
    state
        .in_transaction(move |conn| {
            let agency = visible_agency(conn, &actor, &agency_id)?;
            require_admin(&actor, &agency)?;
            let (p, n, draft) = entered(conn, &agency.id, year)?;
            let revision = precondition(if_match, draft.as_ref())?;
            let versions = db::reports::versions(conn, &agency.id, year)?;
            let Some(last) = versions.last().filter(|v| v.reopened_at.is_none()) else {
                return Err(AppError::conflict(
                    "not_published",
                    crate::text!(
                        "只有已公布的报告才能重新开放",
                        "only a published report can be reopened"
                    ),
                ));
            };
            let now = clock.now_micros();
            if !db::reports::reopen(
                conn,
                &agency.id,
                year,
                last.version,
                &actor.recorded_as(),
                &reason,
                now,
            )? {
                return Err(AppError::PreconditionFailed);
            }
            save(conn, now, &agency.id, year, (&p, &n), &actor, revision + 1)?;
            audit(
                conn,
                now,
                Some(&actor),
                Some(&agency.id),
                ("report", &format!("{}:{year}", agency.id)),
                "report_reopened",
                json!({"version": last.version, "reason": reason}),
                &ctx,
            )?;
            current(conn, &agency, year, None, counting)
        })
        .await
}

pub async fn versions(
    state: &AppState,
    actor: Actor,
    agency_id: String,
    year: i32,
) -> Result<Vec<VersionRow>, AppError> {
    check_year(year, state.today())?;
    state
        .with_conn(move |conn| {
            let agency = visible_agency(conn, &actor, &agency_id)?;
            Ok(db::reports::versions(conn, &agency.id, year)?)
        })
        .await
}

/// The records behind one cell.
pub enum CellItems {
    Requests(Vec<super::requests::RequestView>),
    Remedies(Vec<db::remedies::RemedyRow>),
}

pub async fn cell(
    state: &AppState,
    actor: Actor,
    agency_id: String,
    year: i32,
    row: String,
    column: String,
    page: Page,
) -> Result<(CellItems, i64), AppError> {
    check_year(year, state.today())?;
    let counting = counting(state);
    let look = super::office::Look::of(state);
    state
        .with_conn(move |conn| {
            let agency = visible_agency(conn, &actor, &agency_id)?;
            let y = report::cells::YearBounds::new(year)
                .ok_or(AppError::NotFound(crate::text!("年度报告", "report year")))?;
            let scope = ReportScope::Agency(agency.id.clone());
            if report::REMEDY_GROUPS.iter().any(|(g, _)| *g == row) {
                let cell = report::cells::remedies(counting)
                    .cell(&row, &column)
                    .ok_or(AppError::NotFound(crate::text!(
                        "报告的列",
                        "report column"
                    )))?;
                let (ids, total) = db::reports::remedy_cell(
                    conn,
                    &scope,
                    &y,
                    counting,
                    cell,
                    page.offset(),
                    page.per_page,
                )?;
                let items = db::remedies::rows_by_ids(conn, &ids)?;
                return Ok((CellItems::Remedies(items), total));
            }
            let format = Format::for_year(year);
            if !report::application_rows(format)
                .iter()
                .any(|r| r.code == row)
            {
                return Err(AppError::NotFound(crate::text!("报告的行", "report row")));
            }
            if !report::APPLICATION_COLUMNS.contains(&column.as_str()) {
                return Err(AppError::NotFound(crate::text!(
                    "报告的列",
                    "report column"
                )));
            }
            let cell = report::cells::applications()
                .cell(&row, &column)
                .ok_or(AppError::NotFound(crate::text!("报告的行", "report row")))?;
            let (ids, total) = db::reports::application_cell(
                conn,
                &scope,
                &y,
                cell,
                page.offset(),
                page.per_page,
            )?;
            let mut items: Vec<super::requests::RequestView> = db::requests::by_ids(conn, &ids)?
                .into_iter()
                .map(super::requests::RequestView::new)
                .collect();
            super::office::decorate_all(conn, &mut items, &look)?;
            Ok((CellItems::Requests(items), total))
        })
        .await
}

/// Tables 二, 三, 四 summed over the agency and every agency below it.
pub async fn rollup(
    state: &AppState,
    actor: Actor,
    agency_id: String,
    year: i32,
) -> Result<Report, AppError> {
    check_year(year, state.today())?;
    let counting = counting(state);
    state
        .with_conn(move |conn| {
            let agency = visible_agency(conn, &actor, &agency_id)?;
            // Clients reach this only with `reports:read` (checked per route).
            if !(actor.has(Role::Admin)
                || actor.has(Role::Supervisor)
                || actor.client_scopes().is_some())
            {
                return Err(AppError::Forbidden {
                    code: "forbidden",
                    detail: crate::text!(
                        "汇总报告仅供管理员、监督人员和具有 reports:read 权限的客户端查看",
                        "roll-ups are for admins, supervisors and clients with reports:read"
                    ),
                });
            }
            let vis = crate::domain::access::Visibility::Subtree(agency.path.clone());
            let (members, _) = db::agencies::list(
                conn,
                &db::agencies::AgencyFilter {
                    visibility: &vis,
                    parent_id: None,
                    q: None,
                },
                0,
                i64::MAX,
            )?;
            // Table 二: decimal sums (scaled by 10^4, exact) of each agency's entered values.
            let format = Format::for_year(year);
            let mut sums: BTreeMap<String, BTreeMap<String, i128>> = BTreeMap::new();
            let mut included = Vec::new();
            for m in &members {
                let (p, _, _) = entered(conn, &m.id, year)?;
                for row in report::proactive_table(format, &p).map_err(AppError::Validation)? {
                    for (col, v) in row.values {
                        *sums
                            .entry(row.code.clone())
                            .or_default()
                            .entry(col)
                            .or_insert(0) += v.scaled();
                    }
                }
                included.push(RollupAgency {
                    agency_id: m.id.clone(),
                    code: m.code.clone(),
                    name: m.name.clone(),
                    published: db::reports::is_published(conn, &m.id, year)?,
                });
            }
            let summed: BTreeMap<String, BTreeMap<String, String>> = sums
                .into_iter()
                .map(|(r, cols)| {
                    let cols = cols
                        .into_iter()
                        .map(|(c, v)| (c, report::Figure::from_scaled(v).to_string()))
                        .collect();
                    (r, cols)
                })
                .collect();
            let mut r = compute(
                conn,
                &agency,
                &ReportScope::Subtree(agency.path.clone()),
                year,
                counting,
                &summed,
                Narrative::default(),
            )?;
            r.status = "rollup".into();
            r.agencies = Some(included);
            Ok(r)
        })
        .await
}

#[cfg(test)]
mod tests {
    use crate::domain::report::Figure;

    fn scaled(v: &str) -> i128 {
        Figure::parse(v).map(Figure::scaled).unwrap_or_default()
    }

    fn unscaled(v: i128) -> String {
        Figure::from_scaled(v).to_string()
    }

    #[test]
    fn decimal_sums_are_exact() {
        assert_eq!(
            unscaled(scaled("12.5") + scaled("0.25") + scaled("3")),
            "15.75"
        );
        assert_eq!(unscaled(scaled("-4") + scaled("1")), "-3");
        assert_eq!(unscaled(scaled("0.0001") * 3), "0.0003");
    }
}
