//! The role table: every route, called by each role, answers 403 exactly when the role
//! lacks what the route needs, and every reply carries the security headers.

use serde_json::{Value, json};

use crate::helpers::spawn_app;
use crate::routes::{self, Needs};

fn allowed(role: &str, needs: Needs) -> bool {
    match needs {
        Needs::Nothing | Needs::AnyUser | Needs::Aggregates => true,
        Needs::CustomerData => matches!(role, "admin" | "analyst"),
        Needs::Admin => role == "admin",
        Needs::Operator => false,
    }
}

#[tokio::test]
async fn every_route_answers_403_exactly_when_the_role_lacks_access() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let admin_token = app.login(&admin).await;
    let (_, analyst_token) = app.user_with_role(&admin_token, "analyst").await;
    let (_, viewer_token) = app.user_with_role(&admin_token, "viewer").await;
    let some_id = uuid::Uuid::new_v4().to_string();
    for (role, token) in [
        ("viewer", viewer_token),
        ("analyst", analyst_token),
        ("admin", admin_token),
    ] {
        for route in routes::all() {
            let path = route
                .path
                .replace("{id}", &some_id)
                .replace("{name}", "mrr")
                .replace("{kind}", "customers");
            // An empty object: the role check comes before the body is read.
            let response = app
                .request(route.method.clone(), &path, Some(&token), Some(json!({})))
                .await;
            let status = response.status().as_u16();
            // Security headers on every reply, authenticated or refused.
            let headers = response.headers();
            assert_eq!(
                headers["cache-control"], "no-store",
                "{} {path}",
                route.method
            );
            assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
            assert!(headers.contains_key("strict-transport-security"), "{path}");
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if allowed(role, route.needs) {
                assert_ne!(status, 403, "{role} {} {path}: {body}", route.method);
                assert_ne!(status, 401, "{role} {} {path}: {body}", route.method);
            } else {
                assert_eq!(status, 403, "{role} {} {path}: {body}", route.method);
                assert_eq!(body["error"]["code"], "forbidden");
            }
        }
    }
}
