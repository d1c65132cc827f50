//! Scheduling, inspecting and changing jobs; bad input; persistence; cron; the background loop.

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Receiver, t0};
use timehook::{
    Clock, JobKind, JobSpec, JobState, ListFilter, ManualClock, MissedRunPolicy, Scheduler,
    signing::Secret,
};

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

async fn manual(store: &common::TestStore, clock: &ManualClock) -> Scheduler {
    store
        .builder()
        .clock(clock.clone())
        .secret(Secret::parse(SECRET).unwrap())
        .open()
        .await
        .unwrap()
}

async fn receiver_for(clock: &ManualClock, scheduler: &Scheduler) -> Receiver {
    let c = clock.clone();
    let r = Receiver::start_with_clock(Arc::new(move || c.now().timestamp())).await;
    r.set_verifier(scheduler.verifier().clone());
    r
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

conformance! {
    #[tokio::test]
    async fn an_idempotency_key_returns_the_existing_job_and_creates_nothing(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        let spec = JobSpec::post("https://example.com/hook")
            .idempotency_key("trial-42")
            .after(secs(60));
        let a = s.schedule(spec.clone()).await.unwrap();
        let b = s.schedule(spec.clone().after(secs(999))).await.unwrap();
        assert_eq!(a, b);
        let many = s
            .schedule_many([
                spec.clone(),
                JobSpec::post("https://example.com/hook").idempotency_key("other"),
                JobSpec::post("https://example.com/hook").idempotency_key("other"),
            ])
            .await
            .unwrap();
        assert_eq!(many[0], a);
        assert_eq!(many[1], many[2]);
        assert_ne!(many[1], a);
        assert_eq!(s.list(&ListFilter::default()).await.unwrap().len(), 2);
        // The first one still runs at its original time.
        let job = s.get(&a).await.unwrap();
        assert_eq!(job.next_run_at, Some(t0() + chrono::Duration::seconds(60)));
        assert_eq!(job.idempotency_key.as_deref(), Some("trial-42"));
    }
}

conformance! {
    #[tokio::test]
    async fn schedule_many_keeps_order_and_fields_across_chunks_and_keys(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        // Enough jobs for several multi-row inserts and a remainder, with keyed jobs (one repeated)
        // among them.
        let specs: Vec<JobSpec> = (0..150u64)
            .map(|i| {
                let spec = JobSpec::post(format!("https://example.com/hook/{i}"))
                    .name(format!("job-{i}"))
                    .after(secs(60 + i));
                match i {
                    70 | 71 => spec.idempotency_key("shared"),
                    100 => spec.idempotency_key("own"),
                    _ => spec,
                }
            })
            .collect();
        let ids = s.schedule_many(specs).await.unwrap();
        assert_eq!(ids.len(), 150);
        assert_eq!(ids[70], ids[71]);
        assert_eq!(
            s.list(&ListFilter::default().limit(1000))
                .await
                .unwrap()
                .len(),
            149
        );
        for (i, id) in ids.iter().enumerate().filter(|(i, _)| *i != 71) {
            let job = s.get(id).await.unwrap();
            assert_eq!(job.url, format!("https://example.com/hook/{i}"));
            assert_eq!(job.name, Some(format!("job-{i}")));
            assert_eq!(job.state, JobState::Scheduled);
            assert_eq!(
                job.next_run_at,
                Some(t0() + chrono::Duration::seconds(60 + i as i64))
            );
            assert!(job.execution_id.is_some());
        }
    }
}

conformance! {
    /// A rejected job of a batch is named by its position (the first too, and past a
    /// transaction's size), with its own code and field; a batch of one job gives that job's
    /// error alone, as `schedule` does. Nothing of the batch is stored.
    #[tokio::test]
    async fn a_rejected_job_of_a_batch_is_named_by_its_position(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        let good = |i: usize| JobSpec::post(format!("https://example.com/{i}")).name("positions");
        let bad = || JobSpec::post("https://example.com/").header("bad name", "v").name("positions");
        let batch = |n: usize, at: usize| -> Vec<JobSpec> {
            (0..n).map(|i| if i == at { bad() } else { good(i) }).collect()
        };
        for (n, at) in [(2, 0), (2, 1), (3, 1), (10_001, 10_000)] {
            let err = s.schedule_many(batch(n, at)).await.unwrap_err();
            let timehook::Error::InBatch { index, error } = &err else {
                panic!("{n} jobs, bad at {at}: {err}");
            };
            assert_eq!(*index, at);
            assert!(matches!(**error, timehook::Error::InvalidJob { field: "headers", .. }));
            assert_eq!(err.to_string(), format!("job {at}: {error}"));
            assert_eq!((err.code(), err.field()), ("invalid_job", Some("headers")));
        }
        for err in [
            s.schedule_many(batch(1, 0)).await.unwrap_err(),
            s.schedule(bad()).await.unwrap_err(),
        ] {
            assert!(matches!(err, timehook::Error::InvalidJob { field: "headers", .. }), "{err}");
        }
        let filter = ListFilter::default().name("positions").limit(10);
        assert!(s.list(&filter).await.unwrap().is_empty());
    }
}

conformance! {
    /// Large batches: one of a transaction's size (on SQLite fed to the store part by part while
    /// it is validated) and one of two transactions. Keys repeated across parts and across
    /// transactions match, and a bad job anywhere, in the first part, a later part or a later
    /// transaction, changes nothing.
    #[tokio::test]
    async fn a_large_batch_is_all_or_nothing_and_keys_match_across_its_parts(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        for n in [10_000, 12_500] {
            let spec = |i: usize| {
                let spec = JobSpec::post(format!("https://example.com/hook/{}", i % 7))
                    .name(format!("batch-{n}"))
                    .after(secs(60));
                match i {
                    500 | 1_500 => spec.idempotency_key(format!("parts-{n}")),
                    9_999 | 10_001 => spec.idempotency_key(format!("transactions-{n}")),
                    _ => spec,
                }
            };
            for bad in [3, 1_200, 7_000, 11_000].into_iter().filter(|b| *b < n) {
                let specs: Vec<JobSpec> = (0..n)
                    .map(|i| if i == bad { JobSpec::post("not a url") } else { spec(i) })
                    .collect();
                let err = s.schedule_many(specs).await.unwrap_err();
                // Named by its position in the batch, with the job's own code and field.
                assert!(
                    matches!(&err, timehook::Error::InBatch { index, .. } if *index == bad),
                    "{err}"
                );
                assert!(err.to_string().starts_with(&format!("job {bad}: invalid job: url: ")), "{err}");
                assert_eq!((err.code(), err.field()), ("invalid_job", Some("url")));
                assert!(matches!(err.root(), timehook::Error::InvalidJob { field: "url", .. }));
                let filter = ListFilter::default().name(format!("batch-{n}")).limit(10);
                assert!(
                    s.list(&filter).await.unwrap().is_empty(),
                    "a bad job at {bad} of {n} left jobs behind"
                );
            }
            let specs: Vec<JobSpec> = (0..n).map(spec).collect();
            let submitted = s.submit_many(specs).await.unwrap();
            assert_eq!(submitted.len(), n);
            assert_eq!(submitted[500].id, submitted[1_500].id);
            assert!(!submitted[500].existing && submitted[1_500].existing);
            let repeats = if n > 10_001 {
                assert_eq!(submitted[9_999].id, submitted[10_001].id);
                assert!(submitted[10_001].existing);
                2
            } else {
                1
            };
            assert_eq!(submitted.iter().filter(|s| s.existing).count(), repeats);
            let mut stored = 0;
            let mut filter = ListFilter::default().name(format!("batch-{n}")).limit(1000);
            loop {
                let page = s.list(&filter).await.unwrap();
                let Some(last) = page.last() else { break };
                stored += page.len();
                filter = filter.after(last.id.clone());
            }
            assert_eq!(stored, n - repeats);
            // In the batch's order.
            for i in [0, 999, 1_000, 4_321, 9_998, n - 1] {
                let job = s.get(&submitted[i].id).await.unwrap();
                assert_eq!(job.url, format!("https://example.com/hook/{}", i % 7));
            }
        }
    }
}

conformance! {
    #[tokio::test]
    async fn cancel_stops_a_pending_job_and_unknown_ids_are_not_found(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        let r = receiver_for(&clock, &s).await;
        let id = s
            .schedule(JobSpec::post(r.url("/ok")).after(secs(60)))
            .await
            .unwrap();
        s.cancel(&id).await.unwrap();
        s.cancel(&id).await.unwrap(); // idempotent
        clock.advance(secs(61));
        assert_eq!(s.run_due().await.unwrap(), 0);
        assert!(r.seen().is_empty());
        let job = s.get(&id).await.unwrap();
        assert_eq!(job.state, JobState::Cancelled);
        assert_eq!(job.next_run_at, None);

        let unknown: timehook::JobId = "job_01JD000000000000000000000".parse().unwrap();
        for err in [
            s.cancel(&unknown).await.unwrap_err(),
            s.get(&unknown).await.unwrap_err(),
            s.retry(&unknown).await.unwrap_err(),
            s.attempts(&unknown).await.unwrap_err(),
        ] {
            assert!(
                matches!(err, timehook::Error::NotFound(ref i) if *i == unknown),
                "{err}"
            );
            assert_eq!(err.code(), "not_found");
        }
        assert!("exec_123".parse::<timehook::JobId>().is_err());
    }
}

conformance! {
    #[tokio::test]
    async fn cancel_stops_a_retrying_job(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        let r = receiver_for(&clock, &s).await;
        let id = s
            .schedule(JobSpec::post(r.url("/status/500")))
            .await
            .unwrap();
        s.run_due().await.unwrap();
        assert_eq!(s.get(&id).await.unwrap().state, JobState::Retrying);
        s.cancel(&id).await.unwrap();
        clock.advance(secs(7200));
        assert_eq!(s.run_due().await.unwrap(), 0);
        assert_eq!(r.seen().len(), 1);
    }
}

conformance! {
    #[tokio::test]
    async fn reschedule_moves_a_job_earlier_or_later(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        let r = receiver_for(&clock, &s).await;
        let early = s
            .schedule(JobSpec::post(r.url("/ok")).after(secs(3600)))
            .await
            .unwrap();
        let late = s
            .schedule(JobSpec::post(r.url("/ok")).after(secs(10)))
            .await
            .unwrap();
        s.reschedule(&early, t0() + chrono::Duration::seconds(10))
            .await
            .unwrap();
        s.reschedule(&late, t0() + chrono::Duration::seconds(7200))
            .await
            .unwrap();
        clock.advance(secs(10));
        assert_eq!(s.run_due().await.unwrap(), 1);
        assert_eq!(s.get(&early).await.unwrap().state, JobState::Succeeded);
        assert_eq!(s.get(&late).await.unwrap().state, JobState::Scheduled);
        assert_eq!(
            s.get(&late).await.unwrap().next_run_at,
            Some(t0() + chrono::Duration::seconds(7200))
        );
        let err = s.reschedule(&early, t0()).await.unwrap_err();
        assert_eq!(err.code(), "invalid_state");
    }
}

conformance! {
    #[tokio::test]
    async fn an_at_in_the_past_is_due_now(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        let r = receiver_for(&clock, &s).await;
        s.schedule(JobSpec::post(r.url("/ok")).at(t0() - chrono::Duration::days(3)))
            .await
            .unwrap();
        assert_eq!(s.run_due().await.unwrap(), 1);
    }
}

conformance! {
    #[tokio::test]
    async fn bad_input_gets_a_typed_error_and_stores_nothing(store) {
        let clock = ManualClock::new(t0());
        let s = store.builder()
            .clock(clock.clone())
            .max_payload_size(1000)
            .open()
            .await
            .unwrap();
        let ok = "https://example.com/hook";
        let cases: Vec<(JobSpec, &str, &str)> = vec![
            (JobSpec::post("not a url"), "invalid_job", "url"),
            (
                JobSpec::post("ftp://example.com/x"),
                "invalid_job",
                "scheme",
            ),
            (JobSpec::post("file:///etc/passwd"), "invalid_job", "scheme"),
            (JobSpec::cron(ok, "61 * * * *"), "invalid_cron", "61"),
            (JobSpec::cron(ok, "every day"), "invalid_cron", "every day"),
            (
                JobSpec::cron(ok, "0 * * * *").tz("Mars/Olympus"),
                "invalid_timezone",
                "Mars/Olympus",
            ),
            (
                JobSpec::post(ok).body(vec![0u8; 1001]),
                "payload_too_large",
                "1001",
            ),
            (
                JobSpec::post(ok).header("x-evil", "a\r\nx-injected: 1"),
                "invalid_job",
                "x-evil",
            ),
            (
                JobSpec::post(ok).header("bad name", "v"),
                "invalid_job",
                "bad name",
            ),
            (
                JobSpec::post(ok).header("webhook-id", "mine"),
                "invalid_job",
                "webhook-id",
            ),
            (
                JobSpec::post(ok).timeout(Duration::ZERO),
                "invalid_job",
                "timeout",
            ),
            (JobSpec::post(ok).tz("UTC"), "invalid_job", "cron jobs only"),
            (
                JobSpec::post(ok).idempotency_key(""),
                "invalid_job",
                "idempotency_key",
            ),
            (
                JobSpec::post(ok).retry(timehook::RetryPolicy::none().with_max_attempts(0)),
                "invalid_job",
                "max_attempts",
            ),
        ];
        for (spec, code, mentions) in cases {
            let err = s.schedule(spec.clone()).await.unwrap_err();
            assert_eq!(err.code(), code, "{err}");
            assert!(
                err.to_string().contains(mentions),
                "{err:?} should mention {mentions:?}"
            );
            // In a batch, one bad job rejects the whole batch.
            let err = s
                .schedule_many([JobSpec::post(ok), spec])
                .await
                .unwrap_err();
            assert_eq!(err.code(), code);
        }
        assert!(
            s.list(&ListFilter::default()).await.unwrap().is_empty(),
            "nothing was stored"
        );
        assert_eq!(
            timehook::RetryPolicy::preset("nope").unwrap_err().code(),
            "invalid_job"
        );
    }
}

conformance! {
    #[tokio::test]
    async fn list_filters_by_state_name_label_kind_and_time_with_paging(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        let url = "https://example.com/hook";
        let mut ids = Vec::new();
        for i in 0..25u64 {
            let mut spec = JobSpec::post(url)
                .after(secs(60 * (i + 1)))
                .name(format!("n{}", i % 5));
            if i % 2 == 0 {
                spec = spec.label("even");
            }
            ids.push(s.schedule(spec).await.unwrap());
        }
        let cron = s
            .schedule(JobSpec::cron(url, "@hourly").name("n0"))
            .await
            .unwrap();
        s.cancel(&ids[0]).await.unwrap();

        let all = s.list(&ListFilter::default()).await.unwrap();
        assert_eq!(all.len(), 26);
        let cancelled = s
            .list(&ListFilter::default().state(JobState::Cancelled))
            .await
            .unwrap();
        assert_eq!(
            cancelled.iter().map(|j| j.id.clone()).collect::<Vec<_>>(),
            [ids[0].clone()]
        );
        let n0 = s.list(&ListFilter::default().name("n0")).await.unwrap();
        assert_eq!(n0.len(), 6);
        let even = s.list(&ListFilter::default().label("even")).await.unwrap();
        assert_eq!(even.len(), 13);
        assert!(even.iter().all(|j| j.labels == ["even"]));
        let crons = s
            .list(&ListFilter::default().kind(JobKind::Cron))
            .await
            .unwrap();
        assert_eq!(crons.len(), 1);
        assert_eq!(crons[0].id, cron);
        assert_eq!(
            crons[0].next_run_at,
            Some(t0() + chrono::Duration::hours(1))
        );
        // Due within the first 5 minutes: jobs 1..=4 (job 0 is cancelled).
        let soon = s
            .list(&ListFilter::default().due_before(t0() + chrono::Duration::seconds(301)))
            .await
            .unwrap();
        assert_eq!(
            soon.iter().map(|j| j.id.clone()).collect::<Vec<_>>(),
            ids[1..5].to_vec()
        );

        let mut paged = Vec::new();
        let mut filter = ListFilter::default().limit(7);
        loop {
            let page = s.list(&filter).await.unwrap();
            if page.is_empty() {
                break;
            }
            filter.after = Some(page.last().unwrap().id.clone());
            paged.extend(page.into_iter().map(|j| j.id));
        }
        assert_eq!(paged, all.into_iter().map(|j| j.id).collect::<Vec<_>>());
    }
}

conformance! {
    #[tokio::test]
    async fn jobs_persist_when_the_file_is_reopened(store) {
        let clock = ManualClock::new(t0());
        let id = {
            let s = manual(&store, &clock).await;
            s.schedule(
                JobSpec::post("http://127.0.0.1:9/x")
                    .after(secs(30))
                    .name("kept"),
            )
            .await
            .unwrap()
        };
        let s = manual(&store, &clock).await;
        let r = receiver_for(&clock, &s).await;
        let job = s.get(&id).await.unwrap();
        assert_eq!(job.name.as_deref(), Some("kept"));
        assert_eq!(job.state, JobState::Scheduled);
        assert_eq!(job.next_run_at, Some(t0() + chrono::Duration::seconds(30)));
        // The generated secret is kept in the file too... but here a secret was configured, so the
        // verifier of the reopened scheduler still checks the same key.
        s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        assert_eq!(s.run_due().await.unwrap(), 1);
        assert_eq!(r.seen()[0].verified, Ok(()));
    }
}

conformance! {
    #[tokio::test]
    async fn a_generated_secret_is_kept_in_the_file(store) {
        let first = store.builder().open().await.unwrap().secrets()[0].expose_whsec();
        let second = store.builder().open().await.unwrap().secrets()[0].expose_whsec();
        assert_eq!(first, second);
        assert!(first.starts_with("whsec_"));
    }
}

conformance! {
    #[tokio::test]
    async fn cron_occurrences_fire_each_with_its_own_execution_id(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        let r = receiver_for(&clock, &s).await;
        let id = s
            .schedule(JobSpec::cron(r.url("/ok"), "*/15 * * * *"))
            .await
            .unwrap();
        assert_eq!(
            s.run_due().await.unwrap(),
            0,
            "10:00 is not strictly after 10:00"
        );
        for _ in 0..3 {
            clock.advance(secs(15 * 60));
            assert_eq!(s.run_due().await.unwrap(), 1);
        }
        let seen = r.seen();
        assert_eq!(seen.len(), 3);
        let mut execs: Vec<&str> = seen.iter().map(|x| x.webhook_id()).collect();
        execs.dedup();
        assert_eq!(execs.len(), 3, "one execution id per occurrence");
        assert!(seen.iter().all(|x| x.verified.is_ok()));
        let job = s.get(&id).await.unwrap();
        assert_eq!(job.kind, JobKind::Cron);
        assert_eq!(job.state, JobState::Scheduled);
        assert_eq!(job.attempts, 3);
        assert_eq!(job.next_run_at, Some(t0() + chrono::Duration::minutes(60)));
        assert_eq!(job.tz.as_deref(), Some("UTC"));
    }
}

conformance! {
    #[tokio::test]
    async fn cron_occurrences_are_not_retried_by_default_but_can_be(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        let r = receiver_for(&clock, &s).await;
        let plain = s
            .schedule(JobSpec::cron(r.url("/status/500"), "0 * * * *"))
            .await
            .unwrap();
        let retried = s
            .schedule(
                JobSpec::cron(r.url("/status/502"), "0 * * * *")
                    .retry(timehook::RetryPolicy::delays([secs(60)])),
            )
            .await
            .unwrap();
        clock.advance(secs(3600));
        assert_eq!(s.run_due().await.unwrap(), 2);
        clock.advance(secs(60));
        assert_eq!(
            s.run_due().await.unwrap(),
            1,
            "only the job with a policy retries"
        );
        assert_eq!(s.attempts(&plain).await.unwrap().len(), 1);
        assert_eq!(s.attempts(&retried).await.unwrap().len(), 2);
        // A failed occurrence does not stop the schedule.
        assert_eq!(s.get(&plain).await.unwrap().state, JobState::Scheduled);
        clock.advance(secs(3600 - 60));
        assert_eq!(s.run_due().await.unwrap(), 2);
    }
}

conformance! {
    #[tokio::test]
    async fn pause_resume_trigger_and_cancel_a_cron_job(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        let r = receiver_for(&clock, &s).await;
        let id = s
            .schedule(JobSpec::cron(r.url("/ok"), "@hourly"))
            .await
            .unwrap();
        s.pause(&id).await.unwrap();
        assert_eq!(s.get(&id).await.unwrap().state, JobState::Paused);
        clock.advance(secs(2 * 3600));
        assert_eq!(s.run_due().await.unwrap(), 0, "paused: no occurrence");
        let exec = s.trigger(&id).await.unwrap();
        assert_eq!(
            s.run_due().await.unwrap(),
            1,
            "trigger runs it now, even paused"
        );
        assert_eq!(r.seen()[0].webhook_id(), exec.as_str());
        s.resume(&id).await.unwrap();
        let job = s.get(&id).await.unwrap();
        assert_eq!(job.state, JobState::Scheduled);
        assert_eq!(job.next_run_at, Some(t0() + chrono::Duration::hours(3)));
        clock.advance(secs(3600));
        assert_eq!(s.run_due().await.unwrap(), 1);
        s.cancel(&id).await.unwrap();
        clock.advance(secs(5 * 3600));
        assert_eq!(s.run_due().await.unwrap(), 0);
        assert_eq!(s.get(&id).await.unwrap().state, JobState::Cancelled);
        assert_eq!(s.pause(&id).await.unwrap_err().code(), "invalid_state");
        let once = s
            .schedule(JobSpec::post(r.url("/ok")).after(secs(60)))
            .await
            .unwrap();
        assert_eq!(s.pause(&once).await.unwrap_err().code(), "invalid_state");
    }
}

conformance! {
    #[tokio::test]
    async fn cron_time_zones_are_honoured(store) {
        let clock = ManualClock::new(t0()); // 10:00 UTC = 11:00 in Berlin (winter)
        let s = manual(&store, &clock).await;
        let id = s
            .schedule(JobSpec::cron("https://example.com/x", "30 12 * * *").tz("Europe/Berlin"))
            .await
            .unwrap();
        let job = s.get(&id).await.unwrap();
        assert_eq!(job.next_run_at, Some(t0() + chrono::Duration::minutes(90)));
        assert_eq!(job.tz.as_deref(), Some("Europe/Berlin"));
    }
}

conformance! {
    /// Downtime of 5 h 2 min for an hourly job (past the 60 s grace); what runs on restart depends on the policy.
    #[tokio::test]
    async fn missed_run_policies_apply_across_a_restart(store) {
        for (policy, expected) in [
            (MissedRunPolicy::Skip, 0),
            (MissedRunPolicy::RunOnce, 1),
            (MissedRunPolicy::CatchUp(3), 3),
            (MissedRunPolicy::CatchUp(50), 5),
        ] {
            let clock = ManualClock::new(t0());
            let r;
            let id = {
                let s = manual(&store, &clock).await;
                r = receiver_for(&clock, &s).await;
                s.schedule(JobSpec::cron(r.url("/ok"), "0 * * * *").missed(policy))
                    .await
                    .unwrap()
            };
            clock.advance(secs(5 * 3600 + 120));
            let s = manual(&store, &clock).await;
            assert_eq!(s.run_due().await.unwrap(), expected, "{policy:?}");
            assert_eq!(r.seen().len(), expected, "{policy:?}");
            // The next occurrence is the next hour after now, whatever the policy.
            let job = s.get(&id).await.unwrap();
            assert_eq!(
                job.next_run_at,
                Some(t0() + chrono::Duration::hours(6)),
                "{policy:?}"
            );
            drop(s);
            // Restarting again at the same instant neither loses nor repeats anything.
            let s = manual(&store, &clock).await;
            assert_eq!(s.run_due().await.unwrap(), 0, "{policy:?}");
            clock.advance(secs(3600 - 120));
            assert_eq!(s.run_due().await.unwrap(), 1, "{policy:?}");
        }
    }
}

conformance! {
    #[tokio::test]
    async fn an_on_time_occurrence_survives_a_restart_exactly_once(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        let r = receiver_for(&clock, &s).await;
        s.schedule(JobSpec::cron(r.url("/ok"), "0 * * * *").missed(MissedRunPolicy::Skip))
            .await
            .unwrap();
        drop(s);
        clock.advance(secs(3600 + 5)); // back 5 s after the occurrence: on time, not missed
        let s = manual(&store, &clock).await;
        assert_eq!(s.run_due().await.unwrap(), 1);
        drop(s);
        let s = manual(&store, &clock).await;
        assert_eq!(s.run_due().await.unwrap(), 0);
        assert_eq!(r.seen().len(), 1);
    }
}

conformance! {
    #[tokio::test]
    async fn the_background_loop_delivers_and_wakes_for_earlier_jobs(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        let r = receiver_for(&clock, &s).await;
        s.start().unwrap();
        let now = s
            .schedule(JobSpec::post(r.url("/ok")).name("now"))
            .await
            .unwrap();
        assert_eq!(
            r.next().await.webhook_id(),
            s.get(&now).await.unwrap().execution_id.unwrap().as_str()
        );
        // A job far away, then an earlier one: the loop must wake for the earlier one.
        s.schedule(JobSpec::post(r.url("/ok")).after(secs(3600)))
            .await
            .unwrap();
        let soon = s
            .schedule(JobSpec::post(r.url("/ok")).after(secs(30)))
            .await
            .unwrap();
        clock.advance(secs(30));
        let got = r.next().await;
        assert_eq!(
            got.webhook_id(),
            s.get(&soon).await.unwrap().execution_id.unwrap().as_str()
        );
        s.shutdown(secs(5)).await.unwrap();
        assert_eq!(s.start().unwrap_err().code(), "closed");
    }
}

conformance! {
    #[tokio::test]
    async fn the_background_loop_runs_on_its_own_runtime_when_asked(store) {
        let r = Receiver::start().await;
        let s = store.builder()
            .own_runtime(true)
            .open()
            .await
            .unwrap();
        r.set_verifier(s.verifier().clone());
        s.start().unwrap();
        s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        assert_eq!(r.next().await.verified, Ok(()));
        s.shutdown(secs(5)).await.unwrap();
    }
}

conformance! {
    #[tokio::test]
    async fn shutdown_releases_unfinished_deliveries_for_the_next_start(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        let r = receiver_for(&clock, &s).await;
        let id = s.schedule(JobSpec::post(r.url("/hang"))).await.unwrap();
        s.start().unwrap();
        let first = r.next().await;
        s.shutdown(Duration::from_millis(100)).await.unwrap();
        let job = s.get(&id).await.unwrap();
        assert_eq!(job.state, JobState::Scheduled, "released, not left running");
        let attempts = s.attempts(&id).await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].error, Some(timehook::AttemptError::Interrupted));
        drop(s);
        r.stop_hanging();
        let s = manual(&store, &clock).await;
        assert_eq!(s.run_due().await.unwrap(), 1);
        let job = s.get(&id).await.unwrap();
        assert_eq!(job.state, JobState::Succeeded);
        assert_eq!(r.seen().last().unwrap().webhook_id(), first.webhook_id());
        // The interrupted attempt did not use up the retry budget.
        assert_eq!(s.attempts(&id).await.unwrap().len(), 2);
    }
}

