//! Asset and symbol configuration, and the fixed-point unit scheme.
//!
//! # Units
//! * Balances are in an asset's **minimal units** (`u128`): 1 BTC = 10^8 units when the asset's
//!   `scale` is 8; an 18-decimal asset has `scale` 18.
//! * Order quantities are in **lots** (`u64`): one lot is `lot_size` minimal units of the base
//!   asset.
//! * Order prices are in **ticks** (`u64`): one tick is a price step of `tick_size` minimal
//!   units of the quote asset per one *whole* base unit (10^base_scale base minimal units).
//! * Hence the quote value of `qty` lots at `price` ticks is
//!   `price * qty * quote_per_tick_lot` quote minimal units, with
//!   `quote_per_tick_lot = tick_size * lot_size / 10^base_scale`. A symbol is only accepted
//!   when that division is exact and non-zero, so every notional is an exact integer.

use crate::ids::{AssetId, SymbolId};
use bincode::{Decode, Encode};

/// Largest decimal scale of an asset.
pub const MAX_ASSET_SCALE: u8 = 18;
/// Fee rates are parts per million of the quote notional.
pub const FEE_RATE_DENOMINATOR: u128 = 1_000_000;
/// Upper bound on the total supply of any asset held inside the matcher (sum of all balances),
/// in minimal units: 10^30. Deposits beyond it are rejected. It keeps every intermediate
/// product (notional x fee rate) far inside `u128`.
pub const MAX_ASSET_SUPPLY: u128 = 1_000_000_000_000_000_000_000_000_000_000;
/// Longest asset code / symbol name, in bytes.
pub const MAX_NAME_LEN: usize = 20;

/// An asset (currency).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct AssetConfig {
    /// Operator-chosen id.
    pub id: AssetId,
    /// Display code, e.g. `"BTC"`: 1-20 characters `[A-Z0-9]`.
    pub code: String,
    /// Number of decimals of the minimal unit (0..=18). Immutable once created.
    pub scale: u8,
}

/// Whether a symbol accepts new orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum SymbolStatus {
    /// New orders are accepted and matched.
    Trading,
    /// New orders (and the new half of cancel-replace) are rejected; cancels still work and
    /// resting orders stay in the book.
    Halted,
}

/// A trading pair. See the module docs for the unit scheme.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SymbolConfig {
    /// Operator-chosen id.
    pub id: SymbolId,
    /// Display name, e.g. `"BTCUSDT"`: 1-20 characters `[A-Z0-9]`.
    pub name: String,
    /// Base asset (what is bought and sold). Immutable once created.
    pub base: AssetId,
    /// Quote asset (what prices and fees are paid in). Immutable once created.
    pub quote: AssetId,
    /// Quote minimal units per whole base unit per tick. Immutable once created.
    pub tick_size: u128,
    /// Base minimal units per lot. Immutable once created.
    pub lot_size: u128,
    /// Smallest order quantity, in lots (>= 1).
    pub min_qty: u64,
    /// Largest order quantity, in lots.
    pub max_qty: u64,
    /// Largest price, in ticks.
    pub max_price: u64,
    /// Smallest notional (quote minimal units) of a LIMIT / LIMIT_MAKER order, and smallest
    /// quote amount of a MARKET order by quote. Not applied to MARKET orders by base quantity.
    pub min_notional: u128,
    /// Maker fee, parts per million (<= 1_000_000).
    pub maker_fee_ppm: u32,
    /// Taker fee, parts per million (<= 1_000_000).
    pub taker_fee_ppm: u32,
}

/// Why an asset or symbol configuration is invalid (reported as a reject reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConfigError {
    InvalidName,
    InvalidScale,
    InvalidTickOrLot,
    InexactTickLot,
    InvalidQtyBounds,
    InvalidFee,
    UnknownAsset,
    SameBaseAndQuote,
    ImmutableChanged,
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Computes `tick_size * lot_size / 10^base_scale`, requiring an exact non-zero integer.
pub(crate) fn quote_per_tick_lot(
    tick_size: u128,
    lot_size: u128,
    base_scale: u8,
) -> Result<u128, ConfigError> {
    if tick_size == 0 || lot_size == 0 {
        return Err(ConfigError::InvalidTickOrLot);
    }
    let one_base = 10u128.pow(u32::from(base_scale));
    let product = tick_size
        .checked_mul(lot_size)
        .ok_or(ConfigError::InvalidTickOrLot)?;
    if product % one_base != 0 {
        return Err(ConfigError::InexactTickLot);
    }
    let per = product / one_base;
    if per == 0 || per > MAX_ASSET_SUPPLY {
        return Err(ConfigError::InexactTickLot);
    }
    Ok(per)
}

impl SymbolConfig {
    /// Static checks (independent of existing state) except the asset lookups.
    pub(crate) fn check_static(&self) -> Result<(), ConfigError> {
        if !valid_name(&self.name) {
            return Err(ConfigError::InvalidName);
        }
        if self.base == self.quote {
            return Err(ConfigError::SameBaseAndQuote);
        }
        if self.min_qty == 0 || self.max_qty < self.min_qty || self.max_price == 0 {
            return Err(ConfigError::InvalidQtyBounds);
        }
        if u128::from(self.maker_fee_ppm) > FEE_RATE_DENOMINATOR
            || u128::from(self.taker_fee_ppm) > FEE_RATE_DENOMINATOR
        {
            return Err(ConfigError::InvalidFee);
        }
        if self.lot_size > MAX_ASSET_SUPPLY || self.tick_size > MAX_ASSET_SUPPLY {
            return Err(ConfigError::InvalidTickOrLot);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tick_lot_must_convert_exactly() {
        // BTC (8 decimals) / USDT (6 decimals): tick 0.01 USDT = 10_000, lot 0.001 BTC = 100_000.
        assert_eq!(quote_per_tick_lot(10_000, 100_000, 8), Ok(10));
        // lot 0.00001 BTC: 0.01 * 0.00001 = 1e-7 USDT, not a whole minimal unit.
        assert_eq!(
            quote_per_tick_lot(10_000, 1_000, 8),
            Err(ConfigError::InexactTickLot)
        );
        // ETH (18 decimals) / USDT: tick 0.01 USDT, lot 0.0001 ETH.
        assert_eq!(quote_per_tick_lot(10_000, 100_000_000_000_000, 18), Ok(1));
        assert_eq!(
            quote_per_tick_lot(0, 1, 0),
            Err(ConfigError::InvalidTickOrLot)
        );
        assert_eq!(
            quote_per_tick_lot(u128::MAX, 2, 0),
            Err(ConfigError::InvalidTickOrLot)
        );
    }

    #[test]
    fn names() {
        assert!(valid_name("BTCUSDT"));
        assert!(!valid_name("btc"));
        assert!(!valid_name(""));
        assert!(!valid_name("ABCDEFGHIJKLMNOPQRSTU"));
    }
}
