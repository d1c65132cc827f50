//! Many schedulers on one PostgreSQL database: separate OS processes (this test binary run again
//! as a child) and several schedulers in one process, each with its own pool and lease owner,
//! exactly as separate machines would be.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Backend, Receiver, TestStore};
use timehook::{
    AttemptError, JobSpec, JobState, Scheduler, SchedulerBuilder, StoreErrorKind, signing::Secret,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const CHILD_ENV: &str = "TIMEHOOK_CLUSTER_CHILD";

/// A plain connection to the test server, to look at what the schedulers wrote.
async fn sql() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&common::postgres_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

fn secret(b: SchedulerBuilder) -> SchedulerBuilder {
    b.secret(Secret::parse(SECRET).unwrap())
}

/// What a child process does, from its environment: `location|jobs|receiver|lease_ms|poll_ms`.
/// It schedules `jobs` jobs to `receiver`/ok, delivers until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_child() {
    let Ok(config) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = config.split('|').collect();
    let (location, jobs, receiver, lease_ms, poll_ms) = (
        parts[0],
        parts[1].parse::<usize>().unwrap(),
        parts[2],
        parts[3].parse::<u64>().unwrap(),
        parts[4].parse::<u64>().unwrap(),
    );
    let s = secret(Scheduler::builder(location).allow_private_targets(true))
        .lease_duration(Duration::from_millis(lease_ms))
        .poll_interval(Duration::from_millis(poll_ms))
        .open()
        .await
        .unwrap();
    let pid = std::process::id();
    for chunk in (0..jobs).collect::<Vec<_>>().chunks(1000) {
        s.schedule_many(
            chunk
                .iter()
                .map(|i| JobSpec::post(format!("{receiver}/ok")).name(format!("p{pid}-{i}"))),
        )
        .await
        .unwrap();
    }
    s.start().unwrap();
    println!("worker {}", s.worker_id());
    // Wait to be killed. This branch only runs in a child process.
    std::future::pending::<()>().await;
}

/// Child processes delivering from `store`, with their worker ids; killed (SIGKILL) when dropped.
struct Children(Vec<Child>, Vec<String>);

