//! Cron schedules (Cloudflare's dialect) and the job scheduler: once per
//! scheduled time across two schedulers on one file, once after downtime,
//! timeouts, retries, failed runs, runs abandoned by a dead process.

use crate::{retries, store};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use svcc_runtime::Problem;
use svcc_runtime::durable::jobs::{self, Tick};
use svcc_runtime::durable::{JobSpec, ManualClock, Schedule, Scheduler, Store};

fn ms(t: &str) -> i64 {
    t.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn show(t: i64) -> String {
    jiff::Timestamp::from_millisecond(t).unwrap().to_string()
}

fn next(schedule: &str, from: &str) -> Option<String> {
    Schedule::parse(schedule)
        .unwrap_or_else(|e| panic!("{e}"))
        .next_after(ms(from))
        .map(show)
}

#[test]
fn next_fire_times_follow_cloudflare_semantics() {
    // 2026-11-22 is a Sunday.
    let sunday = "2026-11-22T06:13:00Z";
    let table: &[(&str, &str, &str)] = &[
        ("*/15 * * * *", sunday, "2026-11-22T06:15:00Z"),
        ("* * * * *", sunday, "2026-11-22T06:14:00Z"),
        ("5/15 * * * *", sunday, "2026-11-22T06:20:00Z"),
        (
            "5/15 * * * *",
            "2026-11-22T06:50:00Z",
            "2026-11-22T07:05:00Z",
        ),
        ("*/15,30-59/10 0 * * *", sunday, "2026-11-23T00:00:00Z"),
        // Strictly after: a fire time is not its own next.
        (
            "*/5 * * * *",
            "2026-11-22T06:15:00Z",
            "2026-11-22T06:20:00Z",
        ),
        (
            "*/5 * * * *",
            "2026-11-22T06:15:59.999Z",
            "2026-11-22T06:20:00Z",
        ),
        ("*/5 * * * *", sunday, "2026-11-22T06:15:00Z"),
        // The lines the compiler writes for `every 2h`, `@hourly`,
        // `@daily`, `@weekly` (and `every 7d`), `@monthly` and `@yearly`.
        ("0 */2 * * *", sunday, "2026-11-22T08:00:00Z"),
        ("0 * * * *", sunday, "2026-11-22T07:00:00Z"),
        ("0 0 * * *", sunday, "2026-11-23T00:00:00Z"),
        ("0 0 * * SUN", sunday, "2026-11-29T00:00:00Z"),
        ("0 0 1 * *", sunday, "2026-12-01T00:00:00Z"),
        ("0 0 1 1 *", sunday, "2027-01-01T00:00:00Z"),
        // Weekdays are 1-7 from Sunday: 1 is Sunday, 7 Saturday.
        ("0 12 * * 1", sunday, "2026-11-22T12:00:00Z"),
        ("0 0 * * 1", sunday, "2026-11-29T00:00:00Z"),
        ("0 0 * * SUN", sunday, "2026-11-29T00:00:00Z"),
        ("0 12 * * 7", sunday, "2026-11-28T12:00:00Z"),
        ("0 9 * * 2-6", sunday, "2026-11-23T09:00:00Z"),
        (
            "0 9 * * MON-FRI",
            "2026-11-27T09:00:00Z",
            "2026-11-30T09:00:00Z",
        ),
        (
            "0 9 * * mon,wed",
            "2026-11-23T09:00:00Z",
            "2026-11-25T09:00:00Z",
        ),
        // Friday to Monday, as the compiler asks for it.
        ("0 0 * * FRI-SAT,SUN-MON", sunday, "2026-11-23T00:00:00Z"),
        (
            "0 0 * * FRI-SAT,SUN-MON",
            "2026-11-24T00:00:00Z",
            "2026-11-27T00:00:00Z",
        ),
        // Both day fields restricted: either matches; one `*`: the other.
        ("0 0 13 * 6", sunday, "2026-11-27T00:00:00Z"),
        ("0 0 1 * 2", sunday, "2026-11-23T00:00:00Z"),
        ("0 0 13 * *", sunday, "2026-12-13T00:00:00Z"),
        // Months of different lengths, leap years, the year's end.
        ("0 0 31 * *", sunday, "2026-12-31T00:00:00Z"),
        ("0 0 30 * *", "2027-01-30T00:00:00Z", "2027-03-30T00:00:00Z"),
        ("0 0 29 2 *", sunday, "2028-02-29T00:00:00Z"),
        (
            "0 0 29 FEB *",
            "2028-03-01T00:00:00Z",
            "2032-02-29T00:00:00Z",
        ),
        (
            "59 23 31 12 *",
            "2026-12-31T23:59:00Z",
            "2027-12-31T23:59:00Z",
        ),
        ("0 0 1 JAN,JUL *", sunday, "2027-01-01T00:00:00Z"),
        ("0 0 1 jan-dec/3 *", sunday, "2027-01-01T00:00:00Z"),
        // Last day, last weekday, nearest weekday.
        ("0 0 L * *", sunday, "2026-11-30T00:00:00Z"),
        ("0 0 L * *", "2027-02-10T00:00:00Z", "2027-02-28T00:00:00Z"),
        ("0 0 L * *", "2028-02-10T00:00:00Z", "2028-02-29T00:00:00Z"),
        ("0 0 LW * *", "2027-01-10T00:00:00Z", "2027-01-29T00:00:00Z"),
        ("0 0 LW * *", "2026-05-01T00:00:00Z", "2026-05-29T00:00:00Z"),
        ("0 0 LW * *", sunday, "2026-11-30T00:00:00Z"),
        (
            "0 0 15W * *",
            "2027-05-01T00:00:00Z",
            "2027-05-14T00:00:00Z",
        ),
        (
            "0 0 15W * *",
            "2027-08-01T00:00:00Z",
            "2027-08-16T00:00:00Z",
        ),
        ("0 0 15W * *", sunday, "2026-12-15T00:00:00Z"),
        ("0 0 1W * *", "2027-04-20T00:00:00Z", "2027-05-03T00:00:00Z"),
        // 31 May 2026 is a Sunday: the Friday before.
        (
            "0 0 31W * *",
            "2026-04-01T00:00:00Z",
            "2026-05-29T00:00:00Z",
        ),
        // saffron's (so Cloudflare's) quirk: 31W in a 30-day month whose
        // last day is a Friday (30 April 2027).
        (
            "0 0 31W * *",
            "2027-04-01T00:00:00Z",
            "2027-04-30T00:00:00Z",
        ),
        // The n-th and the last weekday of the month.
        ("0 9 * * 6#3", sunday, "2026-12-18T09:00:00Z"),
        ("0 10 * * mon#2", sunday, "2026-12-14T10:00:00Z"),
        ("0 18 * * 5L", sunday, "2026-11-26T18:00:00Z"),
        ("0 18 * * friL", sunday, "2026-11-27T18:00:00Z"),
    ];
    for (schedule, from, expected) in table {
        assert_eq!(
            next(schedule, from).as_deref(),
            Some(*expected),
            "{schedule} after {from}"
        );
    }
    // Never: there is no 31 February.
    assert_eq!(next("0 0 31 2 *", sunday), None);
}

#[test]
fn schedules_match_their_fire_times_and_only_canonical_lines_parse() {
    let s = Schedule::parse("0 9 * * MON-FRI").unwrap();
    assert_eq!(s.cron(), "0 9 * * MON-FRI");
    assert!(s.matches(ms("2026-11-23T09:00:30Z")));
    assert!(!s.matches(ms("2026-11-22T09:00:00Z")));
    // The compiler expands the shorthands and single-spaces the fields;
    // it refuses ranges that wrap around and `*` in a list.
    for bad in [
        "@weekly",
        "@daily",
        "every 15m",
        "EVERY 15m",
        "  0  9 * *   MON-FRI ",
        "0 9 * *\tMON-FRI",
        "0 0 * * FRI-MON",
        "0 22-2 * * *",
        "*,5 * * * *",
        "5,* * * * *",
        "0 0 * * 0",
        "* * * *",
        "0 0 * * * *",
        "60 * * * *",
        "0 24 * * *",
        "0 0 0 * *",
        "0 0 * 13 *",
        "*/0 * * * *",
        "every 7m",
        "every 30s",
        "every",
        "@reboot",
        "0 0 * * 1#6",
        "0 0 * JAN-FOO *",
        "1,,2 * * * *",
        "",
    ] {
        assert!(Schedule::parse(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn next_after_agrees_with_a_minute_by_minute_scan() {
    // Random schedules from the dialect's pieces, each checked against the
    // first matching minute within 40 days found by brute force
    // (`matches`) from a random start.
    let minutes = [
        "*",
        "0",
        "*/7",
        "5/20",
        "10-40/15",
        "59",
        "0,30",
        "45-59,0-15",
    ];
    let hours = ["*", "0", "*/5", "23", "9-17", "22-23,0-2"];
    let doms = [
        "*",
        "1",
        "L",
        "LW",
        "15W",
        "1W",
        "31W",
        "13",
        "1-7",
        "*/10",
        "28-31,1-3",
    ];
    let dows = [
        "*",
        "1",
        "2-6",
        "MON#2",
        "6#5",
        "5L",
        "SAT",
        "FRI-SAT,1-2",
        "1-7/3",
    ];
    let mut state: u64 = 0x5eed;
    let mut next = move |bound: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize % bound
    };
    let base = ms("2027-01-01T00:00:00Z");
    for _ in 0..400 {
        let cron = format!(
            "{} {} {} * {}",
            minutes[next(minutes.len())],
            hours[next(hours.len())],
            doms[next(doms.len())],
            dows[next(dows.len())]
        );
        let schedule = Schedule::parse(&cron).unwrap_or_else(|e| panic!("{e}"));
        let from = base + next(400 * 1440) as i64 * 60_000 + next(60_000) as i64;
        let mut t = (from / 60_000 + 1) * 60_000;
        let limit = from + 40 * 86_400_000;
        while t <= limit && !schedule.matches(t) {
            t += 60_000;
        }
        let expected = (t <= limit).then_some(t);
        assert_eq!(
            schedule.next_after(from).filter(|&n| n <= limit).map(show),
            expected.map(show),
            "{cron} after {}",
            show(from)
        );
    }
}

type Calls = Arc<Mutex<Vec<(i64, u32, String)>>>;

fn scheduler(s: &Store, clock: &Arc<ManualClock>, spec: JobSpec, calls: &Calls) -> Scheduler {
    let mut sch = Scheduler::new(s.clone()).with_clock(clock.clone());
    let calls = calls.clone();
    sch.add(spec, move |run| {
        calls
            .lock()
            .unwrap()
            .push((run.scheduled_ms, run.attempt, run.idempotency_key));
        async { Ok(()) }
    });
    sch
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_on_one_file_fire_each_scheduled_time_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("svcc.db");
    // Two stores: two connections, as two processes would have.
    let (a, b) = (Store::open(&path).unwrap(), Store::open(&path).unwrap());
    let clock = ManualClock::new(ms("2026-11-22T06:13:00Z"));
    let calls = Calls::default();
    let spec = || JobSpec::new("Shop/expireCarts", "*/15 * * * *").unwrap();
    let one = scheduler(&a, &clock, spec(), &calls);
    let two = scheduler(&b, &clock, spec(), &calls);
    // First sight: the job is registered, nothing earlier fires.
    let (x, y) = tokio::join!(one.tick(), two.tick());
    assert!(x.unwrap().fired.is_empty() && y.unwrap().fired.is_empty());
    for (i, at) in [
        "2026-11-22T06:15:00Z",
        "2026-11-22T06:20:00Z",
        "2026-11-22T06:30:30Z",
        "2026-11-22T06:44:59Z",
        "2026-11-22T06:45:00Z",
    ]
    .iter()
    .enumerate()
    {
        clock.set(ms(at));
        for _ in 0..3 {
            let (x, y) = tokio::join!(one.tick(), two.tick());
            let (x, y) = (x.unwrap(), y.unwrap());
            let fired = x.fired.len() + y.fired.len();
            assert!(fired <= 1, "{at}: {x:?} {y:?}");
        }
        let _ = i;
    }
    let scheduled: Vec<String> = calls.lock().unwrap().iter().map(|c| show(c.0)).collect();
    assert_eq!(
        scheduled,
        [
            "2026-11-22T06:15:00Z",
            "2026-11-22T06:30:00Z",
            "2026-11-22T06:45:00Z"
        ]
    );
    let runs = jobs::runs(&a, "Shop/expireCarts").await.unwrap();
    assert_eq!(runs.len(), 3);
    assert!(
        runs.iter()
            .all(|r| r.status == "succeeded" && r.attempts == 1)
    );
    let key = calls.lock().unwrap()[0].2.clone();
    assert_eq!(
        key,
        format!("Shop/expireCarts@{}", ms("2026-11-22T06:15:00Z"))
    );
    a.integrity_check().await.unwrap();
}

#[tokio::test]
async fn after_downtime_a_missed_schedule_runs_once() {
    let (_dir, s) = store();
    let clock = ManualClock::new(ms("2026-11-22T06:00:30Z"));
    let calls = Calls::default();
    let sch = scheduler(
        &s,
        &clock,
        JobSpec::new("J", "*/5 * * * *").unwrap(),
        &calls,
    );
    sch.tick().await.unwrap();
    // Down from 06:00:30 to 06:52: ten schedules (06:05 ... 06:50) missed.
    clock.set(ms("2026-11-22T06:52:00Z"));
    let tick = sch.tick().await.unwrap();
    assert_eq!(tick.fired, [("J".to_string(), ms("2026-11-22T06:50:00Z"))]);
    assert_eq!(sch.tick().await.unwrap(), Tick::default());
    assert_eq!(calls.lock().unwrap().len(), 1);
    // And the schedule goes on from there.
    clock.set(ms("2026-11-22T06:55:00Z"));
    assert_eq!(sch.tick().await.unwrap().fired.len(), 1);
    assert_eq!(calls.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_job_that_times_out_is_retried() {
    let (_dir, s) = store();
    let clock = ManualClock::new(ms("2026-11-22T06:00:30Z"));
    let calls = Arc::new(Mutex::new(0u32));
    let mut sch = Scheduler::new(s.clone()).with_clock(clock.clone());
    {
        let calls = calls.clone();
        sch.add(
            JobSpec::new("J", "0 * * * *")
                .unwrap()
                .timeout(Duration::from_millis(50))
                .retry(retries(3)),
            move |run| {
                *calls.lock().unwrap() += 1;
                async move {
                    if run.attempt == 1 {
                        std::future::pending::<()>().await;
                    }
                    if run.attempt == 2 {
                        return Err(Problem::new(503, "busy", "Busy").with_detail("later"));
                    }
                    Ok(())
                }
            },
        );
    }
    sch.tick().await.unwrap();
    clock.set(ms("2026-11-22T07:00:00Z"));
    let tick = sch.tick().await.unwrap();
    assert_eq!((tick.succeeded, tick.failed), (1, 0));
    let runs = jobs::runs(&s, "J").await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].status.as_str(), runs[0].attempts),
        ("succeeded", 3)
    );
    assert_eq!(*calls.lock().unwrap(), 3);
}

#[tokio::test]
async fn a_job_that_keeps_failing_is_recorded_with_its_error() {
    let (_dir, s) = store();
    let clock = ManualClock::new(ms("2026-11-22T06:00:30Z"));
    let mut sch = Scheduler::new(s.clone()).with_clock(clock.clone());
    sch.add(
        JobSpec::new("J", "0 * * * *").unwrap().retry(retries(2)),
        |_| async { Err(Problem::new(503, "down", "Down").with_detail("disk full")) },
    );
    sch.tick().await.unwrap();
    clock.set(ms("2026-11-22T07:00:00Z"));
    let tick = sch.tick().await.unwrap();
    assert_eq!((tick.succeeded, tick.failed), (0, 1));
    let runs = jobs::runs(&s, "J").await.unwrap();
    assert_eq!(runs[0].status, "failed");
    assert_eq!(runs[0].attempts, 2);
    assert!(runs[0].error.as_deref().unwrap().contains("disk full"));
    assert!(runs[0].ended.is_some());
    // The failed time is not run again; the next one is.
    assert!(sch.tick().await.unwrap().fired.is_empty());
    clock.set(ms("2026-11-22T08:00:00Z"));
    assert_eq!(sch.tick().await.unwrap().fired.len(), 1);
}

#[tokio::test]
async fn a_run_abandoned_by_a_dead_process_is_taken_over_after_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("svcc.db");
    let clock = ManualClock::new(ms("2026-11-22T06:00:30Z"));
    let calls = Calls::default();
    let spec = || {
        JobSpec::new("J", "0 * * * *")
            .unwrap()
            .timeout(Duration::from_secs(60))
            .retry(retries(3))
    };
    {
        // The first process hangs in its job and is killed.
        let s = Store::open(&path).unwrap();
        let mut sch = Scheduler::new(s.clone()).with_clock(clock.clone());
        sch.add(spec(), |_| async {
            std::future::pending::<()>().await;
            Ok(())
        });
        let sch = Arc::new(sch);
        sch.tick().await.unwrap();
        clock.set(ms("2026-11-22T07:00:10Z"));
        let task = {
            let sch = sch.clone();
            tokio::spawn(async move { sch.tick().await })
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while crate::count(&s, "SELECT COUNT(*) FROM job_runs WHERE attempts = 1").await == 0 {
            assert!(std::time::Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        task.abort();
        let _ = task.await;
    }
    let s = Store::open(&path).unwrap();
    let sch = scheduler(&s, &clock, spec(), &calls);
    // Within the lease (timeout + margin), the run is left alone.
    clock.set(ms("2026-11-22T07:01:00Z"));
    assert!(sch.tick().await.unwrap().fired.is_empty());
    clock.set(ms("2026-11-22T07:05:00Z"));
    let tick = sch.tick().await.unwrap();
    assert_eq!(tick.fired, [("J".to_string(), ms("2026-11-22T07:00:00Z"))]);
    assert_eq!(tick.succeeded, 1);
    // Its second attempt, for the same scheduled time.
    assert_eq!(calls.lock().unwrap()[0].1, 2);
    let runs = jobs::runs(&s, "J").await.unwrap();
    assert_eq!((runs.len(), runs[0].attempts), (1, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_loop_fires_due_jobs_on_their_own_tasks() {
    let (_dir, s) = store();
    let clock = ManualClock::new(ms("2026-11-22T06:00:30Z"));
    let calls = Calls::default();
    let sch = Arc::new(scheduler(
        &s,
        &clock,
        JobSpec::new("J", "*/15 * * * *").unwrap(),
        &calls,
    ));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sch.clone().run(Duration::from_millis(5), async {
        let _ = stopped.await;
    }));
    // Wait for conditions (polled; not a correctness argument).
    let wait_for = |n: i64| {
        let s = s.clone();
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while crate::count(
                &s,
                "SELECT COUNT(*) FROM job_runs WHERE status = 'succeeded'",
            )
            .await
                < n
            {
                assert!(std::time::Instant::now() < deadline);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    while crate::count(&s, "SELECT COUNT(*) FROM jobs").await == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    clock.set(ms("2026-11-22T06:15:00Z"));
    wait_for(1).await;
    clock.set(ms("2026-11-22T06:31:00Z"));
    wait_for(2).await;
    stop.send(()).unwrap();
    task.await.unwrap();
    let scheduled: Vec<String> = calls.lock().unwrap().iter().map(|c| show(c.0)).collect();
    assert_eq!(scheduled, ["2026-11-22T06:15:00Z", "2026-11-22T06:30:00Z"]);
}
