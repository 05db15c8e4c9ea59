//! The opt-in book checksum extension: Kraken's published algorithm.
//!
//! For the top 10 asks (lowest price first) and then the top 10 bids (highest first), take
//! each level's price and quantity exactly as printed in the messages, remove the decimal
//! point and then the leading zeros, and concatenate price and quantity of every level in
//! that order; the checksum is the CRC32 (IEEE) of that string, as an unsigned 32-bit
//! integer. It is carried as `"cs"` on diff depth streams named with `@checksum` and
//! describes the book after the message is applied.

/// Levels the checksum covers per side.
pub const CHECKSUM_LEVELS: usize = 10;

/// Appends one printed decimal with the point and then the leading zeros removed.
fn push_digits(out: &mut String, decimal: &str) {
    let digits = decimal.bytes().filter(|b| *b != b'.');
    let mut leading = true;
    for b in digits {
        if leading && b == b'0' {
            continue;
        }
        leading = false;
        out.push(char::from(b));
    }
}

/// The checksum of printed `(price, quantity)` levels: `asks` lowest first, `bids` highest
/// first; only the first [`CHECKSUM_LEVELS`] of each are used.
pub fn book_checksum<S: AsRef<str>>(asks: &[(S, S)], bids: &[(S, S)]) -> u32 {
    let mut s = String::with_capacity(2 * CHECKSUM_LEVELS * 24);
    for (p, q) in asks.iter().take(CHECKSUM_LEVELS) {
        push_digits(&mut s, p.as_ref());
        push_digits(&mut s, q.as_ref());
    }
    for (p, q) in bids.iter().take(CHECKSUM_LEVELS) {
        push_digits(&mut s, p.as_ref());
        push_digits(&mut s, q.as_ref());
    }
    crc32fast::hash(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_points_and_leading_zeros() {
        let cases = [
            ("0.05005", "5005".to_string()),
            ("0.00000500", "500".to_string()),
            ("5541.30000", "554130000".to_string()),
            ("100.00000000", "10000000000".to_string()),
        ];
        for (input, want) in cases {
            let mut s = String::new();
            push_digits(&mut s, input);
            assert_eq!(s, want, "{input}");
        }
    }

    #[test]
    fn asks_then_bids_ten_each() {
        // A one-level book is the string "554130000" "250000000" "554120000" "150000000";
        // its CRC32 from an independent implementation:
        // python3 -c 'import zlib; print(zlib.crc32(b"554130000250000000554120000150000000"))'
        let asks = [("5541.30000", "2.50000000")];
        let bids = [("5541.20000", "1.50000000")];
        assert_eq!(book_checksum(&asks, &bids), 1_883_170_587);
        // Levels beyond ten do not count.
        let many: Vec<(String, String)> = (1..=15)
            .map(|i| (format!("{i}.00000000"), "1.00000000".to_string()))
            .collect();
        assert_eq!(book_checksum(&many, &[]), book_checksum(&many[..10], &[]));
    }
}
