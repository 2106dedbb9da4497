//! What Warden's HTTP JSON servers share (the chain node, [`crate::chain::node`], and the
//! relayer, [`crate::ft::relay_server`]): hyper through axum on a tokio runtime, every
//! connection its own task, a time limit on every request, bodies read under a size limit
//! before any work, answers as JSON with `{"error": "..."}` on failure.

use std::future::IntoFuture;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// The most time a request may take, from its headers to its answer (a slower client gets 408).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a stopping server waits for the requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// A response: status and JSON body.
pub type Reply = (u16, Value);

/// An error answer: `{"error": message}`.
pub fn error(status: u16, message: impl std::fmt::Display) -> Reply {
    (status, json!({ "error": message.to_string() }))
}

/// The HTTP response of a [`Reply`].
pub fn respond(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        reply.1.to_string(),
    )
        .into_response()
}

/// The body, at most `max` bytes. A longer one is read on, up to eight times `max`, and dropped,
/// so that the client receives its 413 rather than a reset connection; a larger one is cut off.
pub async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<Vec<u8>, Reply> {
    let drain_limit = max.saturating_mul(8);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let over = |len: usize| {
        error(
            413,
            format!("body of {len} bytes or more, over the limit of {max}"),
        )
    };
    if let Some(len) = declared.filter(|&len| len > drain_limit) {
        return Err(over(len));
    }
    let mut kept = Vec::new();
    let mut seen = 0usize;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| error(400, format!("reading the body: {e}")))?;
        seen = seen.saturating_add(chunk.len());
        if seen > drain_limit {
            return Err(over(seen));
        }
        if seen <= max {
            kept.extend_from_slice(&chunk);
        }
    }
    if seen > max {
        return Err(over(seen));
    }
    Ok(kept)
}

/// The body as JSON (400 if it is not).
pub fn read_json(body: &[u8]) -> Result<Value, Reply> {
    serde_json::from_slice(body).map_err(|e| error(400, format!("malformed JSON: {e}")))
}

/// The bytes of a hex string field (400 if it is missing or not hex).
pub fn hex_field(body: &Value, field: &str) -> Result<Vec<u8>, Reply> {
    let text = body
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| error(400, format!("missing string field {field:?}")))?;
    hex::decode(text).map_err(|e| error(400, format!("{field}: not hex: {e}")))
}

/// Serves `app` on `listener` until `stop` is set, every request under [`REQUEST_TIMEOUT`];
/// then gives the requests in flight [`SHUTDOWN_GRACE`]. A connection still open after it (a
/// client that never completes its request) is dropped with the runtime.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let app = app.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        REQUEST_TIMEOUT,
    ));
    let signal = stop.clone();
    let stopped = async move {
        while !signal.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .into_future(),
    );
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Ok(joined) = tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        joined.map_err(|e| anyhow::anyhow!("the server task: {e}"))??;
    }
    Ok(())
}
