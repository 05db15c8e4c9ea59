//! The order flow against a model exchange: every price on tick and within its band, every
//! quantity on lot and within bounds, cancels and moves only of orders the flow was told
//! rest, never two in flight against one order, the open-order limit, determinism, and the
//! exchange-core mix.
#![allow(clippy::unwrap_used)]

use bench::client::{
    ApiFailure, Failure, OrderReply, OrderType, Outcome, Side, TimeInForce, UserEvent,
};
use bench::flow::{
    Action, ActionKind, Flow, FlowConfig, FlowError, Mix, Rng, SpecError, SymbolSpec,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// (tick, lot, start, min qty, max qty)
const SPECS: &[(&str, &str, &str, &str, &str)] = &[
    ("0.01", "0.00001", "50000.00", "0.00010", "0.01000"),
    ("0.01", "0.0001", "3000.00", "0.0010", "1.0000"),
    ("0.000001", "0.001", "0.052000", "0.010", "2.000"),
    ("0.5", "0.25", "1000", "0.25", "5"),
    ("1", "1", "10000", "1", "100"),
    ("0.00000001", "1", "0.00100000", "1", "1000"),
];

fn specs(n: usize) -> Vec<SymbolSpec> {
    SPECS
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, (t, l, s, lo, hi))| SymbolSpec::new(&format!("SYM{i}"), t, l, s, lo, hi))
        .collect()
}

/// A successful outcome, read from its result as the load generator reads it.
fn ok(result: Value) -> Outcome {
    Ok(OrderReply::from_result(&result).unwrap())
}

/// Feeds a pushed user data message to the flow, read as the load generator reads it.
fn push(flow: &mut Flow, msg: Value) {
    let event = UserEvent::from_push(&msg).unwrap();
    flow.on_execution_report(&event.execution_report().unwrap());
}

/// A model exchange: GTC orders rest, fill or partly fill at random; IOC and MARKET fill;
/// resting orders fill out of band now and then (reported to the flow or not).
struct Model {
    rng: Rng,
    next_id: u64,
    resting: BTreeMap<u64, String>,
    /// Orders the flow was told rest and not told closed: what it may target.
    told_open: BTreeSet<u64>,
    /// Orders targeted by an action in flight.
    targeted: BTreeSet<u64>,
}

impl Model {
    fn order(&mut self, o: &bench::client::OrderRequest) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let gtc = o.time_in_force == Some(TimeInForce::Gtc);
        let status = if !gtc {
            "FILLED"
        } else {
            match self.rng.below(10) {
                0..=6 => "NEW",
                7 => "PARTIALLY_FILLED",
                _ => "FILLED",
            }
        };
        let fills: Vec<Value> = if status == "NEW" {
            vec![]
        } else {
            (0..1 + self.rng.below(3))
                .map(|k| {
                    json!({"price": "1", "qty": "1", "commission": "0",
                                 "commissionAsset": "X", "tradeId": id * 10 + k})
                })
                .collect()
        };
        if matches!(status, "NEW" | "PARTIALLY_FILLED") {
            self.resting.insert(id, o.symbol.clone());
            self.told_open.insert(id);
        }
        json!({"symbol": o.symbol, "orderId": id, "clientOrderId": format!("c{id}"),
               "status": status, "side": o.side.as_str(), "origQty": o.quantity, "fills": fills})
    }

    fn outcome(&mut self, action: &Action) -> Result<Value, Failure> {
        let api = |status, code, msg: &str, cancel_code| {
            Failure::Api(ApiFailure {
                status,
                code,
                msg: msg.into(),
                cancel_succeeded: false,
                cancel_code,
            })
        };
        let unknown = || api(400, -2011, "Unknown order sent.", None);
        // Sometimes a transient error that leaves everything as it was.
        if self.rng.below(20) == 0 {
            return Err(api(429, -1003, "Too many requests.", None));
        }
        match &action.kind {
            ActionKind::Place(o) => Ok(self.order(o)),
            ActionKind::Cancel { order_id, .. } => match self.resting.remove(order_id) {
                Some(_) => {
                    self.told_open.remove(order_id);
                    Ok(json!({"orderId": order_id, "status": "CANCELED"}))
                }
                None => {
                    self.told_open.remove(order_id);
                    Err(unknown())
                }
            },
            ActionKind::Replace { order_id, order } => match self.resting.remove(order_id) {
                Some(_) => {
                    self.told_open.remove(order_id);
                    let new = self.order(order);
                    Ok(
                        json!({"cancelResult": "SUCCESS", "newOrderResult": "SUCCESS",
                              "cancelResponse": {"orderId": order_id}, "newOrderResponse": new}),
                    )
                }
                None => {
                    self.told_open.remove(order_id);
                    // data: cancelResult FAILURE, cancelResponse {"code": -2011, ...}
                    Err(api(400, -2022, "Order cancel-replace failed.", Some(-2011)))
                }
            },
        }
    }

    /// A resting order fills against someone else; the flow hears of it when `report`.
    fn fill_out_of_band(&mut self, flow: &mut Flow, report: bool) {
        let Some((&id, sym)) = self.resting.iter().next() else {
            return;
        };
        let sym = sym.clone();
        self.resting.remove(&id);
        if report {
            self.told_open.remove(&id);
            push(
                flow,
                json!({"event": {"e": "executionReport", "s": sym, "i": id, "X": "FILLED"}}),
            );
        }
    }
}

