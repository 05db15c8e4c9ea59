//! Data-driven scenarios: `tests/scenarios/*.txt`.
//!
//! Each file is a sequence of commands (`> ...`) each followed by ALL the events it must emit,
//! one per line, in the compact notation of [`fmt_event`]. `#` starts a comment line. Every
//! scenario starts from the same setup (not shown in the files):
//! * assets USDT (id 1, 6 decimals), BTC (id 2, 8 decimals), ETH (id 3, 18 decimals);
//! * BTCUSDT (id 1): tick 0.0001 USDT, lot 0.01 BTC, so one tick x one lot = 1 USDT unit
//!   (notional = price x qty); min notional 10; maker 0.1% (1000 ppm), taker 0.2% (2000 ppm);
//! * ETHUSDT (id 2): tick 0.0001 USDT, lot 0.01 ETH (10^16 wei): again notional = price x qty;
//!   min notional 10; no fees;
//! * the fee account is 100.
//!
//! After every command the full invariant check runs.
//!
//! Command syntax (`<side>` is buy|sell, `[stp=...]` is optional: none, expire-taker,
//! expire-maker, expire-both, decrement; an order reference is `#<order id>` or a client id):
//! ```text
//! deposit <acct> <ASSET> <amount> <tx>       withdraw <acct> <ASSET> <amount> <tx>
//! limit <acct> <SYM> <side> <gtc|ioc|fok> <price> <qty> <coid> [stp=..]
//! maker <acct> <SYM> <side> <price> <qty> <coid> [stp=..]
//! market <acct> <SYM> <side> <qty=N|quote=N> <coid> [stp=..]
//! cancel <acct> <SYM> <ref>                  cancel-all <acct> [SYM]
//! replace <stop|allow> <ref> <limit|maker|market ...>
//! halt <SYM>   resume <SYM>   fee-account <acct>
//! symbol-limits <SYM> <min qty> <max qty> <max price> <min notional>
//! ```
//!
//! A cancel-replace emits one line, `cancel-replace <mode> cancel=<c> new=<n> kept-priority=<b>`,
//! where `<c>` is the old order's `[cancelled ...]` or `[amended #id coid=old->new state]`
//! line or `failed:<reason>`, and `<n>` is the new order's `[accepted ...]` line, `amended`
//! (the old order was amended in place), `[rejected coid=.. <reason> code=..]` or
//! `not-attempted`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{asset, sequenced, symbol, BTC, ETH, FEE_ACCOUNT, USDT};
use matcher::event::{CancelOutcome, NewOrderOutcome};
use matcher::*;
use std::path::Path;

fn asset_name(a: AssetId) -> String {
    match a.0 {
        1 => "USDT".into(),
        2 => "BTC".into(),
        3 => "ETH".into(),
        n => format!("asset{n}"),
    }
}

fn asset_id(s: &str) -> AssetId {
    match s {
        "USDT" => USDT,
        "BTC" => BTC,
        "ETH" => ETH,
        other => AssetId(other.trim_start_matches("asset").parse().expect("asset")),
    }
}

fn sym_name(s: SymbolId) -> String {
    match s.0 {
        1 => "BTCUSDT".into(),
        2 => "ETHUSDT".into(),
        n => format!("sym{n}"),
    }
}

