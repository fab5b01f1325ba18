//! Reading the config: TOML, the schema (every error, by key path) and
//! the semantic checks that need several keys at once, all reported
//! together in file order.

use std::collections::HashSet;
use std::path::Path;

use super::document::Document;
use super::error::Issue;
use super::{Config, ConfigError, IntegrationConfig};

/// The default config, compiled in so `cargo run --release` needs no file.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/portico.toml");
pub const DEFAULT_CONFIG_NAME: &str = "config/portico.toml (embedded)";

pub fn load_file(path: &Path) -> Result<(Config, String), ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::at(&name, "", 0, None, format!("cannot read: {e}")))?;
    let config = parse(&name, &text)?;
    Ok((config, text))
}

pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
    let doc = Document::parse(text).map_err(|e| ConfigError::syntax(file, text, &e))?;
    let (config, mut issues, removed) = super::recover::deserialize::<Config>(&doc);
    if let Some(mut config) = config {
        let mut checks = Vec::new();
        validate(&config, &mut checks);
        super::plans::validate(&config, &mut checks);
        if let Some(cluster) = &config.cluster {
            super::cluster::validate(cluster, &mut checks);
        }
        super::plans::read_key_values(&mut config, &mut checks);
        for mut issue in checks {
            issue.path = removed.original(&issue.path);
            let looks_in = issue.looks_in.as_ref().map(|p| removed.original(p));
            if !looks_in.is_some_and(|p| removed.touches(&p)) {
                issues.push(issue);
            }
        }
        if issues.is_empty() {
            return Ok(config);
        }
    }
    Err(ConfigError::place(file, text, &doc, issues))
}

