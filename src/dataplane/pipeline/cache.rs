//! The stage cache step: after admission, a GET (or HEAD) of a cached route
//! is answered from this worker's shard when it can be; otherwise the call
//! goes to the integration with its answer captured, and stored if allowed.
//! Concurrent misses for one key wait for the first one's fill.

use std::rc::Rc;

use crate::cache::{self, Gate, RouteCache, StageCache, StorePolicy};
use crate::config::UnauthorizedStrategy;
use crate::dataplane::conn::Connection;
use crate::dataplane::errors::FORBIDDEN;
use crate::dataplane::exchange::Exchange;
use crate::dataplane::shard::Shard;
use crate::http::{ErrorResponse, Head, Method};
use crate::router::RouteMatch;
use crate::snapshot::{Snapshot, Stage};

/// An invalidation the client may not make, under FAIL_WITH_403.
const NOT_ALLOWED: ErrorResponse = FORBIDDEN;
const WARNING: &[u8] =
    b"warning: 199 portico \"Cache-Control max-age=0 ignored: not authorized to invalidate\"\r\n";

pub enum Decision<'s> {
    Bypass,
    Refuse(ErrorResponse),
    Use(Lookup<'s>),
}

/// A cached call: where to look and what to do on a miss.
pub struct Lookup<'s> {
    pub stage: &'s StageCache,
    pub route: &'s RouteCache,
    pub key: Vec<u8>,
    /// `Cache-Control: max-age=0`, allowed: skip the lookup, refetch and store.
    pub refresh: bool,
    /// An invalidation ignored, said in a `warning` header.
    pub warn: bool,
    /// GET fills the cache; HEAD is only served from it.
    pub fill: bool,
}

/// Whether and how the cache takes part; `authorized` says the call came
/// with a valid API key (AWS: the right to invalidate).
pub fn decide<'s>(
    stage: &'s Stage,
    m: &RouteMatch<'_, '_>,
    head: &Head,
    buf: &[u8],
    authorized: bool,
) -> Decision<'s> {
    let (Some(sc), Some(Some(rc))) = (&stage.cache, stage.route_cache.get(m.route)) else {
        return Decision::Bypass;
    };
    let method = head.method();
    if method != Method::Get && method != Method::Head {
        return Decision::Bypass;
    }
    let asks_refresh = head
        .headers
        .iter()
        .filter(|(n, _)| n.get(buf).eq_ignore_ascii_case(b"cache-control"))
        .any(|(_, v)| cache::wants_refresh(v.get(buf)));
    let (mut refresh, mut warn) = (false, false);
    if asks_refresh {
        if !sc.require_authorization || authorized {
            refresh = true;
        } else {
            match sc.unauthorized {
                UnauthorizedStrategy::FailWith403 => return Decision::Refuse(NOT_ALLOWED),
                UnauthorizedStrategy::SucceedWithResponseHeader => warn = true,
                UnauthorizedStrategy::SucceedWithoutResponseHeader => {}
            }
        }
    }
    let (_, query) = head.path_and_query(buf);
    let mut key = Vec::with_capacity(64);
    cache::build_key(&mut key, m.route, &m.params, query, rc, head, buf);
    Decision::Use(Lookup {
        stage: sc,
        route: rc,
        key,
        refresh,
        warn,
        fill: method == Method::Get,
    })
}

