//! `timehook`: operate a timehook store (a SQLite file or a PostgreSQL URL) from the command line,
//! and serve its REST API and dashboard (`timehook serve`). Built on the public `timehook` API only.

mod cmd;
mod error;
mod keys;
mod output;
mod serve;
mod spec;
mod time;
mod view;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::exit;

const EXIT_CODES: &str = "\
Exit codes:
  0  ok
  1  a check failed (verify), or the job's state does not allow the operation
  2  bad usage or bad input (unknown flag, bad cron expression, bad time)
  3  not found (no such job, endpoint, key or store file)
  4  store error (locked, full, unreachable, or not a timehook store)";

/// Operate a timehook store, and serve its REST API and dashboard.
#[derive(Debug, Parser)]
#[command(name = "timehook", version, after_long_help = EXIT_CODES, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    /// The store: a SQLite file (`jobs.db`) or a PostgreSQL URL (`postgresql://…`).
    #[arg(
        long,
        env = "TIMEHOOK_DB",
        global = true,
        value_name = "PATH|URL",
        hide_env_values = true
    )]
    pub(crate) db: Option<String>,
    /// Print one JSON document instead of a table.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Allow jobs to target private and loopback addresses (refused by default: the SSRF guard).
    #[arg(long, env = "TIMEHOOK_ALLOW_PRIVATE_TARGETS", global = true)]
    pub(crate) allow_private_targets: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Schedule a webhook: once (--at, --after, or now) or on a cron schedule (--cron).
    #[command(after_help = "\
Examples:
  timehook schedule https://example.com/hook --after 10m --payload '{\"user\": 42}'
  timehook schedule https://example.com/report --cron '0 9 * * MON-FRI' --tz Europe/Berlin --name report
  timehook schedule https://example.com/hook --at 2026-12-24T18:00:00Z --payload @body.json --header 'Authorization: Bearer x'")]
    Schedule(ScheduleArgs),
    /// List, show and change jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// A job's delivery attempts, oldest first.
    #[command(after_help = "Example:\n  timehook attempts job_01JF3Q4… --limit 20")]
    Attempts {
        /// The job's id.
        id: String,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Continue after this attempt cursor (from a previous page).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Endpoints (scheme, host and port) and their health.
    #[command(
        after_help = "Examples:\n  timehook endpoints\n  timehook endpoints enable https://api.example.com"
    )]
    Endpoints {
        #[command(subcommand)]
        command: Option<EndpointsCommand>,
    },
    /// Retry the failed jobs (dead letters) in a window.
    #[command(
        after_help = "Examples:\n  timehook recover --since 2h\n  timehook recover --since 2026-12-01T00:00:00Z --until 2026-12-02T00:00:00Z --name billing"
    )]
    Recover(WindowArgs),
    /// Delete failed jobs (dead letters) in a window, with their attempts.
    #[command(after_help = "Example:\n  timehook purge --until 30d --yes")]
    Purge {
        #[command(flatten)]
        window: WindowArgs,
        /// Do it without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Export the attempt log as CSV or JSON Lines, oldest first.
    #[command(
        after_help = "Examples:\n  timehook export --format csv --since 24h > attempts.csv\n  timehook export --format jsonl --job job_01JF3Q4… | jq ."
    )]
    Export {
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormatArg,
        /// Attempts from this time (RFC 3339, or a duration ago such as 24h).
        #[arg(long)]
        since: Option<String>,
        /// Attempts before this time.
        #[arg(long)]
        until: Option<String>,
        /// Only this job's attempts.
        #[arg(long)]
        job: Option<String>,
    },
    /// Signing secrets.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Verify a delivery's signature: exit 0 if it verifies, 1 (with the reason) if not.
    #[command(after_help = "\
The headers file holds one `Name: value` per line (as curl -D writes them), or a JSON object.

Example:
  timehook verify --secret whsec_… --headers headers.txt --body body.json")]
    Verify(VerifyArgs),
    /// API keys for `timehook serve`.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Serve the REST API and the dashboard (and deliver jobs, unless --no-deliver).
    #[command(after_help = "\
