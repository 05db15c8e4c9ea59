//! `settlement-follow`: settlement as a process of its own, following an events journal
//! directory (what `exchange settlement` does, without the exchange's configuration). Used by
//! the crash tests and handy for operators.
//!
//! ```text
//! settlement-follow --events DIR --database-url URL [--fee-account N]
//!                   [--max-batch-events N] [--stop-at SEQ]
//! ```

use matcher::AccountId;
use settlement::{Metrics, SettlementConfig};
use std::process::ExitCode;
use std::sync::Arc;

fn usage() -> ExitCode {
    eprintln!(
        "usage: settlement-follow --events DIR --database-url URL [--fee-account N] \
         [--max-batch-events N] [--stop-at SEQ]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut events, mut url) = (None, None);
    let mut fee = 0u64;
    let mut max_batch = None;
    let mut stop_at = None;
    let mut i = 0;
    while i < args.len() {
        let Some(flag) = args.get(i) else { break };
        let Some(value) = args.get(i + 1) else {
            return usage();
        };
        let number = || value.parse::<u64>().ok();
        match flag.as_str() {
            "--events" => events = Some(value.clone()),
            "--database-url" => url = Some(value.clone()),
            "--fee-account" => match number() {
                Some(n) => fee = n,
                None => return usage(),
            },
            "--max-batch-events" => match number() {
                Some(n) => max_batch = Some(n as usize),
                None => return usage(),
            },
            "--stop-at" => match number() {
                Some(n) => stop_at = Some(n),
                None => return usage(),
            },
            _ => return usage(),
        }
        i += 2;
    }
    let (Some(events), Some(url)) = (events, url) else {
        return usage();
    };
    let mut config = SettlementConfig::new(events, url);
    config.genesis_fee_account = AccountId(fee);
    if let Some(m) = max_batch {
        config.max_batch_events = m.max(1);
    }
    config.stop_at = stop_at;
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    match rt.block_on(settlement::run(
        config,
        Arc::new(Metrics::default()),
        stop_rx,
    )) {
        Ok(r) => {
            println!("settled up to event {}", r.applied_seq);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
