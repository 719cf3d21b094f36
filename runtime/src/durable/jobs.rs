//! Scheduled jobs (`jobs:` in a manifest): each fires on its cron schedule,
//! at most once per scheduled time, even with several processes on one
//! database file.
//!
//! Why it exists: a service that runs as two processes (or restarts in the
//! middle of a minute) must not send the daily report twice, and one that
//! was down for an hour must not run `expireCarts` four times in a row when
//! it comes back. The promise rests on one transaction, not on timing:
//!
//! - **Claim.** In a `BEGIN IMMEDIATE` transaction a scheduler reads the
//!   job's row in `jobs` (when it was first seen, and the latest scheduled
//!   time already claimed), finds the latest scheduled time that is due,
//!   inserts a `job_runs` row keyed by (job, scheduled time) and moves the
//!   job's `last_scheduled` to it. The second scheduler's transaction waits
//!   for the first one's commit and then finds nothing due; the primary key
//!   would refuse a second row anyway. Schedules earlier than the first time
//!   a job was seen never run, so a new deployment does not fire at once.
//! - **Downtime.** Only the *latest* due scheduled time is claimed; the
//!   ones it covers are skipped (and logged), so a missed schedule runs
//!   once, not once per missed time.
//! - **Run.** The claimer runs the job under its timeout and retries it by
//!   its [`RetryPolicy`], recording each attempt in the run's row; its lease
//!   (`lease_until`, renewed at each attempt) covers the attempt. A run
//!   whose process died is taken over by any scheduler once the lease has
//!   expired, and goes on with its remaining attempts: a job's side effects
//!   are therefore at-least-once per claimed time (a kill during an attempt
//!   repeats it), and jobs get an idempotency key (job + scheduled time).
//! - **Failure.** A run that fails its last attempt stays in `job_runs`
//!   with status `failed` and its last error, which is its dead letter:
//!   a job has no event to replay, the next scheduled time is its retry.
//!
//! Time comes from a [`Clock`] so tests move it by hand.
//!
//! How generated code wires `jobs: { expireCarts: { schedule: "*/15 * * * *", timeout: 5m } }`:
//!
//! ```no_run
//! use std::{sync::Arc, time::Duration};
//! use svcc_runtime::durable::{JobSpec, Scheduler, Store};
//!
//! # async fn wire(store: Store) -> Result<(), svcc_runtime::Problem> {
//! let mut scheduler = Scheduler::new(store);
//! scheduler.add(
//!     JobSpec::new("OrderService/expireCarts", "*/15 * * * *")?.timeout(Duration::from_secs(300)),
//!     |run| async move {
//!         // handlers.expire_carts(run.scheduled_ms, &run.idempotency_key).await
//!         let _ = run;
//!         Ok(())
//!     },
//! );
//! tokio::spawn(Arc::new(scheduler).run(Duration::from_secs(30), std::future::pending()));
//! # Ok(())
//! # }
//! ```

use super::clock::{self, Clock};
use super::cron::Schedule;
use super::dispatcher::RetryPolicy;
use crate::Problem;
use crate::pipeline::store::Store;
use crate::sql::{self, OptionalExtension, params};
use futures_util::future::BoxFuture;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// A job of a service (`jobs.<name>` in the manifest).
#[derive(Clone, Debug)]
pub struct JobSpec {
    /// Its name, unique in the database (`OrderService/expireCarts`).
    pub name: String,
    /// When it fires.
    pub schedule: Schedule,
    /// The longest one attempt may run (the manifest's `timeout:`).
    pub timeout: Duration,
    /// Attempts and delays between them.
    pub retry: RetryPolicy,
}

impl JobSpec {
    /// A job with a 5-minute timeout and one attempt, firing on `cron`, a
    /// canonical cron line (the generated `JobSpec`'s `cron`).
    pub fn new(name: impl Into<String>, cron: &str) -> Result<JobSpec, Problem> {
        Ok(JobSpec {
            name: name.into(),
            schedule: Schedule::parse(cron).map_err(|e| Problem::internal(e.to_string()))?,
            timeout: Duration::from_secs(300),
            retry: RetryPolicy {
                attempts: 1,
                ..RetryPolicy::default()
            },
        })
    }

    /// Sets the timeout of one attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// What a job's handler is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRun {
    /// The job's name.
    pub job: String,
    /// The scheduled time this run is for (ms since the epoch, UTC).
    pub scheduled_ms: i64,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// `job@scheduled_ms`: the same for every attempt of this run, so a
    /// handler can make its side effects idempotent.
    pub idempotency_key: String,
}

type JobFn = Arc<dyn Fn(JobRun) -> BoxFuture<'static, Result<(), Problem>> + Send + Sync>;

struct Job {
    spec: JobSpec,
    run: JobFn,
}

