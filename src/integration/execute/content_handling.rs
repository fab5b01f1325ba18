//! `contentHandling` and the API's `binaryMediaTypes` for non-proxy
//! integrations, as AWS's "Content type conversions in API Gateway" tables
//! say: a payload is binary when its content type (the request's
//! `Content-Type`, the integration response's) matches `binaryMediaTypes`;
//! CONVERT_TO_TEXT Base64-encodes a binary payload, CONVERT_TO_BINARY
//! Base64-decodes a text one ("if the conversion fails, it returns a 500
//! response indicating an API configuration error"); without
//! `contentHandling` a request passes as it is, and a response is made
//! the kind the first `Accept` media type names once `binaryMediaTypes` is
//! set. Mapping templates work on text: a binary payload converted to text
//! is `$input.body` as Base64, one that stays binary passes through
//! untouched ("for a binary payload, API Gateway simply passes through the
//! message as-is"), and a text payload converted to binary is decoded after
//! its template ran, so a template can pick the Base64 field to decode.

use std::borrow::Cow;

use base64::Engine;
use thiserror::Error;

use super::request::{self, Chosen, Failed};
use super::response::{self, Answer, Reply};
use crate::config::ContentHandling;
use crate::integration::lambda::event::is_binary;
use crate::snapshot::Execution;
use crate::vtl::{Bindings, Limits, Overrides};

#[derive(Debug, Error, PartialEq, Eq)]
#[error("contentHandling CONVERT_TO_BINARY: the payload is not Base64 ({0})")]
pub struct NotBase64(String);

fn encode(raw: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// Standard Base64, padded or not, surrounding whitespace ignored.
fn decode(text: &str) -> Result<Vec<u8>, NotBase64> {
    let text = text.trim_ascii();
    let t = text.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(t)
        .map_err(|e| NotBase64(e.to_string()))
}

fn binary(types: &[String], content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| is_binary(types, ct.as_bytes()))
}

/// The method request's payload on its way to the integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inbound {
    /// Its `Content-Type` matches `binaryMediaTypes`.
    binary: bool,
    handling: Option<ContentHandling>,
}

impl Inbound {
    pub fn new(
        handling: Option<ContentHandling>,
        binary_media_types: &[String],
        content_type: Option<&str>,
    ) -> Inbound {
        Inbound {
            binary: binary(binary_media_types, content_type),
            handling,
        }
    }

    fn becomes_text(&self) -> bool {
        self.binary && self.handling == Some(ContentHandling::ConvertToText)
    }

    fn becomes_binary(&self) -> bool {
        !self.binary && self.handling == Some(ContentHandling::ConvertToBinary)
    }

    /// `$input.body` when it is not the body as text: the Base64 of a
    /// binary body converted to text.
    pub fn rebound(&self, raw: &[u8]) -> Option<String> {
        self.becomes_text().then(|| encode(raw))
    }

    /// The request template for the payload, as `request::choose`; a
    /// binary payload that stays binary takes none and passes through
    /// (unless the passthrough behaviour refuses it).
    pub fn choose<'e>(&self, e: &'e Execution, content_type: Option<&str>) -> Chosen<'e> {
        match request::choose(e, content_type) {
            Chosen::Template(_) if self.binary && !self.becomes_text() => Chosen::Passthrough,
            other => other,
        }
    }

    /// The integration request's payload: the template's output, or the
    /// body as it came, converted as `contentHandling` says.
    pub fn payload(&self, rendered: Option<String>, raw: Vec<u8>) -> Result<Vec<u8>, NotBase64> {
        match rendered {
            Some(text) if self.becomes_binary() => decode(&text),
            Some(text) => Ok(text.into_bytes()),
            None if self.becomes_binary() => decode(&String::from_utf8_lossy(&raw)),
            None if self.becomes_text() => Ok(encode(&raw).into_bytes()),
            None => Ok(raw),
        }
    }
}

/// The integration response's payload on its way to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outbound {
    /// Its `Content-Type` matches `binaryMediaTypes`.
    binary: bool,
    /// What the method response must be: binary (`true`), text, or
    /// whatever the payload is (`None`: no `contentHandling` and no
    /// `binaryMediaTypes`).
    want_binary: Option<bool>,
}

