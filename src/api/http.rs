//! The connection layer under the router: an accept loop that holds up against slow or idle clients.
//!
//! `axum::serve` has no header-read timeout, no body timeout and no connection cap, so a handful of clients
//! trickling bytes (slowloris) or declaring a body they never send could hold the server's connections forever.
//! Here every connection is served by hyper's HTTP/1 with a header-read timeout (which also closes a keep-alive
//! connection idle that long before its next request), request bodies must arrive within a deadline (408
//! otherwise, see [`read_body_in_time`]), and at most [`HttpLimits::max_connections`] connections are served at
//! once: past that, new ones wait in the kernel's accept queue. Shutdown stops accepting, then lets in-flight
//! requests finish.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

use super::ApiError;

/// How long shutdown waits for open connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Connection limits of `universe serve`.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// A request's headers must arrive within this; a keep-alive connection idle this long is closed.
    pub header_timeout: Duration,
    /// A request's body must arrive within this, or the request is answered 408.
    pub body_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    /// 10 s for headers (and idle keep-alive), 30 s for a body, 1,024 connections.
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits for open requests to finish.
pub async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            s = slots.clone().acquire_owned() => s.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        // The peer's address for handlers that need it (the console's login limiter), as axum's `ConnectInfo`.
        let app = app.clone().layer(axum::Extension(axum::extract::ConnectInfo(peer)));
        let service = TowerToHyperService::new(app);
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection closed with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    // In-flight requests finish; an event stream or a stalled client does not hold the process past this.
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!(grace_s = SHUTDOWN_GRACE.as_secs(), "connections still open at shutdown were dropped");
    }
    Ok(())
}

/// Reads a request's body (up to [`super::BODY_LIMIT`]) within the body timeout before the handler runs: a
/// declared body that never comes is answered 408 instead of holding the connection, and one over the limit 413.
pub async fn read_body_in_time(
    State((timeout, state)): State<(Duration, super::AppState)>,
    req: Request,
    next: Next,
) -> Response {
    let has_body = req.headers().contains_key(axum::http::header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    if !has_body {
        return next.run(req).await;
    }
    // The console's uploads carry files, from a logged-in operator only (checked before a byte is read); every
    // other body is a small JSON document or form.
    let limit = if crate::console::UPLOAD_PATHS.contains(&req.uri().path())
        && crate::console::session::logged_in(req.headers(), &state)
    {
        crate::console::UPLOAD_BODY_LIMIT
    } else {
        super::BODY_LIMIT
    };
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => {
            ApiError::RequestTimeout(format!("the request body did not arrive within {} s", timeout.as_secs_f64()))
                .into_response()
        }
        Ok(Err(e)) => {
            let text = e.to_string();
            if text.contains("length limit") {
                ApiError::TooLarge(format!("the request body is over the {limit}-byte length limit")).into_response()
            } else {
                ApiError::BadRequest(format!("cannot read the request body: {text}")).into_response()
            }
        }
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
    }
}
