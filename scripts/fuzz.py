"""Fuzzes every route of openapi.yaml with schemathesis against the local server.

openapi.yaml is generated from the handlers and DTOs (docs/api.md), so what is fuzzed
is what the routers declare; schemathesis checks every reply against its schema.

Called by scripts/test (which installs schemathesis into its virtualenv); it can also be
run alone after `cargo build -p local`:

    target/tools-venv/bin/python scripts/fuzz.py [--max-examples N] [--local PATH]

What it does, all on loopback:
1. starts a stand-in for Stripe and Paddle that refuses every key (401, in each one's
   error shape), so connecting a key exercises the real refusal path without the
   internet;
2. starts `local serve --demo` on a free port with a fresh data directory, so the
   analytics routes answer from a synced demo tenant;
3. signs in as the demo admin and runs schemathesis with that token on every operation,
   bounded by --max-examples per operation, with the checks below: no 5xx, every status
   code, content type, header and body as the document says, invalid input refused,
   and no operation that works without the token;
4. runs the operations that end the session or change the tenant's policy last, in a
   second run, so they cannot blind the first;
5. fails if the server died, logged a panic, or schemathesis found anything.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "missing_required_header",
        "unsupported_method",
        "ignored_auth",
    ]
)
# Run last and apart: they end the caller's session or change what every later
# request is allowed to do (a policy requiring 2FA, a short idle timeout).
LAST = ["deleteCurrentSession", "deleteMySession", "putSecurityPolicy"]


class RefusingProcessor(http.server.BaseHTTPRequestHandler):
    """Stripe and Paddle as they answer a key they do not know (Stripe's paths start
    with `/v1/`, Paddle's never do)."""

    def _refuse(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if not self.path.startswith("/v1/"):
            error = {"type": "request_error", "code": "authentication_malformed", "detail": "Authentication header included, but incorrectly formatted."}
            body = json.dumps({"error": error, "meta": {"request_id": "fuzz"}}).encode()
        else:
            body = json.dumps(
                {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}
            ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _refuse

    def log_message(self, *args) -> None:  # quiet
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method: str, url: str, body: dict | None = None, token: str | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def start_server(local: Path, data_dir: Path, port: int, stripe: str, log: Path):
    env = dict(os.environ)
    env.update(
        {
            "TALLY_STRIPE_API_BASE": stripe,
            "TALLY_STRIPE_RETRY_BASE_MS": "1",
            "TALLY_PADDLE_API_BASE": stripe,
            "TALLY_PADDLE_SANDBOX_API_BASE": stripe,
            "TALLY_PADDLE_RETRY_BASE_MS": "1",
            "RUST_LOG": "warn",
            "NO_COLOR": "1",
        }
    )
    out = open(log, "w")
    proc = subprocess.Popen(
        [str(local), "serve", "--demo", "--addr", f"127.0.0.1:{port}", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=out,
        text=True,
        env=env,
    )
    password = None
    deadline = time.monotonic() + 300
    assert proc.stdout is not None
    for line in proc.stdout:
        out.write(line)
        match = re.match(r"\s*password:\s*(\S+)", line)
        if match:
            password = match.group(1)
            break
        if time.monotonic() > deadline:
            break
    if password is None:
        proc.kill()
        sys.exit(f"the demo server did not print its sign-in: see {log}")
    # Keep draining stdout into the log so the server never blocks on a full pipe.
    threading.Thread(target=lambda: shutil.copyfileobj(proc.stdout, out), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            request("GET", f"{base}/v1/health")
            break
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the local server did not start: see {log}")
            time.sleep(0.2)
    return proc, base, password


def schemathesis(venv_bin: Path, base: str, token: str, args: argparse.Namespace, extra: list[str], cases: list[int]) -> int:
    """Runs schemathesis, echoing its output; appends the number of cases it generated."""
    command = [
        str(venv_bin / "schemathesis"),
        "run",
        str(ROOT / "openapi.yaml"),
        "--url",
        base,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(args.max_examples),
        "--seed",
        str(args.seed),
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--no-shrink",
        "--output-sanitize",
        "true",
        *extra,
    ]
    proc = subprocess.Popen(command, cwd=ROOT / "target" / "fuzz", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    generated = 0
    for line in proc.stdout:
        sys.stdout.write(line)
        match = re.search(r"(\d+) generated", line)
        if match:
            generated = int(match.group(1))
    cases.append(generated)
    return proc.wait()


def operation_count() -> int:
    """How many operations openapi.yaml documents (one `operationId` each)."""
    return (ROOT / "openapi.yaml").read_text().count("operationId:")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--local", default=str(ROOT / "target/debug/local"))
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    venv_bin = Path(sys.executable).parent
    out_dir = ROOT / "target/fuzz"
    out_dir.mkdir(parents=True, exist_ok=True)

    stripe = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RefusingProcessor)
    threading.Thread(target=stripe.serve_forever, daemon=True).start()
    stripe_url = f"http://127.0.0.1:{stripe.server_address[1]}"

    log = out_dir / "server.log"
    with tempfile.TemporaryDirectory(prefix="tally-fuzz-") as data_dir:
        proc, base, password = start_server(Path(args.local), Path(data_dir), free_port(), stripe_url, log)
        failures: list[str] = []
        cases: list[int] = []
        elapsed = 0.0
        try:
            started = time.monotonic()
            # Every session first: the main run exhausts the sign-in rate limit.
            tokens = [
                request("POST", f"{base}/v1/sessions", {"email": "demo@tally.local", "password": password})["token"]
                for _ in range(1 + len(LAST))
            ]
            exclude = [a for op in LAST for a in ("--exclude-operation-id", op)]
            if schemathesis(venv_bin, base, tokens[0], args, exclude, cases) != 0:
                failures.append("schemathesis found failures on the main run")
            # Then each operation that ends a session or changes the policy, alone, with
            # a session of its own.
            for op, token in zip(LAST, tokens[1:]):
                if schemathesis(venv_bin, base, token, args, ["--include-operation-id", op], cases) != 0:
                    failures.append(f"schemathesis found failures on {op}")
            elapsed = time.monotonic() - started
            if proc.poll() is not None:
                failures.append(f"the server exited during fuzzing (status {proc.returncode})")
        finally:
            proc.kill()
            proc.wait()
            stripe.shutdown()
        server_log = log.read_text(errors="replace")
        if "panicked" in server_log:
            failures.append(f"the server panicked: see {log}")
        print(
            f"\nfuzzing: {sum(cases)} test cases generated, up to {args.max_examples} per "
            f"operation and phase, over {operation_count()} operations in {elapsed:.0f} s"
        )
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
