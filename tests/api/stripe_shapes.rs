//! Every Stripe discount level and pricing model, end to end: the fake Stripe serves
//! them in Stripe's shapes (tiers and coupon restrictions only when expanded), Tally
//! syncs them with a restricted key, and each special customer's MRR is the one
//! computed by hand, to the cent (every discount level and every pricing model).

use serde_json::Value;
use tally_tests::fake_stripe::{FakeStripe, SHAPES, Scenario};

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn each_discount_level_and_pricing_model_gives_its_hand_computed_mrr() {
    let fake = FakeStripe::start(Scenario::new(6).with_shapes()).await;
    let mut vars = fake.config_vars();
    vars.push(("TALLY_STRIPE_RETRY_BASE_MS".into(), "1".into()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    app.connect_fake_stripe(&token).await;
    let pass = app.services.ingestion.ingest_pass().await.unwrap();
    assert_eq!((pass.synced, pass.failed), (1, 0));
    // Tiers come from the price read by id, coupons from the coupon read by id.
    assert!(fake.requests_to("/v1/prices/price_SVolume") >= 1);
    assert!(fake.requests_to("/v1/coupons/co_SAddonHalf") >= 1);

    for shape in SHAPES {
        let path = format!("/v1/customers/{}", shape.customer);
        let response = app.get(&path, &token).await;
        let status = response.status();
        let profile: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "GET {path}: {profile}");
        assert_eq!(
            profile["mrr_by_currency"]["eur"].as_i64().unwrap_or(0),
            shape.mrr,
            "{}: {}",
            shape.customer,
            shape.what
        );
        let subscriptions = profile["subscriptions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(subscriptions.len(), 1, "{}: {profile}", shape.customer);
        assert_eq!(
            subscriptions[0]["mrr"], shape.mrr,
            "{}: {}",
            shape.customer, shape.what
        );
        if shape.mrr > 0 {
            assert_eq!(
                profile["mrr"], shape.mrr,
                "{}: {}",
                shape.customer, shape.what
            );
        }
    }
}
