//! The pieces of the `bench` binary's load test: the built-in markets, the mix and key
//! parsers, the servers it starts (an `exchange run` node or the echo server), the echo
//! server itself, and the report with its pass/fail rule.
//!
//! The load itself is [`crate::demo`]: open-loop traders over real WebSocket connections,
//! latency from each request's intended send time.

pub mod echo;
pub mod keys;
pub mod pressure;
pub mod report;
pub mod server;

use crate::flow::{Mix, SymbolSpec};

/// Why a load test cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// An unknown symbol name.
    #[error("unknown symbol {0:?} (built in: BTCUSDT, ETHUSDT, ETHBTC)")]
    UnknownSymbol(String),
    /// A mix that is neither a preset nor `kind=weight,...`.
    #[error("bad mix {text:?}: {why}")]
    BadMix {
        /// The text given.
        text: String,
        /// What is wrong with it.
        why: String,
    },
    /// A keys file that does not read as `exchange keys create` output.
    #[error("keys file line {line}: {why}")]
    BadKeys {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// A server process could not be started or did not come up.
    #[error("{what}: {why}")]
    Server {
        /// Which server.
        what: String,
        /// What went wrong.
        why: String,
    },
    /// File or process I/O.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

impl LoadError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LoadError {
        let what = what.into();
        move |source| LoadError::Io { what, source }
    }
}

/// The markets of the exchange's built-in configuration (`exchange run` without a config
/// file), with the flow's starting price and order sizes: the same values `exchange demo`
/// trades (exchange/src/config.rs).
pub fn builtin_symbol(name: &str) -> Result<SymbolSpec, LoadError> {
    let (tick, lot, price, min, max) = match name {
        "BTCUSDT" => ("0.01", "0.00001", "50000.00", "0.00020", "0.01000"),
        "ETHUSDT" => ("0.01", "0.0001", "3000.00", "0.0040", "0.2000"),
        "ETHBTC" => ("0.00001", "0.001", "0.06000", "0.004", "0.200"),
        other => return Err(LoadError::UnknownSymbol(other.to_string())),
    };
    Ok(SymbolSpec::new(name, tick, lot, price, min, max))
}

/// A mix for every trader, or the maker/taker split of `exchange demo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixChoice {
    /// Every trader sends this mix (no takers).
    All(Mix),
    /// A quarter of the traders take ([`Mix::TAKER`]), the rest make ([`Mix::MAKER`]).
    MakerTaker,
}

/// Reads `exchange-core`, `maker-taker`, or weights such as
/// `gtc=9,ioc=3,market=0,cancel=6,replace=82` (missing kinds weigh 0).
pub fn parse_mix(text: &str) -> Result<MixChoice, LoadError> {
    let bad = |why: &str| LoadError::BadMix {
        text: text.to_string(),
        why: why.to_string(),
    };
    match text {
        "exchange-core" => return Ok(MixChoice::All(Mix::EXCHANGE_CORE)),
        "maker-taker" => return Ok(MixChoice::MakerTaker),
        _ => {}
    }
    let mut mix = Mix {
        gtc: 0,
        ioc: 0,
        market: 0,
        cancel: 0,
        replace: 0,
    };
    for part in text.split(',') {
        let (kind, weight) = part
            .split_once('=')
            .ok_or_else(|| bad("expected a preset or kind=weight pairs"))?;
        let weight: u32 = weight
            .trim()
            .parse()
            .map_err(|_| bad("a weight is not a whole number"))?;
        let slot = match kind.trim() {
            "gtc" => &mut mix.gtc,
            "ioc" => &mut mix.ioc,
            "market" => &mut mix.market,
            "cancel" => &mut mix.cancel,
            "replace" => &mut mix.replace,
            _ => return Err(bad("kinds are gtc, ioc, market, cancel, replace")),
        };
        *slot = weight;
    }
    let total = [mix.gtc, mix.ioc, mix.market, mix.cancel, mix.replace]
        .iter()
        .map(|&w| u64::from(w))
        .sum::<u64>();
    if total == 0 {
        return Err(bad("the weights sum to zero"));
    }
    Ok(MixChoice::All(mix))
}

/// Error codes that a realistic flow meets without anything being wrong: a cancel or move
/// of an order that a fill closed while the request was on its way (`-2011` unknown order,
/// `-2013` no such order, `-2021`/`-2022` cancel-replace failed on its cancel half).
pub fn is_flow_race(code: i64) -> bool {
    matches!(code, -2011 | -2013 | -2021 | -2022)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn mixes() {
        for (text, want) in [
            ("exchange-core", Some(MixChoice::All(Mix::EXCHANGE_CORE))),
            ("maker-taker", Some(MixChoice::MakerTaker)),
            (
                "gtc=9,ioc=3,market=0,cancel=6,replace=82",
                Some(MixChoice::All(Mix::EXCHANGE_CORE)),
            ),
            (
                "replace=1",
                Some(MixChoice::All(Mix {
                    gtc: 0,
                    ioc: 0,
                    market: 0,
                    cancel: 0,
                    replace: 1,
                })),
            ),
            // Spaces around names and weights are tolerated.
            (
                " gtc = 2 , ioc=1",
                Some(MixChoice::All(Mix {
                    gtc: 2,
                    ioc: 1,
                    market: 0,
                    cancel: 0,
                    replace: 0,
                })),
            ),
            ("gtc=0", None),
            ("gtc=-1", None),
            ("buy=3", None),
            ("gtc", None),
            ("", None),
            ("exchange_core", None),
        ] {
            let got = parse_mix(text).ok();
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn builtin_symbols_are_valid_flow_specs() {
        for name in ["BTCUSDT", "ETHUSDT", "ETHBTC"] {
            let spec = builtin_symbol(name).unwrap();
            crate::flow::SymbolGrid::parse(&spec).unwrap();
        }
        assert!(builtin_symbol("DOGEUSDT").is_err());
    }

    #[test]
    fn races_are_only_the_cancel_codes() {
        for code in [-2011, -2013, -2021, -2022] {
            assert!(is_flow_race(code));
        }
        for code in [-2010, -1003, -1015, -1022, -1013, 0] {
            assert!(!is_flow_race(code));
        }
    }
}
