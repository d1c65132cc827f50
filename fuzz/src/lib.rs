//! What the fuzz targets share: the line-based input format that `seed.py` writes.
//!
//! An input is a head of directive lines (`word rest-of-line`), then optionally a blank line and
//! a tail that the target reads as it needs (header lines, a body). Text is decoded lossily, so
//! every byte string is some input: the fuzzer never wastes a run on a rejected encoding.

/// Splits `data` at its first blank line (`\n\n`): the part before and the part after. Without a
/// blank line the whole input is the first part.
#[must_use]
pub fn split_blank(data: &[u8]) -> (&[u8], &[u8]) {
    match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[]),
    }
}

/// The lines of `head` as `(word, rest)`: split at the first space; `rest` keeps everything after
/// that space verbatim (more spaces included).
#[must_use]
pub fn directives(head: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(head)
        .split('\n')
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once(' ') {
            Some((word, rest)) => (word.to_owned(), rest.to_owned()),
            None => (line.to_owned(), String::new()),
        })
        .collect()
}

/// Header lines (`name: value`, one per line) as `(name, raw value)`: the name is text up to the
/// first `:`, the value the bytes after it with one leading space dropped. A line without `:`
/// is a header with that name and an empty value.
#[must_use]
pub fn header_lines(block: &[u8]) -> Vec<(String, Vec<u8>)> {
    block
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = match line.iter().position(|&b| b == b':') {
                Some(i) => (&line[..i], &line[i + 1..]),
                None => (line, &[][..]),
            };
            let value = value.strip_prefix(b" ").unwrap_or(value);
            (String::from_utf8_lossy(name).into_owned(), value.to_vec())
        })
        .collect()
}

/// The scheme that a `scheme` directive names (the words `seed.py` writes):
/// `standard`, `hex_body <header> [prefix]`, `timestamped_hex <header> [<timestamp header>]`.
/// Anything else is Standard Webhooks.
#[must_use]
pub fn scheme(spec: &str) -> timehook::signing::Scheme {
    use timehook::signing::Scheme;
    let mut words = spec.split(' ');
    match words.next() {
        Some("hex_body") => Scheme::HexBody {
            header: words.next().unwrap_or_default().to_owned(),
            prefix: words.next() == Some("prefix"),
        },
        Some("timestamped_hex") => Scheme::TimestampedHex {
            header: words.next().unwrap_or_default().to_owned(),
            timestamp_header: words.next().map(str::to_owned),
        },
        _ => Scheme::StandardWebhooks,
    }
}