/// Checks across keys.
fn validate(config: &Config, out: &mut Vec<Issue>) {
    let s = &config.server;
    if s.max_connections_per_worker == 0 {
        out.push(Issue::new(
            "server.max_connections_per_worker",
            "must be at least 1",
        ));
    }
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    let mut default_api: Option<&str> = None;
    for (i, api) in config.api.iter().enumerate() {
        if api.name.get_ref().is_empty() {
            out.push(Issue::new(format!("api[{i}].name"), "must not be empty"));
        }
        if !names.insert(api.name.get_ref().as_str()) {
            out.push(Issue::new(
                format!("api[{i}].name"),
                format!("API `{}` is defined twice", api.name.get_ref()),
            ));
        }
        if !ids.insert(api.id()) {
            let key = if api.id.is_some() { "id" } else { "name" };
            out.push(Issue::new(
                format!("api[{i}].{key}"),
                format!("API id `{}` is used twice", api.id()),
            ));
        }
        if api.hosts.is_empty() {
            if let Some(other) = default_api {
                out.push(Issue::new(
                    format!("api[{i}].name"),
                    format!("API `{other}` already has no `hosts` (the default API); give one of them hosts"),
                ));
            }
            default_api = Some(api.name.get_ref());
        }
        if let Some(cors) = &api.cors {
            let c = cors.get_ref();
            if c.allow_credentials && c.allow_origins.iter().any(|o| o == "*") {
                out.push(Issue::new(
                    format!("api[{i}].cors.allow_credentials"),
                    "cannot be true with allow_origins = [\"*\"]: name the origins",
                ));
            }
        }
        for (j, route) in api.routes.iter().enumerate() {
            let IntegrationConfig::HttpProxy {
                uri,
                request_parameters,
                ..
            } = route.integration.get_ref()
            else {
                continue;
            };
            let at = format!("api[{i}].routes[{j}].integration.uri");
            for var in uri.stage_variables() {
                for (stage_name, stage) in &api.stages {
                    if !stage.variables.contains_key(var) {
                        out.push(
                            Issue::new(
                                at.as_str(),
                                format!("uses ${{stageVariables.{var}}} but stage `{stage_name}` does not define `{var}`"),
                            )
                            .looks_in(format!("api[{i}].stages")),
                        );
                    }
                }
            }
            for param in uri.path_params() {
                // A non-proxy HTTP integration's are filled by its mappings,
                // a proxy's by the route's parameter of that name or its own.
                let mapped =
                    request_parameters.contains_key(&format!("integration.request.path.{param}"));
                if route.execution.is_none() && !mapped && !route.path.get_ref().has_param(param) {
                    out.push(Issue::new(
                        at.as_str(),
                        format!(
                            "uses {{{param}}} but the route path `{}` has no such parameter",
                            route.path.get_ref()
                        ),
                    ));
                }
            }
        }
    }
    for (i, domain) in config.domain.iter().enumerate() {
        for (j, m) in domain.mappings.iter().enumerate() {
            let key = format!("domain[{i}].mappings[{j}]");
            let m = m.get_ref();
            let Some((a, api)) = config
                .api
                .iter()
                .enumerate()
                .find(|(_, a)| a.name.get_ref() == &m.api)
            else {
                out.push(
                    Issue::new(format!("{key}.api"), format!("no API is named `{}`", m.api))
                        .looks_in("api"),
                );
                continue;
            };
            if !api.stages.contains_key(&m.stage) {
                out.push(
                    Issue::new(
                        format!("{key}.stage"),
                        format!("API `{}` has no stage `{}`", m.api, m.stage),
                    )
                    .looks_in(format!("api[{a}].stages")),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Problem;

    fn errs(text: &str) -> Vec<Problem> {
        parse("t.toml", text)
            .expect_err("config should be rejected")
            .problems
    }

    fn err(text: &str) -> Problem {
        let mut all = errs(text);
        assert_eq!(all.len(), 1, "{all:#?}");
        all.remove(0)
    }

    /// (line, column, key path) of each error.
    fn places(text: &str) -> Vec<(usize, usize, String)> {
        errs(text)
            .into_iter()
            .map(|p| (p.line, p.column, p.key))
            .collect()
    }

    #[test]
    fn default_config_is_valid() {
        let c = parse(DEFAULT_CONFIG_NAME, DEFAULT_CONFIG).unwrap();
        assert_eq!(c.api.len(), 1);
        assert_eq!(c.api[0].routes.len(), 3);
        assert_eq!(c.usage_plans.len(), 1);
        assert_eq!(
            c.api_keys[0].value.as_deref(),
            Some("demo-key-0123456789abcdef")
        );
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let e = err("[server]\nworkers = 1\nlisen = \"1.2.3.4:1\"\n");
        assert_eq!((e.line, e.column, e.width), (3, 1, 5));
        assert_eq!(e.key, "server.lisen");
        assert!(e.message.contains("unknown key `lisen`"), "{e}");
        assert_eq!(e.help.as_deref(), Some("did you mean `listen`?"));
    }

    #[test]
    fn bad_values_name_line() {
        assert_eq!(err("[server]\n\nworkers = \"x\"\n").line, 3);
        let e = err("[server]\ndriver = \"fast\"\n");
        assert_eq!((e.line, e.key.as_str()), (2, "server.driver"));
        let e = err("[server]\nlisten = \"nowhere\"\n");
        assert!(e.message.contains("nowhere"), "{e}");
    }

    #[test]
    fn every_error_in_file_order() {
        let text = "[server]\nlisen = \"x\"\n[limits]\nmax_headers = \"many\"\n[timeouts]\nheader_ms = -1\ndrain = 5\n";
        assert_eq!(
            places(text),
            [
                (2, 1, "server.lisen".into()),
                (4, 15, "limits.max_headers".into()),
                (6, 13, "timeouts.header_ms".into()),
                (7, 1, "timeouts.drain".into()),
            ]
        );
    }

    #[test]
    fn wrong_type_names_the_leaf() {
        let e = err(
            "[[api]]\nname = \"a\"\n[api.stages.prod]\nthrottle = { rate = 1, burst = \"500\" }\n",
        );
        assert_eq!(e.key, "api[0].stages.prod.throttle.burst");
        assert_eq!((e.line, e.column, e.width), (4, 32, 5));
        assert_eq!(e.message, "invalid type: string \"500\", expected u64");
    }

    #[test]
    fn route_errors_point_at_the_route() {
        let base = "[[api]]\nname = \"a\"\n[api.stages.prod]\nvariables = { b = \"x:1\" }\n[[api.routes]]\n";
        let e = err(&format!(
            "{base}method = \"FETCH\"\npath = \"/a\"\nintegration = {{ type = \"mock\" }}\n"
        ));
        assert_eq!((e.line, e.key.as_str()), (6, "api[0].routes[0].method"));
        let e = err(&format!(
            "{base}method = \"GET\"\npath = \"a\"\nintegration = {{ type = \"mock\" }}\n"
        ));
        assert_eq!((e.line, e.key.as_str()), (7, "api[0].routes[0].path"));
        let e = err(&format!(
            "{base}method = \"GET\"\npath = \"/a\"\nintegration = {{ type = \"http_proxy\", uri = \"http://${{stageVariables.nope}}/\" }}\n"
        ));
        assert_eq!(
            (e.line, e.key.as_str()),
            (8, "api[0].routes[0].integration.uri")
        );
        assert!(e.message.contains("nope"), "{e}");
        let e = err(&format!(
            "{base}method = \"GET\"\npath = \"/a\"\nintegration = {{ type = \"http_proxy\", uri = \"ftp://x/\" }}\n"
        ));
        assert_eq!(
            (e.line, e.key.as_str()),
            (8, "api[0].routes[0].integration.uri")
        );
        let e = err(&format!("{base}method = \"GET\"\npath = \"/a\"\nintegration = {{ type = \"mock\", status = \"x\" }}\n"));
        assert_eq!((e.line, e.column), (8, 41));
        assert_eq!(e.key, "api[0].routes[0].integration.status");
        let e = err(&format!("{base}method = \"GET\"\npath = \"/a\"\nintegration = {{ type = \"mock\", stauts = 1 }}\n"));
        assert_eq!(e.key, "api[0].routes[0].integration.stauts");
        assert_eq!((e.line, e.column), (8, 32));
        let e = err(&format!(
            "{base}method = \"GET\"\npath = \"/a\"\nintegration = {{ type = \"mok\" }}\n"
        ));
        assert_eq!(e.key, "api[0].routes[0].integration.type");
    }

    #[test]
    fn missing_key_points_at_its_table() {
        let e = err("[[api]]\nname = \"a\"\n[api.stages.prod]\nthrottle = { rate = 1 }\n");
        assert_eq!((e.line, e.column, e.width), (4, 1, 8));
        assert_eq!(e.message, "missing key `burst`");
    }

    #[test]
    fn unknown_plan_is_reported_at_the_value() {
        let e = err("[[api_keys]]\nname = \"k\"\nusage_plans = [\"gold\"]\n");
        assert_eq!((e.line, e.column, e.width), (3, 16, 6));
        assert_eq!(e.key, "api_keys[0].usage_plans[0]");
    }

    #[test]
    fn indices_are_the_files_after_a_dropped_entry() {
        // api_keys[0] lacks its name and is dropped; the check of the third
        // key still names it [2], on its own line.
        let text = "[[api_keys]]\nid = \"x\"\n[[api_keys]]\nname = \"b\"\n[[api_keys]]\nname = \"c\"\nvalue = \"short\"\n";
        assert_eq!(
            places(text),
            [
                (1, 1, "api_keys[0]".into()),
                (7, 9, "api_keys[2].value".into()),
            ]
        );
    }

    #[test]
    fn no_error_follows_from_a_dropped_entry() {
        // The plan is dropped for its typo; the key naming it is not reported.
        let text = "[[usage_plans]]\nname = \"p\"\napi_stages = [ { api = \"a\", stag = \"s\" } ]\n[[api_keys]]\nname = \"k\"\nusage_plans = [\"p\"]\n";
        let e = err(text);
        assert_eq!(e.key, "usage_plans[0].api_stages[0].stag");
        assert_eq!(e.help.as_deref(), Some("did you mean `stage`?"));
    }

    #[test]
    fn semantic_and_type_errors_together() {
        let text = "[server]\nworkers = \"two\"\n[[domain]]\nname = \"x.example\"\nmappings = [ { api = \"none\", stage = \"prod\" } ]\n";
        assert_eq!(
            places(text),
            [
                (2, 11, "server.workers".into()),
                (5, 22, "domain[0].mappings[0].api".into()),
            ]
        );
    }

    #[test]
    fn syntax_error_is_the_only_one() {
        let e = err("[server]\nworkers = = 1\nlisen = 2\n");
        assert_eq!((e.line, e.column), (2, 11));
        assert!(e.help.unwrap().contains("only error"));
    }

    #[test]
    fn two_default_apis_are_rejected() {
        let e = err("[[api]]\nname = \"a\"\n[[api]]\nname = \"b\"\n");
        assert_eq!(e.line, 4);
    }

    #[test]
    fn rendered_like_rustc() {
        let e = parse("t.toml", "[server]\nworkers = \"x\"\nlisen = 1\n").unwrap_err();
        let want = "\
error: invalid type: string \"x\", expected usize
 --> t.toml:2:11 (server.workers)
  |
2 | workers = \"x\"
  |           ^^^

error: unknown key `lisen`
 --> t.toml:3:1 (server.lisen)
  |
3 | lisen = 1
  | ^^^^^
  = help: did you mean `listen`?

2 errors in t.toml";
        assert_eq!(e.to_string(), want);
    }
}
