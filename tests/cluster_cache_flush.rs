//! Cache flushes across a fleet (`[cluster]`): three real portico nodes
//! on one real `redis-server`, each serving a stage's cached answer (an
//! upstream that counts its calls proves it). FlushStageCache on node A
//! answers 202 once every node's cache is empty, so the next call on each
//! node reaches the upstream; a frozen node (SIGSTOP) makes the call
//! answer 503 naming it, and flushes once it runs again;
//! FlushStageAuthorizersCache reaches every node the same way; on a
//! Redis Cluster (no subscription there) the nodes find the request at
//! their one-second read. `portico cache flush` (the admin listener's
//! `/cache/flush`) of a config-file stage on one node empties every
//! node's cache the same way, names the nodes that did and the one that
//! is frozen. Through a Sentinel, FlushStageCache reaches the other node
//! and the call is in the fleet's audit stream.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "fleet-token-0123456789";
/// Generous, like the command timeout below: this machine's load (several
/// builds on two cores) must not make a live node look silent.
const FLUSH_TIMEOUT_MS: u64 = 4_000;
const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];
const AUTHORIZER_URI: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations";

/// `redis`: the `[cluster]` lines naming the fleet's Redis.
fn node_config(redis: &str, id: &str, lambda: Option<&Upstream>) -> Config {
    let cfg = Config::new("")
        .admin("token", &toml_str(TOKEN))
        .append(&format!(
            "[cluster]\n{redis}\nnode_id = \"{id}\"\ncommand_timeout_ms = 2000\nflush_timeout_ms = {FLUSH_TIMEOUT_MS}\n"
        ));
    match lambda {
        None => cfg,
        Some(l) => cfg.append(&format!(
            "[aws]\naccount_id = \"123456789012\"\nregion = \"us-east-1\"\nlambda_endpoint = \"http://{}\"\n",
            l.addr()
        )),
    }
}

/// The `[cluster]` line naming `redis`.
fn url_of(redis: &Redis) -> String {
    format!("redis = [\"{}\"]", redis.url())
}

/// Three nodes `node-a`, `node-b`, `node-c` of one fleet on `redis`
/// (its `[cluster]` lines).
fn fleet(redis: &str, lambda: Option<&Upstream>) -> Vec<Server> {
    NODES
        .iter()
        .map(|id| fleet_node(&node_config(redis, id, lambda)))
        .collect()
}

fn ok(srv: &mut Server, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    srv.admin_call(TOKEN, method, path, body.as_ref(), status)
}

/// An upstream answering 200 and counting its calls.
fn counting_upstream() -> (Upstream, Arc<AtomicU64>) {
    let hits = Arc::new(AtomicU64::new(0));
    let counted = hits.clone();
    let up = Upstream::start(move |_| {
        let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
        Reply::Send(http_response(
            200,
            &[("content-type", "text/plain")],
            format!("answer {n}").as_bytes(),
        ))
    });
    (up, hits)
}

/// A Lambda Invoke API whose one function is a TOKEN authorizer allowing
/// the method it is asked about, counting its invocations.
fn counting_authorizer() -> (Upstream, Arc<AtomicU64>) {
    let hits = Arc::new(AtomicU64::new(0));
    let counted = hits.clone();
    let up = Upstream::start(move |r| {
        counted.fetch_add(1, Ordering::SeqCst);
        let event: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let policy = json!({
            "principalId": "alice",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ]}
        });
        Reply::Send(http_response(
            200,
            &[("content-type", "application/json")],
            policy.to_string().as_bytes(),
        ))
    });
    (up, hits)
}

/// A new API with `GET /item`, made on `srv`; its id and the method's path.
fn new_api(srv: &mut Server) -> (String, String) {
    let api = ok(
        srv,
        "POST",
        "/restapis",
        Some(json!({"name": "cached"})),
        201,
    );
    let id = api["id"].as_str().expect("id").to_string();
    let root = api["rootResourceId"].as_str().expect("root");
    let item = ok(
        srv,
        "POST",
        &format!("/restapis/{id}/resources/{root}"),
        Some(json!({"pathPart": "item"})),
        201,
    );
    let res = item["id"].as_str().expect("resource id");
    let method = format!("/restapis/{id}/resources/{res}/methods/GET");
    (id, method)
}

