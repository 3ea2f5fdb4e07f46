//! `local operator create`, `unlock` and `disable`: a staff account is made by the
//! command (never by the API), with its TOTP secret printed once; the server then signs
//! it in with that secret's code, its token finds no tenant route, and `disable` ends it.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::json;
use tally::domain::totp::{TotpSecret, code_at};

mod support;
use support::{BIN, Http, Server, path};

const PASSWORD: &str = "Staff-Only-Passw0rd!";
const EMAIL: &str = "staff@tally.example";

/// Runs `local operator <args>` with `stdin` as its standard input; its output.
fn operator(dir: &std::path::Path, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(BIN)
        .arg("operator")
        .args(args)
        .args(["--data-dir", path(dir)])
        .env_remove("TALLY_OPERATOR_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("local operator starts");
    child
        .stdin
        .take()
        .expect("its stdin")
        .write_all(stdin.as_bytes())
        .expect("the password is written");
    let output = child.wait_with_output().expect("local operator ends");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn an_operator_made_by_the_command_signs_in_with_its_totp_and_reaches_no_tenant() {
    let dir = tempfile::tempdir().expect("a data dir");
    let (ok, output) = operator(dir.path(), &["create", "--email", EMAIL], "short\n");
    assert!(!ok, "a weak password is refused: {output}");
    let (ok, output) = operator(
        dir.path(),
        &["create", "--email", EMAIL],
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{output}");
    assert!(!output.contains(PASSWORD), "the password is never printed");
    let secret = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("TOTP secret:"))
        .map(|s| TotpSecret::from_base32(s.trim()).expect("a base32 secret"))
        .expect("the TOTP secret, printed once");
    let (ok, _) = operator(
        dir.path(),
        &["create", "--email", EMAIL],
        &format!("{PASSWORD}\n"),
    );
    assert!(!ok, "an address makes one operator");

    let server = Server::start(dir.path(), "serve (operator)");
    let http = Http::new();
    let url = format!("{}/v1/operator/sessions", server.base);
    let (status, _) = http.call(
        Method::POST,
        &url,
        None,
        Some(json!({ "email": EMAIL, "password": PASSWORD })),
    );
    assert_eq!(status, 401, "no TOTP code, no session");
    let now = u64::try_from(chrono::Utc::now().timestamp()).expect("after 1970");
    let (status, body) = http.call(
        Method::POST,
        &url,
        None,
        Some(json!({ "email": EMAIL, "password": PASSWORD, "totp_code": code_at(&secret, now) })),
    );
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().expect("a token");
    let (status, body) = http.call(
        Method::GET,
        &format!("{}/v1/metrics/summary", server.base),
        Some(token),
        None,
    );
    assert_eq!(status, 404, "{body}");

    let (ok, output) = operator(dir.path(), &["unlock", "--email", EMAIL], "");
    assert!(ok, "{output}");
    let (ok, output) = operator(dir.path(), &["disable", "--email", EMAIL], "");
    assert!(ok, "{output}");
    let (status, body) = http.call(
        Method::DELETE,
        &format!("{}/v1/operator/sessions/current", server.base),
        Some(token),
        None,
    );
    assert_eq!(status, 401, "a disabled operator's session ends: {body}");
}
