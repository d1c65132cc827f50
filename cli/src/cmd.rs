//! The operating commands: each opens the store, does one thing through the public API, and
//! prints a table or JSON.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::Utc;
use timehook::signing::{Scheme, Secret, Verifier, VerifyKey};
use timehook::{
    DeadLetterFilter, ExportFilter, ExportFormat, JobId, JobState, ListFilter, Scheduler,
};

use crate::error::{CliError, CliResult, exit};
use crate::output::{Format, opt, print, table, when};
use crate::spec::JobRequest;
use crate::time::{parse_duration, parse_instant, parse_since, relative};
use crate::view::{AttemptPage, AttemptView, Count, Created, EndpointView, JobPage, JobView};
use crate::{
    Cli, Command, EndpointsCommand, ExportFormatArg, JobsCommand, KeysCommand, KeysFile,
    ScheduleArgs, SecretCommand, VerifyArgs, WindowArgs, keys,
};

/// Whether `db` names a PostgreSQL database rather than a file.
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// The `--db` value, required by every command that touches a store.
pub fn db_of(cli_db: Option<&str>) -> CliResult<String> {
    cli_db.map(str::to_owned).ok_or_else(|| CliError {
        code: "invalid_config",
        field: Some("db".into()),
        message: "no store given: pass --db jobs.db (or a postgresql:// URL), or set TIMEHOOK_DB"
            .into(),
    })
}

/// Opens the store. A file that does not exist is created only when `create` is set (and the
/// library says so on stderr); otherwise it is "not found", and nothing is created.
pub async fn open(db: &str, create: bool, allow_private: bool) -> CliResult<Scheduler> {
    if !is_url(db) && db != ":memory:" && !create && !Path::new(db).exists() {
        return Err(CliError::not_found(format!("no store at {db}")));
    }
    Ok(Scheduler::builder(db)
        .allow_private_targets(allow_private)
        .open()
        .await?)
}

fn job_id(s: &str) -> CliResult<JobId> {
    s.parse::<JobId>()
        .map_err(|_| CliError::not_found(format!("no job with id {s}")))
}

