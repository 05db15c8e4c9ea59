//! `exchange demo`: the exchange plus simulated market makers and takers trading over real
//! WebSocket connections, with a live one-line summary once per second.

use crate::config::{Config, DEMO_ACCOUNTS};
use crate::serve;
use anyhow::{bail, Context, Result};
use bench::demo::{run_with_stats, DemoConfig, Stats, TraderKey};
use bench::flow::SymbolSpec;
use gateway::keys::KeyStore;
use matcher::AccountId;
use std::sync::Arc;
use std::time::Duration;

/// The demo accounts' API keys: existing ones are reused, missing ones issued.
fn trader_keys(config: &Config, traders: usize) -> Result<Vec<TraderKey>> {
    let funded: Vec<u64> = DEMO_ACCOUNTS
        .filter(|a| config.deposits.iter().any(|d| d.account == *a))
        .collect();
    if traders == 0 || traders > funded.len() {
        bail!(
            "--traders must be between 1 and {} (the funded demo accounts {}-{})",
            funded.len(),
            DEMO_ACCOUNTS.start(),
            DEMO_ACCOUNTS.end()
        );
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let mut store = KeyStore::open(&config.data_dir)?;
    let mut keys = Vec::new();
    for &account in &funded[..traders] {
        let existing = store.keys_of(AccountId(account)).next().cloned();
        let key = match existing {
            Some(k) => k,
            None => store.create_key(AccountId(account))?,
        };
        keys.push(TraderKey {
            account,
            api_key: key.api_key.clone(),
            secret: key.secret.expose().to_string(),
        });
    }
    Ok(keys)
}

/// The symbols the demo trades: those with a `demo_price`.
fn symbols(config: &Config) -> Vec<SymbolSpec> {
    config
        .symbols
        .iter()
        .filter_map(|s| {
            let price = s.demo_price.as_deref()?;
            let min = s.demo_min_qty.as_deref().unwrap_or(&s.lot_size);
            let max = s.demo_max_qty.as_deref().unwrap_or(min);
            Some(SymbolSpec::new(
                &s.name,
                &s.tick_size,
                &s.lot_size,
                price,
                min,
                max,
            ))
        })
        .collect()
}

/// Raises the per-connection and per-account limits that the demo's own rate would exceed
/// (each trader is one connection and one account), and says so.
fn fit_limits(config: &mut Config, traders: usize, rate: u64) {
    let per_trader = rate.div_ceil(traders.max(1) as u64);
    // Every demo request weighs at most 4 (order.status); twice the need leaves headroom.
    let weight = per_trader * 60 * 4 * 2;
    let orders = per_trader * 10 * 2;
    let g = &mut config.gateway;
    if g.request_weight_per_minute < weight
        || g.orders_per_10s < orders
        || g.orders_per_day < orders * 8640
    {
        g.request_weight_per_minute = g.request_weight_per_minute.max(weight);
        g.orders_per_10s = g.orders_per_10s.max(orders);
        g.orders_per_day = g.orders_per_day.max(orders * 8640);
        println!(
            "demo: rate limits raised to fit {per_trader} requests/s per trader \
             (REQUEST_WEIGHT {}/min, ORDERS {}/10s)",
            g.request_weight_per_minute, g.orders_per_10s
        );
    }
}

/// `exchange demo`.
pub fn run(mut config: Config, traders: usize, rate: u64) -> Result<()> {
    fit_limits(&mut config, traders, rate);
    let keys = trader_keys(&config, traders)?;
    let symbols = symbols(&config);
    if symbols.is_empty() {
        bail!("no symbol has a demo_price: nothing for the demo to trade");
    }
    let node = serve::start_node(&config)?;
    let settlement = crate::settle::start_in_process(&config)?;
    let rt = serve::runtime()?;
    let result = rt.block_on(async {
        let running = serve::start(&config, &node).await?;
        let url = format!("ws://{}/ws-api/v3", running.addr);
        println!("exchange listening on {url}; {traders} simulated traders at {rate} orders/s (Ctrl-C stops)");
        let stats = Arc::new(Stats::new());
        let printer = {
            let stats = Arc::clone(&stats);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    println!("{}", stats.summary_line());
                }
            })
        };
        let handle = running.handle.clone();
        let demo = DemoConfig::new(url, keys, rate, symbols);
        let report = run_with_stats(demo, stats, async move {
            let why = serve::stop_signal(&handle).await;
            tracing::info!(reason = why, "stopping the demo");
        })
        .await;
        printer.abort();
        running.stop().await;
        let report = report.context("the simulated traders failed")?;
        println!("{report}");
        anyhow::Ok(())
    });
    drop(rt);
    let stopped = serve::finish(node);
    crate::settle::stop_in_process(settlement);
    result.and(stopped)
}
