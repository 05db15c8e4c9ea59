//! Properties of turning events into rows (no database): for random sessions of the real
//! matcher, however the events are cut into batches, the ledger explains every balance the
//! matcher holds, every transfer is positive, orders end in the matcher's states, and the rows
//! are the same as from one batch.
#![allow(clippy::unwrap_used)]

mod common;

use common::{genesis, random_command, FEE_ACCOUNT};
use matcher::{AccountId, AssetId, Engine, EngineConfig, Event, SequencedCommand};
use proptest::prelude::*;
use settlement::batch::Batch;
use settlement::catalog::Catalog;
use std::collections::BTreeMap;

fn events(seed: u64, commands: usize) -> (Engine, Vec<Event>) {
    let mut engine: Engine = Engine::new(EngineConfig {
        fee_account: AccountId(FEE_ACCOUNT),
        ..EngineConfig::default()
    });
    let mut out = Vec::new();
    let mut rng = common::Rng::new(seed);
    let mut cmds = genesis(6);
    let mut orders = 0;
    for i in 0..commands {
        let c = random_command(&mut rng, i, 6, orders.max(1));
        if matches!(c, matcher::Command::PlaceOrder(_)) {
            orders += 1;
        }
        cmds.push(c);
    }
    for (i, command) in cmds.into_iter().enumerate() {
        let seq = i as u64 + 1;
        engine.apply(
            &SequencedCommand {
                seq,
                ts_ms: 1_000 + seq,
                command,
            },
            &mut out,
        );
    }
    (engine, out)
}

/// Builds batches cut at `cuts` (event counts), returning all of them.
fn batches(events: &[Event], cuts: &[usize]) -> Vec<Batch> {
    let mut catalog = Catalog {
        fee_account: AccountId(FEE_ACCOUNT),
        ..Catalog::default()
    };
    let mut out = Vec::new();
    let mut batch = Batch::new(0, catalog.fee_account);
    for (i, e) in events.iter().enumerate() {
        batch.add(e, &mut catalog).unwrap();
        if cuts.contains(&(i + 1)) {
            let next = Batch::new(batch.last_seq, catalog.fee_account);
            out.push(std::mem::replace(&mut batch, next));
        }
    }
    out.push(batch);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn ledger_explains_balances_and_batching_does_not_matter(
        seed in any::<u64>(),
        cuts in proptest::collection::vec(1usize..4_000, 0..12),
    ) {
        let (engine, events) = events(seed, 1_200);
        let parts = batches(&events, &cuts);
        let whole = batches(&events, &[]);
        // Ledger: every transfer positive; net per holder = available + frozen.
        let mut net: BTreeMap<(Option<AccountId>, AssetId), i128> = BTreeMap::new();
        for b in &parts {
            for e in &b.ledger {
                prop_assert!(e.amount > 0);
                prop_assert!(e.debit.is_some() || e.credit.is_some());
                *net.entry((e.debit, e.asset)).or_default() -= e.amount as i128;
                *net.entry((e.credit, e.asset)).or_default() += e.amount as i128;
            }
        }
        for ((holder, asset), amount) in &net {
            if let Some(account) = holder {
                let b = engine.balance(*account, *asset);
                prop_assert_eq!(*amount, (b.available + b.frozen) as i128, "{:?} {:?}", account, asset);
            }
        }
        prop_assert!(net.len() >= 18, "{} holders", net.len());
        prop_assert!(parts.iter().map(|b| b.trades.len()).sum::<usize>() > 50);
        // Per asset the holders' positions sum to zero (the world included).
        let mut per_asset: BTreeMap<AssetId, i128> = BTreeMap::new();
        for ((_, asset), amount) in &net {
            *per_asset.entry(*asset).or_default() += amount;
        }
        prop_assert!(per_asset.values().all(|v| *v == 0));
        // Same trades and ledger however the stream is cut.
        let flat = |bs: &[Batch]| {
            let trades: Vec<_> = bs.iter().flat_map(|b| b.trades.iter().map(|t| t.trade.trade_id)).collect();
            let ledger: Vec<_> = bs.iter().flat_map(|b| b.ledger.iter().cloned()).collect();
            (trades, ledger)
        };
        prop_assert_eq!(flat(&parts), flat(&whole));
        // Balances: the last row per key over the batches equals the one batch's.
        let last = |bs: &[Batch]| {
            let mut m = BTreeMap::new();
            for b in bs {
                for r in b.balances() {
                    m.insert((r.account, r.asset), (r.available, r.frozen));
                }
            }
            m
        };
        prop_assert_eq!(last(&parts), last(&whole));
        // Orders: the final state of each order; open ones match the engine's.
        let mut orders = BTreeMap::new();
        for b in &parts {
            for o in b.orders() {
                orders.insert(o.order_id, o.state);
            }
        }
        for (id, state) in &orders {
            match engine.order(matcher::OrderId(*id)) {
                Some(open) => {
                    prop_assert!(!state.status.is_final(), "order {} open in the engine", id);
                    prop_assert_eq!(state.remaining_qty, open.remaining_qty);
                    prop_assert_eq!(state.executed_qty, open.executed_qty);
                }
                None => prop_assert!(state.status.is_final(), "order {} closed in the engine but {:?}", id, state),
            }
        }
        prop_assert_eq!(orders.values().filter(|s| !s.status.is_final()).count(), engine.open_order_total());
    }
}
