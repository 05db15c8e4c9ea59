//! A symbol's price and quantity grid: decimal strings in, ticks and lots inside, valid
//! decimal strings out.

use gateway::units::{format_units, parse_units};

/// A symbol as the flow is given it, in Binance's decimal strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolSpec {
    /// Symbol name, e.g. `BTCUSDT`.
    pub name: String,
    /// Tick size, e.g. `0.01`.
    pub tick_size: String,
    /// Lot size (step size), e.g. `0.00001`.
    pub lot_size: String,
    /// Where the mid price starts (on tick), e.g. `50000.00`.
    pub start_price: String,
    /// Smallest order quantity the flow sends (on lot).
    pub min_qty: String,
    /// Largest order quantity the flow sends (on lot).
    pub max_qty: String,
}

impl SymbolSpec {
    /// A spec from string slices: `(name, tick, lot, start price, min qty, max qty)`.
    pub fn new(
        name: &str,
        tick_size: &str,
        lot_size: &str,
        start_price: &str,
        min_qty: &str,
        max_qty: &str,
    ) -> SymbolSpec {
        SymbolSpec {
            name: name.into(),
            tick_size: tick_size.into(),
            lot_size: lot_size.into(),
            start_price: start_price.into(),
            min_qty: min_qty.into(),
            max_qty: max_qty.into(),
        }
    }
}

/// Why a [`SymbolSpec`] cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A field is not a plain decimal (or has more than 18 decimals).
    #[error("{symbol}: {field} {text:?} is not a decimal with at most 18 decimals")]
    NotDecimal {
        /// Symbol.
        symbol: String,
        /// Field name.
        field: &'static str,
        /// The text.
        text: String,
    },
    /// Tick or lot size is zero.
    #[error("{symbol}: {field} is zero")]
    Zero {
        /// Symbol.
        symbol: String,
        /// Field name.
        field: &'static str,
    },
    /// A price is not on the tick or a quantity not on the lot.
    #[error("{symbol}: {field} {text} is not a multiple of {step}")]
    OffGrid {
        /// Symbol.
        symbol: String,
        /// Field name.
        field: &'static str,
        /// The text.
        text: String,
        /// The tick or lot size.
        step: String,
    },
    /// `min_qty > max_qty`.
    #[error("{symbol}: min_qty is above max_qty")]
    QtyRange {
        /// Symbol.
        symbol: String,
    },
    /// The start price is too close to zero for the flow's price offsets.
    #[error("{symbol}: start price is {start_ticks} ticks; it must exceed {needed} ticks")]
    StartTooLow {
        /// Symbol.
        symbol: String,
        /// Start price in ticks.
        start_ticks: u64,
        /// The least start price in ticks the configuration needs.
        needed: u64,
    },
}

/// Number of decimals a decimal text needs (trailing zeros ignored).
fn decimals(text: &str) -> usize {
    match text.split_once('.') {
        Some((_, frac)) => frac.trim_end_matches('0').len(),
        None => 0,
    }
}

/// A parsed symbol: integer ticks and lots with the scales to print them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolGrid {
    /// Symbol name.
    pub name: String,
    price_scale: u8,
    tick_units: u128,
    qty_scale: u8,
    lot_units: u128,
    /// Start price in ticks.
    pub start_ticks: u64,
    /// Smallest quantity in lots.
    pub min_lots: u64,
    /// Largest quantity in lots.
    pub max_lots: u64,
}

