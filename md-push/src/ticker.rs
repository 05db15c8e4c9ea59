//! The rolling 24-hour ticker of one symbol, in one-minute buckets.
//!
//! Memory is bounded (at most 1,440 buckets per symbol) at the price of granularity: the
//! window is the current minute and the 1,439 before it, so it spans between 23 h 59 min and
//! 24 h (Binance's rolling-window statistics are documented as precise to within a minute
//! too). `openTime` is the window's start, `closeTime` the time of the request or push.

use std::collections::VecDeque;

const MINUTE: u64 = 60_000;
/// Minutes in the window.
pub const WINDOW_MINUTES: u64 = 1_440;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Bucket {
    minute: u64,
    open: u64,
    high: u64,
    low: u64,
    close: u64,
    volume: u128,
    quote_volume: u128,
    count: u64,
    first_id: u64,
    last_id: u64,
}

/// The statistics of the window, in integers (formatted at the edge).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TickerStats {
    /// Start of the window, ms.
    pub open_time: u64,
    /// End of the window, ms.
    pub close_time: u64,
    /// First price in the window (the last price when the window has no trade), ticks.
    pub open: u64,
    /// Highest price, ticks.
    pub high: u64,
    /// Lowest price, ticks.
    pub low: u64,
    /// Last price ever traded (0 before the first trade), ticks.
    pub last: u64,
    /// Quantity of the last trade, lots.
    pub last_qty: u64,
    /// Last price before the window (0 if none), ticks.
    pub prev_close: u64,
    /// Base volume, lots.
    pub volume: u128,
    /// Quote volume, quote minimal units.
    pub quote_volume: u128,
    /// Trades in the window.
    pub count: u64,
    /// First trade id in the window (None when empty).
    pub first_id: Option<u64>,
    /// Last trade id in the window (None when empty).
    pub last_id: Option<u64>,
}

/// A symbol's rolling window.
#[derive(Clone, Debug, Default)]
pub struct RollingTicker {
    buckets: VecDeque<Bucket>,
    prev_close: u64,
    last: u64,
    last_qty: u64,
}

impl RollingTicker {
    /// Adds a trade at `ts_ms` (timestamps never go backwards).
    pub fn add(&mut self, ts_ms: u64, id: u64, price: u64, qty: u64, quote: u128) {
        let minute = ts_ms / MINUTE;
        self.last = price;
        self.last_qty = qty;
        match self.buckets.back_mut() {
            Some(b) if b.minute >= minute => {
                b.high = b.high.max(price);
                b.low = b.low.min(price);
                b.close = price;
                b.volume = b.volume.saturating_add(u128::from(qty));
                b.quote_volume = b.quote_volume.saturating_add(quote);
                b.count += 1;
                b.last_id = id;
            }
            _ => {
                self.buckets.push_back(Bucket {
                    minute,
                    open: price,
                    high: price,
                    low: price,
                    close: price,
                    volume: u128::from(qty),
                    quote_volume: quote,
                    count: 1,
                    first_id: id,
                    last_id: id,
                });
                self.evict(minute);
            }
        }
    }

    fn evict(&mut self, now_minute: u64) {
        let oldest = (now_minute + 1).saturating_sub(WINDOW_MINUTES);
        while self.buckets.front().is_some_and(|b| b.minute < oldest) {
            if let Some(b) = self.buckets.pop_front() {
                self.prev_close = b.close;
            }
        }
    }

    /// The window ending at `now_ms`.
    pub fn stats(&mut self, now_ms: u64) -> TickerStats {
        let now_minute = now_ms / MINUTE;
        self.evict(now_minute);
        let open_time = (now_minute + 1).saturating_sub(WINDOW_MINUTES) * MINUTE;
        let mut s = TickerStats {
            open_time,
            close_time: now_ms,
            open: self.last,
            high: self.last,
            low: self.last,
            last: self.last,
            last_qty: self.last_qty,
            prev_close: self.prev_close,
            volume: 0,
            quote_volume: 0,
            count: 0,
            first_id: None,
            last_id: None,
        };
        if let Some(first) = self.buckets.front() {
            s.open = first.open;
            s.high = first.high;
            s.low = first.low;
            s.first_id = Some(first.first_id);
        }
        for b in &self.buckets {
            s.high = s.high.max(b.high);
            s.low = s.low.min(b.low);
            s.volume = s.volume.saturating_add(b.volume);
            s.quote_volume = s.quote_volume.saturating_add(b.quote_volume);
            s.count += b.count;
            s.last_id = Some(b.last_id);
        }
        s
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The bucketed window equals a direct computation over the trades whose minute lies
        /// in the window.
        #[test]
        fn window_equals_direct_computation(
            steps in proptest::collection::vec((0u64..3_000_000, 1u64..100, 1u64..10), 1..200),
            tail in 0u64..200_000_000,
        ) {
            let mut t = RollingTicker::default();
            let mut ts = 1_700_000_000_000u64;
            let mut trades = Vec::new();
            for (i, (dt, price, qty)) in steps.into_iter().enumerate() {
                ts += dt;
                let id = i as u64 + 1;
                t.add(ts, id, price, qty, u128::from(price * qty));
                trades.push((ts, id, price, qty));
            }
            let now = ts + tail;
            let s = t.stats(now);
            let start = (now / MINUTE + 1).saturating_sub(WINDOW_MINUTES) * MINUTE;
            let inside: Vec<_> = trades.iter().filter(|x| x.0 >= start).collect();
            let before: Vec<_> = trades.iter().filter(|x| x.0 < start).collect();
            let last = trades.last().unwrap();
            prop_assert_eq!(s.open_time, start);
            prop_assert_eq!(s.last, last.2);
            prop_assert_eq!(s.last_qty, last.3);
            prop_assert_eq!(s.prev_close, before.last().map_or(0, |x| x.2));
            prop_assert_eq!(s.count, inside.len() as u64);
            prop_assert_eq!(s.volume, inside.iter().map(|x| u128::from(x.3)).sum::<u128>());
            prop_assert_eq!(s.first_id, inside.first().map(|x| x.1));
            prop_assert_eq!(s.last_id, inside.last().map(|x| x.1));
            if inside.is_empty() {
                prop_assert_eq!((s.open, s.high, s.low), (last.2, last.2, last.2));
            } else {
                prop_assert_eq!(s.open, inside[0].2);
                prop_assert_eq!(s.high, inside.iter().map(|x| x.2).max().unwrap());
                prop_assert_eq!(s.low, inside.iter().map(|x| x.2).min().unwrap());
            }
        }
    }
}
