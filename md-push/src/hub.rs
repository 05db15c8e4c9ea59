//! The hub: one task that owns the market state. It applies the feed's events in order,
//! publishes what they push, runs the cadences (100 ms / 1 s diffs and partial depth, 1 s
//! tickers, kline updates and on-time closes) and answers REST reads between two commands,
//! so that a depth snapshot's `lastUpdateId` is exactly the last event its book contains.

use crate::error::RestError;
use crate::feed::Feed;
use crate::market::{MarketState, Push};
use crate::registry::Registry;
use crate::render::{self, StreamCandle};
use crate::stream::Speed;
use crate::MdPushConfig;
use kline::{Interval, SeriesKey};
use matcher::SymbolId;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Which symbols a ticker request asks for.
#[derive(Debug, Clone)]
pub(crate) enum TickerQuery {
    One(String),
    Many(Vec<String>),
    All,
}

type Reply = oneshot::Sender<Result<Value, RestError>>;

/// A read served by the hub.
#[derive(Debug)]
pub(crate) enum Request {
    Depth {
        symbol: String,
        limit: usize,
        reply: Reply,
    },
    Trades {
        symbol: String,
        limit: usize,
        reply: Reply,
    },
    Ticker {
        query: TickerQuery,
        reply: Reply,
    },
    Klines {
        symbol: String,
        interval: Interval,
        start: Option<u64>,
        end: Option<u64>,
        limit: usize,
        reply: Reply,
    },
}

/// What the hub shares with the handles.
#[derive(Debug, Default)]
pub(crate) struct HubStatus {
    /// Last event applied.
    pub applied_seq: AtomicU64,
    /// Whether the feed follows the broadcast.
    pub live: AtomicBool,
    /// Set when the hub stopped (feed error or node gone).
    pub stopped: AtomicBool,
    /// Times the broadcast skipped events and the journal filled them in.
    pub gaps: AtomicU64,
}

const TICK: Duration = Duration::from_millis(100);

pub(crate) struct Hub {
    state: MarketState,
    registry: Arc<Registry>,
    status: Arc<HubStatus>,
    config: MdPushConfig,
    /// Open time of the candle each subscribed kline stream currently reports.
    announced: HashMap<SeriesKey, u64>,
    pushes: Vec<Push>,
    ticks: u64,
}

impl Hub {
    pub fn new(registry: Arc<Registry>, status: Arc<HubStatus>, config: MdPushConfig) -> Hub {
        Hub {
            state: MarketState::new(config.trades_kept, config.kline_history),
            registry,
            status,
            config,
            announced: HashMap::new(),
            pushes: Vec::new(),
            ticks: 0,
        }
    }

