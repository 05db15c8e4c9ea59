//! Shared harness for the `api_*` tests (`mod api_support;`): a real engine with two
//! symbols and funded accounts, the order index fed every batch, and the server's request
//! pipeline built only from `gateway::api`'s public functions.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use gateway::api::orders::{parse_account_request, AccountRequest, ClientIdGen};
use gateway::api::render::{self, CommissionRates};
use gateway::api::{
    parse_request, render_error, render_ok, Failure, Markets, Method, OrderIndex, Params,
};
use matcher::*;
use node::CommandEvents;
use serde_json::Value;

pub const T0: u64 = 1_700_000_000_000;
pub const BTC: AssetId = AssetId(1);
pub const USDT: AssetId = AssetId(2);
pub const ETH: AssetId = AssetId(3);
pub const BTCUSDT: SymbolId = SymbolId(1);
pub const ETHBTC: SymbolId = SymbolId(2);
pub const ALICE: AccountId = AccountId(1);
pub const BOB: AccountId = AccountId(2);

pub struct Harness {
    pub engine: Engine,
    pub index: OrderIndex,
    pub markets: Markets,
    pub ids: ClientIdGen,
    pub seq: u64,
    pub commands: usize,
}

/// BTC (8 decimals), USDT (6), ETH (18). BTCUSDT: tick 0.01, lot 0.001, min qty 0.001, max
/// qty 1000, max price 1,000,000.00, min notional 5 USDT, maker 0.1 %, taker 0.2 %.
/// ETHBTC: tick 0.00001 BTC, lot 0.001 ETH, min notional 0.0001 BTC.
pub fn btcusdt() -> SymbolConfig {
    SymbolConfig {
        id: BTCUSDT,
        name: "BTCUSDT".into(),
        base: BTC,
        quote: USDT,
        tick_size: 10_000,
        lot_size: 100_000,
        min_qty: 1,
        max_qty: 1_000_000,
        max_price: 100_000_000,
        min_notional: 5_000_000,
        maker_fee_ppm: 1_000,
        taker_fee_ppm: 2_000,
    }
}

pub fn ethbtc() -> SymbolConfig {
    SymbolConfig {
        id: ETHBTC,
        name: "ETHBTC".into(),
        base: ETH,
        quote: BTC,
        tick_size: 1_000,
        lot_size: 1_000_000_000_000_000,
        min_qty: 1,
        max_qty: 1_000_000,
        max_price: 10_000_000,
        min_notional: 10_000,
        maker_fee_ppm: 0,
        taker_fee_ppm: 0,
    }
}

impl Harness {
    pub fn new() -> Harness {
        let mut h = Harness {
            engine: Engine::new(EngineConfig::default()),
            index: OrderIndex::default(),
            markets: Markets::default(),
            ids: ClientIdGen::new(0xabc),
            seq: 0,
            commands: 0,
        };
        let asset = |id, code: &str, scale| {
            Command::UpsertAsset(AssetConfig {
                id,
                code: code.into(),
                scale,
            })
        };
        h.run(asset(BTC, "BTC", 8));
        h.run(asset(USDT, "USDT", 6));
        h.run(asset(ETH, "ETH", 18));
        h.run(Command::UpsertSymbol(btcusdt()));
        h.run(Command::UpsertSymbol(ethbtc()));
        for (account, tx) in [(ALICE, "a"), (BOB, "b")] {
            for (asset, amount) in [
                (BTC, 10 * 100_000_000u128),
                (USDT, 100_000 * 1_000_000u128),
                (ETH, 100 * 10u128.pow(18)),
            ] {
                h.run(Command::Deposit {
                    account,
                    asset,
                    amount,
                    tx_id: TxId::new(&format!("{tx}{}", asset.0)).unwrap(),
                });
            }
        }
        h.commands = 0;
        h
    }

    /// Applies a command as the node does: engine, then the index, then the catalogue.
    pub fn run(&mut self, command: Command) -> CommandEvents {
        self.seq += 1;
        self.commands += 1;
        let ts = T0 + self.seq;
        let mut events = Vec::new();
        self.engine.apply(
            &SequencedCommand {
                seq: self.seq,
                ts_ms: ts,
                command,
            },
            &mut events,
        );
        let batch = CommandEvents {
            seq: self.seq,
            ts_ms: ts,
            events,
        };
        self.index.apply_events(&batch);
        self.index.assert_consistent();
        if Markets::is_changed_by(&batch.events) {
            self.markets = Markets::from_engine(&self.engine);
        }
        batch
    }

