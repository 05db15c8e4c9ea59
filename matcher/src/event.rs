//! Events: the matcher's output schema.
//!
//! Every [`Event`] carries a global event sequence (`seq`, strictly increasing from 1 with no
//! gaps), the sequence of the command that caused it and that command's timestamp. Within one
//! command the events come in causal order, followed by one [`EventKind::BookLevel`] per price
//! level the command touched (sorted by side, then price) and one [`EventKind::Balance`] per
//! (account, asset) balance it touched (sorted by account, then asset), each carrying the new
//! absolute values. Consumers never need to rebuild a book or re-derive a balance.

use crate::command::{CancelReplaceMode, OrderType, Side, StpMode};
use crate::config::{AssetConfig, SymbolConfig, SymbolStatus};
use crate::ids::{AccountId, AssetId, ClientOrderId, OrderId, SymbolId, TradeId, TxId};
use bincode::{Decode, Encode};

/// One output event.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Event {
    /// Global event sequence, from 1, gapless.
    pub seq: u64,
    /// Sequence of the command that caused the event.
    pub cmd_seq: u64,
    /// Timestamp of that command (milliseconds).
    pub ts_ms: u64,
    /// What happened.
    pub kind: EventKind,
}

/// Binance-style order status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum OrderStatus {
    /// Accepted, nothing executed.
    New,
    /// Partly executed, still open (or about to be closed by a later event of this command).
    PartiallyFilled,
    /// Fully executed.
    Filled,
    /// Cancelled by a request (cancel, cancel-all, cancel-replace).
    Canceled,
    /// Expired by the matcher (IOC / FOK / MARKET remainder).
    Expired,
    /// Expired by self-trade prevention.
    ExpiredInMatch,
}

impl OrderStatus {
    /// Whether the order is closed.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Canceled
                | OrderStatus::Expired
                | OrderStatus::ExpiredInMatch
        )
    }
}

/// An order's state after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct OrderState {
    /// Status.
    pub status: OrderStatus,
    /// Executed quantity, lots.
    pub executed_qty: u64,
    /// Cumulative executed notional, quote minimal units (Binance `cummulativeQuoteQty`).
    pub cum_quote: u128,
    /// Quantity still open, lots (0 when closed; 0 for MARKET orders by quote).
    pub remaining_qty: u64,
    /// Quantity removed by STP DECREMENT, lots (Binance `preventedQuantity`).
    pub prevented_qty: u64,
    /// Cumulative fee charged to the order, quote minimal units.
    pub cum_fee: u128,
}

/// Why an order was closed without being filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum CancelReason {
    /// A cancel request.
    UserCancel,
    /// A cancel-all request.
    CancelAll,
    /// Cancelled by a cancel-replace request.
    Replaced,
    /// The unfilled remainder of an IOC order.
    IocRemainder,
    /// A FOK order that could not be filled completely (nothing was executed).
    FokNotFilled,
    /// A MARKET order's remainder: the book ran out of liquidity.
    MarketNoLiquidity,
    /// A MARKET order's remainder: the account's balance ran out (MARKET buy by base quantity
    /// spends at most the available quote; MARKET sell by quote at most the available base).
    MarketInsufficientBalance,
    /// A MARKET order by quote whose amount could not buy a single lot (nothing executed).
    MarketAmountTooSmall,
    /// STP EXPIRE_TAKER expired the taker.
    StpExpireTaker,
    /// STP EXPIRE_MAKER expired the maker.
    StpExpireMaker,
    /// STP EXPIRE_BOTH expired this order (taker or maker).
    StpExpireBoth,
    /// STP DECREMENT reduced this order to zero.
    StpDecrement,
}

