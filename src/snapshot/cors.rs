//! CORS compiled for an API: which origins may call it and the header
//! lines its answers carry, worked out once per snapshot.

use crate::config::CorsConfig;

pub struct Cors {
    any_origin: bool,
    /// Lower-case exact origins.
    origins: Vec<Box<[u8]>>,
    credentials: bool,
    /// Preflight lines after `access-control-allow-origin`, each ending in CRLF.
    preflight: Vec<u8>,
    /// Lines for an actual answer (credentials, exposed headers).
    actual: Vec<u8>,
}

impl Cors {
    pub fn compile(c: &CorsConfig) -> Cors {
        let line = |out: &mut Vec<u8>, name: &str, values: &[String]| {
            if !values.is_empty() {
                out.extend_from_slice(format!("{name}: {}\r\n", values.join(",")).as_bytes());
            }
        };
        let mut preflight = Vec::new();
        line(
            &mut preflight,
            "access-control-allow-methods",
            &c.allow_methods,
        );
        line(
            &mut preflight,
            "access-control-allow-headers",
            &c.allow_headers,
        );
        if let Some(s) = c.max_age {
            preflight.extend_from_slice(format!("access-control-max-age: {s}\r\n").as_bytes());
        }
        let mut actual = Vec::new();
        if c.allow_credentials {
            actual.extend_from_slice(b"access-control-allow-credentials: true\r\n");
            preflight.extend_from_slice(b"access-control-allow-credentials: true\r\n");
        }
        line(
            &mut actual,
            "access-control-expose-headers",
            &c.expose_headers,
        );
        Cors {
            any_origin: c.allow_origins.iter().any(|o| o == "*"),
            origins: c
                .allow_origins
                .iter()
                .filter(|o| *o != "*")
                .map(|o| {
                    o.trim_end_matches('/')
                        .to_ascii_lowercase()
                        .into_bytes()
                        .into()
                })
                .collect(),
            credentials: c.allow_credentials,
            preflight,
            actual,
        }
    }

    /// Whether `origin` may call the API.
    pub fn allows(&self, origin: &[u8]) -> bool {
        self.any_origin || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// The header lines for an answer to `origin` (allowed), preflight or not.
    pub fn write(&self, out: &mut Vec<u8>, origin: &[u8], preflight: bool) {
        // `*` only when credentials are off; else the caller's own origin,
        // which varies the answer by origin.
        let star = self.any_origin && !self.credentials;
        out.extend_from_slice(b"access-control-allow-origin: ");
        out.extend_from_slice(if star { b"*" } else { origin });
        out.extend_from_slice(b"\r\n");
        if !star {
            out.extend_from_slice(b"vary: origin\r\n");
        }
        out.extend_from_slice(if preflight {
            &self.preflight
        } else {
            &self.actual
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_header_lines() {
        let c = Cors::compile(&CorsConfig {
            allow_origins: vec!["https://App.example".into()],
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_headers: vec!["content-type".into()],
            expose_headers: vec!["x-request-id".into()],
            max_age: Some(600),
            allow_credentials: true,
        });
        assert!(c.allows(b"https://app.example"));
        assert!(!c.allows(b"https://evil.example"));
        let mut out = Vec::new();
        c.write(&mut out, b"https://app.example", true);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "access-control-allow-origin: https://app.example\r\nvary: origin\r\n\
             access-control-allow-methods: GET,POST\r\naccess-control-allow-headers: content-type\r\n\
             access-control-max-age: 600\r\naccess-control-allow-credentials: true\r\n"
        );
        let any = Cors::compile(&CorsConfig {
            allow_origins: vec!["*".into()],
            ..CorsConfig::default()
        });
        let mut out = Vec::new();
        any.write(&mut out, b"https://x.example", false);
        assert_eq!(out, b"access-control-allow-origin: *\r\n");
    }
}
