//! The market catalogue: every symbol with its assets, [`SymbolUnits`], status and filters,
//! by name and by id, built from the engine and rebuilt when the configuration changes; and
//! the `exchangeInfo` result.
//!
//! Filters as this exchange applies them, in Binance's vocabulary:
//! * `PRICE_FILTER`: `minPrice` = one tick, `maxPrice` = the symbol's `max_price`,
//!   `tickSize`.
//! * `LOT_SIZE` and `MARKET_LOT_SIZE`: `minQty`, `maxQty`, `stepSize` = one lot (the matcher
//!   applies the same bounds to MARKET orders by quantity).
//! * `NOTIONAL`: `minNotional`; `applyMinToMarket` is `false` (the minimum applies to LIMIT
//!   orders and to `quoteOrderQty`, not to MARKET orders by quantity); `maxNotional` =
//!   `maxPrice * maxQty`; `avgPriceMins` is 0 (no average-price reference is used).
//! * `MAX_NUM_ORDERS`: the engine's open-order cap. It is per ACCOUNT across symbols, where
//!   Binance's is per symbol; the value is the same number.

use crate::api::envelope::RateLimit;
use crate::api::failure::Failure;
use crate::errors::{ApiError, EngineMessage};
use crate::units::SymbolUnits;
use matcher::{AssetConfig, AssetId, Engine, EventKind, SymbolConfig, SymbolId, SymbolStatus};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// One symbol as the gateway sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Market {
    /// Configuration.
    pub config: SymbolConfig,
    /// Trading or halted.
    pub status: SymbolStatus,
    /// Decimal conversions and filters.
    pub units: SymbolUnits,
    /// Base asset.
    pub base: AssetConfig,
    /// Quote asset.
    pub quote: AssetConfig,
    /// Quote minimal units per (tick x lot).
    pub quote_per_tick_lot: u128,
}

impl Market {
    /// The symbol's id.
    pub fn id(&self) -> SymbolId {
        self.config.id
    }

    /// The symbol's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Binance's symbol status text (`TRADING` or `HALT`).
    pub fn status_text(&self) -> &'static str {
        match self.status {
            SymbolStatus::Trading => "TRADING",
            SymbolStatus::Halted => "HALT",
        }
    }
}

/// All symbols and assets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Markets {
    symbols: BTreeMap<SymbolId, Market>,
    by_name: BTreeMap<String, SymbolId>,
    assets: BTreeMap<AssetId, AssetConfig>,
}

impl Markets {
    /// Builds the catalogue from the engine (run it on the matcher thread via
    /// `NodeHandle::query`). A symbol whose units cannot be built is left out with a warning
    /// (the matcher validates the same rules, so this does not happen).
    pub fn from_engine(engine: &Engine) -> Markets {
        let assets: BTreeMap<AssetId, AssetConfig> =
            engine.assets().map(|a| (a.id, a.clone())).collect();
        let mut out = Markets {
            assets,
            ..Markets::default()
        };
        for view in engine.symbols() {
            let cfg = view.config;
            let (Some(base), Some(quote)) = (out.assets.get(&cfg.base), out.assets.get(&cfg.quote))
            else {
                tracing::warn!(symbol = %cfg.name, "symbol with an unknown asset left out");
                continue;
            };
            match SymbolUnits::new(cfg, base, quote) {
                Ok(units) => {
                    let market = Market {
                        config: cfg.clone(),
                        status: view.status,
                        units,
                        base: base.clone(),
                        quote: quote.clone(),
                        quote_per_tick_lot: view.quote_per_tick_lot,
                    };
                    out.by_name.insert(cfg.name.clone(), cfg.id);
                    out.symbols.insert(cfg.id, market);
                }
                Err(e) => {
                    tracing::warn!(symbol = %cfg.name, error = %e, "symbol left out");
                }
            }
        }
        out
    }

    /// Whether these events change the catalogue (an asset or symbol upsert, a halt or a
    /// resume): rebuild with [`Markets::from_engine`] after them.
    pub fn is_changed_by<'a>(events: impl IntoIterator<Item = &'a matcher::Event>) -> bool {
        events.into_iter().any(|e| {
            matches!(
                e.kind,
                EventKind::AssetUpserted(_)
                    | EventKind::SymbolUpserted(_)
                    | EventKind::SymbolStatusChanged { .. }
            )
        })
    }

    /// A symbol by id.
    pub fn get(&self, id: SymbolId) -> Option<&Market> {
        self.symbols.get(&id)
    }

    /// A symbol by name; unknown is `-1121 "Invalid symbol."`.
    pub fn by_name(&self, name: &str) -> Result<&Market, Failure> {
        self.by_name
            .get(name)
            .and_then(|id| self.symbols.get(id))
            .ok_or_else(|| ApiError::BadSymbol.into())
    }

    /// A symbol that accepts new orders: unknown is `-1121`, halted `-2010 "Market is
    /// closed."`.
    pub fn trading(&self, name: &str) -> Result<&Market, Failure> {
        let m = self.by_name(name)?;
        match m.status {
            SymbolStatus::Trading => Ok(m),
            SymbolStatus::Halted => {
                Err(ApiError::NewOrderRejected(EngineMessage::MarketClosed).into())
            }
        }
    }

    /// An asset by id.
    pub fn asset(&self, id: AssetId) -> Option<&AssetConfig> {
        self.assets.get(&id)
    }

    /// All assets by ascending id.
    pub fn assets(&self) -> impl Iterator<Item = &AssetConfig> {
        self.assets.values()
    }

    /// All symbols by ascending id.
    pub fn iter(&self) -> impl Iterator<Item = &Market> {
        self.symbols.values()
    }
}

