//! Where a server is and how to reach it securely: `host:port` endpoints and TLS files. Values only; the
//! connection options are built from them in `connect`.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// --ssl and friends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Accept any server certificate (--ssl-allow-insecure).
    pub allow_insecure: bool,
}

/// Parses `host:port` (port defaults to 3306).
pub fn parse_endpoint(s: &str) -> Result<Endpoint, String> {
    let s = s.trim();
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => (h, p.parse::<u16>().map_err(|_| format!("bad port in {s:?}"))?),
        _ => (s, 3306),
    };
    if host.is_empty() {
        return Err("empty host".into());
    }
    Ok(Endpoint { host: host.to_string(), port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(parse_endpoint("db1:3307").unwrap(), Endpoint { host: "db1".into(), port: 3307 });
        assert_eq!(parse_endpoint("db1").unwrap().port, 3306);
        assert!(parse_endpoint("db1:x").is_err());
    }
}
