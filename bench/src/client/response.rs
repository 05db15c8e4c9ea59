//! Small typed views of Binance responses. The client returns `serde_json::Value`s; these
//! helpers read the fields a trader acts on (status, `orderId`, fills) and keep the rest raw.

use super::ClientError;
use serde_json::Value;

/// An order's status (`status` / `X`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// `NEW`.
    New,
    /// `PARTIALLY_FILLED`.
    PartiallyFilled,
    /// `FILLED`.
    Filled,
    /// `CANCELED`.
    Canceled,
    /// `PENDING_CANCEL`.
    PendingCancel,
    /// `REJECTED`.
    Rejected,
    /// `EXPIRED` (e.g. the unfilled rest of an IOC).
    Expired,
    /// `EXPIRED_IN_MATCH` (self-trade prevention).
    ExpiredInMatch,
}

impl OrderStatus {
    /// Parses Binance's spelling.
    pub fn parse(text: &str) -> Option<OrderStatus> {
        Some(match text {
            "NEW" => OrderStatus::New,
            "PARTIALLY_FILLED" => OrderStatus::PartiallyFilled,
            "FILLED" => OrderStatus::Filled,
            "CANCELED" => OrderStatus::Canceled,
            "PENDING_CANCEL" => OrderStatus::PendingCancel,
            "REJECTED" => OrderStatus::Rejected,
            "EXPIRED" => OrderStatus::Expired,
            "EXPIRED_IN_MATCH" => OrderStatus::ExpiredInMatch,
            _ => return None,
        })
    }

    /// Whether an order in this status rests on the book.
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::New | OrderStatus::PartiallyFilled)
    }
}

/// One fill of a `FULL` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fill {
    /// Trade price (decimal string).
    pub price: String,
    /// Trade quantity (decimal string).
    pub qty: String,
    /// Commission (decimal string).
    pub commission: String,
    /// Commission asset.
    pub commission_asset: String,
    /// Trade id.
    pub trade_id: u64,
}

/// The fields of an `order.place` result (any `newOrderRespType`) or of the
/// `newOrderResponse` of a cancel-replace.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderAck {
    /// Symbol.
    pub symbol: String,
    /// The exchange's order id.
    pub order_id: u64,
    /// The client order id.
    pub client_order_id: String,
    /// Status (absent in `ACK` responses).
    pub status: Option<OrderStatus>,
    /// `executedQty` (absent in `ACK` responses).
    pub executed_qty: Option<String>,
    /// Fills (`FULL` responses only; empty otherwise).
    pub fills: Vec<Fill>,
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, ClientError> {
    v.get(name)
        .ok_or_else(|| ClientError::Protocol(format!("missing field {name}")))
}

fn str_field(v: &Value, name: &str) -> Result<String, ClientError> {
    field(v, name)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ClientError::Protocol(format!("{name} is not a string")))
}

fn u64_field(v: &Value, name: &str) -> Result<u64, ClientError> {
    field(v, name)?
        .as_u64()
        .ok_or_else(|| ClientError::Protocol(format!("{name} is not an unsigned integer")))
}

impl OrderAck {
    /// Reads an order result. `symbol`, `orderId` and `clientOrderId` are required; `status`,
    /// `executedQty` and `fills` are read when present.
    pub fn from_result(v: &Value) -> Result<OrderAck, ClientError> {
        let status =
            match v.get("status") {
                None => None,
                Some(s) => {
                    let text = s
                        .as_str()
                        .ok_or_else(|| ClientError::Protocol("status is not a string".into()))?;
                    Some(OrderStatus::parse(text).ok_or_else(|| {
                        ClientError::Protocol(format!("unknown order status {text}"))
                    })?)
                }
            };
        let executed_qty = match v.get("executedQty") {
            None => None,
            Some(_) => Some(str_field(v, "executedQty")?),
        };
        let fills = match v.get("fills") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|f| {
                    Ok(Fill {
                        price: str_field(f, "price")?,
                        qty: str_field(f, "qty")?,
                        commission: str_field(f, "commission")?,
                        commission_asset: str_field(f, "commissionAsset")?,
                        trade_id: u64_field(f, "tradeId")?,
                    })
                })
                .collect::<Result<_, ClientError>>()?,
            Some(_) => return Err(ClientError::Protocol("fills is not an array".into())),
        };
        Ok(OrderAck {
            symbol: str_field(v, "symbol")?,
            order_id: u64_field(v, "orderId")?,
            client_order_id: str_field(v, "clientOrderId")?,
            status,
            executed_qty,
            fills,
        })
    }

    /// Whether the order rests on the book after this response (false when unknown).
    pub fn is_open(&self) -> bool {
        self.status.is_some_and(OrderStatus::is_open)
    }
}

/// The result of a successful `order.cancelReplace`.
#[derive(Clone, Debug, PartialEq)]
pub struct CancelReplaceAck {
    /// `cancelResponse`: the cancelled order's final state (raw).
    pub cancel_response: Value,
    /// `newOrderResponse`: the new order.
    pub new_order: OrderAck,
}

impl CancelReplaceAck {
    /// Reads a cancel-replace result (both halves succeeded).
    pub fn from_result(v: &Value) -> Result<CancelReplaceAck, ClientError> {
        Ok(CancelReplaceAck {
            cancel_response: field(v, "cancelResponse")?.clone(),
            new_order: OrderAck::from_result(field(v, "newOrderResponse")?)?,
        })
    }
}

/// The kind of a user data stream event (`e`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserEventKind {
    /// `executionReport`.
    ExecutionReport,
    /// `outboundAccountPosition`.
    OutboundAccountPosition,
    /// `balanceUpdate`.
    BalanceUpdate,
    /// Anything else (e.g. `eventStreamTerminated`), by its `e`.
    Other(String),
}

/// One pushed user data event: `{"subscriptionId": .., "event": {"e": .., ..}}` (or the older
/// `{"event": {..}}`).
#[derive(Clone, Debug, PartialEq)]
pub struct UserEvent {
    /// The event's kind.
    pub kind: UserEventKind,
    /// `subscriptionId` when the server sends one.
    pub subscription_id: Option<u64>,
    /// The event object itself (the value of `event`).
    pub event: Value,
}

impl UserEvent {
    /// Reads a pushed message; `None` when it is not a user data event.
    pub fn from_push(msg: &Value) -> Option<UserEvent> {
        UserEvent::from_event(
            msg.get("event")?.clone(),
            msg.get("subscriptionId").and_then(Value::as_u64),
        )
    }

    /// An event object (the value of a push's `event`); `None` when it has no `e`.
    pub fn from_event(event: Value, subscription_id: Option<u64>) -> Option<UserEvent> {
        let kind = match event.get("e")?.as_str()? {
            "executionReport" => UserEventKind::ExecutionReport,
            "outboundAccountPosition" => UserEventKind::OutboundAccountPosition,
            "balanceUpdate" => UserEventKind::BalanceUpdate,
            other => UserEventKind::Other(other.to_string()),
        };
        Some(UserEvent {
            kind,
            subscription_id,
            event,
        })
    }

    /// The order status (`X`) of an execution report.
    pub fn order_status(&self) -> Option<OrderStatus> {
        self.event
            .get("X")
            .and_then(Value::as_str)
            .and_then(OrderStatus::parse)
    }

    /// The order id (`i`) of an execution report.
    pub fn order_id(&self) -> Option<u64> {
        self.event.get("i").and_then(Value::as_u64)
    }
}
