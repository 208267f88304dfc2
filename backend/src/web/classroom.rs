//! Classroom mode: one teacher's laptop, a room of students' browsers on the LAN.
//!
//! A lesson learnt from Jupyter: a server that anyone on the network can reach must know who
//! its owner is. `kettle serve --classroom` makes a random **teacher token** (256 bits from
//! the kernel's `getrandom`, written URL-safe) and prints it once, in the teacher's link;
//! a page opened with it is the teacher's, every other page a student's
//! ([`kettle_shared::Role`]). The token is compared in constant time (`subtle`), so how long
//! a refusal takes says nothing about how much of a guess was right; it is never logged,
//! never printed by `{:?}` ([`TeacherToken`]'s `Debug` hides it), and never put in anything a
//! student's browser receives.
//!
//! Which names may be used to reach the server is decided here too: the machine's own host
//! name (and `NAME.local`, what mDNS answers on most LANs), the address of each of its
//! interfaces, and the names given with `--allow-host`. DNS rebinding needs a name of the
//! attacker's choosing, so admitting the machine's own names keeps that door shut.

use std::fmt;
use std::net::IpAddr;

use axum::http::{header, HeaderMap};
use base64::Engine as _;
use kettle_shared::Role;
use subtle::ConstantTimeEq as _;

/// Random bytes in a token: 256 bits, far beyond guessing over a network.
const TOKEN_BYTES: usize = 32;

/// The teacher's secret. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct TeacherToken(String);

impl fmt::Debug for TeacherToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TeacherToken(hidden)")
    }
}