/// `GET /item` proxied (HTTP) to `up`, deployed to `prod` with the cache
/// cluster on and the method cached; the API's id.
fn deploy_cached_api(srv: &mut Server, up: &Upstream) -> String {
    let (id, method) = new_api(srv);
    srv.put_integrated_method(
        TOKEN,
        &method,
        &json!({"type": "HTTP", "httpMethod": "GET", "uri": format!("http://{}/item", up.addr())}),
        &[("200", json!({"statusCode": "200"}))],
    );
    deploy_prod(srv, &id);
    let patch = json!({"patchOperations": [
        {"op": "replace", "path": "/cacheClusterEnabled", "value": "true"},
        {"op": "replace", "path": "/~1item/GET/caching/enabled", "value": "true"},
        {"op": "replace", "path": "/~1item/GET/caching/ttlInSeconds", "value": "300"},
    ]});
    ok(
        srv,
        "PATCH",
        &format!("/restapis/{id}/stages/prod"),
        Some(patch),
        200,
    );
    id
}

/// A fleet serving [`deploy_cached_api`]'s stage from every node's cache.
struct Cached {
    up: Upstream,
    hits: Arc<AtomicU64>,
    nodes: Vec<Server>,
    id: String,
    /// The cached route's invoke path.
    path: String,
}

fn cached_fleet(redis: &str) -> Cached {
    let (up, hits) = counting_upstream();
    let mut nodes = fleet(redis, None);
    let id = deploy_cached_api(&mut nodes[0], &up);
    let path = item_path(&id);
    all_cached(&nodes, &path, &[], &hits);
    Cached {
        up,
        hits,
        nodes,
        id,
        path,
    }
}

fn deploy_prod(srv: &mut Server, id: &str) {
    let deployments = format!("/restapis/{id}/deployments");
    ok(
        srv,
        "POST",
        &deployments,
        Some(json!({"stageName": "prod"})),
        201,
    );
}

fn item_path(id: &str) -> String {
    format!("/restapis/{id}/prod/_user_request_/item")
}

fn get(srv: &Server, path: &str, headers: &[(&str, &str)]) -> Response {
    srv.connect()
        .request(request("GET", path, "localhost", headers, b""))
}

/// 429s met (and retried) on the way: a fleet node's first calls on a
/// bucket it has not leased tokens for yet are refused (the fleet limits'
/// business, not this test's); reported, not asserted.
static THROTTLED: AtomicU64 = AtomicU64::new(0);

/// Whether the next call to `path` on `srv` that is not throttled (a 200)
/// reached the counted upstream.
fn reached(srv: &Server, path: &str, headers: &[(&str, &str)], hits: &AtomicU64) -> bool {
    let before = hits.load(Ordering::SeqCst);
    let r = poll_until(
        POLL_FOR,
        || get(srv, path, headers),
        |r| {
            let throttled = r.status == 429;
            if throttled {
                THROTTLED.fetch_add(1, Ordering::Relaxed);
            }
            !throttled
        },
        |r| format!("node {} throttled: {}", srv.port, r.body_str()),
    );
    assert_eq!(r.status, 200, "node {}: {}", srv.port, r.body_str());
    hits.load(Ordering::SeqCst) > before
}

/// Waits until every node answers `path` from its cache: a call that does
/// not reach the upstream.
fn all_cached(nodes: &[Server], path: &str, headers: &[(&str, &str)], hits: &AtomicU64) {
    for n in nodes {
        poll_until(
            POLL_FOR,
            || {
                let r = get(n, path, headers);
                r.status == 200 && !reached(n, path, headers, hits)
            },
            |cached| *cached,
            |_| format!("node {} never served {path} from its cache", n.port),
        );
    }
}

