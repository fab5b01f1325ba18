//! Domain name access associations: CreateDomainNameAccessAssociation,
//! GetDomainNameAccessAssociations, DeleteDomainNameAccessAssociation,
//! RejectDomainNameAccessAssociation, kept in `control.db`.
//!
//! On AWS they let a VPC endpoint reach a private custom domain name.
//! portico serves no private endpoints (see `domain_names.rs`), so an
//! association is stored and listed, for the tooling that manages them,
//! and changes nothing the data plane serves.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::ApiError;
use super::model::Page;
use super::{page, tags, Call, ControlPlane, Reply};

/// The DomainNameAccessAssociation shape, as stored and answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Association {
    domain_name_access_association_arn: String,
    domain_name_arn: String,
    access_association_source_type: String,
    access_association_source: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

impl ControlPlane {
    pub(super) fn create_domain_name_access_association(&mut self, c: &Call<'_>) -> Reply {
        let domain_arn = c.required_str("domainNameArn")?;
        let name = domain_of(&domain_arn)?;
        // The domain must be one of ours.
        self.domain(&name)?;
        let kind = c.required_str("accessAssociationSourceType")?;
        if kind != "VPCE" {
            return Err(ApiError::BadRequest(format!(
                "Invalid accessAssociationSourceType {kind}: must be VPCE"
            )));
        }
        let source = c.required_str("accessAssociationSource")?;
        if !source.starts_with("vpce-") {
            return Err(ApiError::BadRequest(format!(
                "Invalid accessAssociationSource {source}: not a VPC endpoint id (vpce-...)"
            )));
        }
        let region = crate::integration::lambda::AwsSettings::from_config(&self.view.aws).region;
        let arn = format!(
            "arn:aws:apigateway:{region}::/domainnameaccessassociations/domainname/{name}/vpcesource/{source}"
        );
        if self.store.domain_access::<Association>(&arn)?.is_some() {
            return Err(ApiError::Conflict(
                "The domain name access association already exists".into(),
            ));
        }
        let a = Association {
            domain_name_access_association_arn: arn.clone(),
            domain_name_arn: domain_arn,
            access_association_source_type: kind,
            access_association_source: source,
            tags: tags::given(c)?,
        };
        self.store.put_domain_access(&arn, &a)?;
        Ok((201, json!(a)))
    }

    /// `resourceOwner=OTHER_ACCOUNTS` lists none: portico has one account.
    pub(super) fn get_domain_name_access_associations(&mut self, c: &Call<'_>) -> Reply {
        let all: Vec<Association> = match c.query_all("resourceOwner").first().map(String::as_str) {
            None | Some("SELF") => self.store.domain_accesses()?,
            Some("OTHER_ACCOUNTS") => Vec::new(),
            Some(o) => {
                return Err(ApiError::BadRequest(format!(
                    "Invalid resourceOwner {o}: must be SELF or OTHER_ACCOUNTS"
                )))
            }
        };
        let (item, position) = page(all, c)?;
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn delete_domain_name_access_association(&mut self, c: &Call<'_>) -> Reply {
        let arn = c.param("domain_name_access_association_arn");
        if !self.store.delete_domain_access(arn)? {
            return Err(not_found());
        }
        Ok((202, Value::Null))
    }

    /// The domain's owner refusing another account's association: the
    /// association must name that domain.
    pub(super) fn reject_domain_name_access_association(&mut self, c: &Call<'_>) -> Reply {
        let arn = c.query_all("domainNameAccessAssociationArn");
        let domain = c.query_all("domainNameArn");
        let (Some(arn), Some(domain)) = (arn.first(), domain.first()) else {
            return Err(ApiError::BadRequest(
                "domainNameAccessAssociationArn and domainNameArn are required".into(),
            ));
        };
        let a: Association = self.store.domain_access(arn)?.ok_or_else(not_found)?;
        if &a.domain_name_arn != domain {
            return Err(not_found());
        }
        self.store.delete_domain_access(arn)?;
        Ok((202, Value::Null))
    }
}

impl ControlPlane {
    /// Association `arn`'s tags (GetTags); NotFoundException when there is none.
    pub(super) fn domain_access_tags(
        &self,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, ApiError> {
        let a: Association = self.store.domain_access(arn)?.ok_or_else(not_found)?;
        Ok(a.tags)
    }

    /// Applies `f` to association `arn`'s tags and stores it (TagResource, UntagResource).
    pub(super) fn change_domain_access_tags(
        &mut self,
        arn: &str,
        f: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), ApiError> {
        let mut a: Association = self.store.domain_access(arn)?.ok_or_else(not_found)?;
        f(&mut a.tags);
        self.store.put_domain_access(arn, &a)
    }
}

/// The domain name an ARN names: `arn:aws:apigateway:{region}:{account}:/domainnames/{name}`
/// (AWS adds `+{domainNameId}` for private names).
fn domain_of(arn: &str) -> Result<String, ApiError> {
    arn.strip_prefix("arn:aws:apigateway:")
        .and_then(|rest| rest.split_once(":/domainnames/"))
        .map(|(_, name)| name.split('+').next().unwrap_or(name).to_string())
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .ok_or_else(|| ApiError::BadRequest(format!("Invalid domainNameArn {arn}")))
}

fn not_found() -> ApiError {
    ApiError::NotFound("Invalid domain name access association identifier specified".into())
}