/// Runs one command; returns the exit code.
pub async fn run(cli: Cli) -> CliResult<u8> {
    let format = Format::choose(cli.json);
    let allow = cli.allow_private_targets;
    let db = || db_of(cli.db.as_deref());
    match cli.command {
        Command::Schedule(args) => schedule(&db()?, allow, format, args).await,
        Command::Jobs(command) => jobs(&db()?, allow, format, command).await,
        Command::Attempts { id, limit, cursor } => {
            let s = open(&db()?, false, allow).await?;
            let id = job_id(&id)?;
            s.get(&id).await?;
            let page = s
                .attempts_page(&id, cursor.as_deref(), limit.clamp(1, 1000))
                .await?;
            let next_cursor = (page.len() == limit.clamp(1, 1000) as usize)
                .then(|| page.last().map(timehook::Attempt::cursor))
                .flatten();
            let view = AttemptPage {
                attempts: page.iter().map(AttemptView::from).collect(),
                next_cursor,
            };
            print(format, &view, || attempts_table(&view.attempts));
            Ok(exit::OK)
        }
        Command::Endpoints { command } => {
            let s = open(&db()?, false, allow).await?;
            match command.unwrap_or(EndpointsCommand::List) {
                EndpointsCommand::List => {
                    let now = Utc::now();
                    let list: Vec<EndpointView> = s
                        .endpoints()
                        .await?
                        .iter()
                        .map(EndpointView::from)
                        .collect();
                    print(format, &list, || {
                        let mut t =
                            table(&["origin", "health", "failures", "failing since", "disabled"]);
                        for e in &list {
                            t.add_row(vec![
                                e.origin.clone(),
                                e.health.clone(),
                                e.failures.to_string(),
                                when(e.failing_since, now),
                                when(e.disabled_at, now),
                            ]);
                        }
                        t
                    });
                }
                EndpointsCommand::Enable { origin } => {
                    s.enable_endpoint(&origin).await?;
                    let origin = timehook::outcome::origin_of(&origin);
                    let list = s.endpoints().await?;
                    let e = list
                        .iter()
                        .find(|e| e.origin == origin)
                        .map(EndpointView::from);
                    print(format, &e, || {
                        let mut t = table(&["origin", "health"]);
                        t.add_row(vec![origin.clone(), "enabled".into()]);
                        t
                    });
                }
            }
            Ok(exit::OK)
        }
        Command::Recover(window) => {
            let s = open(&db()?, false, allow).await?;
            let n = s.retry_failed(&dead_letters(&window)?).await?;
            print(format, &Count { count: n }, || {
                let mut t = table(&["recovered"]);
                t.add_row(vec![n.to_string()]);
                t
            });
            Ok(exit::OK)
        }
        Command::Purge { window, yes } => {
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(CliError::invalid(
                        "yes",
                        "purge deletes jobs for good: pass --yes to confirm",
                    ));
                }
                eprint!("Delete the failed jobs in this window, with their attempts? [y/N] ");
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer).ok();
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    eprintln!("nothing deleted");
                    return Ok(exit::FAILED);
                }
            }
            let s = open(&db()?, false, allow).await?;
            let n = s.purge(&dead_letters(&window)?).await?;
            print(format, &Count { count: n }, || {
                let mut t = table(&["purged"]);
                t.add_row(vec![n.to_string()]);
                t
            });
            Ok(exit::OK)
        }
        Command::Export {
            format: f,
            since,
            until,
            job,
        } => {
            let s = open(&db()?, false, allow).await?;
            let now = Utc::now();
            let mut filter = ExportFilter::default();
            if let Some(t) = since {
                filter =
                    filter.since(parse_since(&t, now).map_err(|m| CliError::invalid("since", m))?);
            }
            if let Some(t) = until {
                filter =
                    filter.until(parse_since(&t, now).map_err(|m| CliError::invalid("until", m))?);
            }
            if let Some(id) = job {
                filter = filter.job(job_id(&id)?);
            }
            let format = match f {
                ExportFormatArg::Csv => ExportFormat::Csv,
                ExportFormatArg::Jsonl => ExportFormat::JsonLines,
            };
            // A progress line on a terminal's stderr; none when stderr is not a terminal.
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {pos} attempts exported ({per_sec})",
                )
                .expect("a valid template"),
            );
            let out = Counting {
                inner: std::io::BufWriter::new(std::io::stdout()),
                bar: bar.clone(),
            };
            let n = s.export_attempts(&filter, format, out).await?;
            bar.finish_and_clear();
            if std::io::stderr().is_terminal() {
                eprintln!("{n} attempts exported");
            }
            Ok(exit::OK)
        }
        Command::Secret(SecretCommand::New) => {
            let secret = Secret::generate().expose_whsec();
            if format == Format::Json {
                println!("{}", serde_json::json!({ "secret": secret }));
            } else {
                println!("{secret}");
            }
            Ok(exit::OK)
        }
        Command::Verify(args) => verify(format, &args),
        Command::Keys(command) => keys_command(cli.db.as_deref(), format, command),
        Command::Serve(args) => crate::serve::run(db()?, allow, args).await,
    }
}

