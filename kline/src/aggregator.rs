//! Folding trade events into candles of every interval.

use crate::candle::Candle;
use crate::interval::Interval;
use matcher::{Event, EventKind, SymbolId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// One candle series: a symbol at one interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    /// Symbol.
    pub symbol: SymbolId,
    /// Interval.
    pub interval: Interval,
}

#[derive(Debug, Default, Clone)]
struct Series {
    /// Closed candles, oldest first (at most `history`).
    closed: VecDeque<Candle>,
    /// The candle of the latest interval that had a trade.
    current: Option<Candle>,
}

/// Candles of every symbol at every interval, built from trade events only.
///
/// Memory is bounded: each series keeps its current candle and at most `history` earlier
/// ones (older candles live in Postgres). The set of candles changed since the last
/// [`Aggregator::take_dirty`] is tracked only when enabled (for the Postgres writer).
#[derive(Debug, Clone)]
pub struct Aggregator {
    series: BTreeMap<SeriesKey, Series>,
    history: usize,
    last_seq: u64,
    dirty: Option<BTreeSet<(SeriesKey, u64)>>,
}

impl Aggregator {
    /// An empty aggregator keeping `history` closed candles per series (at least 1).
    pub fn new(history: usize) -> Aggregator {
        Aggregator {
            series: BTreeMap::new(),
            history: history.max(1),
            last_seq: 0,
            dirty: None,
        }
    }

    /// Starts tracking the candles changed since the last [`Aggregator::take_dirty`].
    pub fn track_dirty(mut self) -> Aggregator {
        self.dirty = Some(BTreeSet::new());
        self
    }

    /// The sequence of the last event applied (0 before any).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Applies one event: trades update every interval's candle; anything else only
    /// advances [`Aggregator::last_seq`]. Returns whether it was a trade.
    pub fn apply(&mut self, event: &Event) -> bool {
        self.last_seq = self.last_seq.max(event.seq);
        let EventKind::Trade(trade) = &event.kind else {
            return false;
        };
        for interval in Interval::ALL {
            let key = SeriesKey {
                symbol: trade.symbol,
                interval,
            };
            let series = self.series.entry(key).or_default();
            let open = interval.open_time(event.ts_ms);
            let open = match &mut series.current {
                // Command timestamps never go backwards (the sequencer makes them monotonic),
                // so a trade belongs to the current candle or opens a later one.
                Some(c) if c.open_time >= open => {
                    c.add(trade);
                    c.open_time
                }
                current => {
                    let new = Candle::open_with(interval, event.ts_ms, trade);
                    if let Some(old) = current.replace(new) {
                        series.closed.push_back(old);
                        if series.closed.len() > self.history {
                            series.closed.pop_front();
                        }
                    }
                    open
                }
            };
            if let Some(d) = &mut self.dirty {
                d.insert((key, open));
            }
        }
        true
    }

    /// The latest candle of a series (the interval of its latest trade), if any.
    pub fn latest(&self, key: SeriesKey) -> Option<&Candle> {
        self.series.get(&key).and_then(|s| s.current.as_ref())
    }

    /// Candles of a series as Binance's `GET /api/v3/klines` selects them: open time in
    /// `[start, end]` (either bound optional), ascending, at most `limit`; with no start the
    /// newest `limit` are returned. Only candles still in memory are seen.
    pub fn range(
        &self,
        key: SeriesKey,
        start: Option<u64>,
        end: Option<u64>,
        limit: usize,
    ) -> Vec<Candle> {
        let Some(series) = self.series.get(&key) else {
            return Vec::new();
        };
        let matching = series
            .closed
            .iter()
            .chain(series.current.iter())
            .filter(|c| start.is_none_or(|s| c.open_time >= s))
            .filter(|c| end.is_none_or(|e| c.open_time <= e));
        if start.is_some() {
            matching.take(limit).cloned().collect()
        } else {
            let all: Vec<&Candle> = matching.collect();
            let skip = all.len().saturating_sub(limit);
            all.into_iter().skip(skip).cloned().collect()
        }
    }

