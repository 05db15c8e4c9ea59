//! JSON payloads in Binance's shapes. Decimals are strings printed by
//! [`gateway::units::SymbolUnits`]; times are milliseconds.

use crate::checksum::{book_checksum, CHECKSUM_LEVELS};
use crate::market::{Diff, SymbolMeta, SymbolState, TradeRow};
use crate::ticker::TickerStats;
use kline::Candle;
use matcher::Side;
use serde_json::{json, Value};

/// Printed `[price, qty]` pairs.
fn levels(meta: &SymbolMeta, levels: &[(u64, u64)]) -> Vec<[String; 2]> {
    levels
        .iter()
        .map(|(p, q)| [meta.units.format_price(*p), meta.units.format_quantity(*q)])
        .collect()
}

/// The checksum extension of the book as it stands.
pub(crate) fn checksum(meta: &SymbolMeta, s: &SymbolState) -> u32 {
    let asks = levels(meta, &s.book.top(Side::Sell, CHECKSUM_LEVELS));
    let bids = levels(meta, &s.book.top(Side::Buy, CHECKSUM_LEVELS));
    let pairs = |v: &[[String; 2]]| -> Vec<(String, String)> {
        v.iter().map(|[p, q]| (p.clone(), q.clone())).collect()
    };
    book_checksum(&pairs(&asks), &pairs(&bids))
}

/// `depthUpdate` (diff depth); `cs` is the checksum extension.
pub(crate) fn diff(meta: &SymbolMeta, d: &Diff, cs: Option<u32>) -> String {
    let mut v = json!({
        "e": "depthUpdate",
        "E": d.time,
        "s": meta.name,
        "U": d.first,
        "u": d.last,
        "b": levels(meta, &d.bids),
        "a": levels(meta, &d.asks),
    });
    if let (Some(cs), Value::Object(m)) = (cs, &mut v) {
        m.insert("cs".into(), json!(cs));
    }
    v.to_string()
}

/// `{"lastUpdateId", "bids", "asks"}`: partial depth streams and `GET /api/v3/depth`.
pub(crate) fn snapshot(meta: &SymbolMeta, s: &SymbolState, last_update_id: u64, n: usize) -> Value {
    json!({
        "lastUpdateId": last_update_id,
        "bids": levels(meta, &s.book.top(Side::Buy, n)),
        "asks": levels(meta, &s.book.top(Side::Sell, n)),
    })
}

/// `trade`.
pub(crate) fn trade(meta: &SymbolMeta, t: &TradeRow) -> String {
    json!({
        "e": "trade",
        "E": t.time,
        "s": meta.name,
        "t": t.id,
        "p": meta.units.format_price(t.price),
        "q": meta.units.format_quantity(t.qty),
        "T": t.time,
        "m": t.buyer_maker,
        "M": true,
    })
    .to_string()
}

/// One element of `GET /api/v3/trades`.
pub(crate) fn trade_row(meta: &SymbolMeta, t: &TradeRow) -> Value {
    json!({
        "id": t.id,
        "price": meta.units.format_price(t.price),
        "qty": meta.units.format_quantity(t.qty),
        "quoteQty": meta.units.format_quote(t.quote),
        "time": t.time,
        "isBuyerMaker": t.buyer_maker,
        "isBestMatch": true,
    })
}

fn best(meta: &SymbolMeta, s: &SymbolState, side: Side) -> (String, String) {
    let (p, q) = s.book.best(side).unwrap_or((0, 0));
    (meta.units.format_price(p), meta.units.format_quantity(q))
}

/// `bookTicker`.
pub(crate) fn book_ticker(meta: &SymbolMeta, s: &SymbolState, update_id: u64) -> String {
    let (b, bq) = best(meta, s, Side::Buy);
    let (a, aq) = best(meta, s, Side::Sell);
    json!({"u": update_id, "s": meta.name, "b": b, "B": bq, "a": a, "A": aq}).to_string()
}

/// The printed fields of a ticker.
struct TickerText {
    change: String,
    percent: String,
    weighted: String,
}

fn ticker_text(meta: &SymbolMeta, t: &TickerStats) -> TickerText {
    let change = i128::from(t.last) - i128::from(t.open);
    let sign = if change < 0 { "-" } else { "" };
    let abs = u64::try_from(change.unsigned_abs()).unwrap_or(u64::MAX);
    // Percent with three decimals, truncated toward zero.
    let percent = if t.open == 0 {
        "0.000".to_string()
    } else {
        let milli = change * 100_000 / i128::from(t.open);
        let sign = if milli < 0 { "-" } else { "" };
        let m = milli.unsigned_abs();
        format!("{sign}{}.{:03}", m / 1000, m % 1000)
    };
    // Quote units per whole base unit: quote * 10^base_scale / (lots * lot_size).
    let base_units = t.volume.saturating_mul(meta.lot_size);
    let one_base = 10u128.pow(u32::from(meta.base_scale));
    let weighted = match t.quote_volume.checked_mul(one_base) {
        Some(n) => n.checked_div(base_units).unwrap_or(0),
        None => t
            .quote_volume
            .checked_div(base_units)
            .unwrap_or(0)
            .saturating_mul(one_base),
    };
    TickerText {
        change: format!("{sign}{}", meta.units.format_price(abs)),
        percent,
        weighted: meta.units.format_quote(weighted),
    }
}

