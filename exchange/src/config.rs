//! The node's configuration: a TOML file with built-in defaults, overridable by flags and
//! environment variables (flags win over the environment, which wins over the file).
//!
//! With no file at all the node runs three markets (BTCUSDT, ETHUSDT, ETHBTC) with Binance's
//! ticks and lots (ETHBTC's lot is 0.001 rather than 0.0001, so every notional is a whole
//! satoshi) and 0.1% fees, and funds the demo accounts 1001-1016. Amounts, ticks, lots and
//! fees are decimal strings in whole asset units; they are converted exactly to the
//! matcher's integers (a value finer than the asset's scale is an error, never rounded).

use anyhow::{bail, Context, Result};
use gateway::units::parse_units;
use matcher::{
    AccountId, AssetConfig, AssetId, Command, EngineConfig, SymbolConfig, SymbolId, TxId,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Journals, snapshots and API keys live here.
    pub data_dir: PathBuf,
    /// Address of the WebSocket API and `/metrics`.
    pub listen: SocketAddr,
    /// Engine genesis parameters.
    pub engine: EngineSection,
    /// Node tuning.
    pub node: NodeSection,
    /// Gateway limits.
    pub gateway: GatewaySection,
    /// Assets created at genesis.
    pub assets: Vec<AssetEntry>,
    /// Symbols created at genesis.
    pub symbols: Vec<SymbolEntry>,
    /// Deposits made at genesis (demo and test accounts).
    pub deposits: Vec<DepositEntry>,
}

/// `[engine]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    /// Account receiving fees.
    pub fee_account: u64,
    /// Open orders per account.
    pub max_open_orders_per_account: u32,
}

/// `[node]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSection {
    /// Commands between snapshots (0: only at shutdown).
    pub snapshot_every: u64,
    /// Snapshots kept.
    pub snapshots_kept: usize,
    /// Request queue in front of the sequencer.
    pub request_queue: usize,
}

/// `[gateway]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySection {
    /// Most connections.
    pub max_connections: usize,
    /// Largest frame, bytes.
    pub max_message_bytes: usize,
    /// Outbound messages queued per connection before it is cut off.
    pub outbound_queue: usize,
    /// Requests in progress per connection.
    pub max_in_flight: usize,
    /// REQUEST_WEIGHT per minute per connection.
    pub request_weight_per_minute: u64,
    /// ORDERS per 10 s per connection and per account.
    pub orders_per_10s: u64,
    /// ORDERS per day per account.
    pub orders_per_day: u64,
}

/// `[[assets]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetEntry {
    /// Id.
    pub id: u32,
    /// Code, e.g. "BTC".
    pub code: String,
    /// Decimals of the minimal unit.
    pub scale: u8,
}

/// `[[symbols]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolEntry {
    /// Id.
    pub id: u32,
    /// Name, e.g. "BTCUSDT".
    pub name: String,
    /// Base asset code.
    pub base: String,
    /// Quote asset code.
    pub quote: String,
    /// Price step, quote units (e.g. "0.01").
    pub tick_size: String,
    /// Quantity step, base units (e.g. "0.00001").
    pub lot_size: String,
    /// Smallest quantity, base units.
    pub min_qty: String,
    /// Largest quantity, base units.
    pub max_qty: String,
    /// Largest price, quote units.
    pub max_price: String,
    /// Smallest notional, quote units.
    pub min_notional: String,
    /// Maker fee rate (e.g. "0.001" for 0.1%).
    pub maker_fee: String,
    /// Taker fee rate.
    pub taker_fee: String,
    /// Where `exchange demo` starts this symbol's simulated mid price (on tick); symbols
    /// without one are not traded by the demo.
    #[serde(default)]
    pub demo_price: Option<String>,
    /// The smallest order quantity the demo sends (on lot; above the minimum notional at the
    /// demo price), one lot when absent.
    #[serde(default)]
    pub demo_min_qty: Option<String>,
    /// The largest order quantity the demo sends (on lot).
    #[serde(default)]
    pub demo_max_qty: Option<String>,
}

