//! Issue 18, item 7: the weekly digest. Each user opts in for themselves
//! (`/v1/me/digest`); an admin sets the tenant's Slack webhook, which is kept as a
//! secret and never shown again; the digest job sends one `WeeklyDigest` event per
//! opted-in user with the week's figures as `mrr_movements` reports them, once per week,
//! and one Slack message naming customers by id only.

use std::sync::{Arc, Mutex};

use axum::routing::post;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tally::domain::digest::last_complete_week;
use tally::domain::ids::TenantId;
use tally::ports::{Clock, SecretName, SlackError, SlackMessage, SlackSender};
use tally::services::jobs::{self, DigestJob, Job, JobReport, Workers};

use crate::helpers::{TestApp, TestUser, contains_bytes, error_code, spawn_app};

const WEBHOOK: &str = "https://hooks.slack.com/services/T0DIGEST/B0DIGEST/s3cretWebhookToken";

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

#[tokio::test]
async fn each_user_opts_in_to_the_weekly_digest_for_themselves_only() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let admin_token = app.login(&admin).await;
    let (_, analyst) = app.user_with_role(&admin_token, "analyst").await;
    let (_, viewer) = app.user_with_role(&admin_token, "viewer").await;

    // Off until turned on, for every role.
    for token in [&admin_token, &analyst, &viewer] {
        let reply = app.get("/v1/me/digest", token).await;
        assert_eq!(reply.status(), 200);
        assert_eq!(json_of(reply).await, json!({"weekly": false}));
    }
    // A viewer turns it on for themselves: nobody else's changes.
    let on = app
        .put("/v1/me/digest", &viewer, json!({"weekly": true}))
        .await;
    assert_eq!(on.status(), 200);
    assert_eq!(json_of(on).await, json!({"weekly": true}));
    let mine = json_of(app.get("/v1/me/digest", &viewer).await).await;
    assert_eq!(mine["weekly"], true);
    let admins = json_of(app.get("/v1/me/digest", &admin_token).await).await;
    assert_eq!(admins["weekly"], false);
    // And off again.
    let off = app
        .put("/v1/me/digest", &viewer, json!({"weekly": false}))
        .await;
    assert_eq!(json_of(off).await["weekly"], false);

    // Bad input is a 400 in the API's shape; no session is a 401.
    for bad in [
        json!({}),
        json!({"weekly": "yes"}),
        json!({"weekly": true, "x": 1}),
    ] {
        let reply = app.put("/v1/me/digest", &analyst, bad.clone()).await;
        assert_eq!(reply.status(), 400, "{bad}");
        assert_eq!(error_code(reply).await, "invalid_request");
    }
    let anonymous = app
        .request(reqwest::Method::GET, "/v1/me/digest", None, None)
        .await;
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn only_admins_set_the_slack_webhook_which_is_kept_secret_and_deleted() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let (_, analyst) = app.user_with_role(&token, "analyst").await;
    let (_, viewer) = app.user_with_role(&token, "viewer").await;
    let path = "/v1/settings/slack-webhook";

    for other in [&analyst, &viewer] {
        assert_eq!(app.get(path, other).await.status(), 403);
        let put = app.put(path, other, json!({"url": WEBHOOK})).await;
        assert_eq!(put.status(), 403);
        assert_eq!(app.delete(path, other).await.status(), 403);
    }
    let none = json_of(app.get(path, &token).await).await;
    assert_eq!(none, json!({"configured": false, "updated_at": null}));

    // Anything but a Slack incoming-webhook URL is refused, naming `url`, never
    // echoing it.
    for bad in [
        "http://hooks.slack.com/services/T0/B0/abc",
        "https://hooks.slack.com.attacker.example/services/T0/B0/abc",
        "https://attacker.example/services/T0/B0/abc",
        "https://hooks.slack.com/api/T0/B0/abc",
        "https://hooks.slack.com:444/services/T0/B0/abc",
        "not a url",
    ] {
        let reply = app.put(path, &token, json!({"url": bad})).await;
        assert_eq!(reply.status(), 400, "{bad}");
        let body = reply.text().await.unwrap();
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"]["code"], "invalid_request", "{body}");
        assert_eq!(error["error"]["details"]["field"], "url", "{body}");
        assert!(!body.contains(bad), "{body}");
    }

    let set = app.put(path, &token, json!({"url": WEBHOOK})).await;
    assert_eq!(set.status(), 200);
    let body = set.text().await.unwrap();
    assert!(!body.contains("s3cretWebhookToken"), "{body}");
    let set: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(set["configured"], true);
    assert!(set["updated_at"].is_string());
    let got = app.get(path, &token).await.text().await.unwrap();
    assert!(!got.contains("s3cretWebhookToken") && got.contains("\"configured\":true"));

    // In the secret store under the tenant's name; audited without the URL.
    let name = SecretName::slack_webhook(&admin.tenant_id).unwrap();
    let stored = app.services.adapters.secrets.get(&name).await.unwrap();
    assert_eq!(
        stored.map(|s| s.expose_secret().to_owned()).as_deref(),
        Some(WEBHOOK)
    );
    let audit = app
        .get("/v1/security/audit-log", &token)
        .await
        .text()
        .await
        .unwrap();
    assert!(audit.contains("SlackWebhookSet"), "{audit}");
    assert!(!audit.contains("s3cretWebhookToken"));
    assert!(!contains_bytes(
        &app.raw_stored_data(),
        b"s3cretWebhookToken"
    ));

    assert_eq!(app.delete(path, &token).await.status(), 204);
    assert!(
        app.services
            .adapters
            .secrets
            .get(&name)
            .await
            .unwrap()
            .is_none()
    );
    let gone = json_of(app.get(path, &token).await).await;
    assert_eq!(gone["configured"], false);
    assert_eq!(
        app.delete(path, &token).await.status(),
        204,
        "deleting none"
    );
}

