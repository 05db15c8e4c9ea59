//! Decimal strings at the edge <-> the matcher's fixed-point integers, per symbol.
//!
//! Binance sends prices and quantities as decimal strings (`"52000.00"`, `"0.01000000"`) and
//! prints them with 8 decimals. The matcher works in ticks (price), lots (quantity) and
//! minimal asset units (see `matcher::config`). This module converts both ways exactly:
//!
//! * Parsing checks, in Binance's order: empty (`-1102`), the legal grammar
//!   `^([0-9]{1,20})(\.[0-9]{1,20})?$` (`-1100`; signs, exponents, spaces and other
//!   characters are illegal), more significant decimals than the asset's scale (`-1111`),
//!   then the symbol filters: zero, off-tick or above `max_price` (`PRICE_FILTER`), zero,
//!   off-step, below `min_qty` or above `max_qty` (`LOT_SIZE`), and `price * quantity` below
//!   `min_notional` (`NOTIONAL`), all `-1013`.
//! * Digits are converted with integer arithmetic: at most 20 integer digits times
//!   `10^18` is below `10^38 < u128::MAX`, so a legal string never overflows. rust_decimal's
//!   96-bit mantissa (28-29 digits) cannot hold every legal value of an 18-decimal asset, so
//!   it is used where it can be exact: [`units_to_decimal`] / [`decimal_to_units`] for
//!   NUMERIC columns, and as the independent oracle of the parser in the tests.
//! * Formatting prints at least 8 decimals (`"0.01000000"`, as Binance does); an asset with
//!   more than 8 decimals prints as many as the value needs (up to its scale), never rounding
//!   money away.

use crate::errors::{ApiError, Filter};
use matcher::config::MAX_ASSET_SCALE;
use matcher::{AssetConfig, SymbolConfig};
use rust_decimal::Decimal;

/// The legal range of a decimal parameter, as Binance prints it in `-1100`.
pub const DECIMAL_LEGAL_RANGE: &str = "^([0-9]{1,20})(\\.[0-9]{1,20})?$";
/// Decimals Binance prints in price and quantity fields.
pub const BINANCE_DECIMALS: u8 = 8;
/// Most digits on either side of the decimal point.
const MAX_DIGITS: usize = 20;

/// Why a symbol's units cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnitsError {
    /// The asset configs are not the symbol's base and quote.
    #[error("asset {0} is not the symbol's {1} asset")]
    AssetMismatch(u32, &'static str),
    /// An asset scale above the matcher's maximum.
    #[error("asset scale {0} exceeds {MAX_ASSET_SCALE}")]
    Scale(u8),
    /// Zero tick or lot size, or `tick * lot / 10^base_scale` is not a whole quote unit.
    #[error("tick size and lot size do not convert exactly")]
    TickLot,
    /// A value that does not fit rust_decimal's 96-bit mantissa, or a negative or too
    /// precise decimal.
    #[error("value cannot be represented exactly")]
    Inexact,
}

/// The conversion rules of one symbol, built from the matcher's configs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolUnits {
    base_scale: u8,
    quote_scale: u8,
    tick_size: u128,
    lot_size: u128,
    min_qty: u64,
    max_qty: u64,
    max_price: u64,
    min_notional: u128,
    quote_per_tick_lot: u128,
}

impl SymbolUnits {
    /// Builds the rules of `symbol` whose base and quote assets are `base` and `quote`.
    pub fn new(
        symbol: &SymbolConfig,
        base: &AssetConfig,
        quote: &AssetConfig,
    ) -> Result<Self, UnitsError> {
        if base.id != symbol.base {
            return Err(UnitsError::AssetMismatch(base.id.0, "base"));
        }
        if quote.id != symbol.quote {
            return Err(UnitsError::AssetMismatch(quote.id.0, "quote"));
        }
        for scale in [base.scale, quote.scale] {
            if scale > MAX_ASSET_SCALE {
                return Err(UnitsError::Scale(scale));
            }
        }
        if symbol.tick_size == 0 || symbol.lot_size == 0 {
            return Err(UnitsError::TickLot);
        }
        let one_base = pow10(base.scale);
        let product = symbol
            .tick_size
            .checked_mul(symbol.lot_size)
            .ok_or(UnitsError::TickLot)?;
        if product % one_base != 0 || product / one_base == 0 {
            return Err(UnitsError::TickLot);
        }
        Ok(Self {
            base_scale: base.scale,
            quote_scale: quote.scale,
            tick_size: symbol.tick_size,
            lot_size: symbol.lot_size,
            min_qty: symbol.min_qty,
            max_qty: symbol.max_qty,
            max_price: symbol.max_price,
            min_notional: symbol.min_notional,
            quote_per_tick_lot: product / one_base,
        })
    }

