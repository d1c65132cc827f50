//! Fills a store with many one-time jobs for the benchmarks of `timehook serve` (bench/serve.sh):
//! `cargo run --release -p timehook-cli --example fill -- jobs.db 1000000`. The jobs are due in 30
//! days, half labelled `even` and half `odd`, and one in 100 is named `report`.

use std::time::{Duration, Instant};

use timehook::{Durability, JobSpec, Scheduler};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(db), Some(n)) = (args.next(), args.next()) else {
        eprintln!("usage: fill <db> <jobs>");
        std::process::exit(2);
    };
    let n: usize = n.parse()?;
    let s = Scheduler::builder(&db)
        .durability(Durability::Normal)
        .open()
        .await?;
    let started = Instant::now();
    let mut made = 0;
    while made < n {
        let batch = (n - made).min(50_000);
        s.schedule_many((0..batch).map(|i| {
            let spec = JobSpec::post(format!("https://example.com/hook/{}", made + i))
                .after(Duration::from_secs(86_400 * 30))
                .label(if (made + i) % 2 == 0 { "even" } else { "odd" });
            if (made + i) % 100 == 0 {
                spec.name("report")
            } else {
                spec
            }
        }))
        .await?;
        made += batch;
    }
    eprintln!("{n} jobs in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