#[tokio::test]
async fn closing_the_account_deletes_the_slack_webhook() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let path = "/v1/settings/slack-webhook";
    assert_eq!(
        app.put(path, &token, json!({"url": WEBHOOK}))
            .await
            .status(),
        200
    );
    let closed = app
        .request(
            reqwest::Method::DELETE,
            "/v1/account",
            Some(&token),
            Some(json!({"password": admin.password, "confirm": "Acme GmbH"})),
        )
        .await;
    assert_eq!(closed.status(), 202);
    let name = SecretName::slack_webhook(&admin.tenant_id).unwrap();
    assert!(
        app.services
            .adapters
            .secrets
            .get(&name)
            .await
            .unwrap()
            .is_none()
    );
}

/// The Slack port in tests: what production posts to the webhook URL goes to a local
/// listener instead; the URL it was given is kept to check it was the tenant's.
struct LocalSlack {
    endpoint: String,
    urls: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl SlackSender for LocalSlack {
    async fn post(&self, url: &SecretString, message: &SlackMessage) -> Result<(), SlackError> {
        self.urls
            .lock()
            .unwrap()
            .push(url.expose_secret().to_owned());
        let response = reqwest::Client::new()
            .post(&self.endpoint)
            .json(message)
            .send()
            .await
            .map_err(|e| SlackError::Unreachable(e.without_url().to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(SlackError::Status(response.status().as_u16()))
        }
    }
}

/// A listener that records every body POSTed to it.
async fn slack_listener() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = received.clone();
    let router = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(body): axum::Json<Value>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}/hook"), received)
}

/// A tenant with `customers` customers of demo data synced, its admin and token.
async fn tenant_with_data(app: &TestApp, customers: usize) -> (TestUser, String, TenantId) {
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();
    let demo = app
        .services
        .integrations
        .connect_demo_of(&tenant, 7, Some(customers))
        .await
        .unwrap();
    app.services
        .ingestion
        .sync_integration(&tenant, &demo)
        .await
        .unwrap();
    (admin, token, tenant)
}