impl Outbound {
    /// No conversion: what every integration response without
    /// `contentHandling` of an API without `binaryMediaTypes` gets.
    pub const NONE: Outbound = Outbound {
        binary: false,
        want_binary: None,
    };

    pub fn new(
        handling: Option<ContentHandling>,
        binary_media_types: &[String],
        content_type: Option<&str>,
        accept: Option<&str>,
    ) -> Outbound {
        // "API Gateway only honors the first Accept media type".
        let first = accept.and_then(|a| a.split(',').next());
        let want_binary = match handling {
            Some(ContentHandling::ConvertToBinary) => Some(true),
            Some(ContentHandling::ConvertToText) => Some(false),
            None if binary_media_types.is_empty() => None,
            None => Some(binary(binary_media_types, first)),
        };
        Outbound {
            binary: binary(binary_media_types, content_type),
            want_binary,
        }
    }

    /// For the integration response `selector` selects; `Outbound::NONE`
    /// without selecting when nothing can convert.
    pub fn select(
        e: &Execution,
        selector: &str,
        binary_media_types: &[String],
        content_type: Option<&str>,
        accept: Option<&str>,
    ) -> Outbound {
        let converts = |r: &crate::snapshot::IntegrationResponse| r.content_handling.is_some();
        if binary_media_types.is_empty()
            && !e.responses.iter().chain(&e.default_response).any(converts)
        {
            return Outbound::NONE;
        }
        let handling = e.select(selector).and_then(|r| r.content_handling);
        Outbound::new(handling, binary_media_types, content_type, accept)
    }

    /// A binary payload that stays binary: written as it came, no
    /// response template run.
    pub fn untouched(&self) -> bool {
        self.binary && self.want_binary != Some(false)
    }

    /// The payload as text, for selection, mappings and templates: Base64
    /// of a binary payload converted to text.
    pub fn text<'r>(&self, raw: &'r [u8]) -> Cow<'r, str> {
        if self.binary && self.want_binary == Some(false) {
            Cow::Owned(encode(raw))
        } else {
            String::from_utf8_lossy(raw)
        }
    }

    /// The method response's body from the text its integration response
    /// made: Base64-decoded when a text payload must be binary.
    pub fn body(&self, text: String) -> Result<Vec<u8>, NotBase64> {
        if !self.binary && self.want_binary == Some(true) {
            decode(&text)
        } else {
            Ok(text.into_bytes())
        }
    }
}

/// The integration request's payload (the request template's output for
/// the request's content type, or the body passed through, converted as
/// `contentHandling` says) and what the template overrode; `raw`: the body.
pub(super) fn integration_request(
    e: &Execution,
    b: &mut Bindings,
    raw: Vec<u8>,
    binary_media_types: &[String],
    limits: &Limits,
) -> Result<(Vec<u8>, Overrides), Failed> {
    let content_type = response::header(&b.header, "content-type").map(str::to_string);
    let inbound = Inbound::new(
        e.content_handling,
        binary_media_types,
        content_type.as_deref(),
    );
    if let Some(text) = inbound.rebound(&raw) {
        b.body = text;
    }
    let rendered = match inbound.choose(e, content_type.as_deref()) {
        Chosen::Unsupported => return Err(Failed::Unsupported),
        Chosen::Passthrough => None,
        Chosen::Template(t) => Some(
            t.render(b, limits)
                .map_err(|err| Failed::Configuration(format!("request template: {err}")))?,
        ),
    };
    let (text, overrides) = match rendered {
        Some(r) => (Some(r.body), r.overrides),
        None => (None, Overrides::default()),
    };
    let payload = inbound
        .payload(text, raw)
        .map_err(|err| Failed::Configuration(err.to_string()))?;
    Ok((payload, overrides))
}

