//! Market state built from events: the catalogue, a local book per symbol, recent trades,
//! the rolling ticker, candles, and the pending depth diffs of each push cadence.

use crate::book::LocalBook;
use crate::stream::Speed;
use crate::ticker::RollingTicker;
use gateway::units::SymbolUnits;
use matcher::{AssetConfig, AssetId, Event, EventKind, Side, SymbolId, SymbolStatus};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// What a symbol's messages need to print it.
#[derive(Clone, Debug)]
pub(crate) struct SymbolMeta {
    /// `BTCUSDT`.
    pub name: String,
    /// `btcusdt` (stream names).
    pub lower: String,
    /// Decimal formatting.
    pub units: SymbolUnits,
    /// Base minimal units per lot.
    pub lot_size: u128,
    /// The base asset's scale.
    pub base_scale: u8,
    /// Trading or halted.
    pub status: SymbolStatus,
    /// The names of the symbol's per-event streams, formatted once.
    pub streams: StreamNames,
}

/// A symbol's stream names that events publish to (formatted once: a diff, trade or book
/// ticker push looks its stream up by name whether or not anyone listens).
#[derive(Clone, Debug)]
pub(crate) struct StreamNames {
    /// `<symbol>@depth@0ms`, `<symbol>@depth@100ms`, `<symbol>@depth`, by [`Speed`].
    depth: [String; 3],
    /// The same with `@checksum`.
    depth_checksum: [String; 3],
    /// `<symbol>@trade`.
    pub trade: String,
    /// `<symbol>@bookTicker`.
    pub book_ticker: String,
    /// `<symbol>@depth<N>` then `<symbol>@depth<N>@100ms`, for N = 5, 10, 20.
    partial: [[(usize, String); 3]; 2],
}

impl StreamNames {
    fn new(lower: &str) -> StreamNames {
        let depth = |speed| {
            let suffix = match speed {
                Speed::Realtime => "@0ms",
                Speed::Ms100 => "@100ms",
                Speed::Ms1000 => "",
            };
            format!("{lower}@depth{suffix}")
        };
        let depth = [Speed::Realtime, Speed::Ms100, Speed::Ms1000].map(depth);
        let partial = ["", "@100ms"]
            .map(|suffix| [5usize, 10, 20].map(|n| (n, format!("{lower}@depth{n}{suffix}"))));
        StreamNames {
            depth_checksum: depth.clone().map(|d| format!("{d}@checksum")),
            depth,
            trade: format!("{lower}@trade"),
            book_ticker: format!("{lower}@bookTicker"),
            partial,
        }
    }

    fn speed_index(speed: Speed) -> usize {
        match speed {
            Speed::Realtime => 0,
            Speed::Ms100 => 1,
            Speed::Ms1000 => 2,
        }
    }

    /// The diff depth stream of `speed`, and its `@checksum` variant.
    pub fn depth(&self, speed: Speed) -> (&str, &str) {
        let i = Self::speed_index(speed);
        (&self.depth[i], &self.depth_checksum[i])
    }

    /// The partial depth streams (levels, name) pushed at `speed` (100 ms, or else 1000 ms).
    pub fn partial(&self, speed: Speed) -> &[(usize, String); 3] {
        &self.partial[usize::from(speed == Speed::Ms100)]
    }
}

impl SymbolMeta {
    /// Formats a volume in lots.
    pub fn lots(&self, lots: u128) -> String {
        self.units.format_base(lots.saturating_mul(self.lot_size))
    }
}

/// One trade as `/api/v3/trades` and `@trade` print it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TradeRow {
    pub id: u64,
    pub price: u64,
    pub qty: u64,
    pub quote: u128,
    pub time: u64,
    pub buyer_maker: bool,
}

/// Price levels `(price ticks, qty lots)`.
pub(crate) type Levels = Vec<(u64, u64)>;
/// A best level, if the side is not empty.
type Best = Option<(u64, u64)>;

/// Levels changed since the last push of one cadence (absolute quantities).
#[derive(Clone, Debug, Default)]
pub(crate) struct DiffAcc {
    pub bids: BTreeMap<u64, u64>,
    pub asks: BTreeMap<u64, u64>,
}

impl DiffAcc {
    fn set(&mut self, side: Side, price: u64, qty: u64) {
        match side {
            Side::Buy => self.bids.insert(price, qty),
            Side::Sell => self.asks.insert(price, qty),
        };
    }

    fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }

    /// Bids highest first, asks lowest first.
    fn take(&mut self) -> (Levels, Levels) {
        let bids = std::mem::take(&mut self.bids).into_iter().rev().collect();
        let asks = std::mem::take(&mut self.asks).into_iter().collect();
        (bids, asks)
    }
}

