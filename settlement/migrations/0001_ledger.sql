-- Settlement schema, version 1. Amounts are integers in the asset's minimal units
-- (NUMERIC(39,0) holds every u128); assets.scale converts them to decimals.
-- Times are milliseconds since the Unix epoch (the sequencer's stamp of the command).

-- The consumer offset: the last event sequence applied, written in the same transaction as
-- the rows of its batch (exactly once). fee_account: the account fees were credited to after
-- that event (it changes with FeeAccountSet events).
CREATE TABLE consumer_offsets (
    consumer     text   PRIMARY KEY,
    last_seq     bigint NOT NULL CHECK (last_seq >= 0),
    fee_account  bigint NOT NULL,
    updated_ms   bigint NOT NULL
);

CREATE TABLE assets (
    asset_id  bigint   PRIMARY KEY,
    code      text     NOT NULL,
    scale     smallint NOT NULL,
    event_seq bigint   NOT NULL
);

CREATE TABLE symbols (
    symbol_id       bigint        PRIMARY KEY,
    name            text          NOT NULL,
    base_asset      bigint        NOT NULL,
    quote_asset     bigint        NOT NULL,
    tick_size       numeric(39,0) NOT NULL,
    lot_size        numeric(39,0) NOT NULL,
    maker_fee_ppm   bigint        NOT NULL,
    taker_fee_ppm   bigint        NOT NULL,
    event_seq       bigint        NOT NULL
);

-- One row per trade, both sides. price: ticks; qty: lots; base_qty / quote_qty / fees:
-- minimal units (fees in the symbol's quote asset).
CREATE TABLE trades (
    trade_id       bigint        PRIMARY KEY,
    event_seq      bigint        NOT NULL,
    cmd_seq        bigint        NOT NULL,
    ts_ms          bigint        NOT NULL,
    symbol_id      bigint        NOT NULL,
    price_ticks    bigint        NOT NULL,
    qty_lots       bigint        NOT NULL,
    base_qty       numeric(39,0) NOT NULL,
    quote_qty      numeric(39,0) NOT NULL,
    taker_side     text          NOT NULL CHECK (taker_side IN ('BUY', 'SELL')),
    buy_order_id   bigint        NOT NULL,
    sell_order_id  bigint        NOT NULL,
    buyer          bigint        NOT NULL,
    seller         bigint        NOT NULL,
    buyer_fee      numeric(39,0) NOT NULL,
    seller_fee     numeric(39,0) NOT NULL,
    fee_asset      bigint        NOT NULL
);
-- Clearing reads trades by account and time range: one index per side.
CREATE INDEX trades_buyer_time  ON trades (buyer, ts_ms);
CREATE INDEX trades_seller_time ON trades (seller, ts_ms);

-- Orders in their current state (final once status is FILLED, CANCELED, EXPIRED or
-- EXPIRED_IN_MATCH). price_ticks / qty_lots are NULL for MARKET orders; quote_amount is set
-- for MARKET orders by quote amount.
CREATE TABLE orders (
    order_id         bigint        PRIMARY KEY,
    account          bigint        NOT NULL,
    symbol_id        bigint        NOT NULL,
    side             text          NOT NULL CHECK (side IN ('BUY', 'SELL')),
    order_type       text          NOT NULL,
    time_in_force    text,
    price_ticks      bigint,
    qty_lots         bigint,
    quote_amount     numeric(39,0),
    client_order_id  text          NOT NULL,
    status           text          NOT NULL,
    executed_lots    bigint        NOT NULL,
    cum_quote        numeric(39,0) NOT NULL,
    remaining_lots   bigint        NOT NULL,
    prevented_lots   bigint        NOT NULL,
    cum_fee          numeric(39,0) NOT NULL,
    created_ms       bigint        NOT NULL,
    updated_ms       bigint        NOT NULL,
    created_seq      bigint        NOT NULL,
    updated_seq      bigint        NOT NULL
) WITH (fillfactor = 80);
CREATE INDEX orders_account ON orders (account, created_ms);

-- The double-entry ledger: every row is one transfer of `amount` of `asset` from the debited
-- holder to the credited one, so every row balances by itself and, per asset, total debits
-- equal total credits. A NULL account is the world outside the exchange (deposits debit it,
-- withdrawals credit it). kind: TRADE_BASE (seller -> buyer), TRADE_QUOTE (buyer -> seller,
-- the notional), FEE (payer -> fee account), DEPOSIT, WITHDRAWAL. ref: the trade id, or NULL.
CREATE TABLE ledger (
    event_seq       bigint        NOT NULL,
    entry           smallint      NOT NULL,
    ts_ms           bigint        NOT NULL,
    kind            text          NOT NULL,
    asset           bigint        NOT NULL,
    debit_account   bigint,
    credit_account  bigint,
    amount          numeric(39,0) NOT NULL CHECK (amount > 0),
    ref             bigint,
    tx_id           text
);
CREATE INDEX ledger_seq ON ledger USING brin (event_seq);

-- Current balance per account and asset (the matcher's absolute values after the last event
-- that touched it). Merged per batch from a staging table with one upsert.
CREATE TABLE balances (
    account    bigint        NOT NULL,
    asset      bigint        NOT NULL,
    available  numeric(39,0) NOT NULL,
    frozen     numeric(39,0) NOT NULL,
    event_seq  bigint        NOT NULL,
    PRIMARY KEY (account, asset)
) WITH (fillfactor = 80);
