//! What clearing reads: an account's fills in a time range, with decimals rendered from the
//! integer columns and the symbol's units.

use crate::numeric::{format_units, Amount};
use crate::SettleError;
use tokio_postgres::Client;

/// One side of a trade, seen from one account (a self-trade yields two fills).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// Symbol name.
    pub symbol: String,
    /// Trade id.
    pub trade_id: u64,
    /// This account's order.
    pub order_id: u64,
    /// Whether this account bought.
    pub is_buyer: bool,
    /// Whether this account's order was the maker.
    pub is_maker: bool,
    /// Price, decimal in the quote asset.
    pub price: String,
    /// Quantity, decimal in the base asset.
    pub qty: String,
    /// Notional, decimal in the quote asset.
    pub quote_qty: String,
    /// This side's fee, decimal.
    pub commission: String,
    /// The fee's asset code.
    pub commission_asset: String,
    /// Time of the trade, ms.
    pub time_ms: u64,
    /// The trade's event.
    pub event_seq: u64,
}

/// What to select.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillQuery {
    /// The account.
    pub account: u64,
    /// From this time, ms, inclusive.
    pub from_ms: u64,
    /// To this time, ms, inclusive.
    pub to_ms: u64,
    /// Only this symbol (by name).
    pub symbol: Option<String>,
    /// Only trades with an id at least this.
    pub from_trade_id: Option<u64>,
    /// Only fills of this order of the account.
    pub order_id: Option<u64>,
    /// Most fills returned (by ascending trade id).
    pub limit: u32,
    /// Return the newest `limit` fills (still in ascending order) instead of the oldest.
    pub newest: bool,
}

/// Whether a symbol of that name was settled.
pub async fn symbol_exists(client: &Client, name: &str) -> Result<bool, SettleError> {
    Ok(client
        .query_opt("SELECT 1 FROM symbols WHERE name = $1", &[&name])
        .await?
        .is_some())
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The account's fills, ascending by trade id (the buyer side first for a self-trade).
pub async fn fills(client: &Client, q: &FillQuery) -> Result<Vec<Fill>, SettleError> {
    let rows = client
        .query(
            "WITH mine AS (
                 SELECT t.*, true AS is_buyer FROM trades t
                 WHERE t.buyer = $1 AND t.ts_ms BETWEEN $2 AND $3
                 UNION ALL
                 SELECT t.*, false AS is_buyer FROM trades t
                 WHERE t.seller = $1 AND t.ts_ms BETWEEN $2 AND $3)
             SELECT s.name, m.trade_id, m.buy_order_id, m.sell_order_id, m.is_buyer,
                    m.taker_side, m.price_ticks, s.tick_size, m.base_qty, m.quote_qty,
                    m.buyer_fee, m.seller_fee, q.code, b.scale, q.scale, m.ts_ms, m.event_seq
             FROM mine m
             JOIN symbols s ON s.symbol_id = m.symbol_id
             JOIN assets b ON b.asset_id = s.base_asset
             JOIN assets q ON q.asset_id = s.quote_asset
             WHERE ($4::text IS NULL OR s.name = $4) AND m.trade_id >= $5
               AND ($7::bigint IS NULL
                    OR $7 = CASE WHEN m.is_buyer THEN m.buy_order_id ELSE m.sell_order_id END)
             ORDER BY CASE WHEN $8 THEN -m.trade_id ELSE m.trade_id END,
                      m.is_buyer <> $8 DESC
             LIMIT $6",
            &[
                &i64_of(q.account),
                &i64_of(q.from_ms),
                &i64_of(q.to_ms),
                &q.symbol,
                &i64_of(q.from_trade_id.unwrap_or(0)),
                &i64::from(q.limit),
                &q.order_id.map(i64_of),
                &q.newest,
            ],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let u = |i: usize| -> Result<u64, SettleError> {
            let v: i64 = r.get(i);
            u64::try_from(v).map_err(|_| SettleError::Schema(format!("negative value {v}")))
        };
        let scale = |i: usize| -> Result<u8, SettleError> {
            let v: i16 = r.get(i);
            u8::try_from(v).map_err(|_| SettleError::Schema(format!("bad scale {v}")))
        };
        let is_buyer: bool = r.get(4);
        let taker_side: String = r.get(5);
        let tick: Amount = r.get(7);
        let base: Amount = r.get(8);
        let quote: Amount = r.get(9);
        let fee: Amount = if is_buyer { r.get(10) } else { r.get(11) };
        let (base_scale, quote_scale) = (scale(13)?, scale(14)?);
        let price = u128::from(u(6)?)
            .checked_mul(tick.0)
            .ok_or_else(|| SettleError::Schema("price overflows u128".into()))?;
        out.push(Fill {
            symbol: r.get(0),
            trade_id: u(1)?,
            order_id: if is_buyer { u(2)? } else { u(3)? },
            is_buyer,
            is_maker: is_buyer == (taker_side == "SELL"),
            price: format_units(price, quote_scale),
            qty: format_units(base.0, base_scale),
            quote_qty: format_units(quote.0, quote_scale),
            commission: format_units(fee.0, quote_scale),
            commission_asset: r.get(12),
            time_ms: u(15)?,
            event_seq: u(16)?,
        });
    }
    if q.newest {
        out.reverse();
    }
    Ok(out)
}
