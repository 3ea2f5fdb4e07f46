//! What an export holds: every ingested record once, under its integration; nothing
//! secret; nothing of a disconnected integration.

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::{Value, json};
use tally::domain::billing::{BillingRecord, ObjectKind};
use tally::domain::ids::ExportId;
use tally::domain::totp::{TotpSecret, code_at};
use tally::ports::Clock;
use tally_tests::fake_stripe::{FAKE_API_KEY, SENSITIVE_CARD_NUMBER, SENSITIVE_FINGERPRINT};

use super::{app_with_fake, built_export, connect_stripe, pages, section, tenant_of};
use crate::helpers::{TestApp, TestUser};

/// Enrols the user in TOTP; returns the secret (base32) and the recovery codes.
async fn enrol_mfa(app: &TestApp, user: &TestUser, token: &str) -> (String, Vec<String>) {
    let body = json!({ "password": user.password });
    let setup: Value = app
        .post("/v1/mfa/totp/setup", Some(token), body)
        .await
        .json()
        .await
        .unwrap();
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let code = code_at(
        &TotpSecret::from_base32(&secret).unwrap(),
        app.clock.now().timestamp() as u64,
    );
    let body = json!({ "code": code });
    let confirmed = app.post("/v1/mfa/totp/confirm", Some(token), body).await;
    let confirmed: Value = confirmed.json().await.unwrap();
    let codes = confirmed["recovery_codes"].as_array().unwrap();
    (
        secret,
        codes
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect(),
    )
}

#[tokio::test]
async fn an_export_holds_every_ingested_record_once_and_no_secret() {
    let (app, _fake) = app_with_fake(6).await;
    let admin = app.signup_as("owner@example.com", "Export GmbH").await;
    let token = app.login(&admin).await;
    let (totp_secret, recovery_codes) = enrol_mfa(&app, &admin, &token).await;
    let invite: Value = app
        .post(
            "/v1/users",
            Some(&token),
            json!({ "email": "invited@example.com", "role": "analyst" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let tenant = tenant_of(&admin);
    let demo = app
        .services
        .integrations
        .connect_demo(&tenant, 42)
        .await
        .unwrap();
    app.services
        .ingestion
        .sync_integration(&tenant, &demo)
        .await
        .unwrap();
    let stripe = connect_stripe(&app, &admin, &token).await;

    let started = Instant::now();
    let id = built_export(&app, &admin, &token).await;
    let elapsed = started.elapsed();
    let events = app.events_of("ExportRequested");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["export_id"], id.as_str());
    assert_eq!(events[0]["tenant_id"], admin.tenant_id.as_str());

    let pages = pages(&app, &token, &id).await;
    eprintln!("demo tenant: {} pages, built in {elapsed:?}", pages.len());
    assert!(pages.len() > 30, "{} pages", pages.len());
    let first = &pages[0]["document"];
    assert_eq!(first["tenant"]["company"], "Export GmbH");
    assert_eq!(first["tenant"]["id"], admin.tenant_id.as_str());
    let summary = &first["metrics_summary"];
    assert!(summary["mrr"].as_i64().is_some_and(|m| m > 0), "{summary}");
    // ARR is 12 × the exact MRR, rounded once: within 12 minor units of 12 × rounded MRR.
    let (mrr, arr) = (
        summary["mrr"].as_i64().unwrap(),
        summary["arr"].as_i64().unwrap(),
    );
    assert!((arr - 12 * mrr).abs() <= 12, "arr {arr}, mrr {mrr}");
    let users = section(&pages, "users");
    assert_eq!(users.len(), 2);
    assert!(
        users
            .iter()
            .any(|u| u["email"] == "owner@example.com" && u["mfa_enabled"] == true)
    );
    assert_eq!(section(&pages, "integrations").len(), 2);
    let audit = section(&pages, "audit_log");
    assert!(audit.iter().any(|e| e["action"] == "ExportRequested"));

    // Every record of every kind, exactly once, under its integration.
    for (kind, name) in [
        (ObjectKind::Customer, "customers"),
        (ObjectKind::Subscription, "subscriptions"),
        (ObjectKind::Invoice, "invoices"),
        (ObjectKind::Charge, "payments"),
        (ObjectKind::Refund, "refunds"),
        (ObjectKind::PaymentMethod, "payment_methods"),
    ] {
        let exported = section(&pages, name);
        for integration in [&demo, &stripe] {
            let stored = app
                .services
                .ingestion
                .integration_records(&tenant, integration, kind);
            let stored: BTreeSet<String> = stored
                .await
                .unwrap()
                .iter()
                .map(|r: &BillingRecord| r.id().to_owned())
                .collect();
            let ids: Vec<String> = exported
                .iter()
                .filter(|r| r["integration_id"] == integration.as_str())
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(ids.len(), stored.len(), "{name}: each exactly once");
            assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), stored, "{name}");
        }
    }
    assert!(section(&pages, "customers").len() >= 2_006);

    // No page may reach DynamoDB's 400 KB item limit.
    let documents: Vec<String> = pages.iter().map(|p| p["document"].to_string()).collect();
    assert!(documents.iter().all(|d| d.len() < 400_000));
    let raw = documents.concat();
    let invite_token = invite["invite_token"].as_str().unwrap();
    let fixed = [
        "$argon2",
        "password_hash",
        "password_history",
        "last4",
        "fingerprint",
        FAKE_API_KEY,
    ];
    let secrets = [
        SENSITIVE_CARD_NUMBER,
        SENSITIVE_FINGERPRINT,
        &totp_secret,
        &token,
    ];
    let codes = recovery_codes.iter().map(String::as_str);
    for secret in fixed
        .into_iter()
        .chain(secrets)
        .chain([invite_token])
        .chain(codes)
    {
        assert!(!raw.contains(secret), "the export holds {secret:?}");
    }
}

#[tokio::test]
async fn a_disconnected_integrations_records_are_not_exported() {
    let (app, _fake) = app_with_fake(6).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let kept = connect_stripe(&app, &admin, &token).await;
    let dropped = connect_stripe(&app, &admin, &token).await;
    let response = app
        .delete(&format!("/v1/integrations/{dropped}"), &token)
        .await;
    assert_eq!(response.status(), 202);

    let id = built_export(&app, &admin, &token).await;
    let pages = pages(&app, &token, &id).await;
    let integrations = section(&pages, "integrations");
    let listed = integrations
        .iter()
        .find(|i| i["id"] == dropped.as_str())
        .unwrap();
    assert_eq!(listed["status"], "disconnected");
    for name in [
        "customers",
        "subscriptions",
        "invoices",
        "payments",
        "payment_methods",
    ] {
        let records = section(&pages, name);
        assert!(!records.is_empty(), "{name}");
        assert!(
            records.iter().all(|r| r["integration_id"] == kept.as_str()),
            "{name}"
        );
    }
    assert_eq!(section(&pages, "customers").len(), 6);
}

#[tokio::test]
async fn running_the_job_again_rewrites_the_same_export() {
    let (app, _fake) = app_with_fake(6).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    connect_stripe(&app, &admin, &token).await;
    let id = built_export(&app, &admin, &token).await;
    let before = pages(&app, &token, &id).await;
    let export = ExportId::parse(&id).unwrap();
    app.services
        .tenancy
        .build_export(&tenant_of(&admin), &export)
        .await
        .unwrap();
    assert_eq!(pages(&app, &token, &id).await, before);
}
