//! Compiling throttles, usage plans and API keys into the snapshot: every
//! bucket and meter numbered in a `Catalog`, and per stage what each route
//! and each key spends from.

use hashbrown::HashMap;

use crate::config::{Config, Throttle};
use crate::throttle::{BucketId, Catalog, Level, MeterId};

/// An API key as the data plane checks it.
pub struct ApiKey {
    pub id: String,
    pub enabled: bool,
}

/// What a key spends from on one stage, through the one plan covering it.
pub struct KeyStage {
    pub meter: MeterId,
    /// The plan's bucket shared by all its keys.
    pub aggregate: Option<BucketId>,
    /// Per route: this key's bucket (the plan's route override, else its per-key throttle).
    pub per_key: Vec<Option<BucketId>>,
}

/// Per stage: what each route spends, and what each key spends there.
#[derive(Default)]
pub struct StageLimits {
    /// Per route: the route's override in this stage, else the stage default.
    pub route: Vec<Option<BucketId>>,
    /// By index into `Keys::list`.
    pub keys: HashMap<u32, KeyStage>,
}

#[derive(Default)]
pub struct Keys {
    by_value: HashMap<Box<[u8]>, u32>,
    pub list: Vec<ApiKey>,
}

impl Keys {
    pub fn find(&self, value: &[u8]) -> Option<(u32, &ApiKey)> {
        let &i = self.by_value.get(value)?;
        Some((i, &self.list[i as usize]))
    }
}

pub struct Compiled {
    pub catalog: Catalog,
    pub keys: Keys,
    /// `[api][stage]`, stages in the config's (sorted) order.
    pub stages: Vec<Vec<StageLimits>>,
}

/// Numbers every limit in config order, so the same config always gives
/// the same numbering. Keys without a value yet (to be generated) are
/// left out of the lookup.
pub fn compile(config: &Config) -> Compiled {
    let mut catalog = Catalog::new(config.throttle.bucket());
    let mut stages = Vec::with_capacity(config.api.len());
    for api in &config.api {
        let mut per_stage = Vec::with_capacity(api.stages.len());
        for (stage_name, stage) in &api.stages {
            let default = stage.throttle.map(|t| {
                catalog.bucket(
                    Level::Stage,
                    format!("stage {}/{stage_name}", api.name.get_ref()),
                    t,
                )
            });
            let route = api
                .routes
                .iter()
                .map(|r| {
                    let key = r.key();
                    match stage.route_throttle.get(&key) {
                        Some(t) => Some(catalog.bucket(
                            Level::Route,
                            format!("route {}/{stage_name} {key}", api.name.get_ref()),
                            *t.get_ref(),
                        )),
                        None => default,
                    }
                })
                .collect();
            per_stage.push(StageLimits {
                route,
                keys: HashMap::new(),
            });
        }
        stages.push(per_stage);
    }
    let mut keys = Keys::default();
    for key in &config.api_keys {
        let index = keys.list.len() as u32;
        keys.list.push(ApiKey {
            id: key.id().to_string(),
            enabled: key.enabled,
        });
        if let Some(v) = &key.value {
            keys.by_value.insert(v.as_bytes().into(), index);
        }
    }
    for plan in &config.usage_plans {
        let plan_name = plan.name.get_ref();
        let aggregate = plan
            .aggregate_throttle
            .map(|t| catalog.bucket(Level::Plan, format!("plan {plan_name}"), t));
        for (index, key) in config.api_keys.iter().enumerate() {
            if !key.usage_plans.iter().any(|p| p == plan_name) {
                continue;
            }
            let meter = catalog.meter(plan_name, key.id(), plan.quota);
            let per_key = plan.throttle.map(|t| {
                catalog.bucket(
                    Level::Key,
                    format!("key {} in plan {plan_name}", key.id()),
                    t,
                )
            });
            for ps in &plan.api_stages {
                let ps = ps.get_ref();
                // Validated by config::load: both exist.
                let Some(a) = config.api.iter().position(|a| a.name.get_ref() == &ps.api) else {
                    continue;
                };
                let Some(s) = config.api[a].stages.keys().position(|s| s == &ps.stage) else {
                    continue;
                };
                let per_route = config.api[a]
                    .routes
                    .iter()
                    .map(|r| {
                        let key_name = r.key();
                        match ps.route_throttle.get(&key_name) {
                            Some(t) => Some(bucket_for(
                                &mut catalog,
                                key.id(),
                                plan_name,
                                &key_name,
                                *t.get_ref(),
                            )),
                            None => per_key,
                        }
                    })
                    .collect();
                stages[a][s].keys.insert(
                    index as u32,
                    KeyStage {
                        meter,
                        aggregate,
                        per_key: per_route,
                    },
                );
            }
        }
    }
    Compiled {
        catalog,
        keys,
        stages,
    }
}

fn bucket_for(c: &mut Catalog, key: &str, plan: &str, route: &str, t: Throttle) -> BucketId {
    c.bucket(
        Level::Key,
        format!("key {key} in plan {plan}, route {route}"),
        t,
    )
}
