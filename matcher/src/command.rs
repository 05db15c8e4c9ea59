//! Commands: the journal's input schema (version [`SCHEMA_VERSION`]).
//!
//! Every command is stored as a [`SequencedCommand`] stamped by the sequencer with its journal
//! sequence number and a timestamp in **milliseconds** since the Unix epoch. The matcher never
//! reads a clock: `ts_ms` is the only time it knows.

use crate::config::{AssetConfig, SymbolConfig};
use crate::ids::{AccountId, AssetId, ClientOrderId, OrderId, SymbolId, TxId};
use bincode::{Decode, Encode};

/// Version of the command and event schema written by this crate. The codec refuses records
/// of any other version.
///
/// History (nothing released yet): 1, the first schema; 2, a cancel-replace emits one
/// `CancelReplaced` event carrying both halves (no `OrderCancelled` / `OrderAccepted` /
/// `Rejected` / `OrderAmended` for it; `OrderAmended` removed).
pub const SCHEMA_VERSION: u16 = 2;

/// A command as stored in the journal.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SequencedCommand {
    /// Journal sequence number, strictly increasing (the matcher rejects a non-increasing one).
    pub seq: u64,
    /// Sequencer timestamp, milliseconds since the Unix epoch.
    pub ts_ms: u64,
    /// The command.
    pub command: Command,
}

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum Side {
    /// Bid side.
    Buy,
    /// Ask side.
    Sell,
}

impl Side {
    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

/// Time in force of a LIMIT order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum TimeInForce {
    /// Good till cancelled: the remainder rests in the book.
    Gtc,
    /// Immediate or cancel: the remainder expires.
    Ioc,
    /// Fill or kill: fills completely in this command or expires without any effect.
    Fok,
}

/// Amount of a MARKET order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum MarketAmount {
    /// Base quantity in lots (Binance `quantity`).
    Base(u64),
    /// Quote amount in quote minimal units (Binance `quoteOrderQty`). A buy spends at most
    /// this much *including* its taker fee; a sell receives at most this much notional
    /// (before its fee).
    Quote(u128),
}

/// Order type with its type-specific parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum OrderType {
    /// LIMIT: price in ticks, quantity in lots.
    Limit {
        /// Limit price, ticks.
        price: u64,
        /// Quantity, lots.
        qty: u64,
        /// Time in force.
        tif: TimeInForce,
    },
    /// LIMIT_MAKER (post-only): rejected if any part would take liquidity.
    LimitMaker {
        /// Limit price, ticks.
        price: u64,
        /// Quantity, lots.
        qty: u64,
    },
    /// MARKET: takes liquidity at any price; never rests.
    Market {
        /// By base quantity or by quote amount.
        amount: MarketAmount,
    },
}

/// Self-trade prevention mode (Binance semantics; the TAKER's mode decides). A self-trade is a
/// match between two orders of the same account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum StpMode {
    /// Self-trades happen like any other trade.
    None,
    /// The taker's remainder expires; the maker stays.
    ExpireTaker,
    /// The maker expires; the taker continues matching.
    ExpireMaker,
    /// Both expire.
    ExpireBoth,
    /// Both quantities decrease by the smaller of the two, without a trade; whichever reaches
    /// zero expires (both if equal).
    Decrement,
}

/// Place a new order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct PlaceOrder {
    /// Owner.
    pub account: AccountId,
    /// Symbol.
    pub symbol: SymbolId,
    /// Side.
    pub side: Side,
    /// Type, price, quantity and time in force.
    pub order_type: OrderType,
    /// Client order id (the gateway generates one when the trader gives none).
    pub client_order_id: ClientOrderId,
    /// Self-trade prevention mode.
    pub stp: StpMode,
}

/// Which order a cancel refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum CancelTarget {
    /// By matcher order id.
    OrderId(OrderId),
    /// By client order id (among the account's open orders).
    ClientOrderId(ClientOrderId),
}

/// Binance `cancelReplaceMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum CancelReplaceMode {
    /// If the cancel fails, the new order is not attempted.
    StopOnFailure,
    /// The new order is attempted whatever the cancel's outcome.
    AllowFailure,
}

/// Cancel an order and place a new one (Binance `order.cancelReplace`).
///
/// If the new order has the same side, price, kind (LIMIT GTC or LIMIT_MAKER, as the old one)
/// and STP mode as the old order and a quantity strictly smaller than the old order's
/// *remaining* quantity, the old order is amended in place: it keeps its order id and time
/// priority, its remaining quantity becomes the new quantity and its client order id becomes
/// the new one. Anything else cancels the old order and places the new one at the back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CancelReplace {
    /// The order to cancel (must belong to `new_order.account` and `new_order.symbol`).
    pub target: CancelTarget,
    /// Failure handling.
    pub mode: CancelReplaceMode,
    /// The replacement order, fully specified.
    pub new_order: PlaceOrder,
}

/// A command of the journal schema.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Command {
    /// Add an asset, or update the code of an existing one (the scale is immutable).
    UpsertAsset(AssetConfig),
    /// Add a symbol, or update the bounds and fee rates of an existing one (base, quote, tick
    /// and lot are immutable). Fee rates apply to orders placed afterwards: each order keeps
    /// the rates in force when it was placed.
    UpsertSymbol(SymbolConfig),
    /// Stop accepting new orders on a symbol.
    HaltSymbol {
        /// Symbol.
        symbol: SymbolId,
    },
    /// Resume trading on a halted symbol.
    ResumeSymbol {
        /// Symbol.
        symbol: SymbolId,
    },
    /// Set the account that receives all fees.
    SetFeeAccount {
        /// New fee account.
        account: AccountId,
    },
    /// Credit an account, idempotent by `tx_id`.
    Deposit {
        /// Account credited.
        account: AccountId,
        /// Asset.
        asset: AssetId,
        /// Amount, minimal units (> 0).
        amount: u128,
        /// External transaction id.
        tx_id: TxId,
    },
    /// Debit an account's available balance, idempotent by `tx_id`.
    Withdraw {
        /// Account debited.
        account: AccountId,
        /// Asset.
        asset: AssetId,
        /// Amount, minimal units (> 0).
        amount: u128,
        /// External transaction id.
        tx_id: TxId,
    },
    /// Place an order.
    PlaceOrder(PlaceOrder),
    /// Cancel one open order of `account` on `symbol`.
    Cancel {
        /// Owner.
        account: AccountId,
        /// Symbol the order is on.
        symbol: SymbolId,
        /// Which order.
        target: CancelTarget,
    },
    /// Cancel all open orders of an account, optionally only on one symbol.
    CancelAll {
        /// Owner.
        account: AccountId,
        /// Restrict to one symbol.
        symbol: Option<SymbolId>,
    },
    /// Cancel an order and place a new one.
    CancelReplace(CancelReplace),
}
