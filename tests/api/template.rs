//! The SAM template serves exactly the routes of the route table, and the local app
//! serves every one of them (no 404 or 405 where a route is listed). Its schedules and
//! its jobs rules speak `services::jobs::Job`, each function's only its own jobs.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};
use tally::domain::ids::{ExportId, IntegrationId, TenantId};
use tally::services::jobs::{ExportJob, JOB_EVENTS, Job, JobFunction, SWEEP_JOB_EVENTS, SyncJob};
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
                "export_id": ExportId::generate(),
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

    let tenant_id = TenantId::parse(&admin.tenant_id).expect("a tenant id");
    let expected = [
        Job::Sync(SyncJob {
            tenant_id: tenant_id.clone(),
            integration_id: IntegrationId::parse(&integration).expect("an integration id"),
        }),
        Job::Export(ExportJob {
            tenant_id,
            export_id: ExportId::parse(export["id"].as_str().expect("an id")).expect("an id"),
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
