// The dashboard in a real headless Chromium against `local serve --demo`: what a person
// does, page by page. Every page is checked for CSP violations, console errors and
// serious or critical accessibility findings at 390 and 1440 px, and photographed into
// target/screenshots. Run by scripts/web/run (from scripts/test).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";

import { api, checkPage, currentStep, launchBrowser, newPage, proxyFrom, startServer, tokenOf, totp } from "./harness.mjs";

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {any} */
let browser;
/** The demo admin's tab, signed in once and reused. @type {Awaited<ReturnType<typeof newPage>>} */
let admin;
/** The fresh sign-up's TOTP secret and the last step a code was used at. */
const fresh = { email: `founder-${Date.now()}@example.com`, password: "Correct-Horse-42-battery", secret: "", usedStep: 0, recovery: "" };

/** Waits for the page's main content to have rendered. @param {any} page */
async function settled(page) {
  await page.waitForLoadState("networkidle");
  await page.waitForFunction(() => !document.querySelector(".loading"), null, { timeout: 20_000 });
}

/** @param {Awaited<ReturnType<typeof checkPage>>} result @param {string} name */
function assertClean(result, name) {
  assert.deepEqual(result.csp, [], `${name}: CSP violations`);
  assert.deepEqual(result.problems, [], `${name}: console errors`);
  assert.deepEqual(result.findings, [], `${name}: accessibility or layout findings`);
}