fn sym_id(s: &str) -> SymbolId {
    match s {
        "BTCUSDT" => SymbolId(1),
        "ETHUSDT" => SymbolId(2),
        other => SymbolId(other.trim_start_matches("sym").parse().expect("symbol")),
    }
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn order_type(t: &OrderType) -> String {
    match t {
        OrderType::Limit { price, qty, tif } => {
            format!("limit {} {price}x{qty}", format!("{tif:?}").to_lowercase())
        }
        OrderType::LimitMaker { price, qty } => format!("maker {price}x{qty}"),
        OrderType::Market {
            amount: MarketAmount::Base(q),
        } => format!("market qty={q}"),
        OrderType::Market {
            amount: MarketAmount::Quote(q),
        } => format!("market quote={q}"),
    }
}

fn state(s: &OrderState) -> String {
    format!("{:?}:{}/{}", s.status, s.executed_qty, s.remaining_qty)
}

/// `accepted ...`: an accepted order (alone, or the new half of a cancel-replace in `[...]`).
fn fmt_accepted(a: &matcher::event::OrderAccepted) -> String {
    let o = &a.order;
    let stp = if o.stp == StpMode::None {
        String::new()
    } else {
        format!(" stp={:?}", o.stp)
    };
    format!(
        "accepted #{} acct={} {} {} {} coid={} frozen={}{stp}",
        o.order_id,
        o.account,
        sym_name(o.symbol),
        side_name(o.side),
        order_type(&o.order_type),
        o.client_order_id,
        o.frozen
    )
}

/// `cancelled ...`: a closed order (alone, or the cancel half of a cancel-replace in `[...]`).
fn fmt_cancelled(order: &matcher::event::OrderUpdate, reason: CancelReason) -> String {
    format!(
        "cancelled #{} {reason:?} {:?} exec={} cum={} prevented={}",
        order.order_id,
        order.state.status,
        order.state.executed_qty,
        order.state.cum_quote,
        order.state.prevented_qty
    )
}

/// The compact notation of an event used by the scenario files.
fn fmt_event(e: &Event) -> String {
    match &e.kind {
        EventKind::AssetUpserted(a) => format!("asset {} {}", a.code, a.scale),
        EventKind::SymbolUpserted(s) => format!("symbol {}", s.name),
        EventKind::SymbolStatusChanged { symbol, status } => {
            format!("status {} {status:?}", sym_name(*symbol))
        }
        EventKind::FeeAccountSet { account } => format!("fee-account {account}"),
        EventKind::Deposited { account, asset, amount, tx_id } => {
            format!("deposited {account} {} {amount} {tx_id}", asset_name(*asset))
        }
        EventKind::DepositDuplicate { account, asset, amount, tx_id } => {
            format!("deposit-duplicate {account} {} {amount} {tx_id}", asset_name(*asset))
        }
        EventKind::DepositRejected { account, asset, amount, tx_id, reason } => format!(
            "deposit-rejected {account} {} {amount} {tx_id} {reason:?}",
            asset_name(*asset)
        ),
        EventKind::Withdrawn { account, asset, amount, tx_id } => {
            format!("withdrawn {account} {} {amount} {tx_id}", asset_name(*asset))
        }
        EventKind::WithdrawalDuplicate { account, asset, amount, tx_id } => {
            format!("withdrawal-duplicate {account} {} {amount} {tx_id}", asset_name(*asset))
        }
        EventKind::WithdrawalRejected { account, asset, amount, tx_id, reason } => format!(
            "withdrawal-rejected {account} {} {amount} {tx_id} {reason:?}",
            asset_name(*asset)
        ),
        EventKind::OrderAccepted(a) => fmt_accepted(a),
        EventKind::Rejected { request, client_order_id, reason, .. } => {
            let coid = client_order_id.as_ref().map(|c| format!(" coid={c}")).unwrap_or_default();
            format!("rejected {request:?}{coid} {reason:?} code={}", reason.code())
        }
        EventKind::Trade(t) => format!(
            "trade t{} {} {}x{} quote={} taker={} buyer=#{}@{} seller=#{}@{} fees={}/{} buy={} sell={}",
            t.trade_id,
            sym_name(t.symbol),
            t.price,
            t.qty,
            t.quote_qty,
            side_name(t.taker_side),
            t.buy_order_id,
            t.buyer,
            t.sell_order_id,
            t.seller,
            t.buyer_fee,
            t.seller_fee,
            state(&t.buy_state),
            state(&t.sell_state)
        ),
        EventKind::OrderCancelled { order, reason } => fmt_cancelled(order, *reason),
        EventKind::SelfTradePrevented(p) => format!(
            "stp taker=#{} maker=#{} {}x{} taker={} maker={}",
            p.taker_order_id,
            p.maker_order_id,
            p.price,
            p.qty,
            state(&p.taker_state),
            state(&p.maker_state)
        ),
        EventKind::CancelReplaced(r) => {
            let cancel = match &r.cancel {
                CancelOutcome::Cancelled(o) => format!("[{}]", fmt_cancelled(o, CancelReason::Replaced)),
                CancelOutcome::Amended { order, old_client_order_id } => format!(
                    "[amended #{} coid={}->{} {}]",
                    order.order_id,
                    old_client_order_id,
                    order.client_order_id,
                    state(&order.state)
                ),
                CancelOutcome::Failed(r) => format!("failed:{r:?}"),
            };
            let new = match &r.new_order {
                NewOrderOutcome::Placed(a) => format!("[{}]", fmt_accepted(a)),
                NewOrderOutcome::Amended => "amended".into(),
                NewOrderOutcome::Failed { reason, client_order_id } => {
                    format!("[rejected coid={client_order_id} {reason:?} code={}]", reason.code())
                }
                NewOrderOutcome::NotAttempted => "not-attempted".into(),
            };
            format!(
                "cancel-replace {:?} cancel={cancel} new={new} kept-priority={}",
                r.mode,
                r.kept_priority()
            )
        }
        EventKind::CancelAllDone { account, symbol, cancelled } => format!(
            "cancel-all-done {account} {} n={cancelled}",
            symbol.map_or("*".to_string(), sym_name)
        ),
        EventKind::BookLevel { symbol, side, price, qty } => {
            format!("level {} {} {price} {qty}", sym_name(*symbol), side_name(*side))
        }
        EventKind::Balance { account, asset, available, frozen } => {
            format!("balance {account} {} {available} {frozen}", asset_name(*asset))
        }
    }
}

fn parse_stp(tok: Option<&&str>) -> StpMode {
    match tok.map(|t| t.trim_start_matches("stp=")) {
        None | Some("none") => StpMode::None,
        Some("expire-taker") => StpMode::ExpireTaker,
        Some("expire-maker") => StpMode::ExpireMaker,
        Some("expire-both") => StpMode::ExpireBoth,
        Some("decrement") => StpMode::Decrement,
        Some(other) => panic!("unknown stp mode {other}"),
    }
}

fn parse_side(s: &str) -> Side {
    match s {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        other => panic!("unknown side {other}"),
    }
}

fn coid(s: &str) -> ClientOrderId {
    ClientOrderId::new(s).expect("client order id")
}

fn parse_order(t: &[&str]) -> PlaceOrder {
    let account = AccountId(t[1].parse().expect("account"));
    let symbol = sym_id(t[2]);
    let side = parse_side(t[3]);
    let num = |s: &str| -> u64 { s.parse().expect("number") };
    let (order_type, coid_at) = match t[0] {
        "limit" => {
            let tif = match t[4] {
                "gtc" => TimeInForce::Gtc,
                "ioc" => TimeInForce::Ioc,
                "fok" => TimeInForce::Fok,
                other => panic!("unknown tif {other}"),
            };
            (
                OrderType::Limit {
                    price: num(t[5]),
                    qty: num(t[6]),
                    tif,
                },
                7,
            )
        }
        "maker" => (
            OrderType::LimitMaker {
                price: num(t[4]),
                qty: num(t[5]),
            },
            6,
        ),
        "market" => {
            let amount = if let Some(q) = t[4].strip_prefix("qty=") {
                MarketAmount::Base(num(q))
            } else if let Some(q) = t[4].strip_prefix("quote=") {
                MarketAmount::Quote(q.parse().expect("quote"))
            } else {
                panic!("market needs qty= or quote=")
            };
            (OrderType::Market { amount }, 5)
        }
        other => panic!("unknown order kind {other}"),
    };
    PlaceOrder {
        account,
        symbol,
        side,
        order_type,
        client_order_id: coid(t[coid_at]),
        stp: parse_stp(t.get(coid_at + 1)),
    }
}

fn parse_ref(s: &str) -> CancelTarget {
    match s.strip_prefix('#') {
        Some(id) => CancelTarget::OrderId(OrderId(id.parse().expect("order id"))),
        None => CancelTarget::ClientOrderId(coid(s)),
    }
}

fn parse_command(line: &str) -> Command {
    let t: Vec<&str> = line.split_whitespace().collect();
    let acct = |i: usize| AccountId(t[i].parse().expect("account"));
    let tx = |i: usize| TxId::new(t[i]).expect("tx id");
    match t[0] {
        "deposit" => Command::Deposit {
            account: acct(1),
            asset: asset_id(t[2]),
            amount: t[3].parse().expect("amount"),
            tx_id: tx(4),
        },
        "withdraw" => Command::Withdraw {
            account: acct(1),
            asset: asset_id(t[2]),
            amount: t[3].parse().expect("amount"),
            tx_id: tx(4),
        },
        "limit" | "maker" | "market" => Command::PlaceOrder(parse_order(&t)),
        "cancel" => Command::Cancel {
            account: acct(1),
            symbol: sym_id(t[2]),
            target: parse_ref(t[3]),
        },
        "cancel-all" => Command::CancelAll {
            account: acct(1),
            symbol: t.get(2).map(|s| sym_id(s)),
        },
        "replace" => Command::CancelReplace(CancelReplace {
            mode: match t[1] {
                "stop" => CancelReplaceMode::StopOnFailure,
                "allow" => CancelReplaceMode::AllowFailure,
                other => panic!("unknown mode {other}"),
            },
            target: parse_ref(t[2]),
            new_order: parse_order(&t[3..]),
        }),
        "halt" => Command::HaltSymbol {
            symbol: sym_id(t[1]),
        },
        "resume" => Command::ResumeSymbol {
            symbol: sym_id(t[1]),
        },
        "fee-account" => Command::SetFeeAccount { account: acct(1) },
        "symbol-limits" => {
            let mut c = base_symbols()
                .into_iter()
                .find(|c| c.id == sym_id(t[1]))
                .expect("known symbol");
            c.min_qty = t[2].parse().expect("min qty");
            c.max_qty = t[3].parse().expect("max qty");
            c.max_price = t[4].parse().expect("max price");
            c.min_notional = t[5].parse().expect("min notional");
            Command::UpsertSymbol(c)
        }
        other => panic!("unknown command {other}"),
    }
}

fn base_symbols() -> [SymbolConfig; 2] {
    [
        symbol(1, "BTCUSDT", BTC, USDT, 100, 1_000_000, 10, 1000, 2000),
        symbol(
            2,
            "ETHUSDT",
            ETH,
            USDT,
            100,
            10_000_000_000_000_000,
            10,
            0,
            0,
        ),
    ]
}

fn setup(engine: &mut Engine, seq: &mut u64) {
    let mut cmds = vec![
        asset(USDT, "USDT", 6),
        asset(BTC, "BTC", 8),
        asset(ETH, "ETH", 18),
    ];
    cmds.extend(base_symbols().into_iter().map(Command::UpsertSymbol));
    let mut out = Vec::new();
    for c in cmds {
        *seq += 1;
        engine.apply(&sequenced(*seq, c), &mut out);
    }
    assert!(
        !out.iter()
            .any(|e| matches!(e.kind, EventKind::Rejected { .. })),
        "setup rejected: {out:?}"
    );
}

fn run_file(path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut engine = Engine::new(EngineConfig {
        fee_account: FEE_ACCOUNT,
        max_open_orders_per_account: 5,
    });
    let mut seq = 0;
    setup(&mut engine, &mut seq);
    // (line number, command text, expected event lines)
    let mut steps: Vec<(usize, String, Vec<String>)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(cmd) = line.strip_prefix('>') {
            steps.push((n + 1, cmd.trim().to_string(), Vec::new()));
        } else if let Some(step) = steps.last_mut() {
            step.2
                .push(line.split_whitespace().collect::<Vec<_>>().join(" "));
        } else {
            return Err(format!(
                "{}:{}: event line before any command",
                path.display(),
                n + 1
            ));
        }
    }
    let mut out = Vec::new();
    for (line, cmd, expected) in &steps {
        seq += 1;
        out.clear();
        engine.apply(&sequenced(seq, parse_command(cmd)), &mut out);
        let actual: Vec<String> = out.iter().map(fmt_event).collect();
        if &actual != expected {
            return Err(format!(
                "{}:{line}: `{cmd}`\n--- expected\n{}\n--- actual\n{}\n",
                path.display(),
                expected.join("\n"),
                actual.join("\n")
            ));
        }
        for e in &out {
            assert_eq!(e.cmd_seq, seq);
        }
        engine
            .check_invariants()
            .map_err(|v| format!("{}:{line}: invariant violated: {v}", path.display()))?;
    }
    Ok(steps.len())
}

#[test]
fn scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenario dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "expected the scenario files, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for f in &files {
        match run_file(f) {
            Ok(steps) => assert!(steps > 0, "{} has no commands", f.display()),
            Err(e) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "{} scenario(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
