//! The node's genesis parameters (`<data_dir>/genesis.txt`, `key = value` lines): settlement
//! needs the initial fee account, reconcile the whole engine configuration.

use crate::SettleError;
use matcher::{AccountId, EngineConfig};
use std::path::Path;

/// The file the node writes on first start.
pub const GENESIS_FILE: &str = "genesis.txt";

/// Reads the genesis parameters of a node data directory.
pub fn read_genesis(data_dir: &Path) -> Result<EngineConfig, SettleError> {
    let path = data_dir.join(GENESIS_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| SettleError::Node(format!("reading {}: {e}", path.display())))?;
    parse_genesis(&text).map_err(|e| SettleError::Node(format!("{}: {e}", path.display())))
}

fn parse_genesis(text: &str) -> Result<EngineConfig, String> {
    let mut config = EngineConfig::default();
    let (mut fee, mut max) = (None, None);
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {line:?} is not key=value"))?;
        let value = value.trim();
        match key.trim() {
            "fee_account" => {
                fee = Some(
                    value
                        .parse::<u64>()
                        .map_err(|e| format!("fee_account: {e}"))?,
                )
            }
            "max_open_orders_per_account" => {
                max = Some(
                    value
                        .parse::<u32>()
                        .map_err(|e| format!("max_open_orders_per_account: {e}"))?,
                )
            }
            other => return Err(format!("unknown key {other:?}")),
        }
    }
    config.fee_account = AccountId(fee.ok_or("fee_account missing")?);
    config.max_open_orders_per_account = max.ok_or("max_open_orders_per_account missing")?;
    Ok(config)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_node_format() {
        let c = parse_genesis("# genesis\nfee_account = 7\nmax_open_orders_per_account = 200\n")
            .unwrap();
        assert_eq!(c.fee_account, AccountId(7));
        assert_eq!(c.max_open_orders_per_account, 200);
        for bad in [
            "fee_account = 7",
            "fee_account = x\nmax_open_orders_per_account = 1",
            "what = 1",
            "no equals",
        ] {
            assert!(parse_genesis(bad).is_err(), "{bad}");
        }
    }
}