/// One symbol's state.
#[derive(Debug, Default)]
pub(crate) struct SymbolState {
    pub meta: Option<SymbolMeta>,
    pub book: LocalBook,
    pub trades: VecDeque<TradeRow>,
    pub ticker: RollingTicker,
    /// Pending diffs of the 100 ms and 1000 ms cadences.
    acc: [DiffAcc; 2],
    /// `u` of the last diff sent per cadence (realtime, 100 ms, 1000 ms).
    last_u: [u64; 3],
    /// Whether the book changed since the last partial-depth push (100 ms, 1000 ms).
    changed: [bool; 2],
    bbo: (Best, Best),
}

/// A diff depth message to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Diff {
    pub symbol: SymbolId,
    pub speed: Speed,
    /// `U`.
    pub first: u64,
    /// `u`.
    pub last: u64,
    /// `E`.
    pub time: u64,
    pub bids: Levels,
    pub asks: Levels,
}

/// Something to push after a command or a timer tick.
#[derive(Clone, Debug)]
pub(crate) enum Push {
    Diff(Diff),
    Trade {
        symbol: SymbolId,
        row: TradeRow,
    },
    BookTicker {
        symbol: SymbolId,
        update_id: u64,
    },
    /// The book changed during a cadence: partial depth streams of that cadence.
    Partial {
        symbol: SymbolId,
        speed: Speed,
    },
}

/// Everything md-push knows, as of event [`MarketState::seq`].
#[derive(Debug)]
pub(crate) struct MarketState {
    assets: BTreeMap<AssetId, AssetConfig>,
    pub symbols: BTreeMap<SymbolId, SymbolState>,
    by_name: HashMap<String, SymbolId>,
    /// Last event applied.
    pub seq: u64,
    /// Timestamp of the last command applied.
    pub last_ts: u64,
    pub klines: kline::Aggregator,
    trades_kept: usize,
    /// Scratch: levels touched by the current command, per symbol.
    touched: BTreeMap<SymbolId, DiffAcc>,
}

impl MarketState {
    pub fn new(trades_kept: usize, kline_history: usize) -> MarketState {
        MarketState {
            assets: BTreeMap::new(),
            symbols: BTreeMap::new(),
            by_name: HashMap::new(),
            seq: 0,
            last_ts: 0,
            klines: kline::Aggregator::new(kline_history),
            trades_kept: trades_kept.max(1),
            touched: BTreeMap::new(),
        }
    }

    /// A symbol by its (upper-case) name.
    pub fn by_name(&self, name: &str) -> Option<(SymbolId, &SymbolState, &SymbolMeta)> {
        let id = *self.by_name.get(name)?;
        let s = self.symbols.get(&id)?;
        Some((id, s, s.meta.as_ref()?))
    }

    /// The id of a listed symbol by its (upper-case) name.
    pub fn id_of(&self, name: &str) -> Option<SymbolId> {
        let id = *self.by_name.get(name)?;
        self.symbols.get(&id)?.meta.as_ref()?;
        Some(id)
    }

    /// Every symbol with its catalogue entry, by id.
    pub fn listed(&mut self) -> impl Iterator<Item = (SymbolId, &mut SymbolState)> {
        self.symbols
            .iter_mut()
            .filter(|(_, s)| s.meta.is_some())
            .map(|(id, s)| (*id, s))
    }

    /// Applies one command's events; what they push goes to `out`.
    pub fn apply(&mut self, events: &[Event], out: &mut Vec<Push>) {
        let Some(last) = events.last() else {
            return;
        };
        for e in events {
            self.apply_one(e, out);
        }
        self.last_ts = self.last_ts.max(last.ts_ms);
        self.seq = self.seq.max(last.seq);
        let touched = std::mem::take(&mut self.touched);
        for (symbol, mut acc) in touched {
            let Some(s) = self.symbols.get_mut(&symbol) else {
                continue;
            };
            let (bids, asks) = acc.take();
            out.push(Push::Diff(Diff {
                symbol,
                speed: Speed::Realtime,
                first: s.last_u[0] + 1,
                last: last.seq,
                time: last.ts_ms,
                bids,
                asks,
            }));
            s.last_u[0] = last.seq;
            let bbo = (s.book.best(Side::Buy), s.book.best(Side::Sell));
            if bbo != s.bbo {
                s.bbo = bbo;
                out.push(Push::BookTicker {
                    symbol,
                    update_id: last.seq,
                });
            }
        }
    }

