//! What the data plane serves, and the one place that publishes it: the
//! file's APIs plus the stages deployed through the management API. The
//! admin thread (management changes), the signal loop (SIGHUP reloads the
//! file) and the DNS refresh all compile from here and publish through
//! here, so none of them publishes a snapshot that forgets another's part.
//!
//! A name that does not resolve never holds back a publish: a management
//! API's integration on it answers 502 until the DNS refresh finds it,
//! and a name that resolved before keeps its last addresses. Only the
//! config file's own new names must resolve (at start, `portico check`
//! and SIGHUP), as an error at their line.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crossbeam_channel::Sender;

use super::api::publish::Published;
use super::api::ControlPlane;
use super::warnings::Warnings;
use crate::config::{ApiConfig, Config};
use crate::dataplane::Msg;
use crate::snapshot::{Resolver, Snapshot};
use crate::throttle::{Recatalog, SetRemaining};
use crate::tls::acme::challenges::Challenges;

pub struct Deployed {
    file: Mutex<Config>,
    /// When `file` was loaded (Unix seconds): its APIs' createdDate.
    file_loaded: AtomicI64,
    control: Mutex<Published>,
    /// Bumped after `file` or `control` is replaced, so a DNS refresh
    /// compiled from the inputs before never overwrites a newer change.
    inputs: AtomicU64,
    current: Mutex<Arc<Snapshot>>,
    workers: OnceLock<Workers>,
    /// Where UpdateUsage's quota changes go (the reconciler).
    quota: OnceLock<Sender<SetRemaining>>,
    /// The data plane's HTTP listener, once bound.
    data_addr: OnceLock<SocketAddr>,
    /// Woken when a snapshot needs ACME certificates the last did not.
    acme_wake: OnceLock<Sender<()>>,
    skipped: Warnings,
    unavailable: Warnings,
    stale: Warnings,
}

/// A compiled snapshot and the names whose lookup failed but that kept
/// their last addresses.
struct Compiled {
    snapshot: Snapshot,
    stale: Vec<(String, String)>,
}

/// Where a publish goes: every worker, and the reconciler when the limits
/// change.
struct Workers {
    mailboxes: Vec<Sender<Msg>>,
    reconciler: Sender<Recatalog>,
}

