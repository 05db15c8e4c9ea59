//! Trading and account requests: their parameters, read against the market catalogue, into
//! typed requests; order requests into `matcher::Command`s for an account.
//!
//! Everything that can be decided without the engine's state is refused here, so an invalid
//! request is never journaled: unknown symbol (`-1121`), halted symbol for a new order
//! (`-2010 "Market is closed."`), bad enums (`-1115`/`-1116`/`-1117`, `-1130`), missing or
//! malformed parameters (`-1102`/`-1100`/`-1111`), filter failures (`-1013`), unsupported
//! order kinds and parameters (`-2010 "... are not supported for this symbol."`, `-1106`),
//! parameters a type does not take (`-1106`, `-1114`) and unread parameters (`-1104`).
//!
//! Parameter-combination rules (where Binance documents no single wording, the choice is
//! stated):
//! * LIMIT: `timeInForce`, `price`, `quantity` mandatory; `quoteOrderQty` is `-1106`.
//! * LIMIT_MAKER: `price`, `quantity` mandatory; `timeInForce` is `-1114`.
//! * MARKET: exactly one of `quantity` / `quoteOrderQty` (neither: `-1102 "Param 'quantity'
//!   or 'quoteOrderQty' must be sent, but both were empty/null!"`; both: `-1106` for
//!   `quoteOrderQty`); `price` is `-1106`, `timeInForce` `-1114`.
//! * `STOP_LOSS`, `STOP_LOSS_LIMIT`, `TAKE_PROFIT`, `TAKE_PROFIT_LIMIT`, `icebergQty` and
//!   `trailingDelta`: `-2010` with Binance's "not supported for this symbol" message;
//!   `stopPrice`, `strategyId`, `strategyType`, the `peg*` parameters, `cancelRestrictions`
//!   and `orderRateLimitExceededMode`: `-1106`.
//! * `newOrderRespType` defaults to FULL for LIMIT and MARKET and to ACK for LIMIT_MAKER, as
//!   Binance documents; `selfTradePreventionMode` defaults to NONE.
//! * `order.cancel` with both `orderId` and `origClientOrderId` cancels by `orderId`;
//!   Binance also requires the two to match: [`CancelRequest::check_ids`] checks it against
//!   the order index before submitting.

use crate::api::failure::{unsupported, Failure};
use crate::api::markets::{Market, Markets};
use crate::api::params::{invalid, Params};
use matcher::{
    AccountId, CancelReplace, CancelReplaceMode, CancelTarget, ClientOrderId, Command,
    MarketAmount, OrderId, OrderType, PlaceOrder, Side, StpMode, SymbolId, TimeInForce,
};

/// `newOrderRespType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RespType {
    /// Order id and time only.
    Ack,
    /// The order's state after the command.
    Result,
    /// RESULT plus the fills.
    Full,
}

/// Generates client order ids for requests that send none: `x<connection hex>-<counter hex>`
/// (at most 35 characters). The connection id must be unique among the process's
/// connections and across restarts (e.g. the start time in ms shifted left, plus a
/// connection counter), so two generated ids never collide among an account's open orders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientIdGen {
    connection: u64,
    next: u64,
}

impl ClientIdGen {
    /// A generator for one connection.
    pub fn new(connection: u64) -> Self {
        ClientIdGen {
            connection,
            next: 1,
        }
    }

    /// Skips `n` ids (handed to another user of a clone of this generator).
    pub fn skip(&mut self, n: u64) {
        self.next = self.next.wrapping_add(n);
    }

    /// The next id: `x<connection>-<n>`, both in lower-case hex.
    pub fn next_id(&mut self) -> ClientOrderId {
        let mut text = [0u8; 34];
        text[0] = b'x';
        let mut len = 1 + write_hex(&mut text[1..], self.connection);
        text[len] = b'-';
        len += 1;
        len += write_hex(&mut text[len..], self.next);
        self.next = self.next.wrapping_add(1);
        // Hex digits, 'x' and '-' only, at most 1 + 16 + 1 + 16 = 34 characters: always a
        // valid id; the fallback is unreachable but keeps this free of panics.
        std::str::from_utf8(&text[..len])
            .ok()
            .and_then(|t| ClientOrderId::new(t).ok())
            .unwrap_or_else(fallback_id)
    }
}

