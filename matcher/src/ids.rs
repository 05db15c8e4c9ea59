//! Identifiers used throughout the schema.
//!
//! Numeric ids are plain newtypes. [`ClientOrderId`] and [`TxId`] are fixed-capacity, `Copy`
//! strings so that commands and events never allocate for them on the hot path; both are
//! validated on construction *and* on decode, so a value of these types is always well formed.

use bincode::de::Decoder;
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{Decode, Encode};
use std::fmt;

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Encode, Decode)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

numeric_id!(
    /// An asset (currency), chosen by the operator in `UpsertAsset`.
    AssetId(u32)
);
numeric_id!(
    /// A trading pair, chosen by the operator in `UpsertSymbol`.
    SymbolId(u32)
);
numeric_id!(
    /// A trading account.
    AccountId(u64)
);
numeric_id!(
    /// An order id, assigned by the matcher: global, strictly increasing from 1.
    OrderId(u64)
);
numeric_id!(
    /// A trade id, assigned by the matcher: global (across symbols), strictly increasing from 1.
    TradeId(u64)
);

/// Error building a [`ClientOrderId`] or [`TxId`] from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty or longer than the type's capacity.
    #[error("length {len} outside 1..={max}")]
    Length {
        /// Length in bytes of the offending text.
        len: usize,
        /// The type's capacity.
        max: usize,
    },
    /// A byte outside the allowed alphabet.
    #[error("invalid character at byte {at}")]
    Character {
        /// Byte offset of the first invalid character.
        at: usize,
    },
}

macro_rules! short_string {
    ($(#[$doc:meta])* $name:ident, $cap:expr, $allowed:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name {
            len: u8,
            bytes: [u8; $cap],
        }

        impl $name {
            /// Maximum length in bytes.
            pub const MAX_LEN: usize = $cap;

            /// Validates and builds the id.
            pub fn new(text: &str) -> Result<Self, IdError> {
                let raw = text.as_bytes();
                if raw.is_empty() || raw.len() > $cap {
                    return Err(IdError::Length { len: raw.len(), max: $cap });
                }
                let allowed: fn(u8) -> bool = $allowed;
                if let Some(at) = raw.iter().position(|b| !allowed(*b)) {
                    return Err(IdError::Character { at });
                }
                let mut bytes = [0u8; $cap];
                bytes[..raw.len()].copy_from_slice(raw);
                // The length fits in u8: checked against the capacity above.
                Ok(Self { len: raw.len() as u8, bytes })
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                // Only ASCII bytes are ever stored (checked in `new`).
                std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Encode for $name {
            fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
                self.as_str().encode(encoder)
            }
        }

        impl<Context> Decode<Context> for $name {
            fn decode<D: Decoder<Context = Context>>(decoder: &mut D) -> Result<Self, DecodeError> {
                let text = String::decode(decoder)?;
                $name::new(&text).map_err(|e| {
                    DecodeError::OtherString(format!(concat!(stringify!($name), ": {}"), e))
                })
            }
        }
        bincode::impl_borrow_decode!($name);
    };
}

short_string!(
    /// A client order id: 1 to 36 characters of `[a-zA-Z0-9-_]`, as Binance allows. Unique
    /// among an account's open orders.
    ClientOrderId,
    36,
    |b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
);

short_string!(
    /// An external transaction id for deposits and withdrawals (idempotency key): 1 to 64
    /// printable ASCII characters without spaces (e.g. `"<chain tx hash>:<output index>"`).
    TxId,
    64,
    |b| b.is_ascii_graphic()
);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn client_order_id_validation() {
        assert!(ClientOrderId::new("abc-DEF_123").is_ok());
        assert_eq!(
            ClientOrderId::new(""),
            Err(IdError::Length { len: 0, max: 36 })
        );
        assert!(ClientOrderId::new(&"x".repeat(36)).is_ok());
        assert!(ClientOrderId::new(&"x".repeat(37)).is_err());
        assert_eq!(ClientOrderId::new("a b"), Err(IdError::Character { at: 1 }));
        assert_eq!(
            ClientOrderId::new("abc").map(|c| c.to_string()),
            Ok("abc".to_string())
        );
    }

    #[test]
    fn decode_rejects_invalid_text() {
        let cfg = crate::codec::config();
        let bytes = bincode::encode_to_vec("bad id!", cfg).unwrap();
        let r: Result<(ClientOrderId, usize), _> = bincode::decode_from_slice(&bytes, cfg);
        assert!(r.is_err());
        let good = ClientOrderId::new("ok_1").unwrap();
        let bytes = bincode::encode_to_vec(good, cfg).unwrap();
        let (back, _): (ClientOrderId, usize) = bincode::decode_from_slice(&bytes, cfg).unwrap();
        assert_eq!(back, good);
    }
}