/// `[[deposits]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepositEntry {
    /// Account credited.
    pub account: u64,
    /// Asset code.
    pub asset: String,
    /// Amount, whole units (e.g. "1000000").
    pub amount: String,
}

/// Accounts the built-in configuration funds for `exchange demo`.
pub const DEMO_ACCOUNTS: std::ops::RangeInclusive<u64> = 1001..=1016;

impl Default for EngineSection {
    fn default() -> Self {
        EngineSection {
            fee_account: 1,
            max_open_orders_per_account: matcher::engine::DEFAULT_MAX_OPEN_ORDERS,
        }
    }
}

impl Default for NodeSection {
    fn default() -> Self {
        NodeSection {
            snapshot_every: 1_000_000,
            snapshots_kept: 2,
            request_queue: 65_536,
        }
    }
}

impl Default for GatewaySection {
    fn default() -> Self {
        let g = gateway::server::GatewayConfig::default();
        GatewaySection {
            max_connections: g.max_connections,
            max_message_bytes: g.max_message_bytes,
            outbound_queue: g.outbound_queue,
            max_in_flight: g.max_in_flight,
            request_weight_per_minute: g.request_weight_per_minute,
            orders_per_10s: g.orders_per_10s,
            orders_per_day: g.orders_per_day,
        }
    }
}

fn symbol(
    (id, name, base, quote): (u32, &str, &str, &str),
    (tick, lot, min_qty, max_qty, max_price, min_notional): (&str, &str, &str, &str, &str, &str),
    (demo_price, demo_min_qty, demo_max_qty): (&str, &str, &str),
) -> SymbolEntry {
    SymbolEntry {
        id,
        name: name.into(),
        base: base.into(),
        quote: quote.into(),
        tick_size: tick.into(),
        lot_size: lot.into(),
        min_qty: min_qty.into(),
        max_qty: max_qty.into(),
        max_price: max_price.into(),
        min_notional: min_notional.into(),
        maker_fee: "0.001".into(),
        taker_fee: "0.001".into(),
        demo_price: Some(demo_price.into()),
        demo_min_qty: Some(demo_min_qty.into()),
        demo_max_qty: Some(demo_max_qty.into()),
    }
}

impl Default for Config {
    fn default() -> Self {
        let assets = [(1, "BTC", 8), (2, "ETH", 8), (3, "USDT", 8)]
            .into_iter()
            .map(|(id, code, scale)| AssetEntry {
                id,
                code: code.into(),
                scale,
            })
            .collect();
        let symbols = vec![
            symbol(
                (1, "BTCUSDT", "BTC", "USDT"),
                ("0.01", "0.00001", "0.00001", "9000", "1000000", "5"),
                ("50000.00", "0.00020", "0.01000"),
            ),
            symbol(
                (2, "ETHUSDT", "ETH", "USDT"),
                ("0.01", "0.0001", "0.0001", "9000", "1000000", "5"),
                ("3000.00", "0.0040", "0.2000"),
            ),
            symbol(
                (3, "ETHBTC", "ETH", "BTC"),
                // A lot of 0.001 ETH: at a 0.00001 BTC tick, a finer lot would make
                // notionals finer than one satoshi (the matcher requires exact notionals).
                ("0.00001", "0.001", "0.001", "100000", "100", "0.0001"),
                ("0.06000", "0.004", "0.200"),
            ),
        ];
        let mut deposits = Vec::new();
        for account in DEMO_ACCOUNTS {
            for (asset, amount) in [("BTC", "1000"), ("ETH", "10000"), ("USDT", "100000000")] {
                deposits.push(DepositEntry {
                    account,
                    asset: asset.into(),
                    amount: amount.into(),
                });
            }
        }
        Config {
            data_dir: PathBuf::from("exchange-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            engine: EngineSection::default(),
            node: NodeSection::default(),
            gateway: GatewaySection::default(),
            assets,
            symbols,
            deposits,
        }
    }
}

/// Parses a fee rate ("0.001") to parts per million, exactly.
fn fee_ppm(field: &str, text: &str) -> Result<u32> {
    let ppm =
        parse_units(field, text, 6).map_err(|e| anyhow::anyhow!("{field} = {text:?}: {e}"))?;
    if ppm > 1_000_000 {
        bail!("{field} = {text:?}: a fee rate is at most 1");
    }
    Ok(u32::try_from(ppm)?)
}

impl Config {
    /// Reads `path` (or the defaults when `None`).
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        let config: Config =
            toml::from_str(&text).with_context(|| format!("in config file {}", path.display()))?;
        Ok(config)
    }

