//! Checks of usage plans and API keys, and reading key values kept out of
//! the config file (`value_env`, `value_file`).

use std::collections::{HashMap, HashSet};

use super::error::Issue;
use super::{ApiConfig, Config};

/// AWS requires API key values of at least 20 characters.
pub const MIN_KEY_LEN: usize = 20;

pub fn validate(config: &Config, out: &mut Vec<Issue>) {
    if !(1..=1000).contains(&config.throttle.reconcile_ms) {
        out.push(Issue::new(
            "throttle.reconcile_ms",
            "must be between 1 and 1000 milliseconds",
        ));
    }
    let h = &config.cache.header;
    if !h
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    {
        out.push(Issue::new(
            "cache.header",
            format!("`{h}` is not a header name"),
        ));
    }
    if config.admin.token.is_some() && config.admin.token_env.is_some() {
        out.push(Issue::new(
            "admin.token_env",
            "give `token` or `token_env`, not both",
        ));
    }
    if config.state.flush_ms == 0 {
        out.push(Issue::new("state.flush_ms", "must be at least 1"));
    }
    for (i, api) in config.api.iter().enumerate() {
        for (stage_name, stage) in &api.stages {
            let stage_key = format!("api[{i}].stages.{stage_name}");
            if let Some(c) = &stage.cache {
                for (n, bad) in c.statuses.iter().enumerate() {
                    if !(100..=599).contains(bad) {
                        out.push(Issue::new(
                            format!("{stage_key}.cache.statuses[{n}]"),
                            format!("{bad} is not an HTTP status"),
                        ));
                    }
                }
            }
            for route in stage.route_throttle.keys() {
                if !has_route(api, route) {
                    out.push(
                        Issue::new(
                            format!("{stage_key}.route_throttle.\"{route}\""),
                            no_route(api, route),
                        )
                        .looks_in(format!("api[{i}].routes")),
                    );
                }
            }
        }
    }
    let mut plan_names = HashSet::new();
    for (p, plan) in config.usage_plans.iter().enumerate() {
        if !plan_names.insert(plan.name.get_ref().as_str()) {
            out.push(Issue::new(
                format!("usage_plans[{p}].name"),
                format!("usage plan `{}` is defined twice", plan.name.get_ref()),
            ));
        }
        for (s, ps) in plan.api_stages.iter().enumerate() {
            let key = format!("usage_plans[{p}].api_stages[{s}]");
            let ps = ps.get_ref();
            let Some((a, api)) = config
                .api
                .iter()
                .enumerate()
                .find(|(_, a)| a.name.get_ref() == &ps.api)
            else {
                out.push(
                    Issue::new(
                        format!("{key}.api"),
                        format!("no API is named `{}`", ps.api),
                    )
                    .looks_in("api"),
                );
                continue;
            };
            if !api.stages.contains_key(&ps.stage) {
                out.push(
                    Issue::new(
                        format!("{key}.stage"),
                        format!("API `{}` has no stage `{}`", ps.api, ps.stage),
                    )
                    .looks_in(format!("api[{a}].stages")),
                );
            }
            for route in ps.route_throttle.keys() {
                if !has_route(api, route) {
                    out.push(
                        Issue::new(
                            format!("{key}.route_throttle.\"{route}\""),
                            no_route(api, route),
                        )
                        .looks_in(format!("api[{a}].routes")),
                    );
                }
            }
        }
    }
    let mut ids = HashSet::new();
    for (k, key) in config.api_keys.iter().enumerate() {
        let path = format!("api_keys[{k}]");
        if !ids.insert(key.id()) {
            let field = if key.id.is_some() { "id" } else { "name" };
            out.push(Issue::new(
                format!("{path}.{field}"),
                format!("API key id `{}` is used twice", key.id()),
            ));
        }
        let sources = [
            ("value", key.value.is_some()),
            ("value_env", key.value_env.is_some()),
            ("value_file", key.value_file.is_some()),
        ];
        if let Some((second, _)) = sources.iter().filter(|(_, s)| *s).nth(1) {
            out.push(Issue::new(
                format!("{path}.{second}"),
                "give at most one of `value`, `value_env` and `value_file`",
            ));
        }
        if let Some(v) = &key.value {
            if let Err(m) = check_value(v) {
                out.push(Issue::new(format!("{path}.value"), m));
            }
        }
        // Which plan covers each API stage for this key: AWS allows one.
        let mut covered: HashMap<(&str, &str), &str> = HashMap::new();
        for (n, plan_name) in key.usage_plans.iter().enumerate() {
            let at = format!("{path}.usage_plans[{n}]");
            let Some(plan) = config
                .usage_plans
                .iter()
                .find(|p| p.name.get_ref() == plan_name)
            else {
                out.push(
                    Issue::new(at, format!("no usage plan is named `{plan_name}`"))
                        .looks_in("usage_plans"),
                );
                continue;
            };
            for ps in &plan.api_stages {
                let ps = ps.get_ref();
                if let Some(other) = covered.insert((&ps.api, &ps.stage), plan_name) {
                    out.push(Issue::new(
                        at.as_str(),
                        format!(
                            "usage plans `{other}` and `{plan_name}` both cover API `{}` stage `{}`; a key may be in only one plan per API stage",
                            ps.api, ps.stage
                        ),
                    ));
                }
            }
        }
    }
}

/// Reads `value_env` and `value_file` into `value`; keys with none of
/// them are left for the state directory to generate.
pub fn read_key_values(config: &mut Config, out: &mut Vec<Issue>) {
    for (k, key) in config.api_keys.iter_mut().enumerate() {
        let (field, read) = if let Some(var) = &key.value_env {
            (
                "value_env",
                std::env::var(var).map_err(|_| format!("environment variable `{var}` is not set")),
            )
        } else if let Some(file) = &key.value_file {
            (
                "value_file",
                std::fs::read_to_string(file)
                    .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                    .map_err(|e| format!("cannot read `{}`: {e}", file.display())),
            )
        } else {
            continue;
        };
        match read.and_then(|v| check_value(&v).map(|()| v)) {
            Ok(value) => key.value = Some(value),
            Err(m) => out.push(Issue::new(format!("api_keys[{k}].{field}"), m)),
        }
    }
}

fn check_value(v: &str) -> Result<(), String> {
    if v.chars().count() < MIN_KEY_LEN {
        return Err(format!(
            "an API key value must be at least {MIN_KEY_LEN} characters (got {})",
            v.chars().count()
        ));
    }
    if v.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err("an API key value must not contain spaces or control characters".into());
    }
    Ok(())
}

fn has_route(api: &ApiConfig, key: &str) -> bool {
    api.routes.iter().any(|r| r.key() == key)
}

fn no_route(api: &ApiConfig, key: &str) -> String {
    let known: Vec<String> = api
        .routes
        .iter()
        .map(|r| format!("\"{}\"", r.key()))
        .collect();
    format!(
        "API `{}` has no route `{key}` (routes are named \"METHOD /path\" as declared: {})",
        api.name.get_ref(),
        known.join(", ")
    )
}
