//! Where management API state lives: one node's `control.db` (SQLite,
//! [`sqlite`]) or, in a fleet (`[cluster]`), the fleet's Redis
//! ([`redis`]). Either way a call's change is applied all or none and
//! acknowledged before the answer is sent. API key values are stored
//! sealed with the state key (`sealed`), and found by their keyed hash
//! (`lookup`), never in plain text; that, and the JSON of the bodies, is
//! done here once for both backends.

mod migrate;
mod redis;
mod rows;
mod sealed;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

use crate::cluster::Revision;
use crate::config::ClusterConfig;
use crate::control::state::{KeyError, StateKey, StoreError};

use super::error::ApiError;
use super::file_apis::{self, FileApi};
use super::model::{ApiDoc, ApiKey, Deployment, Stage, UsagePlan};
pub use migrate::{migrate, MigrateError, Migrated};
use rows::{Member, Op, Row, Rows, Table};
use sealed::{key_fields, key_row};

pub struct ControlStore {
    rows: Box<dyn Rows>,
    key: Arc<StateKey>,
    /// The config file's APIs: shown, never stored or changed here.
    file_apis: Vec<FileApi>,
}

impl ControlStore {
    /// Opens (creating if needed) `dir/control.db`, sealing the API key
    /// values of a store written before values were sealed.
    pub fn open(dir: &Path, key: Arc<StateKey>) -> Result<ControlStore, StoreError> {
        let rows = Box::new(sqlite::Sqlite::open(dir, &key)?);
        Ok(ControlStore {
            rows,
            key,
            file_apis: Vec::new(),
        })
    }

    /// The fleet's store in Redis; `revision` follows what this node wrote.
    pub fn open_fleet(
        cluster: &ClusterConfig,
        key: Arc<StateKey>,
        revision: Arc<Revision>,
    ) -> Result<ControlStore, StoreError> {
        let rows = Box::new(redis::Redis::open(cluster, &key, revision)?);
        Ok(ControlStore {
            rows,
            key,
            file_apis: Vec::new(),
        })
    }

    /// The control thread published every change up to `revision`.
    pub fn published(&self, revision: u64) {
        self.rows.published(revision);
    }

    /// A change this node stored is not what it serves (its publish failed).
    pub fn unpublished(&self) {
        self.rows.unpublished();
    }

    /// The config file's APIs, as they are now (at start and after SIGHUP).
    pub fn set_file(&mut self, file: Vec<FileApi>) {
        self.file_apis = file;
    }

    fn file_api(&self, id: &str) -> Option<&FileApi> {
        self.file_apis.iter().find(|f| f.doc.api.id == id)
    }

    /// Changes to a config-file API are refused: the file is its source of truth.
    fn writable(&self, id: &str) -> Result<(), ApiError> {
        match self.file_api(id) {
            Some(f) => Err(ApiError::BadRequest(format!(
                "API {id} ({}) is declared in the config file; change it there and reload (SIGHUP)",
                f.doc.api.name
            ))),
            None => Ok(()),
        }
    }

    /// `ops`, together; whether the first found (or made) its row.
    fn change(&mut self, ops: &[Op]) -> Result<bool, ApiError> {
        Ok(self.rows.apply(ops)?.first().copied().unwrap_or(false))
    }

    fn body<T: serde::de::DeserializeOwned>(
        &self,
        t: Table,
        scope: &str,
        id: &str,
    ) -> Result<Option<T>, ApiError> {
        self.rows
            .get(t, scope, id)?
            .map(|r| decode(&r.body))
            .transpose()
    }

    fn bodies<T: serde::de::DeserializeOwned>(
        &self,
        t: Table,
        scope: &str,
    ) -> Result<Vec<T>, ApiError> {
        self.rows
            .list(t, scope)?
            .iter()
            .map(|r| decode(&r.body))
            .collect()
    }

