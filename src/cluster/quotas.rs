//! The cluster-quotas thread: the only one that talks to Redis about
//! quotas. It takes the reconciler's asks (every active quota's books,
//! once a tick), runs them through one script call (`quota.lua`) and
//! answers with the grants. A Redis that errs or stays silent past the
//! command timeout is answered `None` (nodes spend only what they hold)
//! and reconnected on the next ask; each change is logged once.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::usage::UsageKeys;
use super::{connect, Connection, Keys};
use crate::config::ClusterConfig;
use crate::throttle::{QuotaAnswer, QuotaAskBatch, QuotaGrant};

/// A node silent this long (seconds) holds nothing: what it held goes back
/// to the others. Long, as a node cut off from Redis still spends what it
/// holds, and a quota must not be exceeded.
const STALE_S: u64 = 10;
/// The books of a period outlive its end by this long (ms).
const KEEP_AFTER_MS: i64 = 86_400_000;

/// Starts the thread; it ends once the reconciler drops its end of `asks`.
pub fn start(
    cfg: ClusterConfig,
    node: String,
    asks: Receiver<QuotaAskBatch>,
    answers: Sender<QuotaAnswer>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("portico-cluster-quotas".into())
        .spawn(move || serve(&cfg, &node, asks, answers))
        .expect("spawn cluster-quotas thread")
}

fn serve(
    cfg: &ClusterConfig,
    node: &str,
    asks: Receiver<QuotaAskBatch>,
    answers: Sender<QuotaAnswer>,
) {
    let script = redis::Script::new(include_str!("quota.lua"));
    let keys = Keys::new(&cfg.key_prefix);
    let usage = UsageKeys::new(&cfg.key_prefix);
    // Each run of the node has its own books (its sequence starts afresh).
    let me = format!("{node}:{}", super::recorder::boot_id());
    // Connected before the first ask, so a fresh node's first grants come
    // within a tick or two.
    let mut conn: Option<Connection> = connect(cfg).ok();
    let mut reachable = true;
    for ask in asks {
        let result = super::connect::call(cfg, &mut conn, |c| {
            lease(&script, (&keys, &usage), &me, &ask, c)
        });
        if result.is_ok() != reachable {
            reachable = result.is_ok();
            match &result {
                Ok(_) => crate::log!(info, "cluster quotas: Redis reachable again"),
                Err(why) => crate::log!(
                    warn,
                    "cluster quotas: Redis unreachable ({why}); nodes spend only what they hold"
                ),
            }
        }
        let answer = QuotaAnswer {
            generation: ask.generation,
            grants: result.ok(),
        };
        if answers.send(answer).is_err() {
            break;
        }
    }
}

/// The hash of one quota's books in one period.
fn quota_key(keys: &Keys, plan: &str, key_id: &str, period: chrono::NaiveDate) -> String {
    keys.key(&format!("quota:{period}:{}:{plan}:{key_id}", plan.len()))
}

/// One script call for every quota of `ask`.
fn lease(
    script: &redis::Script,
    (keys, usage): (&Keys, &UsageKeys),
    me: &str,
    ask: &QuotaAskBatch,
    conn: &mut dyn redis::ConnectionLike,
) -> redis::RedisResult<Vec<QuotaGrant>> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut call = script.prepare_invoke();
    call.arg(me).arg(STALE_S);
    for q in &ask.quotas {
        call.key(quota_key(keys, &q.plan, &q.key_id, q.period));
        call.key(usage.adjust(&q.plan, q.period));
        let lifetime = (q.period_end * 1000 - now_ms).max(0) + KEEP_AFTER_MS;
        call.arg(&q.key_id)
            .arg(q.limit)
            .arg(q.want)
            .arg(q.spent)
            .arg(q.held)
            .arg(ask.seq)
            .arg(lifetime)
            .arg(q.used);
    }
    let out: Vec<(u64, u8)> = call.invoke(conn)?;
    Ok(ask
        .quotas
        .iter()
        .zip(out)
        .map(|(q, (tokens, dry))| QuotaGrant {
            id: q.id,
            tokens,
            dry: dry == 1,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_and_key_cannot_pass_for_another_pair() {
        let k = Keys::new("p");
        let day: chrono::NaiveDate = "2026-11-25".parse().unwrap();
        assert_ne!(
            quota_key(&k, "a:b", "c", day),
            quota_key(&k, "a", "b:c", day)
        );
    }
}
