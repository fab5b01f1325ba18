//! AWS service integrations (type AWS with a service URI) on the real
//! binary, with moto's server (tests/e2e/moto_venv.sh's venv, driven by
//! tests/e2e/moto_aws_driver.py) on loopback as the AWS endpoint through
//! `[aws] endpoints`: each method's request template becomes a signed call
//! to DynamoDB, SQS, S3, SNS or Step Functions, what it wrote is read back
//! from moto with boto3, and the method response is the response template's
//! output. The methods are those of AWS's tutorials ("Tutorial: Create a
//! REST API as an Amazon S3 proxy", "... Amazon Kinesis proxy", the
//! DynamoDB and SQS service integrations of "Set up AWS integrations").

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "execution-aws-token-0123";
const ROLE: &str = "arn:aws:iam::123456789012:role/apigateway-to-aws";

/// moto's server and the boto3 driver talking to it.
struct Moto {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    port: u16,
}

impl Moto {
    fn start() -> Moto {
        let venv = Command::new("tests/e2e/moto_venv.sh")
            .stderr(Stdio::inherit())
            .output()
            .expect("tests/e2e/moto_venv.sh runs");
        assert!(venv.status.success(), "moto_venv.sh failed");
        let python = String::from_utf8(venv.stdout).unwrap();
        let python = python
            .lines()
            .last()
            .expect("moto_venv.sh prints its python");
        let mut child = Command::new(python)
            .arg("tests/e2e/moto_aws_driver.py")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the moto driver starts");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no port: {line:?}"));
        Moto {
            _child: child,
            stdin,
            stdout,
            port,
        }
    }

    /// `boto3.client(service).op(**args)`; its result, or panics with the error.
    fn call(&mut self, service: &str, op: &str, args: Value) -> Value {
        let cmd = json!({ "service": service, "op": op, "args": args });
        writeln!(self.stdin, "{cmd}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let out: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{line:?}"));
        match out.get("ok") {
            Some(v) => v.clone(),
            None => panic!("{service}.{op}({args}): {}", out["error"]),
        }
    }
}

/// One moto for the whole binary: its start (imports) takes seconds.
fn moto() -> std::sync::MutexGuard<'static, Moto> {
    static MOTO: OnceLock<Mutex<Moto>> = OnceLock::new();
    MOTO.get_or_init(|| Mutex::new(Moto::start()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

struct Gateway(Server);

/// (resource path, verb, PutIntegration body, [(status, PutIntegrationResponse body)]).
type Method<'a> = (&'a str, &'a str, Value, Vec<(&'a str, Value)>);

impl Gateway {
    /// portico whose `[aws]` sends every service to moto, signing as `testing`.
    fn new(port: u16) -> Gateway {
        Gateway::with(port, "")
    }

    /// Likewise, with `apis` (config file text) after `[aws]`.
    fn with(port: u16, apis: &str) -> Gateway {
        let url = format!("\"http://127.0.0.1:{port}\"");
        let endpoints = ["dynamodb", "sqs", "s3", "sns", "states", "kinesis"]
            .iter()
            .map(|s| format!("{s} = {url}"))
            .collect::<Vec<_>>()
            .join(", ");
        let aws = format!(
            "[aws]\nregion = \"us-east-1\"\naccess_key_id = \"testing\"\nendpoints = {{ {endpoints} }}\n"
        );
        let config = Config::new(&format!("{aws}\n{apis}")).admin("token", &toml_str(TOKEN));
        let env = [("AWS_SECRET_ACCESS_KEY", "testing")];
        Gateway(Server::start_with_env(&config, &env))
    }

    fn ok(&mut self, method: &str, path: &str, body: Value, status: u16) -> Value {
        self.0.admin_call(TOKEN, method, path, Some(&body), status)
    }

    /// A REST API with `methods`, deployed to stage prod: its id.
    fn deployed(&mut self, methods: Vec<Method<'_>>) -> String {
        self.deployed_with(json!({ "name": "aws" }), methods)
    }