/// What the integration answered, its body as bytes.
pub struct Raw<'a> {
    /// As `response::Reply`'s.
    pub selector: &'a str,
    pub status: u16,
    /// Names lowercase.
    pub headers: &'a [(String, String)],
    /// The payload's type, for `binaryMediaTypes`.
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// The method response (`response::answer`) and its body, converted as
/// the selected integration response's `contentHandling` says; a failed
/// conversion is a configuration error, as AWS's.
pub(super) fn answer(
    e: &Execution,
    raw: &Raw<'_>,
    accept: Option<&str>,
    binary_media_types: &[String],
    b: &mut Bindings,
    limits: &Limits,
) -> Result<(Answer, Vec<u8>), String> {
    let out = Outbound::select(
        e,
        raw.selector,
        binary_media_types,
        raw.content_type,
        accept,
    );
    let mut reply = Reply {
        selector: raw.selector,
        status: raw.status,
        headers: raw.headers,
        body: "",
    };
    if out.untouched() {
        let a = response::untemplated(e, &reply).map_err(|err| err.to_string())?;
        return Ok((a, raw.body.to_vec()));
    }
    let text = out.text(raw.body);
    reply.body = &text;
    let mut a = response::answer(e, &reply, accept, b, limits).map_err(|err| err.to_string())?;
    let body = out
        .body(std::mem::take(&mut a.body))
        .map_err(|err| err.to_string())?;
    Ok((a, body))
}

#[cfg(test)]
mod tests {
    //! Each row of the two tables of "Content type conversions in API
    //! Gateway" (developer guide, api-gateway-payload-encodings-workflow).
    use super::*;

    const BIN: &[u8] = b"\x89PNG\r\n\x1a\n\xff\x00";
    const B64: &str = "iVBORw0KGgr/AA==";
    const TO_BINARY: Option<ContentHandling> = Some(ContentHandling::ConvertToBinary);
    const TO_TEXT: Option<ContentHandling> = Some(ContentHandling::ConvertToText);

    fn types() -> Vec<String> {
        vec!["image/png".into()]
    }

    fn inbound(h: Option<ContentHandling>, t: &[String], ct: &str, raw: &[u8]) -> Vec<u8> {
        let i = Inbound::new(h, t, Some(ct));
        let passed = i.payload(None, raw.to_vec()).unwrap();
        // `$input.body` of a binary body converted to text is its Base64.
        if let Some(text) = i.rebound(raw) {
            assert_eq!(text.as_bytes(), &passed[..]);
        }
        passed
    }

    #[test]
    fn request_rows_without_binary_media_types() {
        // Text data | Any | Undefined | Undefined | UTF8-encoded string
        assert_eq!(inbound(None, &[], "image/png", b"{\"a\":1}"), b"{\"a\":1}");
        // Text data | Any | Undefined | CONVERT_TO_BINARY | Base64-decoded binary blob
        assert_eq!(inbound(TO_BINARY, &[], "text/plain", B64.as_bytes()), BIN);
        // Text data | Any | Undefined | CONVERT_TO_TEXT | UTF8-encoded string
        assert_eq!(inbound(TO_TEXT, &[], "image/png", b"hi"), b"hi");
    }

    #[test]
    fn request_rows_with_binary_media_types() {
        let t = types();
        // Text data | text type | Set | Undefined | Text data
        assert_eq!(inbound(None, &t, "text/plain", b"hi"), b"hi");
        // Text data | text type | Set | CONVERT_TO_BINARY | Base64-decoded binary blob
        assert_eq!(inbound(TO_BINARY, &t, "text/plain", B64.as_bytes()), BIN);
        // Text data | text type | Set | CONVERT_TO_TEXT | Text data
        assert_eq!(inbound(TO_TEXT, &t, "text/plain", b"hi"), b"hi");
        // Binary data | binary type | Set | Undefined | Binary data
        assert_eq!(inbound(None, &t, "image/png", BIN), BIN);
        // Binary data | binary type | Set | CONVERT_TO_BINARY | Binary data
        assert_eq!(inbound(TO_BINARY, &t, "image/png", BIN), BIN);
        // Binary data | binary type | Set | CONVERT_TO_TEXT | Base64-encoded string
        assert_eq!(inbound(TO_TEXT, &t, "image/png; x=1", BIN), B64.as_bytes());
    }