    /// Stored APIs, then the config file's (GetRestApis).
    pub fn listed(&self) -> Result<Vec<ApiDoc>, ApiError> {
        let mut all = self.apis()?;
        all.extend(self.file_apis.iter().map(|f| f.doc.clone()));
        Ok(all)
    }

    pub fn api(&self, id: &str) -> Result<Option<ApiDoc>, ApiError> {
        if let Some(f) = self.file_api(id) {
            return Ok(Some(f.doc.clone()));
        }
        self.body(Table::RestApis, "", id)
    }

    /// Every stored API, oldest first (the order pagination walks).
    pub fn apis(&self) -> Result<Vec<ApiDoc>, ApiError> {
        self.bodies(Table::RestApis, "")
    }

    pub fn put_api(&mut self, doc: &ApiDoc) -> Result<(), ApiError> {
        self.writable(&doc.api.id)?;
        let row = Row {
            created: doc.api.created_date,
            ..Row::new(&doc.api.id, encode(doc)?)
        };
        self.change(&[Op::Upsert(Table::RestApis, String::new(), row)])?;
        Ok(())
    }

    /// The API with its deployments and stages, together.
    pub fn delete_api(&mut self, id: &str) -> Result<bool, ApiError> {
        self.writable(id)?;
        self.change(&[
            Op::Delete(Table::RestApis, String::new(), id.to_string()),
            Op::DeleteScope(Table::Deployments, id.to_string()),
            Op::DeleteScope(Table::Stages, id.to_string()),
        ])
    }

    /// A deployment and the API as it was when deployed.
    pub fn deployment(
        &self,
        api: &str,
        id: &str,
    ) -> Result<Option<(Deployment, ApiDoc)>, ApiError> {
        if let Some(f) = self.file_api(api) {
            return Ok((id == file_apis::DEPLOYMENT).then(|| (f.deployment.clone(), f.doc.clone())));
        }
        self.rows
            .get(Table::Deployments, api, id)?
            .map(|r| {
                Ok((
                    decode(&r.body)?,
                    decode(r.snapshot.as_deref().unwrap_or(""))?,
                ))
            })
            .transpose()
    }

    pub fn deployments(&self, api: &str) -> Result<Vec<Deployment>, ApiError> {
        if let Some(f) = self.file_api(api) {
            return Ok(vec![f.deployment.clone()]);
        }
        self.bodies(Table::Deployments, api)
    }

    /// A new deployment, and the stage it was made for (if any), together.
    pub fn put_deployment(
        &mut self,
        api: &str,
        d: &Deployment,
        snapshot: &ApiDoc,
        stage: Option<&Stage>,
    ) -> Result<(), ApiError> {
        self.writable(api)?;
        let row = Row {
            created: d.created_date,
            snapshot: Some(encode(snapshot)?),
            ..Row::new(&d.id, encode(d)?)
        };
        let mut ops = vec![Op::Insert(Table::Deployments, api.to_string(), row)];
        if let Some(s) = stage {
            ops.push(stage_op(api, s)?);
        }
        self.change(&ops)?;
        Ok(())
    }

    /// A deployment's own fields (its description), the API it deployed kept.
    pub fn update_deployment(&mut self, api: &str, d: &Deployment) -> Result<(), ApiError> {
        self.writable(api)?;
        let op = Op::UpdateBody(Table::Deployments, api.into(), d.id.clone(), encode(d)?);
        self.change(&[op])?;
        Ok(())
    }

    pub fn delete_deployment(&mut self, api: &str, id: &str) -> Result<bool, ApiError> {
        self.writable(api)?;
        self.change(&[Op::Delete(Table::Deployments, api.into(), id.into())])
    }

    pub fn stage(&self, api: &str, name: &str) -> Result<Option<Stage>, ApiError> {
        if let Some(f) = self.file_api(api) {
            return Ok(f.stages.iter().find(|s| s.stage_name == name).cloned());
        }
        self.body(Table::Stages, api, name)
    }

