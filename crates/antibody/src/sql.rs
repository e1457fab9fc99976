//! The SQL sink: what every SQL integration calls before a statement reaches the database.

use std::borrow::Cow;

use antibody_detect::sql::{Dialect, Evidence, Fingerprint, SqlDetector, Verdict};

use crate::agent::Agent;
use crate::callsite::{CallSite, ShapeKey, SiteMemo, SiteSource};
use crate::config::{Mode, SinkKind};
use crate::context::{MAX_INPUTS, RequestContext};
use crate::decision::{Blocked, Finding};
use crate::event::{Event, EventKind, SinkReport, mask_secrets};
use crate::learning::Observation;
use crate::sink::{describe_request, event_at};

/// The longest statement checked in full. A longer one is checked on its first part, and
/// the shortfall is reported: the check's cost stays bounded whatever the application runs.
pub const CHECK_BUDGET_BYTES: usize = 1 << 20;

impl Agent {
    /// Checks `statement`, about to run in `dialect` at `site`, against the current request.
    /// `Err(Blocked)` means it must not run. Never panics: a failure inside the agent is
    /// reported and the statement allowed.
    pub fn check_sql(
        &self,
        dialect: Dialect,
        statement: &str,
        site: &CallSite,
    ) -> Result<(), Blocked> {
        self.check_sql_from(dialect, statement, SiteSource::Known(site))
    }

    /// Checks `statement` as [`Agent::check_sql`] does, for an integration that a library
    /// calls (sqlx calls the executor): the site is the application's code on the stack,
    /// walked only when the statement's shape is new in the request's route.
    pub fn check_sql_called_through_library(
        &self,
        dialect: Dialect,
        statement: &str,
    ) -> Result<(), Blocked> {
        self.check_sql_from(dialect, statement, SiteSource::Stack)
    }

    fn check_sql_from(
        &self,
        dialect: Dialect,
        statement: &str,
        site: SiteSource<'_>,
    ) -> Result<(), Blocked> {
        let Some((mode, context)) = self.start_check(SinkKind::Sql) else {
            return Ok(());
        };
        self.fail_open(
            SinkKind::Sql,
            || {
                Some(match site {
                    SiteSource::Known(site) => site.clone(),
                    SiteSource::Stack => self.stack_site(),
                })
            },
            || self.judge_sql(dialect, statement, site, context.as_deref(), mode),
        )
    }

    fn note_over_budget(&self, site: &CallSite, length: usize, checked: usize) {
        self.note_error(
            SinkKind::Sql,
            Some(site),
            format!(
                "a statement of {length} bytes exceeds the check budget; checked its first {checked} bytes"
            ),
        );
    }

