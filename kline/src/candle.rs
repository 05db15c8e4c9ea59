//! One candle, in the matcher's integers.

use crate::interval::Interval;
use matcher::{Side, Trade};

/// A candle: every field of a Binance kline row. Prices are ticks, volumes lots, quote
/// volumes quote minimal units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candle {
    /// Interval.
    pub interval: Interval,
    /// Open time, ms (UTC aligned).
    pub open_time: u64,
    /// Close time, ms (the interval's last millisecond).
    pub close_time: u64,
    /// First trade's price, ticks.
    pub open: u64,
    /// Highest price, ticks.
    pub high: u64,
    /// Lowest price, ticks.
    pub low: u64,
    /// Last trade's price, ticks.
    pub close: u64,
    /// Base volume, lots.
    pub volume: u128,
    /// Quote volume, quote minimal units.
    pub quote_volume: u128,
    /// Number of trades.
    pub trades: u64,
    /// Base volume of trades whose taker bought, lots.
    pub taker_buy_volume: u128,
    /// Quote volume of trades whose taker bought, quote minimal units.
    pub taker_buy_quote_volume: u128,
    /// First trade id.
    pub first_trade_id: u64,
    /// Last trade id.
    pub last_trade_id: u64,
}

impl Candle {
    /// A candle of `interval` opened by `trade` at `ts_ms`.
    pub fn open_with(interval: Interval, ts_ms: u64, trade: &Trade) -> Candle {
        let open_time = interval.open_time(ts_ms);
        let mut c = Candle {
            interval,
            open_time,
            close_time: interval.close_time(open_time),
            open: trade.price,
            high: trade.price,
            low: trade.price,
            close: trade.price,
            volume: 0,
            quote_volume: 0,
            trades: 0,
            taker_buy_volume: 0,
            taker_buy_quote_volume: 0,
            first_trade_id: trade.trade_id.0,
            last_trade_id: trade.trade_id.0,
        };
        c.add_volumes(trade);
        c
    }

    /// Folds a later trade of the same interval into the candle.
    pub fn add(&mut self, trade: &Trade) {
        self.high = self.high.max(trade.price);
        self.low = self.low.min(trade.price);
        self.close = trade.price;
        self.last_trade_id = trade.trade_id.0;
        self.add_volumes(trade);
    }

    fn add_volumes(&mut self, trade: &Trade) {
        // Saturating: a u128 of lots or quote units cannot overflow in practice (the supply
        // of any asset is capped at 10^30 minimal units), and a candle must never panic.
        self.volume = self.volume.saturating_add(u128::from(trade.qty));
        self.quote_volume = self.quote_volume.saturating_add(trade.quote_qty);
        self.trades += 1;
        if trade.taker_side == Side::Buy {
            self.taker_buy_volume = self.taker_buy_volume.saturating_add(u128::from(trade.qty));
            self.taker_buy_quote_volume =
                self.taker_buy_quote_volume.saturating_add(trade.quote_qty);
        }
    }
}
