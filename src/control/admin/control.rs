//! The management API's single owner: one thread holds the control store,
//! the audit log and the set of used signatures, and runs calls one at a
//! time in arrival order. The listener hands it calls over a channel and
//! awaits the answers, so nothing else it serves (health, metrics) waits
//! for the control store.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::audit::{self, Audit};
use super::auth::{Caller, Keys, Request};
use super::refusal::Refusal;
use super::replay::{self, Seen};
use super::stage_cache;
use crate::cluster::flush::Target;
use crate::control::api::{ApiError, ControlPlane};
use crate::control::fleet_flush::Announcer;
use crate::control::publisher::Deployed;
use crate::dataplane::Msg;

/// A management call as the listener received it.
pub struct Call {
    pub method: String,
    /// As sent, still percent-encoded.
    pub path: String,
    pub query: String,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub source_ip: String,
    /// When its head was read.
    pub received: Instant,
    /// Who the head says is calling and the body, or why the listener
    /// refused the call without reading (all of) it.
    pub admitted: Result<(Caller, Vec<u8>), Refusal>,
}

/// What the caller is told: API Gateway's JSON (no body for `Null`),
/// `x-amzn-ErrorType` on errors and a request id.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub error_type: Option<String>,
    pub request_id: String,
}

/// What the control thread is asked to do.
pub enum Job {
    /// A management call, and where its answer goes.
    Call(Call, oneshot::Sender<Answer>),
    /// Another node of the fleet changed the shared state up to this
    /// revision: publish it here too.
    Republish(u64),
}

/// How the fleet's watcher asks the control thread to publish a newer
/// revision. Weak, so the control thread still ends once the listener's
/// tasks are gone.
#[derive(Clone)]
pub struct Republisher(pub(super) mpsc::WeakSender<Job>);

impl Republisher {
    /// Whether the control thread took the request (a full queue or a
    /// stopped thread: not now).
    pub fn republish(&self, revision: u64) -> bool {
        self.0
            .upgrade()
            .is_some_and(|jobs| jobs.try_send(Job::Republish(revision)).is_ok())
    }
}

/// What the control thread owns.
pub struct Owner {
    pub keys: Arc<Keys>,
    pub control: Option<ControlPlane>,
    /// Where every management call is recorded before it is answered.
    pub audit: Option<Audit>,
    /// Numbers the calls' request ids.
    pub calls: u64,
    pub deployed: Arc<Deployed>,
    pub mailboxes: Vec<Sender<Msg>>,
    /// How long a signature may be used again after its first use.
    pub replay_grace: Duration,
    /// A fleet node's way to the other nodes' caches (`[cluster]`).
    pub fleet_flush: Option<Announcer>,
}

/// Runs calls until every sender of `jobs` is gone.
pub fn spawn(owner: Owner, mut jobs: mpsc::Receiver<Job>) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("portico-control".into())
        .spawn(move || {
            let mut owner = owner;
            let mut seen = Seen::new(replay::CAPACITY, owner.replay_grace);
            while let Some(job) = jobs.blocking_recv() {
                match job {
                    Job::Call(call, reply) => {
                        let _ = reply.send(owner.manage(&mut seen, call));
                    }
                    Job::Republish(revision) => owner.republish(revision),
                }
            }
        })
        .expect("spawn control thread")
}

