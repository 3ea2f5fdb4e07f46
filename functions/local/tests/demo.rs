//! `serve --demo --customers N`: a demo tenant of the size asked for, and sizes out of
//! range refused before anything is created.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_local");
const LISTENING: &str = "Tally is listening on http://";

fn free_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").to_string()
}

/// A child killed when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_demo_tenant_has_the_number_of_customers_asked_for() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let addr = free_addr();
    let mut child = Child(
        Command::new(BIN)
            .args(["serve", "--demo", "--customers", "120", "--addr", &addr])
            .arg("--data-dir")
            .arg(dir.path())
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("local serve"),
    );
    let (lines, received) = mpsc::channel();
    for stream in [
        child
            .0
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .0
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
    }
    let mut output = Vec::new();
    while !output.iter().any(|l: &String| l.contains(LISTENING)) {
        match received.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => output.push(line),
            Err(_) => panic!("the server did not start:\n{}", output.join("\n")),
        }
    }
    let password = output
        .iter()
        .find_map(|l| l.trim().strip_prefix("password:"))
        .map(|p| p.trim().to_owned())
        .expect("the demo password");
    assert!(
        output.iter().any(|l| l.contains("120 customers")),
        "the size is announced:\n{}",
        output.join("\n")
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client");
    let base = format!("http://{addr}");
    let customers: Value = runtime.block_on(async {
        let session: Value = client
            .post(format!("{base}/v1/sessions"))
            .json(&json!({ "email": tally::local::DEMO_EMAIL, "password": password }))
            .send()
            .await
            .expect("sign-in")
            .json()
            .await
            .expect("a session");
        let token = session["token"].as_str().expect("a token").to_owned();
        client
            .get(format!("{base}/v1/customers?limit=200"))
            .bearer_auth(token)
            .send()
            .await
            .expect("customers")
            .json()
            .await
            .expect("a list")
    });
    let listed = customers["data"].as_array().map(Vec::len);
    assert_eq!(listed, Some(120), "{customers}");
    assert!(customers["next_cursor"].is_null(), "no more customers");
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