/// Which symbols an `exchangeInfo` request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SymbolSelection {
    /// Every symbol.
    All,
    /// These symbols, in the order asked.
    Only(Vec<SymbolId>),
}

/// Reads `exchangeInfo`'s parameters: `symbol` (string) or `symbols` (array of strings),
/// not both (`-1128`); an unknown name is `-1121`, a repeated one `-1151`; anything else sent
/// is `-1104`. (`permissions`, `showPermissionSets` and `symbolStatus` are not supported.)
pub fn parse_exchange_info(
    params: &Map<String, Value>,
    markets: &Markets,
) -> Result<SymbolSelection, Failure> {
    let known =
        usize::from(params.contains_key("symbol")) + usize::from(params.contains_key("symbols"));
    if params.len() > known {
        return Err(Failure::unread(known, params.len()));
    }
    match (params.get("symbol"), params.get("symbols")) {
        (None, None) => Ok(SymbolSelection::All),
        (Some(_), Some(_)) => Err(Failure::bad_combination()),
        (Some(Value::String(name)), None) => {
            Ok(SymbolSelection::Only(vec![markets.by_name(name)?.id()]))
        }
        (Some(_), None) => Err(crate::api::params::mandatory("symbol")),
        (None, Some(Value::Array(names))) if !names.is_empty() => {
            let mut ids = Vec::with_capacity(names.len());
            for name in names {
                let Value::String(name) = name else {
                    return Err(Failure::invalid_json_param("symbols"));
                };
                let id = markets.by_name(name)?.id();
                if ids.contains(&id) {
                    return Err(Failure::duplicate_symbols());
                }
                ids.push(id);
            }
            Ok(SymbolSelection::Only(ids))
        }
        (None, Some(_)) => Err(Failure::invalid_json_param("symbols")),
    }
}

/// What `exchangeInfo` reports beyond the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeLimits {
    /// The rate limits enforced by the server.
    pub rate_limits: Vec<RateLimit>,
    /// The engine's open-order cap per account.
    pub max_num_orders: u32,
}

/// The `exchangeInfo` result.
pub fn exchange_info(
    markets: &Markets,
    selection: &SymbolSelection,
    limits: &ExchangeLimits,
    server_time_ms: u64,
) -> Value {
    let symbols: Vec<Value> = match selection {
        SymbolSelection::All => markets.iter().map(|m| symbol_info(m, limits)).collect(),
        SymbolSelection::Only(ids) => ids
            .iter()
            .filter_map(|id| markets.get(*id))
            .map(|m| symbol_info(m, limits))
            .collect(),
    };
    json!({
        "timezone": "UTC",
        "serverTime": server_time_ms,
        "rateLimits": limits.rate_limits,
        "exchangeFilters": [],
        "symbols": symbols,
    })
}

/// Self-trade prevention modes, as `exchangeInfo` lists them.
pub const STP_MODES: [&str; 5] = [
    "NONE",
    "EXPIRE_TAKER",
    "EXPIRE_MAKER",
    "EXPIRE_BOTH",
    "DECREMENT",
];

fn symbol_info(m: &Market, limits: &ExchangeLimits) -> Value {
    let u = &m.units;
    let c = &m.config;
    let max_notional = u128::from(c.max_price)
        .checked_mul(u128::from(c.max_qty))
        .and_then(|v| v.checked_mul(m.quote_per_tick_lot))
        .unwrap_or(u128::MAX);
    let lot = json!({
        "minQty": u.format_quantity(c.min_qty),
        "maxQty": u.format_quantity(c.max_qty),
        "stepSize": u.format_quantity(1),
    });
    let mut lot_size = lot.clone();
    let mut market_lot_size = lot;
    if let (Value::Object(a), Value::Object(b)) = (&mut lot_size, &mut market_lot_size) {
        a.shift_insert(0, "filterType".into(), json!("LOT_SIZE"));
        b.shift_insert(0, "filterType".into(), json!("MARKET_LOT_SIZE"));
    }
    json!({
        "symbol": c.name,
        "status": m.status_text(),
        "baseAsset": m.base.code,
        "baseAssetPrecision": m.base.scale,
        "quoteAsset": m.quote.code,
        "quotePrecision": m.quote.scale,
        "quoteAssetPrecision": m.quote.scale,
        "baseCommissionPrecision": m.base.scale,
        "quoteCommissionPrecision": m.quote.scale,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": false,
        "ocoAllowed": false,
        "otoAllowed": false,
        "quoteOrderQtyMarketAllowed": true,
        "allowTrailingStop": false,
        "cancelReplaceAllowed": true,
        "amendAllowed": false,
        "isSpotTradingAllowed": true,
        "isMarginTradingAllowed": false,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": u.format_price(1),
                "maxPrice": u.format_price(c.max_price),
                "tickSize": u.format_price(1),
            },
            lot_size,
            {
                "filterType": "NOTIONAL",
                "minNotional": u.format_quote(c.min_notional),
                "applyMinToMarket": false,
                "maxNotional": u.format_quote(max_notional),
                "applyMaxToMarket": false,
                "avgPriceMins": 0,
            },
            market_lot_size,
            {
                "filterType": "MAX_NUM_ORDERS",
                "maxNumOrders": limits.max_num_orders,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": STP_MODES,
    })
}
