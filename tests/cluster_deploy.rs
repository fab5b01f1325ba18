//! Three fleet nodes on one real `redis-server` behave as one API Gateway
//! for deployments (issue 18): an API built and deployed with boto3 on
//! node A is served by B and C within 1.5 s; a stage variable change and a
//! canary release reach all three; thirty deployments, made round the
//! fleet while every node serves steady load, fail no call, and each
//! node's client sees every one of them, in order; a change made after a
//! quiet while still arrives by the revision channel, not the poll.

mod common;

use std::time::Instant;

use common::*;
use serde_json::{json, Value};

const KEY_ID: &str = "AKIDFLEETDEPLOY0001";
const SECRET: &str = "fleet-deploy-secret-0123456789abcdefghij";

/// Generous: these tests are about propagation, not Redis timeouts, and
/// a loaded machine can keep Redis from answering within 500 ms.
const COMMAND_TIMEOUT_MS: u64 = 2_000;

/// A node of the fleet on `redis` that also accepts SigV4 from boto3.
fn node(redis: &Redis) -> Server {
    let cfg = fleet_config(redis, COMMAND_TIMEOUT_MS)
        .admin("access_key_id", &toml_str(KEY_ID))
        .admin("secret_access_key", &toml_str(SECRET));
    fleet_node(&cfg)
}

fn boto3(srv: &mut Server) -> ApiGatewayBoto3 {
    ApiGatewayBoto3::start(&srv.admin_url(), (KEY_ID, SECRET))
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("no {k} in {v}"))
        .to_string()
}

/// With boto3 on `client`: an API whose `GET /greet` (MOCK) answers the
/// stage variable `greeting`, deployed to `prod` with `greeting`; its id
/// and when the deployment's answer came.
fn boto3_greeting_api(client: &mut ApiGatewayBoto3, greeting: &str) -> (String, Instant) {
    let (api, _) = client.call("create_rest_api", json!({"name": "boto3-fleet"}));
    let id = s(&api, "id");
    let (res, _) = client.call(
        "create_resource",
        json!({"restApiId": id, "parentId": s(&api, "rootResourceId"), "pathPart": "greet"}),
    );
    let method = json!({"restApiId": id, "resourceId": s(&res, "id"), "httpMethod": "GET"});
    let with = |extra: Value| {
        let mut m = method.clone();
        m.as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        m
    };
    client.call("put_method", with(json!({"authorizationType": "NONE"})));
    client.call(
        "put_integration",
        with(json!({"type": "MOCK",
            "requestTemplates": {"application/json": "{\"statusCode\": 200}"}})),
    );
    client.call("put_method_response", with(json!({"statusCode": "200"})));
    client.call(
        "put_integration_response",
        with(json!({"statusCode": "200",
            "responseTemplates": {"application/json": "$stageVariables.greeting"}})),
    );
    let (_, deployed) = client.call(
        "create_deployment",
        json!({"restApiId": id, "stageName": "prod", "variables": {"greeting": greeting}}),
    );
    (id, deployed)
}

#[test]
fn boto3_on_one_node_a_stage_variable_and_a_canary_reach_every_node_within_1_5_s() {
    let redis = Redis::start();
    let mut a = node(&redis);
    let mut b = node(&redis);
    let mut c = node(&redis);

    let mut on_a = boto3(&mut a);
    let (id, deployed) = boto3_greeting_api(&mut on_a, "hello");
    let took = all_serve(&[&b, &c, &a], &id, "hello", deployed);
    eprintln!("boto3 deployment on A served by B, C and A after {took:?}");
    assert!(
        took <= PROPAGATION,
        "the deployment made with boto3 on node A reached B and C in {took:?}"
    );
    let listed = b.admin_call(FLEET_TOKEN, "GET", "/restapis", None, 200);
    assert!(listed.to_string().contains("boto3-fleet"), "{listed}");

    // A stage variable changed with boto3 on A.
    let (_, changed) = on_a.call(
        "update_stage",
        json!({"restApiId": id, "stageName": "prod", "patchOperations": [
            {"op": "replace", "path": "/variables/greeting", "value": "bonjour"}]}),
    );
    let took = all_serve(&[&b, &c, &a], &id, "bonjour", changed);
    eprintln!("stage variable changed on A served everywhere after {took:?}");
    assert!(
        took <= PROPAGATION,
        "the stage variable reached B and C in {took:?}"
    );

    // A canary release made with boto3 on C: every call of the stage goes
    // to the canary, which overrides the variable.
    let mut on_c = boto3(&mut c);
    let (canary, released) = on_c.call(
        "create_deployment",
        json!({"restApiId": id, "stageName": "prod", "canarySettings": {
            "percentTraffic": 100.0, "stageVariableOverrides": {"greeting": "canary"}}}),
    );
    let took = all_serve(&[&a, &b, &c], &id, "canary", released);
    eprintln!("canary released on C served everywhere after {took:?}");
    assert!(
        took <= PROPAGATION,
        "the canary reached A and B in {took:?}"
    );
    let (stage, _) = on_a.call("get_stage", json!({"restApiId": id, "stageName": "prod"}));
    assert_eq!(
        stage["canarySettings"]["deploymentId"], canary["id"],
        "{stage}"
    );

    // The canary removed on B: every node is back on the stage's deployment.
    b.admin_call(
        FLEET_TOKEN,
        "PATCH",
        &format!("/restapis/{id}/stages/prod"),
        Some(&json!({"patchOperations": [{"op": "remove", "path": "/canarySettings"}]})),
        200,
    );
    let removed = Instant::now();
    let took = all_serve(&[&a, &b, &c], &id, "bonjour", removed);
    assert!(took <= PROPAGATION, "the canary's removal took {took:?}");
}

