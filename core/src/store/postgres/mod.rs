//! The PostgreSQL backend: every process that opens the same database and schema shares its jobs.
//!
//! Connections come from a deadpool pool of tokio-postgres clients, over rustls when `sslmode`
//! asks for it. Each engine operation runs in a transaction of its own. Claims lock what they take
//! with `FOR UPDATE SKIP LOCKED` and set a lease in the same statement; claims of different
//! processes take turns through an advisory lock held for the claim's transaction, so flow-control
//! counts are exact cluster-wide. Work committed due soon is announced with `NOTIFY`, which every
//! delivering process `LISTEN`s for on a connection of its own; polling covers the times when
//! notifications cannot arrive (a pooler in transaction mode, a dropped listener).
//!
//! tokio-postgres rather than sqlx: it is the driver underneath the most used Rust Postgres
//! stack, asynchronous from the ground up, with first-class `LISTEN`/`NOTIFY`, pipelining and
//! binary array parameters (which the batch insert and the claim use), and it pulls in no SQL
//! toolkit or compile-time query checking that this crate's hand-written SQL would not use.

mod migrations;
mod tls;
mod tx;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use tokio_postgres::error::SqlState;

use super::Durability;
use crate::error::{Error, Result, StoreError, StoreErrorKind};

pub(crate) use tx::PgTx;

/// The schema that holds timehook's tables unless the URL or the builder says otherwise.
pub const DEFAULT_SCHEMA: &str = "timehook";
/// Connections in the pool unless the URL says otherwise (`max_connections`).
const DEFAULT_MAX_CONNECTIONS: usize = 16;
/// How long a call waits for a free connection, or for a new one to be made.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// The `application_name` of the listener's connection.
const LISTENER_NAME: &str = "timehook listener";
/// The longest pause between attempts to bring the listener connection back.
const LISTEN_BACKOFF_MAX: Duration = Duration::from_secs(10);

/// A PostgreSQL database and the schema in it, parsed from a URL. Its `Debug` shows no password.
#[derive(Clone)]
pub(crate) struct PgLocation {
    config: tokio_postgres::Config,
    tls: tls::TlsMode,
    pub(crate) schema: String,
    max_connections: usize,
    /// Whether delivering processes `LISTEN` for work due soon (`notify=off`: polling only).
    listen: bool,
}

impl std::fmt::Debug for PgLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (schema {})", display(&self.config), self.schema)
    }
}

/// `postgresql://user@host:port/db`, without the password.
fn display(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect::<Vec<_>>()
        .join(",");
    let port = config
        .get_ports()
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "postgresql://{}@{}:{}/{}",
        config.get_user().unwrap_or(""),
        host,
        if port.is_empty() { "5432".into() } else { port },
        config.get_dbname().unwrap_or("")
    )
}

impl PgLocation {
    /// Parses a `postgres://` or `postgresql://` URL. Besides what tokio-postgres understands, it
    /// takes libpq's `sslmode` (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`) and
    /// `sslrootcert` (a PEM file, or `system`), and timehook's own `schema`,
    /// `max_connections` and `notify` (`off` for polling only, behind a pooler that drops
    /// `LISTEN`).
    pub(crate) fn parse(url: &str) -> Result<PgLocation> {
        let invalid = |reason: String| Error::Config(format!("invalid PostgreSQL URL: {reason}"));
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        let (mut ssl_mode, mut root_cert) = (None, None);
        let mut schema = DEFAULT_SCHEMA.to_owned();
        let mut max_connections = DEFAULT_MAX_CONNECTIONS;
        let mut listen = true;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded = percent_decode(value);
            match key {
                "sslmode" => ssl_mode = Some(decoded),
                "sslrootcert" => root_cert = Some(decoded),
                "schema" => schema = decoded,
                "max_connections" => {
                    max_connections = decoded.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        invalid(format!(
                            "max_connections={decoded:?} is not a positive number"
                        ))
                    })?;
                }
                "notify" => {
                    listen = match decoded.as_str() {
                        "on" | "true" | "1" => true,
                        "off" | "false" | "0" => false,
                        _ => return Err(invalid(format!("notify={decoded:?} is not on or off"))),
                    }
                }
                _ => kept.push(pair),
            }
        }
        let rebuilt = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config: tokio_postgres::Config = rebuilt
            .parse()
            .map_err(|e: tokio_postgres::Error| invalid(e.to_string()))?;
        if config.get_application_name().is_none() {
            config.application_name("timehook");
        }
        config.connect_timeout(CONNECTION_TIMEOUT);
        let tls = tls::TlsMode::parse(ssl_mode.as_deref(), root_cert).map_err(invalid)?;
        config.ssl_mode(tls.driver_mode());
        validate_schema(&schema)?;
        Ok(PgLocation {
            config,
            tls,
            schema,
            max_connections,
            listen,
        })
    }

    /// The same database with another schema.
    pub(crate) fn with_schema(mut self, schema: &str) -> Result<PgLocation> {
        validate_schema(schema)?;
        self.schema = schema.to_owned();
        Ok(self)
    }
}

