//! Invoking a function: the Invoke API request built (and signed when
//! `[aws]` has credentials) and sent over this worker's pool. Apart from
//! `invoker`, which the snapshot holds, because it runs on the worker.

use crate::aws::sigv4;
use crate::dataplane::conn::Connection;
use crate::dataplane::errors::{INTEGRATION_FAILURE, INTEGRATION_TIMEOUT};
use crate::dataplane::exchange::{Exchange, Outcome};
use crate::dataplane::respond;
use crate::dataplane::shard::Shard;
use crate::http::ErrorResponse;
use crate::snapshot::Snapshot;
use crate::upstream::{call, CallError, Reply};

use super::invoker::{Credentials, Invoker};

impl Invoker {
    /// Invokes the function with `event` (RequestResponse) and waits for its result.
    pub async fn invoke(
        &self,
        w: &Shard,
        snap: &Snapshot,
        event: &[u8],
    ) -> Result<Reply, CallError> {
        self.invoke_with(w, snap, event, &[]).await
    }

    /// `invoke` with the Invoke API's own headers (`x-amz-invocation-type`
    /// …; names lowercase, values checked by the caller), signed with the rest.
    pub async fn invoke_with(
        &self,
        w: &Shard,
        snap: &Snapshot,
        event: &[u8],
        extra: &[(String, String)],
    ) -> Result<Reply, CallError> {
        let mut request = Vec::with_capacity(event.len() + 512);
        request.extend_from_slice(b"POST ");
        request.extend_from_slice(self.path.as_bytes());
        request.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        request.extend_from_slice(self.endpoint.authority.as_bytes());
        request.extend_from_slice(b"\r\ncontent-type: application/json\r\ncontent-length: ");
        request.extend_from_slice(itoa::Buffer::new().format(event.len()).as_bytes());
        request.extend_from_slice(b"\r\n");
        for (name, value) in extra {
            request.extend_from_slice(name.as_bytes());
            request.extend_from_slice(b": ");
            request.extend_from_slice(value.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        if let Some(c) = &self.credentials {
            for (name, value) in self.signature_headers(c, event, extra) {
                request.extend_from_slice(name.as_bytes());
                request.extend_from_slice(b": ");
                request.extend_from_slice(value.as_bytes());
                request.extend_from_slice(b"\r\n");
            }
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(event);
        call(w, snap, &self.endpoint, &mut request, self.timeout).await
    }

    /// What a call that got no result answers (504 past the timeout, 502
    /// otherwise, as API Gateway answers), and why, for the log.
    pub fn failure(e: CallError) -> (ErrorResponse, String) {
        match e {
            CallError::TimedOut => (
                INTEGRATION_TIMEOUT,
                "no result within the integration timeout".into(),
            ),
            CallError::Failed => (
                INTEGRATION_FAILURE,
                "the Invoke API could not be reached or answered badly".into(),
            ),
        }
    }

    /// Answers `err` for a call that gave no usable result, logging why.
    pub async fn refuse(
        &self,
        w: &Shard,
        conn: &mut Connection,
        ex: &mut Exchange<'_>,
        (err, why): (ErrorResponse, String),
    ) -> Outcome {
        crate::log!(warn, worker = w.id, "lambda `{}`: {why}", self.function);
        respond::error(w, conn, ex, err, false).await
    }

    /// `x-amz-date`, `x-amz-security-token` and `authorization`.
    fn signature_headers(
        &self,
        c: &Credentials,
        event: &[u8],
        extra: &[(String, String)],
    ) -> Vec<(&'static str, String)> {
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let mut signed = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("host".to_string(), self.endpoint.authority.clone()),
            ("x-amz-date".to_string(), amz_date.clone()),
        ];
        if let Some(t) = &c.session_token {
            signed.push(("x-amz-security-token".to_string(), t.clone()));
        }
        signed.extend(extra.iter().cloned());
        signed.sort();
        let r = sigv4::Signed {
            method: "POST",
            path: &self.path,
            query: "",
            headers: &signed,
            body: event,
        };
        let authorization = sigv4::sign(&r, &c.key_id, &c.secret, &self.region, "lambda");
        let mut out = vec![("x-amz-date", amz_date)];
        if let Some(t) = &c.session_token {
            out.push(("x-amz-security-token", t.clone()));
        }
        out.push(("authorization", authorization));
        out
    }
}
