//! The last step: what the exchange did goes into this worker's counts
//! and, if the stage keeps one, its access log buffer. Both are the
//! worker's own; nothing here is shared or blocks.

use crate::dataplane::conn::Connection;
use crate::dataplane::exchange::Exchange;
use crate::dataplane::shard::Shard;
use crate::http::{Head, Version};
use crate::metrics::{Exchange as Counted, Fields};
use crate::snapshot::Snapshot;
use crate::throttle::monotonic_ns;

/// Copies the request's method and path (`GET /prod/x?y`), as the head's
/// bytes are consumed before the line is written.
pub fn keep_request_line(to: &mut Vec<u8>, head: &Head, buf: &[u8]) {
    to.clear();
    to.extend_from_slice(head.method().as_str().as_bytes());
    to.push(b' ');
    let (path, query) = head.path_and_query(buf);
    to.extend_from_slice(path);
    if let Some(q) = query {
        to.push(b'?');
        to.extend_from_slice(q);
    }
}

pub fn exchange(
    w: &Shard,
    snap: &Snapshot,
    conn: &Connection,
    ex: &Exchange<'_>,
    received: u64,
    sent: u64,
) {
    let seen = ex;
    let latency_us = monotonic_ns().saturating_sub(ex.started_ns) / 1000;
    let count = |slot| {
        w.metrics.borrow_mut().record(&Counted {
            slot,
            status: ex.status,
            latency_us,
            integration_us: ex.integration.map(|(us, _)| us),
            bytes_in: received,
            bytes_out: sent,
            cache: seen.cache,
            throttled: seen.throttled,
            invalid: seen.invalid,
            meter: seen.meter,
        })
    };
    let Some(stage) = seen.stage else {
        // Reached no API: counted in slot 0, logged nowhere.
        count(0);
        return;
    };
    if let Some(base) = stage.slots {
        count(base + seen.route.unwrap_or(stage.integrations.len()));
    }
    let (Some(log), Some(api)) = (&stage.access_log, seen.api) else {
        return;
    };
    let line = &conn.log_path;
    let (method, path) = match line.iter().position(|&b| b == b' ') {
        Some(sp) => (&line[..sp], &line[sp + 1..]),
        None => (&line[..], &line[..0]),
    };
    let resource = seen
        .route
        .and_then(|r| api.resources.get(r))
        .map_or("-", |(_, p)| p.as_str());
    let key_id = seen
        .meter
        .and_then(|m| snap.catalog.meters.get(m as usize))
        .map(|m| m.key_id.as_str());
    let time = w.clock.clf_date();
    let fields = Fields {
        request_id: ex.id.as_bytes(),
        source_ip: &conn.peer_ip,
        request_time: &time,
        request_time_epoch_ms: w.now_ms(),
        http_method: std::str::from_utf8(method).unwrap_or("-"),
        resource_path: resource,
        path,
        status: ex.status,
        protocol: match ex.version {
            Version::Http10 => "HTTP/1.0",
            _ => "HTTP/1.1",
        },
        response_length: sent,
        response_latency_ms: latency_us / 1000,
        integration_latency_ms: ex.integration.map(|(us, _)| us / 1000),
        integration_status: ex.integration.map(|(_, s)| s),
        api_key_id: key_id,
        stage: &stage.name,
        api_id: &api.id,
        error_message: ex.error,
    };
    w.access_log
        .borrow_mut()
        .line(log.dest, |out| log.format.write(out, &fields));
}
