//! Order requests as Binance's `order.place` and `order.cancelReplace` take them.
//!
//! Decimals are carried as strings (exactly what is sent and signed); nothing here is a float.

use super::wire::{ParamValue, Params};
use serde_json::{Map, Value};

/// Order side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// `BUY`.
    Buy,
    /// `SELL`.
    Sell,
}

impl Side {
    /// Binance's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }

    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

/// Order type (the subset the exchange and the flow use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderType {
    /// `LIMIT` (needs a time in force and a price).
    Limit,
    /// `MARKET` (a quantity or a quote order quantity).
    Market,
    /// `LIMIT_MAKER` (post-only).
    LimitMaker,
}

impl OrderType {
    /// Binance's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Limit => "LIMIT",
            OrderType::Market => "MARKET",
            OrderType::LimitMaker => "LIMIT_MAKER",
        }
    }
}

/// Time in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    /// Good till cancelled.
    Gtc,
    /// Immediate or cancel.
    Ioc,
    /// Fill or kill.
    Fok,
}

impl TimeInForce {
    /// Binance's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Ioc => "IOC",
            TimeInForce::Fok => "FOK",
        }
    }
}

/// `newOrderRespType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RespType {
    /// Ids only.
    Ack,
    /// The order's state.
    Result,
    /// The order's state and its fills.
    Full,
}

impl RespType {
    /// Binance's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RespType::Ack => "ACK",
            RespType::Result => "RESULT",
            RespType::Full => "FULL",
        }
    }
}

/// A new order, as `order.place` (or the new half of `order.cancelReplace`) takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRequest {
    /// Symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Side.
    pub side: Side,
    /// Type.
    pub order_type: OrderType,
    /// Time in force (`LIMIT` orders).
    pub time_in_force: Option<TimeInForce>,
    /// Limit price as a decimal string.
    pub price: Option<String>,
    /// Quantity in the base asset as a decimal string.
    pub quantity: Option<String>,
    /// Quote order quantity (`MARKET` orders by quote amount).
    pub quote_order_qty: Option<String>,
    /// `newClientOrderId`.
    pub client_order_id: Option<String>,
    /// `newOrderRespType`.
    pub resp_type: Option<RespType>,
}

impl OrderRequest {
    /// A `LIMIT` order.
    pub fn limit(
        symbol: &str,
        side: Side,
        tif: TimeInForce,
        price: impl Into<String>,
        quantity: impl Into<String>,
    ) -> Self {
        OrderRequest {
            symbol: symbol.to_string(),
            side,
            order_type: OrderType::Limit,
            time_in_force: Some(tif),
            price: Some(price.into()),
            quantity: Some(quantity.into()),
            quote_order_qty: None,
            client_order_id: None,
            resp_type: None,
        }
    }

    /// A `MARKET` order for a base quantity.
    pub fn market(symbol: &str, side: Side, quantity: impl Into<String>) -> Self {
        OrderRequest {
            symbol: symbol.to_string(),
            side,
            order_type: OrderType::Market,
            time_in_force: None,
            price: None,
            quantity: Some(quantity.into()),
            quote_order_qty: None,
            client_order_id: None,
            resp_type: None,
        }
    }

    /// Sets `newClientOrderId`.
    pub fn with_client_order_id(mut self, id: impl Into<String>) -> Self {
        self.client_order_id = Some(id.into());
        self
    }

    /// Sets `newOrderRespType`.
    pub fn with_resp_type(mut self, resp: RespType) -> Self {
        self.resp_type = Some(resp);
        self
    }

    /// Writes the order's parameters (without `symbol` when `with_symbol` is false, for
    /// `order.cancelReplace`, which names the symbol once).
    pub fn write_params<'a>(&'a self, params: &mut Params<'a>, with_symbol: bool) {
        let mut put =
            |name: &'static str, value: &'a str| params.push(name, ParamValue::Str(value));
        if with_symbol {
            put("symbol", &self.symbol);
        }
        put("side", self.side.as_str());
        put("type", self.order_type.as_str());
        if let Some(tif) = self.time_in_force {
            put("timeInForce", tif.as_str());
        }
        if let Some(price) = &self.price {
            put("price", price);
        }
        if let Some(qty) = &self.quantity {
            put("quantity", qty);
        }
        if let Some(q) = &self.quote_order_qty {
            put("quoteOrderQty", q);
        }
        if let Some(id) = &self.client_order_id {
            put("newClientOrderId", id);
        }
        if let Some(resp) = self.resp_type {
            put("newOrderRespType", resp.as_str());
        }
    }

    /// The `order.place` parameters (unsigned).
    pub fn to_params(&self) -> Map<String, Value> {
        let mut params = Params::with_capacity(9);
        self.write_params(&mut params, true);
        params.to_map()
    }
}

/// Which order a cancel names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderRef {
    /// By the exchange's `orderId`.
    Id(u64),
    /// By the client's order id (`origClientOrderId`).
    ClientId(String),
}

/// `cancelReplaceMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelReplaceMode {
    /// Do not place the new order if the cancel fails.
    StopOnFailure,
    /// Place the new order even if the cancel fails.
    AllowFailure,
}

impl CancelReplaceMode {
    /// Binance's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReplaceMode::StopOnFailure => "STOP_ON_FAILURE",
            CancelReplaceMode::AllowFailure => "ALLOW_FAILURE",
        }
    }
}

impl OrderRef {
    /// The parameter naming this order: `orderId` / `origClientOrderId`, or with the
    /// `cancel` prefix (`cancelOrderId` / `cancelOrigClientOrderId`) for
    /// `order.cancelReplace`.
    pub fn param(&self, cancel: bool) -> (&'static str, ParamValue<'_>) {
        match self {
            OrderRef::Id(id) => order_id_param(*id, cancel),
            OrderRef::ClientId(c) => (
                if cancel {
                    "cancelOrigClientOrderId"
                } else {
                    "origClientOrderId"
                },
                ParamValue::Str(c),
            ),
        }
    }
}

/// [`OrderRef::param`] of [`OrderRef::Id`].
pub fn order_id_param(id: u64, cancel: bool) -> (&'static str, ParamValue<'static>) {
    (
        if cancel { "cancelOrderId" } else { "orderId" },
        ParamValue::U64(id),
    )
}

/// Writes the parameters of `order.cancelReplace` (unsigned): `symbol` (the new order's),
/// `cancelReplaceMode`, the cancel target (see [`OrderRef::param`] with `cancel`) and the
/// new order's parameters.
pub fn write_cancel_replace_params<'a>(
    params: &mut Params<'a>,
    cancel: (&'static str, ParamValue<'a>),
    mode: CancelReplaceMode,
    new_order: &'a OrderRequest,
) {
    params.push("symbol", ParamValue::Str(&new_order.symbol));
    params.push("cancelReplaceMode", ParamValue::Str(mode.as_str()));
    params.push(cancel.0, cancel.1);
    new_order.write_params(params, false);
}