/// Writes `n` in lower-case hex without leading zeros at the start of `out` (room for 16
/// digits); returns the number of digits.
fn write_hex(out: &mut [u8], n: u64) -> usize {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digits = (64 - (n | 1).leading_zeros()).div_ceil(4) as usize;
    for (i, slot) in out.iter_mut().take(digits).enumerate() {
        let shift = 4 * (digits - 1 - i);
        *slot = DIGITS[((n >> shift) & 0xf) as usize];
    }
    digits
}

fn fallback_id() -> ClientOrderId {
    match ClientOrderId::new("x") {
        Ok(id) => id,
        Err(_) => unreachable!("\"x\" is a valid client order id"),
    }
}

/// A new order, validated against its symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// Symbol.
    pub symbol: SymbolId,
    /// Side.
    pub side: Side,
    /// Type, price, quantity, time in force (in ticks and lots).
    pub order_type: OrderType,
    /// Client order id (sent or generated).
    pub client_order_id: ClientOrderId,
    /// Self-trade prevention mode.
    pub stp: StpMode,
    /// Response type.
    pub resp_type: RespType,
}

impl NewOrder {
    /// The matcher's order for `account`.
    pub fn place_order(&self, account: AccountId) -> PlaceOrder {
        PlaceOrder {
            account,
            symbol: self.symbol,
            side: self.side,
            order_type: self.order_type,
            client_order_id: self.client_order_id,
            stp: self.stp,
        }
    }
}

/// `order.cancel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelRequest {
    /// Symbol.
    pub symbol: SymbolId,
    /// Which order (by `orderId` when sent, else `origClientOrderId`).
    pub target: CancelTarget,
    /// `origClientOrderId` when sent alongside `orderId`.
    pub orig_client_order_id: Option<ClientOrderId>,
    /// The cancel's own client id (`newClientOrderId`, or generated): the response's
    /// `clientOrderId`.
    pub cancel_client_order_id: ClientOrderId,
}

