//! What the local binary's tests share: a child process whose output is collected
//! and which is SIGKILLed when dropped, a running `local serve`, and HTTP on a small
//! runtime of the test's own (the tests are synchronous: they drive processes and poll
//! files).
// Each test binary includes this module and uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use tally::local::DEMO_EMAIL;

pub const BIN: &str = env!("CARGO_BIN_EXE_local");
/// The longest any one step may take (a demo sync is ~15 s in a debug build).
pub const TIMEOUT: Duration = Duration::from_secs(180);
pub const POLL: Duration = Duration::from_millis(5);
pub const LISTENING: &str = "Tally is listening on http://";

pub fn path(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 temporary path")
}

/// A free port on the loopback interface (the OS picks one; it is released for the
/// server to bind).
pub fn free_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = listener.local_addr().expect("its address");
    addr.to_string()
}

/// Runs a one-shot command to its end, which must be a success; returns its output.
pub fn run_to_end(name: &str, args: &[&str]) -> String {
    let mut process = Proc::spawn(name, args);
    let started = Instant::now();
    loop {
        if let Some(status) = process.exited() {
            let output = process.finish();
            assert!(status.success(), "{name} failed ({status}):\n{output}");
            return output;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "{name} did not end within {TIMEOUT:?}:\n{}",
            process.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process of the test, SIGKILLed and reaped when dropped. Its stdout and
/// stderr lines are collected as they come.
pub struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Proc {
    pub fn spawn(name: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(BIN)
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        let stdout = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        let stderr = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        for stream in [stdout, stderr].into_iter().flatten() {
            let lines = Arc::clone(&lines);
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            }));
        }
        Proc {
            child,
            lines,
            readers,
        }
    }

    pub fn output(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }

    pub fn line_with(&self, needle: &str) -> Option<String> {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|line| line.contains(needle))
            .cloned()
    }

    pub fn has_line(&self, needle: &str) -> bool {
        self.line_with(needle).is_some()
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("the child's status")
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The whole output of an ended process (its pipes read to their end).
    pub fn finish(mut self) -> String {
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        self.output()
    }

    /// Waits for a line holding `needle`; fails if the process ends first or time runs
    /// out.
    pub fn wait_for_line(&mut self, needle: &str, name: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(line) = self.line_with(needle) {
                return line;
            }
            if let Some(status) = self.exited() {
                panic!(
                    "{name} ended ({status}) before printing {needle:?}:\n{}",
                    self.output()
                );
            }
            assert!(
                started.elapsed() < TIMEOUT,
                "{name} did not print {needle:?} within {TIMEOUT:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running `local serve`, killed when dropped.
pub struct Server {
    _process: Proc,
    pub base: String,
}

/// The demo admin's password in `serve --demo`'s output (printed before its first sync).
pub fn demo_password(output: &str) -> String {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("password:"))
        .map(|p| p.trim().to_owned())
        .expect("the demo password, printed before the sync")
}

impl Server {
    pub fn start(dir: &Path, name: &str) -> Server {
        Self::spawn(dir, name, &[]).0
    }

    /// `serve --demo` in a new directory, to the listening line: the server, the demo
    /// admin's password and the number of records its first sync wrote.
    pub fn demo(dir: &Path) -> (Server, String, u64) {
        // One source: the fault tests compare one integration's records and state.
        let (server, process_lines) = Self::spawn(
            dir,
            "serve --demo (A)",
            &["--demo", "--paddle-customers", "0"],
        );
        let password = demo_password(&process_lines.join("\n"));
        let written = process_lines
            .iter()
            .find_map(|l| l.strip_prefix("Demo tenant ready ("))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .expect("the number of records synced");
        (server, password, written)
    }

    pub fn spawn(dir: &Path, name: &str, extra: &[&str]) -> (Server, Vec<String>) {
        let addr = free_addr();
        let mut args = vec!["serve", "--data-dir", path(dir), "--addr", &addr];
        args.extend_from_slice(extra);
        let mut process = Proc::spawn(name, &args);
        process.wait_for_line(LISTENING, name);
        let lines = process
            .lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let server = Server {
            _process: process,
            base: format!("http://{addr}"),
        };
        (server, lines)
    }
}

/// HTTP on a small runtime of the test's own (the test itself is synchronous: it
/// drives processes and polls files).
pub struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

pub struct Session {
    pub base: String,
    pub token: String,
}

impl Session {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Http {
    pub fn new() -> Http {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        Http { runtime, client }
    }

    pub fn call(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.runtime.block_on(async {
            let mut request = self.client.request(method, url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            let status = response.status().as_u16();
            let bytes = response.bytes().await.expect("a response body");
            let value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{url}: not JSON: {e}"))
            };
            (status, value)
        })
    }

    pub fn sign_in(&self, server: &Server, password: &str) -> Session {
        let (status, body) = self.call(
            Method::POST,
            &format!("{}/v1/sessions", server.base),
            None,
            Some(json!({ "email": DEMO_EMAIL, "password": password })),
        );
        assert_eq!(status, 201, "sign-in: {body}");
        Session {
            base: server.base.clone(),
            token: body["token"].as_str().expect("a session token").to_owned(),
        }
    }

    pub fn get(&self, session: &Session, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, &session.url(path), Some(&session.token), None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}