    /// `deployed`, the API created with `api` (CreateRestApi's body).
    fn deployed_with(&mut self, api: Value, methods: Vec<Method<'_>>) -> String {
        let api = self.ok("POST", "/restapis", api, 201);
        let id = api["id"].as_str().unwrap().to_string();
        let mut resources = vec![(
            "/".to_string(),
            api["rootResourceId"].as_str().unwrap().to_string(),
        )];
        for (path, verb, integration, responses) in methods {
            let mut parent = resources[0].1.clone();
            let mut at = String::new();
            for part in path.split('/').filter(|p| !p.is_empty()) {
                at = format!("{at}/{part}");
                parent = match resources.iter().find(|(p, _)| *p == at) {
                    Some((_, r)) => r.clone(),
                    None => {
                        let under = format!("/restapis/{id}/resources/{parent}");
                        let r = self.ok("POST", &under, json!({ "pathPart": part }), 201);
                        let r = r["id"].as_str().unwrap().to_string();
                        resources.push((at.clone(), r.clone()));
                        r
                    }
                };
            }
            let method = format!("/restapis/{id}/resources/{parent}/methods/{verb}");
            self.0
                .put_integrated_method(TOKEN, &method, &integration, &responses);
        }
        let path = format!("/restapis/{id}/deployments");
        self.ok("POST", &path, json!({ "stageName": "prod" }), 201);
        id
    }

    /// `verb path` with `body` on stage prod, once it answers `status`.
    fn call(&mut self, id: &str, verb: &str, path: &str, body: &str, status: u16) -> Response {
        let headers = [("content-type", "application/json")];
        self.send(id, (verb, path, &headers), body.as_bytes(), status)
    }

    /// `call` with its own headers and a body of bytes.
    fn send(
        &mut self,
        id: &str,
        (verb, path, headers): (&str, &str, &[(&str, &str)]),
        body: &[u8],
        status: u16,
    ) -> Response {
        let url = format!("/restapis/{id}/prod/_user_request_{path}");
        poll_until(
            POLL_FOR,
            || {
                let raw = request(verb, &url, "localhost", headers, body);
                self.0.connect().request(raw)
            },
            |r| r.status == status,
            |r| format!("{verb} {url}: want {status}, got {r:?}"),
        )
    }
}