    /// The node's configuration.
    pub fn node_config(&self) -> Result<node::NodeConfig> {
        let mut c = node::NodeConfig::new(&self.data_dir);
        c.engine = EngineConfig {
            fee_account: AccountId(self.engine.fee_account),
            max_open_orders_per_account: self.engine.max_open_orders_per_account,
        };
        c.snapshot_every = self.node.snapshot_every;
        c.snapshots_kept = self.node.snapshots_kept.max(1);
        c.request_queue = self.node.request_queue.max(1);
        c.genesis = self.genesis()?;
        Ok(c)
    }

    /// The gateway's limits.
    pub fn gateway_config(&self) -> gateway::server::GatewayConfig {
        let g = &self.gateway;
        gateway::server::GatewayConfig {
            max_connections: g.max_connections,
            max_message_bytes: g.max_message_bytes,
            outbound_queue: g.outbound_queue,
            max_in_flight: g.max_in_flight,
            request_weight_per_minute: g.request_weight_per_minute,
            orders_per_10s: g.orders_per_10s,
            orders_per_day: g.orders_per_day,
            ..gateway::server::GatewayConfig::default()
        }
    }

    /// The genesis commands: assets, symbols, deposits, each checked and converted exactly.
    pub fn genesis(&self) -> Result<Vec<Command>> {
        let mut out = Vec::new();
        let mut assets = BTreeMap::new();
        for a in &self.assets {
            let asset = AssetConfig {
                id: AssetId(a.id),
                code: a.code.clone(),
                scale: a.scale,
            };
            if assets.insert(a.code.clone(), asset.clone()).is_some() {
                bail!("asset {} is configured twice", a.code);
            }
            out.push(Command::UpsertAsset(asset));
        }
        let asset = |code: &str, what: &str| {
            assets
                .get(code)
                .cloned()
                .with_context(|| format!("{what}: unknown asset {code:?}"))
        };
        for s in &self.symbols {
            let ctx = |field: &str| format!("symbol {} {field}", s.name);
            let base = asset(&s.base, &ctx("base"))?;
            let quote = asset(&s.quote, &ctx("quote"))?;
            let units = |field: &str, text: &str, scale: u8| {
                parse_units(field, text, scale)
                    .map_err(|e| anyhow::anyhow!("{}: {text:?}: {e}", ctx(field)))
            };
            let tick_size = units("tick_size", &s.tick_size, quote.scale)?;
            let lot_size = units("lot_size", &s.lot_size, base.scale)?;
            if tick_size == 0 || lot_size == 0 {
                bail!(
                    "{}: tick_size and lot_size must be positive",
                    ctx("tick_size/lot_size")
                );
            }
            let in_steps = |field: &str, text: &str, scale: u8, step: u128| -> Result<u64> {
                let v = units(field, text, scale)?;
                if v % step != 0 {
                    bail!("{}: {text} is not a multiple of the step", ctx(field));
                }
                u64::try_from(v / step).with_context(|| ctx(field))
            };
            let config = SymbolConfig {
                id: SymbolId(s.id),
                name: s.name.clone(),
                base: base.id,
                quote: quote.id,
                tick_size,
                lot_size,
                min_qty: in_steps("min_qty", &s.min_qty, base.scale, lot_size)?,
                max_qty: in_steps("max_qty", &s.max_qty, base.scale, lot_size)?,
                max_price: in_steps("max_price", &s.max_price, quote.scale, tick_size)?,
                min_notional: units("min_notional", &s.min_notional, quote.scale)?,
                maker_fee_ppm: fee_ppm(&ctx("maker_fee"), &s.maker_fee)?,
                taker_fee_ppm: fee_ppm(&ctx("taker_fee"), &s.taker_fee)?,
            };
            // The same exactness rules the matcher applies (a bad symbol would only be
            // rejected by the matcher at genesis, silently for the operator).
            gateway::units::SymbolUnits::new(&config, &base, &quote)
                .map_err(|e| anyhow::anyhow!("symbol {}: {e}", s.name))?;
            out.push(Command::UpsertSymbol(config));
        }
        for (i, d) in self.deposits.iter().enumerate() {
            let a = asset(&d.asset, &format!("deposit {i}"))?;
            let amount = parse_units("amount", &d.amount, a.scale)
                .map_err(|e| anyhow::anyhow!("deposit {i} amount {:?}: {e}", d.amount))?;
            out.push(Command::Deposit {
                account: AccountId(d.account),
                asset: a.id,
                amount,
                tx_id: TxId::new(&format!("genesis-{i}"))
                    .map_err(|e| anyhow::anyhow!("deposit {i}: {e}"))?,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_configuration_is_valid_and_the_matcher_accepts_all_of_it() {
        let config = Config::default();
        let genesis = config.genesis().unwrap();
        let mut engine: matcher::Engine =
            matcher::Engine::new(config.node_config().unwrap().engine);
        let mut out = Vec::new();
        for (i, command) in genesis.into_iter().enumerate() {
            let cmd = matcher::SequencedCommand {
                seq: i as u64 + 1,
                ts_ms: 0,
                command,
            };
            engine.apply(&cmd, &mut out);
            for e in out.drain(..) {
                assert!(
                    !matches!(
                        e.kind,
                        matcher::EventKind::Rejected { .. }
                            | matcher::EventKind::DepositRejected { .. }
                    ),
                    "{e:?}"
                );
            }
        }
        assert_eq!(engine.symbols().count(), 3);
    }

    /// The example in README.md is a valid configuration.
    #[test]
    fn the_readme_example_loads() {
        let readme = include_str!("../../README.md");
        let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
        let len = readme[start..].find("```").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, &readme[start..start + len]).unwrap();
        let c = Config::load(Some(&path)).unwrap();
        assert_eq!(c.genesis().unwrap().len(), 4);
        assert_eq!(c.gateway.orders_per_10s, 10_000);
    }

    #[test]
    fn files_override_defaults_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\n[node]\nsnapshot_every = 10\n",
        )
        .unwrap();
        let c = Config::load(Some(&path)).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.node.snapshot_every, 10);
        assert_eq!(c.symbols.len(), 3);

        std::fs::write(&path, "bogus = 1\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&path)).unwrap_err());
        assert!(err.contains("bogus"), "{err}");

        let mut c = Config::default();
        c.symbols[0].tick_size = "0.000000001".into();
        let err = format!("{:#}", c.genesis().unwrap_err());
        assert!(
            err.contains("BTCUSDT") && err.contains("tick_size"),
            "{err}"
        );

        let mut c = Config::default();
        c.symbols[1].maker_fee = "1.5".into();
        let err = format!("{:#}", c.genesis().unwrap_err());
        assert!(err.contains("maker_fee"), "{err}");

        let mut c = Config::default();
        c.deposits[0].asset = "DOGE".into();
        assert!(format!("{:#}", c.genesis().unwrap_err()).contains("DOGE"));
    }
}
