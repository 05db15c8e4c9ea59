//! The sixteen kline intervals and their UTC alignment.

use std::fmt;

const SECOND: u64 = 1_000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
/// 1970-01-01 was a Thursday: the first Monday is four days later.
const FIRST_MONDAY: u64 = 4 * DAY;

/// A kline interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Interval {
    /// `1s`
    S1,
    /// `1m`
    M1,
    /// `3m`
    M3,
    /// `5m`
    M5,
    /// `15m`
    M15,
    /// `30m`
    M30,
    /// `1h`
    H1,
    /// `2h`
    H2,
    /// `4h`
    H4,
    /// `6h`
    H6,
    /// `8h`
    H8,
    /// `12h`
    H12,
    /// `1d`
    D1,
    /// `3d`
    D3,
    /// `1w` (Monday to Sunday, UTC)
    W1,
    /// `1M` (calendar month, UTC)
    Mo1,
}

/// An interval name Binance does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown kline interval {0:?}")]
pub struct ParseIntervalError(pub String);

impl Interval {
    /// Every interval, shortest first.
    pub const ALL: [Interval; 16] = [
        Interval::S1,
        Interval::M1,
        Interval::M3,
        Interval::M5,
        Interval::M15,
        Interval::M30,
        Interval::H1,
        Interval::H2,
        Interval::H4,
        Interval::H6,
        Interval::H8,
        Interval::H12,
        Interval::D1,
        Interval::D3,
        Interval::W1,
        Interval::Mo1,
    ];

