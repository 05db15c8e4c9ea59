//! A trivial WebSocket echo server: what this machine's loopback, WebSocket framing and the
//! load client reach without an exchange behind them.
//!
//! Each request `{"id":N,"method":M,"params":P}` (the client's own layout: `id` first) is
//! answered at once with `{"id":N,"status":200,"result":{...,"method":M,"params":P}}`: the
//! request's own text after the id, behind a fixed order-acknowledgement prefix
//! (`orderId` N, `status` NEW, and the same as `newOrderResponse`). So every answer is about
//! as long as its request plus [`REPLY_OVERHEAD`] bytes, no JSON is parsed on the server, and
//! the load's order flow reads every answer as an order that rests: it goes on sending the
//! same mix of placements, cancels and moves as against the exchange.

use futures_util::{FutureExt, SinkExt, StreamExt};
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// Bytes an answer adds to its request, besides the id's digits (twice more).
pub const REPLY_OVERHEAD: usize = REPLY_MIDDLE.len() + REPLY_TAIL.len() + 1;

const REPLY_HEAD: &str = "{\"id\":";
const REPLY_MIDDLE: &str =
    ",\"status\":200,\"result\":{\"symbol\":\"ECHO\",\"clientOrderId\":\"echo\",\"status\":\"NEW\",\"newOrderResponse\":{\"symbol\":\"ECHO\",\"clientOrderId\":\"echo\",\"status\":\"NEW\",\"orderId\":";
const REPLY_TAIL: &str = "},\"orderId\":";

/// The answer to one request text; `None` when it does not start with `{"id":<digits>,`.
pub fn reply_for(request: &str) -> Option<String> {
    let rest = request.strip_prefix(REPLY_HEAD)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let (id, after) = rest.split_at(digits);
    // `after` is `,"method":...}`: its comma and closing brace are reused.
    if !after.starts_with(',') || !after.ends_with('}') {
        return None;
    }
    let mut out = String::with_capacity(request.len() + REPLY_OVERHEAD + 2 * digits);
    out.push_str(REPLY_HEAD);
    out.push_str(id);
    out.push_str(REPLY_MIDDLE);
    out.push_str(id);
    out.push_str(REPLY_TAIL);
    out.push_str(id);
    out.push_str(after);
    out.push('}');
    Some(out)
}

/// Serves connections on `listener` until the task is dropped: every text frame that is a
/// request is answered with [`reply_for`], others are ignored; answers to frames already
/// read are written together, then flushed.
pub async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(connection(stream, peer));
            }
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, %peer, "TCP_NODELAY");
    }
    // The same small read buffer as the gateway and the client (tungstenite zero-fills the
    // free part of its read buffer before every read).
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 * 1024);
    let ws = match tokio_tungstenite::accept_async_with_config(stream, Some(config)).await {
        Ok(ws) => ws,
        Err(error) => {
            tracing::debug!(%error, %peer, "WebSocket handshake failed");
            return;
        }
    };
    let (mut sink, mut source) = ws.split();
    'conn: while let Some(first) = source.next().await {
        let mut frame = first;
        loop {
            match frame {
                Ok(Message::Text(text)) => {
                    if let Some(reply) = reply_for(text.as_str()) {
                        if sink.feed(Message::text(reply)).await.is_err() {
                            break 'conn;
                        }
                    }
                }
                Ok(Message::Close(_)) | Err(_) => break 'conn,
                Ok(_) => {}
            }
            // Everything already read goes out with one flush.
            match source.next().now_or_never() {
                Some(Some(next)) => frame = next,
                Some(None) => break 'conn,
                None => break,
            }
        }
        if sink.flush().await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::client::OrderAck;
    use serde_json::{json, Value};

    #[test]
    fn answers_carry_the_request_and_read_as_a_resting_order() {
        let request = json!({"id": 42, "method": "order.place",
            "params": {"symbol": "BTCUSDT", "side": "BUY", "price": "1.00"}})
        .to_string();
        let reply = reply_for(&request).unwrap();
        assert_eq!(reply.len(), request.len() + REPLY_OVERHEAD + 2 * 2);
        let v: Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(v["id"], 42);
        assert_eq!(v["status"], 200);
        assert_eq!(v["result"]["method"], "order.place");
        assert_eq!(v["result"]["params"]["price"], "1.00");
        let ack = OrderAck::from_result(&v["result"]).unwrap();
        assert_eq!(ack.order_id, 42);
        assert!(ack.is_open());
        let new = OrderAck::from_result(&v["result"]["newOrderResponse"]).unwrap();
        assert_eq!(new.order_id, 42);
        // Without params (ping).
        let reply = reply_for(r#"{"id":7,"method":"ping"}"#).unwrap();
        let v: Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(v["result"]["method"], "ping");
    }

    #[test]
    fn ignores_what_is_not_a_request() {
        for text in [
            "",
            "{}",
            r#"{"id":null,"method":"ping"}"#,
            r#"{"id":"7","method":"ping"}"#,
            r#"{"method":"ping","id":7}"#,
            r#"{"id":7}"#,
            r#"{"id":7,"method":"ping""#,
        ] {
            assert_eq!(reply_for(text), None, "{text:?}");
        }
    }
}