impl Children {
    fn spawn(store: &TestStore, n: usize, jobs_each: usize, receiver: &str, lease_ms: u64) -> Self {
        let mut children = Children(Vec::new(), Vec::new());
        for _ in 0..n {
            children.0.push(
                Command::new(std::env::current_exe().unwrap())
                    .args([
                        "--exact",
                        "cluster_child",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .env(
                        CHILD_ENV,
                        format!("{}|{jobs_each}|{receiver}|{lease_ms}|500", store.location()),
                    )
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
        }
        // Each child says which worker it is once it delivers.
        for child in &mut children.0 {
            use std::io::BufRead;
            let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            loop {
                line.clear();
                assert!(out.read_line(&mut line).unwrap() > 0, "the child ended");
                // libtest may print the test's name on the same line first.
                if let Some((_, id)) = line.trim().split_once("worker ") {
                    children.1.push(id.to_owned());
                    break;
                }
            }
        }
        children
    }

    fn kill(&mut self, i: usize) {
        self.0[i].kill().unwrap();
        self.0[i].wait().unwrap();
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How often each `webhook-id` reached the receiver.
fn deliveries(r: &Receiver) -> HashMap<String, usize> {
    r.seen().iter().fold(HashMap::new(), |mut m, x| {
        *m.entry(x.webhook_id().to_owned()).or_default() += 1;
        m
    })
}

/// Waits (at most `limit`) until `done` holds, checking every 50 ms.
async fn until(limit: Duration, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < limit, "timed out after {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn count(store: &TestStore, sql_text: &str) -> i64 {
    let text = sql_text.replace("{s}", &format!("\"{}\"", store_schema(store)));
    sql().await.query_one(&text, &[]).await.unwrap().get(0)
}

fn store_schema(store: &TestStore) -> String {
    store
        .location()
        .rsplit("schema=")
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_deliver_10k_jobs_each_once() {
    let store = TestStore::new(Backend::Postgres);
    let receiver = Receiver::start().await;
    let s = secret(store.builder()).open().await.unwrap();
    receiver.set_verifier(s.verifier().clone());
    let _children = Children::spawn(&store, 3, 3_334, &receiver.base, 30_000);
    until(
        Duration::from_secs(300),
        "10,002 jobs delivered",
        async || deliveries(&receiver).len() >= 10_002,
    )
    .await;
    until(Duration::from_secs(30), "every job recorded", async || {
        count(
            &store,
            "SELECT count(*) FROM {s}.jobs WHERE state = 'succeeded'",
        )
        .await
            == 10_002
    })
    .await;
    let seen = deliveries(&receiver);
    assert_eq!(seen.len(), 10_002);
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "nothing was killed, yet {twice:?} came twice"
    );
    assert!(receiver.seen().iter().all(|r| r.verified.is_ok()));
    // All three processes scheduled; the deliveries were shared (each claimed some).
    assert_eq!(
        count(&store, "SELECT count(*) FROM {s}.attempts").await,
        10_002
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_every_second_fires_once_per_second_across_three_processes() {
    let store = TestStore::new(Backend::Postgres);
    let receiver = Receiver::start().await;
    let s = secret(store.builder()).open().await.unwrap();
    receiver.set_verifier(s.verifier().clone());
    let _children = Children::spawn(&store, 3, 0, &receiver.base, 30_000);
    let id = s
        .schedule(JobSpec::cron(receiver.url("/ok"), "* * * * * *"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    s.pause(&id).await.unwrap();
    // What was materialised before the pause is still delivered.
    let schema = store_schema(&store);
    let client = sql().await;
    let occurrences = async || -> Vec<(String, i64, String)> {
        client
            .query(
                &format!(
                    "SELECT id, scheduled_for, state FROM \"{schema}\".executions
                     WHERE job_id = $1 ORDER BY scheduled_for"
                ),
                &[&id.as_str()],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    };
    until(
        Duration::from_secs(30),
        "every occurrence delivered",
        async || {
            occurrences()
                .await
                .iter()
                .all(|(_, _, state)| state == "succeeded")
        },
    )
    .await;
    let fired = occurrences().await;
    assert!(fired.len() >= 28, "{} occurrences in 30 s", fired.len());
    // One occurrence per second, none missing, none twice.
    for pair in fired.windows(2) {
        assert_eq!(pair[1].1 - pair[0].1, 1000, "{pair:?}");
    }
    let seen = deliveries(&receiver);
    assert_eq!(seen.len(), fired.len(), "one webhook-id per occurrence");
    for (exec, _, _) in &fired {
        assert_eq!(seen.get(exec), Some(&1), "{exec} delivered once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_jobs_are_finished_by_the_others_within_the_lease() {
    const LEASE_MS: u64 = 3_000;
    let store = TestStore::new(Backend::Postgres);
    let receiver = Receiver::start().await;
    let s = secret(store.builder()).open().await.unwrap();
    receiver.set_verifier(s.verifier().clone());
    let ids = s
        .schedule_many((0..150).map(|i| JobSpec::post(receiver.url("/hang")).name(format!("h{i}"))))
        .await
        .unwrap();
    let mut children = Children::spawn(&store, 3, 0, &receiver.base, LEASE_MS);
    // The endpoint's bound (64 in flight) holds across the three: 64 requests hang.
    until(
        Duration::from_secs(60),
        "64 requests in flight",
        async || receiver.seen().len() >= 64,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.seen().len(), 64, "the bound holds cluster-wide");
    // Kill the child holding the most deliveries in flight.
    let schema = store_schema(&store);
    let holding: HashMap<String, i64> = sql()
        .await
        .query(
            &format!(
                "SELECT lease_owner, count(*) FROM \"{schema}\".jobs
                 WHERE exec_state = 'running' GROUP BY lease_owner"
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let victim = (0..3)
        .max_by_key(|i| holding.get(&children.1[*i]).copied().unwrap_or(0))
        .unwrap();
    let held = holding[&children.1[victim]];
    children.kill(victim);
    let killed_at = Instant::now();
    receiver.stop_hanging();
    until(Duration::from_secs(120), "all 150 delivered", async || {
        count(
            &store,
            "SELECT count(*) FROM {s}.jobs WHERE state = 'succeeded'",
        )
        .await
            == 150
    })
    .await;
    let took = killed_at.elapsed();
    assert!(
        took < Duration::from_millis(LEASE_MS) + Duration::from_secs(20),
        "the others took {took:?} to finish the dead process's jobs"
    );
    // Duplicates are only the dead process's deliveries in flight, with the same webhook-id,
    // after an interrupted attempt.
    let seen = deliveries(&receiver);
    let twice: HashSet<&String> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        twice.len() as i64,
        held,
        "the killed child's deliveries, and only those"
    );
    for id in &ids {
        let job = s.get(id).await.unwrap();
        assert_eq!(job.state, JobState::Succeeded);
        let exec = job.execution_id.unwrap();
        let attempts = s.attempts(id).await.unwrap();
        if twice.contains(&exec.as_str().to_owned()) {
            assert_eq!(attempts.len(), 2, "{id}");
            assert_eq!(attempts[0].error, Some(AttemptError::Interrupted));
            assert!(attempts[1].succeeded());
        } else {
            assert_eq!(attempts.len(), 1, "{id}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_herd_from_three_schedulers_keeps_its_endpoint_bound() {
    let store = TestStore::new(Backend::Postgres);
    let receiver = Receiver::start().await;
    let mut schedulers = Vec::new();
    for _ in 0..3 {
        let s = secret(store.builder())
            .per_host_concurrency(4)
            .open()
            .await
            .unwrap();
        receiver.set_verifier(s.verifier().clone());
        schedulers.push(s);
    }
    for (i, s) in schedulers.iter().enumerate() {
        s.schedule_many(
            (0..100).map(|j| JobSpec::post(receiver.url("/slow/20")).name(format!("{i}-{j}"))),
        )
        .await
        .unwrap();
    }
    for s in &schedulers {
        s.start().unwrap();
    }
    until(Duration::from_secs(120), "300 delivered", async || {
        count(
            &store,
            "SELECT count(*) FROM {s}.jobs WHERE state = 'succeeded'",
        )
        .await
            == 300
    })
    .await;
    assert!(
        receiver.max_in_flight() <= 4,
        "{} in flight at once",
        receiver.max_in_flight()
    );
    assert_eq!(receiver.max_in_flight(), 4, "the bound was reached");
    for s in &schedulers {
        s.shutdown(Duration::from_secs(5)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_is_unique_across_processes() {
    let store = TestStore::new(Backend::Postgres);
    let a = store.builder().open().await.unwrap();
    let b = store.builder().open().await.unwrap();
    for round in 0..20 {
        let key = format!("key-{round}");
        let spec = JobSpec::post("https://example.com/hook").idempotency_key(&key);
        let (x, y) = tokio::join!(a.schedule(spec.clone()), b.schedule(spec));
        assert_eq!(x.unwrap(), y.unwrap(), "{key}");
    }
    assert_eq!(count(&store, "SELECT count(*) FROM {s}.jobs").await, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_opening_a_new_schema_together_migrate_it_once() {
    let store = TestStore::new(Backend::Postgres);
    let opens = (0..6).map(|_| store.builder().open());
    for s in futures_join_all(opens).await {
        s.unwrap();
    }
    let versions = count(&store, "SELECT count(*) FROM {s}.schema_migrations").await;
    let distinct = count(
        &store,
        "SELECT count(DISTINCT version) FROM {s}.schema_migrations",
    )
    .await;
    assert!(versions >= 1);
    assert_eq!(versions, distinct, "each migration applied once");

    // A schema written by a newer timehook is refused, and left as it is.
    let schema = store_schema(&store);
    sql()
        .await
        .batch_execute(&format!(
            "INSERT INTO \"{schema}\".schema_migrations (version) VALUES (999)"
        ))
        .await
        .unwrap();
    let err = store.builder().open().await.unwrap_err();
    assert_eq!(
        err.store_kind(),
        Some(StoreErrorKind::SchemaTooNew),
        "{err}"
    );
    assert!(
        err.to_string().contains("newer than this timehook"),
        "{err}"
    );
}

async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// The `pid`s of the listener connections on `schema`'s channel.
async fn listeners() -> Vec<i32> {
    sql()
        .await
        .query(
            "SELECT pid FROM pg_stat_activity
             WHERE application_name = 'timehook listener' AND query LIKE 'LISTEN%'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_scheduled_elsewhere_wakes_a_delivering_process_at_once() {
    let store = TestStore::new(Backend::Postgres);
    let receiver = Receiver::start().await;
    // B delivers and polls only every minute: a wake-up within seconds is the notification.
    let b = secret(store.builder())
        .poll_interval(Duration::from_secs(60))
        .open()
        .await
        .unwrap();
    receiver.set_verifier(b.verifier().clone());
    let before = listeners().await;
    b.start().unwrap();
    until(Duration::from_secs(10), "B listens", async || {
        listeners().await.len() > before.len()
    })
    .await;
    let a = secret(store.builder()).open().await.unwrap();
    a.schedule(JobSpec::post(receiver.url("/ok")))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), receiver.next())
        .await
        .expect("B woke for A's job");

    // The listener connection is cut: it comes back, and the next job wakes B again.
    let now = listeners().await;
    let mine: Vec<i32> = now
        .iter()
        .filter(|p| !before.contains(p))
        .copied()
        .collect();
    sql()
        .await
        .execute("SELECT pg_terminate_backend($1)", &[&mine[0]])
        .await
        .unwrap();
    until(Duration::from_secs(10), "B listens again", async || {
        let again = listeners().await;
        again
            .iter()
            .any(|p| !before.contains(p) && !mine.contains(p))
    })
    .await;
    a.schedule(JobSpec::post(receiver.url("/ok")))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), receiver.next())
        .await
        .expect("B woke after its listener came back");
    b.shutdown(Duration::from_secs(5)).await.unwrap();

    // notify=off (a pooler in transaction mode): no listener; polling delivers.
    let other = store.another();
    let url = format!("{}&notify=off", other.location());
    let c = secret(Scheduler::builder(url.as_str()).allow_private_targets(true))
        .poll_interval(Duration::from_millis(200))
        .open()
        .await
        .unwrap();
    let before = listeners().await;
    c.start().unwrap();
    secret(Scheduler::builder(url.as_str()).allow_private_targets(true))
        .open()
        .await
        .unwrap()
        .schedule(JobSpec::post(receiver.url("/ok")))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), receiver.next())
        .await
        .expect("polling delivered");
    assert_eq!(
        listeners().await.len(),
        before.len(),
        "no listener with notify=off"
    );
    c.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn tls_follows_sslmode() {
    let Ok(ca) = std::env::var("TIMEHOOK_TEST_PG_CA") else {
        eprintln!(
            "tls_follows_sslmode: TIMEHOOK_TEST_PG_CA is not set (an external server); not run"
        );
        return;
    };
    let url = common::postgres_url();
    let port = url.rsplit(':').next().unwrap().split('/').next().unwrap();
    let schema = common::unique_schema();
    // `tls_only` may connect over TLS only; the certificate names localhost, not 127.0.0.1.
    let open = |host: &str, params: &str| {
        let url = format!("postgresql://tls_only@{host}:{port}/postgres?schema={schema}&{params}");
        async move {
            Scheduler::builder(url)
                .allow_private_targets(true)
                .open()
                .await
        }
    };
    let refused = open("127.0.0.1", "sslmode=disable").await.unwrap_err();
    assert_eq!(refused.code(), "store_error");
    assert!(refused.to_string().contains("no encryption"), "{refused}");
    open("127.0.0.1", "sslmode=require").await.unwrap();
    open("127.0.0.1", "")
        .await
        .expect("prefer uses TLS when offered");
    open(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    )
    .await
    .unwrap();
    open("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"))
        .await
        .expect("verify-ca does not check the name");
    let wrong_name = open(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        wrong_name.store_kind(),
        Some(StoreErrorKind::ConnectionLost)
    );
    let unknown_ca = open("localhost", "sslmode=verify-full&sslrootcert=system")
        .await
        .unwrap_err();
    assert_eq!(
        unknown_ca.store_kind(),
        Some(StoreErrorKind::ConnectionLost)
    );
    sql()
        .await
        .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_password_never_shows_in_errors() {
    // Nothing listens on port 1 of 127.0.0.1.
    let err = Scheduler::builder("postgresql://app:hunter2-secret@127.0.0.1:1/jobs")
        .allow_private_targets(true)
        .open()
        .await
        .unwrap_err();
    assert_eq!(
        err.store_kind(),
        Some(StoreErrorKind::ConnectionLost),
        "{err}"
    );
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("hunter2"), "{text}");
    }
    assert!(
        err.to_string()
            .contains("postgresql://app@127.0.0.1:1/jobs"),
        "{err}"
    );
    let bad = Scheduler::builder("postgresql://app:hunter2-secret@127.0.0.1:1/jobs?sslmode=maybe")
        .allow_private_targets(true)
        .open()
        .await
        .unwrap_err();
    assert_eq!(bad.code(), "invalid_config");
    assert!(!format!("{bad} {bad:?}").contains("hunter2"));
}

/// The occurrences of a schedule of the form "every second" land one per second even when three
/// schedulers in one process tick together (a quick companion of the 30 s test across processes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_occurrences_are_materialised_once_by_concurrent_ticks() {
    let store = TestStore::new(Backend::Postgres);
    let clock = timehook::ManualClock::new(common::t0());
    let receiver = Receiver::start().await;
    let mut schedulers = Vec::new();
    for _ in 0..3 {
        schedulers.push(
            secret(store.builder())
                .clock(clock.clone())
                .open()
                .await
                .unwrap(),
        );
    }
    receiver.set_verifier(schedulers[0].verifier().clone());
    let id = schedulers[0]
        .schedule(JobSpec::cron(receiver.url("/ok"), "* * * * * *"))
        .await
        .unwrap();
    for _ in 0..20 {
        clock.advance(Duration::from_secs(1));
        let (a, b, c) = tokio::join!(
            schedulers[0].run_due(),
            schedulers[1].run_due(),
            schedulers[2].run_due()
        );
        assert_eq!(
            a.unwrap() + b.unwrap() + c.unwrap(),
            1,
            "one occurrence per second"
        );
    }
    let attempts = schedulers[0].attempts(&id).await.unwrap();
    let per_exec: BTreeMap<String, usize> = attempts.iter().fold(BTreeMap::new(), |mut m, a| {
        *m.entry(a.execution_id.to_string()).or_default() += 1;
        m
    });
    assert_eq!(per_exec.len(), 20);
    assert!(per_exec.values().all(|n| *n == 1));
}
