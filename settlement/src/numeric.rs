//! Exact `u128` amounts as Postgres `NUMERIC` in the binary wire format.
//!
//! Amounts are stored in minimal units as `NUMERIC(39,0)`: every `u128` fits, exactly.
//! rust_decimal's 96-bit mantissa (about 7.9e28) cannot hold every amount the matcher allows
//! (its supply cap is 1e30 minimal units), so this module writes and reads NUMERIC's binary
//! form directly: a header (digit count, weight, sign, display scale) and base-10000 digits.

use bytes::{BufMut, BytesMut};
use std::error::Error;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

/// A non-negative integer amount in minimal units, as `NUMERIC` on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(pub u128);

const NBASE: u128 = 10_000;
const SIGN_POS: u16 = 0x0000;
const SIGN_NEG: u16 = 0x4000;

/// Why a NUMERIC could not be read as an [`Amount`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumericError {
    /// Fewer bytes than the header or digits announce.
    #[error("truncated NUMERIC")]
    Truncated,
    /// Negative, NaN or infinite.
    #[error("NUMERIC is negative or not a number")]
    NotNonNegative,
    /// Has a non-zero fractional part.
    #[error("NUMERIC has a fractional part")]
    Fractional,
    /// Larger than `u128::MAX`.
    #[error("NUMERIC exceeds u128")]
    Overflow,
    /// A base-10000 digit outside 0..=9999.
    #[error("NUMERIC digit out of range")]
    BadDigit,
}

impl Amount {
    /// Appends the binary NUMERIC encoding (display scale 0).
    pub fn encode(self, out: &mut BytesMut) {
        let mut digits = [0u16; 10]; // u128::MAX has 39 decimal digits: 10 base-10000 digits
        let mut n = 0;
        let mut v = self.0;
        while v > 0 {
            digits[n] = (v % NBASE) as u16;
            v /= NBASE;
            n += 1;
        }
        // digits[0..n] are least significant first; trailing (least significant) zero digits
        // are not sent, the weight places the rest.
        let lowest = digits[..n].iter().position(|d| *d != 0).unwrap_or(n);
        let ndigits = n - lowest;
        let weight = if n == 0 { 0 } else { n as i16 - 1 };
        out.reserve(8 + 2 * ndigits);
        out.put_i16(ndigits as i16);
        out.put_i16(weight);
        out.put_u16(SIGN_POS);
        out.put_u16(0);
        for d in digits[lowest..n].iter().rev() {
            out.put_u16(*d);
        }
    }