/// A schema name is an unquoted identifier: letters, digits and `_`, not starting with a digit,
/// at most 63 bytes.
fn validate_schema(schema: &str) -> Result<()> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "schema {schema:?} is not a valid name (letters, digits and _, at most 63)"
        )))
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
                Some(Ok(b)) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What every connection of one store shares.
pub(crate) struct PgShared {
    pool: Pool,
    schema: String,
    /// The statements with the schema filled in, made once each.
    statements: Mutex<HashMap<&'static str, Arc<str>>>,
    /// The channel of `NOTIFY` and `LISTEN`.
    channel: String,
    /// For the listener's own connection.
    location: PgLocation,
}

/// An open PostgreSQL store. Cloning shares the pool.
#[derive(Clone)]
pub(crate) struct PgStore {
    shared: Arc<PgShared>,
}

impl PgStore {
    /// Connects, and creates or migrates the schema (under an advisory lock, so processes starting
    /// together migrate once).
    pub(crate) async fn open(location: PgLocation, durability: Durability) -> Result<PgStore> {
        let tls = location.tls.connector()?;
        let manager = Manager::from_config(
            location.config.clone(),
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let mut builder = Pool::builder(manager)
            .max_size(location.max_connections)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(CONNECTION_TIMEOUT))
            .create_timeout(Some(CONNECTION_TIMEOUT));
        if durability == Durability::Normal {
            builder = builder.post_create(deadpool_postgres::Hook::async_fn(|client, _| {
                Box::pin(async move {
                    client
                        .batch_execute("SET synchronous_commit = off")
                        .await
                        .map_err(deadpool_postgres::HookError::Backend)
                })
            }));
        }
        let pool = builder
            .build()
            .map_err(|e| Error::store(StoreErrorKind::Other, format!("cannot make a pool: {e}")))?;
        let store = PgStore {
            shared: Arc::new(PgShared {
                pool,
                channel: format!("timehook_{}", location.schema),
                schema: location.schema.clone(),
                statements: Mutex::new(HashMap::new()),
                location: location.clone(),
            }),
        };
        let name = format!("{location:?}");
        let mut client = store.client().await.map_err(|e| in_context(e, &name))?;
        migrations::migrate(&mut client, &location.schema)
            .await
            .map_err(|e| in_context(Error::from(e), &name))?;
        Ok(store)
    }

    /// A connection from the pool.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object> {
        Ok(self.shared.pool.get().await.map_err(PgError::from)?)
    }

    /// Begins a transaction on `client`.
    pub(crate) async fn begin<'c>(
        &'c self,
        client: &'c mut deadpool_postgres::Object,
    ) -> Result<PgTx<'c>> {
        let tx = client.transaction().await.map_err(PgError::from)?;
        Ok(PgTx::new(tx, &self.shared))
    }

    /// Starts the listener: a connection of its own that `LISTEN`s for the store's channel and
    /// calls `wake` on every notification. When the connection drops, it comes back with backoff,
    /// and `wake` is called once it is back, since notifications may have been missed meanwhile.
    /// `None` with `notify=off`.
    pub(crate) fn listen(
        &self,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if !self.shared.location.listen {
            return None;
        }
        let shared = self.shared.clone();
        Some(tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                match listen_once(&shared, &wake).await {
                    Ok(()) => backoff = Duration::from_millis(100),
                    Err(e) => {
                        tracing::warn!(error = %e, "the listener connection failed; polling until it is back");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(LISTEN_BACKOFF_MAX);
                    }
                }
            }
        }))
    }
}

impl PgShared {
    /// `sql` with `{s}` replaced by the quoted schema name.
    fn statement(&self, sql: &'static str) -> Arc<str> {
        let mut statements = self
            .statements
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        statements
            .entry(sql)
            .or_insert_with(|| Arc::from(sql.replace("{s}", &format!("\"{}\"", self.schema))))
            .clone()
    }
}

/// One life of the listener connection: ends when the connection does.
async fn listen_once(shared: &PgShared, wake: &(impl Fn() + Send + Sync)) -> Result<()> {
    let tls = shared.location.tls.connector()?;
    let mut config = shared.location.config.clone();
    config.application_name(LISTENER_NAME);
    let (client, mut connection) = config.connect(tls).await.map_err(PgError::from)?;
    // The connection delivers notifications only while it is polled, also while LISTEN runs.
    let forward = async move {
        loop {
            let message = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
            match message {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => wake(),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(Error::from(PgError::from(e))),
                None => return Ok(()),
            }
        }
    };
    let subscribe = async {
        client
            .batch_execute(&format!("LISTEN \"{}\"", shared.channel))
            .await
            .map_err(PgError::from)?;
        // Anything committed while no listener ran is found by the next tick.
        wake();
        std::future::pending::<Result<()>>().await
    };
    tokio::select! {
        ended = forward => ended,
        failed = subscribe => failed,
    }
}