    /// Binance's name (`"1m"`, `"1M"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::S1 => "1s",
            Interval::M1 => "1m",
            Interval::M3 => "3m",
            Interval::M5 => "5m",
            Interval::M15 => "15m",
            Interval::M30 => "30m",
            Interval::H1 => "1h",
            Interval::H2 => "2h",
            Interval::H4 => "4h",
            Interval::H6 => "6h",
            Interval::H8 => "8h",
            Interval::H12 => "12h",
            Interval::D1 => "1d",
            Interval::D3 => "3d",
            Interval::W1 => "1w",
            Interval::Mo1 => "1M",
        }
    }

    /// Parses Binance's name (case-sensitive: `1m` is a minute, `1M` a month).
    pub fn parse(s: &str) -> Result<Interval, ParseIntervalError> {
        Interval::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| ParseIntervalError(s.to_string()))
    }

    /// Fixed length in milliseconds (`None` for the calendar month).
    pub fn fixed_ms(self) -> Option<u64> {
        Some(match self {
            Interval::S1 => SECOND,
            Interval::M1 => MINUTE,
            Interval::M3 => 3 * MINUTE,
            Interval::M5 => 5 * MINUTE,
            Interval::M15 => 15 * MINUTE,
            Interval::M30 => 30 * MINUTE,
            Interval::H1 => HOUR,
            Interval::H2 => 2 * HOUR,
            Interval::H4 => 4 * HOUR,
            Interval::H6 => 6 * HOUR,
            Interval::H8 => 8 * HOUR,
            Interval::H12 => 12 * HOUR,
            Interval::D1 => DAY,
            Interval::D3 => 3 * DAY,
            Interval::W1 => 7 * DAY,
            Interval::Mo1 => return None,
        })
    }

    /// Open time (ms since the epoch, UTC) of the interval containing `ts_ms`.
    pub fn open_time(self, ts_ms: u64) -> u64 {
        match self {
            Interval::W1 => {
                if ts_ms < FIRST_MONDAY {
                    // The partial week before the first Monday starts on Monday 1969-12-29,
                    // which is before the epoch: clamp to 0 (no trade is that old).
                    0
                } else {
                    FIRST_MONDAY + (ts_ms - FIRST_MONDAY) / (7 * DAY) * (7 * DAY)
                }
            }
            Interval::Mo1 => {
                let (y, m, _) = civil_from_days(ts_ms / DAY);
                days_from_civil(y, m, 1) * DAY
            }
            other => {
                // Every other interval has a fixed length.
                let len = other.fixed_ms().unwrap_or(DAY);
                ts_ms / len * len
            }
        }
    }

    /// Open time of the interval after the one opening at `open_time`.
    pub fn next_open(self, open_time: u64) -> u64 {
        match self.fixed_ms() {
            Some(len) => {
                if self == Interval::W1 && open_time < FIRST_MONDAY {
                    FIRST_MONDAY
                } else {
                    open_time.saturating_add(len)
                }
            }
            None => {
                let (y, m, _) = civil_from_days(open_time / DAY);
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                days_from_civil(y, m, 1) * DAY
            }
        }
    }

    /// Close time (last millisecond) of the interval opening at `open_time`.
    pub fn close_time(self, open_time: u64) -> u64 {
        self.next_open(open_time) - 1
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (Howard Hinnant's algorithm,
/// for days >= 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date on or after it.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (interval, a timestamp, its expected open time, expected close time): hand-checked UTC
    /// dates.
    const CASES: &[(Interval, u64, u64, u64)] = &[
        // 2024-02-29 13:45:30.123 (leap day)
        (
            Interval::S1,
            1_709_214_330_123,
            1_709_214_330_000,
            1_709_214_330_999,
        ),
        (
            Interval::M1,
            1_709_214_330_123,
            1_709_214_300_000,
            1_709_214_359_999,
        ),
        (
            Interval::M15,
            1_709_214_330_123,
            1_709_214_300_000,
            1_709_215_199_999,
        ),
        (
            Interval::H4,
            1_709_214_330_123,
            1_709_208_000_000,
            1_709_222_399_999,
        ),
        (
            Interval::D1,
            1_709_214_330_123,
            1_709_164_800_000,
            1_709_251_199_999,
        ),
        // 2024-02-26 is a Monday.
        (
            Interval::W1,
            1_709_214_330_123,
            1_708_905_600_000,
            1_709_510_399_999,
        ),
        // February 2024 has 29 days.
        (
            Interval::Mo1,
            1_709_214_330_123,
            1_706_745_600_000,
            1_709_251_199_999,
        ),
        // 2023-12-31 23:59:59.999 -> December 2023, up to the new year.
        (
            Interval::Mo1,
            1_704_067_199_999,
            1_701_388_800_000,
            1_704_067_199_999,
        ),
        // 2024-01-01 00:00:00.000 opens January and a Monday week.
        (
            Interval::Mo1,
            1_704_067_200_000,
            1_704_067_200_000,
            1_706_745_599_999,
        ),
        (
            Interval::W1,
            1_704_067_200_000,
            1_704_067_200_000,
            1_704_671_999_999,
        ),
        // 3d: multiples of three days since the epoch (2024-02-29 is day 19782 = 3 x 6594).
        (
            Interval::D3,
            1_709_214_330_123,
            1_709_164_800_000,
            1_709_423_999_999,
        ),
        (
            Interval::D3,
            1_709_164_799_999,
            1_708_905_600_000,
            1_709_164_799_999,
        ),
    ];

    #[test]
    fn hand_checked_alignments() {
        for &(interval, ts, open, close) in CASES {
            assert_eq!(interval.open_time(ts), open, "{interval} open of {ts}");
            assert_eq!(
                interval.close_time(open),
                close,
                "{interval} close of {open}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for i in Interval::ALL {
            assert_eq!(Interval::parse(i.as_str()), Ok(i));
        }
        assert!(Interval::parse("2m").is_err());
        assert!(Interval::parse("1H").is_err());
    }

    proptest! {
        #[test]
        fn every_timestamp_lies_in_its_interval(ts in 0u64..4_102_444_800_000, idx in 0usize..16) {
            let i = Interval::ALL[idx];
            let open = i.open_time(ts);
            prop_assert!(open <= ts);
            prop_assert!(ts <= i.close_time(open));
            // Intervals tile the line: the next one opens right after the close.
            prop_assert_eq!(i.open_time(i.next_open(open)), i.next_open(open));
            prop_assert_eq!(i.open_time(open), open);
        }

        #[test]
        fn months_start_on_the_first(days in 0u64..60_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
            let open = Interval::Mo1.open_time(days * DAY);
            prop_assert_eq!(civil_from_days(open / DAY).2, 1);
        }
    }
}