/** Signs in through the form. @param {any} page @param {string} email @param {string} password */
async function signIn(page, email, password) {
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

test("--demo prints the dashboard's URL with the sign-in", () => {
  assert.match(server.printed, new RegExp(`Open the dashboard at ${server.base}/ and sign in as demo@tally\\.local`));
});

test("a newcomer signs up, lands on the overview and sets up two-factor sign-in", async () => {
  const tab = await newPage(browser);
  const { page } = tab;
  await page.goto(`${server.base}/`);
  assertClean(await checkPage(tab, "signin", { ready: "form" }), "sign-in");
  await page.getByRole("link", { name: "Create an account" }).click();
  await page.getByLabel("Company").fill("Founders Ltd");
  await page.getByLabel("Work e-mail").fill(fresh.email);
  await page.getByLabel("Password").fill(fresh.password);
  assertClean(await checkPage(tab, "signup"), "sign-up");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/#\/overview/);
  await page.getByText("No data yet").waitFor();
  assertClean(await checkPage(tab, "overview-empty", { allow: [/409/] }), "empty overview");

  await page.getByRole("link", { name: "Account" }).click();
  await page.getByLabel("Confirm your password").fill(fresh.password);
  await page.getByRole("button", { name: "Set up two-factor sign-in" }).click();
  const secret = await page.locator("[data-totp-secret]").getAttribute("data-totp-secret");
  assert.ok(secret && /^[A-Z2-7]+=*$/.test(secret), "a base32 secret is shown");
  assert.equal(await page.locator(".qr svg path").count(), 1, "the QR code is drawn");
  fresh.secret = secret;
  await settled(page);
  assertClean(await checkPage(tab, "account-2fa-setup"), "2FA setup");
  fresh.usedStep = currentStep();
  await page.getByLabel("Code from the app").fill(totp(secret, fresh.usedStep));
  await page.getByRole("button", { name: "Turn on" }).click();
  await page.locator("[data-recovery-codes] li").first().waitFor();
  assert.equal(await page.locator("[data-recovery-codes] li").count(), 10);
  fresh.recovery = String(await page.locator("[data-recovery-codes] li code").first().textContent());
  assertClean(await checkPage(tab, "account-recovery-codes"), "recovery codes");
  await tab.context.close();
});

test("the demo admin signs in, and the overview's figures are the API's", async () => {
  admin = await newPage(browser);
  const { page } = admin;
  await page.goto(`${server.base}/`);
  await signIn(page, server.email, server.password);
  await page.waitForURL(/#\/overview/);
  await page.locator(".charts[data-ready]").waitFor({ timeout: 30_000 });
  await settled(page);
  const token = await tokenOf(page);
  assert.ok(token, "the token is kept in sessionStorage");
  assert.ok(!page.url().includes(token), "and never in the URL");
  const today = new Date().toISOString().slice(0, 10);
  const summary = await api(server.base, "GET", `/v1/metrics/summary?as_of=${today}`, { token });
  assert.equal(summary.status, 200);
  for (const key of ["mrr", "arr", "customers", "customer_churn_rate", "nrr", "arpu", "ltv"]) {
    const shown = await page.locator(`[data-figure="${key}"]`).getAttribute("data-value");
    const expected = summary.body[key] === null ? "" : String(summary.body[key]);
    assert.equal(shown, expected, `${key} on the page equals the API's`);
  }
  const mrrText = await page.locator('[data-figure="mrr"] .value').textContent();
  assert.ok(mrrText && /\d/.test(mrrText), "MRR is shown as money");
  assertClean(await checkPage(admin, "overview", { ready: ".charts[data-ready] .uplot" }), "overview");
});

test("a filter changes the chart and the URL, and the back button returns", async () => {
  const { page } = admin;
  const before = await page.locator(".charts .chart").first().getAttribute("data-points");
  const dims = await api(server.base, "GET", "/v1/dimensions", { token: await tokenOf(page) });
  const country = dims.body.country.find((/** @type {string} */ c) => c) || dims.body.country[0];
  await page.getByLabel("Filter").selectOption("country");
  await page.getByLabel("Value").selectOption(country);
  await page.getByRole("button", { name: "Apply" }).click();
  await page.waitForURL(new RegExp(`filter%5Bcountry%5D=${country}|filter\\[country\\]=${country}`));
  await page.locator(".charts[data-ready]").waitFor();
  const after = await page.locator(".charts .chart").first().getAttribute("data-points");
  assert.notEqual(after, before, "the MRR chart shows the filtered data");
  assertClean(await checkPage(admin, "overview-filtered", { ready: ".charts[data-ready] .uplot" }), "filtered overview");
  await page.goBack();
  await page.waitForURL((/** @type {URL} */ url) => !url.hash.includes("filter"));
  await page.locator(".charts[data-ready]").waitFor();
  assert.equal(await page.locator(".charts .chart").first().getAttribute("data-points"), before);
});

/** The overview's range as its controls show it (the defaults when the URL has none). @param {any} page */
async function rangeOf(page) {
  return { from: await page.getByLabel("From", { exact: true }).inputValue(), to: await page.getByLabel("To", { exact: true }).inputValue() };
}

test("the overview compares with a year earlier, shows the growth figures and the forecast", async () => {
  const { page } = admin;
  await page.getByLabel("Compare with").selectOption("year");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.waitForURL(/compare=year/);
  // The MRR chart gains the dashed line of the same months a year earlier.
  await page.waitForFunction(() => JSON.parse(document.querySelector(".charts[data-ready] .chart")?.getAttribute("data-points") || "[]").length === 2);
  await page.locator(".forecast-slot[data-ready] .uplot").waitFor({ timeout: 30_000 });
  await settled(page);
  const token = await tokenOf(page);
  const { from, to } = await rangeOf(page);
  const summary = (await api(server.base, "GET", `/v1/metrics/summary?as_of=${to}&compare=year`, { token })).body;
  for (const key of ["mrr", "customers", "nrr", "quick_ratio", "net_mrr_churn_rate"]) {
    const shown = page.locator(`[data-figure="${key}"]`);
    assert.equal(await shown.getAttribute("data-value"), summary[key] === null ? "" : String(summary[key]), `${key} is the API's`);
    const before = summary.comparison[key].value;
    assert.equal(await shown.getAttribute("data-before"), before === null ? "" : String(before), `${key} a year earlier is the API's`);
  }
  assert.match(String(await page.locator('[data-figure="quick_ratio"] dt').textContent()), /Quick ratio/);
  assert.match(String(await page.locator('[data-figure="mrr"] .previous').textContent()), /^A year earlier: /);
  const mrr = (await api(server.base, "GET", `/v1/metrics/mrr?from=${from}&to=${to}&interval=month&compare=year`, { token })).body;
  const lines = JSON.parse((await page.locator(".charts .chart").first().getAttribute("data-points")) || "[]");
  assert.deepEqual(lines[0], mrr.series.map((/** @type {any} */ p) => p.value), "the MRR line");
  assert.deepEqual(lines[1], mrr.series.map((/** @type {any} */ p) => (p.compared ? p.compared.value : null)), "the line a year earlier");
  const forecast = (await api(server.base, "GET", `/v1/metrics/forecast?as_of=${to}`, { token })).body;
  assert.equal(await page.locator(".forecast-slot code[data-model]").textContent(), forecast.model, "the model is named");
  assert.equal(await page.locator(".forecast-slot .forecast-description").textContent(), forecast.description, "its description");
  const band = JSON.parse((await page.locator(".forecast-slot .chart").getAttribute("data-points")) || "[]");
  const n = forecast.history.length;
  assert.deepEqual(band[0].slice(0, n), forecast.history.map((/** @type {any} */ p) => p.mrr), "the known months");
  assert.deepEqual(band[1].slice(n), forecast.series.map((/** @type {any} */ p) => p.mrr), "the forecast");
  assert.deepEqual(band[2].slice(n), forecast.series.map((/** @type {any} */ p) => p.mrr_high), "the band's top");
  assert.deepEqual(band[3].slice(n), forecast.series.map((/** @type {any} */ p) => p.mrr_low), "the band's bottom");
  assertClean(await checkPage(admin, "overview-compare-forecast", { ready: ".forecast-slot .uplot" }), "overview compared, with the forecast");
});

test("a chart's CSV download is a file that starts with a header row, fetched without the token in a URL", async () => {
  const { page } = admin;
  const requests = /** @type {string[]} */ ([]);
  const record = (/** @type {any} */ request) => requests.push(request.url());
  page.on("request", record);
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Download CSV of MRR", exact: true }).click();
  const file = await download;
  page.off("request", record);
  assert.match(file.suggestedFilename(), /\.csv$/);
  const text = fs.readFileSync(await file.path(), "utf8");
  const [header, ...rows] = text.replace(/\r?\n$/, "").split(/\r?\n/);
  assert.match(header, /^[a-z_]+(,[a-z_]+)+$/, `a header row: ${header}`);
  assert.ok(header.split(",").includes("period_start"), header);
  assert.ok(rows.length > 0, "and the rows");
  const token = String(await tokenOf(page));
  assert.ok(requests.some((u) => u.includes("/v1/metrics/mrr?") && u.includes("format=csv")), "the CSV came from the API");
  assert.ok(requests.every((u) => !u.includes(token)), "the token is never in a URL");
});

test("the cohorts page shows the API's triangle: revenue retention starts at 100 %", async () => {
  const { page } = admin;
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Cohorts" }).click();
  await page.waitForURL(/#\/cohorts/);
  await page.locator(".cohorts-slot[data-ready]").waitFor({ timeout: 30_000 });
  await settled(page);
  const { from, to } = await rangeOf(page);
  const reply = (await api(server.base, "GET", `/v1/metrics/cohorts?from=${from}&to=${to}&interval=month`, { token: await tokenOf(page) })).body;
  assert.ok(reply.cohorts.length > 1, "the demo has several cohorts");
  const rows = page.locator("table.triangle tbody tr");
  /** @param {string} key */
  const matches = async (key) => {
    assert.equal(await rows.count(), reply.cohorts.length);
    for (const [i, cohort] of reply.cohorts.entries()) {
      assert.equal(await rows.nth(i).getAttribute("data-cohort"), cohort.cohort);
      const shown = await rows.nth(i).locator("td[data-value]").evaluateAll((cells) => cells.map((c) => c.getAttribute("data-value")));
      assert.deepEqual(shown, cohort.periods.map((/** @type {any} */ p) => (p[key] === null ? "" : String(p[key]))), `${cohort.cohort} ${key}`);
    }
  };
  await matches("logo_retention");
  await page.getByLabel("Revenue retention (MRR)").check();
  await page.waitForURL(/show=revenue/);
  await page.locator('table.triangle[data-show="revenue"]').waitFor();
  await matches("revenue_retention");
  assert.equal(await rows.first().locator("td[data-value]").first().textContent(), "100%", "a cohort keeps all of its first month's MRR in that month");
  assertClean(await checkPage(admin, "cohorts"), "cohorts");
});

test("a custom segment opens on the overview with its figures, and is deleted after a confirmation", async () => {
  const { page } = admin;
  const token = await tokenOf(page);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Segments" }).click();
  await page.waitForURL(/#\/segments/);
  await settled(page);
  const dims = (await api(server.base, "GET", "/v1/dimensions", { token })).body;
  const country = dims.country.find((/** @type {string} */ c) => c);
  const name = `Customers in ${country}`;
  const form = page.getByRole("form", { name: "Create a custom segment" });
  await form.getByLabel("Segment name").fill(name);
  await form.getByLabel("Dimension 1").selectOption("country");
  await form.getByLabel("Value 1").selectOption(country);
  await form.getByRole("button", { name: "Create segment" }).click();
  await page.getByText(`Segment “${name}” created.`).waitFor();
  const link = page.getByRole("link", { name, exact: true });
  const id = String(await link.getAttribute("data-segment-id"));
  const saved = (await api(server.base, "GET", "/v1/segments/custom", { token })).body.segments;
  assert.deepEqual(saved.find((/** @type {any} */ s) => s.id === id)?.filters, { country }, "saved with its filter");
  assertClean(await checkPage(admin, "segments-custom"), "custom segments");

  await link.click();
  await page.waitForURL(new RegExp(`#/overview\\?segment=${id}`));
  await page.locator(".charts[data-ready]").waitFor({ timeout: 30_000 });
  await settled(page);
  assert.equal(await page.locator("strong[data-segment]").textContent(), name, "the overview names the segment applied");
  const { to } = await rangeOf(page);
  const bySegment = (await api(server.base, "GET", `/v1/metrics/summary?as_of=${to}&segment=${id}`, { token })).body;
  const byFilter = (await api(server.base, "GET", `/v1/metrics/summary?as_of=${to}&filter[country]=${country}`, { token })).body;
  assert.equal(bySegment.mrr, byFilter.mrr, "the segment is its filter");
  assert.equal(await page.locator('[data-figure="mrr"]').getAttribute("data-value"), String(bySegment.mrr), "the overview shows the segment's MRR");

  await page.goBack();
  await page.waitForURL(/#\/segments/);
  await settled(page);
  await page.getByRole("button", { name: `Delete ${name}`, exact: true }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByText("Links to the overview with this segment stop working").waitFor();
  await dialog.getByRole("button", { name: "Delete segment" }).click();
  await page.getByText(`Segment “${name}” deleted.`).waitFor();
  await page.getByRole("link", { name, exact: true }).waitFor({ state: "detached" });
  const left = (await api(server.base, "GET", "/v1/segments/custom", { token })).body.segments;
  assert.ok(!left.some((/** @type {any} */ s) => s.id === id), "gone from the API");
  // Back on the overview, where the next test starts.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Overview" }).click();
  await page.waitForURL(/#\/overview/);
  await page.locator(".charts[data-ready]").waitFor({ timeout: 30_000 });
  await settled(page);
});

test("customers, a profile, segments and insights show per-customer data to an admin", async () => {
  const { page } = admin;
  await page.getByRole("link", { name: "Customers" }).click();
  // The click may land while the previous test's overview still settles: wait for the
  // list itself, not only for a quiet network.
  await page.waitForURL(/#\/customers/);
  await settled(page);
  await page.locator("tbody tr").nth(5).waitFor();
  assert.ok((await page.locator("tbody tr").count()) > 5, "a page of customers");
  assertClean(await checkPage(admin, "customers"), "customers");
  await page.getByRole("link", { name: "Lifetime revenue" }).click();
  await page.waitForURL(/sort=ltv/);
  await settled(page);
  await page.getByRole("link", { name: "Next →" }).click();
  await page.waitForURL(/cursor=/);
  await settled(page);
  await page.locator("tbody tr a").first().click();
  await page.waitForURL(/#\/customers\/.+/);
  await settled(page);
  await page.getByRole("heading", { name: "Payments" }).waitFor();
  // The profile shows the API's MRR history (one step chart per currency, its points
  // with today's value appended) and every churn-risk factor with its points.
  const id = decodeURIComponent(new URL(page.url()).hash.replace(/^#\/customers\//, ""));
  const profile = (await api(server.base, "GET", `/v1/customers/${encodeURIComponent(id)}`, { token: await tokenOf(page) })).body;
  assert.ok(profile.mrr_history.length > 0, `${id} has an MRR history`);
  await page.getByRole("heading", { name: "MRR history" }).waitFor();
  await page.locator(".mrr-history .uplot").first().waitFor();
  const currencies = [...new Set(profile.mrr_history.map((/** @type {any} */ p) => p.currency))];
  const charts = page.locator(".mrr-history .chart");
  assert.equal(await charts.count(), currencies.length, "one MRR chart per currency");
  const shown = JSON.parse((await charts.first().getAttribute("data-points")) || "[]")[0];
  const points = profile.mrr_history.filter((/** @type {any} */ p) => p.currency === currencies[0]).map((/** @type {any} */ p) => p.mrr);
  assert.deepEqual(shown.slice(0, points.length), points, "the chart's steps are the API's points");
  const factors = profile.risk.churn_factors;
  assert.equal(factors.length, 4, "every factor of the churn model");
  assert.equal(Math.min(100, factors.reduce((/** @type {number} */ sum, /** @type {any} */ f) => sum + f.points, 0)), profile.risk.churn);
  const rows = page.locator(".churn-factors tbody tr");
  assert.equal(await rows.count(), factors.length);
  for (const [i, factor] of factors.entries()) {
    const text = await rows.nth(i).textContent();
    assert.ok(text?.includes(factor.detail) && text.includes(String(factor.points)), `factor ${factor.factor}: ${text}`);
  }
  await page.getByText(`Churn risk score ${profile.risk.churn} of 100`).waitFor();
  assertClean(await checkPage(admin, "customer-profile", { ready: ".mrr-history .uplot" }), "profile");
  await page.getByRole("link", { name: "Segments" }).click();
  await settled(page);
  assertClean(await checkPage(admin, "segments"), "segments");
  await page.getByRole("link", { name: "Insights" }).click();
  await settled(page);
  // The likeliest churner's row lists the factors that add points, as its profile has them.
  const largest = (await api(server.base, "GET", "/v1/customers?sort=mrr&limit=200", { token: await tokenOf(page) })).body.data;
  const likely = largest.filter((/** @type {any} */ c) => c.risk.churn > 0).sort((/** @type {any} */ a, /** @type {any} */ b) => b.risk.churn - a.risk.churn || b.reporting_mrr.amount - a.reporting_mrr.amount);
  const churnRows = page.locator('section[aria-label="Churn risk"] tbody tr');
  if (likely.length) {
    // The table fills in once the likeliest churners' profiles are read: wait for its
    // last row rather than for the network to go quiet.
    await churnRows.nth(likely.length - 1).waitFor({ timeout: 20_000 });
    assert.equal(await churnRows.count(), likely.length);
    const top = (await api(server.base, "GET", `/v1/customers/${encodeURIComponent(likely[0].id)}`, { token: await tokenOf(page) })).body;
    const text = await churnRows.first().textContent();
    for (const factor of top.risk.churn_factors.filter((/** @type {any} */ f) => f.points > 0)) {
      assert.ok(text?.includes(`${factor.detail} (+${factor.points})`), `${factor.factor} in ${text}`);
    }
  }
  assertClean(await checkPage(admin, "insights"), "insights");
});

test("a viewer sees aggregates and no customer's personal data", async () => {
  const { page } = admin;
  const token = await tokenOf(page);
  await page.getByRole("link", { name: "Security" }).click();
  await settled(page);
  assertClean(await checkPage(admin, "security"), "security");
  const viewerEmail = `viewer-${Date.now()}@example.com`;
  const inviteForm = page.getByRole("form", { name: "Invite a user" });
  await inviteForm.getByLabel("E-mail").fill(viewerEmail);
  await inviteForm.getByLabel("Role").selectOption("viewer");
  await inviteForm.getByRole("button", { name: "Invite" }).click();
  const code = await page.locator("#sec-users code.secret").textContent();
  assert.ok(code, "the invitation code is shown once");

  const viewer = await newPage(browser);
  await viewer.page.goto(`${server.base}/#/invite`);
  await viewer.page.getByLabel("Invitation code").fill(code);
  await viewer.page.getByLabel("Choose a password").fill("Viewer-Password-77!");
  await viewer.page.getByRole("button", { name: "Accept invitation" }).click();
  await viewer.page.getByText("Invitation accepted").waitFor();
  await signIn(viewer.page, viewerEmail, "Viewer-Password-77!");
  await viewer.page.locator(".charts[data-ready]").waitFor({ timeout: 30_000 });
  for (const hidden of ["Security", "Customers", "Insights"]) {
    assert.equal(await viewer.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: hidden }).count(), 0, `no ${hidden} in a viewer's navigation`);
  }
  const customers = await api(server.base, "GET", "/v1/customers?limit=200", { token });
  const emails = customers.body.data.map((/** @type {any} */ c) => c.email).filter(Boolean);
  assert.ok(emails.length > 0);
  for (const name of ["overview", "cohorts", "customers", "segments", "insights", "integrations"]) {
    await viewer.page.goto(`${server.base}/#/${name}`);
    await settled(viewer.page);
    const text = await viewer.page.locator("body").innerText();
    const leaked = emails.filter((/** @type {string} */ e) => text.includes(e));
    assert.deepEqual(leaked, [], `${name}: no customer e-mail for a viewer`);
    assert.ok(!/@example\.(com|org)|@tally\.local/.test(text.replace(viewerEmail, "")) || name === "overview", `${name}: no address`);
    assertClean(await checkPage(viewer, `viewer-${name}`), `viewer ${name}`);
  }
  await viewer.context.close();
});

test("the IP allowlist refuses a lock-out, and a sign-in from elsewhere is refused with a notice", async () => {
  const { page } = admin;
  await page.getByRole("link", { name: "Security" }).click();
  await settled(page);
  const form = page.getByRole("form", { name: "Add IP address" });
  await page.getByText("the first entry must cover the address you are connecting from").waitFor();
  assert.equal(await page.locator("[data-current-ip]").first().textContent(), "127.0.0.1", "the form names the current address");
  await form.getByLabel("IP address or network").fill("10.20.0.0/16");
  await form.getByLabel("Note").fill("Office VPN");
  await form.getByRole("button", { name: "Add IP address" }).click();
  await page.getByText("you would be locked out").waitFor();
  await form.getByLabel("IP address or network").fill("127.0.0.1");
  await form.getByLabel("Note").fill("This laptop");
  await form.getByRole("button", { name: "Add IP address" }).click();
  await page.getByText("Address added.").waitFor();
  assert.equal(await page.locator("#sec-allowlist tbody code").first().textContent(), "127.0.0.1/32");
  assertClean(await checkPage(admin, "security-allowlist", { allow: [/409/] }), "allowlist");

  const proxy = await proxyFrom(server.port, "127.0.0.2");
  try {
    const elsewhere = await newPage(browser);
    await elsewhere.page.goto(`${proxy.base}/`);
    await signIn(elsewhere.page, server.email, server.password);
    await elsewhere.page.getByText("not on your company's IP allowlist").waitFor();
    assert.match(elsewhere.page.url(), /#\/signin|\/$|#$/);
    assertClean(await checkPage(elsewhere, "signin-ip-not-allowed", { allow: [/403/] }), "refused address");
    await elsewhere.context.close();
  } finally {
    await proxy.close();
  }
  // Remove it again: the list becomes empty, so every address may sign in.
  await page.getByRole("button", { name: "Remove 127.0.0.1/32" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Remove" }).click();
  await page.getByText("No entries: every address may sign in.").waitFor();
});

test("the newcomer signs in with a TOTP code or a recovery code; an ended session returns to sign-in with a notice", async () => {
  const tab = await newPage(browser);
  const { page } = tab;
  await page.goto(`${server.base}/`);
  await signIn(page, fresh.email, fresh.password);
  await page.getByLabel("Authentication code").waitFor();
  assertClean(await checkPage(tab, "signin-2fa", { allow: [/401/] }), "2FA prompt");
  // A code is accepted once: wait for the step after the one used to confirm.
  while (currentStep() <= fresh.usedStep) await page.waitForTimeout(500);
  await page.getByLabel("Authentication code").fill(totp(fresh.secret, currentStep()));
  await page.getByRole("button", { name: "Verify" }).click();
  await page.waitForURL(/#\/overview/);
  await page.getByText("No data yet").waitFor();
  const token = await tokenOf(page);
  assert.equal((await api(server.base, "DELETE", "/v1/sessions/current", { token })).status, 204);
  await page.getByRole("link", { name: "Account" }).click();
  await page.getByText("Your session has ended").waitFor();
  assert.equal(await tokenOf(page), null, "the tab forgot the token");
  // A recovery code instead of the app's code.
  await signIn(page, fresh.email, fresh.password);
  await page.getByRole("button", { name: "Use a recovery code instead" }).click();
  await page.getByLabel("Recovery code").fill(fresh.recovery);
  await page.getByRole("button", { name: "Verify" }).click();
  await page.waitForURL(/#\/overview/);
  await page.getByText("No data yet").waitFor();
  await tab.context.close();
});

test("after five failed sign-ins the account is locked, and the e-mailed code resets it", async () => {
  const email = `locked-${Date.now()}@example.com`;
  const password = "Locked-Out-Password-9!";
  assert.equal((await api(server.base, "POST", "/v1/signup", { body: { company: "Lockers", email, password } })).status, 201);
  for (let i = 0; i < 5; i++) {
    await api(server.base, "POST", "/v1/sessions", { body: { email, password: `wrong-${i}` } });
  }
  const tab = await newPage(browser);
  const { page } = tab;
  await page.goto(`${server.base}/`);
  await signIn(page, email, password);
  await page.getByRole("heading", { name: "Account locked" }).waitFor();
  assertClean(await checkPage(tab, "signin-locked", { allow: [/423/] }), "locked");
  await page.getByRole("button", { name: "E-mail me a reset code" }).click();
  await page.getByLabel("Reset code").waitFor();
  const mail = server.events().find((e) => e.type === "PasswordResetRequested" && e.email === email);
  const token = mail && mail.token;
  assert.ok(token, "the reset e-mail carries a code");
  await page.getByLabel("Reset code").fill(token);
  await page.getByLabel("New password").fill("Fresh-Start-Password-10!");
  assertClean(await checkPage(tab, "signin-reset"), "reset");
  await page.getByRole("button", { name: "Reset password" }).click();
  await page.getByText("Password reset.").waitFor();
  await signIn(page, email, "Fresh-Start-Password-10!");
  await page.waitForURL(/#\/overview/);
  await page.getByText("No data yet").waitFor();
  await tab.context.close();
});

test("an idle tab signs itself out with a message when the session's idle timeout passes", async () => {
  // From an address of its own: by now the suite has signed in from 127.0.0.1 more
  // often than the per-address limit of sign-ins a minute allows (a 429, as it should).
  const proxy = await proxyFrom(server.port, "127.0.0.3");
  try {
    const tab = await newPage(browser);
    const { page } = tab;
    await page.clock.install();
    await page.goto(`${proxy.base}/`);
    await signIn(page, server.email, server.password);
    await page.waitForURL(/#\/overview/);
    await settled(page);
    // The session's idle timeout is the server's default, 15 minutes.
    await page.clock.fastForward("15:01");
    await page.getByText("You were signed out after 15 minutes without activity").waitFor();
    assert.equal(await tokenOf(page), null, "the tab forgot the token");
    assertClean(await checkPage(tab, "signin-idle-timeout"), "idle sign-out");
    await tab.context.close();
  } finally {
    await proxy.close();
  }
});

test("account: sessions, password, export and closure are on the page", async () => {
  const { page } = admin;
  await page.getByRole("link", { name: "Account" }).click();
  await settled(page);
  await page.getByText("this tab").waitFor();
  const download = page.waitForEvent("download", { timeout: 90_000 });
  await page.getByRole("button", { name: "Export everything (JSON)" }).click();
  const file = await download;
  assert.match(file.suggestedFilename(), /^tally-export-.*\.json$/);
  await page.getByText("Export downloaded").waitFor();
  assertClean(await checkPage(admin, "account"), "account");
});

test("integrations: the demo's two sources, and a CSV file imported into an import source with its refused row", async () => {
  const { page } = admin;
  await page.getByRole("link", { name: "Integrations" }).click();
  await settled(page);
  await page.locator(".integration", { hasText: "Demo data (Stripe-shaped)" }).waitFor();
  await page.locator(".integration", { hasText: "Demo data (Paddle-shaped)" }).waitFor();
  await page.getByRole("button", { name: "Create an import source" }).click();
  await page.getByText("The import source is ready").waitFor();
  const source = page.locator(".integration", { hasText: "Import source" });
  await source.getByLabel("What the file holds").selectOption("customers");
  const csv = [
    "external_id,email,country,city,created_at",
    "c-1,ada@example.com,DE,Berlin,2025-01-05T10:00:00Z",
    "c-2,,FR,Paris,2025-02-01T00:00:00Z",
    "c-3,grace@example.com,Germany,,2025-03-01T00:00:00Z",
  ].join("\n");
  await source.getByLabel("CSV file").setInputFiles({ name: "customers.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await source.getByRole("button", { name: "Import this file" }).click();
  await source.getByText("Import finished: 3 rows, 2 written, 0 unchanged, 1 refused.").waitFor({ timeout: 20_000 });
  // The file's fourth line (its header is the first).
  await source.getByText(/Line 4, country:/).waitFor();
  // The file's personal data never reaches the page's error list: a row is named by its place.
  assert.equal(await source.getByText("grace@example.com").count(), 0);
  assertClean(await checkPage(admin, "integrations-import"), "integrations with an import source");
});

test("integrations: sync state, Sync now, and disconnecting with the 24-hour notice", async () => {
  const { page } = admin;
  await page.getByRole("link", { name: "Integrations" }).click();
  await settled(page);
  // A processor's integration (the import source of the test before has nothing to
  // sync, and the list's order is the ids', not the order of creation).
  const syncable = page.locator(".integration", {
    has: page.getByRole("button", { name: "Sync now" }),
  });
  await syncable.first().getByRole("button", { name: "Sync now" }).click();
  await page.getByText("Sync requested").waitFor();
  // A secret key is refused before anything is saved: Tally never holds a key that writes.
  await page.getByLabel("Restricted key").fill("sk_test_not_read_only");
  await page.getByRole("button", { name: "Connect with this key" }).click();
  await page.getByRole("alert").getByText("only accepts read-only restricted keys").waitFor();
  await page.getByRole("button", { name: "Connect with Stripe" }).click();
  await page.getByText("not configured on this server").waitFor();
  assertClean(await checkPage(admin, "integrations", { allow: [/400|409/] }), "integrations");
  await syncable.first().getByRole("button", { name: "Disconnect" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByText("deleted within 24 hours").waitFor();
  await dialog.getByRole("button", { name: "Disconnect" }).click();
  await page.getByText("Access is revoked; the data will be deleted by").waitFor();
  await page.locator('.integration[data-status="disconnected"]').waitFor();
  assertClean(await checkPage(admin, "integrations-disconnected"), "disconnected");
});
