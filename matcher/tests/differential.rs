//! Property and differential tests over long random command streams: the fast engine and the
//! naive reference engine must emit identical events and keep identical books; every
//! invariant holds after every command; snapshot/restore/replay and reruns are byte-identical.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use matcher::book::{Book, FastBook, NaiveBook};
use matcher::event::{CancelOutcome, NewOrderOutcome};
use matcher::*;
use proptest::prelude::*;

fn engines() -> (Engine<FastBook>, Engine<NaiveBook>) {
    let cfg = EngineConfig {
        fee_account: FEE_ACCOUNT,
        max_open_orders_per_account: 12,
    };
    (Engine::new(cfg), Engine::new(cfg))
}

fn setup<B: Book>(e: &mut Engine<B>, out: &mut Vec<Event>) -> u64 {
    let mut seq = 0;
    for c in random_setup() {
        seq += 1;
        e.apply(&sequenced(seq, c), out);
    }
    seq
}

fn check_books<A: Book, B: Book>(a: &Engine<A>, b: &Engine<B>) -> Result<(), TestCaseError> {
    for s in 1..=4 {
        prop_assert_eq!(
            a.depth(SymbolId(s), usize::MAX),
            b.depth(SymbolId(s), usize::MAX)
        );
        prop_assert_eq!(a.best_bid_ask(SymbolId(s)), b.best_bid_ask(SymbolId(s)));
    }
    Ok(())
}

/// Runs `ops` through both engines checking everything after every command; returns the
/// commands applied (after setup) and the fast engine's full event stream.
fn run_differential(ops: &[Op]) -> Result<(Vec<SequencedCommand>, Vec<Event>), TestCaseError> {
    let (mut fast, mut naive) = engines();
    let (mut ev_fast, mut ev_naive) = (Vec::new(), Vec::new());
    let mut seq = setup(&mut fast, &mut ev_fast);
    setup(&mut naive, &mut ev_naive);
    let mut commands = Vec::new();
    for op in ops {
        seq += 1;
        let cmd = sequenced(seq, to_command(&fast, op));
        let (from_f, from_n) = (ev_fast.len(), ev_naive.len());
        fast.apply(&cmd, &mut ev_fast);
        naive.apply(&cmd, &mut ev_naive);
        prop_assert_eq!(&ev_fast[from_f..], &ev_naive[from_n..], "command {:?}", cmd);
        prop_assert!(ev_fast.len() > from_f, "every command emits an event");
        check_cancel_replace_shape(&cmd, &ev_fast[from_f..])?;
        if let Err(v) = fast.check_invariants() {
            return Err(TestCaseError::fail(format!(
                "{v} after {cmd:?}: {:?}",
                &ev_fast[from_f..]
            )));
        }
        naive
            .check_invariants()
            .map_err(|v| TestCaseError::fail(v.to_string()))?;
        check_books(&fast, &naive)?;
        commands.push(cmd);
    }
    prop_assert_eq!(encode_events(&ev_fast), encode_events(&ev_naive));
    prop_assert_eq!(fast.state_hash(), naive.state_hash());
    // Event sequence numbers are gapless and every event points at its command.
    for (i, e) in ev_fast.iter().enumerate() {
        prop_assert_eq!(e.seq, i as u64 + 1);
    }
    prop_assert_eq!(fast.last_event_seq(), ev_fast.len() as u64);
    Ok((commands, ev_fast))
}

