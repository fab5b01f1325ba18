//! The cluster-limits thread: the only one that talks to Redis about
//! rate limits. It takes the reconciler's asks (every active bucket's
//! books, once a tick), runs them through one script call (`limits.lua`:
//! refill by Redis `TIME`, grants in proportion to each node's demand) and
//! answers with the grants. Redis traffic is at most one EVALSHA per tick
//! per busy node, whatever the request rate, and fewer while its buckets
//! are far from their limits (`Fleet::ask`); a PING every half second
//! from an idle one. A Redis that errs or stays silent past
//! the command timeout is answered `None` (the reconciler falls back as
//! configured) and reconnected on the next ask; each change between
//! reachable and not is logged once.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::{connect, Connection, Keys};
use crate::config::ClusterConfig;
use crate::throttle::{Answer, Ask, Grant};

/// A node silent this long (seconds) no longer counts: its demand is
/// forgotten and the tokens it held are given up.
const STALE_S: f64 = 2.0;
/// Half-life (seconds) of a silent node's last reported demand.
const DEMAND_HALF_LIFE_S: f64 = 0.05;

/// Starts the thread; it ends once the reconciler drops its end of `asks`.
pub fn start(
    cfg: ClusterConfig,
    node: String,
    asks: Receiver<Ask>,
    answers: Sender<Answer>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("portico-cluster-limits".into())
        .spawn(move || serve(&cfg, &node, asks, answers))
        .expect("spawn cluster-limits thread")
}

fn serve(cfg: &ClusterConfig, node: &str, asks: Receiver<Ask>, answers: Sender<Answer>) {
    let script = redis::Script::new(include_str!("limits.lua"));
    let keys = Keys::new(&cfg.key_prefix);
    // Connected and the script loaded before the first ask: a bucket's
    // first lease would otherwise wait for both while its calls are refused.
    let mut conn: Option<Connection> = connect(cfg).ok().and_then(|mut c| {
        script.load(c.as_mut()).ok()?;
        Some(c)
    });
    let mut reachable = true;
    for ask in asks {
        let result = super::connect::call(cfg, &mut conn, |c| lease(&script, &keys, node, &ask, c));
        let grants = match result {
            Ok(g) => {
                if !reachable {
                    crate::log!(
                        info,
                        "cluster limits: Redis reachable again; limits are leased cluster-wide"
                    );
                    reachable = true;
                }
                Some(g)
            }
            Err(why) => {
                if reachable {
                    crate::log!(
                        warn,
                        "cluster limits: Redis unreachable ({why}); limits fall back to {:?}",
                        cfg.on_redis_down
                    );
                    reachable = false;
                }
                None
            }
        };
        let answer = Answer {
            generation: ask.generation,
            grants,
        };
        if answers.send(answer).is_err() {
            break;
        }
    }
}

/// One script call for every bucket of `ask` (a PING for an ask of none).
fn lease(
    script: &redis::Script,
    keys: &Keys,
    node: &str,
    ask: &Ask,
    conn: &mut dyn redis::ConnectionLike,
) -> redis::RedisResult<Vec<Grant>> {
    if ask.buckets.is_empty() {
        // An idle node's probe: whether Redis answers at all.
        redis::cmd("PING").query::<()>(conn)?;
        return Ok(Vec::new());
    }
    let mut call = script.prepare_invoke();
    call.arg(node).arg(STALE_S).arg(DEMAND_HALF_LIFE_S);
    for b in &ask.buckets {
        call.key(keys.key(&format!("rl:{}", b.what)));
        call.arg(b.rate)
            .arg(b.burst)
            .arg(format!("{:.3}", b.books.demand))
            .arg(b.books.want)
            .arg(b.books.held)
            .arg(b.books.returned)
            .arg(u8::from(b.books.exact));
    }
    let out: Vec<(u64, u64, u64, u64)> = call.invoke(conn)?;
    Ok(ask
        .buckets
        .iter()
        .zip(out)
        .map(|(b, (tokens, share, dry, slack))| Grant {
            id: b.id,
            tokens,
            share: share as f64 / 1e6,
            dry: dry != 0,
            slack: slack != 0,
        })
        .collect())
}