#[test]
fn thirty_deployments_round_the_fleet_under_load_fail_no_call() {
    const DEPLOYMENTS: usize = 30;
    let redis = Redis::start();
    let mut nodes = [node(&redis), node(&redis), node(&redis)];
    let id = deploy_greeting_api(&mut nodes[0], "v0");
    let all: Vec<&Server> = nodes.iter().collect();
    all_serve(&all, &id, "v0", Instant::now());

    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    let load = SteadyLoad::start(&ports, &greet_path(&id));
    load.wait_calls(20);
    let started = Instant::now();
    let mut slowest = std::time::Duration::ZERO;
    for i in 1..=DEPLOYMENTS {
        let want = format!("v{i}");
        let node = &mut nodes[i % 3];
        node.admin_call(
            FLEET_TOKEN,
            "POST",
            &format!("/restapis/{id}/deployments"),
            Some(&json!({"stageName": "prod", "variables": {"greeting": want}})),
            201,
        );
        let made = Instant::now();
        let all: Vec<&Server> = nodes.iter().collect();
        let took = all_serve(&all, &id, &want, made);
        assert!(
            took <= PROPAGATION,
            "deployment {i} reached every node in {took:?}"
        );
        slowest = slowest.max(took);
        // Each node's client calls across every deployment.
        load.wait_calls(5);
    }
    let records = load.stop();
    let calls: Vec<usize> = records.iter().map(|r| r.latencies.len()).collect();
    let versions: Vec<usize> = records.iter().map(|r| r.bodies.len()).collect();
    eprintln!(
        "{DEPLOYMENTS} deployments in {:?} (slowest to reach every node: {slowest:?}); \
         calls per node {calls:?}, versions seen per node {versions:?}",
        started.elapsed()
    );
    for (n, r) in records.iter().enumerate() {
        assert_eq!(
            r.failures, 0,
            "node {n}: {} failed calls across the deployments: {:?}",
            r.failures, r.failed
        );
        // Every deployment was served to this node's client, in order:
        // the load spanned each one and no node went back to an older one.
        let want: Vec<String> = (0..=DEPLOYMENTS).map(|i| format!("v{i}")).collect();
        assert_eq!(r.bodies, want, "node {n}: the versions its client saw");
    }
}

/// Nodes learn of a change by the `{prefix}:rev` channel even after quiet
/// seconds in which their subscription's reads timed out, not by the
/// once-a-second poll (which, were the channel lost, would make each
/// change wait a uniformly spread 0–1 s: five in a row all under 300 ms
/// would then happen by chance 0.2 % of the time).
#[test]
fn a_change_after_a_quiet_while_arrives_by_the_channel_not_the_poll() {
    const BY_CHANNEL: std::time::Duration = std::time::Duration::from_millis(300);
    let redis = Redis::start();
    let mut a = node(&redis);
    let b = node(&redis);
    let id = deploy_greeting_api(&mut a, "q0");
    all_serve(&[&b], &id, "q0", Instant::now());
    let mut took = Vec::new();
    for i in 1..=5 {
        // The scenario itself, not a synchronisation: a quiet stretch
        // longer than the subscription's one-second read timeout.
        std::thread::sleep(std::time::Duration::from_millis(1_200));
        let want = format!("q{i}");
        a.admin_call(
            FLEET_TOKEN,
            "POST",
            &format!("/restapis/{id}/deployments"),
            Some(&json!({"stageName": "prod", "variables": {"greeting": want}})),
            201,
        );
        took.push(all_serve(&[&b], &id, &want, Instant::now()));
    }
    eprintln!("changes after a quiet 1.2 s reached node B in {took:?}");
    assert!(
        took.iter().all(|t| *t <= BY_CHANNEL),
        "after quiet seconds a change reached node B in {took:?}: by the poll, not the channel"
    );
}
