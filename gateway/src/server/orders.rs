//! The trading and account methods: validate (refused here, never journaled, when invalid),
//! count the order limits, submit, and answer after the command is durable and applied.

use super::dispatch::{take_params, Call, Reply};
use super::limits::take_all;
use super::metrics::inc;
use super::Gateway;
use crate::api::markets::{
    exchange_info as render_exchange_info, parse_exchange_info, ExchangeLimits,
};
use crate::api::orders::{parse_account_request, AccountRequest};
use crate::api::render::{self, CommissionRates};
use crate::api::wire::WriteJson;
use crate::api::{
    render_error, render_ok, render_ok_json, Failure, Method, Params, RateLimitStatus,
};
use crate::errors::ApiError;
use matcher::{AccountId, CancelTarget, Command};
use node::NodeError;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// How the node's refusal reads on the wire.
pub(crate) fn node_failure(e: &NodeError) -> Failure {
    match e {
        // -1008: "Server is currently overloaded with other requests. Please try again in a
        // few minutes."
        NodeError::Overloaded => Failure {
            status: 503,
            code: -1008,
            msg: "Server is currently overloaded with other requests. Please try again in a few minutes.".into(),
            data: None,
        },
        // -1001 DISCONNECTED: "Internal error; unable to process your request. Please try
        // again." (the node is stopping or has stopped).
        _ => Failure {
            status: 503,
            code: -1001,
            msg: "Internal error; unable to process your request. Please try again.".into(),
            data: None,
        },
    }
}

/// Counts one order against the connection's and the account's ORDERS limits.
fn take_order_limits(call: &mut Call<'_>, account: AccountId) -> Result<(), Failure> {
    let limits = call.gateway.config.order_limits();
    let conn = take_all(
        std::slice::from_mut(&mut call.session.orders),
        &limits[..1],
        call.now_ms,
        1,
    );
    let conn = match conn {
        Ok(s) => s,
        Err((_, statuses)) => {
            inc(&call.gateway.metrics.rate_limited);
            call.limits.extend(statuses);
            return Err(ApiError::TooManyOrders.into());
        }
    };
    match call
        .gateway
        .account_limits
        .take_order(account, &limits, call.now_ms)
    {
        Ok(statuses) => {
            if call.session.return_rate_limits {
                // Report the tighter of the per-connection and per-account 10 s counts.
                let mut statuses = statuses;
                if let (Some(a), Some(c)) = (statuses.first_mut(), conn.first()) {
                    a.count = a.count.max(c.count);
                }
                call.limits.extend(statuses);
            }
            Ok(())
        }
        Err((_, statuses)) => {
            inc(&call.gateway.metrics.rate_limited);
            call.limits.extend(statuses);
            Err(ApiError::TooManyOrders.into())
        }
    }
}

/// What a success answer's text needs besides its result: the request's id and the rate
/// limits to report.
struct Answer {
    id: Value,
    limits: Vec<RateLimitStatus>,
}

impl Answer {
    fn ok<B: WriteJson + ?Sized>(&self, result: &B) -> String {
        render_ok_json(&self.id, result, &self.limits)
    }

    /// The answer's text: the rendered success, or the failure (counted as an error).
    fn finish(&self, gateway: &Gateway, outcome: Result<String, Failure>) -> String {
        outcome.unwrap_or_else(|failure| {
            inc(&gateway.metrics.errors);
            render_error(&self.id, &failure, &self.limits)
        })
    }
}

fn parse(
    call: &mut Call<'_>,
    method: Method,
    params: &mut Params,
) -> Result<AccountRequest, Failure> {
    let markets = call.gateway.markets();
    let p = std::mem::replace(params, Params::from_pairs([]));
    parse_account_request(method, p, &markets, &mut call.session.ids)
}