    /// Parses a price string (quote asset per whole base unit) to ticks.
    pub fn parse_price(&self, param: &str, text: &str) -> Result<u64, ApiError> {
        let units = parse_units(param, text, self.quote_scale)?;
        let fail = ApiError::FilterFailure(Filter::PriceFilter);
        if units % self.tick_size != 0 {
            return Err(fail);
        }
        match u64::try_from(units / self.tick_size) {
            Ok(ticks) if ticks >= 1 && ticks <= self.max_price => Ok(ticks),
            _ => Err(fail),
        }
    }

    /// Parses a quantity string (base asset) to lots.
    pub fn parse_quantity(&self, param: &str, text: &str) -> Result<u64, ApiError> {
        let units = parse_units(param, text, self.base_scale)?;
        let fail = ApiError::FilterFailure(Filter::LotSize);
        if units % self.lot_size != 0 {
            return Err(fail);
        }
        match u64::try_from(units / self.lot_size) {
            Ok(lots) if lots >= 1 && lots >= self.min_qty && lots <= self.max_qty => Ok(lots),
            _ => Err(fail),
        }
    }

    /// Parses a quote amount (`quoteOrderQty`) to quote minimal units; zero or below the
    /// symbol's minimum notional is `NOTIONAL`.
    pub fn parse_quote_amount(&self, param: &str, text: &str) -> Result<u128, ApiError> {
        let units = parse_units(param, text, self.quote_scale)?;
        if units == 0 || units < self.min_notional {
            return Err(ApiError::FilterFailure(Filter::Notional));
        }
        Ok(units)
    }

    /// The notional filter of a LIMIT order: `price * qty` in quote units must reach the
    /// symbol's minimum.
    pub fn check_notional(&self, price_ticks: u64, qty_lots: u64) -> Result<(), ApiError> {
        let notional = u128::from(price_ticks)
            .checked_mul(u128::from(qty_lots))
            .and_then(|pq| pq.checked_mul(self.quote_per_tick_lot));
        match notional {
            // An overflowing product is far above any minimum.
            None => Ok(()),
            Some(n) if n >= self.min_notional => Ok(()),
            Some(_) => Err(ApiError::FilterFailure(Filter::Notional)),
        }
    }

    /// Formats a price in ticks as a Binance decimal string.
    pub fn format_price(&self, ticks: u64) -> String {
        self.price_text(ticks).into()
    }

    /// Formats a quantity in lots as a Binance decimal string.
    pub fn format_quantity(&self, lots: u64) -> String {
        self.quantity_text(lots).into()
    }

    /// Formats an amount of the base asset in minimal units.
    pub fn format_base(&self, units: u128) -> String {
        format_units(units, self.base_scale)
    }

    /// Formats an amount of the quote asset in minimal units.
    pub fn format_quote(&self, units: u128) -> String {
        self.quote_text(units).into()
    }

    /// [`format_price`](Self::format_price) without allocating.
    pub fn price_text(&self, ticks: u64) -> DecimalText {
        product_text(ticks, self.tick_size, self.quote_scale)
    }

    /// [`format_quantity`](Self::format_quantity) without allocating.
    pub fn quantity_text(&self, lots: u64) -> DecimalText {
        product_text(lots, self.lot_size, self.base_scale)
    }

    /// [`format_quote`](Self::format_quote) without allocating.
    pub fn quote_text(&self, units: u128) -> DecimalText {
        units_text(units, self.quote_scale)
    }
}

/// A formatted decimal, held inline: the hot responses put several in each body, and a
/// `String` apiece was an allocation and a free per field. Every value an asset of scale
/// <= 18 can print fits the inline buffer (at most 59 integer digits, the point and 8
/// decimals, or `0.` and 18 decimals); a longer text (only from a larger scale) is kept on
/// the heap rather than cut.
#[derive(Clone, PartialEq, Eq)]
pub struct DecimalText(TextRepr);

