//! One definition per report cell (domain.md §9 table 三, §8 and §9 table 四).
//!
//! Each cell is a small predicate over the facts the report counts (an application's receipt
//! date, closing date, disposition and applicant kind; a case's kind, route, received date,
//! decision date and outcome). Everything that counts derives from these definitions:
//!
//! * the publish freeze evaluates them in Rust ([`Cond::holds`], [`counted_cells`] of the
//!   parent module);
//! * `db::reports` renders them as SQL: the drill-down as `WHERE <cell>`, the aggregate as one
//!   pass `GROUP BY <key fields>` with one `SUM(CASE WHEN <when> …)` per distinct date condition,
//!   each cell then summing the groups its key condition selects.
//!
//! For that split every cell is written as disjoint [`Term`]s of a `select` (key fields only:
//! codes with few values) and a `when` (dates only), inside the table's `universe` (the rows any
//! cell can count). The predicates have no negation, so SQL's NULL (unknown, not true) and the
//! evaluator's "an absent fact satisfies no comparison" agree.

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};

use super::super::disposition::Disposition;
use super::super::remedy::{Outcome, RemedyKind, Route};
use super::super::request::ApplicantKind;
use super::{APPLICATION_COLUMNS, REMEDY_GROUPS, REMEDY_OUTCOMES};

/// A date the rules compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    /// An application's receipt date (收到申请之日), absent while awaiting confirmation.
    ReceiptDate,
    /// The day an application was closed (its reply's date).
    ClosedOn,
    /// A case's received date: when the agency was notified, else when it was filed.
    CaseReceived,
    /// The day the case's (latest) decision was made.
    DecidedOn,
}

/// A code the rules select on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    ApplicantKind,
    Disposition,
    /// `review` or `litigation`.
    CaseKind,
    /// A lawsuit's route (`direct`, `after_review`).
    Route,
    /// A case's stored outcome (`upheld`, `corrected`, `other`, `pending`).
    Outcome,
}

/// A day of the report year's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// 1 January of the year.
    YearStart,
    /// 31 December of the year.
    YearEnd,
    /// 31 December of the year before.
    PreviousYearEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Ge,
    Gt,
}

/// The days a report year compares against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearBounds {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub previous_end: NaiveDate,
}

impl YearBounds {
    /// None for a year chrono cannot represent.
    pub fn new(year: i32) -> Option<YearBounds> {
        Some(YearBounds {
            start: NaiveDate::from_ymd_opt(year, 1, 1)?,
            end: NaiveDate::from_ymd_opt(year, 12, 31)?,
            previous_end: NaiveDate::from_ymd_opt(year - 1, 12, 31)?,
        })
    }

    pub fn year(&self) -> i32 {
        self.start.year()
    }

    pub fn date(&self, b: Bound) -> NaiveDate {
        match b {
            Bound::YearStart => self.start,
            Bound::YearEnd => self.end,
            Bound::PreviousYearEnd => self.previous_end,
        }
    }
}