fn in_context(e: Error, name: &str) -> Error {
    match e {
        Error::Store(e) => Error::Store(e.context(format!("cannot open {name}"))),
        other => other,
    }
}

/// A failure inside the PostgreSQL backend: the driver's, the pool's, or the engine's.
#[derive(Debug)]
pub(crate) enum PgError {
    Pg(tokio_postgres::Error),
    Pool(PoolError),
    Engine(Error),
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        PgError::Pg(e)
    }
}

impl From<PoolError> for PgError {
    fn from(e: PoolError) -> Self {
        PgError::Pool(e)
    }
}

impl From<Error> for PgError {
    fn from(e: Error) -> Self {
        PgError::Engine(e)
    }
}

impl From<PgError> for Error {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Engine(e) => e,
            PgError::Pg(e) => {
                let (kind, message) = (kind_of(&e), describe(&e));
                Error::Store(StoreError::with_source(kind, message, e))
            }
            PgError::Pool(e) => {
                let (kind, message) = match &e {
                    PoolError::Backend(pg) => (
                        match kind_of(pg) {
                            // Refused at connection time (authentication, pg_hba): the connection
                            // could not be made.
                            StoreErrorKind::Other => StoreErrorKind::ConnectionLost,
                            kind => kind,
                        },
                        format!("cannot connect: {}", describe(pg)),
                    ),
                    PoolError::Timeout(_) => (
                        StoreErrorKind::ConnectionLost,
                        "no connection to the database within the timeout".to_owned(),
                    ),
                    other => (StoreErrorKind::ConnectionLost, other.to_string()),
                };
                Error::Store(StoreError::with_source(kind, message, e))
            }
        }
    }
}

pub(crate) type PgResult<T> = std::result::Result<T, PgError>;

/// A driver error in words: the server's code and message, or the error and its causes.
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.code().code(), db.message());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

/// What kind of store failure a driver error is.
fn kind_of(e: &tokio_postgres::Error) -> StoreErrorKind {
    let Some(code) = e.code() else {
        return if e.is_closed()
            || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
        {
            StoreErrorKind::ConnectionLost
        } else {
            StoreErrorKind::Other
        };
    };
    let class = &code.code()[..2];
    if *code == SqlState::DISK_FULL {
        StoreErrorKind::Full
    } else if [
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::LOCK_NOT_AVAILABLE,
        SqlState::QUERY_CANCELED,
    ]
    .contains(code)
    {
        StoreErrorKind::Busy
    } else if class == "08"
        || [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
        ]
        .contains(code)
    {
        StoreErrorKind::ConnectionLost
    } else if [SqlState::DATA_CORRUPTED, SqlState::INDEX_CORRUPTED].contains(code) {
        StoreErrorKind::Corrupt
    } else if class == "58" {
        StoreErrorKind::Io
    } else {
        StoreErrorKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_libpq_settings_and_take_timehook_ones() {
        let l = PgLocation::parse(
            "postgresql://app:s3cret@db.example:6432/jobs?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&schema=hooks&application_name=api&max_connections=4",
        )
        .unwrap();
        assert_eq!(l.schema, "hooks");
        assert_eq!(l.max_connections, 4);
        assert_eq!(l.config.get_application_name(), Some("api"));
        assert_eq!(l.config.get_dbname(), Some("jobs"));
        assert!(matches!(l.tls, tls::TlsMode::VerifyFull(Some(ref p)) if p == "/tmp/ca.pem"));
        let shown = format!("{l:?}");
        assert_eq!(
            shown,
            "postgresql://app@db.example:6432/jobs (schema hooks)"
        );
        assert!(!shown.contains("s3cret"));
        assert!(!format!("{:?}", l.config).contains("s3cret"));
    }

    #[test]
    fn bad_urls_and_schemas_are_refused_without_echoing_the_password() {
        for url in [
            "postgresql://u:s3cret@h/db?sslmode=sometimes",
            "postgresql://u:s3cret@h/db?schema=1abc",
            "postgresql://u:s3cret@h/db?schema=a-b",
            "postgresql://u:s3cret@h:notaport/db",
            "postgresql://u:s3cret@h/db?max_connections=0",
        ] {
            let e = PgLocation::parse(url).unwrap_err();
            assert_eq!(e.code(), "invalid_config", "{url}");
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
        let l = PgLocation::parse("postgres://h/db").unwrap();
        assert_eq!(l.schema, DEFAULT_SCHEMA);
        assert_eq!(l.config.get_application_name(), Some("timehook"));
        assert!(matches!(l.tls, tls::TlsMode::Prefer));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb+c%zz"), "a/b c%zz");
    }
}
