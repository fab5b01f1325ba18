//! The integration request's body: the request template for the request's
//! content type, or the body passed through, or a 415, as the
//! integration's passthrough behaviour says.

use crate::config::PassthroughBehavior;
use crate::snapshot::Execution;
use crate::vtl::Template;

pub enum Chosen<'e> {
    Template(&'e Template),
    /// The body goes to the integration as it came.
    Passthrough,
    /// 415 Unsupported Media Type.
    Unsupported,
}

/// The template for `content_type` (the request's `Content-Type`, media
/// type only; none: `application/json`, as AWS assumes).
pub fn choose<'e>(e: &'e Execution, content_type: Option<&str>) -> Chosen<'e> {
    let media = media_type(content_type.unwrap_or(""));
    let media = if media.is_empty() {
        "application/json".to_string()
    } else {
        media
    };
    if let Some((_, t)) = e.request_templates.iter().find(|(ct, _)| **ct == *media) {
        return Chosen::Template(t);
    }
    match e.passthrough {
        PassthroughBehavior::WhenNoMatch => Chosen::Passthrough,
        PassthroughBehavior::WhenNoTemplates if e.request_templates.is_empty() => {
            Chosen::Passthrough
        }
        PassthroughBehavior::WhenNoTemplates | PassthroughBehavior::Never => Chosen::Unsupported,
    }
}

/// `Application/JSON; charset=utf-8` → `application/json`.
pub fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Why a non-proxy execution did not reach its integration response.
pub enum Failed {
    /// No template for the content type, and passthrough refused (415).
    Unsupported,
    /// AWS's "Execution failed due to configuration error", and why.
    Configuration(String),
}