fn id_or_minus_one(id: Option<u64>) -> Value {
    id.map_or(json!(-1), |i| json!(i))
}

/// `24hrTicker` (stream).
pub(crate) fn ticker_event(
    meta: &SymbolMeta,
    s: &SymbolState,
    t: &TickerStats,
    now: u64,
) -> String {
    let x = ticker_text(meta, t);
    let (b, bq) = best(meta, s, Side::Buy);
    let (a, aq) = best(meta, s, Side::Sell);
    let u = &meta.units;
    json!({
        "e": "24hrTicker",
        "E": now,
        "s": meta.name,
        "p": x.change,
        "P": x.percent,
        "w": x.weighted,
        "x": u.format_price(t.prev_close),
        "c": u.format_price(t.last),
        "Q": u.format_quantity(t.last_qty),
        "b": b,
        "B": bq,
        "a": a,
        "A": aq,
        "o": u.format_price(t.open),
        "h": u.format_price(t.high),
        "l": u.format_price(t.low),
        "v": meta.lots(t.volume),
        "q": u.format_quote(t.quote_volume),
        "O": t.open_time,
        "C": t.close_time,
        "F": id_or_minus_one(t.first_id),
        "L": id_or_minus_one(t.last_id),
        "n": t.count,
    })
    .to_string()
}

/// One element of `GET /api/v3/ticker/24hr` (the FULL type).
pub(crate) fn ticker_rest(meta: &SymbolMeta, s: &SymbolState, t: &TickerStats) -> Value {
    let x = ticker_text(meta, t);
    let (b, bq) = best(meta, s, Side::Buy);
    let (a, aq) = best(meta, s, Side::Sell);
    let u = &meta.units;
    json!({
        "symbol": meta.name,
        "priceChange": x.change,
        "priceChangePercent": x.percent,
        "weightedAvgPrice": x.weighted,
        "prevClosePrice": u.format_price(t.prev_close),
        "lastPrice": u.format_price(t.last),
        "lastQty": u.format_quantity(t.last_qty),
        "bidPrice": b,
        "bidQty": bq,
        "askPrice": a,
        "askQty": aq,
        "openPrice": u.format_price(t.open),
        "highPrice": u.format_price(t.high),
        "lowPrice": u.format_price(t.low),
        "volume": meta.lots(t.volume),
        "quoteVolume": u.format_quote(t.quote_volume),
        "openTime": t.open_time,
        "closeTime": t.close_time,
        "firstId": id_or_minus_one(t.first_id),
        "lastId": id_or_minus_one(t.last_id),
        "count": t.count,
    })
}

/// A candle for the stream: a real one, or an interval without trades (`f`/`L` = -1,
/// prices at the previous close, zero volume).
#[derive(Clone, Debug)]
pub(crate) enum StreamCandle {
    Traded(Candle),
    Empty {
        interval: kline::Interval,
        open_time: u64,
        prev_close: u64,
    },
}

/// `kline`.
pub(crate) fn kline_event(meta: &SymbolMeta, c: &StreamCandle, closed: bool, now: u64) -> String {
    let u = &meta.units;
    let k = match c {
        StreamCandle::Traded(c) => json!({
            "t": c.open_time,
            "T": c.close_time,
            "s": meta.name,
            "i": c.interval.as_str(),
            "f": c.first_trade_id,
            "L": c.last_trade_id,
            "o": u.format_price(c.open),
            "c": u.format_price(c.close),
            "h": u.format_price(c.high),
            "l": u.format_price(c.low),
            "v": meta.lots(c.volume),
            "n": c.trades,
            "x": closed,
            "q": u.format_quote(c.quote_volume),
            "V": meta.lots(c.taker_buy_volume),
            "Q": u.format_quote(c.taker_buy_quote_volume),
            "B": "0",
        }),
        StreamCandle::Empty {
            interval,
            open_time,
            prev_close,
        } => {
            let p = u.format_price(*prev_close);
            json!({
                "t": open_time,
                "T": interval.close_time(*open_time),
                "s": meta.name,
                "i": interval.as_str(),
                "f": -1,
                "L": -1,
                "o": p,
                "c": p,
                "h": p,
                "l": p,
                "v": meta.lots(0),
                "n": 0,
                "x": closed,
                "q": u.format_quote(0),
                "V": meta.lots(0),
                "Q": u.format_quote(0),
                "B": "0",
            })
        }
    };
    json!({"e": "kline", "E": now, "s": meta.name, "k": k}).to_string()
}

/// One row of `GET /api/v3/klines`.
pub(crate) fn kline_row(meta: &SymbolMeta, c: &Candle) -> Value {
    let u = &meta.units;
    json!([
        c.open_time,
        u.format_price(c.open),
        u.format_price(c.high),
        u.format_price(c.low),
        u.format_price(c.close),
        meta.lots(c.volume),
        c.close_time,
        u.format_quote(c.quote_volume),
        c.trades,
        meta.lots(c.taker_buy_volume),
        u.format_quote(c.taker_buy_quote_volume),
        "0",
    ])
}
