// The overview's page weight and render time on the demo tenant (a bench, not a test):
// `scripts/web/run --bench [--customers N] [--release]`. Page weight is the JavaScript
// and CSS the overview loads, uncompressed; render time is from navigation (signed in,
// a reload of #/overview) until both charts are drawn, measured five times.

import fs from "node:fs";
import path from "node:path";

import { ROOT, launchBrowser, newPage, startServer } from "./harness.mjs";

const args = process.argv.slice(2);
const customers = Number(args[args.indexOf("--customers") + 1]) || 2000;
const binary = path.join(ROOT, args.includes("--release") ? "target/release/local" : "target/debug/local");
if (!fs.existsSync(binary)) throw new Error(`${binary} is not built`);

console.log(`starting ${path.relative(ROOT, binary)} serve --demo --customers ${customers}…`);
const server = await startServer({ customers, binary });
const browser = await launchBrowser();
try {
  const { page } = await newPage(browser);
  /** @type {Map<string, number>} */
  const weights = new Map();
  page.on("response", async (/** @type {any} */ r) => {
    const type = r.headers()["content-type"] || "";
    if (/javascript|css/.test(type)) {
      const body = await r.body().catch(() => Buffer.alloc(0));
      weights.set(new URL(r.url()).pathname, body.length);
    }
  });
  await page.goto(`${server.base}/`);
  await page.getByLabel("E-mail").fill(server.email);
  await page.getByLabel("Password").fill(server.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator(".charts[data-ready] .uplot").nth(1).waitFor({ timeout: 60_000 });
  const total = [...weights.values()].reduce((a, b) => a + b, 0);
  console.log("overview page weight (JavaScript + CSS, uncompressed):");
  for (const [file, bytes] of [...weights].sort((a, b) => b[1] - a[1])) console.log(`  ${String(bytes).padStart(7)}  ${file}`);
  console.log(`  ${String(total).padStart(7)}  total (${(total / 1024).toFixed(1)} KiB; budget 200 KB)`);

  /** @type {number[]} */
  const times = [];
  for (let i = 0; i < 5; i++) {
    const started = Date.now();
    await page.reload();
    await page.locator(".charts[data-ready] .uplot").nth(1).waitFor({ timeout: 60_000 });
    times.push(Date.now() - started);
  }
  times.sort((a, b) => a - b);
  console.log(`overview render, demo tenant of ${customers} customers: median ${times[2]} ms (runs: ${times.join(", ")} ms)`);
} finally {
  await browser.close();
  await server.stop();
}