/// How long a publish waits for the workers to take a snapshot.
const ACK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Deployed {
    /// `snapshot` compiled from `file` alone; the management API's stages
    /// are added by `start`.
    pub fn new(file: Config, snapshot: Snapshot) -> Arc<Deployed> {
        Arc::new(Deployed {
            file: Mutex::new(file),
            file_loaded: AtomicI64::new(chrono::Utc::now().timestamp()),
            control: Mutex::new(Published::default()),
            inputs: AtomicU64::new(0),
            current: Mutex::new(Arc::new(snapshot)),
            workers: OnceLock::new(),
            quota: OnceLock::new(),
            data_addr: OnceLock::new(),
            acme_wake: OnceLock::new(),
            skipped: Warnings::new("management API route not served"),
            unavailable: Warnings::new("management API integration answers 502"),
            stale: Warnings::new("upstream name does not resolve now; its last addresses are kept"),
        })
    }

    /// The snapshot workers have been handed (or will start with).
    pub fn current(&self) -> Arc<Snapshot> {
        lock(&self.current).clone()
    }

    /// From now on every publish reaches these workers (and the reconciler).
    pub fn attach(&self, mailboxes: Vec<Sender<Msg>>, reconciler: Sender<Recatalog>) {
        let _ = self.workers.set(Workers {
            mailboxes,
            reconciler,
        });
    }

    /// From now on the ACME thread hears of newly wanted certificates.
    pub fn attach_acme(&self, wake: Sender<()>) {
        let _ = self.acme_wake.set(wake);
    }

    /// The ACME certificates the current snapshot serves stand-ins for
    /// until they are obtained: the management API's domain names'.
    pub fn acme_wanted(&self) -> Vec<crate::config::CertificateConfig> {
        self.current()
            .tls
            .as_ref()
            .map(|t| t.acme_wanted.clone())
            .unwrap_or_default()
    }

    /// From now on UpdateUsage's quota changes reach this reconciler.
    pub fn attach_quota(&self, sets: Sender<SetRemaining>) {
        let _ = self.quota.set(sets);
    }

    /// The config file's APIs as they are now.
    pub fn file_apis(&self) -> Vec<ApiConfig> {
        lock(&self.file).api.clone()
    }

    pub fn dns_refresh_ms(&self) -> u64 {
        lock(&self.file).upstream.dns_refresh_ms
    }

    /// The file's config with the deployed stages after its own APIs (so
    /// the file's limits, caches and metrics keep their numbering).
    pub fn config(&self) -> Config {
        let mut c = lock(&self.file).clone();
        let control = lock(&self.control);
        c.api.extend(control.apis.iter().cloned());
        c.usage_plans.extend(control.plans.iter().cloned());
        c.api_keys.extend(control.keys.iter().cloned());
        c.domain.extend(control.domains.iter().cloned());
        c.tls.uploaded.extend(control.certificates.iter().cloned());
        c.tls.wanted.extend(control.uncertified.iter().cloned());
        c
    }

    /// Reads the management API's deployed stages and publishes them.
    pub fn reload_control(
        &self,
        control: &ControlPlane,
        resolve: Resolver<'_>,
    ) -> Result<(), String> {
        let file = self.file_apis();
        let (published, skipped) = control.deployed(&file).map_err(|e| e.to_string())?;
        self.skipped
            .update(skipped.into_iter().map(|s| (s.clone(), s)));
        // Most management calls (resources, methods, integrations) change
        // nothing the data plane serves until they are deployed.
        if format!("{published:?}") == format!("{:?}", *lock(&self.control)) {
            return Ok(());
        }
        let before = std::mem::replace(&mut *lock(&self.control), published);
        self.inputs.fetch_add(1, Ordering::SeqCst);
        let r = self.compile_and_publish(resolve);
        if r.is_err() {
            *lock(&self.control) = before;
            self.inputs.fetch_add(1, Ordering::SeqCst);
        }
        r
    }

    /// Where the data plane's HTTP listener is bound (TestInvokeMethod
    /// sends its request there).
    pub fn set_data_addr(&self, addr: SocketAddr) {
        let _ = self.data_addr.set(addr);
    }

    pub fn data_addr(&self) -> Option<SocketAddr> {
        self.data_addr.get().copied()
    }

    /// Serves `extra` (TestInvokeMethod's hidden definition) alongside the
    /// rest while `f` runs: published (every worker serving it) before `f`,
    /// withdrawn after it.
    pub fn with_extra<T>(
        &self,
        extra: ApiConfig,
        resolve: Resolver<'_>,
        f: impl FnOnce() -> T,
    ) -> Result<T, String> {
        lock(&self.control).apis.push(extra);
        self.inputs.fetch_add(1, Ordering::SeqCst);
        let r = self.compile_and_publish(&mut *resolve).map(|()| f());
        lock(&self.control).apis.pop();
        self.inputs.fetch_add(1, Ordering::SeqCst);
        let withdrawn = self.compile_and_publish(resolve);
        if let Err(e) = withdrawn {
            crate::log!(error, "test invocation not withdrawn: {e}");
        }
        r
    }

    /// A changed config file (SIGHUP): published if it compiles and keeps
    /// what cannot change while running; else the running one keeps serving.
    pub fn reload_file(&self, file: Config, resolve: Resolver<'_>) -> Result<(), String> {
        {
            let old = lock(&self.file);
            if old.server.listen.0 != file.server.listen.0
                || old.server.workers != file.server.workers
                || old.tls.listen.map(|l| l.0) != file.tls.listen.map(|l| l.0)
                || old.admin.enabled != file.admin.enabled
                || old.admin.listen.0 != file.admin.listen.0
                || old.state.dir != file.state.dir
            {
                // The sockets and the state files are opened once; a reload
                // that silently kept the old ones would lie about what runs.
                return Err(
                    "[server] listen and workers, [tls] listen, [admin] enabled and listen, \
                     and [state] dir need a restart"
                        .into(),
                );
            }
        }
        let before = std::mem::replace(&mut *lock(&self.file), file);
        self.inputs.fetch_add(1, Ordering::SeqCst);
        let r = self.compile_and_publish(resolve);
        match r {
            Ok(()) => self
                .file_loaded
                .store(chrono::Utc::now().timestamp(), Ordering::Relaxed),
            Err(_) => {
                *lock(&self.file) = before;
                self.inputs.fetch_add(1, Ordering::SeqCst);
            }
        }
        r
    }

    /// When the config file now served was loaded (Unix seconds).
    pub fn file_loaded_at(&self) -> i64 {
        self.file_loaded.load(Ordering::Relaxed)
    }

    /// Looks up every upstream name again, those that did not resolve
    /// too; publishes only if an address changed (or a name resolves now).
    /// A name whose lookup fails keeps its last addresses.
    pub fn refresh_dns(&self, resolve: Resolver<'_>) -> Result<bool, String> {
        let current = self.current();
        if current.resolved.is_empty() && current.unresolved.is_empty() {
            return Ok(false);
        }
        let inputs = self.inputs.load(Ordering::SeqCst);
        let next = self.compile(resolve, true)?;
        if next.snapshot.resolved == current.resolved {
            if inputs == self.inputs.load(Ordering::SeqCst) {
                self.warn(&next);
            }
            return Ok(false);
        }
        self.publish(next, Some(inputs))
    }

    /// The config file as it runs now.
    pub fn file_config(&self) -> Config {
        lock(&self.file).clone()
    }

    /// The certificate and key files the HTTPS listener serves from.
    pub fn certificate_files(&self) -> Vec<std::path::PathBuf> {
        let file = lock(&self.file);
        file.tls
            .certificates
            .iter()
            .flat_map(|c| {
                let (cert, key) = c.get_ref().files(&file.state.dir);
                [cert, key]
            })
            .collect()
    }

    /// Certificate files changed on disk: compiles the config again, which
    /// reads them, and publishes it; if they do not load, the running
    /// certificates keep serving.
    pub fn reload_certificates(&self, resolve: Resolver<'_>) -> Result<(), String> {
        self.compile_and_publish(resolve)
    }

    fn compile_and_publish(&self, resolve: Resolver<'_>) -> Result<(), String> {
        let next = self.compile(resolve, false)?;
        self.publish(next, None).map(|_| ())
    }

    /// What would be served now. A name the running snapshot has addresses
    /// for keeps them when its lookup fails; a name that did not resolve is
    /// looked up again only when `retry` (the DNS refresh), so a management
    /// call never waits on a name already known not to resolve.
    fn compile(&self, resolve: Resolver<'_>, retry: bool) -> Result<Compiled, String> {
        let current = self.current();
        let mut stale = Vec::new();
        let mut lookup = |authority: &str| -> io::Result<Vec<SocketAddr>> {
            let failed = current.unresolved.iter().find(|(a, _)| a == authority);
            if let (false, Some((_, e))) = (retry, failed) {
                return Err(io::Error::other(e.clone()));
            }
            let e = match resolve(authority) {
                Ok(addrs) => return Ok(addrs),
                Err(e) => e,
            };
            match current.resolved.iter().find(|(a, _)| a == authority) {
                Some((_, addrs)) => {
                    stale.push((authority.to_string(), e.to_string()));
                    Ok(addrs.clone())
                }
                None => Err(e),
            }
        };
        let snapshot = Snapshot::compile(&self.config(), &mut lookup).map_err(|e| e.to_string())?;
        Ok(Compiled { snapshot, stale })
    }

    /// Logs what `next` cannot serve as it should, each thing once.
    fn warn(&self, next: &Compiled) {
        // By reason: a host that does not resolve is named once, however
        // many routes and stages use it.
        let mut unavailable: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for u in &next.snapshot.unavailable {
            unavailable.entry(&u.reason).or_default().push(&u.route);
        }
        self.unavailable
            .update(unavailable.into_iter().map(|(reason, routes)| {
                let text = format!("{reason} (on {})", routes.join(", "));
                (reason.to_string(), text)
            }));
        self.stale.update(
            next.stale
                .iter()
                .map(|(name, e)| (name.clone(), format!("`{name}`: {e}"))),
        );
    }

    /// Hands `next` to every worker; calls in flight finish on the snapshot
    /// they started with. When the limits changed, the reconciler re-leases
    /// them in the new numbering first and each worker starts its balances
    /// over with those leases (a bucket starts full, as at start-up; a key's
    /// quota keeps what it used).
    ///
    /// `inputs`: what `inputs` was before `next` was compiled; if a change
    /// came since, `next` is not published (false).
    fn publish(&self, next: Compiled, inputs: Option<u64>) -> Result<bool, String> {
        let mut current = lock(&self.current);
        if inputs.is_some_and(|n| n != self.inputs.load(Ordering::SeqCst)) {
            return Ok(false);
        }
        self.warn(&next);
        let mut next = next.snapshot;
        let changed = next.catalog != current.catalog;
        next.catalog_gen = current.catalog_gen + u64::from(changed);
        let next = Arc::new(next);
        if let Some(w) = self.workers.get() {
            let mut leases = if changed {
                let (reply, answer) = crossbeam_channel::bounded(1);
                w.reconciler
                    .send(Recatalog {
                        catalog: next.catalog.clone(),
                        generation: next.catalog_gen,
                        reply,
                    })
                    .map_err(|_| "the reconciler has stopped".to_string())?;
                let leases = answer
                    .recv_timeout(ACK_WAIT)
                    .map_err(|_| "the reconciler did not answer".to_string())?;
                leases.into_iter().map(Some).collect()
            } else {
                vec![None; w.mailboxes.len()]
            };
            leases.resize(w.mailboxes.len(), None);
            // Answered once every worker serves it, so a management call that
            // returns has taken effect (a worker reads its mailbox every tick).
            if tell_all(&w.mailboxes, |i, done| {
                Msg::Snapshot(next.clone(), done, leases[i].take())
            })
            .is_err()
            {
                crate::log!(
                    warn,
                    "a worker took over {ACK_WAIT:?} to take a new snapshot"
                );
            }
        }
        let wanted = |s: &Snapshot| s.tls.as_ref().map(|t| t.acme_wanted.clone());
        if wanted(&next) != wanted(&current) {
            if let Some(wake) = self.acme_wake.get() {
                let _ = wake.try_send(());
            }
        }
        *current = next;
        Ok(true)
    }

    /// Hands every worker the ACME challenges to answer from now on (in
    /// place of the last ones); returns once each answers them, so the
    /// ACME thread tells the CA to validate only when whichever worker the
    /// CA reaches can answer.
    pub fn publish_challenges(&self, challenges: Arc<Challenges>) -> Result<(), String> {
        let w = self
            .workers
            .get()
            .ok_or("no worker has started to answer challenges")?;
        tell_all(&w.mailboxes, |_, done| {
            Msg::Challenges(challenges.clone(), done)
        })
        .map_err(|late| format!("{late} worker(s) did not take them within {ACK_WAIT:?}"))
    }
}

