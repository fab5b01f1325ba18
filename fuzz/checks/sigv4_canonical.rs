//! SigV4 as the admin listener checks it: never panics on any method,
//! path, query, headers, body or Authorization value, and what `sign`
//! produces, `verify` accepts.

use portico::aws::sigv4::{sign, verify, Signed};

use super::gen::Gen;

const KEY_ID: &str = "AKIDFUZZ";
const SECRET: &str = "fuzz-secret";
/// 2024-01-02T03:04:05Z, the `x-amz-date` below.
const NOW: i64 = 1_704_164_645;

/// Headers the signature's scope and payload hash come from.
const RESERVED: &[&str] = &[
    "host",
    "x-amz-date",
    "x-amz-content-sha256",
    "authorization",
];

fn text(g: &mut Gen<'_>, max: usize) -> String {
    String::from_utf8_lossy(g.bytes(max)).into_owned()
}

pub fn check(input: &[u8]) -> Result<(), String> {
    let mut g = Gen::new(input);
    let method = text(&mut g, 8);
    let path = text(&mut g, 40);
    let query = text(&mut g, 40);
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), text(&mut g, 16)),
        ("x-amz-date".into(), "20240102T030405Z".into()),
    ];
    for _ in 0..g.below(4) {
        // Names as a signer writes them: lower-case tokens.
        let name: String = text(&mut g, 12)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
            .to_ascii_lowercase();
        // The signer's own headers stay as set above: a second `x-amz-date`
        // is a different request, not a different signature.
        if !name.is_empty() && !RESERVED.contains(&name.as_str()) {
            headers.push((name, text(&mut g, 24)));
        }
    }
    headers.sort();
    let authorization = text(&mut g, 160);
    let body = g.rest().to_vec();
    let r = Signed {
        method: &method,
        path: &path,
        query: &query,
        headers: &headers,
        body: &body,
    };
    // Anything at all as the Authorization value: an error, never a panic.
    let _ = verify(&authorization, &r, KEY_ID, SECRET, NOW);
    let signed = sign(&r, KEY_ID, SECRET, "us-east-1", "apigateway");
    verify(&signed, &r, KEY_ID, SECRET, NOW)
        .map_err(|e| format!("own signature refused: {e} ({signed})"))
}