conformance! {
    /// Interrupted attempts do not use up the retry budget, but they have a cap of their own: a
    /// job that is interrupted every time (it outlasts every shutdown, or kills its worker) is
    /// failed as `interrupted` on the `max_interrupted_attempts`th, and its failure is reported.
    #[tokio::test]
    async fn an_execution_interrupted_too_often_is_failed_and_reported(store) {
        let clock = ManualClock::new(t0());
        let open = || async {
            store
                .builder()
                .clock(clock.clone())
                .secret(Secret::parse(SECRET).unwrap())
                .max_interrupted_attempts(3)
                .open()
                .await
                .unwrap()
        };
        let s = open().await;
        let r = receiver_for(&clock, &s).await;
        // A job with a profile of its own: its failure callback is shaped and signed as that
        // service sends them, even when the failure is found by another worker.
        let a1cron = timehook::profile::Profile::named("a1cron").unwrap();
        let id = s
            .schedule(
                JobSpec::post(r.url("/hang"))
                    .name("Nightly export")
                    .profile(&a1cron, "svc-secret")
                    .on_failure(r.url("/cb/failed")),
            )
            .await
            .unwrap();
        drop(s);
        // Twice, the shutdown deadline passes while the request hangs.
        for n in 1..=2 {
            let s = open().await;
            s.start().unwrap();
            r.next().await;
            s.shutdown(Duration::from_millis(50)).await.unwrap();
            let again = if n == 1 { JobState::Scheduled } else { JobState::Retrying };
            assert_eq!(s.get(&id).await.unwrap().state, again, "after {n}");
        }
        // The third time, the worker stops renewing (its caller gave up on it), and the lease
        // runs out.
        let s = open().await;
        let gave_up = tokio::time::timeout(Duration::from_millis(200), s.run_due()).await;
        assert!(gave_up.is_err(), "the receiver hangs");
        r.next().await;
        r.stop_hanging();
        clock.advance(timehook::LEASE_DURATION + secs(1));
        let mut events = s.events();
        s.run_due().await.unwrap();
        let job = s.get(&id).await.unwrap();
        assert_eq!(job.state, JobState::Failed);
        assert_eq!(job.next_run_at, None);
        let attempts = s.attempts(&id).await.unwrap();
        assert_eq!(attempts.len(), 3);
        assert!(attempts.iter().all(|a| a.error == Some(timehook::AttemptError::Interrupted)));
        let last = attempts[2].message.as_deref().unwrap();
        assert!(last.contains("interrupted 3 times"), "{last}");
        assert_eq!(attempts[2].next_retry_at, None);
        match events.try_recv().unwrap() {
            timehook::Event::Job { event, outcome } => {
                assert_eq!(event, timehook::EventType::JobFailed);
                assert_eq!(outcome.job_id, id);
            }
            other => panic!("unexpected {other:?}"),
        }
        // The failure callback goes out; the job itself is not sent again.
        let before = r.seen().iter().filter(|x| x.path == "/hang").count();
        s.run_due().await.unwrap();
        let seen = r.seen();
        assert_eq!(seen.iter().filter(|x| x.path == "/hang").count(), before);
        let callback = seen.iter().find(|x| x.path == "/cb/failed").expect("on_failure sent");
        let body: serde_json::Value = serde_json::from_slice(&callback.body).unwrap();
        assert_eq!(body["status"], "error", "{body}");
        assert_eq!(body["cron_job_id"], id.as_str(), "{body}");
        assert_eq!(body["cron_job_name"], "Nightly export", "{body}");
        a1cron
            .verifier("svc-secret")
            .unwrap()
            .verify_ignoring_timestamp(&callback.body, &callback.headers)
            .unwrap();
    }
}

