//! Access log formats: AWS's `$context` variable templates, compiled once
//! into literal and variable parts, plus the JSON and CLF presets.

/// The `$context` variables an access log line can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    RequestId,
    SourceIp,
    Caller,
    User,
    RequestTime,
    RequestTimeEpoch,
    HttpMethod,
    ResourcePath,
    Path,
    Status,
    Protocol,
    ResponseLength,
    ResponseLatency,
    IntegrationLatency,
    IntegrationStatus,
    ApiKeyId,
    Stage,
    ApiId,
    ErrorMessage,
}

const VARS: [(&str, Var); 19] = [
    ("requestId", Var::RequestId),
    ("identity.sourceIp", Var::SourceIp),
    ("identity.caller", Var::Caller),
    ("identity.user", Var::User),
    ("requestTime", Var::RequestTime),
    ("requestTimeEpoch", Var::RequestTimeEpoch),
    ("httpMethod", Var::HttpMethod),
    ("resourcePath", Var::ResourcePath),
    ("path", Var::Path),
    ("status", Var::Status),
    ("protocol", Var::Protocol),
    ("responseLength", Var::ResponseLength),
    ("responseLatency", Var::ResponseLatency),
    ("integrationLatency", Var::IntegrationLatency),
    ("integrationStatus", Var::IntegrationStatus),
    ("identity.apiKeyId", Var::ApiKeyId),
    ("stage", Var::Stage),
    ("apiId", Var::ApiId),
    ("error.message", Var::ErrorMessage),
];

/// The preset AWS's console calls CLF.
pub const CLF: &str = "$context.identity.sourceIp $context.identity.caller \
$context.identity.user [$context.requestTime] \"$context.httpMethod $context.resourcePath \
$context.protocol\" $context.status $context.responseLength $context.requestId";

/// The JSON preset: every variable, one object per line.
const JSON_FIELDS: [(&str, Var); 16] = [
    ("requestId", Var::RequestId),
    ("ip", Var::SourceIp),
    ("requestTime", Var::RequestTime),
    ("httpMethod", Var::HttpMethod),
    ("resourcePath", Var::ResourcePath),
    ("path", Var::Path),
    ("status", Var::Status),
    ("protocol", Var::Protocol),
    ("responseLength", Var::ResponseLength),
    ("responseLatency", Var::ResponseLatency),
    ("integrationLatency", Var::IntegrationLatency),
    ("integrationStatus", Var::IntegrationStatus),
    ("apiKeyId", Var::ApiKeyId),
    ("stage", Var::Stage),
    ("apiId", Var::ApiId),
    ("errorMessage", Var::ErrorMessage),
];