/// Counts the lines written (one per attempt) for the progress line.
struct Counting<W: Write> {
    inner: W,
    bar: indicatif::ProgressBar,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let lines = buf[..n].iter().filter(|&&b| b == b'\n').count();
        self.bar.inc(lines as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn dead_letters(w: &WindowArgs) -> CliResult<DeadLetterFilter> {
    let now = Utc::now();
    let mut f = DeadLetterFilter::default();
    if let Some(t) = &w.since {
        f = f.failed_after(parse_since(t, now).map_err(|m| CliError::invalid("since", m))?);
    }
    if let Some(t) = &w.until {
        f = f.failed_before(parse_since(t, now).map_err(|m| CliError::invalid("until", m))?);
    }
    if let Some(n) = &w.name {
        f = f.name(n);
    }
    if let Some(l) = &w.label {
        f = f.label(l);
    }
    Ok(f)
}

async fn schedule(db: &str, allow: bool, format: Format, a: ScheduleArgs) -> CliResult<u8> {
    let now = Utc::now();
    let mut request = JobRequest {
        url: a.url,
        method: a.method,
        cron: a.cron,
        tz: a.tz,
        name: a.name,
        labels: a.labels,
        idempotency_key: a.idempotency_key,
        ..JobRequest::default()
    };
    if let Some(at) = &a.at {
        request.at = Some(parse_instant(at).map_err(|m| CliError::invalid("at", m))?);
    }
    if let Some(after) = &a.after {
        let d = parse_duration(after).map_err(|m| CliError::invalid("after", m))?;
        request.after_seconds = Some(d.as_secs_f64());
    }
    if let Some(t) = &a.timeout {
        let d = parse_duration(t).map_err(|m| CliError::invalid("timeout", m))?;
        request.timeout_seconds = Some(d.as_secs_f64());
    }
    if let Some(r) = a.retry {
        request.retry = Some(crate::spec::RetryRequest::Preset(r));
    }
    for h in &a.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| CliError::invalid("header", format!("{h:?} is not `Name: value`")))?;
        request
            .headers
            .insert(k.trim().to_owned(), v.trim().to_owned());
    }
    if let Some(p) = &a.payload {
        let text = match p.strip_prefix('@') {
            Some(file) => std::fs::read_to_string(file)
                .map_err(|e| CliError::invalid("payload", format!("cannot read {file}: {e}")))?,
            None => p.clone(),
        };
        request.payload =
            Some(serde_json::from_str(&text).map_err(|e| {
                CliError::invalid("payload", format!("the payload is not JSON: {e}"))
            })?);
    }
    let spec = request.to_spec(now)?;
    // Checked before the store is opened (or created): bad input changes nothing.
    let s = open(db, true, allow).await?;
    let submitted = s.submit(spec).await?;
    let job = s.get(&submitted.id).await?;
    let view = Created {
        id: submitted.id.to_string(),
        existing: submitted.existing,
    };
    print(format, &view, || {
        let mut t = table(&["id", "state", "next run"]);
        t.add_row(vec![
            view.id.clone(),
            if view.existing {
                format!("{} (existing)", job.state)
            } else {
                job.state.to_string()
            },
            when(job.next_run_at, Utc::now()),
        ]);
        t
    });
    Ok(exit::OK)
}

fn jobs_table(jobs: &[JobView]) -> comfy_table::Table {
    let now = Utc::now();
    let mut t = table(&[
        "id", "kind", "state", "name", "url", "next run", "attempts", "created",
    ]);
    for j in jobs {
        t.add_row(vec![
            j.id.clone(),
            j.kind.clone(),
            j.state.clone(),
            opt(j.name.as_deref()),
            j.url.clone(),
            when(j.next_run_at, now),
            j.attempts.to_string(),
            relative(j.created_at, now),
        ]);
    }
    t
}

fn attempts_table(attempts: &[AttemptView]) -> comfy_table::Table {
    let now = Utc::now();
    let mut t = table(&[
        "#",
        "started",
        "status",
        "error",
        "duration",
        "next retry",
        "message",
    ]);
    for a in attempts {
        t.add_row(vec![
            a.number.to_string(),
            relative(a.started_at, now),
            opt(a.status),
            opt(a.error.as_deref()),
            format!("{} ms", a.duration_ms),
            when(a.next_retry_at, now),
            opt(a.message.as_deref()),
        ]);
    }
    t
}

