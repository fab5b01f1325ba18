//! What the data plane serves, and the one place that publishes it: the
//! file's APIs plus the stages deployed through the management API. The
//! admin thread (management changes), the signal loop (SIGHUP reloads the
//! file) and the DNS refresh all compile from here and publish through
//! here, so none of them publishes a snapshot that forgets another's part.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crossbeam_channel::Sender;

use super::worker::Msg;
use crate::config::{ApiConfig, Config};
use crate::control::{ControlPlane, Published};
use crate::model::{Resolver, Snapshot};
use crate::throttle::Recatalog;
use crate::tls::acme::challenges::Challenges;

pub struct Deployed {
    file: Mutex<Config>,
    /// When `file` was loaded (Unix seconds): its APIs' createdDate.
    file_loaded: AtomicI64,
    control: Mutex<Published>,
    current: Mutex<Arc<Snapshot>>,
    workers: OnceLock<Workers>,
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
            current: Mutex::new(Arc::new(snapshot)),
            workers: OnceLock::new(),
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
        for s in skipped {
            crate::log!(warn, "management API route not served: {s}");
        }
        // Most management calls (resources, methods, integrations) change
        // nothing the data plane serves until they are deployed.
        if format!("{published:?}") == format!("{:?}", *lock(&self.control)) {
            return Ok(());
        }
        let before = std::mem::replace(&mut *lock(&self.control), published);
        let r = self.compile_and_publish(resolve);
        if r.is_err() {
            *lock(&self.control) = before;
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
        let r = self.compile_and_publish(resolve);
        match r {
            Ok(()) => self
                .file_loaded
                .store(chrono::Utc::now().timestamp(), Ordering::Relaxed),
            Err(_) => *lock(&self.file) = before,
        }
        r
    }

    /// When the config file now served was loaded (Unix seconds).
    pub fn file_loaded_at(&self) -> i64 {
        self.file_loaded.load(Ordering::Relaxed)
    }

    /// Re-resolves upstream names; publishes only if an address changed.
    /// A failed resolution keeps the last good addresses.
    pub fn refresh_dns(&self, resolve: Resolver<'_>) -> Result<bool, String> {
        let next = Snapshot::compile(&self.config(), resolve).map_err(|e| e.to_string())?;
        if next.resolved == self.current().resolved {
            return Ok(false);
        }
        self.publish(next).map(|_| true)
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
        let next = Snapshot::compile(&self.config(), resolve).map_err(|e| e.to_string())?;
        self.publish(next)
    }

    /// Hands `next` to every worker; calls in flight finish on the snapshot
    /// they started with. When the limits changed, the reconciler re-leases
    /// them in the new numbering first and each worker starts its balances
    /// over with those leases (a bucket starts full, as at start-up; a key's
    /// quota keeps what it used).
    fn publish(&self, mut next: Snapshot) -> Result<(), String> {
        let mut current = lock(&self.current);
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
        *current = next;
        Ok(())
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
        assert!(
            d.refresh_dns(&mut failing).is_err(),
            "failure keeps the last addresses"
        );
        assert_eq!(
            d.current().resolved[0].1,
            vec![SocketAddr::from(([10, 0, 0, 2], 8080))]
        );
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
