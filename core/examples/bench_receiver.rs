//! The benchmarks' receiver: answers every request with 204 at once, on 127.0.0.1, in a process of
//! its own, so that the scheduler measured and its peers all post to the same receiver and none of
//! them shares its process with it.
//!
//! `cargo run --release -p timehook --example bench_receiver [-- PORT]` prints the port it listens
//! on, then serves until killed.

use axum::Router;
use axum::http::StatusCode;

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .map(|p| p.parse().expect("a port number"))
        .unwrap_or(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("a free port on 127.0.0.1");
        println!("{}", listener.local_addr().expect("an address").port());
        let app = Router::new().fallback(|| async { StatusCode::NO_CONTENT });
        axum::serve(listener, app).await.expect("serving");
    });
}
