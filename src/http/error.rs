/// Why a request head or body was refused; each maps to one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("Bad request")]
    BadRequest,
    #[error("Invalid request framing")]
    Smuggling,
    #[error("Request header fields too large")]
    HeadersTooLarge,
    #[error("Request-URI too long")]
    UriTooLong,
    #[error("Request entity too large")]
    BodyTooLarge,
    #[error("Request timeout")]
    Timeout,
    #[error("Transfer-Encoding not implemented")]
    UnsupportedEncoding,
}

impl HttpError {
    pub fn status(self) -> u16 {
        match self {
            HttpError::BadRequest | HttpError::Smuggling => 400,
            HttpError::HeadersTooLarge => 431,
            HttpError::UriTooLong => 414,
            HttpError::BodyTooLarge => 413,
            HttpError::Timeout => 408,
            HttpError::UnsupportedEncoding => 501,
        }
    }
}

impl From<HttpError> for super::ErrorResponse {
    fn from(e: HttpError) -> Self {
        let message = match e {
            HttpError::BadRequest => "Bad request",
            HttpError::Smuggling => {
                "Invalid request framing: conflicting Content-Length or Transfer-Encoding"
            }
            HttpError::HeadersTooLarge => "Request header fields too large",
            HttpError::UriTooLong => "Request-URI too long",
            HttpError::BodyTooLarge => "Request entity too large",
            HttpError::Timeout => "Request timeout",
            HttpError::UnsupportedEncoding => "Transfer-Encoding not implemented",
        };
        let e2 = super::ErrorResponse::new(e.status(), message);
        match e {
            HttpError::BodyTooLarge => e2.typed(super::ResponseType::RequestTooLarge),
            _ => e2,
        }
    }
}
