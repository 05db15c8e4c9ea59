//! web: the market page, served by the node at `/`.
//!
//! The page (sources and npm project in `web/frontend/`, built into `web/dist/`, both
//! committed) is a browser client of the public market-data API only: `/api/v3/exchangeInfo`,
//! `/depth`, `/trades`, `/klines`, `/ticker/24hr` and one combined stream
//! `/stream?streams=..`. It keeps a local order book by Binance's documented procedure and
//! reconnects with capped exponential backoff and jitter (see ARCHITECTURE.md).
//!
//! This crate embeds `dist/` at compile time (`build.rs` writes an `include_bytes!` table),
//! so `exchange run` and `exchange demo` serve the page with no extra step, debug and release
//! alike. [`router`] serves `/` (`index.html`) and every file of `dist/` at its path:
//! hashed files under `/assets/` as `Cache-Control: public, max-age=31536000, immutable`,
//! everything else `no-cache` (revalidated with the ETag: `304` on `If-None-Match`). Other
//! paths are left to the rest of the application (404 when nothing claims them).

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One embedded file of `dist/`.
#[derive(Debug)]
pub struct Asset {
    /// The URL path it is served at (`/index.html`, `/assets/index-Bby5FaCb.js`).
    pub path: &'static str,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// `Cache-Control`.
    pub cache_control: &'static str,
    /// `ETag` (quoted), a hash of the contents.
    pub etag: &'static str,
    /// The contents.
    pub body: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The page's Content-Security-Policy: only this origin (REST and WebSocket); inline style
/// attributes are allowed because the chart library positions its canvases with them.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; connect-src 'self'; \
     img-src 'self' data:; style-src 'self' 'unsafe-inline'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Every embedded file, sorted by path.
pub fn assets() -> &'static [Asset] {
    ASSETS
}

/// The embedded file served at `path` (`/` is `index.html`).
pub fn asset(path: &str) -> Option<&'static Asset> {
    let path = if path == "/" { "/index.html" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}

/// The routes: `GET /` and `GET <path>` for every file of `dist/` (HEAD too).
pub fn router() -> axum::Router {
    let mut router = axum::Router::new();
    for a in ASSETS {
        let handler = move |headers: HeaderMap| async move { respond(a, &headers) };
        router = router.route(a.path, get(handler));
        if a.path == "/index.html" {
            router = router.route("/", get(handler));
        }
    }
    router
}

fn respond(a: &'static Asset, request: &HeaderMap) -> Response {
    let fresh = request
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == a.etag
        });
    let mut headers = HeaderMap::new();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(a.cache_control));
    headers.insert(ETAG, HeaderValue::from_static(a.etag));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(a.content_type));
    if a.content_type.starts_with("text/html") {
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
        );
    }
    (StatusCode::OK, headers, a.body).into_response()
}