async fn jobs(db: &str, allow: bool, format: Format, command: JobsCommand) -> CliResult<u8> {
    let s = open(db, false, allow).await?;
    let id = match command {
        JobsCommand::List {
            state,
            name,
            label,
            limit,
            cursor,
        } => {
            let limit = limit.clamp(1, 1000);
            let mut filter = ListFilter::default().limit(limit);
            for st in &state {
                filter = filter.state(
                    st.parse::<JobState>()
                        .map_err(|e| CliError::invalid("state", e.to_string()))?,
                );
            }
            if let Some(n) = name {
                filter = filter.name(n);
            }
            if let Some(l) = label {
                filter = filter.label(l);
            }
            if let Some(c) = cursor {
                filter = filter.after(c.parse::<JobId>().map_err(|_| {
                    CliError::invalid(
                        "cursor",
                        format!("{c:?} is not a cursor from a previous page"),
                    )
                })?);
            }
            let jobs = s.list(&filter).await?;
            let next_cursor = (jobs.len() == limit as usize)
                .then(|| jobs.last().map(|j| j.id.to_string()))
                .flatten();
            let page = JobPage {
                jobs: jobs.iter().map(JobView::from).collect(),
                next_cursor,
            };
            print(format, &page, || jobs_table(&page.jobs));
            if format == Format::Table && std::io::stdout().is_terminal() {
                if let Some(c) = &page.next_cursor {
                    eprintln!("more: --cursor {c}");
                }
            }
            return Ok(exit::OK);
        }
        JobsCommand::Show { id } => {
            let id = job_id(&id)?;
            let job = s.get(&id).await?;
            let attempts = s.attempts_page(&id, None, 1000).await?;
            let view = JobView::from(&job);
            let now = Utc::now();
            if format == Format::Json {
                print(
                    format,
                    &serde_json::json!({
                        "job": view,
                        "attempts": attempts.iter().map(AttemptView::from).collect::<Vec<_>>(),
                    }),
                    || unreachable!(),
                );
            } else {
                let mut t = table(&["field", "value"]);
                let rows = [
                    ("id", view.id.clone()),
                    ("kind", view.kind.clone()),
                    ("state", view.state.clone()),
                    ("name", opt(view.name.as_deref())),
                    ("labels", view.labels.join(", ")),
                    ("url", format!("{} {}", view.method, view.url)),
                    (
                        "cron",
                        opt(view
                            .cron
                            .as_deref()
                            .map(|c| format!("{c} ({})", view.tz.as_deref().unwrap_or("UTC")))),
                    ),
                    (
                        "next run",
                        view.next_run_at.map_or("-".into(), |t| {
                            format!("{} ({})", relative(t, now), t.to_rfc3339())
                        }),
                    ),
                    ("webhook-id", opt(view.execution_id.as_deref())),
                    ("attempts", view.attempts.to_string()),
                    ("timeout", format!("{} ms", view.timeout_ms)),
                    (
                        "created",
                        format!(
                            "{} ({})",
                            relative(view.created_at, now),
                            view.created_at.to_rfc3339()
                        ),
                    ),
                    (
                        "payload",
                        opt(view.payload.as_ref().map(|p| match p {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })),
                    ),
                ];
                for (k, v) in rows {
                    t.add_row(vec![k.to_owned(), v]);
                }
                let mut text = crate::output::render(&t);
                if !attempts.is_empty() {
                    let views: Vec<AttemptView> = attempts.iter().map(AttemptView::from).collect();
                    text.push_str("\n\n");
                    text.push_str(&crate::output::render(&attempts_table(&views)));
                }
                println!("{text}");
            }
            return Ok(exit::OK);
        }
        JobsCommand::Cancel { id } => {
            let id = job_id(&id)?;
            s.cancel(&id).await?;
            id
        }
        JobsCommand::Pause { id } => {
            let id = job_id(&id)?;
            s.pause(&id).await?;
            id
        }
        JobsCommand::Resume { id } => {
            let id = job_id(&id)?;
            s.resume(&id).await?;
            id
        }
        JobsCommand::Trigger { id } => {
            let id = job_id(&id)?;
            s.trigger(&id).await?;
            id
        }
        JobsCommand::Retry { id } => {
            let id = job_id(&id)?;
            s.retry(&id).await?;
            id
        }
        JobsCommand::Reschedule { id, at, after } => {
            let id = job_id(&id)?;
            let t = match (at, after) {
                (Some(at), _) => parse_instant(&at).map_err(|m| CliError::invalid("at", m))?,
                (None, Some(after)) => {
                    let d = parse_duration(&after).map_err(|m| CliError::invalid("after", m))?;
                    Utc::now()
                        + chrono::Duration::from_std(d)
                            .map_err(|e| CliError::invalid("after", e.to_string()))?
                }
                (None, None) => return Err(CliError::invalid("at", "give --at or --after")),
            };
            s.reschedule(&id, t).await?;
            id
        }
    };
    let job = JobView::from(&s.get(&id).await?);
    print(format, &job, || jobs_table(std::slice::from_ref(&job)));
    Ok(exit::OK)
}

/// Parses a headers file: `Name: value` lines (a status line and blank lines are skipped), or a
/// JSON object of strings.
pub fn read_headers(text: &str) -> CliResult<Vec<(String, String)>> {
    if text.trim_start().starts_with('{') {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| {
                CliError::invalid(
                    "headers",
                    format!("the headers file is not a JSON object: {e}"),
                )
            })?;
        return map
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => Ok((k, s)),
                other => Err(CliError::invalid(
                    "headers",
                    format!("header {k} is {other}, not a string"),
                )),
            })
            .collect();
    }
    Ok(text
        .lines()
        .filter(|l| !l.starts_with("HTTP/"))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect())
}

