//! A realistic, seeded, deterministic order flow (pure: no I/O, no clock).
//!
//! * Each symbol's mid price is a random walk in ticks, reflected inside
//!   `[start / 2, start * 2]`. The walk has its own seed ([`FlowConfig::walk_seed`]) and is
//!   stepped by [`Flow::advance_to`] with a step counter the caller derives from time, so
//!   traders that share a walk seed see the same mid at the same moment.
//! * Passive `LIMIT GTC` orders rest 1..=`depth_ticks` ticks from the mid, on the side with
//!   fewer own resting orders (so a maker's quotes stay two-sided); marketable `LIMIT
//!   IOC` orders cross it by 1..=`cross_ticks`; `MARKET` orders take a quantity; cancels and
//!   cancel-replaces ("moves": same side, a fresh price near the mid) target the flow's own
//!   resting orders.
//! * The flow learns which of its orders rest from the responses it is fed
//!   ([`Flow::on_result`], and [`Flow::on_execution_report`] for fills against resting
//!   orders), so cancels name real orders. An order with a cancel or move in flight is not
//!   targeted again. Resting plus in-flight new orders stay at most
//!   [`FlowConfig::max_open_per_symbol`] per symbol.
//!
//! Every emitted price is on tick and every quantity on lot (the property tests check this).

mod rng;
mod symbol;

pub use rng::Rng;
pub use symbol::{SpecError, SymbolGrid, SymbolSpec};

use crate::client::{
    order_id_param, write_cancel_replace_params, CancelReplaceMode, ExecutionReport, Failure,
    OrderRequest, OrderSummary, Outcome, ParamValue, Params, RespType, Side, TimeInForce,
};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How many early-closed order ids a flow remembers (see [`Flow::on_execution_report`]).
pub const EARLY_CLOSED_KEPT: usize = 1024;

/// Relative weights of the kinds of action (any scale; their sum must be positive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix {
    /// Passive `LIMIT GTC`.
    pub gtc: u32,
    /// Marketable `LIMIT IOC`.
    pub ioc: u32,
    /// `MARKET`.
    pub market: u32,
    /// `order.cancel` of an own resting order.
    pub cancel: u32,
    /// `order.cancelReplace` ("move") of an own resting order.
    pub replace: u32,
}

impl Mix {
    /// exchange-core's benchmark mix: 9% GTC, 3% IOC, 6% cancel, 82% move.
    pub const EXCHANGE_CORE: Mix = Mix {
        gtc: 9,
        ioc: 3,
        market: 0,
        cancel: 6,
        replace: 82,
    };
    /// A market maker: quotes, moves and pulls passive orders; never takes.
    pub const MAKER: Mix = Mix {
        gtc: 35,
        ioc: 0,
        market: 0,
        cancel: 10,
        replace: 55,
    };
    /// A taker: marketable IOC and MARKET orders only.
    pub const TAKER: Mix = Mix {
        gtc: 0,
        ioc: 60,
        market: 40,
        cancel: 0,
        replace: 0,
    };

    fn total(&self) -> u64 {
        [self.gtc, self.ioc, self.market, self.cancel, self.replace]
            .iter()
            .map(|&w| u64::from(w))
            .sum()
    }
}

/// Settings of one flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// The symbols (uniformly chosen per action).
    pub symbols: Vec<SymbolSpec>,
    /// The mix of actions.
    pub mix: Mix,
    /// Seed of the action choices.
    pub seed: u64,
    /// Seed of the mid-price walks (share it to share the market's mid).
    pub walk_seed: u64,
    /// Largest mid move per walk step, in ticks.
    pub walk_step_ticks: u64,
    /// Passive orders rest 1..=this many ticks from the mid.
    pub depth_ticks: u64,
    /// Marketable IOC orders cross the mid by 1..=this many ticks.
    pub cross_ticks: u64,
    /// Most own resting (or pending new) orders per symbol.
    pub max_open_per_symbol: usize,
}

impl FlowConfig {
    /// Defaults around these symbols: the given mix, a ±1-tick walk, 20 ticks of depth,
    /// crossing by up to 20 ticks, 50 open orders per symbol.
    pub fn new(symbols: Vec<SymbolSpec>, mix: Mix, seed: u64) -> FlowConfig {
        FlowConfig {
            symbols,
            mix,
            seed,
            walk_seed: 0x5EED,
            walk_step_ticks: 1,
            depth_ticks: 20,
            cross_ticks: 20,
            max_open_per_symbol: 50,
        }
    }
}