    fn judge_sql(
        &self,
        dialect: Dialect,
        statement: &str,
        source: SiteSource<'_>,
        context: Option<&RequestContext>,
        mode: Mode,
    ) -> Result<(), Blocked> {
        assert!(
            !self.config().panic_in_checks,
            "fault injected into the SQL check"
        );
        let checked = within_budget(statement);
        let memo = &self.inner.sites;
        let scope = source.scope(context.and_then(RequestContext::route_key));
        // A text remembered in this scope was judged harmless and learned there: running the
        // same text again does the same, whatever the request carries. Only whole statements
        // of a known scope (a site, or a route) are remembered.
        let memorable = scope != 0 && checked.len() == statement.len();
        let text_key = memo.text_key(scope, checked);
        if memorable && memo.contains(text_key) {
            return Ok(());
        }
        let inputs = context.map(RequestContext::inputs).unwrap_or_default();
        // Inputs the agent did not inspect may have shaped the statement.
        let uninspected = context.is_some_and(RequestContext::inputs_overflowed);
        let detector = SqlDetector::new(dialect);
        // Finding whether an input occurs never lexes; `analyze_from` below lexes once. Only a
        // text no input occurs in is remembered: texts that carry values would crowd the memo.
        let first = detector.first_occurrence(checked, &inputs);
        let settled_key = (memorable && !uninspected && !first.is_some()).then_some(text_key);
        let analysis = detector.analyze_from(checked, &inputs, first);
        let structure_key = SiteMemo::structure_key(scope, analysis.fingerprint.as_u64());
        // An injection's site is always walked for, so its report names the exact line.
        let remembered = match (source, &analysis.verdict) {
            (SiteSource::Stack, Verdict::Injection(_)) | (SiteSource::Known(_), _) => None,
            (SiteSource::Stack, _) => memo.get(structure_key),
        };
        let site = match (source, &remembered) {
            (SiteSource::Known(site), _) | (SiteSource::Stack, Some(site)) => Cow::Borrowed(site),
            (SiteSource::Stack, None) => Cow::Owned(self.stack_site()),
        };
        let site = site.as_ref();
        if context.is_none() {
            self.report_unattributed(SinkKind::Sql, site);
        }
        if checked.len() < statement.len() {
            self.note_over_budget(site, statement.len(), checked.len());
        }
        // Only structures no request input shaped are learned: an injection never, and a lone
        // name an input supplied neither, or an attacker present while the site learns could
        // teach it `id = id`.
        let learnable = matches!(analysis.verdict, Verdict::NoInput | Verdict::Data)
            && !uninspected
            && !context.is_some_and(RequestContext::attack_reported);
        let observation =
            self.inner
                .learning
                .observe(site, analysis.fingerprint.as_u64(), learnable);
        if !matches!(analysis.verdict, Verdict::Injection(_)) {
            let walked = matches!(source, SiteSource::Stack) && remembered.is_none();
            remember(
                memo,
                site,
                observation,
                walked.then_some(structure_key),
                settled_key,
            );
        }
        let Some((finding, evidence, structure)) =
            classify(&analysis.verdict, observation, uninspected)
        else {
            return Ok(());
        };
        let kind = match finding {
            Finding::Attack => EventKind::SqlInjection,
            Finding::Anomaly => EventKind::SqlAnomaly,
        };
        let mut event = event_at(kind, mode, site);
        describe_sql(
            &mut event,
            dialect,
            statement,
            analysis.fingerprint,
            context,
            evidence,
        );
        event.structure = Some(structure);
        self.conclude(context, mode, finding, event)
    }
}

/// What a statement's verdict and its site's observation of its structure amount to: the
/// finding, the input behind it, and the structure as reported; `None` when there is nothing
/// to report. `uninspected` says whether the request carried inputs the agent did not read.
fn classify<'a>(
    verdict: &'a Verdict<'a>,
    observation: Observation,
    uninspected: bool,
) -> Option<(Finding, Option<&'a Evidence<'a>>, String)> {
    Some(match (verdict, observation) {
        // The site runs this very structure for requests no input shaped: the input merely
        // coincides with the statement's own text (`id, name` searched for where a bound
        // statement selects `id, name`).
        (Verdict::Injection(_), Observation::Known | Observation::Seen) => return None,
        (Verdict::Injection(evidence), _) => {
            (Finding::Attack, Some(evidence), evidence.added.to_string())
        }
        (Verdict::Ambiguous(evidence), Observation::New) => (
            Finding::Attack,
            Some(evidence),
            format!("new structure: a request input supplies {}", evidence.added),
        ),
        (_, Observation::New) if uninspected => (
            Finding::Attack,
            None,
            format!(
                "new structure in a request with inputs the agent did not inspect (more than \
                 {MAX_INPUTS} inputs, a body larger than it reads, or a compressed body)"
            ),
        ),
        (_, Observation::New) => (Finding::Anomaly, None, "new structure".to_owned()),
        _ => return None,
    })
}

/// Remembers, for a harmless statement, the site walked for its structure, and, once its
/// site has learned it, that its text is settled there.
fn remember(
    memo: &SiteMemo,
    site: &CallSite,
    observation: Observation,
    walked: Option<ShapeKey>,
    settled: Option<ShapeKey>,
) {
    if let (Some(key), Observation::Known | Observation::Learning | Observation::Seen) =
        (walked, observation)
    {
        memo.insert(key, site.clone());
    }
    if let (Some(key), Observation::Known) = (settled, observation) {
        memo.insert(key, site.clone());
    }
}

