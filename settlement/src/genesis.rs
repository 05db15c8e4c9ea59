//! The node's genesis parameters (`<data_dir>/genesis.txt`, `key = value` lines): settlement
//! needs the initial fee account, reconcile the whole engine configuration.

use crate::SettleError;
use matcher::EngineConfig;
use std::path::Path;

pub use node::GENESIS_FILE;

/// Reads the genesis parameters of a node data directory (the node's own reader); a
/// directory without them is an error here.
pub fn read_genesis(data_dir: &Path) -> Result<EngineConfig, SettleError> {
    node::read_genesis(data_dir)
        .map_err(|e| SettleError::Node(e.to_string()))?
        .ok_or_else(|| {
            SettleError::Node(format!(
                "{}: no {GENESIS_FILE} (not a node data directory)",
                data_dir.display()
            ))
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_node_wrote_and_requires_it() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_genesis(dir.path()).is_err());
        std::fs::write(
            dir.path().join(GENESIS_FILE),
            "# genesis\nfee_account = 7\nmax_open_orders_per_account = 200\n",
        )
        .unwrap();
        let c = read_genesis(dir.path()).unwrap();
        assert_eq!(c.fee_account, matcher::AccountId(7));
        assert_eq!(c.max_open_orders_per_account, 200);
    }
}