/// Why a request was rejected. Codes ([`RejectReason::code`]) are stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
#[allow(missing_docs)]
pub enum RejectReason {
    UnknownSymbol,
    SymbolHalted,
    UnknownAsset,
    ZeroQuantity,
    QuantityTooLarge,
    QuantityBelowMinimum,
    NotionalBelowMinimum,
    NotionalTooLarge,
    ZeroPrice,
    PriceTooHigh,
    DuplicateClientOrderId,
    UnknownOrder,
    InsufficientBalance,
    WouldTakeLiquidity,
    TooManyOpenOrders,
    ZeroAmount,
    SupplyLimitExceeded,
    InvalidName,
    InvalidScale,
    InvalidTickOrLot,
    InexactTickLot,
    InvalidQuantityBounds,
    InvalidFeeRate,
    SameBaseAndQuote,
    ImmutableFieldChanged,
    StaleSequence,
    AlreadyInState,
}

impl RejectReason {
    /// Stable numeric code (never reused; the gateway maps it to Binance error codes).
    pub fn code(self) -> u16 {
        use RejectReason::*;
        match self {
            UnknownSymbol => 1,
            SymbolHalted => 2,
            UnknownAsset => 3,
            ZeroQuantity => 4,
            QuantityTooLarge => 5,
            QuantityBelowMinimum => 6,
            NotionalBelowMinimum => 7,
            NotionalTooLarge => 8,
            ZeroPrice => 9,
            PriceTooHigh => 10,
            DuplicateClientOrderId => 11,
            UnknownOrder => 12,
            InsufficientBalance => 13,
            WouldTakeLiquidity => 14,
            TooManyOpenOrders => 15,
            ZeroAmount => 16,
            SupplyLimitExceeded => 17,
            InvalidName => 18,
            InvalidScale => 19,
            InvalidTickOrLot => 20,
            InexactTickLot => 21,
            InvalidQuantityBounds => 22,
            InvalidFeeRate => 23,
            SameBaseAndQuote => 24,
            ImmutableFieldChanged => 25,
            StaleSequence => 26,
            AlreadyInState => 27,
        }
    }
}

/// Which kind of request a [`EventKind::Rejected`] refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum RequestKind {
    /// UpsertAsset.
    UpsertAsset,
    /// UpsertSymbol.
    UpsertSymbol,
    /// HaltSymbol.
    HaltSymbol,
    /// ResumeSymbol.
    ResumeSymbol,
    /// SetFeeAccount.
    SetFeeAccount,
    /// PlaceOrder (also the new order of a cancel-replace).
    PlaceOrder,
    /// Cancel.
    Cancel,
    /// CancelAll.
    CancelAll,
    /// Any command whose `seq` did not increase.
    Any,
}

/// The full description of an accepted order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct OrderInfo {
    /// Assigned id.
    pub order_id: OrderId,
    /// Owner.
    pub account: AccountId,
    /// Symbol.
    pub symbol: SymbolId,
    /// Side.
    pub side: Side,
    /// Type and parameters as requested.
    pub order_type: OrderType,
    /// Client order id.
    pub client_order_id: ClientOrderId,
    /// STP mode.
    pub stp: StpMode,
    /// Maker fee rate fixed for this order (ppm).
    pub maker_fee_ppm: u32,
    /// Taker fee rate fixed for this order (ppm).
    pub taker_fee_ppm: u32,
    /// Amount frozen at acceptance (quote units for buys, base units for sells).
    pub frozen: u128,
}

/// An order reference with its new state (for cancels, expiries, amendments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct OrderUpdate {
    /// Order id.
    pub order_id: OrderId,
    /// Owner.
    pub account: AccountId,
    /// Symbol.
    pub symbol: SymbolId,
    /// Side.
    pub side: Side,
    /// Current client order id.
    pub client_order_id: ClientOrderId,
    /// New state.
    pub state: OrderState,
}

