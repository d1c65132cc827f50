//! `Retry-After` parsing (`timehook::retry::parse_retry_after`, which every answer with the header
//! goes through): delay-seconds, or an HTTP date relative to the attempt's time.
//!
//! Input: the header value (lossy UTF-8). Beyond "no panic", every run checks that a value is read
//! as a number exactly when it is one, that a date is read as the time from now to it (zero when
//! it is past), and that a number and a date made from the input's bytes read back as what they
//! were made from.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use timehook::retry::parse_retry_after;

/// The attempt's time: 2001-09-09T01:46:40Z.
const NOW_SECS: u64 = 1_000_000_000;
/// How far from now a made-up date may be: HTTP dates stop at the year 9999.
const MAX_DATE_OFFSET_SECS: u64 = 200 * 365 * 86_400;

fuzz_target!(|data: &[u8]| {
    let now = UNIX_EPOCH + Duration::from_secs(NOW_SECS);
    let value = String::from_utf8_lossy(data);
    let parsed = parse_retry_after(&value, now);
    let trimmed = value.trim();
    if let Ok(secs) = trimmed.parse::<u64>() {
        assert_eq!(parsed, Some(Duration::from_secs(secs)));
    } else if let Some(delay) = parsed {
        let at = httpdate::parse_http_date(trimmed).expect("only numbers and dates are read");
        assert_eq!(delay, at.duration_since(now).unwrap_or(Duration::ZERO));
    }

    // Round trips from the input's first eight bytes.
    let mut word = [0u8; 8];
    let n = data.len().min(8);
    word[..n].copy_from_slice(&data[..n]);
    let secs = u64::from_le_bytes(word);
    assert_eq!(
        parse_retry_after(&secs.to_string(), now),
        Some(Duration::from_secs(secs))
    );
    let offset = secs % MAX_DATE_OFFSET_SECS;
    let later: SystemTime = now + Duration::from_secs(offset);
    assert_eq!(
        parse_retry_after(&httpdate::fmt_http_date(later), now),
        Some(Duration::from_secs(offset))
    );
    let earlier = now - Duration::from_secs(offset.min(NOW_SECS));
    assert_eq!(
        parse_retry_after(&httpdate::fmt_http_date(earlier), now),
        Some(Duration::ZERO)
    );
});
