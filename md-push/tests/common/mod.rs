//! Test harness: a real node in a temporary directory, md-push served on loopback, a seeded
//! random order flow, a minimal HTTP client and WebSocket helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use futures_util::StreamExt;
use matcher::{
    AccountId, AssetConfig, AssetId, CancelTarget, ClientOrderId, Command, MarketAmount, OrderId,
    OrderType, PlaceOrder, Side, StpMode, SymbolConfig, SymbolId, TimeInForce, TxId,
};
use md_push::{MdPush, MdPushConfig};
use node::{NoProjection, Node, NodeConfig, NodeHandle};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const SYMBOLS: [(u32, &str); 3] = [(1, "BTCUSDT"), (2, "ETHUSDT"), (3, "ETHBTC")];
pub const ACCOUNTS: u64 = 20;

/// Assets BTC (1), ETH (2), USDT (3), all scale 8; three symbols; funded accounts 1..=20.
pub fn genesis() -> Vec<Command> {
    let mut g = Vec::new();
    for (id, code) in [(1, "BTC"), (2, "ETH"), (3, "USDT")] {
        g.push(Command::UpsertAsset(AssetConfig {
            id: AssetId(id),
            code: code.into(),
            scale: 8,
        }));
    }
    for (id, name) in SYMBOLS {
        let (base, quote) = match id {
            1 => (1, 3),
            2 => (2, 3),
            _ => (2, 1),
        };
        g.push(Command::UpsertSymbol(SymbolConfig {
            id: SymbolId(id),
            name: name.into(),
            base: AssetId(base),
            quote: AssetId(quote),
            tick_size: 1_000_000,
            lot_size: 1_000,
            min_qty: 1,
            max_qty: 900_000_000,
            max_price: 100_000_000,
            min_notional: 0,
            maker_fee_ppm: 1000,
            taker_fee_ppm: 1000,
        }));
    }
    for account in 1..=ACCOUNTS {
        for asset in 1..=3u32 {
            g.push(Command::Deposit {
                account: AccountId(account),
                asset: AssetId(asset),
                amount: 1_000_000_000 * 100_000_000,
                tx_id: TxId::new(&format!("d{account}-{asset}")).unwrap(),
            });
        }
    }
    g
}

/// xorshift64*: a seeded generator without dependencies.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random order flow: passive and crossing limit orders around a drifting mid, IOC,
/// market orders, cancels of earlier order ids and cancel-alls.
#[derive(Debug)]
pub struct Flow {
    rng: Rng,
    mids: BTreeMap<u32, u64>,
    n: u64,
}

impl Flow {
    pub fn new(seed: u64) -> Flow {
        Flow {
            rng: Rng::new(seed),
            mids: SYMBOLS.iter().map(|(id, _)| (*id, 10_000)).collect(),
            n: 0,
        }
    }

    pub fn command(&mut self) -> Command {
        self.n += 1;
        let r = &mut self.rng;
        let symbol = SYMBOLS[r.below(3) as usize].0;
        let account = AccountId(1 + r.below(ACCOUNTS));
        let mid = self.mids.get_mut(&symbol).unwrap();
        if r.below(10) == 0 {
            *mid = (*mid + r.below(41)).saturating_sub(20).max(100);
        }
        let mid = *mid;
        let side = if r.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let coid = ClientOrderId::new(&format!("t{}", self.n)).unwrap();
        let place = |order_type| {
            Command::PlaceOrder(PlaceOrder {
                account,
                symbol: SymbolId(symbol),
                side,
                order_type,
                client_order_id: coid,
                stp: StpMode::None,
            })
        };
        match r.below(100) {
            0..=59 => {
                // Passive: up to 30 ticks behind the mid.
                let off = r.below(30) + 1;
                let price = match side {
                    Side::Buy => mid - off,
                    Side::Sell => mid + off,
                };
                place(OrderType::Limit {
                    price,
                    qty: 1 + r.below(50),
                    tif: TimeInForce::Gtc,
                })
            }
            60..=74 => {
                // Crossing, up to 10 ticks through the mid.
                let off = r.below(10);
                let price = match side {
                    Side::Buy => mid + off,
                    Side::Sell => mid - off,
                };
                let tif = if r.below(2) == 0 {
                    TimeInForce::Gtc
                } else {
                    TimeInForce::Ioc
                };
                place(OrderType::Limit {
                    price,
                    qty: 1 + r.below(80),
                    tif,
                })
            }
            75..=81 => place(OrderType::Market {
                amount: MarketAmount::Base(1 + r.below(60)),
            }),
            82..=97 => Command::Cancel {
                account,
                symbol: SymbolId(symbol),
                // A recent order id (ids are assigned to accepted orders, about one per
                // command), so that cancels often find their order.
                target: CancelTarget::OrderId(OrderId(self.n.saturating_sub(r.below(2000)).max(1))),
            },
            _ => Command::CancelAll {
                account,
                symbol: Some(SymbolId(symbol)),
            },
        }
    }
}

pub struct Exchange {
    pub node: Option<Node<NoProjection>>,
    pub handle: NodeHandle<NoProjection>,
    pub md: Option<Arc<MdPush>>,
    pub addr: Option<SocketAddr>,
    pub dir: tempfile::TempDir,
}

impl Exchange {
    /// A node with [`genesis`] applied; md-push not started yet.
    pub async fn node_only() -> Exchange {
        Exchange::node_with(NodeConfig::new("").fanout_capacity).await
    }

