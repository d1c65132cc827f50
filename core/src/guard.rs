//! The SSRF guard: which addresses deliveries may reach.
//!
//! timehook sends requests to URLs that its users' users often choose (a SaaS app's customers type
//! in their webhook URLs). Without a guard anyone could make it fetch cloud metadata
//! (`169.254.169.254`) or an internal service and have the answer reported back through a
//! callback. So, by default, every address a delivery would connect to is checked, on every
//! attempt, and these are refused:
//!
//! - loopback, RFC 1918 private, link-local (`169.254.0.0/16`, with cloud metadata), shared
//!   CGNAT space (`100.64.0.0/10`), unique-local (`fc00::/7`) and link-local (`fe80::/10`) IPv6;
//! - unspecified, multicast, broadcast and reserved addresses, the documentation and benchmarking
//!   ranges, and the IPv4-mapped, NAT64, 6to4 and Teredo forms of any refused IPv4 address.
//!
//! Host names are checked inside the resolver that the HTTP client connects through, so the
//! addresses checked are the ones connected to (a name that changes its answer between a check and
//! the connection — DNS rebinding — cannot slip through); a refused address is dropped, and a name
//! left with none fails its attempt as `blocked`. IP-literal URLs never reach the resolver: they
//! are refused when the job is scheduled, and again before every attempt.
//!
//! `allow_targets` lets chosen networks (CIDRs) and host names through, and
//! `allow_private_targets` turns the check off (tests on `127.0.0.1`, intranet deployments).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use ipnet::IpNet;

/// Why an address is refused, in words (`None`: a public address).
pub fn refused_range(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4).map(str::to_owned),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() => "unspecified",
        (0, _, _) => "\"this network\" (0.0.0.0/8)",
        (127, _, _) => "loopback",
        (10, _, _) => "private (RFC 1918)",
        (172, 16..=31, _) => "private (RFC 1918)",
        (192, 168, _) => "private (RFC 1918)",
        (169, 254, _) => "link-local (cloud metadata lives here)",
        (100, 64..=127, _) => "shared address space (CGNAT, 100.64.0.0/10)",
        (192, 0, 0) => "IETF protocol assignment (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (192, 88, 99) => "6to4 relay anycast",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        _ if ip.is_broadcast() => "broadcast",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved (240.0.0.0/4)",
        _ => return None,
    })
}

fn refused_v6(ip: Ipv6Addr) -> Option<String> {
    let s = ip.segments();
    // Forms that carry an IPv4 address: judged by it.
    let embedded =
        |form: &str, v4: Ipv4Addr| refused_v4(v4).map(|range| format!("{range} ({form} {v4})"));
    if let Some(v4) = ip.to_ipv4_mapped() {
        return embedded("IPv4-mapped", v4);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return embedded("NAT64", v4);
    }
    if s[0] == 0x2002 {
        let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        return embedded("6to4", v4);
    }
    Some(
        match s {
            _ if ip.is_unspecified() => "unspecified",
            _ if ip.is_loopback() => "loopback",
            [0, 0, 0, 0, 0, 0, _, _] => "IPv4-compatible (deprecated)",
            [0x64, 0xff9b, 1, ..] => "local-use NAT64 (64:ff9b:1::/48)",
            [0x100, 0, 0, 0, ..] => "discard-only (100::/64)",
            [0x2001, 0, ..] => "Teredo (2001::/32)",
            [0x2001, 0xdb8, ..] => "documentation",
            [0x3fff, y, ..] if y & 0xf000 == 0 => "documentation (3fff::/20)",
            [x, ..] if x & 0xfe00 == 0xfc00 => "unique local (fc00::/7)",
            [x, ..] if x & 0xffc0 == 0xfe80 => "link-local",
            [x, ..] if x & 0xffc0 == 0xfec0 => "site-local (deprecated)",
            [x, ..] if x & 0xff00 == 0xff00 => "multicast",
            _ => return None,
        }
        .to_owned(),
    )
}

/// A delivery refused by the guard: where it would have gone, and why not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{host} is {addr}, {range}: deliveries there are refused (allow it with allow_targets or allow_private_targets)"
)]
#[non_exhaustive]
pub struct Blocked {
    /// The host of the URL (or of the proxy).
    pub host: String,
    /// The address refused.
    pub addr: IpAddr,
    /// Which kind of address it is, e.g. `loopback`, `private (RFC 1918)`.
    pub range: String,
}

