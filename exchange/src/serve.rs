//! `exchange run` and `exchange demo`: the node, the gateway and (for the demo) simulated
//! traders in one process, with a graceful stop on SIGTERM or Ctrl-C.

use crate::config::Config;
use anyhow::{Context, Result};
use axum::extract::State;
use axum::routing::get;
use gateway::api::order_index::OrderIndex;
use gateway::keys::KeyStore;
use gateway::server::Gateway;
use node::{Node, NodeHandle};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A running exchange inside a tokio runtime.
pub struct Running {
    /// The node handle.
    pub handle: NodeHandle<OrderIndex>,
    /// Where it listens.
    pub addr: SocketAddr,
    stop_server: watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// `GET /admin/state`: the last command applied and the state hash after it (for operators
/// and the determinism check against `exchange replay`).
async fn state(
    State(handle): State<NodeHandle<OrderIndex>>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), (axum::http::StatusCode, String)>
{
    handle
        .query(|engine, _| {
            let hash: String = engine
                .state_hash()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            serde_json::json!({
                "lastCommandSeq": engine.last_cmd_seq(),
                "lastEventSeq": engine.last_event_seq(),
                "stateHash": hash,
            })
        })
        .await
        .map(|v| {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                v.to_string(),
            )
        })
        .map_err(|e| (axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
}

/// Starts the gateway for `node` and serves it on `config.listen`.
pub async fn start(config: &Config, node: &Node<OrderIndex>) -> Result<Running> {
    let keys = KeyStore::open(&config.data_dir)
        .with_context(|| format!("opening API keys in {}", config.data_dir.display()))?;
    let handle = node.handle();
    let gateway = Gateway::start(
        handle.clone(),
        keys,
        config.data_dir.clone(),
        config.gateway_config(),
    )
    .await?;
    // Market data (md-push): streams at /ws and /stream, REST reads under /api/v3.
    let md = md_push::MdPush::start(&handle, md_push::MdPushConfig::default())?;
    // K-lines to Postgres, into settlement's database (exactly once; a restart resumes).
    if let Some(url) = crate::settle::database_url() {
        let events = handle.events_journal().clone();
        tokio::spawn(async move {
            let written = async {
                let mut store = kline::KlineStore::connect(&url, "klines").await?;
                kline::follow(&mut store, &events, &kline::WriterConfig::default()).await
            };
            match written.await {
                Ok(last) => tracing::info!(last, "kline writer stopped"),
                Err(e) => tracing::warn!(error = %e, "kline writer stopped"),
            }
        });
    }
    // myTrades verifies signatures with its own copy of the API keys.
    let clearing_keys = KeyStore::open(&config.data_dir)?;
    let app = gateway::server::router(Arc::clone(&gateway))
        .merge(md_push::router(md))
        .merge(
            axum::Router::new()
                .route("/admin/state", get(state))
                .with_state(handle.clone()),
        )
        .merge(crate::settle::http::routes(clearing_keys))
        .merge(web::router());
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (stop_server, mut stopped) = watch::channel(false);
    let server = tokio::spawn(async move {
        axum::serve(gateway::server::nodelay(listener), app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
    });
    tracing::info!(%addr, "order entry at ws://{addr}/ws-api/v3, metrics at http://{addr}/metrics");
    Ok(Running {
        handle,
        addr,
        stop_server,
        server,
    })
}

impl Running {
    /// Stops taking orders and stops the listener (open connections get errors for new
    /// orders; answers in progress still go out).
    pub async fn stop(self) {
        self.handle.stop_accepting();
        let _ = self.stop_server.send(true);
        // Open WebSocket connections are not waited for beyond a grace period.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.server).await;
    }
}

/// Resolves when SIGTERM or Ctrl-C arrives, or the node fails.
pub async fn stop_signal(handle: &NodeHandle<OrderIndex>) -> &'static str {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    let failed = async {
        loop {
            if handle.failure().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::select! {
        _ = term => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = failed => "node failure",
    }
}

/// Starts the node (recovery included) from `config`.
pub fn start_node(config: &Config) -> Result<Node<OrderIndex>> {
    let node_config = config.node_config()?;
    let mut index = OrderIndex::default();
    index.warm_up();
    let node = Node::start(node_config, index)
        .with_context(|| format!("starting the node in {}", config.data_dir.display()))?;
    Ok(node)
}

/// The runtime every command uses: two workers on this 2-core machine (the matcher, the
/// sequencer and the journal writers are OS threads of their own).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Stops the node gracefully and prints what it reached.
pub fn finish(node: Node<OrderIndex>) -> Result<()> {
    let report = node.shutdown().context("stopping the node")?;
    tracing::info!(
        last_cmd_seq = report.last_cmd_seq,
        last_event_seq = report.last_event_seq,
        state_hash = %report.state_hash,
        snapshot = ?report.snapshot,
        "stopped cleanly"
    );
    println!(
        "stopped: last command {} state hash {}",
        report.last_cmd_seq, report.state_hash
    );
    Ok(())
}

/// `exchange run`.
pub fn run(config: Config) -> Result<()> {
    let node = start_node(&config)?;
    let settlement = crate::settle::start_in_process(&config)?;
    let rt = runtime()?;
    let result = rt.block_on(async {
        let running = start(&config, &node).await?;
        println!("exchange listening on ws://{}/ws-api/v3", running.addr);
        let why = stop_signal(&running.handle).await;
        tracing::info!(reason = why, "stopping");
        running.stop().await;
        anyhow::Ok(())
    });
    drop(rt);
    let stopped = finish(node);
    crate::settle::stop_in_process(settlement);
    result.and(stopped)
}
