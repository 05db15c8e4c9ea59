//! Load and demo traffic for the exchange, over Binance's Spot WebSocket API.
//!
//! * [`client`]: an async WebSocket API client (signing, many requests in flight, user data
//!   stream).
//! * [`flow`]: a seeded, deterministic, realistic order-flow generator.
//! * [`demo`]: simulated market makers and takers driven by [`flow`] over real connections,
//!   with open-loop latency statistics.
//! * [`load`]: the `bench` binary's load test around [`demo`]: the nodes and echo server it
//!   starts, and its report.
//!
//! Component benchmarks sit beside their crates so each builds alone:
//! `cargo bench -p journal --bench durable_append` and `cargo bench -p matcher --bench matching`.
//! Results and the exact commands are in `docs/benchmarks.md`.
pub mod client;
pub mod demo;
pub mod flow;
pub mod load;