/// Why a flow cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// A symbol spec is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// No symbols.
    #[error("the flow needs at least one symbol")]
    NoSymbols,
    /// All mix weights are zero.
    #[error("the mix has no positive weight")]
    EmptyMix,
    /// Depth or cross is zero.
    #[error("depth_ticks and cross_ticks must be at least 1")]
    ZeroOffsets,
}

/// What the flow wants sent next. Feed its outcome back with [`Flow::on_result`] and the
/// action's `tag`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// Identifies the action in [`Flow::on_result`].
    pub tag: u64,
    /// What to send.
    pub kind: ActionKind,
}

/// The request of an [`Action`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// `order.place`.
    Place(OrderRequest),
    /// `order.cancel` by `orderId`.
    Cancel {
        /// Symbol.
        symbol: String,
        /// The resting order.
        order_id: u64,
    },
    /// `order.cancelReplace` (`STOP_ON_FAILURE`) of `order_id` with `order`.
    Replace {
        /// The resting order to cancel.
        order_id: u64,
        /// The new order.
        order: OrderRequest,
    },
}

impl Action {
    /// The WebSocket API method.
    pub fn method(&self) -> &'static str {
        match self.kind {
            ActionKind::Place(_) => "order.place",
            ActionKind::Cancel { .. } => "order.cancel",
            ActionKind::Replace { .. } => "order.cancelReplace",
        }
    }

    /// Writes the request's parameters (unsigned).
    pub fn write_params<'a>(&'a self, params: &mut Params<'a>) {
        match &self.kind {
            ActionKind::Place(order) => order.write_params(params, true),
            ActionKind::Cancel { symbol, order_id } => {
                params.push("symbol", ParamValue::Str(symbol));
                let (name, value) = order_id_param(*order_id, false);
                params.push(name, value);
            }
            ActionKind::Replace { order_id, order } => write_cancel_replace_params(
                params,
                order_id_param(*order_id, true),
                CancelReplaceMode::StopOnFailure,
                order,
            ),
        }
    }

    /// The request's parameters (unsigned) as a JSON object.
    pub fn params(&self) -> Map<String, Value> {
        let mut params = Params::with_capacity(12);
        self.write_params(&mut params);
        params.to_map()
    }

    /// The new order this action places, if any.
    pub fn new_order(&self) -> Option<&OrderRequest> {
        match &self.kind {
            ActionKind::Place(o) | ActionKind::Replace { order: o, .. } => Some(o),
            ActionKind::Cancel { .. } => None,
        }
    }
}

/// What a fed-back outcome held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Feedback {
    /// Fills in the response (trades in which this order took liquidity).
    pub fills: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct OpenOrder {
    order_id: u64,
    side: Side,
    lots: u64,
    /// A cancel or move of this order is in flight.
    busy: bool,
}

#[derive(Clone, Debug, Default)]
struct Book {
    open: Vec<OpenOrder>,
    /// New orders in flight that may come to rest.
    pending_new: usize,
}

#[derive(Clone, Debug)]
enum Pending {
    /// `rest`: side and lots of a GTC order that may come to rest.
    Place {
        symbol: usize,
        rest: Option<(Side, u64)>,
    },
    Cancel {
        symbol: usize,
        order_id: u64,
    },
    Replace {
        symbol: usize,
        order_id: u64,
        side: Side,
        lots: u64,
    },
}

/// The generator. See the module docs.
#[derive(Clone, Debug)]
pub struct Flow {
    grids: Vec<SymbolGrid>,
    mids: Vec<u64>,
    bounds: Vec<(u64, u64)>,
    books: Vec<Book>,
    pending: BTreeMap<u64, Pending>,
    /// Orders an execution report closed before the flow knew them (the push overtook the
    /// response that placed them), oldest first; at most [`EARLY_CLOSED_KEPT`].
    early_closed: VecDeque<u64>,
    /// The same ids, for lookup (an id leaves it when its response comes).
    early_closed_set: BTreeSet<u64>,
    rng: Rng,
    walk_rng: Rng,
    walk_step: u64,
    next_tag: u64,
    config: FlowConfig,
}

enum Choice {
    Gtc,
    Ioc,
    Market,
    Cancel,
    Replace,
}

