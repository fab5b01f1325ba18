//! Emptying a stage's cache: every worker holds its own shard, so each is
//! asked through its mailbox and the answer waits for their confirmations
//! (blocking: run off the admin listener's I/O thread).

use std::time::Duration;

use crossbeam_channel::{bounded, Sender};

use crate::cluster::flush::Target;
use crate::control::publisher::Deployed;
use crate::dataplane::Msg;

/// `POST /cache/flush?api=A&stage=S`: the stage named in the config or by
/// id; how many workers confirmed.
pub fn flush_named(
    mailboxes: &[Sender<Msg>],
    deployed: &Deployed,
    api: Option<&str>,
    stage: Option<&str>,
) -> Result<usize, String> {
    let snap = &deployed.current();
    let api = match api {
        Some(name) => snap
            .apis
            .iter()
            .find(|a| a.name == name || a.id == name)
            .ok_or_else(|| format!("no API `{name}`"))?,
        None if snap.apis.len() == 1 => &snap.apis[0],
        None => return Err("say which API: ?api=NAME".into()),
    };
    let stage_name = stage.ok_or("say which stage: ?stage=NAME")?;
    let stage = api
        .stages
        .iter()
        .find(|s| s.name == stage_name)
        .ok_or_else(|| format!("API `{}` has no stage `{stage_name}`", api.name))?;
    let cache = stage
        .cache
        .as_ref()
        .ok_or_else(|| format!("stage `{stage_name}` has no cache"))?;
    Ok(flush_shards(mailboxes, cache.id))
}

/// FlushStageCache of the management API: the stage's cache (and its
/// canary's) on every worker.
pub fn flush_deployed(
    mailboxes: &[Sender<Msg>],
    deployed: &Deployed,
    rest_api_id: &str,
    stage_name: &str,
) {
    let snap = deployed.current();
    for api in snap.apis.iter().filter(|a| a.id == rest_api_id) {
        for s in api.stages.iter().filter(|s| s.name == stage_name) {
            if let Some(c) = &s.cache {
                flush_shards(mailboxes, c.id);
            }
        }
    }
}

/// FlushStageAuthorizersCache: the API's kept Lambda authorizer decisions
/// on every worker (they are kept per API, so every stage's go).
pub fn flush_authorizers(mailboxes: &[Sender<Msg>], rest_api_id: &str) -> usize {
    let (ack_tx, ack_rx) = bounded(mailboxes.len());
    let sent = mailboxes
        .iter()
        .filter(|m| {
            m.send(Msg::FlushAuthorizers(
                rest_api_id.to_string(),
                ack_tx.clone(),
            ))
            .is_ok()
        })
        .count();
    (0..sent)
        .filter(|_| ack_rx.recv_timeout(Duration::from_secs(5)).is_ok())
        .count()
}

/// A fleet flush request on this node's workers, as the management call
/// that made it did on its own.
pub fn flush_target(mailboxes: &[Sender<Msg>], deployed: &Deployed, target: &Target) {
    match target {
        Target::Stage { api, stage } => flush_deployed(mailboxes, deployed, api, stage),
        Target::Authorizers { api } => {
            flush_authorizers(mailboxes, api);
        }
    }
}

/// Empties cache `id` on every worker; how many confirmed.
fn flush_shards(mailboxes: &[Sender<Msg>], id: usize) -> usize {
    let (ack_tx, ack_rx) = bounded(mailboxes.len());
    let mut sent = 0;
    for m in mailboxes {
        if m.send(Msg::FlushCache(id, ack_tx.clone())).is_ok() {
            sent += 1;
        }
    }
    let mut flushed = 0;
    for _ in 0..sent {
        if ack_rx.recv_timeout(Duration::from_secs(5)).is_ok() {
            flushed += 1;
        }
    }
    flushed
}