#[tokio::test]
async fn the_digest_goes_once_a_week_to_each_opted_in_user_and_to_slack() {
    let app = spawn_app().await;
    let (endpoint, slack_posts) = slack_listener().await;
    let slack = Arc::new(LocalSlack {
        endpoint,
        urls: Mutex::default(),
    });
    assert!(app.services.tenancy.override_slack(slack.clone()));
    let (admin, token, tenant) = tenant_with_data(&app, 300).await;
    let (_, analyst) = app.user_with_role(&token, "analyst").await;
    let (_, viewer) = app.user_with_role(&token, "viewer").await;
    // The admin and the viewer opt in; the analyst does not.
    for who in [&token, &viewer] {
        let on = app.put("/v1/me/digest", who, json!({"weekly": true})).await;
        assert_eq!(on.status(), 200);
    }
    let put = app
        .put(
            "/v1/settings/slack-webhook",
            &token,
            json!({"url": WEBHOOK}),
        )
        .await;
    assert_eq!(put.status(), 200);
    let me = |t: &str| {
        let t = t.to_owned();
        let app = &app;
        async move { json_of(app.get("/v1/me", &t).await).await["user"]["id"].clone() }
    };
    let (admin_id, viewer_id, analyst_id) =
        (me(&token).await, me(&viewer).await, me(&analyst).await);

    // The preview shows what will be sent (admins only).
    let week = last_complete_week(app.clock.now().date_naive());
    let preview = app.get("/v1/settings/digest/preview", &token).await;
    assert_eq!(preview.status(), 200);
    let preview = json_of(preview).await;
    assert_eq!(preview["week_start"], week.to_string());
    for other in [&analyst, &viewer] {
        let refused = app.get("/v1/settings/digest/preview", other).await;
        assert_eq!(refused.status(), 403);
    }

    let workers = Workers::all(&app.services);
    let job = || {
        Job::SendDigest(DigestJob {
            tenant_id: tenant.clone(),
            week_start: None,
        })
    };
    let Ok(JobReport::Digest(report)) = jobs::run(&workers, job()).await else {
        panic!("the digest job runs");
    };
    assert!(report.sent && report.slack, "{report:?}");
    assert_eq!(report.emails, 2);

    let events = app.events_of("WeeklyDigest");
    let mut recipients: Vec<Value> = events.iter().map(|e| e["user_id"].clone()).collect();
    recipients.sort_by_key(|v| v.to_string());
    let mut expected = vec![admin_id.clone(), viewer_id];
    expected.sort_by_key(|v| v.to_string());
    assert_eq!(recipients, expected);
    assert!(!recipients.contains(&analyst_id));
    let to_admin = events.iter().find(|e| e["user_id"] == admin_id).unwrap();
    assert_eq!(to_admin["email"], admin.email);
    assert_eq!(to_admin["tenant_id"], admin.tenant_id);
    assert!(
        to_admin["subject"]
            .as_str()
            .unwrap()
            .contains("weekly digest")
    );
    assert!(to_admin["text"].as_str().unwrap().contains("MRR"));
    assert_eq!(to_admin["week_start"], week.to_string());

    // The figures are the week's `mrr_movements`, as the API reports them.
    let movements = json_of(
        app.get(
            &format!(
                "/v1/metrics/mrr_movements?from={week}&to={}&interval=week",
                to_admin["week_end"].as_str().unwrap()
            ),
            &token,
        )
        .await,
    )
    .await;
    let point = &movements["series"][0];
    let figures = &to_admin["figures"];
    for field in [
        "start_mrr",
        "mrr",
        "new",
        "expansion",
        "contraction",
        "churn",
        "reactivation",
        "net",
    ] {
        assert_eq!(figures[field], point[field], "{field}");
    }
    assert_eq!(figures["currency"], movements["currency"]);
    assert!(
        figures["mrr"].as_i64().unwrap() > 0,
        "the demo tenant has MRR"
    );
    let customers = json_of(
        app.get(
            &format!(
                "/v1/metrics/customers?from={week}&to={}&interval=week",
                to_admin["week_end"].as_str().unwrap()
            ),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(figures["customers"], customers["series"][0]["value"]);
    // The preview before the run showed the same figures.
    assert_eq!(preview["figures"], *figures);

    // A viewer gets aggregates only: the same counts, no customer named.
    let to_viewer = events.iter().find(|e| e["user_id"] != admin_id).unwrap();
    assert_eq!(to_viewer["figures"], *figures);
    let mut named = 0;
    for list in ["churn_risk", "payment_failure_risk"] {
        assert_eq!(to_viewer[list]["new"], to_admin[list]["new"], "{list}");
        assert_eq!(to_viewer[list]["top_new"], json!([]), "{list}");
        let top = to_admin[list]["top_new"].as_array().unwrap();
        named += top.len();
        // Largest MRR at risk first.
        let amounts: Vec<i64> = top
            .iter()
            .map(|r| r["mrr_at_risk"].as_i64().unwrap())
            .collect();
        assert!(
            amounts.windows(2).all(|w| w[0] >= w[1]),
            "{list}: {amounts:?}"
        );
        if list == "churn_risk" {
            assert!(amounts.iter().all(|&a| a > 0), "paying customers only");
        }
    }
    assert!(named > 0, "the admin's digest names customers at risk");
    assert!(!to_viewer["text"].as_str().unwrap().contains("cus_"));

    // Delivered again (a retry, a duplicate event): nothing more is sent.
    let Ok(JobReport::Digest(again)) = jobs::run(&workers, job()).await else {
        panic!("the digest job runs");
    };
    assert!(
        !again.sent && again.emails == 0 && !again.slack,
        "{again:?}"
    );
    assert_eq!(app.events_of("WeeklyDigest").len(), 2);

    // Slack got exactly one message, at the tenant's URL, with no customer e-mail.
    let posts = slack_posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 1);
    assert_eq!(*slack.urls.lock().unwrap(), [WEBHOOK]);
    let text = posts[0]["text"].as_str().unwrap();
    assert!(text.contains("MRR"), "{text}");
    assert!(!text.contains('@'), "no e-mail address: {text}");
    let listed = json_of(app.get("/v1/customers?limit=200", &token).await).await;
    for customer in listed["data"].as_array().unwrap() {
        if let Some(email) = customer["email"].as_str() {
            assert!(!text.contains(email));
        }
    }
    // The webhook's URL is in no event.
    assert!(
        !app.events()
            .iter()
            .any(|e| e.to_string().contains("s3cretWebhookToken"))
    );
}

#[tokio::test]
async fn new_risks_are_those_not_in_the_previous_digest() {
    let app = spawn_app().await;
    let (_, token, tenant) = tenant_with_data(&app, 300).await;
    let week = last_complete_week(app.clock.now().date_naive());
    let workers = Workers::all(&app.services);
    let send = |week_start| {
        Job::SendDigest(DigestJob {
            tenant_id: tenant.clone(),
            week_start: Some(week_start),
        })
    };
    // Before any digest, every listed customer is new.
    let first = json_of(app.get("/v1/settings/digest/preview", &token).await).await;
    for list in ["payment_failure_risk", "churn_risk"] {
        assert_eq!(first[list]["new"], first[list]["total"], "{list}");
    }
    let listed = first["payment_failure_risk"]["total"].as_u64().unwrap()
        + first["churn_risk"]["total"].as_u64().unwrap();
    assert!(listed > 0, "the demo tenant has customers at risk");
    // The week before is sent: it records who was listed.
    let earlier = week - chrono::Duration::days(7);
    jobs::run(&workers, send(earlier)).await.unwrap();
    // The preview of the next week compares with it: the same lists, nothing new.
    let preview = json_of(app.get("/v1/settings/digest/preview", &token).await).await;
    let risks = json_of(
        app.get("/v1/insights/payment-failure-risk?limit=200", &token)
            .await,
    )
    .await;
    let at_risk: std::collections::BTreeSet<&str> = risks["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["customer"].as_str())
        .collect();
    assert_eq!(preview["payment_failure_risk"]["total"], at_risk.len());
    assert_eq!(preview["payment_failure_risk"]["new"], 0);
    assert_eq!(preview["churn_risk"]["new"], 0);
}

#[tokio::test]
async fn the_preview_needs_data() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let reply = app.get("/v1/settings/digest/preview", &token).await;
    assert_eq!(reply.status(), 409);
    assert_eq!(error_code(reply).await, "no_data_yet");
}

#[tokio::test]
async fn the_planner_asks_for_each_tenant_s_digest_and_a_failing_slack_does_not_stop_the_mail() {
    let app = spawn_app().await;
    // Slack answers 500 to everything.
    let router = axum::Router::new().route(
        "/hook",
        post(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "no") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let slack = Arc::new(LocalSlack {
        endpoint,
        urls: Mutex::default(),
    });
    assert!(app.services.tenancy.override_slack(slack.clone()));
    let (admin, token, tenant) = tenant_with_data(&app, 40).await;
    assert_eq!(
        app.put("/v1/me/digest", &token, json!({"weekly": true}))
            .await
            .status(),
        200
    );
    let put = app
        .put(
            "/v1/settings/slack-webhook",
            &token,
            json!({"url": WEBHOOK}),
        )
        .await;
    assert_eq!(put.status(), 200);
    // A tenant without data is planned too (it has no integration: it is not).
    app.signup().await;

    let workers = Workers::all(&app.services);
    let Ok(JobReport::Planned { planned }) = jobs::run(&workers, Job::PlanDigests).await else {
        panic!("the planner runs");
    };
    assert_eq!(planned, 1, "one tenant with a connected integration");
    let due = app.events_of("DigestDue");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0]["tenant_id"], admin.tenant_id);
    let week = last_complete_week(app.clock.now().date_naive());
    assert_eq!(due[0]["week_start"], week.to_string());

    // The job the event carries (as the sweep function receives it) sends the mail
    // although Slack fails.
    let job = Job::from_payload(json!({"detail-type": "DigestDue", "detail": due[0]})).unwrap();
    assert_eq!(
        job,
        Job::SendDigest(DigestJob {
            tenant_id: tenant.clone(),
            week_start: Some(week),
        })
    );
    // The local worker pool may have run it already as the event arrived; either way the
    // week is sent once, and the mail went out despite Slack.
    let _ = jobs::run(&workers, job).await.unwrap();
    for _ in 0..50 {
        if slack.urls.lock().unwrap().len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mails = app.events_of("WeeklyDigest");
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["email"], admin.email);
    assert_eq!(slack.urls.lock().unwrap().len(), 1, "Slack was tried once");
}