conformance! {
    /// Dropping a scheduler that owns its runtime (without `shutdown`) does not block, and still
    /// releases what it was delivering: another scheduler finds the job due again at once, not
    /// after its lease (which, on this manual clock, would never run out).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_scheduler_with_its_own_runtime_releases_its_deliveries(store) {
        let clock = ManualClock::new(t0());
        let s = store
            .builder()
            .clock(clock.clone())
            .secret(Secret::parse(SECRET).unwrap())
            .own_runtime(true)
            .open()
            .await
            .unwrap();
        let r = receiver_for(&clock, &s).await;
        let id = s.schedule(JobSpec::post(r.url("/hang"))).await.unwrap();
        s.start().unwrap();
        let first = r.next().await;
        drop(s);
        let other = manual(&store, &clock).await;
        // The release happens in the background: wait for it (bounded).
        let mut job = other.get(&id).await.unwrap();
        for _ in 0..500 {
            if job.state != JobState::Running {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            job = other.get(&id).await.unwrap();
        }
        assert_eq!(job.state, JobState::Scheduled);
        let attempts = other.attempts(&id).await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].error, Some(timehook::AttemptError::Interrupted));
        r.stop_hanging();
        assert_eq!(other.run_due().await.unwrap(), 1);
        assert_eq!(other.get(&id).await.unwrap().state, JobState::Succeeded);
        assert_eq!(r.seen().last().unwrap().webhook_id(), first.webhook_id());
    }
}

