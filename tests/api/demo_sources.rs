//! The local demo tenant's two sources (issue 19): a Stripe-shaped and a Paddle-shaped
//! demo integration side by side, as a merchant selling through two processors has. Each
//! is listed with its shape, each is a value of the `integration` dimension, and the
//! tenant's MRR is the sum of theirs.

use serde_json::Value;
use tally::adapters::demo::DemoShape;
use tally::domain::ids::TenantId;

use crate::helpers::{TestApp, spawn_app};

async fn body(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

fn last_value(series: &Value) -> i64 {
    series.as_array().unwrap().last().unwrap()["value"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_stripe_shaped_and_a_paddle_shaped_source_add_up_to_the_tenants_mrr() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();
    let integrations = &app.services.integrations;
    let stripe = integrations
        .connect_demo_of(&tenant, 42, Some(40))
        .await
        .unwrap();
    let paddle = integrations
        .connect_demo_shaped(&tenant, 43, Some(30), DemoShape::Paddle)
        .await
        .unwrap();
    for id in [&stripe, &paddle] {
        app.services
            .ingestion
            .sync_integration(&tenant, id)
            .await
            .unwrap();
    }

    let list = body(&app, "/v1/integrations", &token).await;
    let shape_of = |id: &str| {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .map(|i| (i["provider"].clone(), i["demo_shape"].clone()))
            .unwrap()
    };
    assert_eq!(shape_of(stripe.as_str()), ("demo".into(), "stripe".into()));
    assert_eq!(shape_of(paddle.as_str()), ("demo".into(), "paddle".into()));

    let grouped = body(&app, "/v1/metrics/mrr?group_by=integration", &token).await;
    let groups = grouped["groups"].as_array().unwrap();
    let keys: Vec<&str> = groups.iter().map(|g| g["key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.contains(&stripe.as_str()) && keys.contains(&paddle.as_str()));
    let by_source: Vec<i64> = groups.iter().map(|g| last_value(&g["series"])).collect();
    assert!(by_source.iter().all(|mrr| *mrr > 0), "{by_source:?}");
    assert_eq!(
        by_source.iter().sum::<i64>(),
        last_value(&grouped["series"])
    );

    // One source alone: its own figure, and its customers carry Paddle's ids.
    let paddle_only = format!("/v1/metrics/mrr?filter[integration]={}", paddle.as_str());
    let filtered = body(&app, &paddle_only, &token).await;
    let paddle_group = groups.iter().find(|g| g["key"] == paddle.as_str()).unwrap();
    assert_eq!(
        last_value(&filtered["series"]),
        last_value(&paddle_group["series"])
    );
    let customers = body(
        &app,
        &format!(
            "/v1/customers?limit=200&filter[integration]={}",
            paddle.as_str()
        ),
        &token,
    )
    .await;
    let ids: Vec<&str> = customers["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|id| id.contains("ctm_demo")), "{ids:?}");
}