/// The flush call on `srv`: its answer and how long it took.
fn flush(srv: &mut Server, path: &str) -> (AdminJson, Duration) {
    admin_flush(srv, "DELETE", path)
}

/// `method path` on `srv`'s admin listener with the token: its answer
/// and how long it took. A flush may wait the whole flush timeout for a
/// silent node: the read waits that long and more (a loaded machine's
/// full test run).
fn admin_flush(srv: &mut Server, method: &str, path: &str) -> (AdminJson, Duration) {
    let auth = format!("Bearer {TOKEN}");
    let mut c = Client::connect(srv.admin_port());
    c.set_read_timeout(Duration::from_millis(FLUSH_TIMEOUT_MS) + Duration::from_secs(20));
    let headers = [("Connection", "close"), ("Authorization", auth.as_str())];
    let started = Instant::now();
    let resp = c.request(request(method, path, "localhost", &headers, b""));
    (
        AdminJson::of(resp, &format!("{method} {path}")),
        started.elapsed(),
    )
}

/// Waits until `redis` lists `n` live nodes (each joins with its first
/// heartbeat; a flush waits only for the nodes live when it is made).
fn live_nodes(redis: &Redis, n: usize) {
    poll_until(
        POLL_FOR,
        || redis.cli(&["ZCARD", "{portico}:nodes"]),
        |count| count.trim().parse::<usize>().unwrap_or(0) >= n,
        |count| format!("{} live nodes, not {n}", count.trim()),
    );
}

/// Keeps `node` listed as live (as a frozen node is for up to three
/// seconds after its last heartbeat) however slowly the test runs.
fn keep_listed(redis: &Redis, node: &str) {
    let now = redis.cli(&["TIME"]);
    let secs: u64 = now.split_whitespace().next().unwrap().parse().unwrap();
    let until = ((secs + 600) * 1000).to_string();
    redis.cli(&["ZADD", "{portico}:nodes", &until, node]);
}