conformance! {
    #[tokio::test]
    async fn finished_jobs_are_pruned_after_their_retention(store) {
        let clock = ManualClock::new(t0());
        let s = store.builder()
            .clock(clock.clone())
            .retention(secs(3600))
            .failed_retention(secs(7200))
            .open()
            .await
            .unwrap();
        let r = receiver_for(&clock, &s).await;
        let ok = s.schedule(JobSpec::post(r.url("/ok"))).await.unwrap();
        let bad = s
            .schedule(JobSpec::post(r.url("/status/400")))
            .await
            .unwrap();
        let later = s
            .schedule(JobSpec::post(r.url("/ok")).after(secs(86_400)))
            .await
            .unwrap();
        s.run_due().await.unwrap();
        clock.advance(secs(3601));
        assert_eq!(s.prune().await.unwrap(), 1);
        assert!(s.get(&ok).await.is_err());
        assert!(s.attempts(&ok).await.is_err());
        assert_eq!(
            s.attempts(&bad).await.unwrap().len(),
            1,
            "failed jobs are kept longer"
        );
        clock.advance(secs(3600));
        assert_eq!(s.prune().await.unwrap(), 1);
        assert!(s.get(&bad).await.is_err());
        assert_eq!(
            s.get(&later).await.unwrap().state,
            JobState::Scheduled,
            "pending jobs are never pruned"
        );
    }
}