#[derive(Clone, PartialEq, Eq)]
enum TextRepr {
    Inline { len: u8, bytes: [u8; INLINE_TEXT] },
    Heap(Box<str>),
}

/// Bytes of [`DecimalText`]'s inline buffer (see there).
const INLINE_TEXT: usize = 72;

impl DecimalText {
    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Only ASCII digits and '.' are ever written, so this never fails.
            TextRepr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            TextRepr::Heap(s) => s,
        }
    }

    /// Places the decimal point `scale` digits from the right of the ASCII digit string
    /// `digits` (no leading zeros) and prints at least [`BINANCE_DECIMALS`] decimals.
    fn from_digits(digits: &[u8], scale: u8) -> DecimalText {
        let scale = usize::from(scale);
        let min = usize::from(BINANCE_DECIMALS);
        let (int, frac): (&[u8], &[u8]) = if digits.len() > scale {
            digits.split_at(digits.len() - scale)
        } else {
            (b"0", digits)
        };
        // The decimals are `lead` zeros, then `frac`; trailing zeros go, down to `min`
        // decimals, and zeros are added up to `min`.
        let lead = scale - frac.len();
        let significant = frac.len() - frac.iter().rev().take_while(|&&d| d == b'0').count();
        let frac = &frac[..significant];
        let lead = if frac.is_empty() { 0 } else { lead };
        let trail = min.saturating_sub(lead + frac.len());
        let len = int.len() + 1 + lead + frac.len() + trail;
        let mut bytes = [b'0'; INLINE_TEXT];
        let out: &mut [u8] = if len <= INLINE_TEXT {
            &mut bytes[..len]
        } else {
            return DecimalText(TextRepr::Heap(Self::heap(int, lead, frac, trail)));
        };
        out[..int.len()].copy_from_slice(int);
        out[int.len()] = b'.';
        let start = int.len() + 1 + lead;
        out[start..start + frac.len()].copy_from_slice(frac);
        // The lead and trail zeros are the buffer's initial zeros.
        DecimalText(TextRepr::Inline {
            len: u8::try_from(len).unwrap_or(0),
            bytes,
        })
    }

    fn heap(int: &[u8], lead: usize, frac: &[u8], trail: usize) -> Box<str> {
        let mut s = String::with_capacity(int.len() + 1 + lead + frac.len() + trail);
        s.extend(int.iter().map(|&b| char::from(b)));
        s.push('.');
        s.extend(std::iter::repeat_n('0', lead));
        s.extend(frac.iter().map(|&b| char::from(b)));
        s.extend(std::iter::repeat_n('0', trail));
        s.into_boxed_str()
    }
}

impl std::ops::Deref for DecimalText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for DecimalText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for DecimalText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<DecimalText> for String {
    fn from(t: DecimalText) -> String {
        match t.0 {
            TextRepr::Heap(s) => s.into(),
            TextRepr::Inline { .. } => t.as_str().to_owned(),
        }
    }
}

impl PartialEq<&str> for DecimalText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for DecimalText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Formats `a * b` minimal units (a count of ticks or lots times their size) exactly.
fn product_text(a: u64, b: u128, scale: u8) -> DecimalText {
    match u128::from(a).checked_mul(b) {
        Some(units) => units_text(units, scale),
        None => DecimalText::from_digits(&mul_digits(a, b), scale),
    }
}

fn pow10(exp: u8) -> u128 {
    10u128.pow(u32::from(exp))
}

