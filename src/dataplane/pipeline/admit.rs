//! Admission: the API key a route requires, then every throttle that
//! applies (account → stage or route → plan → key) and the key's quota,
//! all decided on this worker's own balances before any integration call.

use crate::dataplane::errors::{INVALID_API_KEY, QUOTA_EXCEEDED, THROTTLED};
use crate::dataplane::shard::Shard;
use crate::http::{ErrorResponse, Head};
use crate::snapshot::{Api, Snapshot, Stage};
use crate::throttle::{monotonic_ns, BucketId, Level, MeterId, Refusal, ACCOUNT};

use super::identity::{self, Repeated};

/// Ticks a call waits for a quota lease before it is refused: enough for
/// the reconciler to move unused leases from an idle worker.
const QUOTA_WAIT_TICKS: u32 = 10;

/// Ticks a call waits for a fleet bucket's tokens from Redis before it is
/// refused: a refusal reported at once is asked for at the reconciler's
/// next tick and granted at the one after; 5 ticks still refused a lone
/// call now and then on a loaded 2-core machine, 10 did not. Longer holds
/// cost accuracy: held up to a 3 s command timeout, a key of 10 rps
/// admitted 59 of 80 and a 2,000 rps stage 0.70 of its limit (79 of 80 and
/// 0.99 with 10 ticks).
const FLEET_WAIT_TICKS: u32 = 10;

/// What a call spends: up to four buckets and the key's meter.
pub struct Admission<'k> {
    /// The throttle catalog the ids below are numbered by.
    generation: u64,
    buckets: [BucketId; 4],
    n: usize,
    /// The key's meter in its plan: the call's bytes are counted against it.
    pub meter: Option<MeterId>,
    /// The API key the call was admitted with.
    pub key: Option<&'k [u8]>,
}

/// Checks the API key and works out which limits the call spends from.
/// `usage_key`: the key a Lambda authorizer named (`usageIdentifierKey`),
/// used instead of the `x-api-key` header, as AWS's AUTHORIZER key source.
pub fn check<'k>(
    snap: &Snapshot,
    api: &Api,
    stage: &Stage,
    route: usize,
    head: &Head,
    buf: &'k [u8],
    usage_key: Option<&'k str>,
) -> Result<Admission<'k>, ErrorResponse> {
    let mut buckets = [ACCOUNT; 4];
    let mut n = 1;
    let mut push = |b: Option<BucketId>| {
        if let Some(b) = b {
            buckets[n] = b;
            n += 1;
        }
    };
    push(stage.limits.route[route]);
    let mut meter = None;
    let mut used_key = None;
    if api.key_required[route] {
        let value = match usage_key {
            Some(k) => k.as_bytes(),
            // Two keys: refused, not the first taken (see `identity`).
            None => api_key(head, buf).ok().flatten().ok_or(INVALID_API_KEY)?,
        };
        used_key = Some(value);
        let (index, key) = snap.keys.find(value).ok_or(INVALID_API_KEY)?;
        if !key.enabled {
            return Err(INVALID_API_KEY);
        }
        // Only a plan covering this stage makes the key valid here.
        let ks = stage.limits.keys.get(&index).ok_or(INVALID_API_KEY)?;
        push(ks.aggregate);
        push(ks.per_key[route]);
        meter = Some(ks.meter);
    }
    Ok(Admission {
        generation: snap.catalog_gen,
        buckets,
        n,
        meter,
        key: used_key,
    })
}

/// Spends from this worker's balances, or refuses with AWS's answer and
/// the level that refused. `now_ns`: the call's time for shared cells
/// (`throttle::monotonic_ns`, read by the caller); after a wait for a
/// quota lease the clock is read again.
pub async fn spend(
    w: &Shard,
    a: &Admission<'_>,
    now_ns: u64,
) -> Result<(), (ErrorResponse, Level)> {
    let mut waited = 0;
    loop {
        let r = {
            let mut local = w.throttle.borrow_mut();
            if local.generation != a.generation {
                // The limits were renumbered since this call began: let it
                // through rather than spend from the wrong balances.
                return Ok(());
            }
            let now_ns = if waited == 0 { now_ns } else { monotonic_ns() };
            let (buckets, now_s) = (&a.buckets[..a.n], w.now_secs());
            local.admit_counting(buckets, a.meter, now_s, || now_ns, waited == 0)
        };
        if r.is_err() {
            w.ran_dry();
        }
        return match r {
            Ok(()) => Ok(()),
            Err(Refusal::Throttled { retry_after, level }) => {
                Err((THROTTLED.retry_after(retry_after), level))
            }
            Err(Refusal::QuotaExceeded { retry_after }) => {
                Err((QUOTA_EXCEEDED.retry_after(retry_after), Level::Quota))
            }
            Err(Refusal::QuotaPending) if waited < QUOTA_WAIT_TICKS => {
                waited += 1;
                w.next_tick().await;
                continue;
            }
            Err(Refusal::QuotaPending) => Err((QUOTA_EXCEEDED.retry_after(1), Level::Quota)),
            Err(Refusal::Pending { .. }) if waited < FLEET_WAIT_TICKS => {
                waited += 1;
                w.next_tick().await;
                continue;
            }
            Err(Refusal::Pending { retry_after, level }) => {
                Err((THROTTLED.retry_after(retry_after), level))
            }
        };
    }
}

/// The `x-api-key` header's value, as AWS's HEADER key source reads it.
pub fn api_key<'b>(head: &Head, buf: &'b [u8]) -> Result<Option<&'b [u8]>, Repeated> {
    identity::header(head, buf, b"x-api-key")
}