impl Flow {
    /// Builds a flow; checks every symbol and that each start price leaves room for the
    /// offsets (`start / 2 > depth + cross + walk step`).
    pub fn new(config: FlowConfig) -> Result<Flow, FlowError> {
        if config.symbols.is_empty() {
            return Err(FlowError::NoSymbols);
        }
        if config.mix.total() == 0 {
            return Err(FlowError::EmptyMix);
        }
        if config.depth_ticks == 0 || config.cross_ticks == 0 {
            return Err(FlowError::ZeroOffsets);
        }
        let grids = config
            .symbols
            .iter()
            .map(SymbolGrid::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let reach = config
            .depth_ticks
            .max(config.cross_ticks)
            .saturating_add(config.walk_step_ticks);
        let mut bounds = Vec::with_capacity(grids.len());
        for g in &grids {
            let lo = g.start_ticks / 2;
            if lo <= reach {
                return Err(SpecError::StartTooLow {
                    symbol: g.name.clone(),
                    start_ticks: g.start_ticks,
                    needed: reach.saturating_mul(2).saturating_add(1),
                }
                .into());
            }
            bounds.push((lo, g.start_ticks.saturating_mul(2)));
        }
        Ok(Flow {
            mids: grids.iter().map(|g| g.start_ticks).collect(),
            books: vec![Book::default(); grids.len()],
            grids,
            bounds,
            pending: BTreeMap::new(),
            early_closed: VecDeque::new(),
            early_closed_set: BTreeSet::new(),
            rng: Rng::new(config.seed),
            walk_rng: Rng::new(config.walk_seed),
            walk_step: 0,
            next_tag: 1,
            config,
        })
    }

    /// The symbol grids, in configuration order.
    pub fn grids(&self) -> &[SymbolGrid] {
        &self.grids
    }

    /// Current mid of symbol `i`, in ticks.
    pub fn mid_ticks(&self, i: usize) -> Option<u64> {
        self.mids.get(i).copied()
    }

    /// The range the mid of symbol `i` stays in, in ticks.
    pub fn mid_bounds(&self, i: usize) -> Option<(u64, u64)> {
        self.bounds.get(i).copied()
    }

    /// Own orders resting on symbol `i` as far as the flow knows.
    pub fn open_orders(&self, i: usize) -> impl Iterator<Item = u64> + '_ {
        self.books
            .get(i)
            .into_iter()
            .flat_map(|b| b.open.iter().map(|o| o.order_id))
    }

    /// Actions awaiting their outcome.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Steps every mid's walk until `step` walk steps have been taken (no-op when already
    /// there). Each step moves each mid by a uniform `-s..=s` ticks, reflected at the bounds.
    pub fn advance_to(&mut self, step: u64) {
        let s = self.config.walk_step_ticks;
        while self.walk_step < step {
            self.walk_step += 1;
            for (mid, &(lo, hi)) in self.mids.iter_mut().zip(&self.bounds) {
                let r = self.walk_rng.between(0, 2 * s);
                let next = if r >= s {
                    mid.saturating_add(r - s)
                } else {
                    mid.saturating_sub(s - r)
                };
                *mid = if next < lo {
                    lo + (lo - next)
                } else if next > hi {
                    hi - (next - hi)
                } else {
                    next
                }
                .clamp(lo, hi);
            }
        }
    }

    fn choose(&mut self) -> Choice {
        let m = self.config.mix;
        let mut r = self.rng.below(m.total());
        for (w, c) in [
            (m.gtc, Choice::Gtc),
            (m.ioc, Choice::Ioc),
            (m.market, Choice::Market),
            (m.cancel, Choice::Cancel),
            (m.replace, Choice::Replace),
        ] {
            let w = u64::from(w);
            if r < w {
                return c;
            }
            r -= w;
        }
        Choice::Replace
    }