impl TeacherToken {
    /// A fresh token from the kernel's random source, base64url without padding (43 characters
    /// of `A-Z a-z 0-9 - _`: nothing in it needs escaping in a URL).
    pub fn generate() -> anyhow::Result<TeacherToken> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes)
            .map_err(|e| anyhow::anyhow!("no random bytes for the teacher token: {e}"))?;
        Ok(TeacherToken(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Whether `given` is this token. Constant time in the token's contents (a wrong length
    /// answers at once: the length is no secret, every token has the same).
    pub fn matches(&self, given: &str) -> bool {
        self.0.as_bytes().ct_eq(given.as_bytes()).into()
    }

    /// The token itself, for the teacher's link.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Who a request is: `Teacher` without classroom mode or with the right token; and whether a
/// token was given that is not this server's (so the page can say so).
pub(super) fn role_of(token: Option<&TeacherToken>, given: Option<&str>) -> (Role, bool) {
    match (token, given) {
        (None, _) => (Role::Teacher, false),
        (Some(t), Some(g)) if t.matches(g) => (Role::Teacher, false),
        (Some(_), Some(g)) => (Role::Student, !g.is_empty()),
        (Some(_), None) => (Role::Student, false),
    }
}

/// The token of `Authorization: Bearer <token>`, if the header says that.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The machine's own names: its host name, the part before the first dot, and `NAME.local`
/// (mDNS), lower-cased, without repeats. Empty if the kernel will not say.
pub fn own_names() -> Vec<String> {
    let name = nix::unistd::gethostname()
        .ok()
        .and_then(|n| n.into_string().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    names_of(&name)
}

fn names_of(hostname: &str) -> Vec<String> {
    let hostname = hostname.trim().trim_end_matches('.');
    if hostname.is_empty() || hostname == "localhost" {
        return Vec::new();
    }
    let short = hostname.split('.').next().unwrap_or(hostname);
    let mut names: Vec<String> = Vec::new();
    for name in [hostname.to_owned(), short.to_owned(), format!("{short}.local")] {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// One address of one of the machine's interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanAddress {
    /// The interface (`wlan0`, `eth0`).
    pub interface: String,
    /// Its address.
    pub ip: IpAddr,
}

/// Every non-loopback address of the machine's interfaces (`getifaddrs`), without IPv6
/// link-local ones (a browser needs a zone to reach those), in the kernel's order.
pub fn lan_addresses() -> Vec<LanAddress> {
    let Ok(list) = nix::ifaddrs::getifaddrs() else { return Vec::new() };
    let mut found = Vec::new();
    for ifa in list {
        let Some(addr) = ifa.address else { continue };
        let ip = if let Some(v4) = addr.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            IpAddr::V6(v6.ip())
        } else {
            continue;
        };
        let link_local_v6 = matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
        if ip.is_loopback() || ip.is_unspecified() || link_local_v6 {
            continue;
        }
        let entry = LanAddress { interface: ifa.interface_name.clone(), ip };
        if !found.contains(&entry) {
            found.push(entry);
        }
    }
    found
}

/// `ip:port`, bracketed for IPv6, as a `Host` header or a URL writes it.
pub(super) fn host_port(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

/// The `Host` values that name this server under `names` and `addresses` (each with the
/// port; also without it on port 80, where browsers leave the port out).
pub(super) fn hosts_for(names: &[String], addresses: &[IpAddr], port: u16) -> Vec<String> {
    let mut hosts = Vec::new();
    for name in names {
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        // `--allow-host name:port` names its own port.
        if name.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
            hosts.push(name);
            continue;
        }
        hosts.push(format!("{name}:{port}"));
        if port == 80 {
            hosts.push(name);
        }
    }
    for ip in addresses {
        hosts.push(host_port(*ip, port));
        if port == 80 {
            hosts.push(host_port(*ip, port).trim_end_matches(":80").to_owned());
        }
    }
    hosts
}

/// What students type: each LAN address (when listening on every interface; otherwise the
/// one bound) and each of the machine's names, as `http://…:port`.
pub fn student_urls(
    bind: IpAddr,
    port: u16,
    names: &[String],
    addresses: &[LanAddress],
) -> Vec<String> {
    let mut urls = Vec::new();
    if bind.is_unspecified() {
        // An IPv4 wildcard listens on IPv4 only; `::` on both (Linux's default dual stack).
        let reachable = addresses.iter().filter(|a| bind.is_ipv6() || a.ip.is_ipv4());
        urls.extend(reachable.map(|a| format!("http://{}", host_port(a.ip, port))));
        urls.extend(names.iter().map(|n| format!("http://{n}:{port}")));
    } else {
        urls.push(format!("http://{}", host_port(bind, port)));
    }
    urls
}

/// The teacher's link: on this machine, so through loopback when the server listens there
/// (every interface, or loopback), otherwise through the address bound.
pub fn teacher_link(bind: IpAddr, port: u16, token: &TeacherToken) -> String {
    let host = if bind.is_unspecified() || bind.is_loopback() {
        host_port(IpAddr::from([127, 0, 0, 1]), port)
    } else {
        host_port(bind, port)
    };
    format!("http://{host}/?token={}", token.expose())
}

/// Everything classroom mode printed at start: the URLs students type and the teacher's link.
#[derive(Clone)]
pub struct Classroom {
    /// The token.
    pub token: TeacherToken,
    /// What students type.
    pub student_urls: Vec<String>,
    /// `http://<host>:<port>/?token=<token>`.
    pub teacher_link: String,
}

impl fmt::Debug for Classroom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Classroom")
            .field("student_urls", &self.student_urls)
            .field("teacher_link", &"hidden")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_long_url_safe_and_fresh_each_time() {
        let a = TeacherToken::generate().unwrap();
        let b = TeacherToken::generate().unwrap();
        assert_ne!(a, b);
        assert!(a.expose().len() >= 22, "at least 128 bits");
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(format!("{a:?}"), "TeacherToken(hidden)");
    }

    #[test]
    fn the_token_matches_only_itself_compared_in_constant_time() {
        let t = TeacherToken("abcdefgh".into());
        assert!(t.matches("abcdefgh"));
        for wrong in ["abcdefgX", "Xbcdefgh", "abcdefg", "abcdefghi", "", "ABCDEFGH"] {
            assert!(!t.matches(wrong), "{wrong}");
        }
        // `ct_eq` is subtle's constant-time equality: the same answer as `==`, without an
        // early return at the first differing byte.
        assert!(bool::from(b"abc".ct_eq(b"abc")));
        assert!(!bool::from(b"abc".ct_eq(b"abd")));
    }

    #[test]
    fn without_classroom_everyone_is_teacher_and_with_it_only_the_token_is() {
        let t = TeacherToken("secret".into());
        assert_eq!(role_of(None, None), (Role::Teacher, false));
        assert_eq!(role_of(None, Some("x")), (Role::Teacher, false));
        assert_eq!(role_of(Some(&t), Some("secret")), (Role::Teacher, false));
        assert_eq!(role_of(Some(&t), None), (Role::Student, false));
        assert_eq!(role_of(Some(&t), Some("")), (Role::Student, false));
        assert_eq!(role_of(Some(&t), Some("old")), (Role::Student, true), "a stale token");
    }

    #[test]
    fn a_bearer_token_is_read_from_authorization() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "bearer  abc ".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn the_machines_names_include_the_short_name_and_mdns() {
        assert_eq!(names_of("my-laptop"), ["my-laptop", "my-laptop.local"]);
        assert_eq!(names_of("lab3.school.example."), ["lab3.school.example", "lab3", "lab3.local"]);
        assert!(names_of("localhost").is_empty());
        assert!(names_of("").is_empty());
    }

    #[test]
    fn hosts_carry_the_port_and_drop_it_only_on_port_80() {
        let names = vec!["My-Laptop".to_owned(), "kettle.example:8443".to_owned()];
        let ips = [IpAddr::from([192, 168, 1, 20]), "fd00::5".parse().unwrap()];
        let hosts = hosts_for(&names, &ips, 7878);
        assert_eq!(
            hosts,
            ["my-laptop:7878", "kettle.example:8443", "192.168.1.20:7878", "[fd00::5]:7878"]
        );
        let on_80 = hosts_for(&names[..1], &ips[..1], 80);
        assert_eq!(on_80, ["my-laptop:80", "my-laptop", "192.168.1.20:80", "192.168.1.20"]);
    }

    #[test]
    fn students_are_told_every_reachable_address_and_name() {
        let lan = |i: &str, ip: &str| LanAddress { interface: i.into(), ip: ip.parse().unwrap() };
        let addrs = [lan("wlan0", "192.168.1.20"), lan("wlan0", "fd00::5")];
        let names = vec!["my-laptop".to_owned(), "my-laptop.local".to_owned()];
        let any4 = IpAddr::from([0, 0, 0, 0]);
        assert_eq!(
            student_urls(any4, 7878, &names, &addrs),
            ["http://192.168.1.20:7878", "http://my-laptop:7878", "http://my-laptop.local:7878"]
        );
        let any6: IpAddr = "::".parse().unwrap();
        assert!(student_urls(any6, 7878, &names, &addrs).contains(&"http://[fd00::5]:7878".into()));
        let one = IpAddr::from([192, 168, 1, 20]);
        assert_eq!(student_urls(one, 80, &names, &addrs), ["http://192.168.1.20:80"]);
    }

    #[test]
    fn the_teacher_link_is_this_machine_with_the_token() {
        let t = TeacherToken("tok_en-1".into());
        assert_eq!(
            teacher_link(IpAddr::from([0, 0, 0, 0]), 7878, &t),
            "http://127.0.0.1:7878/?token=tok_en-1"
        );
        assert_eq!(
            teacher_link(IpAddr::from([192, 168, 1, 20]), 7878, &t),
            "http://192.168.1.20:7878/?token=tok_en-1"
        );
    }
}