/// One job run as recorded in `job_runs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRunRecord {
    /// The job.
    pub job: String,
    /// The scheduled time it ran for (ms since the epoch).
    pub scheduled: i64,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// Attempts started.
    pub attempts: u32,
    /// When it was claimed.
    pub started: i64,
    /// When it ended.
    pub ended: Option<i64>,
    /// The last attempt's error.
    pub error: Option<String>,
}

/// What one [`Scheduler::tick`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tick {
    /// (job, scheduled time) of every run this tick claimed or took over.
    pub fired: Vec<(String, i64)>,
    /// Runs that succeeded.
    pub succeeded: usize,
    /// Runs that failed their last attempt.
    pub failed: usize,
}

/// Fires the jobs registered with it.
pub struct Scheduler {
    store: Store,
    clock: Arc<dyn Clock>,
    owner: String,
    jobs: Vec<Job>,
    lease_margin_ms: i64,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// A run this scheduler holds.
struct Claimed {
    job: usize,
    scheduled: i64,
    attempts: u32,
}

enum Outcome {
    Succeeded,
    Failed,
    /// Another scheduler took the run over (this one's lease expired).
    Lost,
}

impl Scheduler {
    /// A scheduler on `store`, reading the system clock.
    pub fn new(store: Store) -> Self {
        Scheduler {
            store,
            clock: clock::system(),
            owner: uuid::Uuid::new_v4().to_string(),
            jobs: Vec::new(),
            lease_margin_ms: 30_000,
        }
    }

    /// Reads time from `clock` (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long past an attempt's timeout its lease lasts (30 s unless
    /// set): a run whose process died is taken over that long after its
    /// attempt should have ended.
    pub fn with_lease_margin(mut self, margin: Duration) -> Self {
        self.lease_margin_ms = margin.as_millis() as i64;
        self
    }

    /// Registers a job. Its handler is called once per attempt.
    pub fn add<F, Fut>(&mut self, spec: JobSpec, f: F)
    where
        F: Fn(JobRun) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Problem>> + Send + 'static,
    {
        let run: JobFn = Arc::new(move |r| Box::pin(f(r)));
        self.jobs.push(Job { spec, run });
    }

    /// Claims every run due at the clock's time (and every abandoned run
    /// whose lease has expired), runs them concurrently to their end, and
    /// says what happened.
    pub async fn tick(&self) -> Result<Tick, Problem> {
        let claimed = self.claim_due().await?;
        let mut tick = Tick::default();
        let runs = claimed.iter().map(|c| self.execute(c));
        for (c, outcome) in claimed
            .iter()
            .zip(futures_util::future::join_all(runs).await)
        {
            tick.fired
                .push((self.jobs[c.job].spec.name.clone(), c.scheduled));
            match outcome? {
                Outcome::Succeeded => tick.succeeded += 1,
                Outcome::Failed => tick.failed += 1,
                Outcome::Lost => {}
            }
        }
        Ok(tick)
    }