    pub fn stages(&self, api: &str) -> Result<Vec<Stage>, ApiError> {
        if let Some(f) = self.file_api(api) {
            return Ok(f.stages.clone());
        }
        self.bodies(Table::Stages, api)
    }

    pub fn put_stage(&mut self, api: &str, s: &Stage) -> Result<(), ApiError> {
        self.writable(api)?;
        self.change(&[stage_op(api, s)?])?;
        Ok(())
    }

    pub fn delete_stage(&mut self, api: &str, name: &str) -> Result<bool, ApiError> {
        self.writable(api)?;
        self.change(&[Op::Delete(Table::Stages, api.into(), name.into())])
    }
}

/// API keys, usage plans and which keys each plan has.
impl ControlStore {
    /// Every stored key, with its value.
    pub fn keys(&self) -> Result<Vec<ApiKey>, ApiError> {
        self.rows
            .list(Table::ApiKeys, "")?
            .into_iter()
            .map(|r| self.opened(r))
            .collect()
    }

    /// Key `id`, with its value.
    pub fn key(&self, id: &str) -> Result<Option<ApiKey>, ApiError> {
        self.rows
            .get(Table::ApiKeys, "", id)?
            .map(|r| self.opened(r))
            .transpose()
    }

    /// The id of the stored key whose value is `value`.
    pub fn key_with_value(&self, value: &str) -> Result<Option<String>, ApiError> {
        self.rows.key_by_lookup(&self.key.lookup(value))
    }

    /// Stores `k`: its value sealed, the rest as JSON.
    pub fn put_key(&mut self, k: &ApiKey) -> Result<(), ApiError> {
        let (sealed, lookup) = match &k.value {
            Some(v) => {
                let (s, l) = key_fields(&self.key, &k.id, v).map_err(sealing)?;
                (Some(s), Some(l))
            }
            None => (None, None),
        };
        let body = encode(&ApiKey {
            value: None,
            ..k.clone()
        })?;
        let row = Row {
            sealed,
            lookup,
            ..Row::new(&k.id, body)
        };
        self.change(&[Op::Upsert(Table::ApiKeys, String::new(), row)])?;
        Ok(())
    }

    /// A stored key's body with its sealed value opened.
    fn opened(&self, r: Row) -> Result<ApiKey, ApiError> {
        let mut k: ApiKey = decode(&r.body)?;
        if let Some(s) = r.sealed {
            k.value = Some(self.key.open(&s, &key_row(&k.id)).map_err(sealing)?);
        }
        Ok(k)
    }

    /// The key and its plan memberships, together.
    pub fn delete_key(&mut self, id: &str) -> Result<bool, ApiError> {
        self.change(&[
            Op::Delete(Table::ApiKeys, String::new(), id.into()),
            Op::DropMembers(Member::Key, id.into()),
        ])
    }

    pub fn plans(&self) -> Result<Vec<UsagePlan>, ApiError> {
        self.bodies(Table::UsagePlans, "")
    }

    pub fn plan(&self, id: &str) -> Result<Option<UsagePlan>, ApiError> {
        self.body(Table::UsagePlans, "", id)
    }

    pub fn put_plan(&mut self, p: &UsagePlan) -> Result<(), ApiError> {
        self.upsert(Table::UsagePlans, &p.id, encode(p)?)
    }

    /// The plan and its key memberships, together.
    pub fn delete_plan(&mut self, id: &str) -> Result<bool, ApiError> {
        self.change(&[
            Op::Delete(Table::UsagePlans, String::new(), id.into()),
            Op::DropMembers(Member::Plan, id.into()),
        ])
    }

    /// Writes row `id` of an unscoped table.
    fn upsert(&mut self, t: Table, id: &str, body: String) -> Result<(), ApiError> {
        self.change(&[Op::Upsert(t, String::new(), Row::new(id, body))])?;
        Ok(())
    }

    fn delete(&mut self, t: Table, id: &str) -> Result<bool, ApiError> {
        self.change(&[Op::Delete(t, String::new(), id.into())])
    }

