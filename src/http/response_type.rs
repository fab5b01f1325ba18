//! Which of Amazon API Gateway's gateway response types an answer the
//! gateway makes itself is: an API's gateway responses are looked up by it,
//! so every refusal must say which one it is.

/// AWS's response types, in the order `GetGatewayResponses` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseType {
    Default4xx,
    Default5xx,
    ResourceNotFound,
    Unauthorized,
    InvalidApiKey,
    AccessDenied,
    AuthorizerFailure,
    AuthorizerConfigurationError,
    InvalidSignature,
    ExpiredToken,
    MissingAuthenticationToken,
    IntegrationFailure,
    IntegrationTimeout,
    ApiConfigurationError,
    UnsupportedMediaType,
    BadRequestParameters,
    BadRequestBody,
    RequestTooLarge,
    Throttled,
    QuotaExceeded,
    WafFiltered,
}

impl ResponseType {
    pub const ALL: [ResponseType; 21] = [
        ResponseType::Default4xx,
        ResponseType::Default5xx,
        ResponseType::ResourceNotFound,
        ResponseType::Unauthorized,
        ResponseType::InvalidApiKey,
        ResponseType::AccessDenied,
        ResponseType::AuthorizerFailure,
        ResponseType::AuthorizerConfigurationError,
        ResponseType::InvalidSignature,
        ResponseType::ExpiredToken,
        ResponseType::MissingAuthenticationToken,
        ResponseType::IntegrationFailure,
        ResponseType::IntegrationTimeout,
        ResponseType::ApiConfigurationError,
        ResponseType::UnsupportedMediaType,
        ResponseType::BadRequestParameters,
        ResponseType::BadRequestBody,
        ResponseType::RequestTooLarge,
        ResponseType::Throttled,
        ResponseType::QuotaExceeded,
        ResponseType::WafFiltered,
    ];

    /// A status's fallback type, for answers no specific type describes.
    pub const fn of_status(status: u16) -> ResponseType {
        if status >= 500 {
            ResponseType::Default5xx
        } else {
            ResponseType::Default4xx
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ResponseType::Default4xx => "DEFAULT_4XX",
            ResponseType::Default5xx => "DEFAULT_5XX",
            ResponseType::ResourceNotFound => "RESOURCE_NOT_FOUND",
            ResponseType::Unauthorized => "UNAUTHORIZED",
            ResponseType::InvalidApiKey => "INVALID_API_KEY",
            ResponseType::AccessDenied => "ACCESS_DENIED",
            ResponseType::AuthorizerFailure => "AUTHORIZER_FAILURE",
            ResponseType::AuthorizerConfigurationError => "AUTHORIZER_CONFIGURATION_ERROR",
            ResponseType::InvalidSignature => "INVALID_SIGNATURE",
            ResponseType::ExpiredToken => "EXPIRED_TOKEN",
            ResponseType::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
            ResponseType::IntegrationFailure => "INTEGRATION_FAILURE",
            ResponseType::IntegrationTimeout => "INTEGRATION_TIMEOUT",
            ResponseType::ApiConfigurationError => "API_CONFIGURATION_ERROR",
            ResponseType::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ResponseType::BadRequestParameters => "BAD_REQUEST_PARAMETERS",
            ResponseType::BadRequestBody => "BAD_REQUEST_BODY",
            ResponseType::RequestTooLarge => "REQUEST_TOO_LARGE",
            ResponseType::Throttled => "THROTTLED",
            ResponseType::QuotaExceeded => "QUOTA_EXCEEDED",
            ResponseType::WafFiltered => "WAF_FILTERED",
        }
    }

    pub fn parse(name: &str) -> Option<ResponseType> {
        ResponseType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The status AWS documents for the type; `None` for the two fallbacks,
    /// which keep the status of the answer they stand in for.
    pub fn default_status(self) -> Option<u16> {
        Some(match self {
            ResponseType::Default4xx | ResponseType::Default5xx => return None,
            ResponseType::ResourceNotFound => 404,
            ResponseType::Unauthorized => 401,
            ResponseType::InvalidApiKey
            | ResponseType::AccessDenied
            | ResponseType::InvalidSignature
            | ResponseType::ExpiredToken
            | ResponseType::MissingAuthenticationToken
            | ResponseType::WafFiltered => 403,
            ResponseType::AuthorizerFailure
            | ResponseType::AuthorizerConfigurationError
            | ResponseType::ApiConfigurationError => 500,
            ResponseType::IntegrationFailure | ResponseType::IntegrationTimeout => 504,
            ResponseType::UnsupportedMediaType => 415,
            ResponseType::BadRequestParameters | ResponseType::BadRequestBody => 400,
            ResponseType::RequestTooLarge => 413,
            ResponseType::Throttled | ResponseType::QuotaExceeded => 429,
        })
    }

    /// The fallback (DEFAULT_4XX or DEFAULT_5XX) an uncustomised type uses.
    pub fn fallback(self, status: u16) -> ResponseType {
        match self {
            ResponseType::Default4xx | ResponseType::Default5xx => self,
            _ => ResponseType::of_status(status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in ResponseType::ALL {
            assert_eq!(ResponseType::parse(t.name()), Some(t));
        }
        assert_eq!(ResponseType::parse("default_4xx"), None);
    }

    #[test]
    fn fallbacks_follow_the_status_class() {
        assert_eq!(
            ResponseType::Throttled.fallback(429),
            ResponseType::Default4xx
        );
        assert_eq!(
            ResponseType::IntegrationFailure.fallback(502),
            ResponseType::Default5xx
        );
    }
}