    /// Like [`Exchange::node_only`], with the node's broadcast ring holding
    /// `fanout_capacity` commands.
    pub async fn node_with(fanout_capacity: usize) -> Exchange {
        let dir = tempfile::tempdir().unwrap();
        let mut nc = NodeConfig::new(dir.path());
        nc.fanout_capacity = fanout_capacity;
        nc.genesis = genesis();
        nc.segment_bytes = 8 << 20;
        let glen = nc.genesis.len() as u64;
        let node = tokio::task::spawn_blocking(move || Node::start(nc, NoProjection))
            .await
            .unwrap()
            .unwrap();
        let handle = node.handle();
        while handle.query(|e, _| e.last_cmd_seq()).await.unwrap() < glen {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Exchange {
            node: Some(node),
            handle,
            md: None,
            addr: None,
            dir,
        }
    }

    /// Starts md-push and serves it on a loopback port.
    pub async fn start_md(&mut self, config: MdPushConfig) {
        self.start_md_with(config, false).await;
    }

    /// Like [`Exchange::start_md`]; `small_send_buffers` gives every accepted socket an
    /// 8 KiB kernel send buffer, so that a client that stops reading fills its server-side
    /// queue after kilobytes instead of the megabytes loopback autotuning would absorb.
    pub async fn start_md_with(&mut self, config: MdPushConfig, small_send_buffers: bool) {
        use axum::serve::ListenerExt;
        let md = MdPush::start(&self.handle, config).unwrap();
        let app = md_push::router(Arc::clone(&md));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.addr = Some(listener.local_addr().unwrap());
        if small_send_buffers {
            let listener = listener.tap_io(small_send_buffer as fn(&mut tokio::net::TcpStream));
            tokio::spawn(async move { axum::serve(listener, app).await });
        } else {
            // TCP_NODELAY on every accepted socket, as `exchange run` serves: without it,
            // Nagle's algorithm holds a small frame behind the client's delayed ACK (40 ms).
            let listener = gateway::server::nodelay(listener);
            tokio::spawn(async move { axum::serve(listener, app).await });
        }
        self.md = Some(md);
    }

    pub async fn start(config: MdPushConfig) -> Exchange {
        let mut x = Exchange::node_only().await;
        x.start_md(config).await;
        x
    }

    pub fn md(&self) -> &MdPush {
        self.md.as_ref().unwrap()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr.unwrap()
    }

    /// Submits `n` commands of `flow`, pipelined in chunks, and waits for all of them.
    pub async fn run_flow(&self, flow: &mut Flow, n: usize) {
        let mut left = n;
        while left > 0 {
            let chunk = left.min(500);
            let mut rxs = Vec::with_capacity(chunk);
            for _ in 0..chunk {
                rxs.push(self.handle.enqueue(flow.command()).unwrap());
            }
            for rx in rxs {
                rx.await.unwrap().unwrap();
            }
            left -= chunk;
        }
    }

    pub async fn last_event_seq(&self) -> u64 {
        self.handle.query(|e, _| e.last_event_seq()).await.unwrap()
    }

    /// Waits until md-push applied every event so far.
    pub async fn wait_md_caught_up(&self) {
        let target = self.last_event_seq().await;
        for _ in 0..2000 {
            if self.md().applied_seq() >= target {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("md-push did not catch up to {target}");
    }

    /// The matcher's whole book of a symbol: (bids high to low, asks low to high).
    pub async fn engine_book(&self, symbol: u32) -> (Vec<(u64, u64)>, Vec<(u64, u64)>) {
        self.handle
            .query(move |e, _| {
                let d = e.depth(SymbolId(symbol), usize::MAX).unwrap();
                (d.bids, d.asks)
            })
            .await
            .unwrap()
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            let _ = std::thread::spawn(move || node.shutdown()).join();
        }
    }
}

fn small_send_buffer(tcp: &mut tokio::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let _ = tcp.set_nodelay(true);
    let size: libc::c_int = 8192;
    // SAFETY: the descriptor is an open socket owned by `tcp` for the whole call, and the
    // option value points to a c_int of the length passed.
    let rc = unsafe {
        libc::setsockopt(
            tcp.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&size as *const libc::c_int).cast::<libc::c_void>(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt SO_SNDBUF");
}

/// A minimal HTTP/1.1 GET: (status, JSON body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let Some((len, rest)) = body.split_once("\r\n") else {
            return out;
        };
        let len = usize::from_str_radix(len.trim(), 16).unwrap();
        if len == 0 {
            return out;
        }
        out.push_str(&rest[..len]);
        body = &rest[len + 2..];
    }
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn ws(addr: SocketAddr, path: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
        .await
        .unwrap();
    ws
}

/// The next text frame as JSON (pings are answered by tungstenite itself).
pub async fn next_json(ws: &mut Ws, timeout: Duration) -> Option<Value> {
    loop {
        let m = tokio::time::timeout(timeout, ws.next()).await.ok()??.ok()?;
        match m {
            tokio_tungstenite::tungstenite::Message::Text(t) => {
                return Some(serde_json::from_str(t.as_str()).unwrap())
            }
            tokio_tungstenite::tungstenite::Message::Close(_) => return None,
            _ => continue,
        }
    }
}

/// Scaled decimal string -> integer of 10^-8 units (the test symbols all print 8 decimals).
pub fn units(s: &str) -> u64 {
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    let f = format!("{f:0<8}");
    i.parse::<u64>().unwrap() * 100_000_000 + f[..8].parse::<u64>().unwrap()
}

/// Ticks of a printed price (tick 0.01 at scale 8 = 10^6 units).
pub fn ticks(s: &str) -> u64 {
    units(s) / 1_000_000
}

/// Lots of a printed quantity (lot 0.00001 at scale 8 = 10^3 units).
pub fn lots(s: &str) -> u64 {
    units(s) / 1_000
}
