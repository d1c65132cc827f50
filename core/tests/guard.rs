//! The SSRF guard, on by default. Everything here talks to 127.0.0.1 or [::1] only: refusals of
//! other ranges are shown with a stub resolver whose answers never reach a connection (the
//! classification of every range is a unit test of `timehook::guard`).

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Backend, Receiver, TestStore, t0};
use timehook::guard::{Lookup, Resolver};
use timehook::{AttemptError, EventType, JobSpec, JobState, ManualClock, Scheduler};

/// Answers every name with `addresses`, counting the lookups.
#[derive(Clone)]
struct Stub {
    addresses: Vec<IpAddr>,
    lookups: Arc<AtomicUsize>,
}

impl Stub {
    fn new(addresses: &[&str]) -> Stub {
        Stub {
            addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
            lookups: Arc::default(),
        }
    }
}

impl Resolver for Stub {
    fn lookup(&self, _host: &str) -> Lookup {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let found = self.addresses.clone();
        Box::pin(async move { Ok(found) })
    }
}

async fn guarded(store: &TestStore, resolver: Option<Stub>) -> Scheduler {
    let b = store.guarded_builder().clock(ManualClock::new(t0()));
    match resolver {
        Some(r) => b.resolver(r),
        None => b,
    }
    .open()
    .await
    .unwrap()
}

#[tokio::test]
async fn by_default_loopback_urls_are_refused_and_the_receiver_gets_nothing() {
    let store = TestStore::new(Backend::Sqlite);
    let r = Receiver::start().await;
    let s = guarded(&store, None).await;
    let port = r.base.rsplit(':').next().unwrap();
    // IP literals: refused when scheduled, with a typed error naming the field and the address.
    for url in [
        format!("http://127.0.0.1:{port}/ok"),
        format!("http://[::1]:{port}/ok"),
        format!("http://[::ffff:127.0.0.1]:{port}/ok"),
    ] {
        let err = s.schedule(JobSpec::post(&url)).await.unwrap_err();
        assert_eq!(err.code(), "blocked", "{url}: {err}");
        assert!(
            matches!(err, timehook::Error::Blocked { field: "url", .. }),
            "{err}"
        );
        assert!(err.to_string().contains("loopback"), "{err}");
    }
    let err = s
        .schedule(JobSpec::post("https://example.com/x").on_failure(r.url("/cb")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            timehook::Error::Blocked {
                field: "on_failure_url",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        s.subscribe(&r.url("/events"), &[EventType::JobFailed])
            .await
            .unwrap_err()
            .code(),
        "blocked"
    );
    assert_eq!(
        s.send_test(&r.url("/ok"), EventType::JobCompleted)
            .await
            .unwrap_err()
            .code(),
        "blocked"
    );
    assert!(
        s.list(&Default::default()).await.unwrap().is_empty(),
        "nothing stored"
    );

    // A name that resolves to loopback: accepted when scheduled, refused at the attempt.
    let id = s
        .schedule(JobSpec::post(format!("http://localhost:{port}/ok")))
        .await
        .unwrap();
    assert_eq!(s.run_due().await.unwrap(), 1);
    let [attempt] = s.attempts(&id).await.unwrap().try_into().unwrap();
    assert_eq!(attempt.error, Some(AttemptError::Blocked));
    let message = attempt.message.unwrap();
    assert!(message.contains("localhost is 127.0.0.1"), "{message}");
    assert_eq!(
        s.get(&id).await.unwrap().state,
        JobState::Failed,
        "a final failure"
    );
    assert!(r.seen().is_empty(), "the receiver got nothing");
}

#[tokio::test]
async fn a_name_resolving_to_private_addresses_never_reaches_a_connection() {
    let store = TestStore::new(Backend::Sqlite);
    for (answer, range) in [
        (&["169.254.169.254"][..], "link-local"),
        (&["10.0.0.7", "192.168.1.20"][..], "private"),
        (&["100.64.0.1"][..], "CGNAT"),
        (&["fd00::1"][..], "unique local"),
        (&["::ffff:169.254.169.254"][..], "IPv4-mapped"),
    ] {
        let stub = Stub::new(answer);
        let s = guarded(&store, Some(stub.clone())).await;
        // Port 9 (discard): were a connection attempted, it would be refused, not blocked.
        let id = s
            .schedule(JobSpec::post("http://hooks.example:9/x"))
            .await
            .unwrap();
        assert_eq!(s.run_due().await.unwrap(), 1);
        let attempts = s.attempts(&id).await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].error, Some(AttemptError::Blocked), "{answer:?}");
        let message = attempts[0].message.clone().unwrap();
        assert!(
            message.contains(answer[0]) && message.contains(range),
            "{message}"
        );
        assert_eq!(s.get(&id).await.unwrap().state, JobState::Failed);
        assert_eq!(
            stub.lookups.load(Ordering::SeqCst),
            1,
            "resolved once, then refused"
        );
    }
}

#[tokio::test]
async fn refused_addresses_are_dropped_and_allowed_ones_kept() {
    let store = TestStore::new(Backend::Sqlite);
    let r = Receiver::start().await;
    let port = r.base.rsplit(':').next().unwrap();
    // The name resolves to cloud metadata and to 127.0.0.1; only 127.0.0.1 is allowed, so the
    // request can only go there.
    let stub = Stub::new(&["169.254.169.254", "127.0.0.1"]);
    let s = store
        .guarded_builder()
        .resolver(stub)
        .allow_targets(["127.0.0.1/32"])
        .open()
        .await
        .unwrap();
    r.set_verifier(s.verifier().clone());
    let id = s
        .schedule(JobSpec::post(format!("http://hooks.example:{port}/ok")))
        .await
        .unwrap();
    assert_eq!(s.run_due().await.unwrap(), 1);
    assert_eq!(s.get(&id).await.unwrap().state, JobState::Succeeded);
    assert_eq!(r.seen().len(), 1);
}