/// What deliveries may reach, beyond public addresses.
#[derive(Debug, Clone, Default)]
pub(crate) struct TargetPolicy {
    /// No check at all.
    allow_private: bool,
    /// Networks let through.
    nets: Vec<IpNet>,
    /// Host names let through, lower case; `*.example.com` for every name under it.
    hosts: Vec<String>,
}

impl TargetPolicy {
    /// A policy from `allow_targets` entries (CIDRs, addresses or host names) and
    /// `allow_private_targets`. An entry that is none of those is refused, naming it.
    pub(crate) fn new(
        allow_private: bool,
        targets: &[String],
    ) -> std::result::Result<TargetPolicy, String> {
        let mut policy = TargetPolicy {
            allow_private,
            ..TargetPolicy::default()
        };
        for target in targets {
            let t = target.trim();
            if let Ok(net) = t.parse::<IpNet>() {
                policy.nets.push(net);
            } else if let Ok(ip) = t.trim_matches(['[', ']']).parse::<IpAddr>() {
                policy.nets.push(IpNet::from(ip));
            } else if valid_host_pattern(t) {
                policy.hosts.push(t.to_ascii_lowercase());
            } else {
                return Err(format!(
                    "allow_targets: {target:?} is not a CIDR (10.0.0.0/8), an address or a host name"
                ));
            }
        }
        Ok(policy)
    }

    /// Whether `host` (from a URL) is let through by name.
    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.iter().any(|h| match h.strip_prefix("*.") {
            Some(domain) => host.len() > domain.len() && host.ends_with(&format!(".{domain}")),
            None => *h == host,
        })
    }

    /// Whether a delivery to `host` may connect to `ip`.
    pub(crate) fn check(&self, host: &str, ip: IpAddr) -> std::result::Result<(), Blocked> {
        if self.allow_private || self.nets.iter().any(|n| n.contains(&ip)) {
            return Ok(());
        }
        match refused_range(ip) {
            Some(range) if !self.host_allowed(host) => Err(Blocked {
                host: host.to_owned(),
                addr: ip,
                range,
            }),
            _ => Ok(()),
        }
    }

    /// As [`TargetPolicy::check_url`], for a delivery's URL as stored (the url crate's normal form,
    /// written when the job was validated), parsed as the request's URI.
    pub(crate) fn check_uri(&self, uri: &http::Uri) -> std::result::Result<(), Blocked> {
        let Some(host) = uri.host() else {
            return Ok(());
        };
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match bare.parse::<IpAddr>() {
            Ok(ip) => self.check(host, ip),
            Err(_) => Ok(()),
        }
    }

    /// For a URL whose host is an IP address (which no resolver sees): whether it may be reached.
    pub(crate) fn check_url(&self, url: &url::Url) -> std::result::Result<(), Blocked> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(()),
        };
        self.check(url.host_str().unwrap_or_default(), ip)
    }
}

fn valid_host_pattern(t: &str) -> bool {
    let name = t.strip_prefix("*.").unwrap_or(t);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A boxed future returned by [`Resolver::lookup`].
pub type Lookup = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;

/// Resolves the host names of deliveries. The system's resolver by default; a builder can give
/// another (`SchedulerBuilder::resolver`). Whatever it answers passes the guard before any
/// connection is made.
pub trait Resolver: Send + Sync + 'static {
    /// The addresses of `host`.
    fn lookup(&self, host: &str) -> Lookup;
}

/// The operating system's resolver (getaddrinfo, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, host: &str) -> Lookup {
        let host = host.to_owned();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// The resolver the HTTP clients connect through: it looks names up and drops every address the
/// policy refuses; a name left with none fails with [`Blocked`].
#[derive(Clone)]
pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<TargetPolicy>,
    pub(crate) inner: Arc<dyn Resolver>,
}

/// The addresses a guarded lookup allows.
type Allowed = std::result::Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>>;

impl GuardedResolver {
    fn lookup(&self, host: String) -> Pin<Box<dyn Future<Output = Allowed> + Send>> {
        let (policy, inner) = (self.policy.clone(), self.inner.clone());
        Box::pin(async move {
            let found = inner.lookup(&host).await?;
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|ip| match policy.check(&host, *ip) {
                    Ok(()) => true,
                    Err(b) => {
                        refused.get_or_insert(b);
                        false
                    }
                })
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            match (allowed.is_empty(), refused) {
                // Boxed as the error itself (not a box of it), so it can be found by its type.
                (true, Some(blocked)) => {
                    Err(Box::new(blocked) as Box<dyn std::error::Error + Send + Sync>)
                }
                (true, None) => Err(format!("{host} has no address").into()),
                _ => Ok(allowed),
            }
        })
    }
}

