//! `serve --demo --customers N`: a demo tenant of the size asked for, and sizes out of
//! range refused before anything is created.

use std::process::Command;

mod support;
use support::{BIN, Http, Server, demo_password};

#[test]
fn a_demo_tenant_has_the_number_of_customers_asked_for() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let name = "serve --demo --customers 120 --paddle-customers 30";
    let (server, lines) = Server::spawn(
        dir.path(),
        name,
        &["--demo", "--customers", "120", "--paddle-customers", "30"],
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("120 customers") && l.contains("Paddle-shaped one of 30")),
        "the sizes are announced:\n{}",
        lines.join("\n")
    );
    let password = demo_password(&lines.join("\n"));
    let http = Http::new();
    let session = http.sign_in(&server, &password);
    let customers = http.get(&session, "/v1/customers?limit=200");
    let ids: Vec<&str> = customers["data"]
        .as_array()
        .map(|data| data.iter().filter_map(|c| c["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(customers["next_cursor"].is_null(), "no more customers");
    // The two sources: Stripe's ids and Paddle's.
    let stripe = ids.iter().filter(|id| id.starts_with("cus_")).count();
    let paddle = ids.iter().filter(|id| id.starts_with("ctm_")).count();
    assert_eq!((stripe, paddle, ids.len()), (120, 30, 150), "{customers}");
}

#[test]
fn sizes_out_of_range_and_sizes_without_a_demo_are_refused_before_anything_is_created() {
    for args in [
        &["serve", "--demo", "--customers", "0"][..],
        &["serve", "--demo", "--customers", "1000001"],
        &["serve", "--demo", "--customers", "many"],
        &["serve", "--customers", "100"],
    ] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("data");
        let output = Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .expect("local serve");
        assert_eq!(output.status.code(), Some(2), "{args:?} is a usage error");
        assert!(!data.exists(), "{args:?} created nothing");
    }
}
