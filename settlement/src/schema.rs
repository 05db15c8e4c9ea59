//! Versioned migrations, applied on start, and the per-session staging tables.

use crate::SettleError;
use tokio_postgres::Client;

/// The migrations, in order: (version, name, SQL).
pub const MIGRATIONS: &[(i32, &str, &str)] =
    &[(1, "ledger", include_str!("../migrations/0001_ledger.sql"))];

/// An advisory lock key serializing concurrent migrators.
const MIGRATION_LOCK: i64 = 0x5345_5454_4c45; // "SETTLE"

/// Applies the migrations the database lacks, each in its own transaction, and returns the
/// schema version. Refuses a database migrated by a newer build.
pub async fn migrate(client: &mut Client) -> Result<i32, SettleError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS settlement_migrations (
                 version    integer PRIMARY KEY,
                 name       text    NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    for (version, name, sql) in MIGRATIONS {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        let applied = tx
            .query_opt(
                "SELECT 1 FROM settlement_migrations WHERE version = $1",
                &[version],
            )
            .await?
            .is_some();
        if !applied {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO settlement_migrations (version, name) VALUES ($1, $2)",
                &[version, name],
            )
            .await?;
            tracing::info!(version, name, "settlement schema migrated");
        }
        tx.commit().await?;
    }
    let row = client
        .query_one("SELECT max(version) FROM settlement_migrations", &[])
        .await?;
    let current: Option<i32> = row.get(0);
    let current = current.unwrap_or(0);
    if current > newest {
        return Err(SettleError::Schema(format!(
            "schema version {current} is newer than this build's {newest}"
        )));
    }
    Ok(current)
}

/// Session-local staging tables (emptied at every commit).
pub(crate) async fn create_staging(client: &Client) -> Result<(), SettleError> {
    client
        .batch_execute(
            "CREATE TEMP TABLE IF NOT EXISTS balances_stage
                 (LIKE balances INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
             CREATE TEMP TABLE IF NOT EXISTS orders_stage (
                 order_id        bigint NOT NULL,
                 client_order_id text,
                 status          text NOT NULL,
                 executed_lots   bigint NOT NULL,
                 cum_quote       numeric(39,0) NOT NULL,
                 remaining_lots  bigint NOT NULL,
                 prevented_lots  bigint NOT NULL,
                 cum_fee         numeric(39,0) NOT NULL,
                 updated_ms      bigint NOT NULL,
                 updated_seq     bigint NOT NULL) ON COMMIT DELETE ROWS;",
        )
        .await?;
    Ok(())
}
