//! The SAM template serves exactly the routes of the route table, and the local app
//! serves every one of them (no 404 or 405 where a route is listed). Its schedules and
//! its jobs rules speak `services::jobs::Job`, each function's only its own jobs. Its
//! operations part: every alarm on the metrics `telemetry::record` emits (and AWS's),
//! with its threshold and the alarm topic's actions, the dashboard, the HTTP API's
//! access log, CORS and throttling, and every function's tracing and JSON logs.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};
use tally::domain::ids::{ExportId, ImportId, IntegrationId, TenantId};
use tally::services::jobs::{
    ExportJob, ImportJob, JOB_EVENTS, Job, JobFunction, SWEEP_JOB_EVENTS, SyncJob,
};
use tally::telemetry::record;
use tally_tests::fake_stripe::{FakeStripe, Scenario};

use crate::helpers::{spawn_app, spawn_app_with};
use crate::routes;

/// `(METHOD, path)` of every HttpApi event in infra/template.yaml. Events are written as
/// one-line flow mappings (`Properties: { ApiId: !Ref Api, Method: GET, Path: "/v1/x" }`).
fn template_routes() -> BTreeSet<(String, String)> {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .expect("infra/template.yaml is readable");
    template
        .lines()
        .filter(|line| line.contains("Method:") && line.contains("Path:"))
        .map(|line| {
            let field = |name: &str| {
                let rest = &line[line.find(name).expect("field present") + name.len()..];
                let rest = rest.trim_start();
                match rest.strip_prefix('"') {
                    Some(quoted) => quoted.split('"').next().unwrap_or_default().to_owned(),
                    None => rest
                        .split([',', '}'])
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                }
            };
            (field("Method:"), field("Path:"))
        })
        .collect()
}

#[test]
fn the_template_routes_are_exactly_the_route_table() {
    let table: BTreeSet<(String, String)> = routes::all()
        .iter()
        .chain(&routes::web())
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let template = template_routes();
    let missing: Vec<_> = table.difference(&template).collect();
    let extra: Vec<_> = template.difference(&table).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not in the template: {missing:?}; not in the table: {extra:?}"
    );
}

#[tokio::test]
async fn every_listed_route_is_served_and_other_methods_are_405() {
    let app = spawn_app().await;
    let id = uuid::Uuid::new_v4().to_string();
    let table = routes::all();
    for route in &table {
        let path = route
            .path
            .replace("{id}", &id)
            .replace("{name}", "mrr")
            .replace("{kind}", "customers");
        let response = app.request(route.method.clone(), &path, None, None).await;
        let status = response.status().as_u16();
        assert!(
            status != 404 && status != 405,
            "{} {path} answered {status}",
            route.method
        );
    }
    let paths: BTreeSet<&str> = table.iter().map(|r| r.path).collect();
    for path in paths {
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            if table.iter().any(|r| r.path == path && r.method == method) {
                continue;
            }
            let response = app
                .request(
                    method.clone(),
                    &path.replace("{id}", &id).replace("{kind}", "customers"),
                    None,
                    None,
                )
                .await;
            assert_eq!(response.status(), 405, "{method} {path}");
        }
    }
}