/// Sends every worker the message `msg` makes around an acknowledgement
/// sender and waits, up to `ACK_WAIT`, until each worker it reached has
/// acknowledged; `Err`: how many had not.
fn tell_all(
    mailboxes: &[Sender<Msg>],
    mut msg: impl FnMut(usize, Sender<()>) -> Msg,
) -> Result<(), usize> {
    let (done, acks) = crossbeam_channel::bounded(mailboxes.len());
    let sent = mailboxes
        .iter()
        .enumerate()
        .filter(|(i, m)| m.send(msg(*i, done.clone())).is_ok())
        .count();
    drop(done);
    let deadline = std::time::Instant::now() + ACK_WAIT;
    for taken in 0..sent {
        if acks.recv_deadline(deadline).is_err() {
            return Err(sent - taken);
        }
    }
    Ok(())
}

impl super::api::LiveQuota for Deployed {
    /// UpdateUsage: what remains of `key_id`'s quota in `plan` this period
    /// becomes `remaining`, live. The workers report what they spent first
    /// (so the reconciler counts every call admitted before), the reconciler
    /// sets it and voids that quota's leases, and each worker takes the new
    /// leases before this returns. The period's first day and the
    /// adjustment to store; `None` if no worker meters such a quota.
    fn set_remaining(
        &self,
        plan: &str,
        key_id: &str,
        remaining: u64,
    ) -> Result<Option<(chrono::NaiveDate, i64)>, String> {
        let (Some(w), Some(quota)) = (self.workers.get(), self.quota.get()) else {
            return Ok(None);
        };
        let late = |_| "a worker did not answer in time".to_string();
        tell_all(&w.mailboxes, |_, done| Msg::Sync(None, done)).map_err(late)?;
        let (reply, answer) = crossbeam_channel::bounded(1);
        quota
            .send(SetRemaining {
                plan: plan.to_string(),
                key_id: key_id.to_string(),
                remaining,
                reply,
            })
            .map_err(|_| "the reconciler has stopped".to_string())?;
        let Some(set) = answer
            .recv_timeout(ACK_WAIT)
            .map_err(|_| "the reconciler did not answer".to_string())?
        else {
            return Ok(None);
        };
        let mut leases = set.leases;
        leases.resize(w.mailboxes.len(), Vec::new());
        tell_all(&w.mailboxes, |i, done| {
            Msg::Sync(Some(std::mem::take(&mut leases[i])), done)
        })
        .map_err(late)?;
        Ok(Some((set.period, set.adjust)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::net::SocketAddr;

    const CONFIG: &str = r#"
[[api]]
name = "a"
[api.stages.prod]
variables = { host = "backend.internal:8080" }
[[api.routes]]
method = "GET"
path = "/x"
integration = { type = "http_proxy", uri = "http://${stageVariables.host}/" }
"#;

    fn at(ip: [u8; 4]) -> impl FnMut(&str) -> io::Result<Vec<SocketAddr>> {
        move |_| Ok(vec![SocketAddr::from((ip, 8080))])
    }

    /// A publisher with one stand-in worker that takes every snapshot and
    /// passes it on to the test.
    fn deployed() -> (Arc<Deployed>, crossbeam_channel::Receiver<Arc<Snapshot>>) {
        let config = crate::config::parse("t.toml", CONFIG).unwrap();
        let first = Snapshot::compile(&config, &mut at([10, 0, 0, 1])).unwrap();
        let d = Deployed::new(config, first);
        let (tx, mailbox) = crossbeam_channel::unbounded();
        let (seen_tx, seen) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for m in mailbox {
                if let Msg::Snapshot(s, done, _) = m {
                    let _ = seen_tx.send(s);
                    let _ = done.send(());
                }
            }
        });
        // A stand-in reconciler: no leases.
        let (recatalog, recatalogs) = crossbeam_channel::unbounded::<Recatalog>();
        std::thread::spawn(move || {
            for r in recatalogs {
                let _ = r.reply.send(vec![Vec::new()]);
            }
        });
        d.attach(vec![tx], recatalog);
        (d, seen)
    }

    #[test]
    fn dns_refresh_publishes_only_changed_addresses() {
        let (d, rx) = deployed();
        assert_eq!(d.refresh_dns(&mut at([10, 0, 0, 1])), Ok(false));
        assert!(rx.try_recv().is_err(), "same address: nothing published");
        assert_eq!(d.refresh_dns(&mut at([10, 0, 0, 2])), Ok(true));
        assert!(
            rx.try_recv().is_ok(),
            "published, and taken before the call returned"
        );
        assert_eq!(
            d.current().resolved[0].1,
            vec![SocketAddr::from(([10, 0, 0, 2], 8080))]
        );
        let mut failing =
            |_: &str| -> io::Result<Vec<SocketAddr>> { Err(io::ErrorKind::NotFound.into()) };
        assert_eq!(
            d.refresh_dns(&mut failing),
            Ok(false),
            "a failed lookup keeps the last addresses"
        );
        assert!(rx.try_recv().is_err(), "nothing changed: nothing published");
        assert_eq!(
            d.current().resolved[0].1,
            vec![SocketAddr::from(([10, 0, 0, 2], 8080))]
        );
    }

    /// Resolves only the `known` authorities (to 10.0.0.1) and records
    /// every lookup in `asked`.
    fn only<'a>(
        known: &'a [&str],
        asked: &'a mut Vec<String>,
    ) -> impl FnMut(&str) -> io::Result<Vec<SocketAddr>> + 'a {
        move |a| {
            asked.push(a.to_string());
            if known.contains(&a) {
                Ok(vec![SocketAddr::from(([10, 0, 0, 1], 80))])
            } else {
                Err(io::Error::new(io::ErrorKind::NotFound, "no such host"))
            }
        }
    }

    /// A management API `title` whose `GET /x` proxies to `uri`, deployed
    /// to `prod`.
    fn proxy_api(control: &mut ControlPlane, title: &str, uri: &str) {
        let doc = serde_json::json!({
            "openapi": "3.0.1",
            "info": {"title": title},
            "paths": {"/x": {"get": {"x-amazon-apigateway-integration": {
                "type": "http_proxy", "httpMethod": "GET", "uri": uri
            }}}}
        });
        let (status, api) = control.handle(
            "POST",
            "/restapis",
            "mode=import",
            doc.to_string().as_bytes(),
        );
        assert_eq!(status, 201, "{api}");
        let id = api["id"].as_str().expect("id");
        let deploy = format!("/restapis/{id}/deployments");
        let (status, v) = control.handle("POST", &deploy, "", br#"{"stageName": "prod"}"#);
        assert_eq!(status, 201, "{v}");
    }

    /// The integration `api`'s route serves in the running snapshot.
    fn integration_of(d: &Deployed, api: &str) -> &'static str {
        let s = d.current();
        let a = s.apis.iter().find(|a| a.name == api).expect(api);
        match a.stages[0].integrations[0] {
            crate::snapshot::Integration::HttpProxy(_) => "proxy",
            crate::snapshot::Integration::Unavailable => "unavailable",
            _ => "other",
        }
    }

    #[test]
    fn a_host_that_does_not_resolve_blocks_no_publish_and_serves_once_it_resolves() {
        let (d, rx) = deployed();
        let dir = std::env::temp_dir().join(format!("portico-deployed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut control = ControlPlane::open(&dir).unwrap();
        let mut asked = Vec::new();

        proxy_api(&mut control, "bad", "http://recovering.test/");
        let known = ["backend.internal:8080", "good.test:80"];
        d.reload_control(&control, &mut only(&known, &mut asked))
            .expect("published although a host does not resolve");
        assert!(rx.try_recv().is_ok(), "published");
        assert_eq!(integration_of(&d, "bad/prod"), "unavailable");
        assert_eq!(d.current().unresolved[0].0, "recovering.test:80");
        assert_eq!(d.current().unavailable[0].route, "bad/prod GET /x");

        // A later change is published, without waiting on the bad name.
        proxy_api(&mut control, "good", "http://good.test/");
        asked.clear();
        d.reload_control(&control, &mut only(&known, &mut asked))
            .expect("the next change is published");
        assert!(rx.try_recv().is_ok(), "published");
        assert_eq!(integration_of(&d, "good/prod"), "proxy");
        assert_eq!(integration_of(&d, "bad/prod"), "unavailable");
        assert!(
            !asked.iter().any(|a| a == "recovering.test:80"),
            "a management change looked up a name known not to resolve: {asked:?}"
        );

        // Still not resolving: nothing to publish.
        assert_eq!(d.refresh_dns(&mut only(&known, &mut asked)), Ok(false));
        assert!(
            asked.iter().any(|a| a == "recovering.test:80"),
            "the refresh retries it"
        );
        assert!(rx.try_recv().is_err());

        // It resolves now: the refresh publishes it.
        let now = [
            "backend.internal:8080",
            "good.test:80",
            "recovering.test:80",
        ];
        assert_eq!(d.refresh_dns(&mut only(&now, &mut asked)), Ok(true));
        assert!(rx.try_recv().is_ok(), "published");
        assert_eq!(integration_of(&d, "bad/prod"), "proxy");
        assert!(d.current().unresolved.is_empty());
        assert!(d.current().unavailable.is_empty());
        assert_eq!(d.refresh_dns(&mut only(&now, &mut asked)), Ok(false));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_reload_that_renumbers_throttles_is_published_with_a_new_generation() {
        let (d, rx) = deployed();
        let more = CONFIG.replace(
            "variables = { host",
            "throttle = { rate = 5.0, burst = 5 }\nvariables = { host",
        );
        let first = d.current().catalog_gen;
        d.reload_file(
            crate::config::parse("t.toml", &more).unwrap(),
            &mut at([10, 0, 0, 1]),
        )
        .unwrap();
        let s = rx.try_recv().expect("published");
        assert_eq!(
            s.catalog_gen,
            first + 1,
            "the limits changed: a new numbering"
        );
        assert!(s
            .catalog
            .buckets
            .iter()
            .any(|b| b.what.starts_with("stage")));
        let renamed = more.replace("path = \"/x\"", "path = \"/y\"");
        d.reload_file(
            crate::config::parse("t.toml", &renamed).unwrap(),
            &mut at([10, 0, 0, 1]),
        )
        .unwrap();
        assert_eq!(
            rx.try_recv().unwrap().catalog_gen,
            first + 1,
            "same limits: same numbering"
        );
        assert_eq!(d.config().api[0].routes[0].path.get_ref().to_string(), "/y");
        let more_workers =
            crate::config::parse("t.toml", &format!("[server]\nworkers = 7\n{renamed}")).unwrap();
        assert!(
            d.reload_file(more_workers, &mut at([10, 0, 0, 1])).is_err(),
            "workers need a restart"
        );
    }

    /// The challenge sets one stand-in worker took, in order.
    type Taken = Arc<Mutex<Vec<Arc<Challenges>>>>;

    /// Stand-in workers that keep every challenge set they take (before
    /// acknowledging it), and one more that never reads its mailbox when
    /// `busy`.
    fn workers_taking_challenges(
        n: usize,
        busy: bool,
    ) -> (Arc<Deployed>, Vec<Taken>, crossbeam_channel::Receiver<Msg>) {
        let config = crate::config::parse("t.toml", CONFIG).unwrap();
        let d = Deployed::new(
            config.clone(),
            Snapshot::compile(&config, &mut at([10, 0, 0, 1])).unwrap(),
        );
        let mut mailboxes = Vec::new();
        let mut taken = Vec::new();
        for _ in 0..n {
            let (tx, mailbox) = crossbeam_channel::unbounded();
            let kept = Arc::new(Mutex::new(Vec::new()));
            let k = kept.clone();
            std::thread::spawn(move || {
                for m in mailbox {
                    if let Msg::Challenges(c, done) = m {
                        lock(&k).push(c);
                        let _ = done.send(());
                    }
                }
            });
            mailboxes.push(tx);
            taken.push(kept);
        }
        let (tx, never_read) = crossbeam_channel::unbounded();
        if busy {
            mailboxes.push(tx);
        }
        d.attach(mailboxes, crossbeam_channel::unbounded().0);
        (d, taken, never_read)
    }

    fn answers(c: &Arc<Challenges>, token: &str) -> Option<String> {
        let local = crate::tls::acme::challenges::Local::default();
        local.replace(c.clone());
        local.answer(format!("/.well-known/acme-challenge/{token}").as_bytes())
    }

    #[test]
    fn challenges_are_published_once_every_worker_answers_them() {
        let (d, taken, _) = workers_taking_challenges(3, false);
        let mut c = Challenges::default();
        c.add_token("tok", "tok.key");
        d.publish_challenges(Arc::new(c)).unwrap();
        for t in &taken {
            let t = lock(t);
            assert_eq!(t.len(), 1, "every worker took them before the return");
            assert_eq!(answers(&t[0], "tok").as_deref(), Some("tok.key"));
        }
        d.publish_challenges(Arc::default()).unwrap();
        for t in &taken {
            assert_eq!(answers(&lock(t)[1], "tok"), None, "withdrawn everywhere");
        }
    }

    /// The CA may reach any worker: one that has not taken the challenge
    /// yet must keep the ACME thread from telling the CA to validate.
    #[test]
    fn challenges_are_not_published_while_a_worker_has_not_taken_them() {
        let (d, taken, _never_read) = workers_taking_challenges(2, true);
        let mut c = Challenges::default();
        c.add_token("tok", "tok.key");
        let e = d.publish_challenges(Arc::new(c)).unwrap_err();
        assert!(e.starts_with("1 worker(s) did not take them"), "{e}");
        assert!(taken.iter().all(|t| lock(t).len() == 1));
    }

    #[test]
    fn challenges_need_started_workers() {
        let config = crate::config::parse("t.toml", CONFIG).unwrap();
        let first = Snapshot::compile(&config, &mut at([10, 0, 0, 1])).unwrap();
        let d = Deployed::new(config, first);
        assert!(d.publish_challenges(Arc::default()).is_err());
    }
}