/// Submits `command`; `render` runs on the matcher thread right after it (with the engine
/// and the order index as the command left them) and produces the result or the error.
///
/// `check`: a cancel that names both `orderId` and `origClientOrderId` must match both
/// (Binance's rule); that is checked against the order index first, and the command is
/// journaled only if it holds. Such a request is therefore journaled after the check's round
/// trip, possibly after requests this connection sent later.
fn submit<F>(
    call: &mut Call<'_>,
    account: AccountId,
    check: Option<crate::api::orders::CancelRequest>,
    command: Command,
    render: F,
) -> Result<Reply, Failure>
where
    F: FnOnce(&node::CommandEvents, &crate::api::OrderSubset, &Answer) -> Result<String, Failure>
        + Send
        + 'static,
{
    let answer = Answer {
        id: call.id.clone(),
        limits: std::mem::take(&mut call.limits),
    };
    let gateway = Arc::clone(call.gateway);

    // On the matcher thread only the orders the answer describes are copied out; the
    // answer is rendered here, on the session's task.
    let enqueue = move |gateway: &Gateway| {
        gateway
            .node
            .enqueue_with(command, move |events, _engine, index| {
                let subset = index.subset(account, &events);
                (events, subset)
            })
            .map_err(|e| node_failure(&e))
    };
    type Applied = Result<(Arc<node::CommandEvents>, crate::api::OrderSubset), NodeError>;
    let await_reply = |rx: tokio::sync::oneshot::Receiver<Applied>, answer: Answer| async move {
        let outcome = match rx.await {
            Ok(Ok((events, subset))) => render(&events, &subset, &answer),
            Ok(Err(e)) => Err(node_failure(&e)),
            Err(_) => Err(node_failure(&NodeError::ShuttingDown)),
        };
        (outcome, answer)
    };
    let Some(check) = check.filter(|c| c.orig_client_order_id.is_some()) else {
        // The usual case: journaled now, in this connection's order.
        let rx = enqueue(&gateway)?;
        return Ok(Reply::Later(Box::pin(async move {
            let (outcome, answer) = await_reply(rx, answer).await;
            answer.finish(&gateway, outcome)
        })));
    };
    Ok(Reply::Later(Box::pin(async move {
        let checked = gateway
            .node
            .query(move |_, index| check.check_ids(account, index))
            .await
            .map_err(|e| node_failure(&e))
            .and_then(|r| r);
        let (outcome, answer) = match checked.and_then(|()| enqueue(&gateway)) {
            Ok(rx) => await_reply(rx, answer).await,
            Err(f) => (Err(f), answer),
        };
        answer.finish(&gateway, outcome)
    })))
}