/// Fills in what an SQL event says about the request, the statement, the input and the
/// fix, with every secret of the request masked.
fn describe_sql(
    event: &mut Event,
    dialect: Dialect,
    statement: &str,
    fingerprint: Fingerprint,
    context: Option<&RequestContext>,
    evidence: Option<&Evidence<'_>>,
) {
    let secrets = describe_request(event, context, evidence.map(|evidence| evidence.input));
    event.sink = Some(SinkReport {
        kind: SinkKind::Sql,
        dialect: Some(dialect.as_str()),
        operation: None,
        statement: mask_secrets(statement, secrets.iter().copied()),
        fingerprint: Some(fingerprint.to_string()),
    });
    event.fix = Some(match evidence {
        Some(evidence) if sorts_or_groups_by(statement, evidence.span.start) => format!(
            "check {} `{}` against a list of allowed columns: a name cannot be bound as a \
             parameter",
            evidence.input.location.source.as_str(),
            evidence.input.location.name
        ),
        Some(evidence) => format!(
            "bind {} `{}` as a parameter instead of pasting it into the statement",
            evidence.input.location.source.as_str(),
            evidence.input.location.name
        ),
        None => "bind every value as a parameter: this site built a statement from data it never \
                 used before (a stored value?)"
            .to_owned(),
    });
}

/// Clauses that follow a sort or grouping list: past one of them, the list has ended.
const LATER_CLAUSES: [&str; 9] = [
    "LIMIT",
    "OFFSET",
    "HAVING",
    "WINDOW",
    "FETCH",
    "FOR",
    "UNION",
    "INTERSECT",
    "EXCEPT",
];

/// Whether the text at `at` stands in an `ORDER BY` or `GROUP BY` list, where the statement
/// expects a column's name: the place for an allow-list, not a parameter.
fn sorts_or_groups_by(statement: &str, at: usize) -> bool {
    let Some(before) = statement.get(..at) else {
        return false;
    };
    let before = before.to_ascii_uppercase();
    let clause_end = ["ORDER BY", "GROUP BY"]
        .iter()
        .filter_map(|clause| before.rfind(clause).map(|start| start + clause.len()))
        .max();
    // Only names, commas, directions and spaces lie between the clause and the input.
    clause_end.is_some_and(|end| {
        let between = &before[end..];
        between
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"_., \t\n\"`".contains(&byte))
            && !between
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .any(|word| LATER_CLAUSES.contains(&word))
    })
}

/// `statement` cut to [`CHECK_BUDGET_BYTES`], at a character boundary.
fn within_budget(statement: &str) -> &str {
    if statement.len() <= CHECK_BUDGET_BYTES {
        return statement;
    }
    let mut end = CHECK_BUDGET_BYTES;
    while !statement.is_char_boundary(end) {
        end -= 1;
    }
    &statement[..end]
}

#[cfg(test)]
mod tests {
    use super::sorts_or_groups_by;

    #[test]
    fn a_sort_column_is_fixed_by_an_allow_list_and_a_value_by_a_parameter() {
        let at = |statement: &str, input: &str| statement.find(input).expect("the input");
        for (statement, input, names) in [
            ("SELECT * FROM t ORDER BY price DESC", "price", true),
            (
                "SELECT * FROM t ORDER BY name, (CASE WHEN 1 THEN 1 END)",
                "(CASE",
                true,
            ),
            ("SELECT * FROM t group by kind", "kind", true),
            ("SELECT * FROM t WHERE name = 'x' OR 1=1", "x' OR", false),
            (
                "SELECT * FROM t WHERE id = 1 OR 1=1 ORDER BY name",
                "1 OR",
                false,
            ),
            ("SELECT * FROM t ORDER BY name LIMIT 5 OFFSET 0", "0", false),
        ] {
            assert_eq!(
                sorts_or_groups_by(statement, at(statement, input)),
                names,
                "{statement}"
            );
        }
    }
}