/// One execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Trade {
    /// Global trade id.
    pub trade_id: TradeId,
    /// Symbol.
    pub symbol: SymbolId,
    /// Price, ticks (always the maker's price).
    pub price: u64,
    /// Quantity, lots.
    pub qty: u64,
    /// Notional, quote minimal units (`price * qty * quote_per_tick_lot`).
    pub quote_qty: u128,
    /// Side of the taker (`Buy` means the buyer was the taker).
    pub taker_side: Side,
    /// Buyer's order id.
    pub buy_order_id: OrderId,
    /// Seller's order id.
    pub sell_order_id: OrderId,
    /// Buyer's account.
    pub buyer: AccountId,
    /// Seller's account.
    pub seller: AccountId,
    /// Buyer's fee (quote asset), paid on top of the notional.
    pub buyer_fee: u128,
    /// Seller's fee (quote asset), deducted from the proceeds.
    pub seller_fee: u128,
    /// The asset fees are paid in (the symbol's quote asset).
    pub fee_asset: AssetId,
    /// Buyer's order state after the trade.
    pub buy_state: OrderState,
    /// Seller's order state after the trade.
    pub sell_state: OrderState,
}

/// The payload of [`EventKind::OrderAccepted`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct OrderAccepted {
    /// Description.
    pub order: OrderInfo,
    /// State (status `New`).
    pub state: OrderState,
}

/// The payload of [`EventKind::SelfTradePrevented`]: STP DECREMENT reduced both orders without
/// trading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SelfTradePrevented {
    /// Symbol.
    pub symbol: SymbolId,
    /// The account on both sides.
    pub account: AccountId,
    /// Taker order id.
    pub taker_order_id: OrderId,
    /// Maker order id.
    pub maker_order_id: OrderId,
    /// Price (maker's), ticks.
    pub price: u64,
    /// Prevented quantity, lots.
    pub qty: u64,
    /// Taker's state after the decrement.
    pub taker_state: OrderState,
    /// Maker's state after the decrement.
    pub maker_state: OrderState,
}

/// Outcome of the cancel half of a cancel-replace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum CancelOutcome {
    /// The old order was cancelled with [`CancelReason::Replaced`]: its final state (status
    /// `Canceled`), exactly what an `OrderCancelled` would have carried.
    Cancelled(OrderUpdate),
    /// The old order was amended in place and keeps its time priority: its new state and
    /// client order id. It is also the new order ([`NewOrderOutcome::Amended`]).
    Amended {
        /// The order (same id) and its new state.
        order: OrderUpdate,
        /// Client order id before the amendment.
        old_client_order_id: ClientOrderId,
    },
    /// The cancel failed; nothing was cancelled.
    Failed(RejectReason),
}

/// Outcome of the new-order half of a cancel-replace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum NewOrderOutcome {
    /// The new order was accepted: its full description and state (status `New`), exactly
    /// what an `OrderAccepted` would have carried. Its trades and expiry follow.
    Placed(OrderAccepted),
    /// The old order was amended in place (see [`CancelOutcome::Amended`]); no new order.
    Amended,
    /// The new order was rejected; nothing of it exists.
    Failed {
        /// Why.
        reason: RejectReason,
        /// The rejected order's client order id (echoed).
        client_order_id: ClientOrderId,
    },
    /// Not attempted (STOP_ON_FAILURE after a failed cancel).
    NotAttempted,
}

/// The payload of [`EventKind::CancelReplaced`]: the one causal event of a cancel-replace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CancelReplaced {
    /// Account.
    pub account: AccountId,
    /// Symbol.
    pub symbol: SymbolId,
    /// Mode requested.
    pub mode: CancelReplaceMode,
    /// Cancel half.
    pub cancel: CancelOutcome,
    /// New-order half.
    pub new_order: NewOrderOutcome,
}