impl CancelRequest {
    /// Binance's rule when both `orderId` and `origClientOrderId` are sent: the order found
    /// by id must carry that client id, else `-2011 "Unknown order sent."`. Call it before
    /// submitting (with the order index read on the matcher thread); nothing to check when
    /// only one was sent. An order the index does not know is left to the matcher.
    pub fn check_ids(
        &self,
        account: AccountId,
        index: &crate::api::order_index::OrderIndex,
    ) -> Result<(), Failure> {
        match (self.target, self.orig_client_order_id) {
            (CancelTarget::OrderId(id), Some(client)) => match index.get(account, id) {
                Some(o) if o.client_order_id != client => Err(Failure::unknown_order_cancel()),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

/// `order.cancelReplace`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelReplaceRequest {
    /// The cancel half.
    pub cancel: CancelRequest,
    /// `cancelReplaceMode`.
    pub mode: CancelReplaceMode,
    /// The new order.
    pub new_order: NewOrder,
}

/// A parsed trading or account request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountRequest {
    /// `order.place`.
    Place(NewOrder),
    /// `order.test`: validated, never sent to the matcher.
    Test {
        /// The order as it would be placed.
        order: NewOrder,
        /// `computeCommissionRates`.
        compute_commission_rates: bool,
    },
    /// `order.cancel`.
    Cancel(CancelRequest),
    /// `order.cancelReplace`.
    CancelReplace(CancelReplaceRequest),
    /// `openOrders.cancelAll`.
    CancelAll {
        /// Symbol.
        symbol: SymbolId,
    },
    /// `order.status`.
    OrderStatus {
        /// Symbol.
        symbol: SymbolId,
        /// By order id (preferred) or client order id.
        target: CancelTarget,
    },
    /// `openOrders.status`.
    OpenOrdersStatus {
        /// Optional symbol filter.
        symbol: Option<SymbolId>,
    },
    /// `account.status`.
    AccountStatus {
        /// `omitZeroBalances`.
        omit_zero_balances: bool,
    },
}

impl AccountRequest {
    /// The matcher command this request submits for `account`, if any (queries and
    /// `order.test` submit nothing).
    pub fn command(&self, account: AccountId) -> Option<Command> {
        match self {
            AccountRequest::Place(o) => Some(Command::PlaceOrder(o.place_order(account))),
            AccountRequest::Cancel(c) => Some(Command::Cancel {
                account,
                symbol: c.symbol,
                target: c.target,
            }),
            AccountRequest::CancelReplace(r) => Some(Command::CancelReplace(CancelReplace {
                target: r.cancel.target,
                mode: r.mode,
                new_order: r.new_order.place_order(account),
            })),
            AccountRequest::CancelAll { symbol } => Some(Command::CancelAll {
                account,
                symbol: Some(*symbol),
            }),
            AccountRequest::Test { .. }
            | AccountRequest::OrderStatus { .. }
            | AccountRequest::OpenOrdersStatus { .. }
            | AccountRequest::AccountStatus { .. } => None,
        }
    }
}

/// Parses the parameters of a trading or account method (after
/// [`Params::take_security`]). `ids` generates missing client ids. Non-account methods are
/// `-1020`.
pub fn parse_account_request(
    method: crate::api::Method,
    mut p: Params,
    markets: &Markets,
    ids: &mut ClientIdGen,
) -> Result<AccountRequest, Failure> {
    use crate::api::Method as M;
    let req = match method {
        M::OrderPlace => {
            let market = markets.trading(&p.mandatory("symbol")?)?;
            AccountRequest::Place(parse_new_order(&mut p, market, ids)?)
        }
        M::OrderTest => {
            let market = markets.trading(&p.mandatory("symbol")?)?;
            let compute = p.optional_bool("computeCommissionRates")?.unwrap_or(false);
            AccountRequest::Test {
                order: parse_new_order(&mut p, market, ids)?,
                compute_commission_rates: compute,
            }
        }
        M::OrderCancel => {
            let market = markets.by_name(&p.mandatory("symbol")?)?;
            p.refuse("cancelRestrictions", Failure::not_required)?;
            let (target, orig) = parse_target(&mut p, "orderId", "origClientOrderId")?;
            let cancel_client_order_id = match p.optional_client_id("newClientOrderId")? {
                Some(id) => id,
                None => ids.next_id(),
            };
            AccountRequest::Cancel(CancelRequest {
                symbol: market.id(),
                target,
                orig_client_order_id: orig,
                cancel_client_order_id,
            })
        }
        M::OrderCancelReplace => {
            let name = p.mandatory("symbol")?;
            // The cancel half works on a halted symbol; the matcher rejects the new half
            // there ("Market is closed."), as Binance's engine does.
            let market = markets.by_name(&name)?;
            let mode = p
                .optional_enum("cancelReplaceMode", parse_cancel_replace_mode, || {
                    invalid("cancelReplaceMode")
                })?
                .ok_or_else(|| crate::api::params::mandatory("cancelReplaceMode"))?;
            p.refuse("cancelRestrictions", Failure::not_required)?;
            p.refuse("orderRateLimitExceededMode", Failure::not_required)?;
            let (target, orig) = parse_target(&mut p, "cancelOrderId", "cancelOrigClientOrderId")?;
            let cancel_client_order_id = match p.optional_client_id("cancelNewClientOrderId")? {
                Some(id) => id,
                None => ids.next_id(),
            };
            let new_order = parse_new_order(&mut p, market, ids)?;
            AccountRequest::CancelReplace(CancelReplaceRequest {
                cancel: CancelRequest {
                    symbol: market.id(),
                    target,
                    orig_client_order_id: orig,
                    cancel_client_order_id,
                },
                mode,
                new_order,
            })
        }
        M::OpenOrdersCancelAll => AccountRequest::CancelAll {
            symbol: markets.by_name(&p.mandatory("symbol")?)?.id(),
        },
        M::OrderStatus => {
            let symbol = markets.by_name(&p.mandatory("symbol")?)?.id();
            let (target, _) = parse_target(&mut p, "orderId", "origClientOrderId")?;
            AccountRequest::OrderStatus { symbol, target }
        }
        M::OpenOrdersStatus => AccountRequest::OpenOrdersStatus {
            symbol: match p.optional("symbol")? {
                Some(name) => Some(markets.by_name(&name)?.id()),
                None => None,
            },
        },
        M::AccountStatus => AccountRequest::AccountStatus {
            omit_zero_balances: p.optional_bool("omitZeroBalances")?.unwrap_or(false),
        },
        _ => return Err(Failure::unsupported_operation()),
    };
    p.finish()?;
    Ok(req)
}

/// Reads `<id_name>` or `<client_name>`: by order id when sent (the client id is returned
/// too, for the caller's consistency check), else by client order id; neither is `-1102`.
fn parse_target(
    p: &mut Params,
    id_name: &str,
    client_name: &str,
) -> Result<(CancelTarget, Option<ClientOrderId>), Failure> {
    let order_id = p.optional_u64(id_name)?;
    let client = p.optional_client_id(client_name)?;
    match (order_id, client) {
        (Some(id), c) => Ok((CancelTarget::OrderId(OrderId(id)), c)),
        (None, Some(c)) => Ok((CancelTarget::ClientOrderId(c), None)),
        (None, None) => Err(Failure::one_of(id_name, client_name)),
    }
}

fn parse_side(s: &str) -> Option<Side> {
    match s {
        "BUY" => Some(Side::Buy),
        "SELL" => Some(Side::Sell),
        _ => None,
    }
}

fn parse_tif(s: &str) -> Option<TimeInForce> {
    match s {
        "GTC" => Some(TimeInForce::Gtc),
        "IOC" => Some(TimeInForce::Ioc),
        "FOK" => Some(TimeInForce::Fok),
        _ => None,
    }
}

fn parse_stp(s: &str) -> Option<StpMode> {
    match s {
        "NONE" => Some(StpMode::None),
        "EXPIRE_TAKER" => Some(StpMode::ExpireTaker),
        "EXPIRE_MAKER" => Some(StpMode::ExpireMaker),
        "EXPIRE_BOTH" => Some(StpMode::ExpireBoth),
        "DECREMENT" => Some(StpMode::Decrement),
        _ => None,
    }
}

fn parse_resp_type(s: &str) -> Option<RespType> {
    match s {
        "ACK" => Some(RespType::Ack),
        "RESULT" => Some(RespType::Result),
        "FULL" => Some(RespType::Full),
        _ => None,
    }
}

fn parse_cancel_replace_mode(s: &str) -> Option<CancelReplaceMode> {
    match s {
        "STOP_ON_FAILURE" => Some(CancelReplaceMode::StopOnFailure),
        "ALLOW_FAILURE" => Some(CancelReplaceMode::AllowFailure),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Limit,
    LimitMaker,
    Market,
}

/// Reads the new-order parameters shared by `order.place`, `order.test` and
/// `order.cancelReplace` (see the module docs for the rules).
pub fn parse_new_order(
    p: &mut Params,
    market: &Market,
    ids: &mut ClientIdGen,
) -> Result<NewOrder, Failure> {
    let side = p
        .optional_enum("side", parse_side, Failure::invalid_side)?
        .ok_or_else(|| crate::api::params::mandatory("side"))?;
    let type_text = p.mandatory("type")?;
    let kind = match &*type_text {
        "LIMIT" => Kind::Limit,
        "LIMIT_MAKER" => Kind::LimitMaker,
        "MARKET" => Kind::Market,
        "STOP_LOSS" => return Err(Failure::not_supported_for_symbol(unsupported::STOP_LOSS)),
        "STOP_LOSS_LIMIT" => {
            return Err(Failure::not_supported_for_symbol(
                unsupported::STOP_LOSS_LIMIT,
            ))
        }
        "TAKE_PROFIT" => return Err(Failure::not_supported_for_symbol(unsupported::TAKE_PROFIT)),
        "TAKE_PROFIT_LIMIT" => {
            return Err(Failure::not_supported_for_symbol(
                unsupported::TAKE_PROFIT_LIMIT,
            ))
        }
        _ => return Err(Failure::invalid_order_type()),
    };
    if p.contains("icebergQty") {
        return Err(Failure::not_supported_for_symbol(unsupported::ICEBERG));
    }
    if p.contains("trailingDelta") {
        return Err(Failure::not_supported_for_symbol(unsupported::TRAILING));
    }
    for name in [
        "stopPrice",
        "strategyId",
        "strategyType",
        "pegPriceType",
        "pegOffsetValue",
        "pegOffsetType",
    ] {
        p.refuse(name, Failure::not_required)?;
    }
    let units = &market.units;
    let order_type = match kind {
        Kind::Limit | Kind::LimitMaker => {
            let tif = if kind == Kind::Limit {
                Some(
                    p.optional_enum("timeInForce", parse_tif, Failure::invalid_tif)?
                        .ok_or_else(|| crate::api::params::mandatory("timeInForce"))?,
                )
            } else {
                p.refuse("timeInForce", |_| Failure::tif_not_required())?;
                None
            };
            p.refuse("quoteOrderQty", Failure::not_required)?;
            let price = units.parse_price("price", &p.mandatory("price")?)?;
            let qty = units.parse_quantity("quantity", &p.mandatory("quantity")?)?;
            units.check_notional(price, qty)?;
            match tif {
                Some(tif) => OrderType::Limit { price, qty, tif },
                None => OrderType::LimitMaker { price, qty },
            }
        }
        Kind::Market => {
            p.refuse("timeInForce", |_| Failure::tif_not_required())?;
            p.refuse("price", Failure::not_required)?;
            let qty = p.optional("quantity")?;
            let quote = p.optional("quoteOrderQty")?;
            let amount = match (qty, quote) {
                (Some(_), Some(_)) => return Err(Failure::not_required("quoteOrderQty")),
                (Some(q), None) => MarketAmount::Base(units.parse_quantity("quantity", &q)?),
                (None, Some(q)) => {
                    MarketAmount::Quote(units.parse_quote_amount("quoteOrderQty", &q)?)
                }
                (None, None) => return Err(Failure::one_of("quantity", "quoteOrderQty")),
            };
            OrderType::Market { amount }
        }
    };
    let client_order_id = match p.optional_client_id("newClientOrderId")? {
        Some(id) => id,
        None => ids.next_id(),
    };
    let resp_type = p
        .optional_enum("newOrderRespType", parse_resp_type, || {
            invalid("newOrderRespType")
        })?
        .unwrap_or(match kind {
            Kind::LimitMaker => RespType::Ack,
            Kind::Limit | Kind::Market => RespType::Full,
        });
    let stp = p
        .optional_enum("selfTradePreventionMode", parse_stp, || {
            invalid("selfTradePreventionMode")
        })?
        .unwrap_or(StpMode::None);
    Ok(NewOrder {
        symbol: market.id(),
        side,
        order_type,
        client_order_id,
        stp,
        resp_type,
    })
}

/// Binance text of a side.
pub fn side_text(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// Binance text of an STP mode.
pub fn stp_text(stp: StpMode) -> &'static str {
    match stp {
        StpMode::None => "NONE",
        StpMode::ExpireTaker => "EXPIRE_TAKER",
        StpMode::ExpireMaker => "EXPIRE_MAKER",
        StpMode::ExpireBoth => "EXPIRE_BOTH",
        StpMode::Decrement => "DECREMENT",
    }
}

/// Binance `type` and `timeInForce` texts of an order type (LIMIT_MAKER and MARKET report
/// `GTC`, as Binance does).
pub fn type_texts(t: &OrderType) -> (&'static str, &'static str) {
    match t {
        OrderType::Limit { tif, .. } => (
            "LIMIT",
            match tif {
                TimeInForce::Gtc => "GTC",
                TimeInForce::Ioc => "IOC",
                TimeInForce::Fok => "FOK",
            },
        ),
        OrderType::LimitMaker { .. } => ("LIMIT_MAKER", "GTC"),
        OrderType::Market { .. } => ("MARKET", "GTC"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Generated ids are `x<connection>-<n>` in lower-case hex, as `format!` writes them.
        #[test]
        fn generated_ids_are_the_hex_of_connection_and_counter(
            connection in prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()],
            next in prop_oneof![Just(0u64), Just(1u64), Just(u64::MAX), any::<u64>()],
        ) {
            let mut ids = ClientIdGen::new(connection);
            ids.next = next;
            let (first, second) = (ids.next_id(), ids.next_id());
            prop_assert_eq!(first.as_str(), format!("x{connection:x}-{next:x}"));
            let after = next.wrapping_add(1);
            prop_assert_eq!(second.as_str(), format!("x{connection:x}-{after:x}"));
        }
    }
}
