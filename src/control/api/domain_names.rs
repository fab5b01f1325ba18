//! Custom domain names: CreateDomainName, GetDomainName(s), UpdateDomainName,
//! DeleteDomainName, kept in `control.db` (`domain_names`, with their base
//! path mappings, see `base_path_mappings.rs`). The data plane serves a
//! domain's mappings as it serves the config file's `[[domain]]` (see
//! `publish.rs`). AWS provisions a CloudFront distribution or a regional
//! endpoint; portico answers on the name itself, so a domain is AVAILABLE
//! at once and its `distributionDomainName`/`regionalDomainName` is the
//! name (point its DNS at portico).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::base_path_mappings::BasePathMapping;
use super::error::ApiError;
use super::model::Page;
use super::{page, tags, Call, ControlPlane, Reply};

const DOMAIN_PATHS: &[&str] = &[
    "/certificateName",
    "/certificateArn",
    "/regionalCertificateName",
    "/regionalCertificateArn",
    "/securityPolicy",
];

/// AWS's hosted zone ids for edge-optimized (CloudFront) names.
const EDGE_ZONE: &str = "Z2FDTNDATAQYW2";

/// The DomainName shape, as answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DomainName {
    pub domain_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate_upload_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    regional_domain_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    regional_hosted_zone_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    regional_certificate_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    regional_certificate_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    distribution_domain_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    distribution_hosted_zone_id: Option<String>,
    endpoint_configuration: EndpointConfiguration,
    domain_name_status: String,
    security_policy: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EndpointConfiguration {
    types: Vec<String>,
}

/// A domain name as stored: the shape answered, its mappings, and the
/// uploaded certificate (PEM; its private key is sealed apart).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredDomain {
    pub domain: DomainName,
    #[serde(default)]
    pub mappings: Vec<BasePathMapping>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

impl StoredDomain {
    /// Whether the domain is REGIONAL (multi-level base paths allowed).
    pub fn regional(&self) -> bool {
        self.domain.endpoint_configuration.types == ["REGIONAL"]
    }
}

