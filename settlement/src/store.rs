//! Writing one batch in one transaction, with the consumer offset (exactly once), and reading
//! the consumer's state back.

use crate::batch::{side_text, Batch};
use crate::catalog::{Catalog, SymbolUnits};
use crate::numeric::Amount;
use crate::SettleError;
use futures_util::pin_mut;
use matcher::command::{MarketAmount, OrderType, TimeInForce};
use matcher::{AccountId, AssetId, OrderStatus, SymbolId};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Transaction};

/// What writing a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The batch was committed; the offset is now its last event.
    Committed,
    /// The offset was not the batch's `prev_seq` (another writer, or a commit whose reply was
    /// lost): nothing was written. Reload the offset and continue from it.
    OffsetMoved,
}

/// The consumer's committed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerState {
    /// The last event applied.
    pub last_seq: u64,
    /// Symbols and fee account as of `last_seq`.
    pub catalog: Catalog,
}

fn to_i64(v: u64, what: &str) -> Result<i64, SettleError> {
    i64::try_from(v).map_err(|_| SettleError::Schema(format!("{what} {v} exceeds bigint")))
}

fn to_u64(v: i64, what: &str) -> Result<u64, SettleError> {
    u64::try_from(v).map_err(|_| SettleError::Schema(format!("negative {what} {v}")))
}

/// Reads (creating it at offset 0 when missing) the consumer's offset and catalog.
pub async fn load_consumer(
    client: &Client,
    consumer: &str,
    genesis_fee_account: AccountId,
) -> Result<ConsumerState, SettleError> {
    client
        .execute(
            "INSERT INTO consumer_offsets (consumer, last_seq, fee_account, updated_ms)
             VALUES ($1, 0, $2, 0) ON CONFLICT (consumer) DO NOTHING",
            &[&consumer, &to_i64(genesis_fee_account.0, "fee account")?],
        )
        .await?;
    let row = client
        .query_one(
            "SELECT last_seq, fee_account FROM consumer_offsets WHERE consumer = $1",
            &[&consumer],
        )
        .await?;
    let last_seq = to_u64(row.get(0), "offset")?;
    let fee_account = AccountId(to_u64(row.get(1), "fee account")?);
    let mut catalog = Catalog {
        fee_account,
        ..Catalog::default()
    };
    for r in client
        .query(
            "SELECT symbol_id, base_asset, quote_asset, lot_size FROM symbols",
            &[],
        )
        .await?
    {
        let id = |i: usize| -> Result<u32, SettleError> {
            let v: i64 = r.get(i);
            u32::try_from(v).map_err(|_| SettleError::Schema(format!("bad id {v}")))
        };
        let lot: Amount = r.get(3);
        catalog.symbols.insert(
            SymbolId(id(0)?),
            SymbolUnits {
                base: AssetId(id(1)?),
                quote: AssetId(id(2)?),
                lot_size: lot.0,
            },
        );
    }
    Ok(ConsumerState { last_seq, catalog })
}

/// Writes `batch` and moves the offset from `batch.prev_seq` to `batch.last_seq`, all in one
/// transaction. Needs the session's staging tables ([`crate::schema`]).
pub async fn write_batch(
    client: &mut Client,
    consumer: &str,
    batch: &Batch,
    now_ms: u64,
) -> Result<WriteOutcome, SettleError> {
    let tx = client.transaction().await?;
    let moved = tx
        .execute(
            "UPDATE consumer_offsets SET last_seq = $1, fee_account = $2, updated_ms = $3
             WHERE consumer = $4 AND last_seq = $5",
            &[
                &to_i64(batch.last_seq, "event")?,
                &to_i64(batch.fee_account.0, "fee account")?,
                &to_i64(now_ms, "time")?,
                &consumer,
                &to_i64(batch.prev_seq, "event")?,
            ],
        )
        .await?;
    if moved != 1 {
        tx.rollback().await?;
        return Ok(WriteOutcome::OffsetMoved);
    }
    write_catalog(&tx, batch).await?;
    copy_trades(&tx, batch).await?;
    copy_ledger(&tx, batch).await?;
    write_orders(&tx, batch).await?;
    write_balances(&tx, batch).await?;
    tx.commit().await?;
    Ok(WriteOutcome::Committed)
}