/// An AWS integration's PutIntegration body.
fn aws(uri: &str, template: &str, extra: Value) -> Value {
    let mut body = json!({
        "type": "AWS",
        "httpMethod": "POST",
        "uri": uri,
        "credentials": ROLE,
        "requestTemplates": { "application/json": template },
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn template(t: &str) -> Value {
    json!({ "responseTemplates": { "application/json": t } })
}

/// DynamoDB's PutItem and GetItem (JSON protocol, `X-Amz-Target`) behind
/// PUT and GET /items/{id}: the item is really in the table, and GET reads
/// it back through a response template. A table that does not exist makes
/// DynamoDB answer 400, which the `4\d\d` selection pattern picks.
#[test]
fn dynamodb_put_item_then_get_item_through_two_methods() {
    let mut moto = moto();
    moto.call(
        "dynamodb",
        "create_table",
        json!({
            "TableName": "items",
            "KeySchema": [{ "AttributeName": "id", "KeyType": "HASH" }],
            "AttributeDefinitions": [{ "AttributeName": "id", "AttributeType": "S" }],
            "BillingMode": "PAY_PER_REQUEST",
        }),
    );
    let mut g = Gateway::new(moto.port);
    let put = concat!(
        "{\"TableName\": \"items\", \"Item\": {\"id\": {\"S\": \"$input.params('id')\"},",
        " \"name\": {\"S\": \"$util.escapeJavaScript($input.path('$.name'))\"}}}"
    );
    let get = "{\"TableName\": \"$input.params('table')\", \"Key\": {\"id\": {\"S\": \"$input.params('id')\"}}}";
    let read = concat!(
        "#set($i = $input.path('$.Item'))",
        "{\"id\": \"$i.id.S\", \"name\": \"$util.escapeJavaScript($i.name.S)\"}"
    );
    let error = template("{\"error\": \"$input.path('$.__type')\"}");
    let mut failed = error.clone();
    failed["selectionPattern"] = json!("4\\d\\d");
    let id = g.deployed(vec![
        (
            "/items/{id}",
            "PUT",
            aws(
                "arn:aws:apigateway:us-east-1:dynamodb:action/PutItem",
                put,
                json!({}),
            ),
            vec![("200", template("{\"stored\": \"$input.params('id')\"}"))],
        ),
        (
            "/items/{id}",
            "GET",
            aws(
                "arn:aws:apigateway:us-east-1:dynamodb:action/GetItem",
                get,
                json!({}),
            ),
            vec![("200", template(read)), ("400", failed)],
        ),
    ]);
    let stored = g.call(
        &id,
        "PUT",
        "/items/a1",
        "{\"name\": \"Ann \\\"A\\\"\"}",
        200,
    );
    assert_eq!(stored.json(), json!({ "stored": "a1" }), "{stored:?}");
    let item = moto.call(
        "dynamodb",
        "get_item",
        json!({ "TableName": "items", "Key": { "id": { "S": "a1" } } }),
    );
    assert_eq!(item["Item"]["name"]["S"], "Ann \"A\"", "{item}");
    let read = g.call(&id, "GET", "/items/a1?table=items", "", 200);
    assert_eq!(
        read.json(),
        json!({ "id": "a1", "name": "Ann \"A\"" }),
        "{read:?}"
    );
    let missing = g.call(&id, "GET", "/items/a1?table=nope", "", 400);
    let error = missing.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.ends_with("ResourceNotFoundException"), "{missing:?}");
}

/// SQS's SendMessage (query protocol: `Action` and `Version` with the
/// template's form): the message is really in the queue.
#[test]
fn sqs_send_message_puts_the_body_in_the_queue() {
    let mut moto = moto();
    let q = moto.call("sqs", "create_queue", json!({ "QueueName": "orders" }));
    let url = q["QueueUrl"].as_str().unwrap().to_string();
    let mut g = Gateway::new(moto.port);
    let send =
        format!("QueueUrl=$util.urlEncode('{url}')&MessageBody=$util.urlEncode($input.body)");
    let sent = "{\"queued\": \"$input.params('priority')\"}";
    let id = g.deployed(vec![(
        "/orders",
        "POST",
        aws(
            "arn:aws:apigateway:us-east-1:sqs:action/SendMessage",
            &send,
            json!({}),
        ),
        vec![("200", template(sent))],
    )]);
    let body = "{\"order\": \"a & b = c\"}";
    let r = g.call(&id, "POST", "/orders?priority=high", body, 200);
    assert_eq!(r.json(), json!({ "queued": "high" }), "{r:?}");
    let got = moto.call(
        "sqs",
        "receive_message",
        json!({ "QueueUrl": url, "MaxNumberOfMessages": 10 }),
    );
    let messages = got["Messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(messages.len(), 1, "{got}");
    assert_eq!(messages[0]["Body"], body, "{got}");
}

/// SNS's Publish (query protocol) to a topic an SQS queue subscribes to
/// (raw delivery): the published body arrives in the queue.
#[test]
fn sns_publish_reaches_the_topics_subscriber() {
    let mut moto = moto();
    let topic = moto.call("sns", "create_topic", json!({ "Name": "events" }));
    let topic = topic["TopicArn"].as_str().unwrap().to_string();
    let q = moto.call("sqs", "create_queue", json!({ "QueueName": "events-copy" }));
    let url = q["QueueUrl"].as_str().unwrap().to_string();
    let attrs = json!({ "QueueUrl": url, "AttributeNames": ["QueueArn"] });
    let arn = moto.call("sqs", "get_queue_attributes", attrs)["Attributes"]["QueueArn"].clone();
    moto.call(
        "sns",
        "subscribe",
        json!({ "TopicArn": topic, "Protocol": "sqs", "Endpoint": arn,
                "Attributes": { "RawMessageDelivery": "true" } }),
    );
    let mut g = Gateway::new(moto.port);
    let publish =
        format!("TopicArn=$util.urlEncode('{topic}')&Message=$util.urlEncode($input.body)");
    let id = g.deployed(vec![(
        "/events",
        "POST",
        aws(
            "arn:aws:apigateway:us-east-1:sns:action/Publish",
            &publish,
            json!({}),
        ),
        vec![("200", template("{\"published\": true}"))],
    )]);
    let body = "{\"event\": \"signed up\"}";
    let r = g.call(&id, "POST", "/events", body, 200);
    assert_eq!(r.json(), json!({ "published": true }), "{r:?}");
    let got = moto.call("sqs", "receive_message", json!({ "QueueUrl": url }));
    assert_eq!(got["Messages"][0]["Body"], body, "{got}");
}

/// Step Functions' StartExecution (JSON protocol, `AWSStepFunctions.`):
/// the execution exists in moto with the request body as its input, and
/// the method response carries its ARN from the service's answer.
#[test]
fn step_functions_start_execution_starts_one() {
    let mut moto = moto();
    let definition =
        json!({ "StartAt": "Done", "States": { "Done": { "Type": "Pass", "End": true } } });
    let machine = moto.call(
        "stepfunctions",
        "create_state_machine",
        json!({ "name": "orders", "definition": definition.to_string(), "roleArn": ROLE }),
    );
    let machine = machine["stateMachineArn"].as_str().unwrap().to_string();
    let mut g = Gateway::new(moto.port);
    let start = format!(
        "{{\"stateMachineArn\": \"{machine}\", \"input\": \"$util.escapeJavaScript($input.body)\"}}"
    );
    let id = g.deployed(vec![(
        "/orders",
        "POST",
        aws(
            "arn:aws:apigateway:us-east-1:states:action/StartExecution",
            &start,
            json!({}),
        ),
        vec![(
            "200",
            template("{\"execution\": \"$input.path('$.executionArn')\"}"),
        )],
    )]);
    let body = "{\"order\": 7}";
    let r = g.call(&id, "POST", "/orders", body, 200);
    let execution = r.json()["execution"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(execution.starts_with("arn:aws:states:us-east-1:"), "{r:?}");
    let d = moto.call(
        "stepfunctions",
        "describe_execution",
        json!({ "executionArn": execution }),
    );
    assert_eq!(d["input"], body, "{d}");
    assert_eq!(d["stateMachineArn"], machine.as_str(), "{d}");
}

/// The PUT (with `template`) and GET (no template) integrations of AWS's
/// S3 proxy tutorial: `{bucket}/{key}` from the path's `folder` and
/// `item`, the object's `Content-Type` from `content_type` (a mapping source).
fn s3_methods(template: &str, content_type: &str) -> (Value, Value) {
    let params = json!({ "requestParameters": {
        "integration.request.path.bucket": "method.request.path.folder",
        "integration.request.path.key": "method.request.path.item",
        "integration.request.header.Content-Type": content_type,
    }});
    let uri = "arn:aws:apigateway:us-east-1:s3:path/{bucket}/{key}";
    let mut put = aws(uri, template, params.clone());
    put["httpMethod"] = json!("PUT");
    let mut get = aws(uri, "", params);
    get["httpMethod"] = json!("GET");
    get.as_object_mut().unwrap().remove("requestTemplates");
    (put, get)
}

/// S3 by path, `{bucket}/{key}` from `integration.request.path` mappings
/// (AWS's S3 proxy tutorial): PUT stores the body, GET returns it (passed
/// through: no template), a missing key's 404 picks its own response.
#[test]
fn s3_put_object_and_get_object_by_path() {
    let mut moto = moto();
    moto.call("s3", "create_bucket", json!({ "Bucket": "photos" }));
    let mut g = Gateway::new(moto.port);
    let (put, get) = s3_methods("$input.body", "'text/plain'");
    let id = g.deployed(vec![
        (
            "/{folder}/{item}",
            "PUT",
            put,
            vec![("200", template("{\"saved\": \"$input.params('item')\"}"))],
        ),
        (
            "/{folder}/{item}",
            "GET",
            get,
            vec![
                ("200", json!({})),
                (
                    "404",
                    json!({ "selectionPattern": "404",
                        "responseTemplates": { "application/json": "{\"missing\": \"$input.params('item')\"}" } }),
                ),
            ],
        ),
    ]);
    let r = g.call(&id, "PUT", "/photos/cat.txt", "meow", 200);
    assert_eq!(r.json(), json!({ "saved": "cat.txt" }), "{r:?}");
    let o = moto.call(
        "s3",
        "get_object",
        json!({ "Bucket": "photos", "Key": "cat.txt" }),
    );
    assert_eq!(o["Body"], "meow", "{o}");
    let back = g.call(&id, "GET", "/photos/cat.txt", "", 200);
    assert_eq!(back.body_str(), "meow", "{back:?}");
    // S3's 404 is selected by the `404` pattern; without it the default
    // (200) would answer, as AWS does.
    let none = g.call(&id, "GET", "/photos/dog.txt", "", 404);
    assert_eq!(none.json(), json!({ "missing": "dog.txt" }), "{none:?}");
}

/// A config file's route, `type = "aws"` with an `execution`: DynamoDB's
/// PutItem as the management API's, the item really in the table.
#[test]
fn a_config_file_aws_route_calls_the_service() {
    let mut moto = moto();
    moto.call(
        "dynamodb",
        "create_table",
        json!({
            "TableName": "notes",
            "KeySchema": [{ "AttributeName": "id", "KeyType": "HASH" }],
            "AttributeDefinitions": [{ "AttributeName": "id", "AttributeType": "S" }],
            "BillingMode": "PAY_PER_REQUEST",
        }),
    );
    let api = r#"
[[api]]
name = "notes"

[api.stages.prod]
variables = {}

[[api.routes]]
method = "PUT"
path = "/notes/{id}"
integration = { type = "aws", uri = "arn:aws:apigateway:us-east-1:dynamodb:action/PutItem", credentials = "arn:aws:iam::123456789012:role/r" }
[api.routes.execution]
request_templates = { "application/json" = '{"TableName": "notes", "Item": {"id": {"S": "$input.params("id")"}, "text": {"S": "$input.body"}}}' }
[[api.routes.execution.integration_responses]]
status = 201
response_templates = { "application/json" = '{"saved": "$input.params("id")"}' }
"#;
    let g = Gateway::with(moto.port, api);
    let headers = [("content-type", "application/json")];
    let raw = request("PUT", "/prod/notes/n1", "localhost", &headers, b"hello");
    let r = g.0.connect().request(raw);
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json(), json!({ "saved": "n1" }), "{r:?}");
    let key = json!({ "TableName": "notes", "Key": { "id": { "S": "n1" } } });
    let item = moto.call("dynamodb", "get_item", key);
    assert_eq!(item["Item"]["text"]["S"], "hello", "{item}");
}

/// DynamoDB's Query (JSON protocol) with a `KeyConditionExpression` from
/// the path, as AWS's "Tutorial: Create a REST API as an Amazon DynamoDB
/// proxy" reads a customer's orders: the response template loops over
/// `Items`; the service's `Content-Type` header reaches the method response
/// through `integration.response.header.Content-Type`, and the template's
/// `$context.responseOverride` sets the status and a header.
#[test]
fn dynamodb_query_with_a_key_condition_maps_the_items_and_headers() {
    let mut moto = moto();
    moto.call(
        "dynamodb",
        "create_table",
        json!({
            "TableName": "orders",
            "KeySchema": [
                { "AttributeName": "customer", "KeyType": "HASH" },
                { "AttributeName": "id", "KeyType": "RANGE" },
            ],
            "AttributeDefinitions": [
                { "AttributeName": "customer", "AttributeType": "S" },
                { "AttributeName": "id", "AttributeType": "S" },
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }),
    );
    for (customer, id, total) in [("c1", "o1", "10"), ("c1", "o2", "25"), ("c2", "o3", "7")] {
        let item =
            json!({ "customer": { "S": customer }, "id": { "S": id }, "total": { "N": total } });
        moto.call(
            "dynamodb",
            "put_item",
            json!({ "TableName": "orders", "Item": item }),
        );
    }
    let mut g = Gateway::new(moto.port);
    let query = concat!(
        "{\"TableName\": \"orders\", \"KeyConditionExpression\": \"customer = :c\",",
        " \"ExpressionAttributeValues\": {\":c\": {\"S\": \"$input.params('customer')\"}}}"
    );
    let read = concat!(
        "#set($items = $input.path('$.Items'))",
        "#set($context.responseOverride.status = 203)",
        "#set($context.responseOverride.header.X-Count = \"$items.size()\")",
        "{\"orders\": [#foreach($i in $items){\"id\": \"$i.id.S\", \"total\": $i.total.N}",
        "#if($foreach.hasNext), #end#end]}"
    );
    let mut ok = template(read);
    ok["responseParameters"] = json!({
        "method.response.header.X-Service-Type": "integration.response.header.Content-Type"
    });
    let id = g.deployed(vec![(
        "/customers/{customer}/orders",
        "GET",
        aws(
            "arn:aws:apigateway:us-east-1:dynamodb:action/Query",
            query,
            json!({}),
        ),
        vec![("200", ok)],
    )]);
    let r = g.call(&id, "GET", "/customers/c1/orders", "", 203);
    assert_eq!(
        r.json(),
        json!({ "orders": [{ "id": "o1", "total": 10 }, { "id": "o2", "total": 25 }] }),
        "{r:?}"
    );
    assert_eq!(r.header("x-count"), Some("2"), "{r:?}");
    let service_type = r.header("x-service-type").unwrap_or_default();
    assert!(
        service_type.starts_with("application/x-amz-json-1.0"),
        "{r:?}"
    );
}

/// Kinesis's PutRecord (JSON protocol 1.1, `Kinesis_20131202.`), the
/// request template of AWS's "Tutorial: Create a REST API as an Amazon
/// Kinesis proxy" (`Data` is the Base64 of the body): the record is in the
/// stream with the body as its data and the path's partition key, and the
/// method response carries the shard and sequence number moto gave.
#[test]
fn kinesis_put_record_puts_the_body_in_the_stream() {
    let mut moto = moto();
    moto.call(
        "kinesis",
        "create_stream",
        json!({ "StreamName": "clicks", "ShardCount": 1 }),
    );
    let mut g = Gateway::new(moto.port);
    let put = concat!(
        "{\"StreamName\": \"$input.params('stream')\", \"Data\": \"$util.base64Encode($input.body)\",",
        " \"PartitionKey\": \"$input.params('key')\"}"
    );
    let out = "{\"shard\": \"$input.path('$.ShardId')\", \"sequence\": \"$input.path('$.SequenceNumber')\"}";
    let id = g.deployed(vec![(
        "/streams/{stream}/records/{key}",
        "PUT",
        aws(
            "arn:aws:apigateway:us-east-1:kinesis:action/PutRecord",
            put,
            json!({}),
        ),
        vec![("200", template(out))],
    )]);
    let body = "{\"page\": \"/home\", \"user\": \"u-1\"}";
    let r = g.call(&id, "PUT", "/streams/clicks/records/u-1", body, 200);
    let answer = r.json();
    let shard = answer["shard"].as_str().unwrap_or_default().to_string();
    assert!(shard.starts_with("shardId-"), "{r:?}");
    let sequence = answer["sequence"].as_str().unwrap_or_default().to_string();
    assert!(!sequence.is_empty(), "{r:?}");
    let iterator = moto.call(
        "kinesis",
        "get_shard_iterator",
        json!({ "StreamName": "clicks", "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON" }),
    );
    let records = moto.call(
        "kinesis",
        "get_records",
        json!({ "ShardIterator": iterator["ShardIterator"] }),
    );
    let records = records["Records"].as_array().cloned().unwrap_or_default();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["Data"], body, "{records:?}");
    assert_eq!(records[0]["PartitionKey"], "u-1", "{records:?}");
    assert_eq!(records[0]["SequenceNumber"], sequence.as_str());
}

/// An S3 proxy for images, as AWS's S3 proxy tutorial sets one up with
/// `binaryMediaTypes`: a PNG PUT passes to S3 untouched (a binary payload
/// skips the request template), the key renamed by the template's
/// `$context.requestOverride.path`; GET with `Accept: image/png` returns the
/// bytes, with a text `Accept` their Base64 (the response table's
/// "Binary data | A text type | Undefined | Base64-encoded string").
#[test]
fn s3_binary_objects_pass_untouched_and_request_overrides_apply() {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\xff\x00\x01";
    let mut moto = moto();
    moto.call("s3", "create_bucket", json!({ "Bucket": "images" }));
    let mut g = Gateway::new(moto.port);
    let (mut put, get) = s3_methods("", "method.request.header.Content-Type");
    put["requestTemplates"] = json!({
        "image/png": "this template is not run for a binary payload",
        "text/plain": "#set($context.requestOverride.path.key = \"renamed-$input.params('item')\")$input.body",
    });
    let created = json!({ "name": "images", "binaryMediaTypes": ["image/png"] });
    let id = g.deployed_with(
        created,
        vec![
            ("/{folder}/{item}", "PUT", put, vec![("200", json!({}))]),
            ("/{folder}/{item}", "GET", get, vec![("200", json!({}))]),
        ],
    );
    let png = [("content-type", "image/png")];
    g.send(&id, ("PUT", "/images/dot.png", &png), PNG, 200);
    let o = moto.call(
        "s3",
        "get_object",
        json!({ "Bucket": "images", "Key": "dot.png" }),
    );
    let b64 = "iVBORw0KGgr/AAE=";
    assert_eq!(o["BodyBase64"], b64, "{o}");
    let binary = [("accept", "image/png")];
    let back = g.send(&id, ("GET", "/images/dot.png", &binary), b"", 200);
    assert_eq!(back.body, PNG, "{back:?}");
    let text = [("accept", "application/json")];
    let back = g.send(&id, ("GET", "/images/dot.png", &text), b"", 200);
    assert_eq!(back.body_str(), b64, "{back:?}");
    // A text body goes through its template, whose override renames the key.
    let plain = [("content-type", "text/plain")];
    g.send(&id, ("PUT", "/images/note.txt", &plain), b"hello", 200);
    let o = moto.call(
        "s3",
        "get_object",
        json!({ "Bucket": "images", "Key": "renamed-note.txt" }),
    );
    assert_eq!(o["Body"], "hello", "{o}");
}