/// The part of infra/template.yaml that defines `resource` (up to the next section).
fn resource(template: &str, resource: &str) -> String {
    template
        .split(&format!("\n  {resource}:\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("a {resource} in the template"))
        .split("\n  # ---")
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The jobs a function's schedules run: each schedule's `Input` decoded as a `Job`. A
/// schedule without an `Input` fails here, so none runs a job by default.
fn scheduled_jobs(function: &str) -> Vec<Job> {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .expect("infra/template.yaml is readable");
    let function = resource(&template, function);
    let schedules = function.matches("Type: Schedule").count();
    let jobs: Vec<Job> = function
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Input: '"))
        .map(|input| {
            let input = input.strip_suffix('\'').expect("a quoted Input");
            let payload: Value = serde_json::from_str(input).expect("the Input is JSON");
            Job::from_payload(payload).expect("the Input is a job")
        })
        .collect();
    assert_eq!(jobs.len(), schedules, "one Input per schedule");
    jobs
}

#[test]
fn every_schedule_input_is_a_job_of_its_function() {
    let ingest = scheduled_jobs("IngestFunction");
    assert_eq!(ingest, [Job::PlanSyncs, Job::FxRefresh]);
    let sweep = scheduled_jobs("SweepFunction");
    assert_eq!(sweep, [Job::PlanSweep, Job::PlanDigests]);
    assert!(
        ingest
            .iter()
            .all(|job| job.function() == JobFunction::Ingest)
    );
    assert!(sweep.iter().all(|job| job.function() == JobFunction::Sweep));
}

/// The `detail-type`s a function's bus rule matches.
fn rule_events(function: &str) -> BTreeSet<String> {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .expect("infra/template.yaml is readable");
    resource(&template, function)
        .lines()
        .filter_map(|line| line.trim().strip_prefix("detail-type: ["))
        .flat_map(|list| list.trim_end_matches(']').split(','))
        .map(|event| event.trim().to_owned())
        .collect()
}

#[test]
fn each_function_s_rule_matches_exactly_the_events_that_carry_its_jobs() {
    let owned = |events: &[&str]| {
        events
            .iter()
            .map(|e| e.to_string())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(rule_events("IngestFunction"), owned(&JOB_EVENTS));
    assert_eq!(rule_events("SweepFunction"), owned(&SWEEP_JOB_EVENTS));
    // Each event's job runs on the function whose rule matches it.
    for (events, function) in [
        (&JOB_EVENTS[..], JobFunction::Ingest),
        (&SWEEP_JOB_EVENTS[..], JobFunction::Sweep),
    ] {
        for event in events {
            let detail = json!({
                "tenant_id": TenantId::generate(), "integration_id": IntegrationId::generate(),
                "export_id": ExportId::generate(), "import_id": ImportId::generate(),
            });
            let envelope = json!({ "source": "tally", "detail-type": event, "detail": detail });
            let job = Job::from_payload(envelope).expect("a job");
            assert_eq!(job.function(), function, "{event}");
        }
    }
}

#[test]
fn the_functions_that_fan_out_reserve_their_concurrency_and_may_publish_on_their_bus() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .expect("infra/template.yaml is readable");
    for (function, policy) in [
        ("IngestFunction", "IngestPolicy"),
        ("SweepFunction", "SweepPolicy"),
    ] {
        assert!(
            resource(&template, function).contains("ReservedConcurrentExecutions: "),
            "{function}"
        );
        let policy = resource(&template, policy);
        assert!(
            policy.contains("Action: events:PutEvents")
                && policy.contains("Resource: !GetAtt EventBus.Arn"),
            "{policy}"
        );
    }
}

#[tokio::test]
async fn every_published_job_event_decodes_to_its_job() {
    let fake = FakeStripe::start(Scenario::new(1)).await;
    let vars = fake.config_vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let integration = app.connect_fake_stripe(&token).await;
    let sync = app
        .post(
            &format!("/v1/integrations/{integration}/sync"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(sync.status(), 202);
    let export = app.post("/v1/exports", Some(&token), json!({})).await;
    assert_eq!(export.status(), 202);
    let export: Value = export.json().await.expect("a JSON body");
    let custom = app
        .post("/v1/integrations/custom", Some(&token), json!({}))
        .await;
    assert_eq!(custom.status(), 201);
    let custom: Value = custom.json().await.expect("a JSON body");
    let custom = custom["id"].as_str().expect("an id").to_owned();
    let import = reqwest::Client::new()
        .post(format!(
            "{}/v1/integrations/{custom}/import/customers",
            app.address
        ))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body("external_id,created_at\nc1,1700000000\n")
        .send()
        .await
        .expect("a response");
    assert_eq!(import.status(), 202);
    let import: Value = import.json().await.expect("a JSON body");

    let tenant_id = TenantId::parse(&admin.tenant_id).expect("a tenant id");
    let expected = [
        Job::Sync(SyncJob {
            tenant_id: tenant_id.clone(),
            integration_id: IntegrationId::parse(&integration).expect("an integration id"),
        }),
        Job::Export(ExportJob {
            tenant_id: tenant_id.clone(),
            export_id: ExportId::parse(export["id"].as_str().expect("an id")).expect("an id"),
        }),
        Job::Import(ImportJob {
            tenant_id,
            integration_id: IntegrationId::parse(&custom).expect("an integration id"),
            import_id: ImportId::parse(import["id"].as_str().expect("an id")).expect("an id"),
        }),
    ];
    for (event_type, job) in JOB_EVENTS.into_iter().zip(expected) {
        let detail = app.events_of(event_type).pop().expect("the event");
        // As EventBridge delivers it to the ingest function.
        let envelope = json!({ "source": "tally", "detail-type": event_type, "detail": detail });
        assert_eq!(Job::from_payload(envelope).expect("a job"), job);
    }
}

/// Issue 17, finding 3: point-in-time recovery keeps the table (wrapped tenant keys
/// included) for its recovery period after an item is deleted, so a closed tenant's
/// data is gone for good only that long after the sweep removed it. Closure, the sweep
/// and the recovery window together stay within the promised 30 days.
#[test]
fn backups_of_a_closed_tenant_are_gone_within_the_erasure_promise() {
    use tally::services::closure::{ERASURE_DAYS, SWEEP_WITHIN_DAYS};
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .unwrap();
    let table = resource(&template, "Table");
    let spec = table
        .split("PointInTimeRecoverySpecification:")
        .nth(1)
        .expect("the table has point-in-time recovery");
    let days: i64 = spec
        .lines()
        .take(3)
        .find_map(|line| line.trim().strip_prefix("RecoveryPeriodInDays:"))
        .expect("a RecoveryPeriodInDays (DynamoDB's default is 35 days)")
        .trim()
        .parse()
        .expect("a number of days");
    assert!((1..=35).contains(&days), "DynamoDB takes 1 to 35 days");
    assert!(
        SWEEP_WITHIN_DAYS + days <= ERASURE_DAYS,
        "closure + sweep ({SWEEP_WITHIN_DAYS} d) + recovery window ({days} d) > {ERASURE_DAYS} d"
    );
}

// --- Issue 20: alarms, dashboard, the HTTP API's logs, CORS and throttling, tracing ---

fn template_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .expect("infra/template.yaml is readable")
}

/// The lines of one top-level entry (`  Name:` under a top-level key): from its name
/// to the next line indented by two spaces or less (the next entry, its comment, or
/// the next top-level key). Unlike `resource`, it stops at the next resource.
fn block(template: &str, name: &str) -> String {
    let header = format!("  {name}:");
    let mut lines = template.lines().skip_while(|line| *line != header.as_str());
    assert!(lines.next().is_some(), "a {name} in the template");
    lines
        .take_while(|line| line.is_empty() || line.starts_with("   "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value of the first `key: value` line of a block (trimmed), if any.
fn field<'a>(block: &'a str, key: &str) -> Option<&'a str> {
    let prefix = format!("{key}:");
    block
        .lines()
        .find_map(|line| line.trim().strip_prefix(prefix.as_str()))
        .map(str::trim)
}

/// The names of the entries under the template's `Resources:` whose `Type` is `kind`.
fn resources_of_type(template: &str, kind: &str) -> Vec<String> {
    let resources = template
        .split("\nResources:\n")
        .nth(1)
        .expect("a Resources section")
        .split("\nOutputs:\n")
        .next()
        .unwrap_or_default();
    resources
        .lines()
        .filter_map(|line| {
            let name = line.strip_prefix("  ")?.strip_suffix(':')?;
            (!name.starts_with([' ', '#'])).then(|| name.to_owned())
        })
        .filter(|name| field(&block(template, name), "Type") == Some(kind))
        .collect()
}

const METRICS_NAMESPACE: &str = r#"!Sub "Tally/${AWS::StackName}""#;

/// One alarm the issue asks for: the metrics it reads, the `Function` dimension of a
/// custom metric (None for AWS metrics), its threshold and comparison.
struct ExpectedAlarm {
    name: &'static str,
    metrics: &'static [&'static str],
    function: Option<&'static str>,
    threshold: f64,
    comparison: &'static str,
}

/// The alarms on the functions' own metrics name them as `telemetry::record` does, the
/// one place that emits them.
fn expected_alarms() -> Vec<ExpectedAlarm> {
    let mut alarms = Vec::new();
    for (prefix, function, p99_ms) in [
        ("Auth", "auth", 1000.0),
        ("Admin", "admin", 1000.0),
        ("Oauth", "oauth", 5000.0),
        ("Query", "query", 3000.0),
        ("Account", "account", 2000.0),
        ("Web", "web", 250.0),
    ] {
        alarms.push(ExpectedAlarm {
            name: format!("{prefix}Api5xxRateAlarm").leak(),
            metrics: &[record::API_5XX, record::API_REQUESTS],
            function: Some(function),
            threshold: 5.0,
            comparison: "GreaterThanThreshold",
        });
        alarms.push(ExpectedAlarm {
            name: format!("{prefix}ApiLatencyP99Alarm").leak(),
            metrics: &[record::API_LATENCY],
            function: Some(function),
            threshold: p99_ms,
            comparison: "GreaterThanThreshold",
        });
    }
    for prefix in [
        "Auth", "Admin", "Oauth", "Query", "Account", "Web", "Ingest", "Sweep",
    ] {
        alarms.push(ExpectedAlarm {
            name: format!("{prefix}ErrorsAlarm").leak(),
            metrics: &["Errors"],
            function: None,
            threshold: 1.0,
            comparison: "GreaterThanOrEqualToThreshold",
        });
        // ingest's and sweep's jobs queue by throttling: their alarm fires when
        // throttled jobs also wait (AsyncEventAge).
        let asynchronous = matches!(prefix, "Ingest" | "Sweep");
        alarms.push(ExpectedAlarm {
            name: format!("{prefix}ThrottlesAlarm").leak(),
            metrics: if asynchronous {
                &["Throttles", "AsyncEventAge"]
            } else {
                &["Throttles"]
            },
            function: None,
            threshold: 1.0,
            comparison: "GreaterThanOrEqualToThreshold",
        });
    }
    alarms.extend([
        ExpectedAlarm {
            name: "TableThrottlesAlarm",
            metrics: &["ReadThrottleEvents", "WriteThrottleEvents"],
            function: None,
            threshold: 1.0,
            comparison: "GreaterThanOrEqualToThreshold",
        },
        ExpectedAlarm {
            name: "ScheduledRunsFailedAlarm",
            metrics: &["ApproximateNumberOfMessagesVisible"],
            function: None,
            threshold: 1.0,
            comparison: "GreaterThanOrEqualToThreshold",
        },
        ExpectedAlarm {
            name: "SyncLagAlarm",
            metrics: &[record::MAX_SYNC_AGE],
            function: Some("ingest"),
            threshold: 10_800.0,
            comparison: "GreaterThanThreshold",
        },
        ExpectedAlarm {
            name: "PendingDeletionAlarm",
            metrics: &[record::OLDEST_PENDING_DELETION_AGE],
            function: Some("sweep"),
            threshold: 72_000.0,
            comparison: "GreaterThanThreshold",
        },
        ExpectedAlarm {
            name: "ClosureAgeAlarm",
            metrics: &[record::OLDEST_CLOSURE_AGE],
            function: Some("sweep"),
            threshold: 129_600.0,
            comparison: "GreaterThanThreshold",
        },
    ]);
    alarms
}

#[test]
fn every_alarm_watches_its_metric_with_its_threshold_and_notifies_the_alarm_topic() {
    let template = template_text();
    let expected = expected_alarms();
    let declared = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    let names: BTreeSet<&str> = expected.iter().map(|a| a.name).collect();
    let declared_names: BTreeSet<&str> = declared.iter().map(String::as_str).collect();
    assert_eq!(declared_names, names, "the template's alarms");

    for alarm in &expected {
        let body = block(&template, alarm.name);
        let name = alarm.name;
        assert!(
            field(&body, "AlarmDescription").is_some(),
            "{name}: a description"
        );
        // Both transitions reach the operator, unconditionally.
        assert_eq!(
            field(&body, "AlarmActions"),
            Some("[!Ref AlarmTopic]"),
            "{name}"
        );
        assert_eq!(
            field(&body, "OKActions"),
            Some("[!Ref AlarmTopic]"),
            "{name}"
        );
        let threshold: f64 = field(&body, "Threshold")
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("{name}: a numeric Threshold"));
        assert_eq!(threshold, alarm.threshold, "{name}: threshold");
        assert_eq!(
            field(&body, "ComparisonOperator"),
            Some(alarm.comparison),
            "{name}: comparison"
        );
        let metrics: BTreeSet<&str> = body
            .lines()
            .filter_map(|line| line.trim().strip_prefix("MetricName:"))
            .map(str::trim)
            .collect();
        assert_eq!(
            metrics,
            alarm.metrics.iter().copied().collect(),
            "{name}: metrics"
        );
        if let Some(function) = alarm.function {
            // The functions' metrics: the stack's namespace, found by their Function
            // dimension.
            assert!(
                body.lines()
                    .filter_map(|line| line.trim().strip_prefix("Namespace:"))
                    .all(|ns| ns.trim() == METRICS_NAMESPACE),
                "{name}: namespace"
            );
            assert!(
                body.contains(&format!("Name: Function, Value: {function} }}"))
                    || body.contains(&format!("- Name: Function\n          Value: {function}\n")),
                "{name}: Function={function}\n{body}"
            );
        }
    }
}

/// The template's `Globals` section.
fn globals(template: &str) -> &str {
    template
        .split("\nGlobals:\n")
        .nth(1)
        .and_then(|g| g.split("\nResources:\n").next())
        .expect("a Globals section")
}

#[test]
fn the_alarms_read_what_the_functions_emit_and_fire_before_a_promise_breaks() {
    use tally::services::closure::SWEEP_WITHIN_DAYS;
    let template = template_text();
    // The namespace the functions write to is the one the alarms read.
    let globals = globals(&template);
    assert_eq!(
        field(globals, "TALLY_METRICS_NAMESPACE"),
        Some(METRICS_NAMESPACE)
    );

    // 5xx rate: metric math over the two counts, Api5xx absent when there was none.
    for prefix in ["Auth", "Admin", "Oauth", "Query", "Account", "Web"] {
        let body = block(&template, &format!("{prefix}Api5xxRateAlarm"));
        assert_eq!(
            field(&body, "Expression"),
            Some("100 * FILL(errors, 0) / requests"),
            "{prefix}"
        );
        assert_eq!(field(&body, "EvaluationPeriods"), Some("2"), "{prefix}");
        assert_eq!(field(&body, "DatapointsToAlarm"), Some("2"), "{prefix}");
        // A p99 above the function's timeout could never fire.
        let latency = block(&template, &format!("{prefix}ApiLatencyP99Alarm"));
        assert_eq!(field(&latency, "ExtendedStatistic"), Some("p99"));
        let threshold_ms: f64 = field(&latency, "Threshold")
            .and_then(|t| t.parse().ok())
            .expect("a threshold");
        let timeout_s: f64 = field(&block(&template, &format!("{prefix}Function")), "Timeout")
            .and_then(|t| t.parse().ok())
            .expect("a function timeout");
        assert!(threshold_ms < timeout_s * 1000.0, "{prefix}: p99 threshold");
    }

    // Deletion promises: 24 hours after a disconnect; 30 days after a closure, backups
    // included, which leaves the sweep SWEEP_WITHIN_DAYS (point-in-time recovery keeps
    // the rest).
    let pending = block(&template, "PendingDeletionAlarm");
    let closure = block(&template, "ClosureAgeAlarm");
    let threshold = |body: &str| -> i64 {
        field(body, "Threshold")
            .and_then(|t| t.parse().ok())
            .expect("an integer threshold")
    };
    assert!(threshold(pending.as_str()) < 24 * 3600);
    assert!(threshold(closure.as_str()) < SWEEP_WITHIN_DAYS * 86_400);
    // A silent planner is a stopped planner: missing data breaches.
    for (name, period) in [
        ("SyncLagAlarm", "300"),
        ("PendingDeletionAlarm", "3600"),
        ("ClosureAgeAlarm", "3600"),
    ] {
        let body = block(&template, name);
        assert_eq!(
            field(&body, "TreatMissingData"),
            Some("breaching"),
            "{name}"
        );
        assert_eq!(field(&body, "Period"), Some(period), "{name}");
        assert_eq!(field(&body, "Statistic"), Some("Maximum"), "{name}");
    }
    // The deletion alarms: one value over the threshold is enough; two silent hours
    // (CloudWatch fills missing periods only when fewer than DatapointsToAlarm have a
    // value) alarm too.
    for body in [&pending, &closure] {
        assert_eq!(field(body, "EvaluationPeriods"), Some("2"));
        assert_eq!(field(body, "DatapointsToAlarm"), Some("1"));
    }
}

#[test]
fn the_alarm_topic_is_encrypted_and_its_e_mail_subscription_is_a_parameter() {
    let template = template_text();
    let parameter = block(&template, "AlarmEmail");
    assert_eq!(field(&parameter, "Default"), Some(r#""""#));
    assert!(
        !template.contains("AlarmTopicArn:\n    Type: String"),
        "the old parameter is gone"
    );
    assert!(template.contains(
        "\nConditions:\n  SubscribeAlarmEmail: !Not [!Equals [!Ref AlarmEmail, \"\"]]\n"
    ));
    let subscription = block(&template, "AlarmEmailSubscription");
    assert_eq!(field(&subscription, "Type"), Some("AWS::SNS::Subscription"));
    assert_eq!(
        field(&subscription, "Condition"),
        Some("SubscribeAlarmEmail")
    );
    assert_eq!(field(&subscription, "Protocol"), Some("email"));
    assert_eq!(field(&subscription, "Endpoint"), Some("!Ref AlarmEmail"));
    assert_eq!(field(&subscription, "TopicArn"), Some("!Ref AlarmTopic"));

    // CloudWatch can publish to an encrypted topic only through a key whose policy lets
    // it: the AWS managed alias/aws/sns cannot.
    let topic = block(&template, "AlarmTopic");
    assert_eq!(field(&topic, "KmsMasterKeyId"), Some("!Ref AlarmTopicKey"));
    let key = block(&template, "AlarmTopicKey");
    assert!(key.contains("Principal: { Service: cloudwatch.amazonaws.com }"));
    assert!(key.contains("aws:SourceAccount: !Ref AWS::AccountId"));
}

#[test]
fn the_access_log_holds_no_client_address_agent_path_or_header() {
    let template = template_text();
    let api = block(&template, "Api");
    let format = field(&api, "Format").expect("an access log Format");
    let format = format
        .strip_prefix('\'')
        .and_then(|f| f.strip_suffix('\''))
        .expect("a single-quoted Format");
    let line: serde_json::Map<String, Value> =
        serde_json::from_str(format).expect("the access log line is JSON");
    let variables: BTreeSet<&str> = line.values().filter_map(Value::as_str).collect();
    let allowed: BTreeSet<&str> = [
        "$context.requestId",
        "$context.requestTime",
        "$context.routeKey",
        "$context.status",
        "$context.protocol",
        "$context.responseLatency",
        "$context.integrationLatency",
        "$context.integrationStatus",
        "$context.integrationErrorMessage",
        "$context.error.message",
        "$context.responseLength",
    ]
    .into();
    assert!(
        variables.is_subset(&allowed),
        "not allowed in the access log: {:?}",
        variables.difference(&allowed).collect::<Vec<_>>()
    );
    for needed in ["$context.requestId", "$context.routeKey", "$context.status"] {
        assert!(variables.contains(needed), "{needed}");
    }
    for personal in ["sourceIp", "userAgent", "identity", "path", "header"] {
        assert!(!format.contains(personal), "{personal} in the access log");
    }
    assert_eq!(
        field(&api, "DestinationArn"),
        Some("!GetAtt ApiAccessLogGroup.Arn")
    );
    let group = block(&template, "ApiAccessLogGroup");
    assert_eq!(
        field(&group, "RetentionInDays"),
        Some("!Ref LogRetentionDays")
    );
}

/// The methods or headers of a CORS header or a template list, lower-cased.
fn cors_list(list: &str) -> BTreeSet<String> {
    list.trim_matches(['[', ']'])
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect()
}

/// API Gateway answers preflights itself once CORS is configured on the API: it must
/// allow what the app allows locally (shared/src/http/layers.rs), for AppUrl's origin
/// only.
#[tokio::test]
async fn the_api_s_cors_is_the_app_s_for_app_url_s_origin_only() {
    let template = template_text();
    let api = block(&template, "Api");
    let cors = api
        .split("CorsConfiguration:")
        .nth(1)
        .expect("a CorsConfiguration");
    // One origin, built from AppUrl as the app builds it: scheme://host[:port].
    let origins: Vec<&str> = cors
        .lines()
        .skip_while(|line| line.trim() != "AllowOrigins:")
        .skip(1)
        .take_while(|line| line.trim_start().starts_with("- "))
        .collect();
    assert_eq!(
        origins,
        [
            r#"          - !Join ["", [!Select [0, !Split ["/", !Ref AppUrl]], "//", !Select [2, !Split ["/", !Ref AppUrl]]]]"#
        ],
    );
    let app_url = "https://app.tally.example/dashboard";
    let parts: Vec<&str> = app_url.split('/').collect();
    let origin = format!("{}//{}", parts[0], parts[2]);
    assert_eq!(field(cors, "AllowCredentials"), Some("false"));

    let app = spawn_app_with(&[("TALLY_APP_URL", app_url)]).await;
    let preflight = reqwest::Client::new()
        .request(Method::OPTIONS, format!("{}/v1/me", app.address))
        .header("origin", &origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .expect("a response");
    let header = |name: &str| {
        preflight
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{name}"))
            .to_owned()
    };
    assert_eq!(header("access-control-allow-origin"), origin);
    assert_eq!(
        cors_list(field(cors, "AllowMethods").expect("AllowMethods")),
        cors_list(&header("access-control-allow-methods"))
    );
    assert_eq!(
        cors_list(field(cors, "AllowHeaders").expect("AllowHeaders")),
        cors_list(&header("access-control-allow-headers"))
    );
    assert_eq!(
        field(cors, "MaxAge"),
        Some(header("access-control-max-age").as_str())
    );
    // The app refuses other origins; so does API Gateway with one origin configured.
    assert!(!template.contains("AllowOrigins: \"*\"") && !cors.contains("'*'"));
}

/// `(rate, burst)` of a `{ ThrottlingBurstLimit: b, ThrottlingRateLimit: r }` mapping.
fn throttling(settings: &str) -> (f64, u32) {
    let number = |key: &str| {
        let rest = &settings[settings.find(key).unwrap_or_else(|| panic!("{key}")) + key.len()..];
        rest.trim_start_matches([':', ' '])
            .split([',', '}', '\n'])
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    (
        number("ThrottlingRateLimit").parse().expect("a rate"),
        number("ThrottlingBurstLimit").parse().expect("a burst"),
    )
}

#[test]
fn sign_in_and_reset_routes_are_throttled_below_the_default() {
    let template = template_text();
    let api = block(&template, "Api");
    let default = api
        .split("DefaultRouteSettings:")
        .nth(1)
        .and_then(|s| s.split("RouteSettings:").next())
        .expect("DefaultRouteSettings");
    let (default_rate, default_burst) = throttling(default);
    let routes = template_routes();
    let settings: Vec<(String, (f64, u32))> = api
        .split("\n      RouteSettings:\n")
        .nth(1)
        .expect("RouteSettings")
        .lines()
        .map(str::trim)
        .take_while(|line| line.starts_with('"') || line.starts_with('#'))
        .filter(|line| line.starts_with('"'))
        .map(|line| {
            let key = line
                .split('"')
                .nth(1)
                .expect("a quoted route key")
                .to_owned();
            (key, throttling(line))
        })
        .collect();
    for (key, (rate, burst)) in &settings {
        // A route setting naming no route fails the stage's creation.
        let (method, path) = key.split_once(' ').expect("METHOD /path");
        assert!(
            routes.contains(&(method.to_owned(), path.to_owned())),
            "{key} is not a route of the template"
        );
        assert!(
            *rate < default_rate && *burst < default_burst,
            "{key}: {rate}/{burst}"
        );
    }
    let keys: BTreeSet<&str> = settings.iter().map(|(k, _)| k.as_str()).collect();
    for route in [
        "POST /v1/sessions",
        "POST /v1/signup",
        "POST /v1/password/reset-request",
        "POST /v1/password/reset",
        "POST /v1/operator/sessions",
        "POST /v1/mfa/totp/confirm",
    ] {
        assert!(keys.contains(route), "{route} is not throttled apart");
    }
}

#[test]
fn every_function_traces_and_logs_json_and_its_role_may_put_trace_segments() {
    let template = template_text();
    let globals = globals(&template);
    assert_eq!(field(globals, "Tracing"), Some("Active"));
    assert_eq!(field(globals, "LogFormat"), Some("JSON"));
    assert_eq!(field(globals, "ApplicationLogLevel"), Some("INFO"));
    assert_eq!(field(globals, "SystemLogLevel"), Some("WARN"));

    let functions = resources_of_type(&template, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 8, "{functions:?}");
    for function in &functions {
        let body = block(&template, function);
        // No function overrides the globals; each has its own log group.
        for key in [
            "Tracing",
            "LogFormat",
            "ApplicationLogLevel",
            "SystemLogLevel",
        ] {
            assert!(field(&body, key).is_none(), "{function} sets its own {key}");
        }
        assert!(field(&body, "LogGroup").is_some(), "{function}: a LogGroup");
        let role = field(&body, "Role")
            .and_then(|r| r.strip_prefix("!GetAtt "))
            .and_then(|r| r.strip_suffix(".Arn"))
            .unwrap_or_else(|| panic!("{function}: a role of the stack"));
        let policies: Vec<String> = resources_of_type(&template, "AWS::IAM::RolePolicy")
            .into_iter()
            .map(|name| block(&template, &name))
            .filter(|policy| field(policy, "RoleName") == Some(format!("!Ref {role}").as_str()))
            .collect();
        assert_eq!(policies.len(), 1, "{function}: one policy for {role}");
        assert!(
            policies[0].contains(
                "Action: [xray:PutTraceSegments, xray:PutTelemetryRecords]\n            Resource: \"*\""
            ),
            "{function}: X-Ray"
        );
    }
    // No role policy grants a wildcard action (X-Ray's "*" is a resource).
    for policy in resources_of_type(&template, "AWS::IAM::RolePolicy") {
        let body = block(&template, &policy);
        let mut in_action = false;
        for line in body.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("Action:") {
                in_action = rest.trim().is_empty();
                assert!(!rest.contains('*'), "{policy}: {line}");
            } else if in_action && line.starts_with("- ") {
                assert!(!line.contains('*'), "{policy}: {line}");
            } else {
                in_action = false;
            }
        }
    }
}

/// The dashboard's body is JSON once !Sub has filled in its `${...}`, shows every
/// metric the alarms read and the issue names, and lists every alarm.
#[test]
fn the_dashboard_shows_every_metric_and_every_alarm() {
    let template = template_text();
    let dashboard = block(&template, "Dashboard");
    assert_eq!(
        field(&dashboard, "Type"),
        Some("AWS::CloudWatch::Dashboard")
    );
    let body = dashboard
        .split("DashboardBody: !Sub |\n")
        .nth(1)
        .expect("a DashboardBody via !Sub");
    // Each ${...} as !Sub would replace it, remembering the alarms' ARNs.
    let mut json = String::new();
    let mut referenced = BTreeSet::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        json.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed ${...}") + start;
        let name = &rest[start + 2..end];
        if let Some(alarm) = name.strip_suffix(".Arn") {
            referenced.insert(alarm.to_owned());
        }
        json.push_str("substituted");
        rest = &rest[end + 1..];
    }
    json.push_str(rest);
    let parsed: Value = serde_json::from_str(&json).expect("the dashboard body is JSON");
    let widgets = parsed["widgets"].as_array().expect("widgets");

    let mut metrics = BTreeSet::new();
    for widget in widgets {
        for row in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            // Each row is an array: [namespace, name, dimensions..., options] or
            // [{expression}].
            assert!(row.is_array(), "a metrics row that is not an array: {row}");
            if let Some(name) = row.get(1).and_then(Value::as_str) {
                metrics.insert(name.to_owned());
            }
            if let Some(expression) = row[0]["expression"].as_str() {
                let name = expression
                    .split("MetricName=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .expect("a SEARCH by metric name");
                metrics.insert(name.to_owned());
            }
        }
    }
    // Every metric the functions emit (telemetry::record), and AWS's own the alarms read.
    for metric in [
        record::API_REQUESTS,
        record::API_5XX,
        record::API_LATENCY,
        record::REQUESTS,
        record::REQUEST_LATENCY,
        record::SIGN_INS,
        record::SYNC_DURATION,
        record::SYNC_RECORDS_WRITTEN,
        record::SYNCS,
        record::SYNC_AGE,
        record::MAX_SYNC_AGE,
        record::SNAPSHOT_REBUILD_TIME,
        record::SNAPSHOT_SIZE,
        record::SWEEP_DELETED_ITEMS,
        record::OLDEST_PENDING_DELETION_AGE,
        record::OLDEST_CLOSURE_AGE,
        record::JOB_DURATION,
        record::JOB_FAILURES,
        "Errors",
        "Throttles",
        "ReadThrottleEvents",
        "WriteThrottleEvents",
        "ApproximateNumberOfMessagesVisible",
    ] {
        assert!(metrics.contains(metric), "{metric} is not on the dashboard");
    }
    let alarms: BTreeSet<String> = resources_of_type(&template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .collect();
    assert_eq!(referenced, alarms, "the dashboard's alarm widget");
}

/// docs/deploy.md's "Operating" section says what each alarm means and what to do: every
/// alarm of the template is in its table, by name or as `<Function>…` for the six HTTP
/// functions'.
#[test]
fn every_alarm_is_explained_in_the_operating_section() {
    let template = template_text();
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/deploy.md"))
        .expect("docs/deploy.md is readable");
    let operating = docs
        .split("\n### Operating\n")
        .nth(1)
        .and_then(|s| s.split("\n### ").next())
        .expect("an Operating section");
    for alarm in resources_of_type(&template, "AWS::CloudWatch::Alarm") {
        let by_pattern = ["Auth", "Admin", "Oauth", "Query", "Account", "Web"]
            .iter()
            .filter_map(|prefix| alarm.strip_prefix(prefix))
            .any(|rest| operating.contains(&format!("`<Function>{rest}`")));
        assert!(
            by_pattern || operating.contains(&format!("`{alarm}`")),
            "{alarm} is not explained in docs/deploy.md, \"Operating\""
        );
    }
}