/// A condition over the counted facts. No negation: an absent fact satisfies no comparison and
/// no membership, exactly as SQL's NULL does in a `WHERE` or `CASE WHEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    True,
    All(Vec<Cond>),
    Any(Vec<Cond>),
    /// The date is known (`IS NOT NULL`).
    DateSet(DateField),
    /// The date is absent (`IS NULL`).
    DateUnset(DateField),
    /// The date is known and compares so with the bound.
    Date(DateField, Cmp, Bound),
    /// The code is known (`IS NOT NULL`).
    TextSet(TextField),
    /// The code is absent (`IS NULL`).
    TextUnset(TextField),
    /// The code is known and one of these (`IN`).
    TextIn(TextField, Vec<&'static str>),
    /// The code is known and none of these (`NOT IN`).
    TextNotIn(TextField, Vec<&'static str>),
}

/// What a record offers the rules.
pub trait Facts {
    fn date(&self, f: DateField) -> Option<NaiveDate>;
    fn text(&self, f: TextField) -> Option<&str>;
}

impl Cond {
    /// Whether the facts satisfy the condition in the year.
    pub fn holds(&self, facts: &(impl Facts + ?Sized), y: &YearBounds) -> bool {
        match self {
            Cond::True => true,
            Cond::All(cs) => cs.iter().all(|c| c.holds(facts, y)),
            Cond::Any(cs) => cs.iter().any(|c| c.holds(facts, y)),
            Cond::DateSet(f) => facts.date(*f).is_some(),
            Cond::DateUnset(f) => facts.date(*f).is_none(),
            Cond::Date(f, cmp, b) => facts.date(*f).is_some_and(|d| {
                let b = y.date(*b);
                match cmp {
                    Cmp::Lt => d < b,
                    Cmp::Le => d <= b,
                    Cmp::Ge => d >= b,
                    Cmp::Gt => d > b,
                }
            }),
            Cond::TextSet(f) => facts.text(*f).is_some(),
            Cond::TextUnset(f) => facts.text(*f).is_none(),
            Cond::TextIn(f, vs) => facts.text(*f).is_some_and(|v| vs.contains(&v)),
            Cond::TextNotIn(f, vs) => facts.text(*f).is_some_and(|v| !vs.contains(&v)),
        }
    }

    /// Both conditions (flattened; `True` dropped).
    pub fn and(self, other: Cond) -> Cond {
        match (self, other) {
            (Cond::True, c) | (c, Cond::True) => c,
            (Cond::All(mut a), Cond::All(b)) => {
                a.extend(b);
                Cond::All(a)
            }
            (Cond::All(mut a), c) => {
                a.push(c);
                Cond::All(a)
            }
            (c, Cond::All(mut b)) => {
                b.insert(0, c);
                Cond::All(b)
            }
            (a, b) => Cond::All(vec![a, b]),
        }
    }

    /// The fields the condition reads: (dates, codes).
    pub fn fields(&self) -> (Vec<DateField>, Vec<TextField>) {
        let mut out = (Vec::new(), Vec::new());
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut (Vec<DateField>, Vec<TextField>)) {
        match self {
            Cond::True => {}
            Cond::All(cs) | Cond::Any(cs) => cs.iter().for_each(|c| c.collect(out)),
            Cond::DateSet(f) | Cond::DateUnset(f) | Cond::Date(f, _, _) => out.0.push(*f),
            Cond::TextSet(f) | Cond::TextUnset(f) | Cond::TextIn(f, _) | Cond::TextNotIn(f, _) => {
                out.1.push(*f)
            }
        }
    }
}

/// One part of a cell: the records whose codes satisfy `select` and whose dates satisfy `when`.
/// A cell's terms never overlap, so a cell's count is the sum of its terms'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub select: Cond,
    pub when: Cond,
}

/// A cell: its row and column codes, and the terms it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellRule {
    pub row: &'static str,
    pub column: &'static str,
    pub terms: Vec<Term>,
}

/// A table's cells over one kind of record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRules {
    /// The records any cell can count (also the aggregate's `WHERE`).
    pub universe: Cond,
    /// The code fields the aggregate groups by; `select`s read only these.
    pub keys: Vec<TextField>,
    pub cells: Vec<CellRule>,
}

impl TableRules {
    pub fn cell(&self, row: &str, column: &str) -> Option<&CellRule> {
        self.cells
            .iter()
            .find(|c| c.row == row && c.column == column)
    }

    /// The whole condition of a cell (the drill-down's `WHERE`, the freeze's test).
    pub fn condition(&self, cell: &CellRule) -> Cond {
        let terms: Vec<Cond> = cell
            .terms
            .iter()
            .map(|t| t.select.clone().and(t.when.clone()))
            .collect();
        let any = match <[Cond; 1]>::try_from(terms) {
            Ok([one]) => one,
            Err(terms) => Cond::Any(terms),
        };
        self.universe.clone().and(any)
    }

    /// Whether the record counts in the cell in the year.
    pub fn counts(&self, cell: &CellRule, facts: &(impl Facts + ?Sized), y: &YearBounds) -> bool {
        self.universe.holds(facts, y)
            && cell
                .terms
                .iter()
                .any(|t| t.select.holds(facts, y) && t.when.holds(facts, y))
    }