    fn apply_one(&mut self, e: &Event, out: &mut Vec<Push>) {
        self.klines.apply(e);
        match &e.kind {
            EventKind::BookLevel {
                symbol,
                side,
                price,
                qty,
            } => {
                let s = self.symbols.entry(*symbol).or_default();
                s.book.set(*side, *price, *qty);
                for acc in &mut s.acc {
                    acc.set(*side, *price, *qty);
                }
                s.changed = [true, true];
                self.touched
                    .entry(*symbol)
                    .or_default()
                    .set(*side, *price, *qty);
            }
            EventKind::Trade(t) => {
                let s = self.symbols.entry(t.symbol).or_default();
                let row = TradeRow {
                    id: t.trade_id.0,
                    price: t.price,
                    qty: t.qty,
                    quote: t.quote_qty,
                    time: e.ts_ms,
                    buyer_maker: t.taker_side == Side::Sell,
                };
                s.ticker.add(e.ts_ms, row.id, row.price, row.qty, row.quote);
                s.trades.push_back(row);
                if s.trades.len() > self.trades_kept {
                    s.trades.pop_front();
                }
                out.push(Push::Trade {
                    symbol: t.symbol,
                    row,
                });
            }
            EventKind::AssetUpserted(a) => {
                // The matcher accepts a symbol only after its assets, and an asset's scale is
                // immutable: symbols' printing rules never need rebuilding here.
                self.assets.insert(a.id, (**a).clone());
            }
            EventKind::SymbolUpserted(cfg) => {
                let status = self
                    .symbols
                    .get(&cfg.id)
                    .and_then(|s| s.meta.as_ref())
                    .map_or(SymbolStatus::Trading, |m| m.status);
                let meta = self.meta_of(cfg, status);
                self.symbols.entry(cfg.id).or_default().meta = meta;
                self.by_name.retain(|_, id| *id != cfg.id);
                self.by_name.insert(cfg.name.clone(), cfg.id);
            }
            EventKind::SymbolStatusChanged { symbol, status } => {
                if let Some(m) = self.symbols.get_mut(symbol).and_then(|s| s.meta.as_mut()) {
                    m.status = *status;
                }
            }
            _ => {}
        }
    }

    fn meta_of(&self, cfg: &matcher::SymbolConfig, status: SymbolStatus) -> Option<SymbolMeta> {
        let (base, quote) = (self.assets.get(&cfg.base)?, self.assets.get(&cfg.quote)?);
        match SymbolUnits::new(cfg, base, quote) {
            Ok(units) => Some(SymbolMeta {
                name: cfg.name.clone(),
                lower: cfg.name.to_ascii_lowercase(),
                streams: StreamNames::new(&cfg.name.to_ascii_lowercase()),
                units,
                lot_size: cfg.lot_size,
                base_scale: base.scale,
                status,
            }),
            Err(e) => {
                tracing::warn!(symbol = %cfg.name, error = %e, "symbol cannot be printed; left out");
                None
            }
        }
    }

    /// Ends a cadence: the pending diffs and partial-depth pushes of `speed` (`Ms100` or
    /// `Ms1000`), stamped `now_ms`.
    pub fn flush(&mut self, speed: Speed, now_ms: u64, out: &mut Vec<Push>) {
        let slot = match speed {
            Speed::Ms100 => 0,
            Speed::Ms1000 => 1,
            Speed::Realtime => return,
        };
        let seq = self.seq;
        for (symbol, s) in &mut self.symbols {
            if !s.acc[slot].is_empty() {
                let (bids, asks) = s.acc[slot].take();
                out.push(Push::Diff(Diff {
                    symbol: *symbol,
                    speed,
                    first: s.last_u[slot + 1] + 1,
                    last: seq,
                    time: now_ms,
                    bids,
                    asks,
                }));
                s.last_u[slot + 1] = seq;
            }
            if std::mem::take(&mut s.changed[slot]) {
                out.push(Push::Partial {
                    symbol: *symbol,
                    speed,
                });
            }
        }
    }
}

#[cfg(test)]
mod stream_names_tests {
    use super::*;
    use crate::stream::{StreamKind, StreamName};

    /// Each name formatted once is the canonical name of the stream it stands for (the name
    /// subscriptions are keyed by).
    #[test]
    fn precomputed_names_are_the_canonical_stream_names() {
        let names = StreamNames::new("btcusdt");
        let canonical = |kind| {
            StreamName {
                symbol: "BTCUSDT".into(),
                kind,
            }
            .to_string()
        };
        for speed in [Speed::Realtime, Speed::Ms100, Speed::Ms1000] {
            let (plain, with_checksum) = names.depth(speed);
            let diff = |checksum| canonical(StreamKind::Diff { speed, checksum });
            assert_eq!(plain, diff(false));
            assert_eq!(with_checksum, diff(true));
        }
        for speed in [Speed::Ms100, Speed::Ms1000] {
            let levels: Vec<usize> = names.partial(speed).iter().map(|(n, _)| *n).collect();
            assert_eq!(levels, [5, 10, 20]);
            for (levels, name) in names.partial(speed) {
                let levels = *levels;
                assert_eq!(*name, canonical(StreamKind::Partial { levels, speed }));
            }
        }
        assert_eq!(names.trade, canonical(StreamKind::Trade));
        assert_eq!(names.book_ticker, canonical(StreamKind::BookTicker));
    }
}
