//! Checks of usage plans and API keys, and reading key values kept out of
//! the config file (`value_env`, `value_file`).

use std::collections::{HashMap, HashSet};

use super::{ApiConfig, Config};

type Fail = (usize, String, String);

/// AWS requires API key values of at least 20 characters.
pub const MIN_KEY_LEN: usize = 20;

pub fn validate(config: &Config) -> Result<(), Fail> {
    if !(1..=1000).contains(&config.throttle.reconcile_ms) {
        return Err((
            0,
            "throttle.reconcile_ms".into(),
            "must be between 1 and 1000 milliseconds".into(),
        ));
    }
    let h = &config.cache.header;
    if !h
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    {
        return Err((
            0,
            "cache.header".into(),
            format!("`{h}` is not a header name"),
        ));
    }
    if config.admin.token.is_some() && config.admin.token_env.is_some() {
        return Err((
            0,
            "admin.token".into(),
            "give `token` or `token_env`, not both".into(),
        ));
    }
    for (i, api) in config.api.iter().enumerate() {
        for (name, stage) in &api.stages {
            if let Some(c) = &stage.cache {
                if let Some(bad) = c.statuses.iter().find(|s| !(100..=599).contains(*s)) {
                    return Err((
                        api.name.span().start,
                        format!("api[{i}].stages.{name}.cache.statuses"),
                        format!("{bad} is not an HTTP status"),
                    ));
                }
            }
        }
    }
    if config.state.flush_ms == 0 {
        return Err((0, "state.flush_ms".into(), "must be at least 1".into()));
    }
    for (i, api) in config.api.iter().enumerate() {
        for (stage_name, stage) in &api.stages {
            for (route, t) in &stage.route_throttle {
                if !has_route(api, route) {
                    return Err((
                        t.span().start,
                        format!("api[{i}].stages.{stage_name}.route_throttle.\"{route}\""),
                        no_route(api, route),
                    ));
                }
            }
        }
    }
    let mut plan_names = HashSet::new();
    for (p, plan) in config.usage_plans.iter().enumerate() {
        let at = plan.name.span().start;
        if !plan_names.insert(plan.name.get_ref().as_str()) {
            return Err((
                at,
                format!("usage_plans[{p}].name"),
                format!("usage plan `{}` is defined twice", plan.name.get_ref()),
            ));
        }
        for (s, ps) in plan.api_stages.iter().enumerate() {
            let key = format!("usage_plans[{p}].api_stages[{s}]");
            let at = ps.span().start;
            let ps = ps.get_ref();
            let Some(api) = config.api.iter().find(|a| a.name.get_ref() == &ps.api) else {
                return Err((
                    at,
                    format!("{key}.api"),
                    format!("no API is named `{}`", ps.api),
                ));
            };
            if !api.stages.contains_key(&ps.stage) {
                return Err((
                    at,
                    format!("{key}.stage"),
                    format!("API `{}` has no stage `{}`", ps.api, ps.stage),
                ));
            }
            for (route, t) in &ps.route_throttle {
                if !has_route(api, route) {
                    return Err((
                        t.span().start,
                        format!("{key}.route_throttle.\"{route}\""),
                        no_route(api, route),
                    ));
                }
            }
        }
    }
    let mut ids = HashSet::new();
    for (k, key) in config.api_keys.iter().enumerate() {
        let at = key.name.span().start;
        let path = format!("api_keys[{k}]");
        if !ids.insert(key.id()) {
            return Err((
                at,
                format!("{path}.id"),
                format!("API key id `{}` is used twice", key.id()),
            ));
        }
        let sources = [
            key.value.is_some(),
            key.value_env.is_some(),
            key.value_file.is_some(),
        ];
        if sources.iter().filter(|&&s| s).count() > 1 {
            return Err((
                at,
                format!("{path}.value"),
                "give at most one of `value`, `value_env` and `value_file`".into(),
            ));
        }
        if let Some(v) = &key.value {
            check_value(v).map_err(|m| (at, format!("{path}.value"), m))?;
        }
        // Which plan covers each API stage for this key: AWS allows one.
        let mut covered: HashMap<(&str, &str), &str> = HashMap::new();
        for plan_name in &key.usage_plans {
            let Some(plan) = config
                .usage_plans
                .iter()
                .find(|p| p.name.get_ref() == plan_name)
            else {
                return Err((
                    at,
                    format!("{path}.usage_plans"),
                    format!("no usage plan is named `{plan_name}`"),
                ));
            };
            for ps in &plan.api_stages {
                let ps = ps.get_ref();
                if let Some(other) = covered.insert((&ps.api, &ps.stage), plan_name) {
                    return Err((
                        at,
                        format!("{path}.usage_plans"),
                        format!(
                            "usage plans `{other}` and `{plan_name}` both cover API `{}` stage `{}`; a key may be in only one plan per API stage",
                            ps.api, ps.stage
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Reads `value_env` and `value_file` into `value`; keys with none of
/// them are left for the state directory to generate.
pub fn read_key_values(config: &mut Config) -> Result<(), Fail> {
    for (k, key) in config.api_keys.iter_mut().enumerate() {
        let at = key.name.span().start;
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
        let value = read
            .and_then(|v| check_value(&v).map(|()| v))
            .map_err(|m| (at, format!("api_keys[{k}].{field}"), m))?;
        key.value = Some(value);
    }
    Ok(())
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