/// A cancel-replace emits exactly one causal `CancelReplaced`, first, and none of the events
/// it replaces (`OrderAccepted`, `Rejected`, `OrderCancelled` with reason `Replaced`); its
/// halves are consistent with the request; the new order's trades and expiry follow it. No
/// other command emits a `CancelReplaced`.
fn check_cancel_replace_shape(
    cmd: &SequencedCommand,
    events: &[Event],
) -> Result<(), TestCaseError> {
    let summaries = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::CancelReplaced(_)))
        .count();
    let Command::CancelReplace(req) = &cmd.command else {
        prop_assert_eq!(summaries, 0, "only a cancel-replace emits CancelReplaced");
        return Ok(());
    };
    prop_assert_eq!(summaries, 1);
    let EventKind::CancelReplaced(r) = &events[0].kind else {
        return Err(TestCaseError::fail(format!(
            "CancelReplaced is not first: {events:?}"
        )));
    };
    prop_assert_eq!(r.mode, req.mode);
    prop_assert_eq!(
        (r.account, r.symbol),
        (req.new_order.account, req.new_order.symbol)
    );
    for e in events {
        let replaced_event = matches!(
            e.kind,
            EventKind::OrderAccepted(_)
                | EventKind::Rejected { .. }
                | EventKind::OrderCancelled {
                    reason: CancelReason::Replaced,
                    ..
                }
        );
        prop_assert!(!replaced_event, "{:?} in a cancel-replace", e.kind);
    }
    match (&r.cancel, &r.new_order) {
        (CancelOutcome::Amended { order, .. }, NewOrderOutcome::Amended) => {
            prop_assert!(r.kept_priority());
            prop_assert_eq!(order.client_order_id, req.new_order.client_order_id);
            prop_assert_eq!(
                events.len(),
                1 + events
                    .iter()
                    .skip(1)
                    .filter(|e| {
                        matches!(
                            e.kind,
                            EventKind::BookLevel { .. } | EventKind::Balance { .. }
                        )
                    })
                    .count(),
                "an amendment emits nothing else causal"
            );
        }
        (CancelOutcome::Amended { .. }, _) | (_, NewOrderOutcome::Amended) => {
            return Err(TestCaseError::fail(format!("half an amendment: {r:?}")));
        }
        (cancel, new_order) => {
            prop_assert!(!r.kept_priority());
            if let CancelOutcome::Cancelled(old) = cancel {
                prop_assert_eq!(old.state.status, OrderStatus::Canceled);
                prop_assert_eq!(old.state.remaining_qty, 0);
                if let CancelTarget::OrderId(id) = req.target {
                    prop_assert_eq!(old.order_id, id);
                }
            }
            let stopped = matches!(cancel, CancelOutcome::Failed(_))
                && req.mode == CancelReplaceMode::StopOnFailure;
            prop_assert_eq!(stopped, matches!(new_order, NewOrderOutcome::NotAttempted));
            if let NewOrderOutcome::Placed(a) = new_order {
                prop_assert_eq!(a.order.client_order_id, req.new_order.client_order_id);
                prop_assert_eq!(a.order.order_type, req.new_order.order_type);
                prop_assert_eq!(a.state.status, OrderStatus::New);
                for e in &events[1..] {
                    if let EventKind::Trade(t) = &e.kind {
                        let taker = match t.taker_side {
                            Side::Buy => t.buy_order_id,
                            Side::Sell => t.sell_order_id,
                        };
                        prop_assert_eq!(taker, a.order.order_id, "trades follow the summary");
                    }
                }
            } else {
                let trades = events[1..]
                    .iter()
                    .any(|e| matches!(e.kind, EventKind::Trade(_)));
                prop_assert!(!trades, "no new order, no trade");
            }
        }
    }
    Ok(())
}

