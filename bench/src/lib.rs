//! The end-to-end load generator against a running node lives here (the load-bench issue).
//!
//! Component benchmarks sit beside their crates so each builds alone:
//! `cargo bench -p journal --bench durable_append` and `cargo bench -p matcher --bench matching`.
//! Results and the exact commands are in `docs/benchmarks.md`.