/// Runs `extract` on the matcher thread (after everything queued before; it should only copy
/// what the answer needs) and renders its result with `render` on the session's task.
fn query<R, F, G>(call: &mut Call<'_>, extract: F, render: G) -> Reply
where
    R: Send + 'static,
    F: FnOnce(&node::Engine, &crate::api::OrderIndex) -> R + Send + 'static,
    G: FnOnce(R) -> Result<Value, Failure> + Send + 'static,
{
    let id = call.id.clone();
    let limits: Vec<RateLimitStatus> = std::mem::take(&mut call.limits);
    let gateway = Arc::clone(call.gateway);
    Reply::Later(Box::pin(async move {
        let outcome = match gateway.node.query(extract).await {
            Ok(r) => render(r),
            Err(e) => Err(node_failure(&e)),
        };
        match outcome {
            Ok(result) => render_ok(&id, result, &limits),
            Err(failure) => {
                inc(&gateway.metrics.errors);
                render_error(&id, &failure, &limits)
            }
        }
    }))
}

/// `order.place` and `order.test`.
pub(crate) fn place(
    call: &mut Call<'_>,
    params: &mut Params,
    account: AccountId,
    test: bool,
) -> Result<Reply, Failure> {
    let method = if test {
        Method::OrderTest
    } else {
        Method::OrderPlace
    };
    let request = parse(call, method, params)?;
    match request {
        AccountRequest::Test {
            order,
            compute_commission_rates,
        } => Ok(call.ok(render::test_result(
            &order,
            compute_commission_rates,
            &call.gateway.markets(),
        ))),
        AccountRequest::Place(order) => {
            take_order_limits(call, account)?;
            let markets = call.gateway.markets();
            let command = Command::PlaceOrder(order.place_order(account));
            let rx = call
                .gateway
                .node
                .enqueue(command)
                .map_err(|e| node_failure(&e))?;
            let answer = Answer {
                id: call.id.clone(),
                limits: std::mem::take(&mut call.limits),
            };
            let gateway = Arc::clone(call.gateway);
            // The place result needs no order index: it renders off the matcher thread.
            Ok(Reply::Later(Box::pin(async move {
                let outcome = match rx.await {
                    Ok(Ok(events)) => render::place_result(&order, account, &events, &markets)
                        .map(|body| answer.ok(&body)),
                    Ok(Err(e)) => Err(node_failure(&e)),
                    Err(_) => Err(node_failure(&NodeError::ShuttingDown)),
                };
                answer.finish(&gateway, outcome)
            })))
        }
        _ => Err(Failure::unsupported_operation()),
    }
}

/// `order.cancel`.
pub(crate) fn cancel(
    call: &mut Call<'_>,
    params: &mut Params,
    account: AccountId,
) -> Result<Reply, Failure> {
    let AccountRequest::Cancel(req) = parse(call, Method::OrderCancel, params)? else {
        return Err(Failure::unsupported_operation());
    };
    let command = AccountRequest::Cancel(req).command(account);
    let markets = call.gateway.markets();
    let command = command.ok_or_else(Failure::unsupported_operation)?;
    submit(
        call,
        account,
        Some(req),
        command,
        move |events, index, answer| {
            render::cancel_result(&req, account, events, &markets, index)
                .map(|body| answer.ok(&body))
        },
    )
}

/// `order.cancelReplace`.
pub(crate) fn cancel_replace(
    call: &mut Call<'_>,
    params: &mut Params,
    account: AccountId,
) -> Result<Reply, Failure> {
    let AccountRequest::CancelReplace(req) = parse(call, Method::OrderCancelReplace, params)?
    else {
        return Err(Failure::unsupported_operation());
    };
    take_order_limits(call, account)?;
    let command = AccountRequest::CancelReplace(req)
        .command(account)
        .ok_or_else(Failure::unsupported_operation)?;
    let markets = call.gateway.markets();
    submit(
        call,
        account,
        Some(req.cancel),
        command,
        move |events, index, answer| {
            render::cancel_replace_result(&req, account, events, &markets, index)
                .map(|body| answer.ok(&body))
        },
    )
}

/// `openOrders.cancelAll`.
pub(crate) fn cancel_all(
    call: &mut Call<'_>,
    params: &mut Params,
    account: AccountId,
) -> Result<Reply, Failure> {
    let request = parse(call, Method::OpenOrdersCancelAll, params)?;
    let command = request
        .command(account)
        .ok_or_else(Failure::unsupported_operation)?;
    let markets = call.gateway.markets();
    // The render names each cancel with a generated id: it gets a clone of the session's
    // generator, which skips past every id the render can use (one per open order at most).
    let mut ids = call.session.ids.clone();
    call.session
        .ids
        .skip(u64::from(call.gateway.max_open_orders) + 1);
    submit(
        call,
        account,
        None,
        command,
        move |events, index, answer| {
            render::cancel_all_result(account, events, &markets, index, &mut ids)
                .map(|bodies| answer.ok(bodies.as_slice()))
        },
    )
}

/// `order.status`.
pub(crate) fn order_status(
    call: &mut Call<'_>,
    params: &mut Params,
    account: AccountId,
) -> Result<Reply, Failure> {
    let AccountRequest::OrderStatus { symbol, target } = parse(call, Method::OrderStatus, params)?
    else {
        return Err(Failure::unsupported_operation());
    };
    let markets = call.gateway.markets();
    Ok(query(
        call,
        move |_, index| {
            let found = match target {
                CancelTarget::OrderId(id) => index.get(account, id).copied(),
                CancelTarget::ClientOrderId(c) => index.by_client_id(account, symbol, &c).copied(),
            };
            found.filter(|o| o.info.symbol == symbol)
        },
        move |found| {
            let o = found.ok_or_else(|| Failure::from(ApiError::NoSuchOrder))?;
            let market = markets
                .get(symbol)
                .ok_or_else(|| Failure::from(ApiError::BadSymbol))?;
            Ok(render::order_object(market, &o))
        },
    ))
}

/// `openOrders.status`.
pub(crate) fn open_orders_status(
    call: &mut Call<'_>,
    params: &mut Params,
    account: AccountId,
) -> Result<Reply, Failure> {
    let AccountRequest::OpenOrdersStatus { symbol } =
        parse(call, Method::OpenOrdersStatus, params)?
    else {
        return Err(Failure::unsupported_operation());
    };
    let markets = call.gateway.markets();
    Ok(query(
        call,
        // The engine lists an account's open orders directly (the index would be scanned).
        move |engine, index| {
            engine
                .open_orders(account, symbol)
                .iter()
                .filter_map(|r| index.get(account, r.order_id).copied())
                .collect::<Vec<_>>()
        },
        move |orders| {
            Ok(Value::Array(
                orders
                    .iter()
                    .filter_map(|o| {
                        markets
                            .get(o.info.symbol)
                            .map(|m| render::order_object(m, o))
                    })
                    .collect(),
            ))
        },
    ))
}

/// `account.status`.
pub(crate) fn account_status(
    call: &mut Call<'_>,
    params: &mut Params,
    account: AccountId,
) -> Result<Reply, Failure> {
    let AccountRequest::AccountStatus { omit_zero_balances } =
        parse(call, Method::AccountStatus, params)?
    else {
        return Err(Failure::unsupported_operation());
    };
    let markets = call.gateway.markets();
    // Commission rates: the first symbol's (every built-in symbol has the same); an exchange
    // with per-symbol rates reports them in exchangeInfo and order.test.
    let rates = markets
        .iter()
        .next()
        .map(|m| CommissionRates {
            maker_ppm: m.config.maker_fee_ppm,
            taker_ppm: m.config.taker_fee_ppm,
        })
        .unwrap_or(CommissionRates {
            maker_ppm: 0,
            taker_ppm: 0,
        });
    let now = call.now_ms;
    Ok(query(
        call,
        move |engine, _| engine.balances(account),
        move |balances| {
            Ok(render::account_status(
                account,
                &balances,
                &markets,
                omit_zero_balances,
                rates,
                now,
            ))
        },
    ))
}

/// `exchangeInfo` (its parameters are read from the raw JSON: `symbols` is an array).
pub(crate) fn exchange_info(
    call: &mut Call<'_>,
    params: &serde_json::Map<String, Value>,
) -> Result<Reply, Failure> {
    let markets = call.gateway.markets();
    let selection = parse_exchange_info(params, &markets)?;
    let config = &call.gateway.config;
    let [ten_s, day] = config.order_limits();
    let limits = ExchangeLimits {
        rate_limits: vec![config.weight_limit(), ten_s, day],
        max_num_orders: call.gateway.max_open_orders,
    };
    Ok(call.ok(render_exchange_info(
        &markets,
        &selection,
        &limits,
        call.now_ms,
    )))
}

/// The one timer task of an account's dead man's switch: sleeps until the current deadline
/// (re-read on every wake, so re-arming never adds a task), cancels everything when it
/// passes, and ends (removing the account's entry) when it fired or was disarmed.
async fn dead_man_timer(gateway: Arc<Gateway>, account: AccountId) {
    loop {
        let deadline = {
            let mut timers = gateway
                .dead_man
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match timers.get(&account).copied().flatten() {
                Some(d) if d > tokio::time::Instant::now() => Some(d),
                _ => {
                    // Expired now, or disarmed: this task ends either way.
                    let expired = timers.remove(&account).flatten().is_some();
                    if !expired {
                        return;
                    }
                    None
                }
            }
        };
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => break,
        }
    }
    tracing::info!(
        account = account.0,
        "cancelAllAfter countdown expired: cancelling all open orders"
    );
    if let Err(e) = gateway
        .node
        .submit(Command::CancelAll {
            account,
            symbol: None,
        })
        .await
    {
        tracing::warn!(account = account.0, error = %e, "cancelAllAfter: cancel-all failed");
    }
}

