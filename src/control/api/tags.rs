//! Tags: TagResource, UntagResource and GetTags, by the resource's ARN as
//! API Gateway forms it (`arn:aws:apigateway:{region}::/restapis/{id}`,
//! `…/restapis/{id}/stages/{name}`, `…/apikeys/{id}`, `…/usageplans/{id}`,
//! `…/clientcertificates/{id}`, `…/domainnames/{name}`,
//! `…/domainnameaccessassociations/domainname/{name}/vpcesource/{vpce}`),
//! and the `tags` of the create calls. A resource's tags are kept in its
//! own stored document, so they are returned by its reads and go with it
//! when it is deleted.
//! VPC links (`…/vpclinks/{id}`) are tagged too: see `vpc_links.rs`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::error::ApiError;
use super::{Call, ControlPlane, Reply};

/// API Gateway's limits on a tag (TagResourceRequest).
const MAX_KEY: usize = 128;
const MAX_VALUE: usize = 256;
/// At most this many tags on one resource (AWS's "Tag restrictions").
const MAX_TAGS: usize = 50;

/// What a taggable ARN names.
enum Target {
    Api(String),
    Stage(String, String),
    Key(String),
    Plan(String),
    Cert(String),
    VpcLink(String),
    Domain(String),
    /// A domain name access association, by its ARN (its stored id).
    DomainAccess(String),
}

/// The `tags` of a create call (none: empty), checked as TagResource checks them.
pub(super) fn given(c: &Call<'_>) -> Result<BTreeMap<String, String>, ApiError> {
    let tags: BTreeMap<String, String> = c.map("tags")?;
    check(&tags)?;
    Ok(tags)
}

/// AWS's tag character set: letters, digits, spaces and `_ . : / = + - @`.
fn allowed(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

fn check(tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(too_many());
    }
    for (k, v) in tags {
        if !allowed(k) || !allowed(v) {
            return Err(ApiError::BadRequest(format!(
                "Invalid tag '{k}': keys and values are letters, digits, spaces and _ . : / = + - @"
            )));
        }
        if k.is_empty() || k.chars().count() > MAX_KEY {
            return Err(ApiError::BadRequest(format!(
                "Invalid tag key '{k}': 1 to {MAX_KEY} characters"
            )));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(ApiError::BadRequest(format!(
                "Invalid tag key '{k}': tag keys must not start with 'aws:'"
            )));
        }
        if v.chars().count() > MAX_VALUE {
            return Err(ApiError::BadRequest(format!(
                "Invalid tag value for key '{k}': at most {MAX_VALUE} characters"
            )));
        }
    }
    Ok(())
}

impl ControlPlane {
    pub(super) fn tag_resource(&mut self, c: &Call<'_>) -> Reply {
        let target = self.target(c.param("resource_arn"))?;
        let tags: BTreeMap<String, String> = match c.body.get("tags") {
            Some(v @ Value::Object(_)) => serde_json::from_value(v.clone())
                .map_err(|e| ApiError::BadRequest(format!("Invalid tags: {e}")))?,
            _ => return Err(ApiError::BadRequest("tags must not be empty".into())),
        };
        check(&tags)?;
        let mut all = self.tags_of(&target)?;
        all.extend(tags);
        if all.len() > MAX_TAGS {
            return Err(too_many());
        }
        self.change_tags(&target, |t| *t = all)?;
        Ok((204, Value::Null))
    }

    pub(super) fn untag_resource(&mut self, c: &Call<'_>) -> Reply {
        let target = self.target(c.param("resource_arn"))?;
        let keys = c.query_all("tagKeys");
        if keys.is_empty() {
            return Err(ApiError::BadRequest("tagKeys must not be empty".into()));
        }
        self.change_tags(&target, |t| {
            for k in &keys {
                t.remove(k);
            }
        })?;
        Ok((204, Value::Null))
    }

    pub(super) fn get_tags(&mut self, c: &Call<'_>) -> Reply {
        let target = self.target(c.param("resource_arn"))?;
        Ok((200, json!({ "tags": self.tags_of(&target)? })))
    }

