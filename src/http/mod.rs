//! HTTP/1.1 on httparse + bytes: request heads, body framing, responses.
//!
//! Parsed heads are offsets into the connection's read buffer, not borrowed
//! slices, so a head survives the buffer being handed to the kernel for the
//! next read (monoio owns buffers while I/O is in flight).

mod body;
mod error;
pub mod forward;
mod head;
mod io;
mod method;
pub mod path;
pub mod query;
mod relay;
mod response;
mod response_type;
mod stream;

pub use body::{write_chunk, BodyKind, ChunkedDecoder, Framing, CHUNKED_END};
pub use error::HttpError;
pub use head::{
    content_length_value, header_has_token, parse_decimal, parse_request_head, Head, Span, Version,
};
pub use io::Io;
pub use method::Method;
pub use relay::{buffered_body_len, Relay, RelayError, Sink};
pub use response::{end_head, reason, status_of, write_error, write_status_line, ErrorResponse};
pub use response_type::ResponseType;
pub use stream::Stream;
