//! An in-process exchange for tests and examples: a real node (durable journals in a
//! temporary directory), the gateway on a loopback port, funded accounts with API keys.

use crate::api::OrderIndex;
use crate::keys::KeyStore;
use crate::server::{Gateway, GatewayConfig};
use matcher::{AccountId, AssetConfig, AssetId, Command, SymbolConfig, SymbolId, TxId};
use node::{Node, NodeConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Why a test exchange could not start.
#[derive(Debug, thiserror::Error)]
pub enum TestExchangeError {
    /// Temporary directory, socket or key file.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The node.
    #[error(transparent)]
    Node(#[from] node::NodeError),
    /// The key store.
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyStoreError),
}

/// Genesis: BTC, ETH, USDT (scale 8); BTCUSDT (id 1) and ETHUSDT (id 2, halted), both with
/// tick 0.01, lot 0.00001, minimum notional 5 USDT and 0.1% fees; each account holds 10 BTC
/// and 1,000,000 USDT.
pub fn genesis(accounts: &[u64]) -> Vec<Command> {
    let symbol = |id, name: &str, base| SymbolConfig {
        id: SymbolId(id),
        name: name.into(),
        base: AssetId(base),
        quote: AssetId(3),
        tick_size: 1_000_000,
        lot_size: 1_000,
        min_qty: 1,
        max_qty: 900_000_000,
        max_price: 100_000_000,
        min_notional: 500_000_000,
        maker_fee_ppm: 1000,
        taker_fee_ppm: 1000,
    };
    let asset = |id, code: &str| {
        Command::UpsertAsset(AssetConfig {
            id: AssetId(id),
            code: code.into(),
            scale: 8,
        })
    };
    let mut g = vec![
        asset(1, "BTC"),
        asset(2, "ETH"),
        asset(3, "USDT"),
        Command::UpsertSymbol(symbol(1, "BTCUSDT", 1)),
        Command::UpsertSymbol(symbol(2, "ETHUSDT", 2)),
        Command::HaltSymbol {
            symbol: SymbolId(2),
        },
    ];
    for &account in accounts {
        for (asset, amount) in [(1u32, 10 * 100_000_000u128), (3, 1_000_000 * 100_000_000)] {
            // "d<account>-<asset>" is at most 1 + 20 + 1 + 10 characters: a valid id.
            if let Ok(tx_id) = TxId::new(&format!("d{account}-{asset}")) {
                g.push(Command::Deposit {
                    account: AccountId(account),
                    asset: AssetId(asset),
                    amount,
                    tx_id,
                });
            }
        }
    }
    g
}

/// One funded account's API key.
#[derive(Clone)]
pub struct TestKey {
    /// The account.
    pub account: u64,
    /// API key.
    pub api_key: String,
    /// HMAC secret.
    pub secret: String,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// A running in-process exchange; stops its node when dropped.
pub struct TestExchange {
    /// Where the gateway listens.
    pub addr: SocketAddr,
    /// The node (taken on drop).
    pub node: Option<Node<OrderIndex>>,
    /// The gateway.
    pub gateway: Arc<Gateway>,
    /// One key per funded account, in the order given.
    pub keys: Vec<TestKey>,
    /// The data directory.
    pub dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestExchange")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl TestExchange {
    /// Starts a node with [`genesis`] for `accounts`, waits until the genesis is applied,
    /// and serves the gateway (TCP_NODELAY, as `exchange run` does) on a loopback port.
    pub async fn start(
        config: GatewayConfig,
        accounts: &[u64],
    ) -> Result<TestExchange, TestExchangeError> {
        let dir = tempfile::tempdir()?;
        let mut nc = NodeConfig::new(dir.path());
        nc.genesis = genesis(accounts);
        nc.segment_bytes = 4 << 20;
        let genesis_len = nc.genesis.len() as u64;
        let node = tokio::task::spawn_blocking(move || Node::start(nc, OrderIndex::default()))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
        let mut store = KeyStore::open(dir.path())?;
        let mut keys = Vec::new();
        for &account in accounts {
            let k = store.create_key(AccountId(account))?;
            keys.push(TestKey {
                account,
                api_key: k.api_key.clone(),
                secret: k.secret.expose().to_string(),
            });
        }
        let handle = node.handle();
        while handle.query(|e, _| e.last_cmd_seq()).await? < genesis_len {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let gateway = Gateway::start(handle, store, dir.path().to_path_buf(), config).await?;
        let app = crate::server::router(Arc::clone(&gateway));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(crate::server::nodelay(listener), app).await });
        Ok(TestExchange {
            addr,
            node: Some(node),
            gateway,
            keys,
            dir,
        })
    }

    /// `ws://ADDR/ws-api/v3`.
    pub fn url(&self) -> String {
        format!("ws://{}/ws-api/v3", self.addr)
    }

    /// The key of `account`.
    pub fn key(&self, account: u64) -> Option<&TestKey> {
        self.keys.iter().find(|k| k.account == account)
    }

    /// Commands journaled so far.
    pub fn journaled(&self) -> u64 {
        self.node
            .as_ref()
            .map_or(0, |n| n.handle().commands_journal().next_index() - 1)
    }
}

impl Drop for TestExchange {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            // Node::shutdown blocks: run it off the async runtime.
            let _ = std::thread::spawn(move || node.shutdown()).join();
        }
    }
}