    #[test]
    fn request_templates_see_text_and_binary_to_binary_is_decoded_after() {
        let t = types();
        let text = Inbound::new(TO_BINARY, &t, Some("application/json"));
        let out = text.payload(Some(format!(" {B64}\n")), b"{}".to_vec());
        assert_eq!(out.unwrap(), BIN);
        let bad = text.payload(Some("not base64!".into()), Vec::new());
        assert!(bad.is_err());
        assert!(text.payload(None, b"%%".to_vec()).is_err());
        assert_eq!(text.rebound(b"{}"), None);
    }

    fn outbound(
        h: Option<ContentHandling>,
        t: &[String],
        ct: &str,
        accept: &str,
        raw: &[u8],
    ) -> Vec<u8> {
        let o = Outbound::new(h, t, Some(ct), Some(accept));
        if o.untouched() {
            return raw.to_vec();
        }
        o.body(o.text(raw).into_owned()).unwrap()
    }

    #[test]
    fn response_rows_without_binary_media_types() {
        for (ct, raw) in [
            ("application/json", &b"{}"[..]),
            ("image/png", B64.as_bytes()),
        ] {
            // Text or binary | text type | Undefined | Undefined | UTF8-encoded string
            assert_eq!(outbound(None, &[], ct, "text/plain", raw), raw);
            // Text or binary | text type | Undefined | CONVERT_TO_TEXT | UTF8-encoded string
            assert_eq!(outbound(TO_TEXT, &[], ct, "text/plain", raw), raw);
        }
        // Text or binary | text type | Undefined | CONVERT_TO_BINARY | Base64-decoded blob
        let o = outbound(TO_BINARY, &[], "image/png", "text/plain", B64.as_bytes());
        assert_eq!(o, BIN);
    }

    #[test]
    fn response_rows_with_binary_media_types() {
        let t = types();
        let (text, png) = ("text/plain", "image/png");
        let b64 = B64.as_bytes();
        // Text data | text type | Set | Undefined | Text data
        assert_eq!(outbound(None, &t, text, text, b"hi"), b"hi");
        // Text data | text type | Set | CONVERT_TO_BINARY | Base64-decoded blob
        assert_eq!(outbound(TO_BINARY, &t, text, text, b64), BIN);
        // Text data | text type | Set | CONVERT_TO_TEXT | UTF8-encoded string
        assert_eq!(outbound(TO_TEXT, &t, text, text, b"hi"), b"hi");
        // Text data | binary type | Set | Undefined | Base64-decoded blob
        assert_eq!(outbound(None, &t, text, "image/png, */*", b64), BIN);
        // Text data | binary type | Set | CONVERT_TO_BINARY | Base64-decoded blob
        assert_eq!(outbound(TO_BINARY, &t, text, png, b64), BIN);
        // Text data | binary type | Set | CONVERT_TO_TEXT | UTF8-encoded string
        assert_eq!(outbound(TO_TEXT, &t, text, png, b"hi"), b"hi");
        // Binary data | text type | Set | Undefined | Base64-encoded string
        assert_eq!(outbound(None, &t, png, text, BIN), b64);
        // Binary data | text type | Set | CONVERT_TO_BINARY | Binary data
        assert_eq!(outbound(TO_BINARY, &t, png, text, BIN), BIN);
        // Binary data | text type | Set | CONVERT_TO_TEXT | Base64-encoded string
        assert_eq!(outbound(TO_TEXT, &t, png, text, BIN), b64);
        // Binary data | binary type | Set | Undefined | Binary data
        assert_eq!(outbound(None, &t, png, png, BIN), BIN);
        // Binary data | binary type | Set | CONVERT_TO_BINARY | Binary data
        assert_eq!(outbound(TO_BINARY, &t, png, png, BIN), BIN);
        // Binary data | binary type | Set | CONVERT_TO_TEXT | Base64-encoded string
        assert_eq!(outbound(TO_TEXT, &t, png, png, BIN), b64);
        // Only the first Accept media type counts.
        assert_eq!(
            outbound(None, &t, text, "text/html, image/png", b"hi"),
            b"hi"
        );
    }

    #[test]
    fn a_text_payload_that_is_not_base64_cannot_become_binary() {
        let o = Outbound::new(TO_BINARY, &[], None, None);
        assert!(o.body("<html>".into()).is_err());
        assert_eq!(o.body(String::new()).unwrap(), b"");
    }
}