/// Writes the stored answer into `conn.out` if there is a fresh one.
/// `extra`: this exchange's own header lines (CORS).
pub fn serve_hit(
    w: &Shard,
    snap: &Snapshot,
    out: &mut Vec<u8>,
    extra: &[u8],
    l: &Lookup<'_>,
    ex: &Exchange<'_>,
) -> bool {
    if l.refresh {
        return false;
    }
    let mut caches = w.caches.borrow_mut();
    let Some(hit) = caches.shard(l.stage).get(&l.key, w.now_ms()) else {
        return false;
    };
    let (head, body, age) = (hit.head, hit.body, hit.age);
    // Stored head, then this exchange's headers, then the body.
    out.extend_from_slice(head);
    out.extend_from_slice(b"age: ");
    out.extend_from_slice(itoa::Buffer::new().format(age).as_bytes());
    out.extend_from_slice(b"\r\nx-request-id: ");
    out.extend_from_slice(ex.id.as_bytes());
    out.extend_from_slice(b"\r\ndate: ");
    out.extend_from_slice(&w.date());
    out.extend_from_slice(b"\r\n");
    tag(out, snap, b"Hit");
    if l.warn {
        out.extend_from_slice(WARNING);
    }
    out.extend_from_slice(extra);
    if crate::dataplane::respond::closes(w, ex, false) {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !ex.is_head {
        out.extend_from_slice(body);
    }
    true
}

fn tag(out: &mut Vec<u8>, snap: &Snapshot, value: &[u8]) {
    if !snap.cache_header.is_empty() {
        out.extend_from_slice(&snap.cache_header);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
}

/// A miss on its way to the integration.
pub struct Fill<'s, 'w> {
    lookup: Lookup<'s>,
    /// Another call is filling this key: wait for it first.
    wait_for: Option<Rc<Gate>>,
    /// This call fills the key: waiters are released when it is dropped.
    guard: Option<FillGuard<'w>>,
}

struct FillGuard<'w> {
    w: &'w Shard,
    stage: usize,
    key: Vec<u8>,
}

impl Drop for FillGuard<'_> {
    fn drop(&mut self) {
        self.w.caches.borrow_mut().end_fill(self.stage, &self.key);
    }
}

/// Joins or opens the fill for this key (GETs only; a refresh does not wait).
pub fn begin_fill<'s, 'w>(w: &'w Shard, lookup: Lookup<'s>) -> Fill<'s, 'w> {
    let (mut wait_for, mut guard) = (None, None);
    if lookup.fill && !lookup.refresh {
        match w
            .caches
            .borrow_mut()
            .join_fill(lookup.stage.id, &lookup.key)
        {
            Some(gate) => wait_for = Some(gate),
            None => {
                guard = Some(FillGuard {
                    w,
                    stage: lookup.stage.id,
                    key: lookup.key.clone(),
                })
            }
        }
    }
    Fill {
        lookup,
        wait_for,
        guard,
    }
}

impl Fill<'_, '_> {
    /// Waits (bounded) for another call's fill; true if the answer is now
    /// in `conn.out` from the cache.
    pub async fn wait_for_other(
        &mut self,
        w: &Shard,
        snap: &Snapshot,
        conn: &mut Connection,
        ex: &Exchange<'_>,
    ) -> bool {
        let Some(gate) = self.wait_for.take() else {
            return false;
        };
        let _ = monoio::time::timeout(self.lookup.stage.coalesce_wait, gate.wait()).await;
        serve_hit(w, snap, &mut conn.out, &conn.extra_head, &self.lookup, ex)
    }

    /// Before the integration: marks the answer as a miss and asks the
    /// answer writer for a copy of it, if it may be stored (GET).
    pub fn capture(&self, snap: &Snapshot, conn: &mut Connection, ex: &mut Exchange<'_>) {
        tag(&mut conn.extra_head, snap, b"Miss");
        if self.lookup.warn {
            conn.extra_head.extend_from_slice(WARNING);
        }
        conn.captured.clear();
        ex.capture = self.lookup.fill.then_some(self.lookup.stage.max_item_bytes);
    }

    /// After it: stores the answer if one was kept and may be, then
    /// releases any waiters.
    pub fn store(self, w: &Shard, snap: &Snapshot, conn: &mut Connection, ex: &Exchange<'_>) {
        let l = &self.lookup;
        if ex.capture.is_some() && !conn.captured.is_empty() {
            let policy = StorePolicy {
                statuses: &l.stage.statuses,
                max_item_bytes: l.stage.max_item_bytes,
                allow_set_cookie: l.route.allow_set_cookie,
                cache_header: &snap.cache_header,
                gateway_cors: ex.cors,
            };
            if let Some(s) = cache::storable(&conn.captured, &policy) {
                let (head, body) = s.head.split_at(s.body_at);
                w.caches.borrow_mut().shard(l.stage).insert(
                    &l.key,
                    head,
                    body,
                    w.now_ms(),
                    l.route.ttl,
                );
            }
        }
        conn.captured.clear();
        conn.extra_head.clear();
        drop(self.guard);
    }
}