impl CancelReplaced {
    /// Whether the order was amended in place, keeping its time priority.
    pub fn kept_priority(&self) -> bool {
        matches!(self.cancel, CancelOutcome::Amended { .. })
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum EventKind {
    /// An asset was added or updated.
    AssetUpserted(Box<AssetConfig>),
    /// A symbol was added or updated.
    SymbolUpserted(Box<SymbolConfig>),
    /// A symbol was halted or resumed.
    SymbolStatusChanged {
        /// Symbol.
        symbol: SymbolId,
        /// New status.
        status: SymbolStatus,
    },
    /// The fee account changed.
    FeeAccountSet {
        /// New fee account.
        account: AccountId,
    },
    /// A deposit was credited.
    Deposited {
        /// Account.
        account: AccountId,
        /// Asset.
        asset: AssetId,
        /// Amount.
        amount: u128,
        /// External id (boxed: it is large and transfers are rare).
        tx_id: Box<TxId>,
    },
    /// A deposit with an already-seen `tx_id`: nothing changed.
    DepositDuplicate {
        /// Account.
        account: AccountId,
        /// Asset.
        asset: AssetId,
        /// Amount.
        amount: u128,
        /// External id (boxed: it is large and transfers are rare).
        tx_id: Box<TxId>,
    },
    /// A deposit was rejected.
    DepositRejected {
        /// Account.
        account: AccountId,
        /// Asset.
        asset: AssetId,
        /// Amount.
        amount: u128,
        /// External id (boxed: it is large and transfers are rare).
        tx_id: Box<TxId>,
        /// Why.
        reason: RejectReason,
    },
    /// A withdrawal was debited.
    Withdrawn {
        /// Account.
        account: AccountId,
        /// Asset.
        asset: AssetId,
        /// Amount.
        amount: u128,
        /// External id (boxed: it is large and transfers are rare).
        tx_id: Box<TxId>,
    },
    /// A withdrawal with an already-seen `tx_id`: nothing changed.
    WithdrawalDuplicate {
        /// Account.
        account: AccountId,
        /// Asset.
        asset: AssetId,
        /// Amount.
        amount: u128,
        /// External id (boxed: it is large and transfers are rare).
        tx_id: Box<TxId>,
    },
    /// A withdrawal was rejected (its `tx_id` is not consumed).
    WithdrawalRejected {
        /// Account.
        account: AccountId,
        /// Asset.
        asset: AssetId,
        /// Amount.
        amount: u128,
        /// External id (boxed: it is large and transfers are rare).
        tx_id: Box<TxId>,
        /// Why.
        reason: RejectReason,
    },
    /// An order was accepted (followed by its trades / expiry, if any).
    OrderAccepted(Box<OrderAccepted>),
    /// A request was rejected; nothing changed.
    Rejected {
        /// Request kind.
        request: RequestKind,
        /// Account, for account requests.
        account: Option<AccountId>,
        /// Symbol, when the request names one.
        symbol: Option<SymbolId>,
        /// Client order id of a rejected order (echoed; boxed: it is large).
        client_order_id: Option<Box<ClientOrderId>>,
        /// Why.
        reason: RejectReason,
    },
    /// A trade.
    Trade(Box<Trade>),
    /// An order was cancelled or expired.
    OrderCancelled {
        /// The order and its final state.
        order: Box<OrderUpdate>,
        /// Why.
        reason: CancelReason,
    },
    /// STP DECREMENT reduced both orders without trading.
    SelfTradePrevented(Box<SelfTradePrevented>),
    /// A cancel-replace: both halves' outcomes in one event, emitted before the new order's
    /// trades and expiry (there is no separate `OrderCancelled`, `OrderAccepted`, `Rejected`
    /// or amendment event for either half).
    CancelReplaced(Box<CancelReplaced>),
    /// Summary of a cancel-all request.
    CancelAllDone {
        /// Account.
        account: AccountId,
        /// Symbol filter.
        symbol: Option<SymbolId>,
        /// Number of orders cancelled (each has its own `OrderCancelled`).
        cancelled: u32,
    },
    /// New total quantity of a price level touched by the command (0 = level removed).
    BookLevel {
        /// Symbol.
        symbol: SymbolId,
        /// Side.
        side: Side,
        /// Price, ticks.
        price: u64,
        /// Total open quantity, lots.
        qty: u64,
    },
    /// New balance of an (account, asset) touched by the command.
    Balance {
        /// Account.
        account: AccountId,
        /// Asset.
        asset: AssetId,
        /// Available.
        available: u128,
        /// Frozen by open orders.
        frozen: u128,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events are moved into the caller's `Vec` by value: large payloads are boxed so the
    /// common ones (book levels, balances) stay small.
    #[test]
    fn events_stay_small() {
        assert!(std::mem::size_of::<Event>() <= 80);
        assert!(std::mem::size_of::<EventKind>() <= 56);
    }
}
