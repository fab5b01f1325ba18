//! A MOCK integration's answer: the status its request template names.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "Unable to parse statusCode. It should be an integer that is defined in the request template."
)]
pub struct NoStatus;

/// The `statusCode` of the rendered request template, as AWS reads it; a
/// request passed through (no template) answers the default, 200.
pub fn status(rendered: Option<&str>) -> Result<u16, NoStatus> {
    let Some(text) = rendered else {
        return Ok(200);
    };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| NoStatus)?;
    v.get("statusCode")
        .and_then(serde_json::Value::as_u64)
        .filter(|s| (100..=599).contains(s))
        .map(|s| s as u16)
        .ok_or(NoStatus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_is_the_templates_status_code() {
        assert_eq!(status(Some("{\"statusCode\": 500}")), Ok(500));
        assert_eq!(status(Some(" { \"statusCode\" : 200 , \"x\": 1}")), Ok(200));
        assert_eq!(status(None), Ok(200));
        assert_eq!(status(Some("{}")), Err(NoStatus));
        assert_eq!(status(Some("{\"statusCode\": \"200\"}")), Err(NoStatus));
        assert_eq!(status(Some("not json")), Err(NoStatus));
        assert_eq!(status(Some("{\"statusCode\": 99999}")), Err(NoStatus));
    }
}
