// What the dashboard's browser tests and its bench share: the local server with a demo
// tenant on a free port, headless Chromium driven by playwright-core, the checks every
// page gets (no CSP violation, no console error, no serious or critical axe finding at
// 390 and 1440 px), screenshots, TOTP codes, and a proxy that makes the server see a
// browser's requests as coming from 127.0.0.2.
//
// The npm packages live in target/web-tools (installed by scripts/web/run); Chromium is
// Debian's (`CHROMIUM`, default /usr/bin/chromium).

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const TOOLS = path.join(ROOT, "target/web-tools");
const require = createRequire(path.join(TOOLS, "package.json"));
const { chromium } = require("playwright-core");
const AXE_SOURCE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
export const SCREENSHOTS = path.join(ROOT, "target/screenshots");
export const WIDTHS = [1440, 390];

/** A free TCP port on loopback. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {net.AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/**
 * Starts `local serve --demo` (the debug build) and waits for the demo's sign-in.
 * @param {{ customers?: number, binary?: string }} [options]
 */
export async function startServer(options = {}) {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "tally-web-"));
  const binary = options.binary || path.join(ROOT, "target/debug/local");
  const args = ["serve", "--demo", "--customers", String(options.customers || 300), "--data-dir", dataDir, "--addr", `127.0.0.1:${port}`];
  const child = spawn(binary, args, {
    env: { ...process.env, RUST_LOG: "warn", TALLY_ECB_DAILY_URL: "http://127.0.0.1:9/unreachable" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const password = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not become ready:\n${out}\n${err}`)), 300_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /password: (\S+)[\s\S]*Open the dashboard at (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`the server exited (${code}):\n${out}\n${err}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    port,
    email: "demo@tally.local",
    password: /** @type {string} */ (password),
    printed: out,
    /** The local mailbox: the domain events (e-mails included), one JSON object a line. */
    events() {
      const text = fs.readFileSync(path.join(dataDir, "events.jsonl"), "utf8");
      return text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
    },
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode === null ? child.once("exit", r) : r(null)));
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Headless Chromium (as root in CI: no sandbox). */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/**
 * A browser context whose pages record CSP violations and console errors.
 * @param {any} browser @param {{ width?: number }} [options]
 */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: options.width || 1440, height: 900 }, acceptDownloads: true });
  // An init script runs through the DevTools protocol, not as page script: the CSP does
  // not apply to it, and it sees every violation the page causes.
  await context.addInitScript(() => {
    /** @type {any} */ (window).__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      /** @type {any} */ (window).__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  /** @type {string[]} */
  const problems = [];
  page.on("console", (/** @type {any} */ msg) => {
    if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (/** @type {Error} */ e) => problems.push(`page error: ${e.message}`));
  return { context, page, problems };
}

/**
 * The checks of one page: no CSP violation, no console error so far (expected API
 * refusals are listed in `allow`), no serious or critical axe finding at each width, and
 * a screenshot at each width.
 * @param {{ page: any, problems: string[] }} tab @param {string} name
 * @param {{ allow?: RegExp[], ready?: string }} [options]
 */
export async function checkPage(tab, name, options = {}) {
  const { page } = tab;
  const allow = options.allow || [];
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const original = page.viewportSize();
  /** @type {string[]} */
  const findings = [];
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    await page.waitForTimeout(250);
    if (options.ready) await page.waitForSelector(options.ready);
    const violations = await axe(page);
    for (const v of violations) findings.push(`${width}px ${v.impact} ${v.id}: ${v.help} (${v.nodes.map((/** @type {any} */ n) => n.target.join(" ")).slice(0, 3).join(", ")})`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 1) findings.push(`${width}px: the page is ${overflow}px wider than the window`);
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize(original);
  const csp = await page.evaluate(() => /** @type {any} */ (window).__csp);
  const problems = tab.problems.filter((p) => !allow.some((re) => re.test(p)));
  tab.problems.length = 0;
  return { csp, problems, findings };
}

/** axe-core's serious and critical violations of the page. @param {any} page */
async function axe(page) {
  // Evaluated through the DevTools protocol: the page's CSP does not block it.
  const present = await page.evaluate(() => typeof (/** @type {any} */ (window).axe) !== "undefined");
  if (!present) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const r = await /** @type {any} */ (window).axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((/** @type {any} */ v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((/** @type {any} */ n) => ({ target: n.target })) }));
  });
  return result.filter((/** @type {any} */ v) => v.impact === "serious" || v.impact === "critical");
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of a base32 secret at `step`. */
export function totp(/** @type {string} */ secret, /** @type {number} */ step) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g)?.map((b) => parseInt(b, 2)) || []);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, "0");
}

export const currentStep = () => Math.floor(Date.now() / 30_000);

/**
 * A TCP proxy on loopback whose connections to the server leave from `source`
 * (127.0.0.2): what the server sees as the client address of a browser using it.
 * @param {number} target @param {string} source
 */
export async function proxyFrom(target, source) {
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: "127.0.0.1", port: target, localAddress: source });
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", () => r(null)));
  const { port } = /** @type {net.AddressInfo} */ (server.address());
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r(null))) };
}

/**
 * A call to the API from node, as a client would make it.
 * @param {string} base @param {string} method @param {string} p @param {{ token?: string, body?: unknown }} [o]
 */
export async function api(base, method, p, o = {}) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (o.token) headers.Authorization = `Bearer ${o.token}`;
  if (o.body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(base + p, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** The session token a tab holds (sessionStorage), to compare with the API. @param {any} page */
export async function tokenOf(page) {
  return page.evaluate(() => {
    const raw = sessionStorage.getItem("tally.session");
    return raw ? JSON.parse(raw).token : null;
  });
}
