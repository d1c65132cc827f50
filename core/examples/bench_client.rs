//! The HTTP clients alone, without signing or a store: `N` POSTs to `URL` from 64 tasks, with
//! reqwest or with hyper's pooled client as the scheduler builds them, and the rate. This is what
//! delivery could reach with either client if everything else were free (BENCHMARKS.md).
//!
//! `cargo run --release -p timehook --example bench_client -- reqwest|hyper URL N`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

const TASKS: usize = 64;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [client, url, n] = args.as_slice() else {
        panic!("usage: bench_client reqwest|hyper URL N");
    };
    let n: usize = n.parse().expect("a number of requests");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let left = Arc::new(AtomicUsize::new(n));
    let take = move || left.fetch_sub(1, Ordering::Relaxed) as isize > 0;
    let body = Bytes::from_static(b"{\"n\":1}");
    let secs = rt.block_on(async {
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        match client.as_str() {
            "reqwest" => {
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .tcp_nodelay(true)
                    .no_proxy()
                    .build()
                    .expect("a client");
                for _ in 0..TASKS {
                    let (client, url, body, take) =
                        (client.clone(), url.clone(), body.clone(), take.clone());
                    tasks.spawn(async move {
                        while take() {
                            let response = client.post(&url).body(body.clone()).send().await;
                            response.unwrap().bytes().await.unwrap();
                        }
                    });
                }
            }
            "hyper" => {
                let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
                http.set_nodelay(true);
                let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
                    hyper_util::client::legacy::Client::builder(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .build(http);
                let uri: http::Uri = url.parse().expect("a URL");
                for _ in 0..TASKS {
                    let (client, uri, body, take) =
                        (client.clone(), uri.clone(), body.clone(), take.clone());
                    tasks.spawn(async move {
                        while take() {
                            let mut request = http::Request::new(Full::new(body.clone()));
                            *request.method_mut() = http::Method::POST;
                            *request.uri_mut() = uri.clone();
                            let response = client.request(request).await.unwrap();
                            response.into_body().collect().await.unwrap();
                        }
                    });
                }
            }
            other => panic!("unknown client {other:?}: reqwest or hyper"),
        }
        while tasks.join_next().await.is_some() {}
        start.elapsed().as_secs_f64()
    });
    println!(
        "{client}: {n} requests from {TASKS} tasks: {:.0}/s",
        n as f64 / secs
    );
}
