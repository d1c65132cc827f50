//! `timehook serve`: the REST API (`/v1/…`), the services' drop-in routes, `/metrics`, health
//! checks, `/openapi.json`, and (unless `--no-deliver`) delivery, on one address.

mod api;
mod auth;
mod compat;
mod dashboard;
pub mod problem;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clap::Args;
use metrics_exporter_prometheus::PrometheusHandle;
use timehook::Scheduler;
use timehook::signing::Secret;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::{CliError, CliResult, exit};
use crate::keys::Keys;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen. Loopback by default; any other address needs API keys.
    #[arg(long, default_value = "127.0.0.1:8421", env = "TIMEHOOK_LISTEN")]
    pub listen: SocketAddr,
    /// Serve the API and dashboard only; an application embedding timehook delivers.
    #[arg(long)]
    pub no_deliver: bool,
    /// The signing secret deliveries are signed with (`whsec_…`); needed unless --no-deliver.
    #[arg(long, env = "TIMEHOOK_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    #[command(flatten)]
    pub keys: crate::KeysFile,
    /// The largest request body accepted, in bytes.
    #[arg(long, default_value_t = 2 * 1024 * 1024)]
    pub body_limit: usize,
    /// How long a request may take before it is answered 408.
    #[arg(long, default_value = "30s", value_parser = crate::time::parse_duration)]
    pub request_timeout: Duration,
    /// RunLater's webhook secret: jobs made through `POST /api/schedule` are signed as RunLater
    /// signs them (otherwise with Standard Webhooks).
    #[arg(long, env = "TIMEHOOK_RUNLATER_SECRET", hide_env_values = true)]
    pub runlater_secret: Option<String>,
    /// Runlater.eu's webhook secret, likewise for `POST /api/v1/jobs`.
    #[arg(long, env = "TIMEHOOK_RUNLATER_EU_SECRET", hide_env_values = true)]
    pub runlater_eu_secret: Option<String>,
    /// Disable an endpoint whose every attempt has failed for this long (its jobs are held until
    /// it is enabled; default 5 days).
    #[arg(long, value_parser = crate::time::parse_duration)]
    pub disable_endpoints_after: Option<Duration>,
    /// ... and at least this many times.
    #[arg(long, default_value_t = timehook::DEFAULT_ENDPOINT_DISABLE_MIN_FAILURES)]
    pub disable_endpoints_min_failures: u32,
    /// How long deliveries in flight may take to finish on shutdown.
    #[arg(long, default_value = "30s", value_parser = crate::time::parse_duration)]
    pub grace: Duration,
}

/// What every handler shares.
pub struct App {
    pub scheduler: Scheduler,
    /// The keys file (`None` for a PostgreSQL store without `--keys`). Read again when it
    /// changes, so keys created or revoked while serving count at once.
    pub keys: Option<Keys>,
    /// Listening on a public address: every request needs a key, even if none exists.
    pub public: bool,
    pub metrics: Option<PrometheusHandle>,
    /// Random per process: the dashboard's CSRF tokens are hashes of it and the viewer's key.
    pub csrf_secret: [u8; 32],
    /// Secrets of the services' profiles, for jobs made through their drop-in routes.
    pub profile_secrets: std::collections::HashMap<&'static str, String>,
}

pub type AppState = Arc<App>;

/// The whole HTTP surface, for a scheduler that is already open.
pub fn router(app: AppState, body_limit: usize, timeout: Duration) -> Router {
    let (api, mut openapi) = api::routes(app.clone()).split_for_parts();
    utoipa::Modify::modify(&api::Finish, &mut openapi);
    let openapi = Arc::new(openapi);
    api.merge(compat::routes(app.clone()))
        .merge(dashboard::routes())
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(|| async {
            problem::Problem::new(StatusCode::NOT_FOUND, "not_found", "no such route")
        })
        // The extractors' own 2 MB cap would override --body-limit; the layer below enforces it.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            body_limit,
            read_body_within,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}

/// How much of a body over the limit is read and thrown away, as a multiple of the limit.
const DRAIN_FACTOR: usize = 8;