conformance! {
    /// A caller that gives up on `run_due` (a timeout drops the future) leaves nothing stuck: the
    /// dropped deliveries' leases are no longer renewed, and once they run out the next claim,
    /// of this very scheduler, delivers them again with the same webhook-id.
    #[tokio::test]
    async fn a_dropped_run_due_leaves_no_job_stuck(store) {
        let clock = ManualClock::new(t0());
        let s = manual(&store, &clock).await;
        let r = receiver_for(&clock, &s).await;
        let id = s.schedule(JobSpec::post(r.url("/hang"))).await.unwrap();
        let gave_up = tokio::time::timeout(Duration::from_millis(300), s.run_due()).await;
        assert!(gave_up.is_err(), "the receiver hangs");
        let first = r.next().await;
        assert_eq!(s.get(&id).await.unwrap().state, JobState::Running);
        r.stop_hanging();
        // Within the lease nothing is taken back...
        assert_eq!(s.run_due().await.unwrap(), 0);
        // ...after it, the scheduler's own stale lease is.
        clock.advance(timehook::LEASE_DURATION + secs(1));
        assert_eq!(s.run_due().await.unwrap(), 1);
        assert_eq!(s.get(&id).await.unwrap().state, JobState::Succeeded);
        assert_eq!(r.seen().last().unwrap().webhook_id(), first.webhook_id());
        let attempts = s.attempts(&id).await.unwrap();
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[0].error, Some(timehook::AttemptError::Interrupted));
        assert!(attempts[1].succeeded());
    }
}