/// The scheme of `--scheme`.
pub fn scheme_named(name: &str) -> CliResult<Scheme> {
    match name {
        "standard" => Ok(Scheme::StandardWebhooks),
        "github" => Ok(Scheme::github()),
        "stripe" => Ok(Scheme::stripe()),
        other => Scheme::for_profile(other).ok_or_else(|| {
            CliError::invalid(
                "scheme",
                format!("unknown scheme {other:?}: expected standard, github, stripe, runlater-eu, runlater, cronflow, svix or a1cron"),
            )
        }),
    }
}

fn verify(format: Format, a: &VerifyArgs) -> CliResult<u8> {
    let read = |field: &str, p: &PathBuf| {
        std::fs::read(p).map_err(|e| CliError {
            code: "not_found",
            field: Some(field.into()),
            message: format!("cannot read {}: {e}", p.display()),
        })
    };
    let headers = read_headers(&String::from_utf8_lossy(&read("headers", &a.headers)?))?;
    let body = read("body", &a.body)?;
    let scheme = scheme_named(&a.scheme)?;
    let keys = a
        .secrets
        .iter()
        .map(|s| VerifyKey::parse(&scheme, s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::invalid("secret", e.to_string()))?;
    let verifier = Verifier::from_keys(keys)
        .and_then(|v| v.with_scheme(scheme))
        .map_err(|e| CliError::invalid("secret", e.to_string()))?;
    let result = if a.ignore_timestamp {
        verifier.verify_ignoring_timestamp(&body, &headers)
    } else {
        verifier.verify(
            &body,
            &headers,
            a.now.unwrap_or_else(|| Utc::now().timestamp()),
        )
    };
    match result {
        Ok(()) => {
            if format == Format::Json {
                println!("{}", serde_json::json!({ "verified": true }));
            } else {
                println!("verified");
            }
            Ok(exit::OK)
        }
        Err(e) => {
            if format == Format::Json {
                println!(
                    "{}",
                    serde_json::json!({ "verified": false, "code": e.code(), "reason": e.to_string() })
                );
            }
            Err(CliError {
                code: "verification_failed",
                field: None,
                message: format!("not verified: {e} ({})", e.code()),
            })
        }
    }
}

/// The keys file: `--keys`, or `<db>.keys.json` beside a SQLite store.
pub fn keys_path(file: &KeysFile, db: Option<&str>) -> CliResult<PathBuf> {
    if let Some(p) = &file.path {
        return Ok(p.clone());
    }
    match db {
        Some(db) if !is_url(db) && db != ":memory:" => Ok(PathBuf::from(format!("{db}.keys.json"))),
        _ => Err(CliError {
            code: "invalid_config",
            field: Some("keys".into()),
            message: "give the keys file with --keys FILE (or TIMEHOOK_KEYS); it defaults to <db>.keys.json only for a SQLite store".into(),
        }),
    }
}

fn keys_command(db: Option<&str>, format: Format, command: KeysCommand) -> CliResult<u8> {
    let now = Utc::now();
    match command {
        KeysCommand::Create { scope, name, file } => {
            let path = keys_path(&file, db)?;
            let (key, entry) = keys::create(&path, &name, scope.parse()?, now)?;
            if format == Format::Json {
                println!(
                    "{}",
                    serde_json::json!({ "key": key, "id": entry.id, "name": entry.name, "scope": entry.scope })
                );
            } else {
                println!("{key}");
                eprintln!(
                    "{} key {:?} created (id {}); it is shown only this once",
                    entry.scope.as_str(),
                    entry.name,
                    entry.id
                );
            }
        }
        KeysCommand::List { file } => {
            let list = keys::list(&keys_path(&file, db)?)?;
            print(format, &list, || {
                let mut t = table(&["id", "name", "scope", "created"]);
                for k in &list {
                    t.add_row(vec![
                        k.id.clone(),
                        k.name.clone(),
                        k.scope.as_str().into(),
                        relative(k.created_at, now),
                    ]);
                }
                t
            });
        }
        KeysCommand::Revoke { id, file } => {
            let entry = keys::revoke(&keys_path(&file, db)?, &id)?;
            print(format, &entry, || {
                let mut t = table(&["revoked", "name"]);
                t.add_row(vec![entry.id.clone(), entry.name.clone()]);
                t
            });
        }
    }
    Ok(exit::OK)
}