    /// Runs until `shutdown` resolves: claims due runs, runs each on its own
    /// task, and waits until the next scheduled time (or `poll` at most, so
    /// runs abandoned by another process are taken over).
    pub async fn run(self: Arc<Self>, poll: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.claim_due().await {
                Ok(claimed) => {
                    for c in claimed {
                        let me = self.clone();
                        tokio::spawn(async move {
                            if let Err(e) = me.execute(&c).await {
                                tracing::error!(error = %e, "job run failed to record");
                            }
                        });
                    }
                }
                Err(e) => tracing::error!(error = %e, "job scheduler pass failed"),
            }
            let now = self.clock.now_ms();
            let next = self
                .jobs
                .iter()
                .filter_map(|j| j.spec.schedule.next_after(now))
                .min()
                .map_or(poll, |t| Duration::from_millis((t - now).max(1) as u64));
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(next.min(poll)) => {}
            }
        }
    }

    fn lease(&self, job: &Job, now: i64, wait_ms: u64) -> i64 {
        now + job.spec.timeout.as_millis() as i64 + wait_ms as i64 + self.lease_margin_ms
    }

    /// Claims, in one transaction per job, the latest due scheduled time of
    /// each job, and takes over runs whose lease expired.
    async fn claim_due(&self) -> Result<Vec<Claimed>, Problem> {
        let mut claimed = Vec::new();
        for (i, job) in self.jobs.iter().enumerate() {
            let now = self.clock.now_ms();
            let name = job.spec.name.as_str();
            let lease = self.lease(job, now, 0);
            let got = self
                .store
                .write(|tx| {
                    tx.with_conn(|c| {
                        let row: Option<(i64, Option<i64>)> = c
                            .prepare_cached("SELECT since, last_scheduled FROM jobs WHERE job = ?1")?
                            .query_row(params![name], |r| Ok((r.get(0)?, r.get(1)?)))
                            .optional()?;
                        let Some((since, last)) = row else {
                            c.prepare_cached("INSERT INTO jobs (job, since) VALUES (?1, ?2)")?
                                .execute(params![name, now])?;
                            return Ok(None);
                        };
                        let from = last.unwrap_or(since).max(since);
                        let (latest, skipped) = latest_due(&job.spec.schedule, from, now);
                        let Some(scheduled) = latest else {
                            return Ok(None);
                        };
                        // The key (job, scheduled) admits one run per
                        // scheduled time whatever `jobs` says.
                        let inserted = c
                            .prepare_cached(
                                "INSERT OR IGNORE INTO job_runs (job, scheduled, status, attempts, owner, lease_until, started)
                                 VALUES (?1, ?2, 'running', 0, ?3, ?4, ?5)",
                            )?
                            .execute(params![name, scheduled, self.owner, lease, now])?;
                        if inserted == 0 {
                            return Ok(None);
                        }
                        c.prepare_cached("UPDATE jobs SET last_scheduled = ?2 WHERE job = ?1")?
                            .execute(params![name, scheduled])?;
                        Ok(Some((scheduled, skipped)))
                    })
                })
                .await?;
            if let Some((scheduled, skipped)) = got {
                if skipped > 0 {
                    tracing::warn!(
                        job = name,
                        skipped,
                        scheduled,
                        "job missed schedules while no scheduler ran; running the latest once"
                    );
                }
                claimed.push(Claimed {
                    job: i,
                    scheduled,
                    attempts: 0,
                });
            }
            // Runs whose process died: take them over.
            let abandoned: Vec<(i64, u32)> = self
                .store
                .write(|tx| {
                    tx.with_conn(|c| {
                        let rows: Vec<(i64, u32)> = c
                            .prepare_cached(
                                "SELECT scheduled, attempts FROM job_runs
                                 WHERE job = ?1 AND status = 'running' AND lease_until < ?2",
                            )?
                            .query_map(params![name, now], |r| Ok((r.get(0)?, r.get(1)?)))?
                            .collect::<sql::Result<_>>()?;
                        for (scheduled, _) in &rows {
                            c.prepare_cached(
                                "UPDATE job_runs SET owner = ?3, lease_until = ?4
                                 WHERE job = ?1 AND scheduled = ?2",
                            )?
                            .execute(params![name, scheduled, self.owner, lease])?;
                        }
                        Ok(rows)
                    })
                })
                .await?;
            for (scheduled, attempts) in abandoned {
                tracing::warn!(
                    job = name,
                    scheduled,
                    attempts,
                    "taking over a job run whose process stopped"
                );
                claimed.push(Claimed {
                    job: i,
                    scheduled,
                    attempts,
                });
            }
        }
        Ok(claimed)
    }

    /// Runs a claimed run's remaining attempts.
    async fn execute(&self, c: &Claimed) -> Result<Outcome, Problem> {
        let job = &self.jobs[c.job];
        let name = job.spec.name.as_str();
        let policy = job.spec.retry;
        let mut attempts = c.attempts;
        let mut last_error = String::from("the process running the job stopped");
        loop {
            if attempts >= policy.attempts.max(1) {
                if !self.finish(c, "failed", Some(&last_error)).await? {
                    return Ok(Outcome::Lost);
                }
                tracing::error!(job = name, scheduled = c.scheduled, attempts, error = %last_error, "job failed");
                return Ok(Outcome::Failed);
            }
            attempts += 1;
            let lease = self.lease(job, self.clock.now_ms(), 0);
            if !self
                .update(c, "attempts = ?4, lease_until = ?5", attempts, lease)
                .await?
            {
                return Ok(Outcome::Lost);
            }
            let call = (job.run)(JobRun {
                job: name.to_string(),
                scheduled_ms: c.scheduled,
                attempt: attempts,
                idempotency_key: format!("{name}@{}", c.scheduled),
            });
            match run_with_timeout(call, job.spec.timeout).await {
                Ok(()) => {
                    if !self.finish(c, "succeeded", None).await? {
                        return Ok(Outcome::Lost);
                    }
                    return Ok(Outcome::Succeeded);
                }
                Err(error) => {
                    tracing::warn!(job = name, scheduled = c.scheduled, attempt = attempts, error = %error, "job attempt failed");
                    last_error = error;
                    if attempts < policy.attempts.max(1) {
                        let delay = policy.delay_after(attempts);
                        let lease = self.lease(job, self.clock.now_ms(), delay);
                        let recorded = self
                            .store
                            .write(|tx| {
                                tx.with_conn(|conn| {
                                    conn.prepare_cached(
                                        "UPDATE job_runs SET error = ?4, lease_until = ?5
                                         WHERE job = ?1 AND scheduled = ?2 AND owner = ?3 AND status = 'running'",
                                    )?
                                    .execute(params![name, c.scheduled, self.owner, last_error, lease])
                                })
                            })
                            .await?;
                        if recorded == 0 {
                            return Ok(Outcome::Lost);
                        }
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                    }
                }
            }
        }
    }

    /// `UPDATE job_runs SET <set>` with `?4`, `?5` bound, if this scheduler
    /// still holds the run.
    async fn update(&self, c: &Claimed, set: &str, a: u32, b: i64) -> Result<bool, Problem> {
        let name = self.jobs[c.job].spec.name.as_str();
        let sql = format!(
            "UPDATE job_runs SET {set} WHERE job = ?1 AND scheduled = ?2 AND owner = ?3 AND status = 'running'"
        );
        let n = self
            .store
            .write(|tx| {
                tx.with_conn(|conn| {
                    conn.prepare_cached(&sql)?
                        .execute(params![name, c.scheduled, self.owner, a, b])
                })
            })
            .await?;
        Ok(n == 1)
    }

    /// Ends the run; `false` when another scheduler had taken it over.
    async fn finish(
        &self,
        c: &Claimed,
        status: &str,
        error: Option<&str>,
    ) -> Result<bool, Problem> {
        let name = self.jobs[c.job].spec.name.as_str();
        let now = self.clock.now_ms();
        let n = self
            .store
            .write(|tx| {
                tx.with_conn(|conn| {
                    conn.prepare_cached(
                        "UPDATE job_runs SET status = ?4, error = ?5, ended = ?6
                         WHERE job = ?1 AND scheduled = ?2 AND owner = ?3 AND status = 'running'",
                    )?
                    .execute(params![
                        name,
                        c.scheduled,
                        self.owner,
                        status,
                        error,
                        now
                    ])
                })
            })
            .await?;
        Ok(n == 1)
    }
}