impl SymbolGrid {
    /// Parses a spec. Prices print with the tick's decimals, quantities with the lot's.
    pub fn parse(spec: &SymbolSpec) -> Result<SymbolGrid, SpecError> {
        let name = spec.name.clone();
        let scale_of = |field: &'static str, text: &str| {
            u8::try_from(decimals(text))
                .ok()
                .filter(|s| *s <= 18)
                .ok_or_else(|| SpecError::NotDecimal {
                    symbol: name.clone(),
                    field,
                    text: text.to_string(),
                })
        };
        let price_scale = scale_of("tick_size", &spec.tick_size)?;
        let qty_scale = scale_of("lot_size", &spec.lot_size)?;
        let units = |field: &'static str, text: &str, scale: u8| {
            parse_units(field, text, scale).map_err(|_| SpecError::NotDecimal {
                symbol: name.clone(),
                field,
                text: text.to_string(),
            })
        };
        let tick_units = units("tick_size", &spec.tick_size, price_scale)?;
        let lot_units = units("lot_size", &spec.lot_size, qty_scale)?;
        for (field, v) in [("tick_size", tick_units), ("lot_size", lot_units)] {
            if v == 0 {
                return Err(SpecError::Zero {
                    symbol: name.clone(),
                    field,
                });
            }
        }
        let steps = |field: &'static str, text: &str, scale: u8, step: u128, step_text: &str| {
            let v = units(field, text, scale)?;
            let off = || SpecError::OffGrid {
                symbol: name.clone(),
                field,
                text: text.to_string(),
                step: step_text.to_string(),
            };
            if v % step != 0 {
                return Err(off());
            }
            u64::try_from(v / step).map_err(|_| off())
        };
        let start_ticks = steps(
            "start_price",
            &spec.start_price,
            price_scale,
            tick_units,
            &spec.tick_size,
        )?;
        let min_lots = steps(
            "min_qty",
            &spec.min_qty,
            qty_scale,
            lot_units,
            &spec.lot_size,
        )?;
        let max_lots = steps(
            "max_qty",
            &spec.max_qty,
            qty_scale,
            lot_units,
            &spec.lot_size,
        )?;
        if min_lots > max_lots || min_lots == 0 {
            return Err(SpecError::QtyRange { symbol: name });
        }
        Ok(SymbolGrid {
            name,
            price_scale,
            tick_units,
            qty_scale,
            lot_units,
            start_ticks,
            min_lots,
            max_lots,
        })
    }

    /// A price in ticks as a decimal string.
    pub fn price(&self, ticks: u64) -> String {
        format_units(u128::from(ticks) * self.tick_units, self.price_scale)
    }

    /// A quantity in lots as a decimal string.
    pub fn qty(&self, lots: u64) -> String {
        format_units(u128::from(lots) * self.lot_units, self.qty_scale)
    }

    /// Parses a price string back to ticks (`None` when off tick or malformed).
    pub fn price_ticks(&self, text: &str) -> Option<u64> {
        let v = parse_units("price", text, self.price_scale).ok()?;
        (v % self.tick_units == 0)
            .then(|| u64::try_from(v / self.tick_units).ok())
            .flatten()
    }

    /// Parses a quantity string back to lots (`None` when off lot or malformed).
    pub fn qty_lots(&self, text: &str) -> Option<u64> {
        let v = parse_units("quantity", text, self.qty_scale).ok()?;
        (v % self.lot_units == 0)
            .then(|| u64::try_from(v / self.lot_units).ok())
            .flatten()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn grids_print_exact_decimals() {
        // (tick, lot, start, ticks to print, price text, lots to print, qty text)
        let cases = [
            (
                "0.01",
                "0.00001",
                "50000.00",
                5_000_001,
                "50000.01000000",
                3,
                "0.00003000",
            ),
            (
                "0.10",
                "0.001",
                "3000",
                29_999,
                "2999.90000000",
                1_000,
                "1.00000000",
            ),
            ("1", "1", "100", 7, "7.00000000", 12, "12.00000000"),
            (
                "0.000001",
                "0.0001",
                "0.050000",
                50_001,
                "0.05000100",
                1,
                "0.00010000",
            ),
            ("0.5", "0.25", "10", 3, "1.50000000", 3, "0.75000000"),
            (
                "0.000000000000000001",
                "1",
                "1",
                1,
                "0.000000000000000001",
                1,
                "1.00000000",
            ),
        ];
        for (tick, lot, start, t, p, l, q) in cases {
            let g = SymbolGrid::parse(&SymbolSpec::new("S", tick, lot, start, lot, lot)).unwrap();
            assert_eq!(g.price(t), p, "{tick}");
            assert_eq!(g.qty(l), q, "{lot}");
            assert_eq!(g.price_ticks(p), Some(t));
            assert_eq!(g.qty_lots(q), Some(l));
        }
        let g = SymbolGrid::parse(&SymbolSpec::new("S", "0.5", "0.25", "10", "0.5", "1")).unwrap();
        assert_eq!((g.start_ticks, g.min_lots, g.max_lots), (20, 2, 4));
        assert_eq!(g.price_ticks("1.2"), None);
        assert_eq!(g.qty_lots("0.3"), None);
    }

    #[test]
    fn bad_specs_are_named() {
        let s = |tick: &str, lot: &str, start: &str, min: &str, max: &str| {
            SymbolGrid::parse(&SymbolSpec::new("S", tick, lot, start, min, max)).unwrap_err()
        };
        assert!(matches!(
            s("0", "1", "1", "1", "1"),
            SpecError::Zero {
                field: "tick_size",
                ..
            }
        ));
        assert!(matches!(
            s("1", "0.0", "1", "1", "1"),
            SpecError::Zero {
                field: "lot_size",
                ..
            }
        ));
        assert!(matches!(
            s("0.02", "1", "1.01", "1", "1"),
            SpecError::OffGrid {
                field: "start_price",
                ..
            }
        ));
        assert!(matches!(
            s("0.01", "0.1", "1", "0.15", "1"),
            SpecError::NotDecimal {
                field: "min_qty",
                ..
            }
        ));
        assert!(matches!(
            s("0.01", "0.2", "1", "0.2", "0.3"),
            SpecError::OffGrid {
                field: "max_qty",
                ..
            }
        ));
        assert!(matches!(
            s("abc", "1", "1", "1", "1"),
            SpecError::NotDecimal { .. }
        ));
        assert!(matches!(
            s("-1", "1", "1", "1", "1"),
            SpecError::NotDecimal { .. }
        ));
        assert!(matches!(
            s("1", "1", "1", "2", "1"),
            SpecError::QtyRange { .. }
        ));
        assert!(matches!(
            s("1", "1", "1", "0", "1"),
            SpecError::QtyRange { .. }
        ));
    }
}