    /// The distinct `when`s of all terms, in first-use order (the aggregate's sums).
    pub fn whens(&self) -> Vec<&Cond> {
        let mut out: Vec<&Cond> = Vec::new();
        for t in self.cells.iter().flat_map(|c| &c.terms) {
            if !out.contains(&&t.when) {
                out.push(&t.when);
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Table 三
// ---------------------------------------------------------------------------------------------

/// `previous_carried_out`: table 三's `carried_out` of the year before, counted with the year
/// (for the continuity check); not a cell of the table.
pub const PREVIOUS_CARRIED_OUT: &str = "previous_carried_out";

fn closed_in_year() -> Cond {
    Cond::All(vec![
        Cond::Date(DateField::ClosedOn, Cmp::Ge, Bound::YearStart),
        Cond::Date(DateField::ClosedOn, Cmp::Le, Bound::YearEnd),
    ])
}

/// Open at the end of the day `b`: not closed, or closed after it.
fn open_after(b: Bound) -> Cond {
    Cond::Any(vec![
        Cond::DateUnset(DateField::ClosedOn),
        Cond::Date(DateField::ClosedOn, Cmp::Gt, b),
    ])
}

/// The rows of table 三 in both formats (and `previous_carried_out`): (code, select, when).
fn application_row_rules() -> Vec<(&'static str, Cond, Cond)> {
    let mut rows = vec![
        // 一、本年新收: received in the year.
        (
            "new",
            Cond::True,
            Cond::Date(DateField::ReceiptDate, Cmp::Ge, Bound::YearStart),
        ),
        // 二、上年结转: received before the year, not closed before 1 January.
        (
            "carried_in",
            Cond::True,
            Cond::All(vec![
                Cond::Date(DateField::ReceiptDate, Cmp::Lt, Bound::YearStart),
                Cond::Any(vec![
                    Cond::DateUnset(DateField::ClosedOn),
                    Cond::Date(DateField::ClosedOn, Cmp::Ge, Bound::YearStart),
                ]),
            ]),
        ),
    ];
    // 三、本年度办理结果: closed in the year with that disposition.
    for d in Disposition::ALL {
        rows.push((
            d.code(),
            Cond::TextIn(TextField::Disposition, vec![d.code()]),
            closed_in_year(),
        ));
    }
    // The 2019 format's single （六）其他处理.
    rows.push((
        "other",
        Cond::TextIn(
            TextField::Disposition,
            Disposition::ALL
                .iter()
                .map(|d| d.code())
                .filter(|c| c.starts_with("other."))
                .collect(),
        ),
        closed_in_year(),
    ));
    // （七）总计: every application closed in the year (with its disposition).
    rows.push((
        "total",
        Cond::TextSet(TextField::Disposition),
        closed_in_year(),
    ));
    // 四、结转下年度: received by 31 December, not closed by then.
    rows.push(("carried_out", Cond::True, open_after(Bound::YearEnd)));
    rows.push((
        PREVIOUS_CARRIED_OUT,
        Cond::True,
        Cond::Date(DateField::ReceiptDate, Cmp::Le, Bound::PreviousYearEnd)
            .and(open_after(Bound::PreviousYearEnd)),
    ));
    rows
}

fn application_column_rule(column: &'static str) -> Cond {
    match ApplicantKind::ALL.iter().find(|k| k.code() == column) {
        Some(k) => Cond::TextIn(TextField::ApplicantKind, vec![k.code()]),
        None => Cond::True,
    }
}

/// Table 三: every (row, column) of both formats, plus `previous_carried_out` per column.
/// Only received applications count (one awaiting confirmation is not yet received, §3), and
/// none received after the year.
pub fn applications() -> &'static TableRules {
    static RULES: LazyLock<TableRules> = LazyLock::new(|| {
        let mut cells = Vec::new();
        for (row, select, when) in application_row_rules() {
            for column in APPLICATION_COLUMNS {
                cells.push(CellRule {
                    row,
                    column,
                    terms: vec![Term {
                        select: select.clone().and(application_column_rule(column)),
                        when: when.clone(),
                    }],
                });
            }
        }
        TableRules {
            universe: Cond::All(vec![
                Cond::DateSet(DateField::ReceiptDate),
                Cond::Date(DateField::ReceiptDate, Cmp::Le, Bound::YearEnd),
            ]),
            keys: vec![TextField::ApplicantKind, TextField::Disposition],
            cells,
        }
    });
    &RULES
}

// ---------------------------------------------------------------------------------------------
// Table 四
// ---------------------------------------------------------------------------------------------

/// How a case is assigned to a report year (domain.md §8; a setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemedyCounting {
    /// Received (notified; else filed) in the year, with its outcome as of 31 December.
    ReceivedInYear,
    /// Received in the year, or pending at its start and decided in it.
    ActiveInYear,
}

fn remedy_universe(counting: RemedyCounting) -> Cond {
    let received_in_year = Cond::All(vec![
        Cond::Date(DateField::CaseReceived, Cmp::Ge, Bound::YearStart),
        Cond::Date(DateField::CaseReceived, Cmp::Le, Bound::YearEnd),
    ]);
    match counting {
        RemedyCounting::ReceivedInYear => received_in_year,
        RemedyCounting::ActiveInYear => Cond::Any(vec![
            received_in_year,
            Cond::All(vec![
                Cond::Date(DateField::CaseReceived, Cmp::Lt, Bound::YearStart),
                Cond::Date(DateField::DecidedOn, Cmp::Ge, Bound::YearStart),
                Cond::Date(DateField::DecidedOn, Cmp::Le, Bound::YearEnd),
            ]),
        ]),
    }
}

fn remedy_group_rule(group: &str) -> Cond {
    let review = vec![RemedyKind::Review.code()];
    let after_review = vec![Route::AfterReview.code()];
    match group {
        "review" => Cond::TextIn(TextField::CaseKind, review),
        "litigation_after_review" => Cond::All(vec![
            Cond::TextNotIn(TextField::CaseKind, review),
            Cond::TextIn(TextField::Route, after_review),
        ]),
        // Any other lawsuit: direct, or of no recorded route.
        _ => Cond::All(vec![
            Cond::TextNotIn(TextField::CaseKind, review),
            Cond::Any(vec![
                Cond::TextUnset(TextField::Route),
                Cond::TextNotIn(TextField::Route, after_review),
            ]),
        ]),
    }
}

/// The outcome column as of 31 December: a decision after the year leaves the case pending in it.
fn remedy_outcome_terms(outcome: &str) -> Vec<Term> {
    let decided_by_end = Cond::Date(DateField::DecidedOn, Cmp::Le, Bound::YearEnd);
    let pending = vec![Outcome::Pending.code()];
    match Outcome::parse(outcome) {
        Some(Outcome::Pending) => vec![
            Term {
                select: Cond::TextIn(TextField::Outcome, pending.clone()),
                when: Cond::True,
            },
            Term {
                select: Cond::TextNotIn(TextField::Outcome, pending),
                when: Cond::Any(vec![
                    Cond::DateUnset(DateField::DecidedOn),
                    Cond::Date(DateField::DecidedOn, Cmp::Gt, Bound::YearEnd),
                ]),
            },
        ],
        Some(o) => vec![Term {
            select: Cond::TextIn(TextField::Outcome, vec![o.code()]),
            when: decided_by_end,
        }],
        // 总计: every case of the group.
        None => vec![Term {
            select: Cond::True,
            when: Cond::True,
        }],
    }
}

fn remedy_rules(counting: RemedyCounting) -> TableRules {
    let mut cells = Vec::new();
    for (group, _) in REMEDY_GROUPS {
        for (outcome, _) in REMEDY_OUTCOMES {
            cells.push(CellRule {
                row: group,
                column: outcome,
                terms: remedy_outcome_terms(outcome)
                    .into_iter()
                    .map(|t| Term {
                        select: remedy_group_rule(group).and(t.select),
                        when: t.when,
                    })
                    .collect(),
            });
        }
    }
    TableRules {
        universe: remedy_universe(counting),
        keys: vec![TextField::CaseKind, TextField::Route, TextField::Outcome],
        cells,
    }
}

/// Table 四 under a counting setting: (group, outcome) cells, `total` included.
pub fn remedies(counting: RemedyCounting) -> &'static TableRules {
    static RECEIVED: LazyLock<TableRules> =
        LazyLock::new(|| remedy_rules(RemedyCounting::ReceivedInYear));
    static ACTIVE: LazyLock<TableRules> =
        LazyLock::new(|| remedy_rules(RemedyCounting::ActiveInYear));
    match counting {
        RemedyCounting::ReceivedInYear => &RECEIVED,
        RemedyCounting::ActiveInYear => &ACTIVE,
    }
}

/// The facts of a review or lawsuit that table 四 counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedCase<'a> {
    pub kind: &'a str,
    pub route: Option<&'a str>,
    /// Received (notified), else filed.
    pub received: NaiveDate,
    pub decided_on: Option<NaiveDate>,
    pub outcome: &'a str,
}

