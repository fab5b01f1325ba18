//! Client certificates: GenerateClientCertificate, GetClientCertificate,
//! GetClientCertificates, UpdateClientCertificate, DeleteClientCertificate.
//!
//! GenerateClientCertificate makes a real key pair (ECDSA P-256) and a
//! self-signed certificate valid for 365 days, as API Gateway's are (rcgen).
//! Only the certificate (PEM) is ever returned; the private key is stored in
//! `control.db` sealed with the state key, as API key values are. A stage
//! names one by `clientCertificateId`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::ApiError;
use super::model::Page;
use super::{page, Call, ControlPlane, Reply};

/// How long a generated certificate is valid (API Gateway's: 365 days).
const VALIDITY_DAYS: i64 = 365;

const CERT_PATHS: &[&str] = &["/description"];

/// AWS's ClientCertificate shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ClientCertificate {
    pub client_certificate_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub pem_encoded_certificate: String,
    pub created_date: i64,
    pub expiration_date: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A new key pair and a self-signed certificate for it, valid from the
/// start of `now`'s day (UTC, Unix seconds) to the same day `VALIDITY_DAYS`
/// later: (certificate PEM, private key PEM, expiry in Unix seconds).
fn generate(id: &str, now: i64) -> Result<(String, String, i64), ApiError> {
    let fail = |e: rcgen::Error| ApiError::Internal(format!("cannot make a certificate: {e}"));
    let day = |t: i64| {
        use chrono::Datelike;
        let d = chrono::DateTime::from_timestamp(t, 0)
            .ok_or_else(|| ApiError::Internal(format!("clock out of range: {t}")))?;
        Ok::<_, ApiError>(rcgen::date_time_ymd(
            d.year(),
            d.month() as u8,
            d.day() as u8,
        ))
    };
    let key = rcgen::KeyPair::generate().map_err(fail)?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("portico client certificate {id}"),
    );
    params.not_before = day(now)?;
    params.not_after = day(now + VALIDITY_DAYS * 86_400)?;
    let expires = params.not_after.unix_timestamp();
    let cert = params.self_signed(&key).map_err(fail)?;
    Ok((cert.pem(), key.serialize_pem(), expires))
}

impl ControlPlane {
    pub(super) fn generate_client_certificate(&mut self, c: &Call<'_>) -> Reply {
        let tags = super::tags::given(c)?;
        let id = self.ids.next(6);
        let (pem, key, expires) = generate(&id, c.now)?;
        let cert = ClientCertificate {
            client_certificate_id: id.clone(),
            description: c.str("description"),
            pem_encoded_certificate: pem,
            created_date: c.now,
            expiration_date: expires,
            tags,
        };
        self.store.add_client_certificate(&id, &cert, &key)?;
        Ok((201, json!(cert)))
    }

    pub(super) fn get_client_certificate(&mut self, c: &Call<'_>) -> Reply {
        let cert = self.client_certificate(c.param("clientcertificate_id"))?;
        Ok((200, json!(cert)))
    }

    pub(super) fn get_client_certificates(&mut self, c: &Call<'_>) -> Reply {
        let all: Vec<ClientCertificate> = self.store.client_certificates()?;
        let (item, position) = page(all, c)?;
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn update_client_certificate(&mut self, c: &Call<'_>) -> Reply {
        let ops = c.patch()?;
        let mut cert = self.client_certificate(c.param("clientcertificate_id"))?;
        for op in &ops {
            match (op.op.as_str(), op.path.as_str()) {
                ("replace", "/description") => cert.description = op.value.clone(),
                _ => return Err(op.unsupported(CERT_PATHS)),
            }
        }
        self.store
            .put_client_certificate(&cert.client_certificate_id, &cert)?;
        Ok((200, json!(cert)))
    }

    pub(super) fn delete_client_certificate(&mut self, c: &Call<'_>) -> Reply {
        let id = c.param("clientcertificate_id");
        if !self.store.delete_client_certificate(id)? {
            return Err(cert_gone(id));
        }
        Ok((202, Value::Null))
    }

    /// A stored certificate; NotFoundException when there is none.
    pub(super) fn client_certificate(&self, id: &str) -> Result<ClientCertificate, ApiError> {
        self.store
            .client_certificate(id)?
            .ok_or_else(|| cert_gone(id))
    }
}

pub(super) fn cert_gone(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "Invalid Client Certificate identifier specified {id}"
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::store::ControlStore;
    use crate::control::state::state_key::StateKey;

    /// The stored key opens to the private key of the generated certificate.
    #[test]
    fn the_sealed_key_opens_to_the_certificates_key() {
        let dir = std::env::temp_dir().join(format!("portico-cc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = Arc::new(StateKey::from_bytes(&[7; 32]));
        let mut store = ControlStore::open(&dir, key).unwrap();
        let (pem, private, expires) = super::generate("abc123", 1_700_000_000).unwrap();
        assert_eq!(expires, 1_699_920_000 + 365 * 86_400);
        store
            .add_client_certificate("abc123", &serde_json::json!({}), &private)
            .unwrap();
        let opened = store.client_certificate_key("abc123").unwrap().unwrap();
        assert_eq!(opened, private);
        let pair = rcgen::KeyPair::from_pem(&opened).unwrap();
        let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        let cert = p.parse_x509().unwrap();
        assert_eq!(
            cert.public_key().raw,
            rcgen::PublicKeyData::subject_public_key_info(&pair).as_slice()
        );
        assert!(store.client_certificate_key("nosuch").unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
