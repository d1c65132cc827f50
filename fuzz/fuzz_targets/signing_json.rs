//! A job's own signing settings as the store keeps them: the JSON that `JobSigning::to_db` writes
//! into the job's row and `JobSigning::from_db` reads back before each delivery (exposed through
//! the `fuzzing` feature as `timehook::__fuzz`).
//!
//! Input, read two ways in every run:
//! - as the stored text itself (lossy UTF-8): anything may be found in that column, so reading
//!   must not panic, what it reads must write back to a text that reads the same, and the
//!   signer it makes (or its refusal) must not panic either;
//! - as directives (`scheme <scheme, as in the verify target>`, `secret <text>`, repeatable) to
//!   build settings with arbitrary header names and secrets: they must read back unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use timehook::__fuzz::{job_signing_from_db, job_signing_to_db};
use timehook::JobSigning;
use timehook::signing::Scheme;
use timehook_fuzz::{directives, scheme};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(read) = job_signing_from_db(&text) {
        let written = job_signing_to_db(&read);
        let again = job_signing_from_db(&written).expect("written settings read back");
        assert_eq!(again, read, "{written}");
        assert_eq!(job_signing_to_db(&again), written);
        let _ = read.signer();
    }

    let mut built = JobSigning::new(Scheme::StandardWebhooks, Vec::new());
    for (word, value) in directives(data) {
        match word.as_str() {
            "scheme" => built.scheme = scheme(&value),
            "secret" => built.secrets.push(value),
            _ => {}
        }
    }
    let written = job_signing_to_db(&built);
    let read = job_signing_from_db(&written).expect("written settings read back");
    assert_eq!(read, built, "{written}");
});