/// Reads each request's body, up to `limit` bytes, before routing it.
///
/// A longer body is refused with 413 only after the rest of it has been read and thrown away
/// (up to [`DRAIN_FACTOR`] times the limit): a server that answers early and closes a connection
/// with unread data resets it, and a client still sending then gets a reset, not the answer, or
/// reuses a pooled connection that is closing. Past that budget the answer says
/// `Connection: close`.
async fn read_body_within(State(limit): State<usize>, req: Request, next: Next) -> Response {
    use tokio_stream::StreamExt;
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let mut over = declared.is_some_and(|n| n > limit as u64);
    let mut buf = Vec::with_capacity(if over {
        0
    } else {
        declared.unwrap_or(0) as usize
    });
    let mut read = 0usize;
    let mut drained = true;
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(_) if over => break,
            Err(e) => {
                return problem::Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    format!("the request body could not be read: {e}"),
                )
                .into_response();
            }
        };
        read = read.saturating_add(chunk.len());
        over |= read > limit;
        if !over {
            buf.extend_from_slice(&chunk);
        } else if read > limit.saturating_mul(DRAIN_FACTOR) {
            drained = false;
            break;
        }
    }
    if over {
        let mut res = problem::Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
        .into_response();
        if !drained {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        return res;
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(buf)))
        .await
}

pub async fn run(db: String, allow_private: bool, args: ServeArgs) -> CliResult<u8> {
    // A SQLite store has its keys file beside it by default; a PostgreSQL store has one only
    // when --keys names it (without one, no key exists, and only loopback is served).
    let keys: Option<Keys> = match crate::cmd::keys_path(&args.keys, Some(&db)) {
        Ok(path) => Some(Keys::open(path)?),
        Err(_) if crate::cmd::is_url(&db) => None,
        Err(e) => return Err(e),
    };
    let has_keys = keys.as_ref().is_some_and(Keys::any);
    if !args.listen.ip().is_loopback() && !has_keys {
        return Err(CliError {
            code: "invalid_config",
            field: Some("listen".into()),
            message: format!(
                "refusing to serve on {} without API keys: create one with `timehook keys create --scope write --name admin`, or listen on loopback",
                args.listen
            ),
        });
    }
    let mut builder = Scheduler::builder(&db).allow_private_targets(allow_private);
    if let Some(after) = args.disable_endpoints_after {
        builder = builder.disable_endpoints_after(after, args.disable_endpoints_min_failures);
    }
    if !args.no_deliver {
        let secret = args.secret.as_deref().ok_or_else(|| CliError {
            code: "invalid_config",
            field: Some("secret".into()),
            message: "delivering needs a signing secret: set TIMEHOOK_SECRET (timehook secret new makes one), or pass --no-deliver".into(),
        })?;
        builder = builder
            .secret(Secret::parse(secret).map_err(|e| CliError::invalid("secret", e.to_string()))?);
    }
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .ok();
    let scheduler = builder.open().await?;
    if !args.no_deliver {
        scheduler.start()?;
    }
    let app = Arc::new(App {
        scheduler,
        keys,
        public: !args.listen.ip().is_loopback(),
        metrics,
        csrf_secret: {
            let mut s = [0u8; 32];
            getrandom::fill(&mut s).map_err(|e| CliError {
                code: "store_error",
                field: None,
                message: format!("no randomness: {e}"),
            })?;
            s
        },
        profile_secrets: [
            ("runlater", args.runlater_secret),
            ("runlater-eu", args.runlater_eu_secret),
        ]
        .into_iter()
        .filter_map(|(name, secret)| Some((name, secret?)))
        .collect(),
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError {
            code: "invalid_config",
            field: Some("listen".into()),
            message: format!("cannot listen on {}: {e}", args.listen),
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::invalid("listen", e.to_string()))?;
    // The address goes to stdout, on its own line, for scripts (and tests) to read.
    println!("listening on http://{addr}");
    tracing::info!(
        %addr,
        deliver = !args.no_deliver,
        auth = app.public || has_keys,
        "timehook serve"
    );
    let router = router(app.clone(), args.body_limit, args.request_timeout);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| CliError {
            code: "store_error",
            field: None,
            message: format!("the server stopped: {e}"),
        })?;
    tracing::info!("shutting down: letting deliveries in flight finish");
    app.scheduler.shutdown(args.grace).await?;
    Ok(exit::OK)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