/// Parses a decimal string to minimal units of an asset with `scale` decimals
/// (`scale <= 18`). See the module docs for the checks and their error codes.
pub fn parse_units(param: &str, text: &str, scale: u8) -> Result<u128, ApiError> {
    if text.is_empty() {
        return Err(ApiError::MandatoryParam {
            param: param.to_string(),
        });
    }
    let illegal = || ApiError::IllegalChars {
        param: param.to_string(),
        legal_range: DECIMAL_LEGAL_RANGE,
    };
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    let digits_ok =
        |s: &str| !s.is_empty() && s.len() <= MAX_DIGITS && s.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok(int) || !frac.is_none_or(digits_ok) {
        return Err(illegal());
    }
    let frac = frac.unwrap_or("").trim_end_matches('0');
    if scale > MAX_ASSET_SCALE || frac.len() > usize::from(scale) {
        return Err(ApiError::BadPrecision);
    }
    // Both parts are at most 20 ASCII digits: they fit u128, and int * 10^18 < 10^38.
    let to_u128 = |s: &str| {
        s.bytes().try_fold(0u128, |acc, b| {
            acc.checked_mul(10)?.checked_add(u128::from(b - b'0'))
        })
    };
    let whole = to_u128(int).ok_or_else(illegal)?;
    let part = to_u128(frac).ok_or_else(illegal)?;
    // frac.len() <= scale <= 18, so the exponent fits u8.
    let frac_exp = scale - u8::try_from(frac.len()).map_err(|_| ApiError::BadPrecision)?;
    whole
        .checked_mul(pow10(scale))
        .and_then(|w| w.checked_add(part * pow10(frac_exp)))
        .ok_or_else(illegal)
}

/// Formats minimal units of an asset with `scale` decimals: at least 8 decimals, more only
/// when the value needs them.
pub fn format_units(units: u128, scale: u8) -> String {
    units_text(units, scale).into()
}