    /// Key ids of a plan.
    pub fn plan_keys(&self, plan: &str) -> Result<Vec<String>, ApiError> {
        self.rows.plan_keys(plan)
    }

    /// Whether the pair was new.
    pub fn add_plan_key(&mut self, plan: &str, key: &str) -> Result<bool, ApiError> {
        self.change(&[Op::AddMember {
            plan: plan.into(),
            key: key.into(),
        }])
    }

    pub fn remove_plan_key(&mut self, plan: &str, key: &str) -> Result<bool, ApiError> {
        self.change(&[Op::RemoveMember {
            plan: plan.into(),
            key: key.into(),
        }])
    }
}

/// The account's settings (UpdateAccount), one row.
impl ControlStore {
    pub fn account<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, ApiError> {
        self.body(Table::Account, "", "account")
    }

    pub fn put_account<T: serde::Serialize>(&mut self, a: &T) -> Result<(), ApiError> {
        self.upsert(Table::Account, "account", encode(a)?)
    }
}

/// Client certificates: the certificate as JSON, its private key sealed
/// with the state key (for its row), never in plain text.
impl ControlStore {
    pub fn client_certificates<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, ApiError> {
        self.bodies(Table::ClientCertificates, "")
    }

    pub fn client_certificate<T: serde::de::DeserializeOwned>(
        &self,
        id: &str,
    ) -> Result<Option<T>, ApiError> {
        self.body(Table::ClientCertificates, "", id)
    }

    /// Stores a new certificate with its private key (PEM), sealed.
    pub fn add_client_certificate<T: serde::Serialize>(
        &mut self,
        id: &str,
        c: &T,
        private_key: &str,
    ) -> Result<(), ApiError> {
        let sealed = self.key.seal(private_key, &cert_row(id)).map_err(sealing)?;
        let row = Row {
            sealed: Some(sealed),
            ..Row::new(id, encode(c)?)
        };
        self.change(&[Op::Insert(Table::ClientCertificates, String::new(), row)])?;
        Ok(())
    }

    /// Changes a stored certificate's body (its key stays).
    pub fn put_client_certificate<T: serde::Serialize>(
        &mut self,
        id: &str,
        c: &T,
    ) -> Result<(), ApiError> {
        let op = Op::UpdateBody(
            Table::ClientCertificates,
            String::new(),
            id.into(),
            encode(c)?,
        );
        self.change(&[op])?;
        Ok(())
    }

    /// A stored certificate's private key (PEM), opened.
    pub fn client_certificate_key(&self, id: &str) -> Result<Option<String>, ApiError> {
        self.rows
            .get(Table::ClientCertificates, "", id)?
            .and_then(|r| r.sealed)
            .map(|s| self.key.open(&s, &cert_row(id)).map_err(sealing))
            .transpose()
    }

    pub fn delete_client_certificate(&mut self, id: &str) -> Result<bool, ApiError> {
        self.delete(Table::ClientCertificates, id)
    }
}

/// What a client certificate's private key is sealed for (its row).
fn cert_row(id: &str) -> String {
    format!("control.db client_certificates {id}")
}

/// VPC links (CreateVpcLink …), oldest first (an update keeps the place).
impl ControlStore {
    pub fn vpc_links<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, ApiError> {
        self.bodies(Table::VpcLinks, "")
    }

    pub fn vpc_link<T: serde::de::DeserializeOwned>(
        &self,
        id: &str,
    ) -> Result<Option<T>, ApiError> {
        self.body(Table::VpcLinks, "", id)
    }

    pub fn put_vpc_link<T: serde::Serialize>(&mut self, id: &str, l: &T) -> Result<(), ApiError> {
        self.upsert(Table::VpcLinks, id, encode(l)?)
    }

    pub fn delete_vpc_link(&mut self, id: &str) -> Result<bool, ApiError> {
        self.delete(Table::VpcLinks, id)
    }
}