/// For direct deliveries (hyper's connector).
impl tower_service::Service<hyper_util::client::legacy::connect::dns::Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::result::Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        let lookup = self.lookup(name.as_str().to_owned());
        Box::pin(async move { lookup.await.map(Vec::into_iter) })
    }
}

/// For deliveries through a proxy (reqwest), where the proxy's name is what is resolved.
impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.lookup(name.as_str().to_owned());
        Box::pin(async move {
            lookup
                .await
                .map(|allowed| Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every range the guard refuses, and public addresses it lets through.
    #[test]
    fn addresses_are_classified_by_range() {
        let refused = [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "this network"),
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "CGNAT"),
            ("100.127.255.254", "CGNAT"),
            ("192.0.0.8", "IETF"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("192.88.99.1", "6to4 relay"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback (IPv4-mapped 127.0.0.1)"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:10.1.2.3", "private (RFC 1918) (IPv4-mapped"),
            (
                "64:ff9b::a9fe:a9fe",
                "link-local (cloud metadata lives here) (NAT64 169.254.169.254)",
            ),
            ("64:ff9b::7f00:1", "loopback (NAT64"),
            ("64:ff9b:1::1", "local-use NAT64"),
            ("2002:c0a8:0101::1", "private (RFC 1918) (6to4 192.168.1.1)"),
            ("2001:0:4136:e378::1", "Teredo"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("100::1", "discard"),
            ("fc00::1", "unique local"),
            ("fd12:3456::1", "unique local"),
            ("fe80::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("::127.0.0.1", "IPv4-compatible"),
        ];
        for (ip, range) in refused {
            let got = refused_range(ip.parse().unwrap());
            assert!(
                got.as_deref().is_some_and(|r| r.contains(range)),
                "{ip}: expected {range}, got {got:?}"
            );
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "169.253.0.1",
            "198.17.0.1",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:800::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
        ] {
            assert_eq!(refused_range(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[test]
    fn allow_lists_let_chosen_networks_and_names_through() {
        let p = TargetPolicy::new(
            false,
            &[
                "10.1.0.0/16".into(),
                "::1".into(),
                "hooks.internal".into(),
                "*.corp.example".into(),
            ],
        )
        .unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(p.check("x", ip("10.1.2.3")).is_ok());
        assert!(p.check("x", ip("10.2.0.1")).is_err());
        assert!(p.check("x", ip("::1")).is_ok());
        assert!(p.check("x", ip("127.0.0.1")).is_err());
        assert!(p.check("hooks.internal", ip("10.9.9.9")).is_ok());
        assert!(p.check("HOOKS.internal.", ip("10.9.9.9")).is_ok());
        assert!(p.check("a.corp.example", ip("192.168.0.1")).is_ok());
        assert!(p.check("corp.example", ip("192.168.0.1")).is_err());
        assert!(p.check("x", ip("8.8.8.8")).is_ok());
        let blocked = p.check("metadata", ip("169.254.169.254")).unwrap_err();
        assert!(blocked.to_string().contains("169.254.169.254"), "{blocked}");
        assert!(
            TargetPolicy::new(true, &[])
                .unwrap()
                .check("x", ip("127.0.0.1"))
                .is_ok()
        );
        for bad in ["10.0.0.0/33", "", "not a host!", "*."] {
            assert!(TargetPolicy::new(false, &[bad.into()]).is_err(), "{bad:?}");
        }
    }

    /// A delivery's stored URL, checked as the request's URI, is judged as the url crate's parse
    /// of it is: an IP-literal host by its address (IPv6 in brackets), a name not at all (the
    /// resolver's answer is checked instead).
    #[test]
    fn a_stored_url_is_checked_by_its_uri_as_by_its_url() {
        let p = TargetPolicy::new(false, &["10.1.0.0/16".into()]).unwrap();
        for (raw, refused) in [
            ("http://127.0.0.1:8080/hook", true),
            ("http://[::1]/hook", true),
            ("http://[::ffff:169.254.169.254]/x", true),
            ("http://10.1.2.3/x", false),
            ("https://8.8.8.8/x", false),
            ("http://localhost/x", false),
            ("https://hooks.example/x?token=1", false),
        ] {
            let url = url::Url::parse(raw).unwrap();
            let uri: http::Uri = url.as_str().parse().unwrap();
            let by_uri = p.check_uri(&uri).map_err(|b| b.to_string());
            assert_eq!(
                by_uri,
                p.check_url(&url).map_err(|b| b.to_string()),
                "{raw}"
            );
            assert_eq!(by_uri.is_err(), refused, "{raw}: {by_uri:?}");
        }
    }
}
