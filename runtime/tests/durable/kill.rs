//! The harness of the SIGKILL tests (`crash.rs`, `saga_crash.rs`): the
//! test binary runs itself as a child process (one `#[test]` entry point,
//! switched on by an environment variable), kills it with SIGKILL at
//! random moments again and again, then runs a last child that drains.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use svcc_runtime::durable::now_ms;

/// A number below `n` from the operating system's randomness.
pub fn random_below(n: u64) -> u64 {
    let b = uuid::Uuid::new_v4().into_bytes();
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) % n
}

/// How many children to kill (`SVCC_CRASH_KILLS`, 20 unless set).
pub fn kills() -> usize {
    std::env::var("SVCC_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(20)
}

/// A child process: the test binary running only the test `entry`, with
/// `dir_var` set to `dir` and `mode_var` to `mode`.
pub struct ChildTest {
    /// The entry point's test path (`crash::crash_child_process_entry`).
    pub entry: &'static str,
    /// The variable that carries the directory and switches the entry on.
    pub dir_var: &'static str,
    /// The variable that carries the mode (`run`, `drain`).
    pub mode_var: &'static str,
}

impl ChildTest {
    fn spawn(&self, dir: &std::path::Path, mode: &str) -> Child {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", self.entry, "--nocapture", "--test-threads=1"])
            .env(self.dir_var, dir)
            .env(self.mode_var, mode)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Starts a `run` child `kills` times and SIGKILLs it after 150 to
    /// 400 ms; returns every id it printed as `committed <id>`
    /// (acknowledged: printed after its commit returned).
    pub async fn kill_repeatedly(&self, dir: &std::path::Path, kills: usize) -> Vec<String> {
        let mut acknowledged = Vec::new();
        for _ in 0..kills {
            let mut child = self.spawn(dir, "run");
            let stdout = child.stdout.take().unwrap();
            let reader = std::thread::spawn(move || {
                std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                    .filter_map(|l| l.strip_prefix("committed ").map(str::to_string))
                    .collect::<Vec<_>>()
            });
            tokio::time::sleep(Duration::from_millis(150 + random_below(250))).await;
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            acknowledged.extend(reader.join().unwrap());
        }
        acknowledged
    }

    /// Runs a `drain` child to its end (2 minutes at most) and checks that
    /// it succeeded and printed `drained`; returns how long it took (ms).
    pub async fn drain(&self, dir: &std::path::Path) -> i64 {
        let started = now_ms();
        let mut drainer = self.spawn(dir, "drain");
        let status = loop {
            if let Some(status) = drainer.try_wait().unwrap() {
                break status;
            }
            if now_ms() - started > 120_000 {
                drainer.kill().unwrap();
                panic!("the draining child did not finish in 2 minutes");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let mut out = String::new();
        std::io::Read::read_to_string(&mut drainer.stdout.take().unwrap(), &mut out).unwrap();
        assert!(status.success(), "the draining child failed");
        assert!(out.contains("drained"));
        now_ms() - started
    }
}