async fn write_catalog(tx: &Transaction<'_>, batch: &Batch) -> Result<(), SettleError> {
    for (a, seq) in &batch.assets {
        tx.execute(
            "INSERT INTO assets (asset_id, code, scale, event_seq) VALUES ($1, $2, $3, $4)
             ON CONFLICT (asset_id) DO UPDATE SET code = EXCLUDED.code, scale = EXCLUDED.scale,
                 event_seq = EXCLUDED.event_seq",
            &[
                &i64::from(a.id.0),
                &a.code,
                &i16::from(a.scale),
                &to_i64(*seq, "event")?,
            ],
        )
        .await?;
    }
    for (s, seq) in &batch.symbols {
        tx.execute(
            "INSERT INTO symbols (symbol_id, name, base_asset, quote_asset, tick_size, lot_size,
                 maker_fee_ppm, taker_fee_ppm, event_seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (symbol_id) DO UPDATE SET name = EXCLUDED.name,
                 maker_fee_ppm = EXCLUDED.maker_fee_ppm, taker_fee_ppm = EXCLUDED.taker_fee_ppm,
                 event_seq = EXCLUDED.event_seq",
            &[
                &i64::from(s.id.0),
                &s.name,
                &i64::from(s.base.0),
                &i64::from(s.quote.0),
                &Amount(s.tick_size),
                &Amount(s.lot_size),
                &i64::from(s.maker_fee_ppm),
                &i64::from(s.taker_fee_ppm),
                &to_i64(*seq, "event")?,
            ],
        )
        .await?;
    }
    Ok(())
}

/// The `trades` columns in COPY order, with their types.
pub const TRADE_COLUMNS: &str = "trade_id, event_seq, cmd_seq, ts_ms, symbol_id, price_ticks, \
    qty_lots, base_qty, quote_qty, taker_side, buy_order_id, sell_order_id, buyer, seller, \
    buyer_fee, seller_fee, fee_asset";
const TRADE_TYPES: &[Type] = &[
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::NUMERIC,
    Type::NUMERIC,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::NUMERIC,
    Type::NUMERIC,
    Type::INT8,
];

/// Writes trade rows with binary COPY into `table` (which has the `trades` columns).
pub async fn copy_trade_rows(
    tx: &Transaction<'_>,
    table: &str,
    rows: &[crate::batch::TradeRow],
) -> Result<(), SettleError> {
    if rows.is_empty() {
        return Ok(());
    }
    let sink = tx
        .copy_in(&format!("COPY {table} ({TRADE_COLUMNS}) FROM STDIN BINARY"))
        .await?;
    let writer = BinaryCopyInWriter::new(sink, TRADE_TYPES);
    pin_mut!(writer);
    for r in rows {
        let t = &r.trade;
        let v: [&(dyn ToSql + Sync); 17] = [
            &to_i64(t.trade_id.0, "trade id")?,
            &to_i64(r.event_seq, "event")?,
            &to_i64(r.cmd_seq, "command")?,
            &to_i64(r.ts_ms, "time")?,
            &i64::from(t.symbol.0),
            &to_i64(t.price, "price")?,
            &to_i64(t.qty, "qty")?,
            &Amount(r.base_qty),
            &Amount(t.quote_qty),
            &side_text(t.taker_side),
            &to_i64(t.buy_order_id.0, "order id")?,
            &to_i64(t.sell_order_id.0, "order id")?,
            &to_i64(t.buyer.0, "account")?,
            &to_i64(t.seller.0, "account")?,
            &Amount(t.buyer_fee),
            &Amount(t.seller_fee),
            &i64::from(t.fee_asset.0),
        ];
        writer.as_mut().write(&v).await?;
    }
    writer.finish().await?;
    Ok(())
}

async fn copy_trades(tx: &Transaction<'_>, batch: &Batch) -> Result<(), SettleError> {
    copy_trade_rows(tx, "trades", &batch.trades).await
}