impl ControlPlane {
    pub(super) fn create_domain_name(&mut self, c: &Call<'_>) -> Reply {
        // Kept as given and shown so; found in any case.
        let name = c.required_str("domainName")?;
        check_name(&name)?;
        if self.store.domain_name::<StoredDomain>(&name)?.is_some()
            || self
                .view
                .domain
                .iter()
                .any(|d| d.name.get_ref().eq_ignore_ascii_case(&name))
        {
            return Err(ApiError::Conflict(
                "The domain name you provided already exists.".into(),
            ));
        }
        let types: Vec<String> = match c.body.get("endpointConfiguration") {
            None | Some(Value::Null) => vec!["EDGE".into()],
            Some(v) => match v.get("types") {
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|t| t.as_str().unwrap_or_default().to_string())
                    .collect(),
                _ => vec!["EDGE".into()],
            },
        };
        let regional = match types.as_slice() {
            [t] if t == "EDGE" => false,
            [t] if t == "REGIONAL" => true,
            [t] if t == "PRIVATE" => {
                return Err(ApiError::BadRequest(
                    "portico serves EDGE and REGIONAL domain names, not PRIVATE ones".into(),
                ))
            }
            _ => {
                return Err(ApiError::BadRequest(
                    "Invalid endpoint configuration: types must be one of [EDGE, REGIONAL]".into(),
                ))
            }
        };
        let security_policy = c.str("securityPolicy").unwrap_or_else(|| "TLS_1_2".into());
        check_policy(&security_policy)?;
        let body = c.str("certificateBody").filter(|s| !s.is_empty());
        let key = c.str("certificatePrivateKey").filter(|s| !s.is_empty());
        let chain = c.str("certificateChain").filter(|s| !s.is_empty());
        let certificate = match (body, key.as_deref()) {
            (None, None) => None,
            (Some(body), Some(key)) => {
                let pem = match chain {
                    Some(chain) => format!("{}\n{chain}", body.trim_end()),
                    None => body,
                };
                crate::tls::check_pem_pair(&pem, key, &name)
                    .map_err(|e| ApiError::BadRequest(format!("Invalid certificate: {e}")))?;
                Some(pem)
            }
            _ => {
                return Err(ApiError::BadRequest(
                    "certificateBody and certificatePrivateKey go together".into(),
                ))
            }
        };
        let region = crate::integration::lambda::AwsSettings::from_config(&self.view.aws).region;
        // The uploaded certificate is portico's own: named by the domain's ARN.
        let own_arn = certificate
            .as_ref()
            .map(|_| format!("arn:aws:apigateway:{region}::/domainnames/{name}/certificate"));
        let (cert_name, cert_arn) = (c.str("certificateName"), c.str("certificateArn"));
        let (reg_name, reg_arn) = (
            c.str("regionalCertificateName"),
            c.str("regionalCertificateArn"),
        );
        let d = DomainName {
            domain_name: name.clone(),
            certificate_name: if regional { None } else { cert_name },
            certificate_arn: if regional {
                None
            } else {
                own_arn.clone().or(cert_arn)
            },
            certificate_upload_date: (!regional && certificate.is_some()).then_some(c.now),
            regional_domain_name: regional.then(|| name.clone()),
            regional_hosted_zone_id: None,
            regional_certificate_name: if regional { reg_name } else { None },
            regional_certificate_arn: if regional { own_arn.or(reg_arn) } else { None },
            distribution_domain_name: (!regional).then(|| name.clone()),
            distribution_hosted_zone_id: (!regional).then(|| EDGE_ZONE.to_string()),
            endpoint_configuration: EndpointConfiguration { types },
            domain_name_status: "AVAILABLE".into(),
            security_policy,
            tags: tags::given(c)?,
        };
        let stored = StoredDomain {
            domain: d,
            mappings: Vec::new(),
            certificate,
        };
        self.store.add_domain_name(&name, &stored, key.as_deref())?;
        Ok((201, json!(stored.domain)))
    }

    pub(super) fn get_domain_name(&mut self, c: &Call<'_>) -> Reply {
        Ok((200, json!(self.domain(c.param("domain_name"))?.domain)))
    }

    pub(super) fn get_domain_names(&mut self, c: &Call<'_>) -> Reply {
        let all: Vec<StoredDomain> = self.store.domain_names()?;
        let all: Vec<DomainName> = all.into_iter().map(|d| d.domain).collect();
        let (item, position) = page(all, c)?;
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn update_domain_name(&mut self, c: &Call<'_>) -> Reply {
        let ops = c.patch()?;
        let mut s = self.domain(c.param("domain_name"))?;
        let d = &mut s.domain;
        for op in &ops {
            let v = || op.value.clone().filter(|v| !v.is_empty());
            match (op.op.as_str(), op.path.as_str()) {
                ("replace", "/certificateName") => d.certificate_name = v(),
                ("replace", "/certificateArn") => d.certificate_arn = v(),
                ("replace", "/regionalCertificateName") => d.regional_certificate_name = v(),
                ("replace", "/regionalCertificateArn") => d.regional_certificate_arn = v(),
                ("replace", "/securityPolicy") => {
                    let p = op.value()?.to_string();
                    check_policy(&p)?;
                    d.security_policy = p;
                }
                _ => return Err(op.unsupported(DOMAIN_PATHS)),
            }
        }
        self.store.put_domain_name(&s.domain.domain_name, &s)?;
        Ok((200, json!(s.domain)))
    }

    pub(super) fn delete_domain_name(&mut self, c: &Call<'_>) -> Reply {
        let name = self.domain(c.param("domain_name"))?.domain.domain_name;
        self.store.delete_domain_name(&name)?;
        Ok((202, Value::Null))
    }

    /// Domain `name` (any case); NotFoundException when there is none.
    pub(super) fn domain(&self, name: &str) -> Result<StoredDomain, ApiError> {
        let name = name.to_ascii_lowercase();
        self.store
            .domain_name(&name)?
            .ok_or_else(|| ApiError::NotFound("Invalid domain name identifier specified".into()))
    }

    /// Applies `f` to domain `name`'s tags and stores it (TagResource, UntagResource).
    pub(super) fn change_domain_tags(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), ApiError> {
        let mut s = self.domain(name)?;
        f(&mut s.domain.tags);
        self.store
            .put_domain_name(&s.domain.domain_name.clone(), &s)
    }
}

/// A host name: dot-separated labels of letters, digits and hyphens (a
/// single label, such as an intranet name, is a name `Host` can carry; a
/// leading `*.` for a wildcard is not served by portico's routing).
fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "Invalid domain name identifier specified: {name}"
        )))
    }
}

/// portico's HTTPS listener speaks TLS 1.2 and 1.3 only: TLS_1_2 is the
/// one policy that says what it does.
fn check_policy(p: &str) -> Result<(), ApiError> {
    if p == "TLS_1_2" {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "Invalid security policy {p}: portico serves TLS 1.2 and later only; use TLS_1_2"
        )))
    }
}
