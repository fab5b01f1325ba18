//! Request ids: always a fresh UUID, as AWS's are. A client's own
//! `x-request-id` is never taken: it would become the Lambda event's
//! `requestContext.requestId`, the access log's `requestId` and the
//! upstream's `x-request-id`, so a client could forge log lines and
//! claim another call's id.

/// Room for a UUID (36 characters).
const MAX_LEN: usize = 36;

#[derive(Clone, Copy)]
pub struct RequestId {
    bytes: [u8; MAX_LEN],
    len: u8,
}

impl RequestId {
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
}
