//! Binance Spot WebSocket API protocol layer: pure functions from request frames to matcher
//! commands, and from the matcher's events to responses and user-data pushes. No sockets, no
//! clock (times are passed in), no async.
//!
//! The server's flow for one text frame:
//! 1. [`envelope::parse_request`] -> [`envelope::Request`], borrowing the parameters from the
//!    frame (or an error reply for the echoed id);
//! 2. [`params::Params::from_sent`], and for signed methods [`params::Params::take_security`]
//!    (the caller verifies the signature and timestamp with `crate::auth` and resolves the
//!    account from the API key);
//! 3. [`orders`] parses the method's parameters against the [`markets::Markets`] catalogue into
//!    a typed request; order requests give a `matcher::Command` for the account, refused here
//!    (never journaled) when a filter, a symbol or a parameter is wrong;
//! 4. after `NodeHandle::submit`, [`render`] turns the command's events into the `result` or
//!    the Binance error, reading descriptions from the [`order_index::OrderIndex`];
//! 5. [`user_data`] renders `executionReport` / `outboundAccountPosition` pushes for every
//!    account a command touched;
//! 6. [`envelope::render_ok`] / [`envelope::render_error`] wrap the reply with `rateLimits`.
pub mod envelope;
pub mod failure;
pub mod markets;
pub mod order_index;
pub mod orders;
pub mod params;
pub mod render;
pub mod user_data;
pub mod wire;

pub use envelope::{
    parse_request, render_error, render_ok, render_ok_json, BadRequest, Method, RateLimit,
    RateLimitInterval, RateLimitStatus, RateLimitType, Request, SentParams, SentValue, Text,
};
pub use failure::Failure;
pub use markets::{Market, Markets};
pub use order_index::{IndexedOrder, OrderIndex, OrderLookup, OrderSubset};
pub use params::{Params, Security};
