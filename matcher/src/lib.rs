//! The matcher: the exchange's deterministic state machine.
//!
//! Assets, symbols, accounts with available/frozen balances, price-time priority order books,
//! risk checks, matching, and the command/event types that form the journal's schema.
//!
//! It is a pure library: no I/O, no clock, no randomness, no threads, and nothing that
//! depends on hash iteration order. The same command stream always yields byte-identical
//! events and the same [`Engine::state_hash`].
//!
//! * [`command`] / [`event`]: the versioned schema ([`command::SCHEMA_VERSION`]).
//! * [`codec`]: the one bincode configuration of the project.
//! * [`config`]: the fixed-point unit scheme (ticks, lots, minimal units).
//! * [`fees`]: fee rounding and reserve arithmetic.
//! * [`Engine`]: `apply(&SequencedCommand, &mut Vec<Event>)`, the read API, snapshots,
//!   invariants.
//! * [`book`]: the [`book::Book`] trait, the fast book and the naive reference book.

pub mod book;
pub mod codec;
pub mod command;
pub mod config;
pub mod engine;
pub mod event;
pub mod fees;
pub mod ids;
pub mod snapshot;

pub use command::{
    CancelReplace, CancelReplaceMode, CancelTarget, Command, MarketAmount, OrderType, PlaceOrder,
    SequencedCommand, Side, StpMode, TimeInForce, SCHEMA_VERSION,
};
pub use config::{AssetConfig, SymbolConfig, SymbolStatus};
pub use engine::{
    Balance, Depth, Engine, EngineConfig, InvariantViolation, RestingKind, RestingOrder, SymbolView,
};
pub use event::{CancelReason, Event, EventKind, OrderState, OrderStatus, RejectReason, Trade};
pub use ids::{AccountId, AssetId, ClientOrderId, OrderId, SymbolId, TradeId, TxId};
pub use snapshot::{RestoreError, Snapshot};