async fn copy_ledger(tx: &Transaction<'_>, batch: &Batch) -> Result<(), SettleError> {
    if batch.ledger.is_empty() {
        return Ok(());
    }
    let sink = tx
        .copy_in(
            "COPY ledger (event_seq, entry, ts_ms, kind, asset, debit_account, credit_account, \
             amount, ref, tx_id) FROM STDIN BINARY",
        )
        .await?;
    let types = [
        Type::INT8,
        Type::INT2,
        Type::INT8,
        Type::TEXT,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::NUMERIC,
        Type::INT8,
        Type::TEXT,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    for e in &batch.ledger {
        let debit = e.debit.map(|a| to_i64(a.0, "account")).transpose()?;
        let credit = e.credit.map(|a| to_i64(a.0, "account")).transpose()?;
        let reference = e.reference.map(|r| to_i64(r, "trade id")).transpose()?;
        let v: [&(dyn ToSql + Sync); 10] = [
            &to_i64(e.event_seq, "event")?,
            &e.entry,
            &to_i64(e.ts_ms, "time")?,
            &e.kind.as_str(),
            &i64::from(e.asset.0),
            &debit,
            &credit,
            &Amount(e.amount),
            &reference,
            &e.tx_id,
        ];
        writer.as_mut().write(&v).await?;
    }
    writer.finish().await?;
    Ok(())
}

/// Binance's order status text.
pub fn status_text(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::New => "NEW",
        OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
        OrderStatus::Filled => "FILLED",
        OrderStatus::Canceled => "CANCELED",
        OrderStatus::Expired => "EXPIRED",
        OrderStatus::ExpiredInMatch => "EXPIRED_IN_MATCH",
    }
}

/// (type, time in force, price ticks, qty lots, quote amount) of an order type.
fn order_params(
    t: &OrderType,
) -> (
    &'static str,
    Option<&'static str>,
    Option<u64>,
    Option<u64>,
    Option<u128>,
) {
    match *t {
        OrderType::Limit { price, qty, tif } => {
            let tif = match tif {
                TimeInForce::Gtc => "GTC",
                TimeInForce::Ioc => "IOC",
                TimeInForce::Fok => "FOK",
            };
            ("LIMIT", Some(tif), Some(price), Some(qty), None)
        }
        OrderType::LimitMaker { price, qty } => ("LIMIT_MAKER", None, Some(price), Some(qty), None),
        OrderType::Market {
            amount: MarketAmount::Base(qty),
        } => ("MARKET", None, None, Some(qty), None),
        OrderType::Market {
            amount: MarketAmount::Quote(q),
        } => ("MARKET", None, None, None, Some(q)),
    }
}