    /// Reads a binary NUMERIC that holds a non-negative integer.
    pub fn decode(raw: &[u8]) -> Result<Amount, NumericError> {
        let word = |i: usize| -> Result<u16, NumericError> {
            raw.get(i..i + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or(NumericError::Truncated)
        };
        let ndigits = word(0)? as i16;
        let weight = word(2)? as i16;
        let sign = word(4)?;
        if sign == SIGN_NEG || sign != SIGN_POS {
            // 0x4000 negative, 0xC000 NaN, 0xD000 / 0xF000 infinities.
            return Err(NumericError::NotNonNegative);
        }
        if ndigits < 0 {
            return Err(NumericError::Truncated);
        }
        let mut value: u128 = 0;
        for i in 0..ndigits as usize {
            let d = word(8 + 2 * i)?;
            if d >= NBASE as u16 {
                return Err(NumericError::BadDigit);
            }
            let power = i32::from(weight) - i as i32;
            if power < 0 {
                if d != 0 {
                    return Err(NumericError::Fractional);
                }
                continue;
            }
            value = value
                .checked_mul(NBASE)
                .and_then(|v| v.checked_add(u128::from(d)))
                .ok_or(NumericError::Overflow)?;
        }
        // Digits not sent below the last one are zeros up to the units position.
        let sent_down_to = i32::from(weight) - i32::from(ndigits) + 1;
        if ndigits > 0 {
            for _ in 0..sent_down_to.max(0) {
                value = value.checked_mul(NBASE).ok_or(NumericError::Overflow)?;
            }
        }
        Ok(Amount(value))
    }
}

impl ToSql for Amount {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        self.encode(out);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Amount {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Amount::decode(raw)?)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// Formats minimal units as a decimal with `scale` digits after the point (`"1.50000000"`).
pub fn format_units(units: u128, scale: u8) -> String {
    let digits = units.to_string();
    let scale = usize::from(scale);
    if scale == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{int}.{frac}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip(v: u128) -> u128 {
        let mut b = BytesMut::new();
        Amount(v).encode(&mut b);
        Amount::decode(&b).unwrap().0
    }

    #[test]
    fn known_encodings() {
        // (value, ndigits, weight, digits) as Postgres itself sends them.
        let cases: &[(u128, i16, i16, &[u16])] = &[
            (0, 0, 0, &[]),
            (1, 1, 0, &[1]),
            (9999, 1, 0, &[9999]),
            (10_000, 1, 1, &[1]),
            (10_001, 2, 1, &[1, 1]),
            (1_000_000_000_000, 1, 3, &[1]),
            (123_456_789, 3, 2, &[1, 2345, 6789]),
        ];
        for (v, nd, w, digits) in cases {
            let mut b = BytesMut::new();
            Amount(*v).encode(&mut b);
            let mut want = BytesMut::new();
            want.put_i16(*nd);
            want.put_i16(*w);
            want.put_u16(0);
            want.put_u16(0);
            for d in *digits {
                want.put_u16(*d);
            }
            assert_eq!(&b[..], &want[..], "value {v}");
            assert_eq!(roundtrip(*v), *v);
        }
    }

    #[test]
    fn refuses_what_is_not_a_non_negative_integer() {
        let header = |nd: i16, w: i16, sign: u16, ds: u16, digits: &[u16]| {
            let mut b = BytesMut::new();
            b.put_i16(nd);
            b.put_i16(w);
            b.put_u16(sign);
            b.put_u16(ds);
            for d in digits {
                b.put_u16(*d);
            }
            b
        };
        assert_eq!(
            Amount::decode(&header(1, 0, 0x4000, 0, &[5])),
            Err(NumericError::NotNonNegative)
        );
        assert_eq!(
            Amount::decode(&header(0, 0, 0xC000, 0, &[])),
            Err(NumericError::NotNonNegative)
        );
        // 1.5 = digits [1, 5000] weight 0
        assert_eq!(
            Amount::decode(&header(2, 0, 0, 1, &[1, 5000])),
            Err(NumericError::Fractional)
        );
        // 2.0000 with a zero fractional digit is an integer.
        assert_eq!(Amount::decode(&header(2, 0, 0, 4, &[2, 0])), Ok(Amount(2)));
        assert_eq!(
            Amount::decode(&header(2, 0, 0, 0, &[1])),
            Err(NumericError::Truncated)
        );
        assert_eq!(
            Amount::decode(&header(1, 0, 0, 0, &[10_000])),
            Err(NumericError::BadDigit)
        );
        // 10^40 does not fit.
        assert_eq!(
            Amount::decode(&header(1, 10, 0, 0, &[1])),
            Err(NumericError::Overflow)
        );
    }

    #[test]
    fn formats_units_with_scale() {
        let cases = [
            (0u128, 0u8, "0"),
            (5, 0, "5"),
            (0, 8, "0.00000000"),
            (150_000_000, 8, "1.50000000"),
            (1, 8, "0.00000001"),
            (123_456, 2, "1234.56"),
            (u128::MAX, 18, "340282366920938463463.374607431768211455"),
        ];
        for (units, scale, want) in cases {
            assert_eq!(format_units(units, scale), want);
        }
    }

    proptest! {
        #[test]
        fn every_u128_roundtrips(v in any::<u128>()) {
            prop_assert_eq!(roundtrip(v), v);
        }

        #[test]
        fn powers_and_neighbours_roundtrip(e in 0u32..39, delta in 0u128..3) {
            let p = 10u128.pow(e);
            prop_assert_eq!(roundtrip(p), p);
            prop_assert_eq!(roundtrip(p + delta), p + delta);
            prop_assert_eq!(roundtrip(p - 1), p - 1);
        }
    }
}
