//! One request frame: parse, count its weight, authenticate, run the method.

use super::metrics::inc;
use super::session::{Logon, Session};
use super::{now_ms, orders, Gateway};
use crate::api::params::mandatory;
use crate::api::{
    parse_request, render_error, render_ok, Failure, Method, Params, RateLimitStatus, Request,
};
use crate::auth;
use crate::errors::ApiError;
use futures_util::future::BoxFuture;
use matcher::AccountId;
use serde_json::{json, Value};
use std::sync::Arc;

/// A request's answer: ready now, or once the node has answered.
pub(crate) enum Reply {
    /// The response text.
    Now(String),
    /// The response text, later.
    Later(BoxFuture<'static, String>),
}

/// What a method handler gets.
pub(crate) struct Call<'a> {
    pub gateway: &'a Arc<Gateway>,
    pub session: &'a mut Session,
    pub id: Value,
    pub now_ms: u64,
    /// Rate-limit statuses to report (empty when the session asked for none).
    pub limits: Vec<RateLimitStatus>,
}

impl Call<'_> {
    /// An error reply now.
    pub fn fail(&self, failure: &Failure) -> Reply {
        inc(&self.gateway.metrics.errors);
        Reply::Now(render_error(&self.id, failure, &self.limits))
    }

    /// A success reply now.
    pub fn ok(&self, result: Value) -> Reply {
        Reply::Now(render_ok(&self.id, result, &self.limits))
    }
}

/// A binary frame: the API speaks text only.
pub(crate) fn binary_frame(gateway: &Arc<Gateway>, _session: &mut Session) -> String {
    inc(&gateway.metrics.errors);
    render_error(&Value::Null, &Failure::invalid_json(), &[])
}

/// Whether a request's node work (if any) is queued while it is handled, so the session may
/// handle the next frame already read before polling this one's reply: everything except
/// methods that query the node or change the session (their work starts when their reply
/// future is first polled, or later frames depend on them).
pub(crate) fn drainable(method: Method) -> bool {
    matches!(
        method,
        Method::Ping
            | Method::Time
            | Method::OrderPlace
            | Method::OrderTest
            | Method::OrderCancel
            | Method::OrderCancelReplace
            | Method::OpenOrdersCancelAll
    )
}

/// Handles one text frame; also says whether the next frame may be handled before this
/// one's reply is polled ([`drainable`]; true for frames that fail to parse).
pub(crate) fn handle(gateway: &Arc<Gateway>, session: &mut Session, text: &str) -> (Reply, bool) {
    let request = parse_request(text);
    let drain = request.as_ref().map_or(true, |r| drainable(r.method));
    (handle_request(gateway, session, request), drain)
}

fn handle_request(
    gateway: &Arc<Gateway>,
    session: &mut Session,
    request: Result<Request<'_>, Box<crate::api::BadRequest>>,
) -> Reply {
    let now = now_ms();
    let weight_limit = gateway.config.weight_limit();
    let weight = match &request {
        Ok(r) => u64::from(r.method.weight_with_symbol(r.params.contains_key("symbol"))),
        Err(_) => 1,
    };
    let weight_status = match session.weight.take(&weight_limit, now, weight) {
        Ok(count) => RateLimitStatus {
            limit: weight_limit,
            count,
        },
        Err(count) => {
            inc(&gateway.metrics.rate_limited);
            inc(&gateway.metrics.errors);
            let id = request
                .as_ref()
                .map(|r| r.id.clone())
                .unwrap_or(Value::Null);
            let status = RateLimitStatus {
                limit: weight_limit,
                count,
            };
            return Reply::Now(render_error(
                &id,
                &ApiError::TooManyRequests.into(),
                &[status],
            ));
        }
    };
    let limits = if session.return_rate_limits {
        vec![weight_status]
    } else {
        Vec::new()
    };
    let Request { id, method, params } = match request {
        Ok(r) => r,
        Err(bad) => {
            inc(&gateway.metrics.errors);
            return Reply::Now(render_error(&bad.id, &bad.failure, &limits));
        }
    };
    let mut call = Call {
        gateway,
        session,
        id,
        now_ms: now,
        limits,
    };
    if method == Method::ExchangeInfo {
        return match super::orders::exchange_info(&mut call, &params.to_json_map()) {
            Ok(reply) => reply,
            Err(f) => call.fail(&f),
        };
    }
    let mut params = match Params::from_sent(params) {
        Ok(p) => p,
        Err(f) => return call.fail(&f),
    };
    match run(&mut call, method, &mut params) {
        Ok(reply) => reply,
        Err(f) => call.fail(&f),
    }
}

