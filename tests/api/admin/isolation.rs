//! Tenant isolation: tenant A's admin calls every route that takes an id with tenant B's
//! ids. Each answers 404 — as for an id that never existed — and B's data is untouched.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{spawn_app, tenant_b};

#[tokio::test]
async fn another_tenants_ids_are_not_found_and_their_data_is_untouched() {
    let app = spawn_app().await;
    let a = app.signup_as("a-admin@example.com", "Tenant A").await;
    let a_token = app.login(&a).await;
    let b = tenant_b(&app).await;
    // B's custom integration and a CSV import queued into it.
    let custom: Value = app
        .post("/v1/integrations/custom", Some(&b.token), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let custom = custom["id"].as_str().unwrap().to_owned();
    let queued = reqwest::Client::new()
        .post(format!(
            "{}/v1/integrations/{custom}/import/customers",
            app.address
        ))
        .bearer_auth(&b.token)
        .header("content-type", "text/csv")
        .body("external_id,created_at\nc1,1700000000\n")
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 202);
    let queued: Value = queued.json().await.unwrap();
    let b_import = format!(
        "/v1/integrations/{custom}/imports/{}",
        queued["id"].as_str().unwrap()
    );

    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::PATCH,
            format!("/v1/users/{}", b.viewer.user_id),
            Some(json!({ "role": "admin" })),
        ),
        (
            Method::PATCH,
            format!("/v1/users/{}", b.admin.user_id),
            Some(json!({ "disabled": true })),
        ),
        (
            Method::DELETE,
            format!("/v1/users/{}", b.viewer.user_id),
            None,
        ),
        (
            Method::DELETE,
            format!("/v1/users/{}", b.admin.user_id),
            None,
        ),
        (
            Method::DELETE,
            format!("/v1/me/sessions/{}", b.session_id),
            None,
        ),
        (
            Method::DELETE,
            format!("/v1/security/ip-allowlist/{}", b.entry_id),
            None,
        ),
        (
            Method::POST,
            format!("/v1/integrations/{}/sync", b.integration_id),
            Some(json!({})),
        ),
        (
            Method::PUT,
            format!("/v1/integrations/{}/webhook-secret", b.integration_id),
            Some(json!({ "webhook_secret": "pdl_ntfset_01h0isolation0check0000" })),
        ),
        (
            Method::DELETE,
            format!("/v1/integrations/{}", b.integration_id),
            None,
        ),
        (Method::GET, format!("/v1/exports/{}", b.export_id), None),
        (Method::GET, b_import.clone(), None),
        (
            Method::POST,
            format!("/v1/integrations/{custom}/import/customers"),
            Some(json!({ "data": [{ "external_id": "c2", "created_at": 1_700_000_000 }] })),
        ),
    ];
    for (method, path, body) in calls {
        let response = app
            .request(method.clone(), &path, Some(&a_token), body)
            .await;
        assert_eq!(response.status(), 404, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
    }

    // A's lists show none of B's things.
    let users: Value = app.get("/v1/users", &a_token).await.json().await.unwrap();
    assert_eq!(users["data"].as_array().unwrap().len(), 1);
    let allowlist: Value = app
        .get("/v1/security/ip-allowlist", &a_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(allowlist["data"].as_array().unwrap().is_empty());
    let log: Value = app
        .get("/v1/security/audit-log", &a_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(!log.to_string().contains(&b.viewer.user_id));

    // B is as it was.
    assert_eq!(app.get("/v1/me", &b.token).await.status(), 200);
    let import: Value = app.get(&b_import, &b.token).await.json().await.unwrap();
    assert_eq!(
        (&import["status"], &import["rows"]),
        (&json!("queued"), &json!(1))
    );
    let me: Value = app
        .get("/v1/me", &b.viewer_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["role"], "viewer");
    let b_users: Value = app.get("/v1/users", &b.token).await.json().await.unwrap();
    assert!(
        b_users["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["disabled"] == false)
    );
    let a_integrations: Value = app
        .get("/v1/integrations", &a_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(a_integrations["data"].as_array().unwrap().is_empty());
    let b_integrations: Value = app
        .get("/v1/integrations", &b.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b_integrations["data"][0]["status"], "connected");
    assert!(
        app.events_of("SyncRequested").is_empty(),
        "no sync was queued for B"
    );
    let b_list: Value = app
        .get("/v1/security/ip-allowlist", &b.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b_list["data"][0]["id"], b.entry_id.as_str());
}

/// Operators (staff) reach no tenant by default: with no grant, every route that is not
/// public answers an operator 404 — with or without `X-Tally-Tenant`, for the tenant it
/// names and for one that does not exist — and a grant of one tenant opens no other.
#[tokio::test]
async fn an_operator_without_a_grant_finds_no_tenant_route() {
    use crate::routes::{self, Needs};
    use crate::support::{as_operator, create_operator, grant, operator_login};

    let app = spawn_app().await;
    let a = app.signup_as("a-admin@example.com", "Tenant A").await;
    let a_token = app.login(&a).await;
    let b = tenant_b(&app).await;
    let operator = create_operator(&app).await;
    let token = operator_login(&app, &operator).await;
    // A consents; B does not.
    assert_eq!(grant(&app, &a_token, &operator.id, 24).await.status(), 201);
    let some_id = uuid::Uuid::new_v4().to_string();
    let tenants = [b.admin.tenant_id.clone(), some_id.clone(), String::new()];
    let mut tried = 0;
    for route in routes::all() {
        if matches!(route.needs, Needs::Nothing | Needs::Operator) {
            continue;
        }
        let path = route
            .path
            .replace("{id}", &some_id)
            .replace("{name}", "mrr")
            .replace("{kind}", "customers");
        for tenant in &tenants {
            let response = as_operator(
                &app,
                route.method.clone(),
                &path,
                &token,
                tenant,
                Some(json!({})),
            )
            .await;
            assert_eq!(
                response.status(),
                404,
                "{} {path} for tenant {tenant:?}",
                route.method
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "not_found");
            tried += 1;
        }
    }
    assert!(tried > 100);
    // B's log holds no trace of the operator; B's data is as it was.
    let log: Value = app
        .get("/v1/security/audit-log", &b.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(!log.to_string().contains(&operator.id));
    assert_eq!(app.get("/v1/me", &b.token).await.status(), 200);
    // An operator's token that does not verify is a 401, not a 404.
    let forged = as_operator(
        &app,
        Method::GET,
        "/v1/metrics/summary",
        "op_not-a-session",
        &b.admin.tenant_id,
        None,
    )
    .await;
    assert_eq!(forged.status(), 401);
}
