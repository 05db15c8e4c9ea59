//! CPU time spent by the load client (this process) and, optionally, by the server it loads,
//! over the measured window: user plus system time from `/proc/<pid>/stat`. CPU time per
//! answered request moves much less with other work on the machine than latency does, so it
//! is the figure to compare builds by on a shared machine.

use serde::Serialize;
use std::time::Instant;

/// Clock ticks per second of `/proc/<pid>/stat` times.
fn clock_ticks_per_second() -> Option<u64> {
    // SAFETY: sysconf(3) with a valid name only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0)
}

/// User plus system time, in clock ticks, from the text of a `/proc/<pid>/stat` file. The
/// command name (field 2) may hold spaces and parentheses, so fields are counted after its
/// closing parenthesis: utime and stime are fields 14 and 15.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// CPU microseconds `who` (`self` or a pid) has used so far, all threads.
fn cpu_us(who: &str, ticks_per_second: u64) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{who}/stat")).ok()?;
    let ticks = parse_stat_ticks(&stat)?;
    ticks.checked_mul(1_000_000).map(|us| us / ticks_per_second)
}

/// The counters at one moment.
#[derive(Clone, Copy, Debug)]
pub struct CpuMark {
    at: Instant,
    client_us: Option<u64>,
    server_us: Option<u64>,
}

impl CpuMark {
    /// Reads this process's CPU time and `server`'s (when given) now.
    pub fn now(server: Option<u32>) -> CpuMark {
        let ticks = clock_ticks_per_second();
        CpuMark {
            at: Instant::now(),
            client_us: ticks.and_then(|t| cpu_us("self", t)),
            server_us: server
                .zip(ticks)
                .and_then(|(pid, t)| cpu_us(&pid.to_string(), t)),
        }
    }

    /// What was used from this mark to `end`.
    pub fn until(&self, end: &CpuMark) -> CpuUse {
        let used = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));
        CpuUse {
            wall_us: u64::try_from(end.at.duration_since(self.at).as_micros()).unwrap_or(u64::MAX),
            client_us: used(self.client_us, end.client_us),
            server_us: used(self.server_us, end.server_us),
        }
    }
}

/// CPU time used over a stretch of wall time, in microseconds (`None` where `/proc` could
/// not be read, or for a server not watched). Time is counted in clock ticks (10 ms on
/// most systems), so a window of a few seconds is needed for a steady figure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CpuUse {
    /// Wall time of the stretch.
    pub wall_us: u64,
    /// CPU time of the load client (every thread of this process).
    pub client_us: Option<u64>,
    /// CPU time of the server under load (every thread of its process).
    pub server_us: Option<u64>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_and_system_ticks_after_the_name() {
        // A name with a space and a parenthesis, as `comm` may be.
        let stat =
            "4242 (a b) c)) S 1 4242 4242 0 -1 4194560 917 0 0 0 1234 567 0 0 20 0 7 0 1 2 3";
        assert_eq!(parse_stat_ticks(stat), Some(1234 + 567));
        assert_eq!(parse_stat_ticks("4242 (x) S 1 2"), None);
        assert_eq!(parse_stat_ticks("no name here"), None);
        assert_eq!(
            parse_stat_ticks("1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 5 0 0"),
            None
        );
    }

    /// This process's user plus system time from getrusage(2), microseconds.
    fn rusage_us() -> u64 {
        // SAFETY: an all-zero rusage is a valid value, and getrusage(2) only writes into the
        // struct it is given.
        let mut r: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: RUSAGE_SELF with a valid pointer to a rusage struct.
        assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) }, 0);
        let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
        us(r.ru_utime) + us(r.ru_stime)
    }

    #[test]
    fn the_reading_agrees_with_getrusage() {
        // Work until the process has used at least 50 ms (whatever else runs meanwhile),
        // so that a reading of the wrong fields (or of nothing) cannot pass.
        let t = Instant::now();
        let mut x = 0u64;
        while rusage_us() < 50_000 && t.elapsed().as_secs() < 20 {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
        let before = rusage_us();
        let mark = CpuMark::now(Some(std::process::id()));
        let after = rusage_us();
        // /proc counts in clock ticks (10 ms here): allow two of them either way.
        let (client, server) = (mark.client_us.unwrap(), mark.server_us.unwrap());
        assert!(before >= 50_000, "{before}");
        for read in [client, server] {
            assert!(
                read + 20_000 >= before && read <= after + 20_000,
                "read {read} us, getrusage {before}..{after} us"
            );
        }
        let used = mark.until(&CpuMark::now(None));
        assert!(used.client_us.is_some());
        assert_eq!(used.server_us, None, "a server not watched at the end");
    }
}
