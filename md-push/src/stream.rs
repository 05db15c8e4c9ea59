//! Stream names: parsing Binance's `<symbol>@<kind>` grammar and the extensions.

use kline::Interval;
use std::fmt;

/// How often a diff or partial depth stream is pushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Speed {
    /// Extension `@0ms`: one diff per command that changed the book.
    Realtime,
    /// `@100ms`.
    Ms100,
    /// The default, 1000 ms.
    Ms1000,
}

/// What a stream carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// `@depth`, `@depth@100ms`, `@depth@0ms` (extension); `@checksum` appends the CRC32
    /// extension field `cs`.
    Diff {
        /// Push cadence.
        speed: Speed,
        /// Whether `cs` is added.
        checksum: bool,
    },
    /// `@depth5`, `@depth10`, `@depth20`, optionally `@100ms`.
    Partial {
        /// 5, 10 or 20.
        levels: usize,
        /// `Ms100` or `Ms1000`.
        speed: Speed,
    },
    /// `@trade`.
    Trade,
    /// `@bookTicker`.
    BookTicker,
    /// `@ticker` (rolling 24 h, every second).
    Ticker,
    /// `@kline_<interval>`.
    Kline(Interval),
}

/// A parsed stream name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StreamName {
    /// The symbol, upper case (`BTCUSDT`).
    pub symbol: String,
    /// The kind.
    pub kind: StreamKind,
}

/// A stream name this server does not serve.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid stream name {0:?}")]
pub struct StreamError(pub String);

impl StreamName {
    /// Parses `btcusdt@depth@100ms` and the like. Symbols are lower case in stream names, as
    /// Binance writes them (upper case is accepted and normalised).
    pub fn parse(name: &str) -> Result<StreamName, StreamError> {
        let bad = || StreamError(name.to_string());
        let (symbol, rest) = name.split_once('@').ok_or_else(bad)?;
        if symbol.is_empty()
            || symbol.len() > matcher::config::MAX_NAME_LEN
            || !symbol.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(bad());
        }
        let kind = match rest {
            "trade" => StreamKind::Trade,
            "bookTicker" => StreamKind::BookTicker,
            "ticker" => StreamKind::Ticker,
            _ => {
                if let Some(i) = rest.strip_prefix("kline_") {
                    StreamKind::Kline(Interval::parse(i).map_err(|_| bad())?)
                } else {
                    parse_depth(rest).ok_or_else(bad)?
                }
            }
        };
        Ok(StreamName {
            symbol: symbol.to_ascii_uppercase(),
            kind,
        })
    }
}

fn parse_depth(rest: &str) -> Option<StreamKind> {
    let (rest, checksum) = match rest.strip_suffix("@checksum") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let mut parts = rest.split('@');
    let head = parts.next()?;
    let speed = match parts.next() {
        None => Speed::Ms1000,
        Some("1000ms") => Speed::Ms1000,
        Some("100ms") => Speed::Ms100,
        Some("0ms") => Speed::Realtime,
        Some(_) => return None,
    };
    if parts.next().is_some() {
        return None;
    }
    match head {
        "depth" => Some(StreamKind::Diff { speed, checksum }),
        "depth5" | "depth10" | "depth20" if !checksum && speed != Speed::Realtime => {
            let levels = head["depth".len()..].parse().ok()?;
            Some(StreamKind::Partial { levels, speed })
        }
        _ => None,
    }
}

impl fmt::Display for StreamName {
    /// The canonical name (lower-case symbol), as the stream is keyed and listed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@", self.symbol.to_ascii_lowercase())?;
        let speed = |s: Speed| match s {
            Speed::Realtime => "@0ms",
            Speed::Ms100 => "@100ms",
            Speed::Ms1000 => "",
        };
        match self.kind {
            StreamKind::Diff { speed: s, checksum } => {
                write!(f, "depth{}", speed(s))?;
                if checksum {
                    f.write_str("@checksum")?;
                }
                Ok(())
            }
            StreamKind::Partial { levels, speed: s } => write!(f, "depth{levels}{}", speed(s)),
            StreamKind::Trade => f.write_str("trade"),
            StreamKind::BookTicker => f.write_str("bookTicker"),
            StreamKind::Ticker => f.write_str("ticker"),
            StreamKind::Kline(i) => write!(f, "kline_{i}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_canonically() {
        let cases: &[(&str, Option<&str>)] = &[
            ("btcusdt@depth", Some("btcusdt@depth")),
            ("btcusdt@depth@1000ms", Some("btcusdt@depth")),
            ("btcusdt@depth@100ms", Some("btcusdt@depth@100ms")),
            ("btcusdt@depth@0ms", Some("btcusdt@depth@0ms")),
            (
                "btcusdt@depth@100ms@checksum",
                Some("btcusdt@depth@100ms@checksum"),
            ),
            ("btcusdt@depth@checksum", Some("btcusdt@depth@checksum")),
            ("BTCUSDT@depth5", Some("btcusdt@depth5")),
            ("btcusdt@depth10@100ms", Some("btcusdt@depth10@100ms")),
            ("btcusdt@depth20@1000ms", Some("btcusdt@depth20")),
            ("btcusdt@trade", Some("btcusdt@trade")),
            ("btcusdt@bookTicker", Some("btcusdt@bookTicker")),
            ("btcusdt@ticker", Some("btcusdt@ticker")),
            ("btcusdt@kline_1m", Some("btcusdt@kline_1m")),
            ("btcusdt@kline_1M", Some("btcusdt@kline_1M")),
            ("btcusdt@kline_2m", None),
            ("btcusdt@depth15", None),
            ("btcusdt@depth5@0ms", None),
            ("btcusdt@depth5@checksum", None),
            ("btcusdt@depth@250ms", None),
            ("btcusdt@depth@100ms@x", None),
            ("btcusdt@aggTrade", None),
            ("btcusdt@bookticker", None),
            ("@trade", None),
            ("btc-usdt@trade", None),
            ("btcusdt", None),
            ("", None),
        ];
        for (name, want) in cases {
            let got = StreamName::parse(name).ok().map(|s| s.to_string());
            assert_eq!(got.as_deref(), *want, "{name}");
        }
    }
}
