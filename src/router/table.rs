//! The routing table of one API. Resolution is API Gateway's: the most
//! specific resource path wins (literal over `{param}` over `{greedy+}`,
//! matchit's precedence), then the method on that resource, then `ANY`.
//! A path whose resource lacks the method is not retried on a less
//! specific resource.

use crate::config::MethodSpec;
use crate::http::Method;

use super::PathTemplate;

#[derive(Debug, Default)]
struct Resource {
    methods: Vec<(Method, usize)>,
    any: Option<usize>,
}

#[derive(Debug, Default)]
pub struct RouteTable {
    paths: matchit::Router<usize>,
    resources: Vec<Resource>,
    templates: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("route `{0}` is defined twice")]
    Duplicate(String),
    #[error("path `{path}` conflicts with another route: {reason}")]
    Conflict { path: String, reason: String },
}

/// A matched route and the path parameters, borrowed from the request path.
pub struct RouteMatch<'t, 'p> {
    pub route: usize,
    pub params: matchit::Params<'t, 'p>,
}

impl RouteTable {
    /// Adds route number `route`.
    pub fn insert(
        &mut self,
        method: MethodSpec,
        path: &PathTemplate,
        route: usize,
    ) -> Result<(), RouteError> {
        let key = path.to_matchit();
        let resource = match self.templates.iter().position(|t| *t == key) {
            Some(i) => i,
            None => {
                let i = self.resources.len();
                self.paths
                    .insert(key.clone(), i)
                    .map_err(|e| RouteError::Conflict {
                        path: path.to_string(),
                        reason: e.to_string(),
                    })?;
                self.resources.push(Resource::default());
                self.templates.push(key);
                i
            }
        };
        let r = &mut self.resources[resource];
        let duplicate = || RouteError::Duplicate(format!("{method:?} {path}"));
        match method {
            MethodSpec::Any if r.any.is_some() => return Err(duplicate()),
            MethodSpec::Any => r.any = Some(route),
            MethodSpec::One(m) if r.methods.iter().any(|(x, _)| *x == m) => return Err(duplicate()),
            MethodSpec::One(m) => r.methods.push((m, route)),
        }
        Ok(())
    }

    pub fn find<'t, 'p>(&'t self, method: Method, path: &'p str) -> Option<RouteMatch<'t, 'p>> {
        let m = self.paths.at(path).ok()?;
        let r = &self.resources[*m.value];
        let route = r
            .methods
            .iter()
            .find(|(x, _)| *x == method)
            .map(|(_, i)| *i)
            .or(r.any)?;
        Some(RouteMatch {
            route,
            params: m.params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(routes: &[(&str, &str)]) -> RouteTable {
        let mut t = RouteTable::default();
        for (i, (m, p)) in routes.iter().enumerate() {
            let spec = MethodSpec::try_from(m.to_string()).unwrap();
            t.insert(spec, &PathTemplate::try_from(p.to_string()).unwrap(), i)
                .unwrap();
        }
        t
    }

    #[test]
    fn precedence() {
        let t = table(&[
            ("GET", "/items/{id}"),
            ("GET", "/items/special"),
            ("ANY", "/{proxy+}"),
            ("POST", "/items/{id}"),
        ]);
        assert_eq!(t.find(Method::Get, "/items/special").unwrap().route, 1);
        let m = t.find(Method::Get, "/items/42").unwrap();
        assert_eq!((m.route, m.params.get("id")), (0, Some("42")));
        assert_eq!(t.find(Method::Post, "/items/42").unwrap().route, 3);
        assert!(
            t.find(Method::Delete, "/items/42").is_none(),
            "resource found, method missing"
        );
        let m = t.find(Method::Delete, "/a/b/c").unwrap();
        assert_eq!((m.route, m.params.get("proxy")), (2, Some("a/b/c")));
        assert!(t.find(Method::Get, "/").is_none(), "greedy needs a segment");
    }

    #[test]
    fn duplicates_and_conflicts_are_errors() {
        let mut t = table(&[("GET", "/a/{id}")]);
        let dup = t.insert(
            MethodSpec::One(Method::Get),
            &PathTemplate::try_from("/a/{id}".to_string()).unwrap(),
            9,
        );
        assert!(matches!(dup, Err(RouteError::Duplicate(_))));
        let clash = t.insert(
            MethodSpec::Any,
            &PathTemplate::try_from("/a/{name}".to_string()).unwrap(),
            9,
        );
        assert!(matches!(clash, Err(RouteError::Conflict { .. })));
    }
}
