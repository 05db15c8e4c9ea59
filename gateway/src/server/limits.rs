//! Rate limits as Binance counts them: fixed windows aligned to the interval (a 10-second
//! window starts at a multiple of 10 s since the epoch), counted per connection
//! (`REQUEST_WEIGHT`, and `ORDERS` per 10 s) and per account (`ORDERS` per 10 s and per day).
//! Every order request counts, accepted or not, as on Binance.

use crate::api::{RateLimit, RateLimitInterval, RateLimitStatus};
use matcher::AccountId;
use std::collections::HashMap;
use std::sync::Mutex;

/// A limit (Binance's `rateLimits` entry without the count).
pub type Limit = RateLimit;

/// Length of a limit's window, milliseconds.
fn window_ms(limit: &Limit) -> u64 {
    let unit = match limit.interval {
        RateLimitInterval::Second => 1_000,
        RateLimitInterval::Minute => 60_000,
        RateLimitInterval::Day => 86_400_000,
    };
    unit * u64::from(limit.interval_num.max(1))
}

/// A fixed-window counter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    start_ms: u64,
    count: u64,
}

impl Window {
    /// Adds `n` at `now_ms` if it fits under `limit`; returns the count after (or `Err` with
    /// the count that stays, when it would exceed the cap; nothing is added then).
    pub fn take(&mut self, limit: &Limit, now_ms: u64, n: u64) -> Result<u64, u64> {
        let start = now_ms - now_ms % window_ms(limit);
        if start != self.start_ms {
            self.start_ms = start;
            self.count = 0;
        }
        if self.count + n > limit.limit {
            return Err(self.count);
        }
        self.count += n;
        Ok(self.count)
    }

    /// The count in the window holding `now_ms`.
    pub fn count(&self, limit: &Limit, now_ms: u64) -> u64 {
        if now_ms - now_ms % window_ms(limit) == self.start_ms {
            self.count
        } else {
            0
        }
    }
}

/// The state of one limit after a request, for `rateLimits`.
pub type LimitStatus = RateLimitStatus;

/// Per-account order counters, shared by all connections.
#[derive(Debug, Default)]
pub struct AccountLimits {
    windows: Mutex<HashMap<AccountId, Vec<Window>>>,
}

impl AccountLimits {
    /// Counts one order for `account` against every limit in `limits`: all or nothing. On
    /// success returns the statuses; on failure the limit that was hit and all statuses.
    pub fn take_order(
        &self,
        account: AccountId,
        limits: &[Limit],
        now_ms: u64,
    ) -> Result<Vec<LimitStatus>, (Limit, Vec<LimitStatus>)> {
        let mut map = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let windows = map
            .entry(account)
            .or_insert_with(|| vec![Window::default(); limits.len()]);
        take_all(windows, limits, now_ms, 1)
    }

    /// The statuses of `account` without counting anything.
    pub fn status(&self, account: AccountId, limits: &[Limit], now_ms: u64) -> Vec<LimitStatus> {
        let map = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(&account) {
            Some(w) => statuses(w, limits, now_ms),
            None => limits
                .iter()
                .map(|&limit| LimitStatus { limit, count: 0 })
                .collect(),
        }
    }
}

fn statuses(windows: &[Window], limits: &[Limit], now_ms: u64) -> Vec<LimitStatus> {
    windows
        .iter()
        .zip(limits)
        .map(|(w, l)| LimitStatus {
            limit: *l,
            count: w.count(l, now_ms),
        })
        .collect()
}

/// Takes `n` from every window or from none.
pub fn take_all(
    windows: &mut [Window],
    limits: &[Limit],
    now_ms: u64,
    n: u64,
) -> Result<Vec<LimitStatus>, (Limit, Vec<LimitStatus>)> {
    for (w, l) in windows.iter().zip(limits) {
        let mut probe = *w;
        if probe.take(l, now_ms, n).is_err() {
            return Err((*l, statuses(windows, limits, now_ms)));
        }
    }
    for (w, l) in windows.iter_mut().zip(limits) {
        // Cannot fail: probed above under the same lock / exclusive borrow.
        let _ = w.take(l, now_ms, n);
    }
    Ok(statuses(windows, limits, now_ms))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    use crate::api::RateLimitType;

    const TEN_S: Limit = Limit {
        rate_limit_type: RateLimitType::Orders,
        interval: RateLimitInterval::Second,
        interval_num: 10,
        limit: 3,
    };
    const DAY: Limit = Limit {
        rate_limit_type: RateLimitType::Orders,
        interval: RateLimitInterval::Day,
        interval_num: 1,
        limit: 4,
    };

    #[test]
    fn fixed_windows_reset_on_the_boundary_and_all_or_nothing() {
        let acc = AccountLimits::default();
        let a = AccountId(1);
        let limits = [TEN_S, DAY];
        for i in 1..=3 {
            let s = acc.take_order(a, &limits, 20_000 + i).unwrap();
            assert_eq!((s[0].count, s[1].count), (i, i));
        }
        // The fourth in the same 10 s window is refused and counts nowhere.
        let (hit, s) = acc.take_order(a, &limits, 29_999).unwrap_err();
        assert_eq!(hit, TEN_S);
        assert_eq!((s[0].count, s[1].count), (3, 3));
        // Next window: the 10 s counter restarts, the daily one goes on to its cap.
        assert_eq!(acc.take_order(a, &limits, 30_000).unwrap()[1].count, 4);
        let (hit, _) = acc.take_order(a, &limits, 30_001).unwrap_err();
        assert_eq!(hit, DAY);
        // Another account is independent.
        assert_eq!(
            acc.take_order(AccountId(2), &limits, 30_001).unwrap()[0].count,
            1
        );
        assert_eq!(acc.status(AccountId(3), &limits, 0)[0].count, 0);
    }
}