fn run(call: &mut Call<'_>, method: Method, params: &mut Params) -> Result<Reply, Failure> {
    match method {
        Method::Ping => {
            take_params(params)?;
            Ok(call.ok(json!({})))
        }
        Method::Time => {
            take_params(params)?;
            Ok(call.ok(json!({ "serverTime": call.now_ms })))
        }
        Method::ExchangeInfo => Err(Failure::unsupported_operation()),
        Method::SessionLogon => {
            let account = authenticate(call, params, true)?;
            take_params(params)?;
            // authenticate() with `logon` set stored the key.
            debug_assert!(call.session.logon.as_ref().map(|l| l.account) == Some(account));
            Ok(call.ok(session_status(call)))
        }
        Method::SessionStatus => {
            take_params(params)?;
            Ok(call.ok(session_status(call)))
        }
        Method::SessionLogout => {
            take_params(params)?;
            call.session.logon = None;
            Ok(call.ok(session_status(call)))
        }
        Method::UserDataStreamSubscribe => {
            let account = authenticate(call, params, false)?;
            take_params(params)?;
            if call.session.subscription.is_some() {
                // One subscription per connection (Binance allows one per session too).
                return Err(ApiError::InvalidParameter {
                    param: "userDataStream".into(),
                }
                .into());
            }
            let id = call.gateway.user_streams.register(
                account,
                call.session.id,
                call.session.out.clone(),
                Arc::clone(&call.session.cut),
            );
            call.session.subscription = Some((id, account));
            // The answer waits for the router's copy of the account's orders: everything
            // the client sends after it is pushed.
            let gateway = Arc::clone(call.gateway);
            let (reply_id, session) = (call.id.clone(), call.session.id);
            let limits = std::mem::take(&mut call.limits);
            Ok(Reply::Later(Box::pin(async move {
                match super::user_stream::seed(&gateway, account).await {
                    Ok(()) => render_ok(&reply_id, json!({ "subscriptionId": id }), &limits),
                    Err(e) => {
                        gateway.user_streams.unregister(account, session, id);
                        inc(&gateway.metrics.errors);
                        render_error(&reply_id, &orders::node_failure(&e), &limits)
                    }
                }
            })))
        }
        Method::UserDataStreamUnsubscribe => {
            let wanted = params.optional_u64("subscriptionId")?;
            take_params(params)?;
            match (call.session.subscription, wanted) {
                (Some((id, account)), None) => {
                    call.gateway
                        .user_streams
                        .unregister(account, call.session.id, id);
                    call.session.subscription = None;
                }
                (Some((id, account)), Some(w)) if w == id => {
                    call.gateway
                        .user_streams
                        .unregister(account, call.session.id, id);
                    call.session.subscription = None;
                }
                (_, Some(_)) => {
                    return Err(ApiError::InvalidParameter {
                        param: "subscriptionId".into(),
                    }
                    .into())
                }
                (None, None) => {}
            }
            Ok(call.ok(json!({})))
        }
        Method::OrderCancelAllAfter => {
            let account = authenticate(call, params, false)?;
            orders::cancel_all_after(call, params, account)
        }
        Method::OrderPlace => {
            let account = authenticate(call, params, false)?;
            orders::place(call, params, account, false)
        }
        Method::OrderTest => {
            let account = authenticate(call, params, false)?;
            orders::place(call, params, account, true)
        }
        Method::OrderCancel => {
            let account = authenticate(call, params, false)?;
            orders::cancel(call, params, account)
        }
        Method::OrderCancelReplace => {
            let account = authenticate(call, params, false)?;
            orders::cancel_replace(call, params, account)
        }
        Method::OpenOrdersCancelAll => {
            let account = authenticate(call, params, false)?;
            orders::cancel_all(call, params, account)
        }
        Method::OrderStatus => {
            let account = authenticate(call, params, false)?;
            orders::order_status(call, params, account)
        }
        Method::OpenOrdersStatus => {
            let account = authenticate(call, params, false)?;
            orders::open_orders_status(call, params, account)
        }
        Method::AccountStatus => {
            let account = authenticate(call, params, false)?;
            orders::account_status(call, params, account)
        }
    }
}

/// Every parameter must have been read.
pub(crate) fn take_params(params: &mut Params) -> Result<(), Failure> {
    std::mem::replace(params, Params::from_pairs([])).finish()
}

fn session_status(call: &Call<'_>) -> Value {
    let logon = call.session.logon.as_ref();
    json!({
        "apiKey": logon.map(|l| l.api_key.clone()),
        "authorizedSince": logon.map(|l| l.since_ms),
        "connectedSince": call.session.connected_ms,
        "returnRateLimits": call.session.return_rate_limits,
        "serverTime": call.now_ms,
        "userDataStream": call.session.subscription.is_some(),
    })
}

/// Checks the request security of a signed method and returns the account.
///
/// * With `signature`: `apiKey` is mandatory, must be known (`-2015`) and the HMAC-SHA256 of
///   the payload with its secret must match (`-1022`).
/// * Without `signature` on a logged-on session: the session's key; an `apiKey` that differs
///   from it is `-1002` ("not authorized").
/// * Either way `timestamp` must satisfy the `recvWindow` rule (`-1021`).
///
/// With `logon` (for `session.logon`) the signature is mandatory and the key becomes the
/// session's.
fn authenticate(
    call: &mut Call<'_>,
    params: &mut Params,
    logon: bool,
) -> Result<AccountId, Failure> {
    let security = params.take_security()?;
    let gateway = call.gateway;
    let result = (|| {
        let account = match (&security.signature, &call.session.logon) {
            (Some(signature), _) => {
                let api_key = security
                    .api_key
                    .as_deref()
                    .ok_or_else(|| mandatory("apiKey"))?;
                let (account, verified) = gateway
                    .with_api_key(api_key, |key| {
                        let verified = key.secret.signer().verify(&security.payload, signature);
                        (key.account, verified)
                    })
                    .ok_or(ApiError::RejectedApiKey)?;
                verified?;
                if logon {
                    call.session.logon = Some(Logon {
                        api_key: api_key.to_owned(),
                        account,
                        since_ms: call.now_ms,
                    });
                }
                account
            }
            (None, Some(session)) if !logon => {
                if let Some(k) = &security.api_key {
                    if *k != session.api_key {
                        return Err(ApiError::Unauthorized.into());
                    }
                }
                session.account
            }
            (None, _) => return Err(mandatory("signature")),
        };
        auth::check_timestamp_us(
            security.timestamp.saturating_mul(1_000),
            security.recv_window_us,
            call.now_ms.saturating_mul(1_000),
        )?;
        Ok(account)
    })();
    if result.is_err() {
        inc(&gateway.metrics.auth_failures);
        if logon {
            call.session.logon = None;
        }
    }
    result
}