/// [`format_units`] without allocating (for any scale up to 18).
pub fn units_text(units: u128, scale: u8) -> DecimalText {
    // u128::MAX has 39 digits. Values that fit u64 (nearly all) skip u128 division.
    let mut buf = [0u8; 39];
    let mut start = buf.len();
    match u64::try_from(units) {
        Ok(mut n) => loop {
            start -= 1;
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        },
        Err(_) => {
            let mut n = units;
            loop {
                start -= 1;
                buf[start] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
        }
    }
    DecimalText::from_digits(&buf[start..], scale)
}

/// Decimal digits (most significant first) of `a * b`, exact for every input.
fn mul_digits(a: u64, b: u128) -> Vec<u8> {
    // Schoolbook: each digit of b times a, plus the carry, stays below 10 * 2^64 + carry,
    // and the carry stays below a, so nothing overflows u128.
    let mut out = Vec::with_capacity(64);
    let mut carry: u128 = 0;
    for d in b.to_string().bytes().rev() {
        let v = u128::from(d - b'0') * u128::from(a) + carry;
        out.push(b'0' + (v % 10) as u8);
        carry = v / 10;
    }
    while carry > 0 {
        out.push(b'0' + (carry % 10) as u8);
        carry /= 10;
    }
    while out.len() > 1 && out.last() == Some(&b'0') {
        out.pop();
    }
    out.reverse();
    out
}

/// Minimal units as an exact `Decimal` (for NUMERIC columns). Fails when the value does not
/// fit rust_decimal's 96-bit mantissa.
pub fn units_to_decimal(units: u128, scale: u8) -> Result<Decimal, UnitsError> {
    let mantissa = i128::try_from(units).map_err(|_| UnitsError::Inexact)?;
    Decimal::try_from_i128_with_scale(mantissa, u32::from(scale)).map_err(|_| UnitsError::Inexact)
}

/// An exact `Decimal` as minimal units of an asset with `scale` decimals. Fails on negative
/// values, more significant decimals than `scale`, or overflow.
pub fn decimal_to_units(value: Decimal, scale: u8) -> Result<u128, UnitsError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(UnitsError::Inexact);
    }
    let value = value.normalize();
    let have = value.scale();
    let want = u32::from(scale);
    if have > want {
        return Err(UnitsError::Inexact);
    }
    let mantissa = value.mantissa().unsigned_abs();
    10u128
        .checked_pow(want - have)
        .and_then(|p| mantissa.checked_mul(p))
        .ok_or(UnitsError::Inexact)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use matcher::{AssetId, SymbolId};
    use proptest::prelude::*;
    use std::str::FromStr;

    fn asset(id: u32, scale: u8) -> AssetConfig {
        AssetConfig {
            id: AssetId(id),
            code: format!("A{id}"),
            scale,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn symbol(
        base_scale: u8,
        quote_scale: u8,
        tick_size: u128,
        lot_size: u128,
        min_qty: u64,
        max_qty: u64,
        max_price: u64,
        min_notional: u128,
    ) -> Result<SymbolUnits, UnitsError> {
        let cfg = SymbolConfig {
            id: SymbolId(1),
            name: "AB".into(),
            base: AssetId(1),
            quote: AssetId(2),
            tick_size,
            lot_size,
            min_qty,
            max_qty,
            max_price,
            min_notional,
            maker_fee_ppm: 0,
            taker_fee_ppm: 0,
        };
        SymbolUnits::new(&cfg, &asset(1, base_scale), &asset(2, quote_scale))
    }

    /// BTC (8 decimals) / USDT (6 decimals): tick 0.01 USDT, step 0.0001 BTC, quantity
    /// 0.0001..=9000 BTC, price up to 1,000,000.00, min notional 5 USDT.
    fn btcusdt() -> SymbolUnits {
        symbol(8, 6, 10_000, 10_000, 1, 90_000_000, 100_000_000, 5_000_000).unwrap()
    }

    fn price_filter() -> ApiError {
        ApiError::FilterFailure(Filter::PriceFilter)
    }
    fn lot_size() -> ApiError {
        ApiError::FilterFailure(Filter::LotSize)
    }
    fn illegal(p: &str) -> ApiError {
        ApiError::IllegalChars {
            param: p.into(),
            legal_range: DECIMAL_LEGAL_RANGE,
        }
    }

    #[test]
    fn price_cases() {
        let s = btcusdt();
        let cases: Vec<(&str, Result<u64, ApiError>)> = vec![
            ("52000.00", Ok(5_200_000)),
            ("52000", Ok(5_200_000)),
            ("52000.010000", Ok(5_200_001)),
            ("0.01", Ok(1)),
            ("0.01000000", Ok(1)),
            ("00000.01", Ok(1)),
            ("1000000.00", Ok(100_000_000)),
            ("1000000.01", Err(price_filter())),
            ("0", Err(price_filter())),
            ("0.00", Err(price_filter())),
            ("0.001", Err(price_filter())),
            ("52000.005", Err(price_filter())),
            ("52000.0000001", Err(ApiError::BadPrecision)),
            ("99999999999999999999.99", Err(price_filter())),
            (
                "",
                Err(ApiError::MandatoryParam {
                    param: "price".into(),
                }),
            ),
            ("-1", Err(illegal("price"))),
            ("+1", Err(illegal("price"))),
            ("1e3", Err(illegal("price"))),
            (" 1", Err(illegal("price"))),
            ("1 ", Err(illegal("price"))),
            (".5", Err(illegal("price"))),
            ("5.", Err(illegal("price"))),
            ("1.2.3", Err(illegal("price"))),
            ("1,5", Err(illegal("price"))),
            ("١", Err(illegal("price"))),
            ("NaN", Err(illegal("price"))),
            ("123456789012345678901", Err(illegal("price"))),
            ("1.123456789012345678901", Err(illegal("price"))),
            (
                "12345678901234567890.12345678901234567890",
                Err(ApiError::BadPrecision),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(s.parse_price("price", text), want, "{text:?}");
        }
    }

    #[test]
    fn quantity_cases() {
        let s = btcusdt();
        let cases: Vec<(&str, Result<u64, ApiError>)> = vec![
            ("0.01000000", Ok(100)),
            ("0.0001", Ok(1)),
            ("9000", Ok(90_000_000)),
            ("9000.0001", Err(lot_size())),
            ("0", Err(lot_size())),
            ("0.00005", Err(lot_size())),
            ("1.00000001", Err(lot_size())),
            ("1.000000001", Err(ApiError::BadPrecision)),
            ("1.0000000010", Err(ApiError::BadPrecision)),
            ("1.00000000000000000000", Ok(10_000)),
            ("-0.01", Err(illegal("quantity"))),
        ];
        for (text, want) in cases {
            assert_eq!(s.parse_quantity("quantity", text), want, "{text:?}");
        }
        // min_qty is enforced.
        let strict = symbol(8, 6, 10_000, 10_000, 10, 100, 100, 0).unwrap();
        assert_eq!(strict.parse_quantity("q", "0.0009"), Err(lot_size()));
        assert_eq!(strict.parse_quantity("q", "0.001"), Ok(10));
    }

    #[test]
    fn notional_and_quote_amounts() {
        let s = btcusdt();
        // 1 tick * 1 lot = 0.01 * 0.0001 = 0.000001 USDT = 1 minimal unit.
        let price = s.parse_price("price", "50000").unwrap();
        assert_eq!(
            s.check_notional(price, s.parse_quantity("q", "0.0001").unwrap()),
            Ok(())
        );
        assert_eq!(
            s.check_notional(s.parse_price("p", "49999.99").unwrap(), 1),
            Err(ApiError::FilterFailure(Filter::Notional))
        );
        assert_eq!(s.check_notional(u64::MAX, u64::MAX), Ok(()));
        assert_eq!(s.parse_quote_amount("quoteOrderQty", "5"), Ok(5_000_000));
        assert_eq!(
            s.parse_quote_amount("quoteOrderQty", "4.999999"),
            Err(ApiError::FilterFailure(Filter::Notional))
        );
        assert_eq!(
            s.parse_quote_amount("quoteOrderQty", "5.0000001"),
            Err(ApiError::BadPrecision)
        );
    }

    #[test]
    fn formatting_cases() {
        let s = btcusdt();
        assert_eq!(s.format_price(5_200_000), "52000.00000000");
        assert_eq!(s.format_price(1), "0.01000000");
        assert_eq!(s.format_price(0), "0.00000000");
        assert_eq!(s.format_quantity(100), "0.01000000");
        assert_eq!(s.format_quantity(90_000_000), "9000.00000000");
        assert_eq!(s.format_base(1), "0.00000001");
        assert_eq!(s.format_quote(123_456_789), "123.45678900");
        assert_eq!(format_units(0, 0), "0.00000000");
        assert_eq!(format_units(7, 0), "7.00000000");
        // More than 8 decimals only when the value needs them.
        assert_eq!(format_units(1, 18), "0.000000000000000001");
        assert_eq!(format_units(10u128.pow(18), 18), "1.00000000");
        assert_eq!(format_units(1_500_000_000_000_000_000, 18), "1.50000000");
        assert_eq!(
            format_units(u128::MAX, 0),
            format!("{}.00000000", u128::MAX)
        );
        // ticks * tick_size beyond u128 is still exact.
        let huge = symbol(0, 0, 10u128.pow(30), 1, 1, 1, u64::MAX, 0).unwrap();
        assert_eq!(
            huge.format_price(u64::MAX),
            format!("{}{}.00000000", u64::MAX, "0".repeat(30))
        );
    }

    #[test]
    fn construction_checks() {
        assert_eq!(
            symbol(8, 6, 10_000, 1_000, 1, 1, 1, 0),
            Err(UnitsError::TickLot)
        );
        assert_eq!(symbol(8, 6, 0, 1, 1, 1, 1, 0), Err(UnitsError::TickLot));
        assert_eq!(symbol(19, 6, 1, 1, 1, 1, 1, 0), Err(UnitsError::Scale(19)));
        let cfg = SymbolConfig {
            id: SymbolId(1),
            name: "AB".into(),
            base: AssetId(1),
            quote: AssetId(2),
            tick_size: 1,
            lot_size: 1,
            min_qty: 1,
            max_qty: 1,
            max_price: 1,
            min_notional: 0,
            maker_fee_ppm: 0,
            taker_fee_ppm: 0,
        };
        assert_eq!(
            SymbolUnits::new(&cfg, &asset(2, 0), &asset(2, 0)),
            Err(UnitsError::AssetMismatch(2, "base"))
        );
    }

    #[test]
    fn decimal_bridge() {
        let d = units_to_decimal(1_000_000, 8).unwrap();
        assert_eq!(d.to_string(), "0.01000000");
        assert_eq!(decimal_to_units(d, 8), Ok(1_000_000));
        assert_eq!(
            decimal_to_units(Decimal::from_str("0.01").unwrap(), 6),
            Ok(10_000)
        );
        assert_eq!(
            decimal_to_units(Decimal::from_str("0.0000001").unwrap(), 6),
            Err(UnitsError::Inexact)
        );
        assert_eq!(
            decimal_to_units(Decimal::from_str("-1").unwrap(), 6),
            Err(UnitsError::Inexact)
        );
        assert_eq!(
            units_to_decimal(10u128.pow(30), 18),
            Err(UnitsError::Inexact)
        );
    }

    /// A random valid symbol: scales, power-of-ten or odd tick/lot sizes that convert exactly.
    fn any_symbol() -> impl Strategy<Value = SymbolUnits> {
        (
            0u8..=18,
            0u8..=18,
            0u32..=6,
            1u128..=50,
            0u32..=6,
            1u128..=50,
        )
            .prop_filter_map(
                "tick * lot must be a whole quote unit",
                |(bs, qs, te, tm, le, lm)| {
                    let tick = tm * 10u128.pow(te.min(u32::from(qs)));
                    let lot = lm * 10u128.pow(u32::from(bs).saturating_sub(le));
                    symbol(bs, qs, tick, lot, 1, u64::MAX, u64::MAX, 0).ok()
                },
            )
    }

    /// The formatting by plain integer arithmetic and `format!`, for comparison.
    fn reference_format(units: u128, scale: u8) -> String {
        let p = 10u128.pow(u32::from(scale));
        let frac = format!("{:0width$}", units % p, width = usize::from(scale));
        let trimmed = frac.trim_end_matches('0');
        format!("{}.{:0<8}", units / p, trimmed)
    }

    proptest! {
        /// Formatting equals the reference for any amount and scale, and a product of ticks
        /// or lots and their size formats the same by the fast path and the schoolbook one.
        #[test]
        fn formatting_matches_the_reference(
            units in prop_oneof![any::<u64>().prop_map(u128::from), any::<u128>(), 0u128..1000],
            scale in 0u8..=18,
            a in any::<u64>(),
            b in prop_oneof![1u128..=10u128.pow(19), any::<u128>()],
            wide_scale in 19u8..=38,
        ) {
            prop_assert_eq!(format_units(units, scale), reference_format(units, scale));
            // Beyond the assets' scales the text may outgrow the inline buffer.
            prop_assert_eq!(format_units(units, wide_scale), reference_format(units, wide_scale));
            if let Some(product) = u128::from(a).checked_mul(b) {
                prop_assert_eq!(
                    product_text(a, b, scale),
                    DecimalText::from_digits(&mul_digits(a, b), scale)
                );
                prop_assert_eq!(String::from(product_text(a, b, scale)), reference_format(product, scale));
            }
        }

        #[test]
        fn price_and_quantity_round_trip(
            s in any_symbol(), ticks in 1u64..=10u64.pow(17), lots in 1u64..=10u64.pow(17)
        ) {
            // Every tick and lot of any_symbol() is at most 50 whole units, so these values
            // stay within the 20 integer digits of the legal grammar.
            let p = s.format_price(ticks);
            prop_assert_eq!(s.parse_price("price", &p), Ok(ticks), "{}", p);
            let q = s.format_quantity(lots);
            prop_assert_eq!(s.parse_quantity("quantity", &q), Ok(lots), "{}", q);
        }

        #[test]
        fn units_round_trip(scale in 0u8..=18, units in any::<u128>()) {
            let max = 10u128.pow(20 + u32::from(scale)) - 1;
            let units = units % max;
            prop_assert_eq!(parse_units("x", &format_units(units, scale), scale), Ok(units));
        }

        #[test]
        fn parse_never_panics(text in any::<String>(), scale in 0u8..=25, s in any_symbol()) {
            let _ = parse_units("x", &text, scale);
            let _ = s.parse_price("price", &text);
            let _ = s.parse_quantity("quantity", &text);
            let _ = s.parse_quote_amount("quoteOrderQty", &text);
        }

        #[test]
        fn parse_never_panics_on_near_misses(text in "[0-9.+eE -]{0,45}", scale in 0u8..=18) {
            let _ = parse_units("x", &text, scale);
        }

        /// rust_decimal as the independent oracle wherever it can hold the value.
        #[test]
        fn agrees_with_rust_decimal(int in "[0-9]{1,12}", frac in proptest::option::of("[0-9]{1,12}"),
                                    scale in 0u8..=12) {
            let text = match &frac { Some(f) => format!("{int}.{f}"), None => int.clone() };
            let oracle = Decimal::from_str_exact(&text).unwrap();
            let scaled = oracle * Decimal::from(10u64.pow(u32::from(scale)));
            let got = parse_units("x", &text, scale);
            if scaled.fract().is_zero() {
                let want = u128::try_from(scaled.mantissa()).unwrap()
                    / 10u128.pow(scaled.scale());
                prop_assert_eq!(got, Ok(want));
                prop_assert_eq!(decimal_to_units(oracle, scale), Ok(want));
            } else {
                prop_assert_eq!(got, Err(ApiError::BadPrecision));
            }
        }
    }
}