#[tokio::test]
async fn allow_targets_lets_chosen_networks_and_names_through() {
    let store = TestStore::new(Backend::Sqlite);
    let r = Receiver::start().await;
    let port = r.base.rsplit(':').next().unwrap();
    let by_net = store
        .guarded_builder()
        .allow_targets(["127.0.0.0/8"])
        .open()
        .await
        .unwrap();
    r.set_verifier(by_net.verifier().clone());
    by_net.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
    assert_eq!(by_net.run_due().await.unwrap(), 1);
    assert_eq!(r.seen().len(), 1);

    let other = store.another();
    let by_name = other
        .guarded_builder()
        .allow_targets(["localhost"])
        .open()
        .await
        .unwrap();
    r.set_verifier(by_name.verifier().clone());
    let id = by_name
        .schedule(JobSpec::post(format!("http://localhost:{port}/ok")))
        .await
        .unwrap();
    assert_eq!(by_name.run_due().await.unwrap(), 1);
    assert_eq!(by_name.get(&id).await.unwrap().state, JobState::Succeeded);
    // The name is allowed, not the address: a literal 127.0.0.1 is still refused.
    assert_eq!(
        by_name
            .schedule(JobSpec::post(r.url("/ok")))
            .await
            .unwrap_err()
            .code(),
        "blocked"
    );
    let bad = store
        .guarded_builder()
        .allow_targets(["10.0.0.0/99"])
        .open()
        .await
        .unwrap_err();
    assert_eq!(bad.code(), "invalid_config");
    assert!(bad.to_string().contains("10.0.0.0/99"), "{bad}");
}

#[tokio::test]
async fn ipv6_loopback_is_refused_too() {
    let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let store = TestStore::new(Backend::Sqlite);
    let s = guarded(&store, Some(Stub::new(&["::1"]))).await;
    let err = s
        .schedule(JobSpec::post(format!("http://[::1]:{port}/ok")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "blocked");
    let id = s
        .schedule(JobSpec::post(format!("http://v6.example:{port}/ok")))
        .await
        .unwrap();
    s.run_due().await.unwrap();
    assert_eq!(
        s.attempts(&id).await.unwrap()[0].error,
        Some(AttemptError::Blocked)
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "no connection reached [::1]"
    );
}

/// A "proxy" on 127.0.0.1 that answers 200 to whatever it is sent and keeps the request line.
async fn proxy() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let lines: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let seen = lines.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = vec![0; 8192];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                seen.lock()
                    .unwrap()
                    .push(text.lines().next().unwrap_or("").to_owned());
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
            });
        }
    });
    (url, lines)
}

#[tokio::test]
async fn a_proxy_is_used_only_when_given_and_the_guard_applies_to_it() {
    let store = TestStore::new(Backend::Sqlite);
    let (proxy_url, lines) = proxy().await;
    // Through the proxy: the target is the proxy's business; the proxy's address passes the
    // guard (allowed here, being on 127.0.0.1).
    let s = store
        .guarded_builder()
        .proxy(&proxy_url)
        .allow_targets(["127.0.0.1"])
        .open()
        .await
        .unwrap();
    let id = s
        .schedule(JobSpec::post("http://hooks.example/through-proxy"))
        .await
        .unwrap();
    assert_eq!(s.run_due().await.unwrap(), 1);
    assert_eq!(s.get(&id).await.unwrap().state, JobState::Succeeded);
    assert_eq!(
        lines.lock().unwrap().as_slice(),
        ["POST http://hooks.example/through-proxy HTTP/1.1"]
    );
    // A proxy the guard refuses is refused when the store is opened.
    let refused = store
        .another()
        .guarded_builder()
        .proxy(&proxy_url)
        .open()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "invalid_config");
    assert!(refused.to_string().contains("proxy"), "{refused}");
}

const PROXY_CHILD_ENV: &str = "TIMEHOOK_GUARD_PROXY_CHILD";

/// Runs only as a child with HTTP_PROXY and HTTPS_PROXY set: delivers one job to the receiver
/// given and exits; the environment's proxy must not be used.
#[tokio::test]
async fn environment_proxy_child() {
    let Ok(receiver) = std::env::var(PROXY_CHILD_ENV) else {
        return;
    };
    let s = Scheduler::in_memory()
        .allow_private_targets(true)
        .open()
        .await
        .unwrap();
    let id = s.schedule(JobSpec::post(receiver)).await.unwrap();
    assert_eq!(s.run_due().await.unwrap(), 1);
    assert_eq!(s.get(&id).await.unwrap().state, JobState::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_proxy_is_ignored() {
    let (proxy_url, lines) = proxy().await;
    let r = Receiver::start().await;
    let target = r.url("/ok");
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "environment_proxy_child", "--test-threads=1"])
            .env(PROXY_CHILD_ENV, target)
            .env("HTTP_PROXY", &proxy_url)
            .env("http_proxy", &proxy_url)
            .env("HTTPS_PROXY", &proxy_url)
            .env("ALL_PROXY", &proxy_url)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(status.success());
    assert_eq!(r.seen().len(), 1, "delivered directly");
    assert!(lines.lock().unwrap().is_empty(), "the proxy saw nothing");
}
