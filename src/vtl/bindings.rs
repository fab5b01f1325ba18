//! What a render reads and what it gives back.

use super::value::Value;

/// What a template reads: the request or response, as the caller has it.
/// Independent of portico's HTTP types so the engine stays a library.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    /// `$input.body`, and the JSON `$input.path`/`$input.json` read.
    pub body: String,
    /// `$input.params().path`: the method's path parameters.
    pub path: Vec<(String, String)>,
    /// `$input.params().querystring`.
    pub querystring: Vec<(String, String)>,
    /// `$input.params().header`.
    pub header: Vec<(String, String)>,
    /// `$context`: a map, nested as AWS's (`identity.sourceIp`, `authorizer.x`).
    pub context: Value,
    /// `$stageVariables`: a map.
    pub stage_variables: Value,
}

/// What `#set($context.requestOverride…)` and `responseOverride` wrote,
/// in the order written (a name written twice keeps its first position).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub request_header: Vec<(String, String)>,
    pub request_querystring: Vec<(String, String)>,
    pub request_path: Vec<(String, String)>,
    pub response_status: Option<u16>,
    pub response_header: Vec<(String, String)>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub body: String,
    pub overrides: Overrides,
}
