//! The names of every key portico writes. Each carries the hash tag
//! `{prefix}`, so on Redis Cluster all of them hash to one slot and a
//! script or MULTI/EXEC that touches several stays legal there. The
//! fleet's Redis traffic does not grow with its request rate, so one slot
//! (one master) is enough for it.

#[derive(Debug, Clone)]
pub struct Keys {
    tag: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            tag: format!("{{{prefix}}}"),
        }
    }

    /// `{prefix}:name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_carries_the_hash_tag() {
        let k = Keys::new("portico");
        assert_eq!(k.key("rev"), "{portico}:rev");
        assert_eq!(k.key("t:rest_apis"), "{portico}:t:rest_apis");
    }
}