/// Domain name access associations by ARN, oldest first.
impl ControlStore {
    pub fn domain_accesses<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, ApiError> {
        self.bodies(Table::DomainAccess, "")
    }

    pub fn domain_access<T: serde::de::DeserializeOwned>(
        &self,
        arn: &str,
    ) -> Result<Option<T>, ApiError> {
        self.body(Table::DomainAccess, "", arn)
    }

    pub fn put_domain_access<T: serde::Serialize>(
        &mut self,
        arn: &str,
        a: &T,
    ) -> Result<(), ApiError> {
        self.upsert(Table::DomainAccess, arn, encode(a)?)
    }

    pub fn delete_domain_access(&mut self, arn: &str) -> Result<bool, ApiError> {
        self.delete(Table::DomainAccess, arn)
    }
}

/// Custom domain names (CreateDomainName …) with their base path
/// mappings in one body, oldest first; an uploaded certificate's private
/// key sealed with the state key (for its row), never in plain text. A
/// name is its row in any case (DNS names are case-insensitive); the body
/// keeps the case it was created with, as AWS shows it.
impl ControlStore {
    pub fn domain_names<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, ApiError> {
        self.bodies(Table::DomainNames, "")
    }

    pub fn domain_name<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, ApiError> {
        self.body(Table::DomainNames, "", &name.to_ascii_lowercase())
    }

    /// Stores a new domain name, with its certificate's private key (PEM) sealed.
    pub fn add_domain_name<T: serde::Serialize>(
        &mut self,
        name: &str,
        d: &T,
        private_key: Option<&str>,
    ) -> Result<(), ApiError> {
        let name = &name.to_ascii_lowercase();
        let sealed = private_key
            .map(|k| self.key.seal(k, &domain_row(name)).map_err(sealing))
            .transpose()?;
        let row = Row {
            sealed,
            ..Row::new(name, encode(d)?)
        };
        self.change(&[Op::Insert(Table::DomainNames, String::new(), row)])?;
        Ok(())
    }

    /// Changes a stored domain name's body (its key stays).
    pub fn put_domain_name<T: serde::Serialize>(
        &mut self,
        name: &str,
        d: &T,
    ) -> Result<(), ApiError> {
        let name = name.to_ascii_lowercase();
        let op = Op::UpdateBody(Table::DomainNames, String::new(), name, encode(d)?);
        self.change(&[op])?;
        Ok(())
    }

    /// A domain name's uploaded private key (PEM), opened; `None`: none uploaded.
    pub fn domain_name_key(&self, name: &str) -> Result<Option<String>, ApiError> {
        let name = &name.to_ascii_lowercase();
        self.rows
            .get(Table::DomainNames, "", name)?
            .and_then(|r| r.sealed)
            .map(|s| self.key.open(&s, &domain_row(name)).map_err(sealing))
            .transpose()
    }

    pub fn delete_domain_name(&mut self, name: &str) -> Result<bool, ApiError> {
        self.delete(Table::DomainNames, &name.to_ascii_lowercase())
    }
}

/// What a domain name's private key is sealed for (its row).
fn domain_row(name: &str) -> String {
    format!("control.db domain_names {name}")
}

fn stage_op(api: &str, s: &Stage) -> Result<Op, ApiError> {
    let row = Row::new(&s.stage_name, encode(s)?);
    Ok(Op::Upsert(Table::Stages, api.to_string(), row))
}

fn encode<T: serde::Serialize>(v: &T) -> Result<String, ApiError> {
    serde_json::to_string(v).map_err(|e| ApiError::Internal(format!("encoding: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(doc: &str) -> Result<T, ApiError> {
    serde_json::from_str(doc)
        .map_err(|e| ApiError::Internal(format!("stored state unreadable: {e}")))
}

fn sealing(e: KeyError) -> ApiError {
    ApiError::Internal(format!("API key values: {e}"))
}