    pub async fn run(mut self, mut feed: Feed, mut requests: mpsc::Receiver<Request>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut feed_open = true;
        loop {
            // REST requests wait while the feed catches up (from the journal at start, or
            // after a lag): answered from a partly replayed state, a valid symbol would be
            // "invalid" and a book stale. Once the node stopped they are answered from the
            // frozen state. (The guard is re-read at least every tick.)
            let answering = !feed_open || feed.is_live();
            tokio::select! {
                biased;
                req = requests.recv(), if answering => match req {
                    Some(r) => self.answer(r),
                    None => break,
                },
                _ = tick.tick() => self.on_tick(),
                batch = feed.next(), if feed_open => match batch {
                    Ok(Some(batch)) => {
                        self.state.apply(batch.events(), &mut self.pushes);
                        self.publish_pushes();
                        self.status.applied_seq.store(self.state.seq, Ordering::Release);
                        self.status.live.store(feed.is_live(), Ordering::Release);
                        self.status.gaps.store(feed.gaps(), Ordering::Relaxed);
                    }
                    Ok(None) => {
                        tracing::info!(seq = self.state.seq, "node stopped: market data frozen at its last event");
                        feed_open = false;
                        self.status.live.store(false, Ordering::Release);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, seq = self.state.seq, "market-data feed failed");
                        feed_open = false;
                        self.status.live.store(false, Ordering::Release);
                        self.status.stopped.store(true, Ordering::Release);
                    }
                },
            }
        }
        self.status.stopped.store(true, Ordering::Release);
    }

    fn publish_pushes(&mut self) {
        let pushes = std::mem::take(&mut self.pushes);
        for p in &pushes {
            self.publish(p);
        }
        self.pushes = pushes;
        self.pushes.clear();
    }

    fn publish(&self, push: &Push) {
        let reg = &self.registry;
        let symbol = match push {
            Push::Diff(d) => d.symbol,
            Push::Trade { symbol, .. }
            | Push::BookTicker { symbol, .. }
            | Push::Partial { symbol, .. } => *symbol,
        };
        let Some(s) = self.state.symbols.get(&symbol) else {
            return;
        };
        let Some(meta) = s.meta.as_ref() else {
            return;
        };
        let names = &meta.streams;
        match push {
            Push::Diff(d) => {
                let (depth, with_checksum) = names.depth(d.speed);
                reg.publish(depth, || render::diff(meta, d, None));
                reg.publish(with_checksum, || {
                    render::diff(meta, d, Some(render::checksum(meta, s)))
                });
            }
            Push::Trade { row, .. } => {
                reg.publish(&names.trade, || render::trade(meta, row));
            }
            Push::BookTicker { update_id, .. } => {
                reg.publish(&names.book_ticker, || {
                    render::book_ticker(meta, s, *update_id)
                });
            }
            Push::Partial { speed, .. } => {
                for (n, name) in names.partial(*speed) {
                    reg.publish(name, || {
                        render::snapshot(meta, s, self.state.seq, *n).to_string()
                    });
                }
            }
        }
    }

    fn on_tick(&mut self) {
        self.ticks += 1;
        let now = now_ms();
        self.state.flush(Speed::Ms100, now, &mut self.pushes);
        let second = self.ticks.is_multiple_of(10);
        if second {
            self.state.flush(Speed::Ms1000, now, &mut self.pushes);
        }
        self.publish_pushes();
        if second {
            self.push_tickers(now);
        }
        self.push_klines(now);
    }

    fn push_tickers(&mut self, now: u64) {
        let reg = Arc::clone(&self.registry);
        for (_, s) in self.state.listed() {
            let Some(meta) = s.meta.clone() else {
                continue;
            };
            let name = format!("{}@ticker", meta.lower);
            if reg.has(&name) {
                let stats = s.ticker.stats(now);
                reg.publish(&name, || render::ticker_event(&meta, s, &stats, now));
            }
        }
    }

    /// Kline streams: an update every second (`1s`) or two (other intervals), and the
    /// closing message (`x: true`) on the first tick after the interval ended. "Ended" is
    /// judged on the later of the last command's timestamp and the wall clock minus
    /// [`MdPushConfig::kline_close_grace`], so that a trade stamped just before the end but
    /// still on its way through the journal is not left out of a closed candle.
    fn push_klines(&mut self, now: u64) {
        let grace = u64::try_from(self.config.kline_close_grace.as_millis()).unwrap_or(u64::MAX);
        let clock = now.saturating_sub(grace).max(self.state.last_ts);
        let mut subscribed: Vec<(SeriesKey, String)> = Vec::new();
        for (id, s) in &self.state.symbols {
            let Some(meta) = &s.meta else {
                continue;
            };
            for interval in Interval::ALL {
                let name = format!("{}@kline_{interval}", meta.lower);
                if self.registry.has(&name) {
                    subscribed.push((
                        SeriesKey {
                            symbol: *id,
                            interval,
                        },
                        name,
                    ));
                }
            }
        }
        self.announced
            .retain(|k, _| subscribed.iter().any(|(s, _)| s == k));
        for (key, name) in subscribed {
            let cur_open = key.interval.open_time(clock);
            let announced = *self.announced.entry(key).or_insert(cur_open);
            let due = if key.interval == Interval::S1 {
                self.ticks.is_multiple_of(10)
            } else {
                self.ticks.is_multiple_of(20)
            };
            if announced < cur_open {
                let closed = self.stream_candle(key, announced);
                self.publish_kline(key.symbol, &name, &closed, true, now);
                self.announced.insert(key, cur_open);
            } else if !due {
                continue;
            }
            let current = self.stream_candle(key, cur_open);
            self.publish_kline(key.symbol, &name, &current, false, now);
        }
    }

    fn stream_candle(&self, key: SeriesKey, open: u64) -> StreamCandle {
        let k = &self.state.klines;
        match k.range(key, Some(open), Some(open), 1).pop() {
            Some(c) => StreamCandle::Traded(c),
            None => StreamCandle::Empty {
                interval: key.interval,
                open_time: open,
                prev_close: k
                    .range(key, None, Some(open.saturating_sub(1)), 1)
                    .pop()
                    .map_or(0, |c| c.close),
            },
        }
    }

    fn publish_kline(
        &self,
        symbol: SymbolId,
        name: &str,
        c: &StreamCandle,
        closed: bool,
        now: u64,
    ) {
        let Some(meta) = self
            .state
            .symbols
            .get(&symbol)
            .and_then(|s| s.meta.as_ref())
        else {
            return;
        };
        self.registry
            .publish(name, || render::kline_event(meta, c, closed, now));
    }

    fn answer(&mut self, req: Request) {
        match req {
            Request::Depth {
                symbol,
                limit,
                reply,
            } => {
                let r = match self.state.by_name(&symbol) {
                    Some((_, s, meta)) => Ok(render::snapshot(meta, s, self.state.seq, limit)),
                    None => Err(RestError::bad_symbol()),
                };
                let _ = reply.send(r);
            }
            Request::Trades {
                symbol,
                limit,
                reply,
            } => {
                let r = match self.state.by_name(&symbol) {
                    Some((_, s, meta)) => {
                        let skip = s.trades.len().saturating_sub(limit);
                        Ok(Value::Array(
                            s.trades
                                .iter()
                                .skip(skip)
                                .map(|t| render::trade_row(meta, t))
                                .collect(),
                        ))
                    }
                    None => Err(RestError::bad_symbol()),
                };
                let _ = reply.send(r);
            }
            Request::Ticker { query, reply } => {
                let _ = reply.send(self.tickers(query));
            }
            Request::Klines {
                symbol,
                interval,
                start,
                end,
                limit,
                reply,
            } => {
                let r = match self.state.by_name(&symbol) {
                    Some((id, _, meta)) => {
                        let key = SeriesKey {
                            symbol: id,
                            interval,
                        };
                        Ok(Value::Array(
                            self.state
                                .klines
                                .range(key, start, end, limit)
                                .iter()
                                .map(|c| render::kline_row(meta, c))
                                .collect(),
                        ))
                    }
                    None => Err(RestError::bad_symbol()),
                };
                let _ = reply.send(r);
            }
        }
    }

    fn tickers(&mut self, query: TickerQuery) -> Result<Value, RestError> {
        let now = now_ms();
        let ids: Vec<SymbolId> = match &query {
            TickerQuery::All => self.state.listed().map(|(id, _)| id).collect(),
            TickerQuery::One(name) => {
                vec![self.state.id_of(name).ok_or_else(RestError::bad_symbol)?]
            }
            TickerQuery::Many(names) => names
                .iter()
                .map(|n| self.state.id_of(n).ok_or_else(RestError::bad_symbol))
                .collect::<Result<_, _>>()?,
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(s) = self.state.symbols.get_mut(&id) else {
                continue;
            };
            let stats = s.ticker.stats(now);
            if let Some(meta) = &s.meta {
                out.push(render::ticker_rest(meta, s, &stats));
            }
        }
        match query {
            TickerQuery::One(_) => out.pop().ok_or_else(RestError::bad_symbol),
            _ => Ok(Value::Array(out)),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
