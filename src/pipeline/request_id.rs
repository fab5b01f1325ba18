//! Request ids: the client's `x-request-id` when it is sane (so a trace
//! spans the client, the gateway and the upstream), else a fresh UUID.

use crate::http::Head;
use crate::server::Worker;

const MAX_LEN: usize = 128;

#[derive(Clone, Copy)]
pub struct RequestId {
    bytes: [u8; MAX_LEN],
    len: u8,
}

impl RequestId {
    pub fn assign(w: &Worker, head: &Head, buf: &[u8]) -> RequestId {
        if let Some(span) = head.request_id {
            let given = span.get(buf);
            if is_sane(given) {
                let mut bytes = [0; MAX_LEN];
                bytes[..given.len()].copy_from_slice(given);
                return RequestId {
                    bytes,
                    len: given.len() as u8,
                };
            }
        }
        Self::generate(w.random_u128())
    }

    /// A version-4 UUID from 128 random bits, formatted without allocating.
    pub fn generate(random: u128) -> RequestId {
        let mut r = random.to_be_bytes();
        r[6] = (r[6] & 0x0f) | 0x40;
        r[8] = (r[8] & 0x3f) | 0x80;
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut bytes = [0; MAX_LEN];
        let mut at = 0;
        for (i, b) in r.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                bytes[at] = b'-';
                at += 1;
            }
            bytes[at] = HEX[usize::from(b >> 4)];
            bytes[at + 1] = HEX[usize::from(b & 0xf)];
            at += 2;
        }
        RequestId {
            bytes,
            len: at as u8,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Short, and only characters that are safe in headers and logs.
fn is_sane(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id.iter().all(|&c| {
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        let id = RequestId::generate(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(
            std::str::from_utf8(id.as_bytes()).unwrap(),
            "01234567-89ab-4def-8123-456789abcdef"
        );
    }

    #[test]
    fn sanity() {
        assert!(is_sane(b"abc-123"));
        assert!(!is_sane(b"a b"));
        assert!(!is_sane(&[b'a'; 129]));
        assert!(!is_sane(b""));
    }
}