#[test]
fn a_stage_cache_flush_on_one_node_empties_every_nodes_cache() {
    let redis = Redis::start();
    let Cached {
        up,
        hits,
        mut nodes,
        id,
        path,
    } = cached_fleet(&url_of(&redis));

    let flush_path = format!("/restapis/{id}/stages/prod/cache/data");
    let mut took = Vec::new();
    for round in 0..3 {
        let (r, t) = flush(&mut nodes[0], &flush_path);
        assert_eq!(r.status, 202, "round {round}: {}", r.text);
        took.push(t);
        // Answered only once every node had emptied its cache.
        for (n, name) in nodes.iter().zip(NODES) {
            assert!(
                reached(n, &path, &[], &hits),
                "round {round}: {name} still answered from its cache after the flush"
            );
            assert!(
                !reached(n, &path, &[], &hits),
                "round {round}: {name} did not cache again"
            );
        }
    }
    eprintln!(
        "FlushStageCache round trips on a 3-node fleet: {took:?} ({} calls throttled and retried)",
        THROTTLED.load(Ordering::Relaxed)
    );

    // Flushing on another node works the same.
    let (r, _) = flush(&mut nodes[2], &flush_path);
    assert_eq!(r.status, 202, "{}", r.text);
    for n in &nodes {
        assert!(reached(n, &path, &[], &hits), "node {}", n.port);
    }
    // The same call on one node without `[cluster]`, for comparison.
    let mut single = Server::start(&Config::new("").admin("token", &toml_str(TOKEN)));
    let single_id = deploy_cached_api(&mut single, &up);
    let single_path = item_path(&single_id);
    all_cached(std::slice::from_ref(&single), &single_path, &[], &hits);
    let flush_single = format!("/restapis/{single_id}/stages/prod/cache/data");
    let alone: Vec<Duration> = (0..3)
        .map(|_| {
            let (r, t) = flush(&mut single, &flush_single);
            assert_eq!(r.status, 202, "{}", r.text);
            t
        })
        .collect();
    eprintln!("FlushStageCache round trips on one node without [cluster]: {alone:?}");

    // A stage without a cache is refused as on one node, before any flush.
    let r = flush(
        &mut nodes[1],
        &format!("/restapis/{id}/stages/none/cache/data"),
    )
    .0;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[test]
fn a_frozen_node_is_named_and_flushes_once_it_runs_again() {
    let redis = Redis::start();
    let mut f = cached_fleet(&url_of(&redis));

    // node-c frozen, and kept listed as live.
    f.nodes[2].signal("STOP");
    keep_listed(&redis, "node-c");

    let (r, took) = flush(
        &mut f.nodes[0],
        &format!("/restapis/{}/stages/prod/cache/data", f.id),
    );
    eprintln!("FlushStageCache with node-c frozen answered in {took:?}");
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(
        r.json["__type"], "ServiceUnavailableException",
        "{}",
        r.text
    );
    let message = r.json["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("node-c") && !message.contains("node-b") && !message.contains("node-a"),
        "{message}"
    );
    assert!(
        took >= Duration::from_millis(FLUSH_TIMEOUT_MS),
        "answered before the timeout: {took:?}"
    );
    // The nodes that answered did flush.
    for n in &f.nodes[..2] {
        assert!(reached(n, &f.path, &[], &f.hits), "node {}", n.port);
    }

    // Running again, node-c finds the request it missed and flushes.
    f.nodes[2].signal("CONT");
    poll_until(
        POLL_FOR,
        || reached(&f.nodes[2], &f.path, &[], &f.hits),
        |r| *r,
        |_| "node-c kept its cache after it ran again".into(),
    );
}

#[test]
fn an_authorizer_cache_flush_on_one_node_reaches_every_node() {
    let redis = Redis::start();
    let (lambda, invoked) = counting_authorizer();
    let mut nodes = fleet(&url_of(&redis), Some(&lambda));
    let srv = &mut nodes[0];
    let (id, method) = new_api(srv);
    let a = ok(
        srv,
        "POST",
        &format!("/restapis/{id}/authorizers"),
        Some(json!({
            "name": "tok", "type": "TOKEN", "authorizerUri": AUTHORIZER_URI,
            "identitySource": "method.request.header.Auth",
            "authorizerResultTtlInSeconds": 300,
        })),
        201,
    );
    let authorizer = a["id"].as_str().expect("authorizer id");
    ok(
        srv,
        "PUT",
        &method,
        Some(json!({"authorizationType": "CUSTOM", "authorizerId": authorizer})),
        201,
    );
    ok(
        srv,
        "PUT",
        &format!("{method}/integration"),
        Some(
            json!({"type": "MOCK", "requestTemplates": {"application/json": "{\"statusCode\": 200}"}}),
        ),
        201,
    );
    srv.put_default_200(TOKEN, &method);
    deploy_prod(srv, &id);
    let path = item_path(&id);
    let auth = [("Auth", "alice")];
    all_cached(&nodes, &path, &auth, &invoked);

    let (r, took) = flush(
        &mut nodes[1],
        &format!("/restapis/{id}/stages/prod/cache/authorizers"),
    );
    eprintln!("FlushStageAuthorizersCache round trip on a 3-node fleet: {took:?}");
    assert_eq!(r.status, 202, "{}", r.text);
    for (n, name) in nodes.iter().zip(NODES) {
        assert!(
            reached(n, &path, &auth, &invoked),
            "{name} kept its authorizer decision after the flush"
        );
    }
}

#[test]
fn on_a_redis_cluster_the_nodes_find_the_flush_at_their_next_read() {
    let redis = RedisCluster::start();
    let mut f = cached_fleet(&format!(
        "{}\ntopology = \"cluster\"",
        url_of(&redis.members[0])
    ));

    let (r, took) = flush(
        &mut f.nodes[0],
        &format!("/restapis/{}/stages/prod/cache/data", f.id),
    );
    eprintln!("FlushStageCache round trip on a 3-node fleet on Redis Cluster: {took:?}");
    assert_eq!(r.status, 202, "{}", r.text);
    for (n, name) in f.nodes.iter().zip(NODES) {
        assert!(
            reached(n, &f.path, &[], &f.hits),
            "{name} still answered from its cache after the flush"
        );
    }
}

/// A config-file API, the same on every node: the default API with stage
/// `prod` cached and `GET /item` proxied to `up`.
fn file_api(up: &Upstream) -> String {
    format!(
        "[[api]]\nname = \"file-api\"\nhosts = []\n\n\
         [api.stages.prod]\nvariables = {{}}\n\n\
         [api.stages.prod.cache]\ncapacity = \"1MB\"\nttl_s = 300\n\n\
         [[api.routes]]\nmethod = \"GET\"\npath = \"/item\"\n\
         integration = {{ type = \"http_proxy\", uri = \"http://{}/item\" }}\n",
        up.addr()
    )
}

/// `portico cache flush --stage prod --admin http://…` of `srv`, with its
/// config (for the token): the output and how long the command took.
fn cache_flush_cli(srv: &mut Server) -> (CmdOutput, Duration) {
    let admin = format!("http://127.0.0.1:{}", srv.admin_port());
    let args = [
        "cache".as_ref(),
        "flush".as_ref(),
        "--stage".as_ref(),
        "prod".as_ref(),
        "--admin".as_ref(),
        admin.as_ref(),
        "--config".as_ref(),
        srv.config_path().as_os_str(),
    ];
    let started = Instant::now();
    let out = run_bin(&args, &[], Duration::from_secs(60));
    (out, started.elapsed())
}

#[test]
fn portico_cache_flush_of_a_config_file_stage_empties_every_nodes_cache() {
    let redis = Redis::start();
    let (up, hits) = counting_upstream();
    let api = file_api(&up);
    let mut nodes: Vec<Server> = NODES
        .iter()
        .map(|id| fleet_node(&node_config(&url_of(&redis), id, None).append(&api)))
        .collect();
    live_nodes(&redis, 3);
    let path = "/prod/item";
    all_cached(&nodes, path, &[], &hits);

    // The real CLI against node A.
    let (out, took) = cache_flush_cli(&mut nodes[0]);
    eprintln!("portico cache flush on a 3-node fleet (the whole command): {took:?}");
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    let answer: Value = serde_json::from_str(out.stdout.trim()).expect(&out.stdout);
    assert_eq!(
        answer,
        json!({"flushed": 1, "nodes": NODES}),
        "{}",
        out.stdout
    );
    for (n, name) in nodes.iter().zip(NODES) {
        assert!(
            reached(n, path, &[], &hits),
            "{name} still answered from its cache after portico cache flush"
        );
    }

    // The endpoint itself, on another node, by the API's name.
    let mut took = Vec::new();
    for round in 0..3 {
        all_cached(&nodes, path, &[], &hits);
        let (r, t) = admin_flush(
            &mut nodes[1],
            "POST",
            "/cache/flush?api=file-api&stage=prod",
        );
        assert_eq!(r.status, 200, "round {round}: {}", r.text);
        assert_eq!(r.json["nodes"], json!(NODES), "round {round}: {}", r.text);
        took.push(t);
        for (n, name) in nodes.iter().zip(NODES) {
            assert!(
                reached(n, path, &[], &hits),
                "round {round}: {name} still answered from its cache"
            );
        }
    }
    eprintln!("POST /cache/flush round trips on a 3-node fleet: {took:?}");
    // The first command above may have met a node that had just started
    // and was not subscribed yet (it reads the request within a second):
    // the command again, every node subscribed.
    all_cached(&nodes, path, &[], &hits);
    let (out, took) = cache_flush_cli(&mut nodes[2]);
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    eprintln!("portico cache flush on a 3-node fleet again (the whole command): {took:?}");
    for n in &nodes {
        assert!(reached(n, path, &[], &hits), "node {}", n.port);
    }
    // A stage the config does not have: refused before any flush.
    let (r, _) = admin_flush(&mut nodes[0], "POST", "/cache/flush?stage=dev");
    assert_eq!(r.status, 404, "{}", r.text);

    // node-c frozen and listed as live: named in the CLI's error, after
    // the flush timeout; A and B flushed all the same.
    all_cached(&nodes, path, &[], &hits);
    nodes[2].signal("STOP");
    keep_listed(&redis, "node-c");
    let (out, took) = cache_flush_cli(&mut nodes[0]);
    eprintln!("portico cache flush with node-c frozen: {took:?}");
    assert!(!out.status.success(), "{}", out.stdout);
    assert!(
        out.stderr.contains("node-c")
            && !out.stderr.contains("node-b")
            && !out.stderr.contains("node-a"),
        "{}",
        out.stderr
    );
    assert!(
        took >= Duration::from_millis(FLUSH_TIMEOUT_MS),
        "answered before the timeout: {took:?}"
    );
    for n in &nodes[..2] {
        assert!(reached(n, path, &[], &hits), "node {}", n.port);
    }
    nodes[2].signal("CONT");
    poll_until(
        POLL_FOR,
        || reached(&nodes[2], path, &[], &hits),
        |r| *r,
        |_| "node-c kept its cache after it ran again".into(),
    );
}

/// `portico audit ARGS --config` of `srv`: its events, one per line.
fn audit(srv: &Server, args: &[&str]) -> Vec<Value> {
    let mut all: Vec<&std::ffi::OsStr> = vec!["audit".as_ref()];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    all.extend(["--config".as_ref(), srv.config_path().as_os_str()]);
    let out = run_bin(&all, &[], Duration::from_secs(20));
    assert!(out.status.success(), "portico audit: {}", out.stderr);
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn through_a_sentinel_a_flush_reaches_the_other_node_and_the_audit_stream() {
    let master = Redis::start();
    let sentinel = Sentinel::start("fleet", &master);
    let redis = format!(
        "redis = [\"{}\"]\ntopology = \"sentinel\"\nsentinel_master = \"fleet\"",
        sentinel.url()
    );
    let (up, hits) = counting_upstream();
    let mut nodes: Vec<Server> = NODES[..2]
        .iter()
        .map(|id| fleet_node(&node_config(&redis, id, None)))
        .collect();
    live_nodes(&master, 2);
    let id = deploy_cached_api(&mut nodes[0], &up);
    let path = item_path(&id);
    // Node B serves what node A deployed, from its cache.
    all_cached(&nodes, &path, &[], &hits);

    let (r, took) = flush(
        &mut nodes[0],
        &format!("/restapis/{id}/stages/prod/cache/data"),
    );
    eprintln!("FlushStageCache round trip on a 2-node fleet through a Sentinel: {took:?}");
    assert_eq!(r.status, 202, "{}", r.text);
    for (n, name) in nodes.iter().zip(NODES) {
        assert!(
            reached(n, &path, &[], &hits),
            "{name} still answered from its cache after the flush"
        );
    }

    // The call is in the fleet's stream, read on either node.
    for srv in &nodes {
        let flushes = poll_until(
            POLL_FOR,
            || audit(srv, &["--event", "FlushStageCache"]),
            |l| !l.is_empty(),
            |l| format!("FlushStageCache not in the audit stream: {l:?}"),
        );
        assert_eq!(flushes.len(), 1, "{flushes:?}");
        assert_eq!(
            flushes[0]["additionalEventData"]["nodeId"], "node-a",
            "{flushes:?}"
        );
        assert_eq!(flushes[0]["requestParameters"]["restapi_id"], id.as_str());
    }
    assert!(
        master
            .cli(&["XRANGE", "{portico}:audit", "-", "+"])
            .contains("FlushStageCache"),
        "the stream on the master holds the call"
    );
}
