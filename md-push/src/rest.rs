//! REST reads: `GET /api/v3/depth`, `/api/v3/trades`, `/api/v3/ticker/24hr`,
//! `/api/v3/klines` (served by the hub) and `/api/v3/exchangeInfo` (from the engine).

use crate::error::RestError;
use crate::hub::{Request, TickerQuery};
use crate::MdPush;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use kline::Interval;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::oneshot;

type Params = Query<HashMap<String, String>>;

fn json_response(v: &Value) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn respond(r: Result<Value, RestError>) -> Response {
    match r {
        Ok(v) => json_response(&v),
        Err(e) => e.into_response(),
    }
}

fn symbol(p: &HashMap<String, String>) -> Result<String, RestError> {
    match p.get("symbol") {
        Some(s) if !s.is_empty() => Ok(s.to_ascii_uppercase()),
        _ => Err(RestError::mandatory("symbol")),
    }
}

fn number(p: &HashMap<String, String>, name: &str) -> Result<Option<u64>, RestError> {
    match p.get(name) {
        None => Ok(None),
        Some(s) if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse()
            .map(Some)
            .map_err(|_| RestError::illegal_number(name)),
        Some(_) => Err(RestError::illegal_number(name)),
    }
}

/// `limit`: the default when absent, at least 1, and truncated to `max` as Binance does.
fn limit(p: &HashMap<String, String>, default: usize, max: usize) -> Result<usize, RestError> {
    Ok(number(p, "limit")?
        .map_or(default, |l| usize::try_from(l).unwrap_or(max))
        .clamp(1, max))
}

async fn ask(
    md: &MdPush,
    make: impl FnOnce(oneshot::Sender<Result<Value, RestError>>) -> Request,
) -> Result<Value, RestError> {
    let (tx, rx) = oneshot::channel();
    md.hub.try_send(make(tx)).map_err(|_| RestError::busy())?;
    match tokio::time::timeout(md.config.rest_wait, rx).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Err(RestError::unavailable(
            "Market data service stopped.".into(),
        )),
        Err(_) => Err(RestError::unavailable(
            "Market data is catching up with the exchange; retry later.".into(),
        )),
    }
}

/// `GET /api/v3/depth?symbol=&limit=` (default 100, at most 5000).
pub(crate) async fn depth(State(md): State<Arc<MdPush>>, Query(p): Params) -> Response {
    let r = async {
        let symbol = symbol(&p)?;
        let limit = limit(&p, 100, 5000)?;
        ask(&md, |reply| Request::Depth {
            symbol,
            limit,
            reply,
        })
        .await
    };
    respond(r.await)
}

/// `GET /api/v3/trades?symbol=&limit=` (default 500, at most 1000; the most recent trades,
/// oldest first).
pub(crate) async fn trades(State(md): State<Arc<MdPush>>, Query(p): Params) -> Response {
    let r = async {
        let symbol = symbol(&p)?;
        let limit = limit(&p, 500, 1000)?;
        ask(&md, |reply| Request::Trades {
            symbol,
            limit,
            reply,
        })
        .await
    };
    respond(r.await)
}

fn symbols_param(s: &str) -> Result<Vec<String>, RestError> {
    let v: Value = serde_json::from_str(s).map_err(|_| RestError::bad_symbols())?;
    let Value::Array(a) = v else {
        return Err(RestError::bad_symbols());
    };
    let names: Vec<String> = a
        .into_iter()
        .map(|x| match x {
            Value::String(s) if !s.is_empty() => Ok(s.to_ascii_uppercase()),
            _ => Err(RestError::bad_symbols()),
        })
        .collect::<Result<_, _>>()?;
    if names.is_empty() {
        return Err(RestError::bad_symbols());
    }
    Ok(names)
}

/// `GET /api/v3/ticker/24hr` with `symbol`, `symbols` (a JSON array) or neither (all).
pub(crate) async fn ticker(State(md): State<Arc<MdPush>>, Query(p): Params) -> Response {
    let r = async {
        let query = match (p.get("symbol"), p.get("symbols")) {
            (Some(_), Some(_)) => return Err(RestError::bad_combination()),
            (Some(_), None) => TickerQuery::One(symbol(&p)?),
            (None, Some(s)) => TickerQuery::Many(symbols_param(s)?),
            (None, None) => TickerQuery::All,
        };
        ask(&md, |reply| Request::Ticker { query, reply }).await
    };
    respond(r.await)
}

/// `GET /api/v3/klines?symbol=&interval=&startTime=&endTime=&limit=` (default 500, at most
/// 1000). Intervals without trades are omitted.
pub(crate) async fn klines(State(md): State<Arc<MdPush>>, Query(p): Params) -> Response {
    let r = async {
        let symbol = symbol(&p)?;
        let interval = match p.get("interval") {
            None => return Err(RestError::mandatory("interval")),
            Some(i) => Interval::parse(i).map_err(|_| RestError::bad_interval())?,
        };
        let start = number(&p, "startTime")?;
        let end = number(&p, "endTime")?;
        let limit = limit(&p, 500, 1000)?;
        ask(&md, |reply| Request::Klines {
            symbol,
            interval,
            start,
            end,
            limit,
            reply,
        })
        .await
    };
    respond(r.await)
}

/// `GET /api/v3/exchangeInfo` with `symbol`, `symbols` or neither: the gateway's catalogue,
/// read from the engine.
pub(crate) async fn exchange_info(State(md): State<Arc<MdPush>>, Query(p): Params) -> Response {
    let selection = match (p.get("symbol"), p.get("symbols")) {
        (Some(_), Some(_)) => return RestError::bad_combination().into_response(),
        (Some(_), None) => match symbol(&p) {
            Ok(s) => Some(vec![s]),
            Err(e) => return e.into_response(),
        },
        (None, Some(s)) => match symbols_param(s) {
            Ok(v) => Some(v),
            Err(e) => return e.into_response(),
        },
        (None, None) => None,
    };
    respond((md.exchange_info)(selection).await)
}
