//! What logs, spans and `Debug` output may show of a job: URLs without their credentials and
//! query, header names without their values, and a body's size rather than its bytes. Those are
//! where API keys and tokens live (`Authorization`, `?token=`, `https://user:pass@`).

use std::fmt;

/// A URL as logs may show it: scheme, host, port and path; userinfo dropped, query and fragment
/// replaced by `?…` / `#…`. Text that is not a URL shows as its scheme and `…` only.
pub(crate) struct Url<'a>(pub &'a str);

impl fmt::Display for Url<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Ok(url) = url::Url::parse(self.0) else {
            let scheme = self.0.split_once("://").map_or("", |(s, _)| s);
            return write!(f, "{scheme}://… (not a URL)");
        };
        write!(f, "{}://", url.scheme())?;
        if let Some(host) = url.host_str() {
            f.write_str(host)?;
        }
        if let Some(port) = url.port() {
            write!(f, ":{port}")?;
        }
        f.write_str(url.path())?;
        if url.query().is_some() {
            f.write_str("?…")?;
        }
        if url.fragment().is_some() {
            f.write_str("#…")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Url<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Optional URL, for `Debug`.
pub(crate) struct OptUrl<'a>(pub Option<&'a str>);

impl fmt::Debug for OptUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(url) => write!(f, "Some({:?})", Url(url)),
            None => f.write_str("None"),
        }
    }
}

/// Header names with their values hidden, but for `content-type`.
pub(crate) struct Headers<'a>(pub &'a [(String, String)]);

impl fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (name, value) in self.0 {
            if name.eq_ignore_ascii_case("content-type") {
                list.entry(&(name, value));
            } else {
                list.entry(&(name, format_args!("[redacted]")));
            }
        }
        list.finish()
    }
}

/// A body, by its size.
pub(crate) struct Body<'a>(pub &'a [u8]);

impl fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} bytes redacted]", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials_query_and_fragment() {
        for (raw, shown) in [
            (
                "https://user:secret@hooks.example.com:8443/a/b?token=abc#frag",
                "https://hooks.example.com:8443/a/b?…#…",
            ),
            ("http://example.com/x", "http://example.com/x"),
            ("http://[::1]:9/x?k=v", "http://[::1]:9/x?…"),
            ("ftp:/ /nonsense?token=1", "://… (not a URL)"),
        ] {
            assert_eq!(Url(raw).to_string(), shown, "{raw}");
        }
    }

    #[test]
    fn header_values_and_bodies_are_hidden() {
        let headers = vec![
            ("Authorization".to_owned(), "Bearer sk_live_123".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        let shown = format!("{:?}", Headers(&headers));
        assert!(!shown.contains("sk_live_123"), "{shown}");
        assert!(shown.contains("Authorization") && shown.contains("application/json"));
        assert_eq!(format!("{:?}", Body(b"secret")), "[6 bytes redacted]");
    }
}