impl Var {
    /// Values the gateway makes itself (numbers, times, addresses, methods,
    /// protocol): never a quote, backslash or control byte to escape.
    fn is_plain(self) -> bool {
        matches!(
            self,
            Var::SourceIp
                | Var::Caller
                | Var::User
                | Var::RequestTime
                | Var::RequestTimeEpoch
                | Var::HttpMethod
                | Var::Status
                | Var::Protocol
                | Var::ResponseLength
                | Var::ResponseLatency
                | Var::IntegrationLatency
                | Var::IntegrationStatus
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(Box<[u8]>),
    Var(Var),
}

/// A compiled format; `json` escapes values as JSON string contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    parts: Vec<Part>,
    json: bool,
}

/// One exchange's values. Absent values are written `-`, as AWS does.
pub struct Fields<'a> {
    pub request_id: &'a [u8],
    pub source_ip: &'a str,
    /// `25/Nov/2026:12:03:21 +0000`.
    pub request_time: &'a [u8],
    pub request_time_epoch_ms: u64,
    pub http_method: &'a str,
    pub resource_path: &'a str,
    pub path: &'a [u8],
    pub status: u16,
    pub protocol: &'a str,
    pub response_length: u64,
    pub response_latency_ms: u64,
    pub integration_latency_ms: Option<u64>,
    pub integration_status: Option<u16>,
    pub api_key_id: Option<&'a str>,
    pub stage: &'a str,
    pub api_id: &'a str,
    pub error_message: Option<&'a str>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown access log variable `$context.{0}` (known: {known})", known = known())]
pub struct UnknownVariable(pub String);

fn known() -> String {
    VARS.iter()
        .map(|(n, _)| format!("$context.{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Format {
    /// `json`, `clf`, or a template of `$context` variables.
    pub fn compile(spec: &str) -> Result<Format, UnknownVariable> {
        match spec {
            "json" => Ok(Format::json()),
            "clf" => Format::template(CLF),
            t => Format::template(t),
        }
    }

    fn json() -> Format {
        let mut parts = Vec::new();
        for (i, (name, var)) in JSON_FIELDS.iter().enumerate() {
            let open = if i == 0 { "{\"" } else { "\",\"" };
            parts.push(Part::Text(format!("{open}{name}\":\"").into_bytes().into()));
            parts.push(Part::Var(*var));
        }
        parts.push(Part::Text(b"\"}".as_slice().into()));
        Format { parts, json: true }
    }

    fn template(t: &str) -> Result<Format, UnknownVariable> {
        const MARK: &str = "$context.";
        let mut parts = Vec::new();
        let mut rest = t;
        while let Some(at) = rest.find(MARK) {
            if at > 0 {
                parts.push(Part::Text(rest.as_bytes()[..at].into()));
            }
            let after = &rest[at + MARK.len()..];
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                .unwrap_or(after.len());
            // A sentence's full stop after a variable is text, not name.
            let name = after[..len].trim_end_matches('.');
            let var = VARS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v)
                .ok_or_else(|| UnknownVariable(name.to_string()))?;
            parts.push(Part::Var(var));
            rest = &after[name.len()..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.as_bytes().into()));
        }
        Ok(Format { parts, json: false })
    }

    /// Appends one line (with its newline) to `out`.
    pub fn write(&self, out: &mut Vec<u8>, f: &Fields<'_>) {
        for p in &self.parts {
            match p {
                Part::Text(t) => out.extend_from_slice(t),
                Part::Var(v) => self.value(out, *v, f),
            }
        }
        out.push(b'\n');
    }

    fn value(&self, out: &mut Vec<u8>, v: Var, f: &Fields<'_>) {
        let mut n = itoa::Buffer::new();
        let bytes: &[u8] = match v {
            Var::RequestId => f.request_id,
            Var::SourceIp => f.source_ip.as_bytes(),
            Var::Caller | Var::User => b"-",
            Var::RequestTime => f.request_time,
            Var::RequestTimeEpoch => n.format(f.request_time_epoch_ms).as_bytes(),
            Var::HttpMethod => f.http_method.as_bytes(),
            Var::ResourcePath => f.resource_path.as_bytes(),
            Var::Path => f.path,
            Var::Status => n.format(f.status).as_bytes(),
            Var::Protocol => f.protocol.as_bytes(),
            Var::ResponseLength => n.format(f.response_length).as_bytes(),
            Var::ResponseLatency => n.format(f.response_latency_ms).as_bytes(),
            Var::IntegrationLatency => match f.integration_latency_ms {
                Some(ms) => n.format(ms).as_bytes(),
                None => b"-",
            },
            Var::IntegrationStatus => match f.integration_status {
                Some(s) => n.format(s).as_bytes(),
                None => b"-",
            },
            Var::ApiKeyId => f.api_key_id.map_or(b"-".as_slice(), str::as_bytes),
            Var::Stage => f.stage.as_bytes(),
            Var::ApiId => f.api_id.as_bytes(),
            Var::ErrorMessage => f.error_message.map_or(b"-".as_slice(), str::as_bytes),
        };
        let bytes = if bytes.is_empty() { b"-" } else { bytes };
        if self.json && !v.is_plain() {
            escape_json(out, bytes);
        } else if self.json {
            out.extend_from_slice(bytes);
        } else {
            // One request, one line: a value never breaks it.
            let at = out.len();
            out.extend_from_slice(bytes);
            for b in &mut out[at..] {
                if *b == b'\n' || *b == b'\r' {
                    *b = b' ';
                }
            }
        }
    }
}

const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// JSON string contents: quotes, backslashes and control bytes escaped.
fn escape_json(out: &mut Vec<u8>, bytes: &[u8]) {
    if !bytes.iter().any(|&b| NEEDS_ESCAPE[usize::from(b)]) {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields<'static> {
        Fields {
            request_id: b"rid",
            source_ip: "127.0.0.1",
            request_time: b"25/Nov/2026:12:03:21 +0000",
            request_time_epoch_ms: 1_795_000_000_123,
            http_method: "GET",
            resource_path: "/items/{id}",
            path: b"/prod/items/\"7\"",
            status: 200,
            protocol: "HTTP/1.1",
            response_length: 42,
            response_latency_ms: 3,
            integration_latency_ms: None,
            integration_status: Some(200),
            api_key_id: None,
            stage: "prod",
            api_id: "abc123",
            error_message: None,
        }
    }

    #[test]
    fn template_substitutes_and_writes_dash_for_absent_values() {
        let f = Format::compile("$context.requestId $context.status. key=$context.identity.apiKeyId lat=$context.integrationLatency")
            .unwrap();
        let mut out = Vec::new();
        f.write(&mut out, &fields());
        assert_eq!(out, b"rid 200. key=- lat=-\n");
    }

    #[test]
    fn clf_preset() {
        let mut out = Vec::new();
        Format::compile("clf").unwrap().write(&mut out, &fields());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "127.0.0.1 - - [25/Nov/2026:12:03:21 +0000] \"GET /items/{id} HTTP/1.1\" 200 42 rid\n"
        );
    }

    #[test]
    fn json_preset_is_valid_json_with_escaped_values() {
        let mut out = Vec::new();
        Format::compile("json").unwrap().write(&mut out, &fields());
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["path"], "/prod/items/\"7\"");
        assert_eq!(v["status"], "200");
        assert_eq!(v["apiKeyId"], "-");
        assert_eq!(v["integrationStatus"], "200");
    }

    #[test]
    fn unknown_variables_are_refused() {
        let e = Format::compile("$context.requestId $context.nope").unwrap_err();
        assert_eq!(e.0, "nope");
        assert!(e.to_string().contains("$context.identity.sourceIp"));
    }
}
