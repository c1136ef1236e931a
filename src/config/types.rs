//! The values a setting can take, each parsed and printed in one place: passwords that never print, load
//! thresholds, the cut-over kind and throttle URLs. (Endpoints and TLS files are `mysql::endpoint`'s.)

use std::fmt;

/// A password: never printed by `Debug` or `Display`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"<redacted>\"" })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutOverKind {
    /// One RENAME swaps both tables: the table name always exists.
    Atomic,
    /// Two RENAMEs under the same lock (gh-ost's two-step): for servers or tools that need it.
    TwoStep,
}

/// Status-variable thresholds such as `Threads_running=25,Threads_connected=500` (--max-load, --critical-load).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadLimits(pub Vec<(String, f64)>);

impl LoadLimits {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected status_variable=threshold, e.g. Threads_running=25"))?;
            let v: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{part:?}: threshold is not a number, e.g. Threads_running=25"))?;
            let name = name.trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("{part:?}: bad status variable name"));
            }
            out.push((name.to_string(), v));
        }
        Ok(LoadLimits(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for LoadLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(n, v)| format!("{n}={v}")).collect();
        f.write_str(&parts.join(","))
    }
}

/// `http://host[:port]/path` -> (host, port, path). HTTPS is refused: wraith carries no TLS HTTP client.
pub fn parse_http_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: only http:// URLs are supported for --throttle-http"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("{url:?}: bad port"))?),
        None => (hostport, 80),
    };
    if host.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    Ok((host.to_string(), port, path.to_string()))
}

/// --metrics-address: `HOST:PORT`, `:PORT` or `PORT`; without a host it is loopback (127.0.0.1), and
/// `localhost` is 127.0.0.1 too. The host is an IP address (`0.0.0.0` for every interface, `[::1]`), so
/// the address served never depends on name resolution.
pub fn parse_metrics_address(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    let s = s.trim();
    let bad = |why: &str| {
        format!("--metrics-address={s:?}: {why} (give HOST:PORT, :PORT or PORT, e.g. :9187 or 0.0.0.0:9187)")
    };
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, p),
        None => ("", s),
    };
    let port: u16 = port.parse().map_err(|_| bad("the port is not a number from 0 to 65535"))?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let ip: IpAddr = match host {
        "" | "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => h.parse().map_err(|_| bad("the host must be an IP address"))?,
    };
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_addresses() {
        let ok = |s: &str| parse_metrics_address(s).unwrap().to_string();
        assert_eq!(ok(":9187"), "127.0.0.1:9187");
        assert_eq!(ok("9187"), "127.0.0.1:9187");
        assert_eq!(ok("localhost:9187"), "127.0.0.1:9187");
        assert_eq!(ok("0.0.0.0:9187"), "0.0.0.0:9187");
        assert_eq!(ok("[::1]:9187"), "[::1]:9187");
        assert_eq!(ok(" 10.1.2.3:1 "), "10.1.2.3:1");
        for bad in ["", ":", "host.example:9187", "1.2.3.4", ":99999", "::1:9187x"] {
            let e = parse_metrics_address(bad).unwrap_err();
            assert!(e.contains("--metrics-address") && e.contains("HOST:PORT"), "{bad}: {e}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        assert!(!format!("{:?}", Secret::new("hunter2")).contains("hunter2"));
    }

    #[test]
    fn http_urls() {
        assert_eq!(parse_http_url("http://h:8080/x?y").unwrap(), ("h".into(), 8080, "/x?y".into()));
        assert_eq!(parse_http_url("http://h").unwrap(), ("h".into(), 80, "/".into()));
        assert!(parse_http_url("https://h").is_err());
    }

    #[test]
    fn load_limits() {
        let l = LoadLimits::parse("Threads_running=25, Threads_connected=500.5").unwrap();
        assert_eq!(l.0, vec![("Threads_running".into(), 25.0), ("Threads_connected".into(), 500.5)]);
        assert_eq!(l.to_string(), "Threads_running=25,Threads_connected=500.5");
        assert!(LoadLimits::parse("Threads_running").is_err());
        assert!(LoadLimits::parse("x=y").is_err());
        assert!(LoadLimits::parse("").unwrap().is_empty());
    }
}