    /// The resource an ARN of this portico's region names.
    fn target(&self, arn: &str) -> Result<Target, ApiError> {
        let invalid = || ApiError::BadRequest(format!("Invalid ARN specified: {arn}"));
        let (head, path) = arn.split_once("::").ok_or_else(invalid)?;
        let head: Vec<&str> = head.split(':').collect();
        let ["arn", partition, "apigateway", region] = head.as_slice() else {
            return Err(invalid());
        };
        if !partition.starts_with("aws") || region.is_empty() {
            return Err(invalid());
        }
        let ours = crate::integration::lambda::AwsSettings::from_config(&self.view.aws).region;
        if *region != ours {
            return Err(ApiError::NotFound(format!(
                "Invalid ARN specified: {arn}: this API Gateway is region {ours}"
            )));
        }
        let segs: Vec<&str> = path
            .strip_prefix('/')
            .ok_or_else(invalid)?
            .split('/')
            .collect();
        let target = match segs.as_slice() {
            ["restapis", id] if !id.is_empty() => Target::Api(id.to_string()),
            ["restapis", id, "stages", name] if !id.is_empty() && !name.is_empty() => {
                Target::Stage(id.to_string(), name.to_string())
            }
            ["apikeys", id] if !id.is_empty() => Target::Key(id.to_string()),
            ["usageplans", id] if !id.is_empty() => Target::Plan(id.to_string()),
            ["clientcertificates", id] if !id.is_empty() => Target::Cert(id.to_string()),
            ["vpclinks", id] if !id.is_empty() => Target::VpcLink(id.to_string()),
            ["domainnames", name] if !name.is_empty() => Target::Domain(name.to_string()),
            ["domainnameaccessassociations", "domainname", name, "vpcesource", source]
                if !name.is_empty() && !source.is_empty() =>
            {
                // Stored by the ARN CreateDomainNameAccessAssociation answered.
                Target::DomainAccess(format!("arn:aws:apigateway:{ours}::{path}"))
            }
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "Invalid ARN specified: {arn}: portico tags REST APIs, stages, API keys, usage plans, client certificates, VPC links, domain names and domain name access associations"
                )))
            }
        };
        self.tags_of(&target)?;
        Ok(target)
    }

    /// The resource's tags; NotFoundException when it does not exist.
    fn tags_of(&self, t: &Target) -> Result<BTreeMap<String, String>, ApiError> {
        Ok(match t {
            Target::Api(id) => self.store.api(id)?.ok_or_else(|| api_gone(id))?.api.tags,
            Target::Stage(api, name) => {
                self.store
                    .stage(api, name)?
                    .ok_or_else(|| stage_gone(api, name))?
                    .tags
            }
            Target::Key(id) => match self.store.key(id)? {
                Some(k) => k.tags,
                None if self.file_key(id) => BTreeMap::new(),
                None => return Err(key_gone(id)),
            },
            Target::Plan(id) => match self.store.plan(id)? {
                Some(p) => p.tags,
                None if self.file_plan(id) => BTreeMap::new(),
                None => return Err(plan_gone(id)),
            },
            Target::Cert(id) => self.client_certificate(id)?.tags,
            Target::VpcLink(id) => self.vpc_link(id)?.tags,
            Target::Domain(name) => self.domain(name)?.domain.tags,
            Target::DomainAccess(arn) => self.domain_access_tags(arn)?,
        })
    }

    /// Applies `f` to the resource's tags and stores it, in one write.
    fn change_tags(
        &mut self,
        t: &Target,
        f: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), ApiError> {
        match t {
            Target::Api(id) => {
                let mut doc = self.store.api(id)?.ok_or_else(|| api_gone(id))?;
                f(&mut doc.api.tags);
                self.store.put_api(&doc)
            }
            Target::Stage(api, name) => {
                let mut s = self
                    .store
                    .stage(api, name)?
                    .ok_or_else(|| stage_gone(api, name))?;
                f(&mut s.tags);
                self.store.put_stage(api, &s)
            }
            Target::Key(id) => {
                let Some(mut k) = self.store.key(id)? else {
                    return Err(self.not_stored("API key", id, self.file_key(id), key_gone));
                };
                f(&mut k.tags);
                self.store.put_key(&k)
            }
            Target::Plan(id) => {
                let Some(mut p) = self.store.plan(id)? else {
                    return Err(self.not_stored("usage plan", id, self.file_plan(id), plan_gone));
                };
                f(&mut p.tags);
                self.store.put_plan(&p)
            }
            Target::Cert(id) => {
                let mut cert = self.client_certificate(id)?;
                f(&mut cert.tags);
                self.store.put_client_certificate(id, &cert)
            }
            Target::VpcLink(id) => self.change_vpc_link_tags(id, f),
            Target::Domain(name) => self.change_domain_tags(name, f),
            Target::DomainAccess(arn) => self.change_domain_access_tags(arn, f),
        }
    }

    /// Why a key or plan that is not stored cannot be tagged.
    fn not_stored(
        &self,
        what: &str,
        id: &str,
        in_file: bool,
        gone: fn(&str) -> ApiError,
    ) -> ApiError {
        if in_file {
            ApiError::BadRequest(format!(
                "The {what} {id} is declared in the config file; change it there and reload (SIGHUP)"
            ))
        } else {
            gone(id)
        }
    }

    fn file_key(&self, id: &str) -> bool {
        self.view.api_keys.iter().any(|k| k.id() == id)
    }

    fn file_plan(&self, id: &str) -> bool {
        self.view
            .usage_plans
            .iter()
            .any(|p| *p.name.get_ref() == id)
    }
}

fn too_many() -> ApiError {
    ApiError::BadRequest(format!("A resource has at most {MAX_TAGS} tags"))
}

fn api_gone(id: &str) -> ApiError {
    ApiError::NotFound(format!("Invalid API identifier specified {id}"))
}

fn stage_gone(api: &str, name: &str) -> ApiError {
    ApiError::NotFound(format!("Invalid Stage identifier specified {api}:{name}"))
}

fn key_gone(id: &str) -> ApiError {
    ApiError::NotFound(format!("Invalid API Key identifier specified {id}"))
}

fn plan_gone(id: &str) -> ApiError {
    ApiError::NotFound(format!("Invalid Usage Plan ID specified {id}"))
}
