//! What settlement must remember between batches: symbols (to turn lots into base units and
//! to know a trade's assets) and the fee account. Loaded from Postgres on (re)connect, so it
//! always matches the committed offset.

use matcher::{AccountId, AssetId, SymbolConfig, SymbolId};
use std::collections::HashMap;

/// The parts of a symbol a trade's ledger entries need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolUnits {
    /// Base asset.
    pub base: AssetId,
    /// Quote asset.
    pub quote: AssetId,
    /// Base minimal units per lot.
    pub lot_size: u128,
}

impl From<&SymbolConfig> for SymbolUnits {
    fn from(c: &SymbolConfig) -> Self {
        SymbolUnits {
            base: c.base,
            quote: c.quote,
            lot_size: c.lot_size,
        }
    }
}

/// The settlement consumer's state besides its offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Symbols by id.
    pub symbols: HashMap<SymbolId, SymbolUnits>,
    /// The account fees are credited to.
    pub fee_account: AccountId,
}