/// `order.cancelAllAfter` (an extension): a per-account dead man's switch. `countdownTime`
/// milliseconds after the last call, unless another call re-arms it first, every open order
/// of the account is cancelled. It keeps running when the connection that armed it closes,
/// which is what makes it cancel-on-disconnect. `countdownTime` 0 disarms it; otherwise it is
/// 100..=86_400_000 ms.
pub(crate) fn cancel_all_after(
    call: &mut Call<'_>,
    params: &mut Params,
    account: AccountId,
) -> Result<Reply, Failure> {
    let countdown = params.mandatory_u64("countdownTime")?;
    take_params(params)?;
    if countdown != 0 && !(100..=86_400_000).contains(&countdown) {
        return Err(ApiError::InvalidParameter {
            param: "countdownTime".into(),
        }
        .into());
    }
    let deadline =
        (countdown > 0).then(|| tokio::time::Instant::now() + Duration::from_millis(countdown));
    let spawn = {
        let mut timers = call
            .gateway
            .dead_man
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match timers.get_mut(&account) {
            // The account's timer task is running: it reads the new deadline when it wakes.
            Some(d) => {
                *d = deadline;
                false
            }
            None if deadline.is_some() => {
                timers.insert(account, deadline);
                true
            }
            None => false,
        }
    };
    if spawn {
        tokio::spawn(dead_man_timer(Arc::clone(call.gateway), account));
    }
    let trigger = if countdown == 0 {
        0
    } else {
        call.now_ms + countdown
    };
    Ok(call.ok(json!({ "countdownTime": countdown, "triggerTime": trigger })))
}
