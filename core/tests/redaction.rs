//! Credentials stay out of `Debug` output and recorded messages: header values, bodies, URL
//! userinfo and query strings.

mod common;

use common::{Backend, TestStore, refused_url};
use timehook::{JobSpec, RetryPolicy};

#[tokio::test]
async fn debug_output_and_attempt_messages_carry_no_credentials() {
    let store = TestStore::new(Backend::Sqlite);
    let s = store.builder().open().await.unwrap();
    // Where nothing listens, with credentials in the userinfo and the query.
    let url = refused_url().replacen("http://", "http://alice:hunter2@", 1) + "?token=sk_live_42";
    let spec = JobSpec::post(&url)
        .header("Authorization", "Bearer sk_live_99")
        .body("card=4242424242424242")
        .on_failure(format!("{url}&cb=1"))
        .retry(RetryPolicy::none());
    let shown = format!("{spec:?}");
    let id = s.schedule(spec).await.unwrap();
    let job = s.get(&id).await.unwrap();
    let shown_job = format!("{job:?}");
    for text in [&shown, &shown_job] {
        for secret in ["hunter2", "sk_live_42", "sk_live_99", "4242424242424242"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        // The header's name stays visible (stored names are lower case).
        assert!(text.to_lowercase().contains("authorization"), "{text}");
    }
    // The delivery, then its failure callback (also refused).
    assert_eq!(s.run_due().await.unwrap(), 2);
    let attempts = s.attempts(&id).await.unwrap();
    let message = attempts[0].message.as_deref().unwrap();
    assert_eq!(
        attempts[0].error,
        Some(timehook::AttemptError::Connect),
        "{message}"
    );
    for secret in ["hunter2", "sk_live_42"] {
        assert!(!message.contains(secret), "{secret} in {message}");
    }
}