    fn side(&mut self) -> Side {
        if self.rng.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    /// The side of a new passive order: the side with fewer own resting orders on `sym`
    /// (random on a tie), so quotes stay two-sided.
    fn quote_side(&mut self, sym: usize) -> Side {
        let buys = self.books[sym]
            .open
            .iter()
            .filter(|o| o.side == Side::Buy)
            .count();
        let sells = self.books[sym].open.len() - buys;
        match buys.cmp(&sells) {
            std::cmp::Ordering::Less => Side::Buy,
            std::cmp::Ordering::Greater => Side::Sell,
            std::cmp::Ordering::Equal => self.side(),
        }
    }

    fn lots(&mut self, sym: usize) -> u64 {
        let g = &self.grids[sym];
        let (lo, hi) = (g.min_lots, g.max_lots);
        self.rng.between(lo, hi)
    }

    /// A passive GTC order `side` near the mid.
    fn passive(&mut self, sym: usize, side: Side, lots: u64) -> OrderRequest {
        let off = self.rng.between(1, self.config.depth_ticks);
        let mid = self.mids[sym];
        let ticks = match side {
            Side::Buy => mid - off,
            Side::Sell => mid + off,
        };
        let g = &self.grids[sym];
        OrderRequest::limit(&g.name, side, TimeInForce::Gtc, g.price(ticks), g.qty(lots))
            .with_resp_type(RespType::Full)
    }

    /// Picks an own resting order of `sym` with nothing in flight against it.
    fn target(&mut self, sym: usize) -> Option<usize> {
        let free = self.books[sym].open.iter().filter(|o| !o.busy).count();
        if free == 0 {
            return None;
        }
        let k = self.rng.below(free as u64);
        self.books[sym]
            .open
            .iter()
            .enumerate()
            .filter(|(_, o)| !o.busy)
            .nth(usize::try_from(k).unwrap_or(0))
            .map(|(i, _)| i)
    }

    /// The next action. Cancels and moves fall back to a passive order when no own order is
    /// free to target; a passive order becomes a move (or, failing that, an IOC) when the
    /// symbol is at its open-order limit.
    pub fn next_action(&mut self) -> Action {
        let sym = usize::try_from(self.rng.below(self.grids.len() as u64)).unwrap_or(0);
        let mut choice = self.choose();
        let full = {
            let b = &self.books[sym];
            b.open.len() + b.pending_new >= self.config.max_open_per_symbol
        };
        let target = match choice {
            Choice::Cancel | Choice::Replace => self.target(sym),
            Choice::Gtc if full => {
                let t = self.target(sym);
                choice = if t.is_some() {
                    Choice::Replace
                } else {
                    Choice::Ioc
                };
                t
            }
            _ => None,
        };
        if matches!(choice, Choice::Cancel | Choice::Replace) && target.is_none() {
            choice = if full { Choice::Ioc } else { Choice::Gtc };
        }
        let tag = self.next_tag;
        self.next_tag += 1;
        let (kind, pending) = match (choice, target) {
            (Choice::Cancel, Some(i)) => {
                let o = &mut self.books[sym].open[i];
                o.busy = true;
                let order_id = o.order_id;
                (
                    ActionKind::Cancel {
                        symbol: self.grids[sym].name.clone(),
                        order_id,
                    },
                    Pending::Cancel {
                        symbol: sym,
                        order_id,
                    },
                )
            }
            (Choice::Replace, Some(i)) => {
                let (side, order_id, lots) = {
                    let o = &mut self.books[sym].open[i];
                    o.busy = true;
                    (o.side, o.order_id, o.lots)
                };
                let order = self.passive(sym, side, lots);
                (
                    ActionKind::Replace { order_id, order },
                    Pending::Replace {
                        symbol: sym,
                        order_id,
                        side,
                        lots,
                    },
                )
            }
            (Choice::Gtc, _) => {
                let side = self.quote_side(sym);
                let lots = self.lots(sym);
                self.books[sym].pending_new += 1;
                (
                    ActionKind::Place(self.passive(sym, side, lots)),
                    Pending::Place {
                        symbol: sym,
                        rest: Some((side, lots)),
                    },
                )
            }
            (Choice::Market, _) => {
                let side = self.side();
                let lots = self.lots(sym);
                let g = &self.grids[sym];
                let order =
                    OrderRequest::market(&g.name, side, g.qty(lots)).with_resp_type(RespType::Full);
                (
                    ActionKind::Place(order),
                    Pending::Place {
                        symbol: sym,
                        rest: None,
                    },
                )
            }
            // IOC, and cancels/moves whose target vanished (not reachable: handled above).
            _ => {
                let side = self.side();
                let lots = self.lots(sym);
                let cross = self.rng.between(1, self.config.cross_ticks);
                let mid = self.mids[sym];
                let ticks = match side {
                    Side::Buy => mid + cross,
                    Side::Sell => mid - cross,
                };
                let g = &self.grids[sym];
                let order = OrderRequest::limit(
                    &g.name,
                    side,
                    TimeInForce::Ioc,
                    g.price(ticks),
                    g.qty(lots),
                )
                .with_resp_type(RespType::Full);
                (
                    ActionKind::Place(order),
                    Pending::Place {
                        symbol: sym,
                        rest: None,
                    },
                )
            }
        };
        self.pending.insert(tag, pending);
        Action { tag, kind }
    }

    fn remove_open(&mut self, sym: usize, order_id: u64) {
        if let Some(i) = self.books[sym]
            .open
            .iter()
            .position(|o| o.order_id == order_id)
        {
            self.books[sym].open.swap_remove(i);
        }
    }

    fn release(&mut self, sym: usize, order_id: u64) {
        if let Some(o) = self.books[sym]
            .open
            .iter_mut()
            .find(|o| o.order_id == order_id)
        {
            o.busy = false;
        }
    }

    /// Records a new order's result; it rests when its status is open (or, in an `ACK`
    /// response without a status, presumably: a later cancel's -2011 corrects that).
    fn record_new(
        &mut self,
        sym: usize,
        order: Option<&OrderSummary>,
        side: Side,
        lots: u64,
    ) -> Feedback {
        let Some(ack) = order else {
            tracing::debug!("unreadable order result");
            return Feedback::default();
        };
        let closed_already = self.early_closed_set.remove(&ack.order_id);
        if !closed_already && ack.status.is_none_or(|s| s.is_open()) {
            self.books[sym].open.push(OpenOrder {
                order_id: ack.order_id,
                side,
                lots,
                busy: false,
            });
        }
        Feedback { fills: ack.fills }
    }

    /// Feeds the outcome of action `tag` (its response's result as read, or why there is
    /// none). Unknown tags are ignored.
    pub fn on_result(&mut self, tag: u64, outcome: &Outcome) -> Feedback {
        let Some(pending) = self.pending.remove(&tag) else {
            return Feedback::default();
        };
        match pending {
            Pending::Place { symbol, rest } => {
                if rest.is_some() {
                    self.books[symbol].pending_new -= 1;
                }
                match (outcome, rest) {
                    (Ok(reply), Some((side, lots))) => {
                        self.record_new(symbol, reply.order.as_ref(), side, lots)
                    }
                    (Ok(reply), None) => Feedback {
                        fills: reply.order.map_or(0, |o| o.fills),
                    },
                    (Err(_), _) => Feedback::default(),
                }
            }
            Pending::Cancel { symbol, order_id } => {
                match outcome {
                    Ok(_) => self.remove_open(symbol, order_id),
                    Err(e) if gone(e) => self.remove_open(symbol, order_id),
                    Err(_) => self.release(symbol, order_id),
                }
                Feedback::default()
            }
            Pending::Replace {
                symbol,
                order_id,
                side,
                lots,
            } => match outcome {
                Ok(reply) => {
                    self.remove_open(symbol, order_id);
                    self.record_new(symbol, reply.new_order.as_ref(), side, lots)
                }
                Err(e) => {
                    if gone(e) || cancel_half_succeeded(e) {
                        self.remove_open(symbol, order_id);
                    } else {
                        self.release(symbol, order_id);
                    }
                    Feedback::default()
                }
            },
        }
    }

    /// Feeds a user data event: an execution report that closes an own resting order
    /// (filled, cancelled, expired) removes it. A report may overtake the response that
    /// placed the order (the exchange pushes reports as it matches, while responses on a
    /// connection go out in request order): a closing report for an order the flow does not
    /// know yet is remembered (the last [`EARLY_CLOSED_KEPT`]) so that the response, when it
    /// comes, does not make the order look open.
    pub fn on_execution_report(&mut self, report: &ExecutionReport<'_>) {
        let id = report.order_id;
        if report.status.is_none_or(|s| s.is_open()) {
            return;
        }
        if let Some(sym) = self.grids.iter().position(|g| g.name == report.symbol) {
            let known = self.books[sym].open.iter().any(|o| o.order_id == id);
            if known {
                self.remove_open(sym, id);
            } else if self.pending_new_orders() > 0 {
                // Possibly one of ours whose response has not arrived yet.
                if self.early_closed.len() == EARLY_CLOSED_KEPT {
                    if let Some(old) = self.early_closed.pop_front() {
                        self.early_closed_set.remove(&old);
                    }
                }
                self.early_closed.push_back(id);
                self.early_closed_set.insert(id);
            }
        }
    }

    /// New orders (placements and moves) awaiting their response.
    fn pending_new_orders(&self) -> usize {
        self.pending
            .values()
            .filter(|p| {
                matches!(
                    p,
                    Pending::Place { rest: Some(_), .. } | Pending::Replace { .. }
                )
            })
            .count()
    }
}

/// The order named by a cancel is not (or no longer) on the book.
fn gone(e: &Failure) -> bool {
    matches!(e.api_code(), Some(-2011 | -2013))
}

/// A failed cancel-replace whose cancel half went through (`data.cancelResult == SUCCESS`)
/// or whose cancel failed because the order is unknown.
fn cancel_half_succeeded(e: &Failure) -> bool {
    let Failure::Api(a) = e else {
        return false;
    };
    a.cancel_succeeded || matches!(a.cancel_code, Some(-2011 | -2013))
}
