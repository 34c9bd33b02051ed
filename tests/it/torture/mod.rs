//! Fault campaigns: crash and resume (sequential and with parallel lanes), supervision,
//! concurrency, run at random against the real `orx` binary on real temporary repositories.
//!
//! Each campaign is an ordinary integration test whose size comes from `ORX_TORTURE`: unset (or
//! anything but `long`) gives the short version that runs in `make test` and CI; `long` gives
//! the full campaign of `make torture`. Every random choice comes from one seeded generator:
//! the seed is printed first, taken from `ORX_TORTURE_SEED` when set, so a failure is replayed
//! with the same seed. Figures are printed as `torture| ...` lines (visible with
//! `--nocapture`) and appended to the file named by `ORX_TORTURE_REPORT`, which `make torture`
//! prints at the end and docs/RELIABILITY.md quotes.

mod concurrency;
mod crash;
mod crash_lanes;
mod supervise;

use std::io::Write;
use std::time::Duration;

/// Whether the long campaign was asked for (`ORX_TORTURE=long`).
pub fn long() -> bool {
    std::env::var("ORX_TORTURE").is_ok_and(|v| v == "long")
}

/// `short` in CI, `long` under `make torture`.
pub fn scale(short: usize, long_count: usize) -> usize {
    if long() {
        long_count
    } else {
        short
    }
}

/// A small deterministic generator (SplitMix64): no dependency, same sequence for a seed.
pub struct Rng {
    state: u64,
    pub seed: u64,
}

impl Rng {
    /// Seeded from `ORX_TORTURE_SEED`, else from the clock; `campaign` is mixed in so each
    /// campaign draws its own sequence from one printed seed.
    pub fn new(campaign: &str) -> Rng {
        let seed = std::env::var("ORX_TORTURE_SEED")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
                    % 1_000_000_007
            });
        let mix = campaign.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
        report(
            campaign,
            &format!("seed {seed} (replay: ORX_TORTURE_SEED={seed})"),
        );
        Rng {
            state: seed ^ mix,
            seed,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A duration uniform in `0..max`.
    pub fn upto(&mut self, max: Duration) -> Duration {
        Duration::from_micros(self.below(max.as_micros().max(1) as u64))
    }
}

/// Print one report line and append it to `ORX_TORTURE_REPORT` when set.
pub fn report(campaign: &str, line: &str) {
    let text = format!("torture| {campaign}: {line}");
    eprintln!("{text}");
    if let Some(path) = std::env::var_os("ORX_TORTURE_REPORT") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{text}");
        }
    }
}

/// Pids of live processes whose environment holds exactly `entry` (e.g. `ORX_RUN_ID=<id>`),
/// zombies excluded (they hold no resources but a table slot, and their parent reaps them).
pub fn pids_with_env(entry: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !env.split(|b| *b == 0).any(|kv| kv == entry.as_bytes()) {
            continue;
        }
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rfind(')')
                    .and_then(|i| s[i + 1..].split_whitespace().next().map(String::from))
            })
            .is_some_and(|st| st == "Z");
        if !zombie {
            out.push(pid);
        }
    }
    out
}

/// SIGKILL the given pids (clean-up after a failed check, so one failure does not leak).
pub fn kill_all(pids: &[u32]) {
    for pid in pids {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Median and maximum of a sample (0 for an empty one).
pub fn median_max(v: &mut [f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[v.len() - 1])
}
