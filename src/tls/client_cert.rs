//! The client certificate a mutual-TLS caller presented, in the shape
//! API Gateway gives integrations (`requestContext.identity.clientCert`
//! in 1.0 events, `requestContext.authentication.clientCert` in 2.0).

use base64::Engine;
use serde_json::{json, Value};

/// `None` if the DER is not a certificate x509-parser can read.
pub fn describe(der: &[u8]) -> Option<Value> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).ok()?);
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    let time = |t: x509_parser::time::ASN1Time| {
        chrono::DateTime::from_timestamp(t.timestamp(), 0)
            .map(|d| d.format("%b %e %H:%M:%S %Y GMT").to_string())
    };
    Some(json!({
        "clientCertPem": pem,
        "subjectDN": cert.subject().to_string(),
        "issuerDN": cert.issuer().to_string(),
        "serialNumber": cert.raw_serial_as_string(),
        "validity": {
            "notBefore": time(cert.validity().not_before),
            "notAfter": time(cert.validity().not_after),
        },
    }))
}