Examples:
  TIMEHOOK_SECRET=whsec_… timehook serve --db jobs.db
  timehook serve --db jobs.db --no-deliver --listen 127.0.0.1:8421")]
    Serve(serve::ServeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ScheduleArgs {
    /// The target URL.
    pub(crate) url: String,
    /// Run at this time (RFC 3339).
    #[arg(long, conflicts_with_all = ["after", "cron"])]
    pub(crate) at: Option<String>,
    /// Run after this long (90s, 10m, 1h30m).
    #[arg(long, conflicts_with = "cron")]
    pub(crate) after: Option<String>,
    /// Run on this cron schedule (5 or 6 fields).
    #[arg(long)]
    pub(crate) cron: Option<String>,
    /// The cron schedule's time zone (IANA name; default UTC).
    #[arg(long, requires = "cron")]
    pub(crate) tz: Option<String>,
    /// The JSON body, or @file to read it from a file.
    #[arg(long)]
    pub(crate) payload: Option<String>,
    /// A request header, `Name: value` (repeatable).
    #[arg(long = "header", value_name = "K:V")]
    pub(crate) headers: Vec<String>,
    /// HTTP method (default POST).
    #[arg(long)]
    pub(crate) method: Option<String>,
    /// Retry preset: default, none, single, runlater, cronflow, svix.
    #[arg(long)]
    pub(crate) retry: Option<String>,
    /// Per-attempt timeout (30s).
    #[arg(long)]
    pub(crate) timeout: Option<String>,
    /// A name, to find the job by.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// A label (repeatable).
    #[arg(long = "label")]
    pub(crate) labels: Vec<String>,
    /// A job with the same key is not created twice.
    #[arg(long)]
    pub(crate) idempotency_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum JobsCommand {
    /// List jobs, oldest first (in creation order).
    #[command(
        after_help = "Examples:\n  timehook jobs list --state failed\n  timehook jobs list --name billing --limit 20 --json"
    )]
    List {
        /// Only jobs in this state (repeatable): scheduled, running, retrying, succeeded, failed, cancelled, paused.
        #[arg(long)]
        state: Vec<String>,
        /// Only jobs with this name.
        #[arg(long)]
        name: Option<String>,
        /// Only jobs with this label.
        #[arg(long)]
        label: Option<String>,
        /// At most this many (up to 1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The next page: the cursor a previous page printed.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one job, with its latest attempts.
    #[command(after_help = "Example:\n  timehook jobs show job_01JF3Q4…")]
    Show { id: String },
    /// Cancel a job: it will not run again.
    Cancel { id: String },
    /// Pause a job (a cron job makes no occurrences while paused).
    Pause { id: String },
    /// Resume a paused job.
    Resume { id: String },
    /// Run a job now (a cron job gets an extra occurrence; a scheduled one-time job moves to now).
    Trigger { id: String },
    /// Retry a failed job now.
    Retry { id: String },
    /// Move a scheduled job to another time.
    #[command(
        after_help = "Examples:\n  timehook jobs reschedule job_01JF3Q4… --after 1h\n  timehook jobs reschedule job_01JF3Q4… --at 2026-12-24T18:00:00Z"
    )]
    Reschedule {
        id: String,
        /// The new time (RFC 3339).
        #[arg(long, conflicts_with = "after", required_unless_present = "after")]
        at: Option<String>,
        /// Or: this long from now.
        #[arg(long)]
        after: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum EndpointsCommand {
    /// List endpoints and their health (the default).
    List,
    /// Enable a disabled endpoint: its held jobs run again.
    Enable {
        /// The endpoint's origin (`https://host:port`) or any URL on it.
        origin: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct WindowArgs {
    /// Jobs that failed from this time (RFC 3339, or a duration ago such as 2h).
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Jobs that failed before this time (RFC 3339, or a duration ago).
    #[arg(long)]
    pub(crate) until: Option<String>,
    /// Only jobs with this name.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Only jobs with this label.
    #[arg(long)]
    pub(crate) label: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ExportFormatArg {
    Csv,
    Jsonl,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SecretCommand {
    /// Print a new random signing secret (`whsec_…`).
    New,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The secret (repeatable, during a rotation): `whsec_…`, or the service's own secret with a
    /// compatibility scheme.
    #[arg(
        long = "secret",
        required = true,
        env = "TIMEHOOK_VERIFY_SECRET",
        hide_env_values = true
    )]
    pub(crate) secrets: Vec<String>,
    /// A file with the request headers.
    #[arg(long)]
    pub(crate) headers: std::path::PathBuf,
    /// A file with the request body, exactly as received.
    #[arg(long)]
    pub(crate) body: std::path::PathBuf,
    /// The signature scheme: standard (default), github, stripe, or a profile name
    /// (runlater-eu, runlater, cronflow, svix, a1cron).
    #[arg(long, default_value = "standard")]
    pub(crate) scheme: String,
    /// Check the timestamp against this time (unix seconds) instead of now.
    #[arg(long)]
    pub(crate) now: Option<i64>,
    /// Do not check the timestamp's age.
    #[arg(long)]
    pub(crate) ignore_timestamp: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create an API key and print it (once: only its hash is kept).
    #[command(after_help = "Example:\n  timehook keys create --scope write --name ci")]
    Create {
        /// `read` or `write`.
        #[arg(long)]
        scope: String,
        /// What the key is for.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        file: KeysFile,
    },
    /// List API keys (never the keys themselves).
    List {
        #[command(flatten)]
        file: KeysFile,
    },
    /// Revoke an API key by its id.
    Revoke {
        id: String,
        #[command(flatten)]
        file: KeysFile,
    },
}

#[derive(Debug, Clone, Args)]
pub(crate) struct KeysFile {
    /// The keys file (default: next to a SQLite store, `<db>.keys.json`).
    #[arg(long = "keys", env = "TIMEHOOK_KEYS", value_name = "FILE")]
    pub(crate) path: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = e.exit_code();
            let _ = e.print();
            return ExitCode::from(u8::try_from(code).unwrap_or(exit::USAGE));
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TIMEHOOK_LOG")
                .unwrap_or_else(|_| "timehook=info,timehook_cli=info,tower_http=warn".into()),
        )
        .without_time()
        .with_target(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(cmd::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("timehook: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