impl Facts for CountedCase<'_> {
    fn date(&self, f: DateField) -> Option<NaiveDate> {
        match f {
            DateField::CaseReceived => Some(self.received),
            DateField::DecidedOn => self.decided_on,
            DateField::ReceiptDate | DateField::ClosedOn => None,
        }
    }

    fn text(&self, f: TextField) -> Option<&str> {
        match f {
            TextField::CaseKind => Some(self.kind),
            TextField::Route => self.route,
            TextField::Outcome => Some(self.outcome),
            TextField::ApplicantKind | TextField::Disposition => None,
        }
    }
}

impl Facts for super::CountedApplication<'_> {
    fn date(&self, f: DateField) -> Option<NaiveDate> {
        match f {
            DateField::ReceiptDate => self.receipt_date,
            DateField::ClosedOn => self.closed_on,
            DateField::CaseReceived | DateField::DecidedOn => None,
        }
    }

    fn text(&self, f: TextField) -> Option<&str> {
        match f {
            TextField::ApplicantKind => Some(self.kind),
            TextField::Disposition => self.disposition,
            TextField::CaseKind | TextField::Route | TextField::Outcome => None,
        }
    }
}

/// The cells (`row.column`) of a table a record counts in for the year.
pub fn cells_of(rules: &TableRules, facts: &(impl Facts + ?Sized), year: i32) -> Vec<String> {
    let Some(y) = YearBounds::new(year) else {
        return Vec::new();
    };
    rules
        .cells
        .iter()
        .filter(|c| rules.counts(c, facts, &y))
        .map(|c| format!("{}.{}", c.row, c.column))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes in a field: every literal the rules name, one they do not, and none.
    fn values(rules: &TableRules, f: TextField) -> Vec<Option<&'static str>> {
        fn lits(c: &Cond, f: TextField, out: &mut Vec<Option<&'static str>>) {
            match c {
                Cond::All(cs) | Cond::Any(cs) => cs.iter().for_each(|c| lits(c, f, out)),
                Cond::TextIn(g, vs) | Cond::TextNotIn(g, vs) if *g == f => {
                    out.extend(vs.iter().map(|v| Some(*v)))
                }
                _ => {}
            }
        }
        let mut out = vec![None, Some("not_a_code")];
        for t in rules.cells.iter().flat_map(|c| &c.terms) {
            lits(&t.select, f, &mut out);
        }
        out.sort();
        out.dedup();
        out
    }

    struct Keys(Vec<(TextField, Option<&'static str>)>);
    impl Facts for Keys {
        fn date(&self, _: DateField) -> Option<NaiveDate> {
            None
        }
        fn text(&self, f: TextField) -> Option<&str> {
            self.0.iter().find(|(g, _)| *g == f).and_then(|(_, v)| *v)
        }
    }

    fn all_tables() -> Vec<&'static TableRules> {
        vec![
            applications(),
            remedies(RemedyCounting::ReceivedInYear),
            remedies(RemedyCounting::ActiveInYear),
        ]
    }

    #[test]
    fn selects_read_only_the_grouped_codes_and_whens_only_dates() {
        for rules in all_tables() {
            assert!(rules.universe.fields().1.is_empty());
            for c in &rules.cells {
                for t in &c.terms {
                    let (dates, codes) = t.select.fields();
                    assert!(dates.is_empty(), "{}.{}", c.row, c.column);
                    assert!(codes.iter().all(|f| rules.keys.contains(f)));
                    assert!(t.when.fields().1.is_empty(), "{}.{}", c.row, c.column);
                }
            }
        }
    }

    #[test]
    fn the_terms_of_a_cell_never_select_the_same_codes() {
        let y = YearBounds::new(2025).expect("year");
        for rules in all_tables() {
            // Every combination of the key fields' values (named, unnamed, absent).
            let mut combos: Vec<Vec<(TextField, Option<&'static str>)>> = vec![vec![]];
            for f in &rules.keys {
                combos = combos
                    .into_iter()
                    .flat_map(|c| {
                        values(rules, *f).into_iter().map(move |v| {
                            let mut c = c.clone();
                            c.push((*f, v));
                            c
                        })
                    })
                    .collect();
            }
            for combo in combos {
                let k = Keys(combo);
                for c in &rules.cells {
                    let n = c.terms.iter().filter(|t| t.select.holds(&k, &y)).count();
                    assert!(n <= 1, "{}.{} overlaps", c.row, c.column);
                }
            }
        }
    }

    #[test]
    fn table_3_has_every_row_of_both_formats_in_every_column() {
        let rules = applications();
        for format in [super::super::Format::F2021, super::super::Format::Trial2019] {
            for r in super::super::application_rows(format) {
                for col in APPLICATION_COLUMNS {
                    assert!(rules.cell(r.code, col).is_some(), "{} {col}", r.code);
                }
            }
        }
        assert_eq!(rules.whens().len(), 5, "one sum per kind of date condition");
    }

    #[test]
    fn table_4_pending_means_undecided_as_of_31_december() {
        let rules = remedies(RemedyCounting::ReceivedInYear);
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        let case = CountedCase {
            kind: "litigation",
            route: None,
            received: d("2025-03-01").unwrap_or_default(),
            decided_on: d("2026-02-01"),
            outcome: "corrected",
        };
        assert_eq!(
            cells_of(rules, &case, 2025),
            vec!["litigation_direct.pending", "litigation_direct.total"]
        );
        assert!(cells_of(rules, &case, 2026).is_empty());
        let active = remedies(RemedyCounting::ActiveInYear);
        assert_eq!(
            cells_of(active, &case, 2026),
            vec!["litigation_direct.corrected", "litigation_direct.total"]
        );
    }
}