/// The latest time `schedule` fires in `(from, now]`, and how many earlier
/// times in that span it skips.
fn latest_due(schedule: &Schedule, from: i64, now: i64) -> (Option<i64>, u64) {
    let mut latest = None;
    let mut seen = 0u64;
    let mut t = from;
    while let Some(next) = schedule.next_after(t) {
        if next > now {
            break;
        }
        latest = Some(next);
        seen += 1;
        t = next;
    }
    (latest, seen.saturating_sub(1))
}

/// Runs `call` on its own task (a panic is an error) under `timeout`.
async fn run_with_timeout(
    call: BoxFuture<'static, Result<(), Problem>>,
    timeout: Duration,
) -> Result<(), String> {
    match timed(call, timeout).await {
        Ok(result) => result.map_err(|p| describe(&p)),
        Err(e) => Err(e),
    }
}

/// Runs `call` on its own task under `timeout`; the outer `Err` says it
/// timed out or panicked. The task is aborted when this future is
/// dropped or times out, so nothing it does outlives its attempt.
pub(crate) async fn timed<T: Send + 'static>(
    call: BoxFuture<'static, T>,
    timeout: Duration,
) -> Result<T, String> {
    let mut task = AbortOnDrop(tokio::spawn(call));
    match tokio::time::timeout(timeout, &mut task.0).await {
        Err(_) => Err(format!("timed out after {} ms", timeout.as_millis())),
        Ok(Ok(result)) => Ok(result),
        Ok(Err(join)) => Err(panic_message(join)),
    }
}

/// A task's panic (or cancellation) as an error message.
fn panic_message(join: tokio::task::JoinError) -> String {
    if !join.is_panic() {
        return "cancelled".to_string();
    }
    let panic = join.into_panic();
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    format!("panicked: {message}")
}

/// Aborts a task when dropped, so nothing outlives its timeout.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A problem as a one-line error: status, title, detail.
pub(crate) fn describe(p: &Problem) -> String {
    match &p.detail {
        Some(d) => format!("{} {}: {d}", p.status, p.title),
        None => format!("{} {}", p.status, p.title),
    }
}

/// Every recorded run of `job`, oldest scheduled time first.
pub async fn runs(store: &Store, job: &str) -> Result<Vec<JobRunRecord>, Problem> {
    store
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT job, scheduled, status, attempts, started, ended, error FROM job_runs
                 WHERE job = ?1 ORDER BY scheduled",
            )?;
            let rows = stmt.query_map(params![job], |r| {
                Ok(JobRunRecord {
                    job: r.get(0)?,
                    scheduled: r.get(1)?,
                    status: r.get(2)?,
                    attempts: r.get(3)?,
                    started: r.get(4)?,
                    ended: r.get(5)?,
                    error: r.get(6)?,
                })
            })?;
            rows.collect()
        })
        .await
}
