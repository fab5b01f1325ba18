//! Emptying a stage's cache: every worker holds its own shard, so each is
//! asked through its mailbox and the answer waits for their confirmations
//! (blocking: run off the admin listener's I/O thread).

use std::time::Duration;

use crossbeam_channel::{bounded, Sender};

use crate::cluster::flush::Target;
use crate::control::publisher::Deployed;
use crate::dataplane::Msg;
use crate::snapshot::Api;

/// `POST /cache/flush?api=A&stage=S`: the stage named in the config or by
/// id, checked to have a cache, as the fleet's other nodes find it: by
/// the API's id (a config-file API's is its `id`, else its name, the
/// same on every node of a fleet, which shares one config file) and the
/// stage's name.
pub fn find(deployed: &Deployed, api: Option<&str>, stage: Option<&str>) -> Result<Target, String> {
    let snap = &deployed.current();
    let named: Vec<&Api> = match api {
        Some(name) => snap
            .apis
            .iter()
            .filter(|a| a.name == name || a.id == name)
            .collect(),
        None if snap.apis.len() == 1 => vec![&snap.apis[0]],
        None => return Err("say which API: ?api=NAME".into()),
    };
    let first = named
        .first()
        .ok_or_else(|| format!("no API `{}`", api.unwrap_or_default()))?;
    let stage_name = stage.ok_or("say which stage: ?stage=NAME")?;
    // A management API serves each stage as an API of its own, one id.
    let (api, stage) = named
        .iter()
        .find_map(|a| {
            a.stages
                .iter()
                .find(|s| s.name == stage_name)
                .map(|s| (a, s))
        })
        .ok_or_else(|| format!("API `{}` has no stage `{stage_name}`", first.name))?;
    if stage.cache.is_none() {
        return Err(format!("stage `{stage_name}` has no cache"));
    }
    Ok(Target::Stage {
        api: api.id.clone(),
        stage: stage_name.to_string(),
    })
}

/// FlushStageCache of the management API, and `/cache/flush` of the stage
/// [`find`] named: the stage's cache (and its canary's) on every worker;
/// how many workers confirmed every one of them.
fn flush_deployed(
    mailboxes: &[Sender<Msg>],
    deployed: &Deployed,
    rest_api_id: &str,
    stage_name: &str,
) -> usize {
    let snap = deployed.current();
    snap.apis
        .iter()
        .filter(|a| a.id == rest_api_id)
        .flat_map(|a| a.stages.iter().filter(|s| s.name == stage_name))
        .filter_map(|s| s.cache.as_ref())
        .map(|c| flush_shards(mailboxes, c.id))
        .min()
        .unwrap_or(0)
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
    flush_counted(mailboxes, deployed, target);
}

/// [`flush_target`], and how many workers confirmed.
pub fn flush_counted(mailboxes: &[Sender<Msg>], deployed: &Deployed, target: &Target) -> usize {
    match target {
        Target::Stage { api, stage } => flush_deployed(mailboxes, deployed, api, stage),
        Target::Authorizers { api } => flush_authorizers(mailboxes, api),
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