impl Owner {
    /// Authenticated, then served by the control plane; recorded in the
    /// audit log whatever the outcome.
    fn manage(&mut self, seen: &mut Seen, call: Call) -> Answer {
        self.calls += 1;
        let request_id = format!(
            "{:08x}-{:04x}-4000-8000-{:012x}",
            std::process::id(),
            self.calls >> 48,
            self.calls & 0xffff_ffff_ffff
        );
        if self.audit.is_none() {
            // Nothing changes unless it can be recorded.
            let e = ApiError::Internal("the audit log is unavailable; see the server log".into());
            return answer(e.status(), e.body(), request_id);
        }
        let (method, path, query) = (call.method.as_str(), call.path.as_str(), &call.query);
        let (name, params) =
            ControlPlane::operation(method, path, query).unwrap_or(("Unknown", Vec::new()));
        let request = Request {
            method,
            path,
            query,
            headers: &call.headers,
        };
        let now = chrono::Utc::now().timestamp();
        let (body, admitted) = match &call.admitted {
            Ok((caller, body)) => (
                body.as_slice(),
                self.keys
                    .with_body(*caller, &request, body, seen, (now, call.received)),
            ),
            Err(refusal) => (&[][..], Err(refusal.clone())),
        };
        let (status, value) = match admitted {
            Err(r) => (r.status(), r.body()),
            Ok(()) => self.run(method, path, query, body, name, &params),
        };
        let error = (status >= 400).then(|| {
            (
                value["__type"]
                    .as_str()
                    .unwrap_or("InternalFailureException"),
                value["message"].as_str().unwrap_or_default(),
            )
        });
        if let Some(log) = self.audit.as_mut() {
            let header = |name: &str| {
                call.headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
            };
            let auth = header("authorization").unwrap_or_default();
            let access_key_id = auth
                .split("Credential=")
                .nth(1)
                .and_then(|c| c.split('/').next())
                .or_else(|| auth.starts_with("Bearer ").then_some("admin-token"));
            let event = audit::Event {
                name,
                access_key_id,
                source_ip: &call.source_ip,
                user_agent: header("user-agent"),
                request_parameters: audit::parameters(&params, query, body),
                response: (status < 400).then_some(&value),
                error,
                request_id: &request_id,
            };
            let changed = status < 400 && !matches!(method, "GET" | "HEAD");
            if let Err(e) = log.record(&event, changed) {
                crate::log!(error, "audit log write failed: {e}");
                let e = ApiError::Internal(format!("the audit log could not be written: {e}"));
                return answer(e.status(), e.body(), request_id);
            }
        }
        answer(status, value, request_id)
    }

    /// The control plane's answer; a change is published to the data plane.
    fn run(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
        name: &str,
        params: &[(&str, String)],
    ) -> (u16, Value) {
        let Some(control) = self.control.as_mut() else {
            let e = ApiError::Internal("the control store is not open".into());
            return (e.status(), e.body());
        };
        control.set_view(self.deployed.config(), self.deployed.file_loaded_at());
        control.set_deployed(self.deployed.clone());
        if matches!(name, "TestInvokeMethod" | "TestInvokeAuthorizer") {
            let answer = super::test_invoke::run(control, &self.deployed, name, path, query, body);
            return match answer {
                Ok(v) => (200, v),
                Err(e) => (e.status(), e.body()),
            };
        }
        let answer = control.handle(method, path, query, body);
        if answer.0 >= 300 {
            return answer;
        }
        let param = |n: &str| {
            params
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default()
        };
        let target = match name {
            "FlushStageCache" => Target::Stage {
                api: param("restapi_id"),
                stage: param("stage_name"),
            },
            "FlushStageAuthorizersCache" => Target::Authorizers {
                api: param("restapi_id"),
            },
            _ => {
                if method != "GET" && !self.publish() {
                    // Stored and acknowledged, not served here yet: on a
                    // fleet node the follower retries, as for another
                    // node's change.
                    if let Some(control) = &self.control {
                        control.unpublished();
                    }
                }
                return answer;
            }
        };
        let (mailboxes, deployed) = (&self.mailboxes, &self.deployed);
        let local = || stage_cache::flush_target(mailboxes, deployed, &target);
        // A fleet's other nodes too: 202 only once every live node has.
        match self.fleet_flush.as_mut() {
            None => local(),
            Some(fleet) => {
                if let Err(e) = fleet.flush(&target, local) {
                    return (e.status(), e.body());
                }
            }
        }
        answer
    }

    /// Publishes the fleet's state another node changed, and records the
    /// revision once it is served here.
    fn republish(&mut self, revision: u64) {
        if self.publish() {
            if let Some(control) = &self.control {
                control.published(revision);
            }
        }
    }

    /// Recompiles what the data plane serves after a management change and
    /// publishes it; a change the data plane cannot serve is logged and the
    /// running snapshot kept.
    fn publish(&mut self) -> bool {
        let Some(control) = self.control.as_ref() else {
            return false;
        };
        if let Err(e) = self
            .deployed
            .reload_control(control, &mut crate::snapshot::system_resolve)
        {
            crate::log!(error, "management change not published: {e}");
            return false;
        }
        true
    }
}

fn answer(status: u16, body: Value, request_id: String) -> Answer {
    let error_type = (status >= 400).then(|| {
        body["__type"]
            .as_str()
            .unwrap_or("InternalFailureException")
            .to_string()
    });
    Answer {
        status,
        body,
        error_type,
        request_id,
    }
}