fn replay(commands: &[SequencedCommand]) -> (Engine<FastBook>, Vec<Event>) {
    let (mut e, _) = engines();
    let mut out = Vec::new();
    setup(&mut e, &mut out);
    for c in commands {
        e.apply(c, &mut out);
    }
    (e, out)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("DIFFERENTIAL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(192),
        ..ProptestConfig::default()
    })]

    #[test]
    fn fast_and_naive_agree_and_invariants_hold(ops in proptest::collection::vec(op(), 1..400)) {
        run_differential(&ops)?;
    }

    #[test]
    fn snapshot_restore_replay_is_identical(
        ops in proptest::collection::vec(op(), 1..300),
        cut in any::<prop::sample::Index>(),
    ) {
        let (commands, events) = run_differential(&ops)?;
        let (full, _) = replay(&commands);
        let k = cut.index(commands.len() + 1);

        // Run to k, snapshot through bytes, restore, replay the rest.
        let (mut first, _) = engines();
        let mut out = Vec::new();
        setup(&mut first, &mut out);
        for c in &commands[..k] {
            first.apply(c, &mut out);
        }
        let mut bytes = Vec::new();
        codec::encode_snapshot(&first.snapshot(), &mut bytes).unwrap();
        let mut restored = Engine::<FastBook>::restore_from_bytes(&bytes).unwrap();
        prop_assert_eq!(restored.state_hash(), first.state_hash());
        let mut rest_events = Vec::new();
        for c in &commands[k..] {
            restored.apply(c, &mut rest_events);
            restored.check_invariants().map_err(|v| TestCaseError::fail(v.to_string()))?;
        }
        out.extend(rest_events);
        prop_assert_eq!(encode_events(&out), encode_events(&events));
        prop_assert_eq!(restored.state_hash(), full.state_hash());
        prop_assert_eq!(restored.snapshot(), full.snapshot());

        // The same input twice gives a byte-identical event stream.
        let (_, again) = replay(&commands);
        prop_assert_eq!(encode_events(&again), encode_events(&events));
    }
}

/// Guards against a generator that never exercises the interesting paths: over a fixed set of
/// seeds, every event kind and every cancel reason of interest must occur.
#[test]
fn generator_covers_the_interesting_paths() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    use std::collections::BTreeMap;
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..20 {
        let ops = proptest::collection::vec(op(), 400)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let (_, events) = run_differential(&ops).unwrap();
        for e in &events {
            let name = match &e.kind {
                EventKind::OrderCancelled { reason, .. } => format!("cancel:{reason:?}"),
                EventKind::Rejected { reason, .. } => format!("reject:{reason:?}"),
                EventKind::CancelReplaced(r) => format!(
                    "replace:{}:{}:{}",
                    r.kept_priority(),
                    match r.cancel {
                        CancelOutcome::Cancelled(_) => "cancelled",
                        CancelOutcome::Amended { .. } => "amended",
                        CancelOutcome::Failed(_) => "failed",
                    },
                    match r.new_order {
                        NewOrderOutcome::Placed(_) => "placed",
                        NewOrderOutcome::Amended => "amended",
                        NewOrderOutcome::Failed { .. } => "failed",
                        NewOrderOutcome::NotAttempted => "not-attempted",
                    }
                ),
                EventKind::Trade(t) => format!("trade:{:?}", t.symbol),
                other => format!("{other:?}")
                    .split([' ', '(', '{'])
                    .next()
                    .unwrap()
                    .to_string(),
            };
            *kinds.entry(name).or_default() += 1;
        }
    }
    println!("{kinds:#?}");
    for must in [
        "trade:SymbolId(1)",
        "trade:SymbolId(4)",
        "cancel:UserCancel",
        "cancel:CancelAll",
        "cancel:IocRemainder",
        "cancel:FokNotFilled",
        "cancel:MarketNoLiquidity",
        "cancel:StpExpireTaker",
        "cancel:StpExpireMaker",
        "cancel:StpExpireBoth",
        "cancel:StpDecrement",
        "SelfTradePrevented",
        "replace:true:amended:amended",
        "replace:false:cancelled:placed",
        "replace:false:failed:not-attempted",
        "replace:false:cancelled:failed",
        "replace:false:failed:placed",
        "reject:InsufficientBalance",
        "reject:WouldTakeLiquidity",
        "reject:DuplicateClientOrderId",
        "reject:SymbolHalted",
        "DepositDuplicate",
        "WithdrawalRejected",
        "Withdrawn",
    ] {
        assert!(kinds.contains_key(must), "generator never produced {must}");
    }
}