async fn write_orders(tx: &Transaction<'_>, batch: &Batch) -> Result<(), SettleError> {
    let (new, old): (Vec<_>, Vec<_>) = batch.orders().iter().partition(|o| o.created.is_some());
    if !new.is_empty() {
        let sink = tx
            .copy_in(
                "COPY orders (order_id, account, symbol_id, side, order_type, time_in_force, \
                 price_ticks, qty_lots, quote_amount, client_order_id, status, executed_lots, \
                 cum_quote, remaining_lots, prevented_lots, cum_fee, created_ms, updated_ms, \
                 created_seq, updated_seq) FROM STDIN BINARY",
            )
            .await?;
        let types = [
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::INT8,
            Type::NUMERIC,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::NUMERIC,
            Type::INT8,
            Type::INT8,
            Type::NUMERIC,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
        ];
        let writer = BinaryCopyInWriter::new(sink, &types);
        pin_mut!(writer);
        for o in &new {
            let Some(c) = &o.created else { continue };
            let info = &c.accepted.order;
            let (kind, tif, price, qty, quote) = order_params(&info.order_type);
            let price = price.map(|p| to_i64(p, "price")).transpose()?;
            let qty = qty.map(|q| to_i64(q, "qty")).transpose()?;
            let quote = quote.map(Amount);
            let cid = o
                .client_order_id
                .clone()
                .unwrap_or_else(|| info.client_order_id.as_str().to_string());
            let s = &o.state;
            let v: [&(dyn ToSql + Sync); 20] = [
                &to_i64(o.order_id, "order id")?,
                &to_i64(info.account.0, "account")?,
                &i64::from(info.symbol.0),
                &side_text(info.side),
                &kind,
                &tif,
                &price,
                &qty,
                &quote,
                &cid,
                &status_text(s.status),
                &to_i64(s.executed_qty, "qty")?,
                &Amount(s.cum_quote),
                &to_i64(s.remaining_qty, "qty")?,
                &to_i64(s.prevented_qty, "qty")?,
                &Amount(s.cum_fee),
                &to_i64(c.created_ms, "time")?,
                &to_i64(o.updated_ms, "time")?,
                &to_i64(c.created_seq, "event")?,
                &to_i64(o.updated_seq, "event")?,
            ];
            writer.as_mut().write(&v).await?;
        }
        writer.finish().await?;
    }
    if !old.is_empty() {
        let sink = tx
            .copy_in(
                "COPY orders_stage (order_id, client_order_id, status, executed_lots, cum_quote, \
                 remaining_lots, prevented_lots, cum_fee, updated_ms, updated_seq) \
                 FROM STDIN BINARY",
            )
            .await?;
        let types = [
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::NUMERIC,
            Type::INT8,
            Type::INT8,
            Type::NUMERIC,
            Type::INT8,
            Type::INT8,
        ];
        let writer = BinaryCopyInWriter::new(sink, &types);
        pin_mut!(writer);
        for o in &old {
            let s = &o.state;
            let v: [&(dyn ToSql + Sync); 10] = [
                &to_i64(o.order_id, "order id")?,
                &o.client_order_id,
                &status_text(s.status),
                &to_i64(s.executed_qty, "qty")?,
                &Amount(s.cum_quote),
                &to_i64(s.remaining_qty, "qty")?,
                &to_i64(s.prevented_qty, "qty")?,
                &Amount(s.cum_fee),
                &to_i64(o.updated_ms, "time")?,
                &to_i64(o.updated_seq, "event")?,
            ];
            writer.as_mut().write(&v).await?;
        }
        writer.finish().await?;
        let updated = tx
            .execute(
                "UPDATE orders o SET
                     client_order_id = COALESCE(s.client_order_id, o.client_order_id),
                     status = s.status, executed_lots = s.executed_lots,
                     cum_quote = s.cum_quote, remaining_lots = s.remaining_lots,
                     prevented_lots = s.prevented_lots, cum_fee = s.cum_fee,
                     updated_ms = s.updated_ms, updated_seq = s.updated_seq
                 FROM orders_stage s WHERE o.order_id = s.order_id",
                &[],
            )
            .await?;
        if updated != old.len() as u64 {
            return Err(SettleError::Inconsistent {
                seq: batch.last_seq,
                reason: format!(
                    "{} order updates in events {}..={} name orders never accepted",
                    old.len() as u64 - updated.min(old.len() as u64),
                    batch.prev_seq + 1,
                    batch.last_seq
                ),
            });
        }
    }
    Ok(())
}

async fn write_balances(tx: &Transaction<'_>, batch: &Batch) -> Result<(), SettleError> {
    let rows = batch.balances();
    if rows.is_empty() {
        return Ok(());
    }
    let sink = tx
        .copy_in(
            "COPY balances_stage (account, asset, available, frozen, event_seq) FROM STDIN BINARY",
        )
        .await?;
    let types = [
        Type::INT8,
        Type::INT8,
        Type::NUMERIC,
        Type::NUMERIC,
        Type::INT8,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    for b in rows {
        let v: [&(dyn ToSql + Sync); 5] = [
            &to_i64(b.account.0, "account")?,
            &i64::from(b.asset.0),
            &Amount(b.available),
            &Amount(b.frozen),
            &to_i64(b.event_seq, "event")?,
        ];
        writer.as_mut().write(&v).await?;
    }
    writer.finish().await?;
    tx.execute(
        "INSERT INTO balances (account, asset, available, frozen, event_seq)
         SELECT account, asset, available, frozen, event_seq FROM balances_stage
         ON CONFLICT (account, asset) DO UPDATE SET available = EXCLUDED.available,
             frozen = EXCLUDED.frozen, event_seq = EXCLUDED.event_seq",
        &[],
    )
    .await?;
    Ok(())
}