/// Checks one action against the flow's state when it was emitted.
fn check_action(flow: &Flow, cfg: &FlowConfig, a: &Action, model: &mut Model) {
    let name = match &a.kind {
        ActionKind::Place(o) | ActionKind::Replace { order: o, .. } => o.symbol.clone(),
        ActionKind::Cancel { symbol, .. } => symbol.clone(),
    };
    let i = flow.grids().iter().position(|g| g.name == name).unwrap();
    let g = &flow.grids()[i];
    let mid = flow.mid_ticks(i).unwrap();
    let (lo, hi) = flow.mid_bounds(i).unwrap();
    assert!((lo..=hi).contains(&mid), "mid {mid} outside [{lo}, {hi}]");
    if let Some(o) = a.new_order() {
        let lots = g
            .qty_lots(o.quantity.as_deref().unwrap())
            .expect("qty on lot");
        assert!((g.min_lots..=g.max_lots).contains(&lots), "{lots} lots");
        assert_eq!(g.qty(lots), *o.quantity.as_ref().unwrap());
        match (o.order_type, o.time_in_force) {
            (OrderType::Market, None) => assert!(o.price.is_none()),
            (OrderType::Limit, Some(tif)) => {
                let p = g
                    .price_ticks(o.price.as_deref().unwrap())
                    .expect("price on tick");
                assert_eq!(g.price(p), *o.price.as_ref().unwrap());
                let (range, name) = match (tif, o.side) {
                    (TimeInForce::Gtc, Side::Buy) => (mid - cfg.depth_ticks..=mid - 1, "gtc buy"),
                    (TimeInForce::Gtc, Side::Sell) => (mid + 1..=mid + cfg.depth_ticks, "gtc sell"),
                    (TimeInForce::Ioc, Side::Buy) => (mid + 1..=mid + cfg.cross_ticks, "ioc buy"),
                    (TimeInForce::Ioc, Side::Sell) => (mid - cfg.cross_ticks..=mid - 1, "ioc sell"),
                    other => panic!("unexpected {other:?}"),
                };
                assert!(range.contains(&p), "{name} at {p}, mid {mid}");
                assert!(p > 0);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    if let ActionKind::Cancel { order_id, .. } | ActionKind::Replace { order_id, .. } = &a.kind {
        assert!(
            model.told_open.contains(order_id),
            "targets {order_id} not known to rest"
        );
        assert!(
            model.targeted.insert(*order_id),
            "two actions in flight on {order_id}"
        );
    }
}

/// Drives a flow for `steps` actions with up to `window` in flight, resolved out of order.
/// Returns the actions for determinism checks.
fn drive(cfg: &FlowConfig, steps: usize, window: usize, model_seed: u64) -> Vec<Action> {
    let mut flow = Flow::new(cfg.clone()).unwrap();
    let mut model = Model {
        rng: Rng::new(model_seed),
        next_id: 1,
        resting: BTreeMap::new(),
        told_open: BTreeSet::new(),
        targeted: BTreeSet::new(),
    };
    let mut in_flight: Vec<Action> = Vec::new();
    let mut all = Vec::new();
    for step in 0..steps {
        flow.advance_to(step as u64 / 3);
        let a = flow.next_action();
        check_action(&flow, cfg, &a, &mut model);
        all.push(a.clone());
        in_flight.push(a);
        while in_flight.len() >= window || (model.rng.below(3) == 0 && !in_flight.is_empty()) {
            let k = model.rng.below(in_flight.len() as u64) as usize;
            let a = in_flight.swap_remove(k);
            let out = model.outcome(&a);
            if let ActionKind::Cancel { order_id, .. } | ActionKind::Replace { order_id, .. } =
                &a.kind
            {
                model.targeted.remove(order_id);
            }
            let fb = flow.on_result(a.tag, &out.clone().map(|v| ok(v).unwrap()));
            if let Ok(v) = &out {
                let body = v.get("newOrderResponse").unwrap_or(v);
                let want = body
                    .get("fills")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                assert_eq!(fb.fills, want);
            }
        }
        if model.rng.below(10) == 0 {
            let report = model.rng.below(2) == 0;
            model.fill_out_of_band(&mut flow, report);
        }
        for i in 0..flow.grids().len() {
            let open = flow.open_orders(i).count();
            assert!(open <= cfg.max_open_per_symbol, "{open} open");
            // What the flow believes rests is a subset of what it was told rests.
            for id in flow.open_orders(i) {
                assert!(
                    model.told_open.contains(&id),
                    "flow tracks {id}, never told"
                );
            }
        }
        assert_eq!(flow.pending(), in_flight.len());
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn flow_invariants_hold(
        seed in any::<u64>(),
        model_seed in any::<u64>(),
        weights in proptest::array::uniform5(0u32..20),
        nsym in 1usize..=SPECS.len(),
        depth in 1u64..50,
        cross in 1u64..50,
        walk in 0u64..5,
        max_open in 1usize..20,
        window in 1usize..8,
    ) {
        prop_assume!(weights.iter().any(|&w| w > 0));
        let mix = Mix { gtc: weights[0], ioc: weights[1], market: weights[2],
                        cancel: weights[3], replace: weights[4] };
        let cfg = FlowConfig {
            walk_step_ticks: walk,
            depth_ticks: depth,
            cross_ticks: cross,
            max_open_per_symbol: max_open,
            ..FlowConfig::new(specs(nsym), mix, seed)
        };
        drive(&cfg, 400, window, model_seed);
    }
}

#[test]
fn same_seeds_same_actions_different_seeds_different() {
    let cfg = FlowConfig::new(specs(3), Mix::EXCHANGE_CORE, 11);
    let a = drive(&cfg, 2_000, 4, 5);
    let b = drive(&cfg, 2_000, 4, 5);
    assert_eq!(a, b);
    let c = drive(&FlowConfig { seed: 12, ..cfg }, 2_000, 4, 5);
    assert_ne!(a, c);
}

#[test]
fn walks_with_one_seed_agree_across_flows() {
    // Two traders with different action seeds but the same walk seed see the same mids.
    let mut a = Flow::new(FlowConfig::new(specs(2), Mix::MAKER, 1)).unwrap();
    let mut b = Flow::new(FlowConfig::new(specs(2), Mix::TAKER, 2)).unwrap();
    let mut moved = false;
    for step in [0u64, 5, 17, 17, 400, 1_000] {
        a.advance_to(step);
        for _ in 0..3 {
            let _ = a.next_action();
        }
        b.advance_to(step);
        assert_eq!(a.mid_ticks(0), b.mid_ticks(0));
        assert_eq!(a.mid_ticks(1), b.mid_ticks(1));
        moved |= a.mid_ticks(0) != Some(a.grids()[0].start_ticks);
    }
    assert!(moved, "the walk never moved");
}

fn shares(cfg: FlowConfig, n: usize) -> [usize; 5] {
    // Instant, successful feedback: GTCs rest, cancels and moves succeed.
    let mut flow = Flow::new(cfg).unwrap();
    let mut id = 0u64;
    let mut counts = [0usize; 5];
    for _ in 0..n {
        let a = flow.next_action();
        id += 1;
        let k = match &a.kind {
            ActionKind::Place(o) if o.order_type == OrderType::Market => 2,
            ActionKind::Place(o) if o.time_in_force == Some(TimeInForce::Ioc) => 1,
            ActionKind::Place(_) => 0,
            ActionKind::Cancel { .. } => 3,
            ActionKind::Replace { .. } => 4,
        };
        counts[k] += 1;
        let order = json!({"symbol": "S", "orderId": id, "clientOrderId": "c",
                           "status": if k == 0 || k == 4 { "NEW" } else { "FILLED" }});
        let out = if k == 4 {
            json!({"newOrderResponse": order})
        } else {
            order
        };
        flow.on_result(a.tag, &ok(out));
    }
    counts
}

#[test]
fn exchange_core_mix_is_what_is_sent() {
    let n = 20_000;
    // With room to grow, the weights come through as given (within 1 percentage point).
    let cfg = FlowConfig {
        max_open_per_symbol: 100_000,
        ..FlowConfig::new(specs(2), Mix::EXCHANGE_CORE, 3)
    };
    let c = shares(cfg, n);
    let pct = |x: usize| x * 1000 / n; // per mille
    for (got, want) in [(c[0], 90), (c[1], 30), (c[2], 0), (c[3], 60), (c[4], 820)] {
        assert!(pct(got).abs_diff(want) <= 10, "{c:?}");
    }
    // At the open-order limit, surplus GTCs become moves: the book stays at the limit.
    let cfg = FlowConfig {
        max_open_per_symbol: 40,
        ..FlowConfig::new(specs(1), Mix::EXCHANGE_CORE, 3)
    };
    let c = shares(cfg, n);
    assert!(pct(c[0]).abs_diff(60) <= 10, "{c:?}"); // GTCs only replace what cancels remove
    assert!(pct(c[1]).abs_diff(30) <= 10, "{c:?}");
}

#[test]
fn bad_configs_are_refused() {
    let ok = FlowConfig::new(specs(1), Mix::EXCHANGE_CORE, 1);
    assert!(Flow::new(ok.clone()).is_ok());
    assert_eq!(
        Flow::new(FlowConfig {
            symbols: vec![],
            ..ok.clone()
        })
        .unwrap_err(),
        FlowError::NoSymbols
    );
    let zero = Mix {
        gtc: 0,
        ioc: 0,
        market: 0,
        cancel: 0,
        replace: 0,
    };
    assert_eq!(
        Flow::new(FlowConfig {
            mix: zero,
            ..ok.clone()
        })
        .unwrap_err(),
        FlowError::EmptyMix
    );
    assert_eq!(
        Flow::new(FlowConfig {
            depth_ticks: 0,
            ..ok.clone()
        })
        .unwrap_err(),
        FlowError::ZeroOffsets
    );
    // 1.00 with tick 0.01 is 100 ticks: half of it (50) must exceed depth 20 + step 1.
    let low = vec![SymbolSpec::new("L", "0.01", "1", "0.40", "1", "1")];
    assert!(matches!(
        Flow::new(FlowConfig {
            symbols: low,
            ..ok.clone()
        })
        .unwrap_err(),
        FlowError::Spec(SpecError::StartTooLow {
            start_ticks: 40,
            ..
        })
    ));
    let off = vec![SymbolSpec::new("O", "0.01", "1", "100.001", "1", "1")];
    assert!(matches!(
        Flow::new(FlowConfig { symbols: off, ..ok }).unwrap_err(),
        FlowError::Spec(SpecError::NotDecimal {
            field: "start_price",
            ..
        })
    ));
}

#[test]
fn actions_render_binance_params() {
    let mut flow = Flow::new(FlowConfig::new(specs(1), Mix::EXCHANGE_CORE, 9)).unwrap();
    // The first action can only be a placement (nothing rests yet).
    let a = flow.next_action();
    assert!(matches!(a.kind, ActionKind::Place(_)));
    let p = a.params();
    assert_eq!(p["symbol"], json!("SYM0"));
    assert_eq!(p["newOrderRespType"], json!("FULL"));
    let order = json!({"symbol": "SYM0", "orderId": 77, "clientOrderId": "c", "status": "NEW"});
    // Make it a GTC that rests, if it was one; otherwise place until one rests.
    let mut tag = a.tag;
    let mut kind = a.kind;
    while !matches!(&kind, ActionKind::Place(o) if o.time_in_force == Some(TimeInForce::Gtc)) {
        flow.on_result(
            tag,
            &ok(json!({"symbol": "SYM0", "orderId": 1, "clientOrderId": "x", "status": "FILLED"})),
        );
        let n = flow.next_action();
        tag = n.tag;
        kind = n.kind;
    }
    flow.on_result(tag, &ok(order));
    assert_eq!(flow.open_orders(0).collect::<Vec<_>>(), vec![77]);
    loop {
        let a = flow.next_action();
        match &a.kind {
            ActionKind::Cancel { order_id, .. } => {
                assert_eq!(*order_id, 77);
                let p = a.params();
                assert_eq!(a.method(), "order.cancel");
                assert_eq!(p["orderId"], json!(77));
                flow.on_result(a.tag, &Err(Failure::Closed));
                // A transport error leaves the order tracked and targetable again.
                assert_eq!(flow.open_orders(0).count(), 1);
            }
            ActionKind::Replace { order_id, .. } => {
                let p = a.params();
                assert_eq!(a.method(), "order.cancelReplace");
                assert_eq!(p["cancelOrderId"], json!(*order_id));
                assert_eq!(p["cancelReplaceMode"], json!("STOP_ON_FAILURE"));
                assert_eq!(p["timeInForce"], json!("GTC"));
                assert!(p.contains_key("price") && p.contains_key("quantity"));
                break;
            }
            _ => {
                flow.on_result(a.tag, &Err(Failure::Closed));
            }
        }
    }
}

#[test]
fn makers_quote_both_sides() {
    // All GTCs rest: the flow's own book stays balanced between bids and asks.
    let mut flow = Flow::new(FlowConfig::new(specs(1), Mix::MAKER, 21)).unwrap();
    let mut sides: BTreeMap<u64, Side> = BTreeMap::new();
    for id in 1..=2_000u64 {
        let a = flow.next_action();
        let status = match &a.kind {
            ActionKind::Place(o) | ActionKind::Replace { order: o, .. } => {
                sides.insert(id, o.side);
                "NEW"
            }
            ActionKind::Cancel { .. } => "CANCELED",
        };
        let order =
            json!({"symbol": "SYM0", "orderId": id, "clientOrderId": "c", "status": status});
        let out = match &a.kind {
            ActionKind::Replace { .. } => json!({"newOrderResponse": order}),
            _ => order,
        };
        flow.on_result(a.tag, &ok(out));
        let open: Vec<u64> = flow.open_orders(0).collect();
        let buys = open.iter().filter(|id| sides[id] == Side::Buy).count();
        let sells = open.len() - buys;
        assert!(
            buys.abs_diff(sells) <= 2 + open.len() / 4,
            "{buys} bids vs {sells} asks"
        );
        if open.len() >= 10 {
            assert!(buys > 0 && sells > 0);
        }
    }
}

#[test]
fn a_fill_report_that_overtakes_the_placing_response_wins() {
    let mut flow = Flow::new(FlowConfig::new(specs(1), Mix::MAKER, 5)).unwrap();
    // Place until a GTC is in flight.
    let a = loop {
        let a = flow.next_action();
        if matches!(&a.kind, ActionKind::Place(o) if o.time_in_force == Some(TimeInForce::Gtc)) {
            break a;
        }
        flow.on_result(a.tag, &Err(Failure::Closed));
    };
    // Its fill is reported first...
    push(
        &mut flow,
        json!({"subscriptionId": 0, "event": {"e": "executionReport", "s": "SYM0",
               "i": 42, "X": "FILLED"}}),
    );
    // ...then the response that placed it says NEW: it must not be tracked as resting.
    let placed = json!({"symbol": "SYM0", "orderId": 42, "clientOrderId": "c", "status": "NEW"});
    flow.on_result(a.tag, &ok(placed));
    assert_eq!(flow.open_orders(0).count(), 0);
    // An order reported open, then closed, is removed as usual.
    let b = loop {
        let a = flow.next_action();
        if matches!(&a.kind, ActionKind::Place(o) if o.time_in_force == Some(TimeInForce::Gtc)) {
            break a;
        }
        flow.on_result(a.tag, &Err(Failure::Closed));
    };
    let placed = json!({"symbol": "SYM0", "orderId": 43, "clientOrderId": "c", "status": "NEW"});
    flow.on_result(b.tag, &ok(placed));
    assert_eq!(flow.open_orders(0).collect::<Vec<_>>(), vec![43]);
    push(
        &mut flow,
        json!({"event": {"e": "executionReport", "s": "SYM0", "i": 43, "X": "CANCELED"}}),
    );
    assert_eq!(flow.open_orders(0).count(), 0);
}
