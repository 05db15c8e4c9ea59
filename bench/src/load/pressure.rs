//! How much the machine stalled during a run, from Linux pressure stall information
//! (`/proc/pressure/cpu` and `/proc/pressure/io`): the share of wall time in which at least
//! one runnable task waited for a CPU, or for I/O. On a machine shared with other work this
//! shows a disturbed run better than the load average (which also counts the run's own
//! threads and lags by a minute).

use serde::Serialize;
use std::time::Instant;

/// The `total=` microseconds of the `some` line of a PSI file.
pub fn parse_some_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("some "))?;
    line.split_whitespace()
        .find_map(|f| f.strip_prefix("total="))?
        .parse()
        .ok()
}

fn read_some_total(resource: &str) -> Option<u64> {
    parse_some_total(&std::fs::read_to_string(format!("/proc/pressure/{resource}")).ok()?)
}

/// Stall shares over a stretch of time, in per mille of wall time (`None` where the kernel
/// offers no PSI).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Pressure {
    /// Some task waited for a CPU.
    pub cpu_permille: Option<u64>,
    /// Some task waited for I/O.
    pub io_permille: Option<u64>,
}

fn permille(v: Option<u64>) -> String {
    v.map_or_else(|| "-".into(), |p| format!("{}.{}%", p / 10, p % 10))
}

impl Pressure {
    /// `cpu 12.3%, io 0.4%`.
    pub fn describe(&self) -> String {
        format!(
            "cpu {}, io {}",
            permille(self.cpu_permille),
            permille(self.io_permille)
        )
    }

    /// The CPU share alone, for a table column.
    pub fn cpu(&self) -> String {
        permille(self.cpu_permille)
    }
}

/// The counters at one moment.
#[derive(Clone, Copy, Debug)]
pub struct PressureMark {
    at: Instant,
    cpu: Option<u64>,
    io: Option<u64>,
}

impl PressureMark {
    /// Reads the counters now.
    pub fn now() -> PressureMark {
        PressureMark {
            at: Instant::now(),
            cpu: read_some_total("cpu"),
            io: read_some_total("io"),
        }
    }

    /// The stall shares from this mark to now.
    pub fn since(&self) -> Pressure {
        let now = PressureMark::now();
        let wall = u64::try_from(now.at.duration_since(self.at).as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let share = |a: Option<u64>, b: Option<u64>| {
            Some(b?.saturating_sub(a?).saturating_mul(1_000) / wall)
        };
        Pressure {
            cpu_permille: share(self.cpu, now.cpu),
            io_permille: share(self.io, now.io),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_some_total() {
        let text = "some avg10=64.12 avg60=40.85 avg300=38.24 total=2500690108\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n";
        assert_eq!(parse_some_total(text), Some(2_500_690_108));
        assert_eq!(parse_some_total("full avg10=0.00 total=7\n"), None);
        assert_eq!(parse_some_total("some avg10=1.0\n"), None);
        assert_eq!(parse_some_total("some total=x\n"), None);
        assert_eq!(parse_some_total(""), None);
    }

    #[test]
    fn shares_print_in_percent() {
        let p = Pressure {
            cpu_permille: Some(123),
            io_permille: None,
        };
        assert_eq!(p.describe(), "cpu 12.3%, io -");
        assert_eq!(p.cpu(), "12.3%");
    }
}