    /// The server's pipeline for one frame from `account`; returns the reply text.
    pub fn request(&mut self, account: AccountId, frame: &str) -> String {
        let req = match parse_request(frame) {
            Ok(r) => r,
            Err(bad) => return render_error(&bad.id, &bad.failure, &[]),
        };
        match self.handle(account, req.method, &req.params) {
            Ok(v) => render_ok(&req.id, v, &[]),
            Err(f) => render_error(&req.id, &f, &[]),
        }
    }

    /// Like [`Harness::request`], parsed back to JSON.
    pub fn reply(&mut self, account: AccountId, frame: &str) -> Value {
        serde_json::from_str(&self.request(account, frame)).unwrap()
    }

    fn handle(
        &mut self,
        account: AccountId,
        method: Method,
        params: &gateway::api::SentParams,
    ) -> Result<Value, Failure> {
        match method {
            Method::Ping => return Ok(serde_json::json!({})),
            Method::ExchangeInfo => {
                let sel = gateway::api::markets::parse_exchange_info(
                    &params.to_json_map(),
                    &self.markets,
                )?;
                let limits = gateway::api::markets::ExchangeLimits {
                    rate_limits: vec![],
                    max_num_orders: 200,
                };
                return Ok(gateway::api::markets::exchange_info(
                    &self.markets,
                    &sel,
                    &limits,
                    T0,
                ));
            }
            _ => {}
        }
        let mut p = Params::from_sent(params.clone())?;
        if method.is_signed() {
            p.take_security()?;
        }
        let req = parse_account_request(method, p, &self.markets, &mut self.ids)?;
        if let AccountRequest::Cancel(c) = &req {
            c.check_ids(account, &self.index)?;
        }
        let batch = req.command(account).map(|c| self.run(c));
        let (m, ix) = (&self.markets, &self.index);
        // A command's answer renders from the orders copied out for it, as the server does.
        let subset = batch
            .as_ref()
            .map(|b| ix.subset(account, b))
            .unwrap_or_default();
        match (&req, batch) {
            (AccountRequest::Place(o), Some(b)) => {
                render::place_result(o, account, &b, m).map(to_json)
            }
            (AccountRequest::Cancel(c), Some(b)) => {
                render::cancel_result(c, account, &b, m, &subset).map(to_json)
            }
            (AccountRequest::CancelReplace(r), Some(b)) => {
                render::cancel_replace_result(r, account, &b, m, &subset).map(to_json)
            }
            (AccountRequest::CancelAll { .. }, Some(b)) => {
                render::cancel_all_result(account, &b, m, &subset, &mut self.ids)
                    .map(|bodies| to_json_list(&bodies))
            }
            (
                AccountRequest::Test {
                    order,
                    compute_commission_rates,
                },
                None,
            ) => Ok(render::test_result(order, *compute_commission_rates, m)),
            (AccountRequest::OrderStatus { symbol, target }, None) => {
                render::order_status(account, *symbol, target, m, ix)
            }
            (AccountRequest::OpenOrdersStatus { symbol }, None) => {
                Ok(render::open_orders_status(account, *symbol, m, ix))
            }
            (AccountRequest::AccountStatus { omit_zero_balances }, None) => {
                Ok(render::account_status(
                    account,
                    &self.engine.balances(account),
                    m,
                    *omit_zero_balances,
                    CommissionRates {
                        maker_ppm: 1_000,
                        taker_ppm: 2_000,
                    },
                    T0,
                ))
            }
            _ => unreachable!("request and command disagree"),
        }
    }
}

/// A typed response body as JSON.
/// The bodies as the server writes them, read back as a JSON value.
fn to_json_list<T: gateway::api::wire::WriteJson>(bodies: &[T]) -> Value {
    serde_json::from_str(&gateway::api::wire::to_json_text(bodies)).unwrap()
}

/// The body as the server writes it, read back as a JSON value.
fn to_json<T: gateway::api::wire::WriteJson>(body: T) -> Value {
    serde_json::from_str(&gateway::api::wire::to_json_text(&body)).unwrap()
}

/// A signed-looking request frame (the harness does not verify signatures).
pub fn frame(method: &str, params: Value) -> String {
    let mut params = params;
    if let Value::Object(m) = &mut params {
        m.insert("timestamp".into(), Value::from(T0));
        m.insert("apiKey".into(), Value::from("k"));
        m.insert("signature".into(), Value::from("s"));
    }
    serde_json::json!({"id": "r1", "method": method, "params": params}).to_string()
}
