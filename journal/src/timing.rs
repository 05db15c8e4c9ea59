//! Lock-free duration histograms for the writer's own timings (fdatasync, whole write
//! chunks), cheap enough to record on every batch and coarse enough to export as metrics.
//!
//! Buckets are powers of two in microseconds: bucket 0 holds durations under 2 us, bucket `i`
//! (for `i >= 1`) holds `[2^i, 2^(i+1))` us, the last bucket everything from 2^27 us
//! (about 134 s) up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Number of buckets.
pub const BUCKETS: usize = 28;

/// A histogram that many threads may read while one records.
#[derive(Debug, Default)]
pub(crate) struct AtomicHistogram {
    buckets: [AtomicU64; BUCKETS],
    total_ns: AtomicU64,
    max_ns: AtomicU64,
}

fn bucket_of(d: Duration) -> usize {
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    if us < 2 {
        0
    } else {
        (us.ilog2() as usize).min(BUCKETS - 1)
    }
}

impl AtomicHistogram {
    pub(crate) fn record(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(d)].fetch_add(1, Ordering::Relaxed);
        self.total_ns.fetch_add(ns, Ordering::Relaxed);
        self.max_ns.fetch_max(ns, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Durations {
        Durations {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            total_ns: self.total_ns.load(Ordering::Relaxed),
            max_ns: self.max_ns.load(Ordering::Relaxed),
        }
    }
}

/// A point-in-time copy of a duration histogram. Subtract two copies ([`Durations::since`])
/// to look at a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Durations {
    /// Counts per power-of-two microsecond bucket (see the module docs).
    pub buckets: [u64; BUCKETS],
    /// Sum of all recorded durations, nanoseconds.
    pub total_ns: u64,
    /// Longest recorded duration, nanoseconds (over the whole life, also in a window).
    pub max_ns: u64,
}

impl Durations {
    /// Number of recorded durations.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The counts recorded after `earlier` was taken (`max_ns` stays the lifetime maximum).
    pub fn since(&self, earlier: &Durations) -> Durations {
        Durations {
            buckets: std::array::from_fn(|i| self.buckets[i].saturating_sub(earlier.buckets[i])),
            total_ns: self.total_ns.saturating_sub(earlier.total_ns),
            max_ns: self.max_ns,
        }
    }

    /// Upper bound, in microseconds, of the bucket holding quantile `q` (0..=1000 per mille);
    /// `None` when nothing was recorded.
    pub fn quantile_upper_us(&self, per_mille: u64) -> Option<u64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = (n * per_mille.min(1000)).div_ceil(1000).max(1);
        let mut seen = 0;
        for (i, &c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(2u64 << i);
            }
        }
        Some(u64::MAX)
    }

    /// Total time spent in durations of at least `at_least_us` microseconds, counting each
    /// bucket from its lower bound (a lower bound on the true time), in microseconds.
    pub fn time_in_buckets_from_us(&self, at_least_us: u64) -> u64 {
        self.buckets
            .iter()
            .enumerate()
            .filter(|&(i, _)| i > 0 && (1u64 << i) >= at_least_us)
            .map(|(i, &c)| c * (1u64 << i))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_quantiles_and_windows() {
        let h = AtomicHistogram::default();
        for us in [1u64, 3, 100, 150, 200, 5000] {
            h.record(Duration::from_micros(us));
        }
        let a = h.snapshot();
        assert_eq!(a.count(), 6);
        assert_eq!(a.buckets[0], 1); // 1 us
        assert_eq!(a.buckets[1], 1); // 3 us in [2, 4)
        assert_eq!(a.buckets[6], 1); // 100 us in [64, 128)
        assert_eq!(a.buckets[7], 2); // 150 and 200 us in [128, 256)
        assert_eq!(a.max_ns, 5_000_000);
        assert_eq!(a.quantile_upper_us(500), Some(128));
        assert_eq!(a.quantile_upper_us(1000), Some(8192));
        h.record(Duration::from_millis(2));
        let w = h.snapshot().since(&a);
        assert_eq!(w.count(), 1);
        assert_eq!(w.time_in_buckets_from_us(1000), 1024);
        assert_eq!(Durations::default().quantile_upper_us(990), None);
    }
}