    /// The candles changed since the last call (their current values), each with its series;
    /// empty unless [`Aggregator::track_dirty`] was used. A candle that has already left the
    /// in-memory history is skipped (raise `history` above the candles one batch can close).
    pub fn take_dirty(&mut self) -> Vec<(SeriesKey, Candle)> {
        let Some(dirty) = &mut self.dirty else {
            return Vec::new();
        };
        let keys = std::mem::take(dirty);
        let mut out = Vec::with_capacity(keys.len());
        for (key, open) in keys {
            let Some(series) = self.series.get(&key) else {
                continue;
            };
            let found = series
                .current
                .iter()
                .chain(series.closed.iter().rev())
                .find(|c| c.open_time == open);
            match found {
                Some(c) => out.push((key, c.clone())),
                None => tracing::warn!(
                    symbol = key.symbol.0,
                    interval = %key.interval,
                    open,
                    "changed candle left the in-memory history before it was taken"
                ),
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use matcher::{AccountId, AssetId, OrderId, OrderState, OrderStatus, Side, Trade, TradeId};
    use proptest::prelude::*;

    fn state() -> OrderState {
        OrderState {
            status: OrderStatus::Filled,
            executed_qty: 0,
            cum_quote: 0,
            remaining_qty: 0,
            prevented_qty: 0,
            cum_fee: 0,
        }
    }

    fn trade_event(
        seq: u64,
        ts_ms: u64,
        symbol: u32,
        id: u64,
        price: u64,
        qty: u64,
        buy: bool,
    ) -> Event {
        Event {
            seq,
            cmd_seq: seq,
            ts_ms,
            kind: EventKind::Trade(Box::new(Trade {
                trade_id: TradeId(id),
                symbol: SymbolId(symbol),
                price,
                qty,
                quote_qty: u128::from(price) * u128::from(qty) * 7,
                taker_side: if buy { Side::Buy } else { Side::Sell },
                buy_order_id: OrderId(1),
                sell_order_id: OrderId(2),
                buyer: AccountId(1),
                seller: AccountId(2),
                buyer_fee: 0,
                seller_fee: 0,
                fee_asset: AssetId(2),
                buy_state: state(),
                sell_state: state(),
            })),
        }
    }

    /// The straightforward recomputation: group the trades by interval open time and fold
    /// each group from scratch.
    fn naive(events: &[Event], symbol: u32, interval: Interval) -> Vec<Candle> {
        let mut groups: BTreeMap<u64, Vec<(&Trade, u64)>> = BTreeMap::new();
        for e in events {
            if let EventKind::Trade(t) = &e.kind {
                if t.symbol.0 == symbol {
                    groups
                        .entry(interval.open_time(e.ts_ms))
                        .or_default()
                        .push((t, e.ts_ms));
                }
            }
        }
        groups
            .into_iter()
            .map(|(open, trades)| {
                let prices: Vec<u64> = trades.iter().map(|(t, _)| t.price).collect();
                let buys = trades.iter().filter(|(t, _)| t.taker_side == Side::Buy);
                Candle {
                    interval,
                    open_time: open,
                    close_time: interval.close_time(open),
                    open: prices[0],
                    high: *prices.iter().max().unwrap(),
                    low: *prices.iter().min().unwrap(),
                    close: *prices.last().unwrap(),
                    volume: trades.iter().map(|(t, _)| u128::from(t.qty)).sum(),
                    quote_volume: trades.iter().map(|(t, _)| t.quote_qty).sum(),
                    trades: trades.len() as u64,
                    taker_buy_volume: buys.clone().map(|(t, _)| u128::from(t.qty)).sum(),
                    taker_buy_quote_volume: buys.map(|(t, _)| t.quote_qty).sum(),
                    first_trade_id: trades[0].0.trade_id.0,
                    last_trade_id: trades.last().unwrap().0.trade_id.0,
                }
            })
            .collect()
    }

    fn session() -> impl Strategy<Value = Vec<Event>> {
        // Steps between trades from 0 ms to about 3 days, so that every interval sees both
        // shared and separate candles.
        let step = prop_oneof![0u64..2_000, 0u64..400_000, 0u64..300_000_000];
        proptest::collection::vec(
            (step, 1u32..4, 1u64..1_000, 1u64..50, any::<bool>()),
            1..300,
        )
        .prop_map(|trades| {
            let mut ts = 1_700_000_000_000u64;
            trades
                .into_iter()
                .enumerate()
                .map(|(i, (dt, sym, price, qty, buy))| {
                    ts += dt;
                    let n = i as u64 + 1;
                    trade_event(n, ts, sym, n, price, qty, buy)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn candles_equal_a_recomputation_from_the_trades(events in session()) {
            let mut agg = Aggregator::new(100_000);
            for e in &events {
                agg.apply(e);
            }
            for symbol in 1..4 {
                for interval in Interval::ALL {
                    let key = SeriesKey { symbol: SymbolId(symbol), interval };
                    let got = agg.range(key, None, None, usize::MAX);
                    prop_assert_eq!(got, naive(&events, symbol, interval), "{} {}", symbol, interval);
                }
            }
        }

        #[test]
        fn dirty_candles_are_the_latest_values(events in session(), cut in 0usize..300) {
            let mut agg = Aggregator::new(100_000).track_dirty();
            let cut = cut.min(events.len());
            let mut persisted: BTreeMap<(SeriesKey, u64), Candle> = BTreeMap::new();
            for e in &events[..cut] {
                agg.apply(e);
            }
            for (k, c) in agg.take_dirty() {
                persisted.insert((k, c.open_time), c);
            }
            for e in &events[cut..] {
                agg.apply(e);
            }
            for (k, c) in agg.take_dirty() {
                persisted.insert((k, c.open_time), c);
            }
            // Upserting the dirty candles of every batch gives exactly the full history.
            for symbol in 1..4 {
                for interval in Interval::ALL {
                    let key = SeriesKey { symbol: SymbolId(symbol), interval };
                    let stored: Vec<Candle> = persisted
                        .iter()
                        .filter(|((k, _), _)| *k == key)
                        .map(|(_, c)| c.clone())
                        .collect();
                    prop_assert_eq!(stored, naive(&events, symbol, interval));
                }
            }
        }
    }

    #[test]
    fn range_follows_binance_selection() {
        let mut agg = Aggregator::new(100);
        // Five one-minute candles at minutes 0..5 of 2023-11-14 22:13 (aligned below).
        let base = Interval::M1.open_time(1_700_000_000_000);
        for i in 0..5u64 {
            agg.apply(&trade_event(
                i + 1,
                base + i * 60_000 + 5,
                1,
                i + 1,
                10 + i,
                1,
                true,
            ));
        }
        let key = SeriesKey {
            symbol: SymbolId(1),
            interval: Interval::M1,
        };
        let opens = |v: Vec<Candle>| {
            v.into_iter()
                .map(|c| (c.open_time - base) / 60_000)
                .collect::<Vec<_>>()
        };
        assert_eq!(opens(agg.range(key, None, None, 2)), vec![3, 4]);
        assert_eq!(
            opens(agg.range(key, Some(base + 60_000), None, 2)),
            vec![1, 2]
        );
        assert_eq!(
            opens(agg.range(key, Some(base + 1), Some(base + 180_000), 10)),
            vec![1, 2, 3]
        );
        assert_eq!(
            opens(agg.range(key, None, Some(base + 120_000), 2)),
            vec![1, 2]
        );
        assert!(agg.range(key, Some(base + 600_000), None, 10).is_empty());
        // History is bounded.
        let mut small = Aggregator::new(2);
        for i in 0..5u64 {
            small.apply(&trade_event(
                i + 1,
                base + i * 60_000,
                1,
                i + 1,
                10,
                1,
                false,
            ));
        }
        assert_eq!(opens(small.range(key, None, None, 10)), vec![2, 3, 4]);
    }
}
