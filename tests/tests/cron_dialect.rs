//! One cron dialect: every job schedule of the case folders and the
//! examples that the compiler accepts fires at the same minutes in the
//! runtime.
//!
//! The compiler reads a schedule as written (`@daily`, `every 5m`, a cron
//! line) and writes the canonical 5-field line it checked into the wrangler
//! config and the generated `JobSpec`; the runtime's scheduler reads only
//! that line, with its own evaluator. Here two independent readings of the
//! line must agree: croner, configured the way the compiler's second
//! opinion configures it (Cloudflare's semantics), and the runtime's
//! `Schedule`, each asked for the next 20 firing times from fixed instants.
//!
//! They differ in one place, on purpose: `nW` for a day that a month does
//! not have. Cloudflare's parser (saffron) reads `31W` in a 30-day month
//! whose 30th is a Friday as "the Friday before the 31st, a Saturday" and
//! fires; the runtime keeps that quirk (`runtime/src/durable/cron.rs`),
//! croner skips the month. Those firings are checked against the rule and
//! set aside; everything else must be the same.

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use std::path::Path;
use svcc_core::syntax::cron::{cloudflare_parser, parse_schedule};

/// Instants to start from: a Sunday morning, the day before a leap day,
/// and the last minute of a year.
const FROM: [&str; 3] = [
    "2026-11-22T06:13:00Z",
    "2028-02-28T23:59:30Z",
    "2026-12-31T23:59:00Z",
];

/// Firing times compared per schedule and instant.
const FIRINGS: usize = 20;

/// `(where, schedule as written, its canonical line)` of every job the
/// compiler accepts in the project at `dir`.
fn accepted(dir: &Path, analysis: &svcc_core::Analysis) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for service in &analysis.model.ast.services {
        for job in &service.jobs {
            let (Some(written), Some(schedule)) = (&job.written, &job.schedule) else {
                continue;
            };
            let place = format!(
                "{}: {}.{}",
                dir.display(),
                service.name.value,
                job.name.value
            );
            out.push((place, written.clone(), schedule.value.cron().to_string()));
        }
    }
    out
}

/// Every accepted schedule of the case folders and the examples.
fn schedules() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut cases: Vec<_> = std::fs::read_dir(svcc_tests::cases_dir())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    for dir in cases {
        out.extend(accepted(&dir, &svcc_tests::analyse(&dir)));
    }
    for example in ["shop", "email-verification"] {
        let dir = svcc_tests::repo_root().join("examples").join(example);
        let analysis = svcc::workspace::check(&dir).unwrap();
        out.extend(accepted(&dir, &analysis));
    }
    out
}

/// The next `FIRINGS` times after `from` (ms since the epoch) by croner.
fn croner_times(cron: &str, from: i64) -> Vec<i64> {
    let parsed = cloudflare_parser().parse(cron).unwrap();
    let start: DateTime<Utc> = DateTime::from_timestamp_millis(from).unwrap();
    parsed
        .iter_after(start)
        .take(FIRINGS)
        .map(|t| t.timestamp_millis())
        .collect()
}

/// The next `FIRINGS` times after `from` by the runtime's scheduler.
fn runtime_times(cron: &str, from: i64) -> Vec<i64> {
    let schedule = svcc_runtime::durable::Schedule::parse(cron).unwrap();
    let mut out = Vec::new();
    let mut t = from;
    while out.len() < FIRINGS {
        let Some(next) = schedule.next_after(t) else {
            break;
        };
        out.push(next);
        t = next;
    }
    out
}

/// Whether the runtime firing at `t` is saffron's `nW` quirk: the line's
/// day-of-month is `nW`, and `t` falls on the last day of a month that has
/// no day `n`, one day before it, on a Friday.
fn saffron_quirk(cron: &str, t: i64) -> bool {
    let Some(n) = cron
        .split(' ')
        .nth(2)
        .and_then(|dom| dom.strip_suffix('W')?.parse::<u32>().ok())
    else {
        return false;
    };
    let date = DateTime::<Utc>::from_timestamp_millis(t)
        .unwrap()
        .date_naive();
    let next_month = if date.month() == 12 {
        NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
    };
    let last_day = next_month.and_then(|d| d.pred_opt()).unwrap().day();
    date.day() == last_day && last_day + 1 == n && date.weekday() == Weekday::Fri
}

fn show(times: &[i64]) -> Vec<String> {
    times
        .iter()
        .map(|&t| format!("{:?}", DateTime::<Utc>::from_timestamp_millis(t).unwrap()))
        .collect()
}

#[test]
fn compiler_and_runtime_fire_every_accepted_schedule_at_the_same_minutes() {
    let schedules = schedules();
    // The dialect case alone has 42 jobs; every form must be compared.
    assert!(
        schedules.len() > 60,
        "only {} schedules found",
        schedules.len()
    );
    let mut failures = Vec::new();
    for (place, text, cron) in &schedules {
        assert_eq!(
            parse_schedule(text).map(|s| s.cron().to_string()).as_ref(),
            Ok(cron)
        );
        for from in FROM {
            let from = from.parse::<DateTime<Utc>>().unwrap().timestamp_millis();
            let got: Vec<i64> = runtime_times(cron, from)
                .into_iter()
                .filter(|&t| !saffron_quirk(cron, t))
                .collect();
            let mut expected = croner_times(cron, from);
            assert_eq!(
                expected.len(),
                FIRINGS,
                "{place}: croner ran out for `{cron}`"
            );
            expected.truncate(got.len());
            assert!(got.len() > FIRINGS / 2, "{place}: `{cron}` is mostly quirk");
            if expected != got {
                failures.push(format!(
                    "{place}: `{text}` (`{cron}`) after {}:\n  croner  {:?}\n  runtime {:?}",
                    show(&[from])[0],
                    show(&expected),
                    show(&got)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_runtime_refuses_what_the_compiler_refuses() {
    // Written forms the compiler expands or refuses: the runtime, which
    // reads only canonical lines, refuses them all.
    for written in [
        "@daily",
        "every 5m",
        " 0 9 * * 2-6",
        "0 0 * * FRI-MON",
        "0 22-2 * * *",
        "*,5 * * * *",
        "0 0 * * 0",
        "0 0 ? * MON",
        "0 0 * * * *",
    ] {
        assert!(
            svcc_runtime::durable::Schedule::parse(written).is_err(),
            "the runtime read `{written}`"
        );
        if let Ok(s) = parse_schedule(written) {
            // Accepted as written: then only through its canonical line.
            assert_ne!(s.cron(), written);
            assert!(svcc_runtime::durable::Schedule::parse(s.cron()).is_ok());
        }
    }
}
