// Integrations: the connected payment processors with their sync state and last error,
// "Sync now", disconnecting (access revoked at once, data deleted within 24 hours),
// connecting Stripe read-only (restricted key or Stripe's OAuth install) or Paddle
// Billing read-only (an API key with read permissions), and import sources for any
// other billing system: CSV files uploaded here (gzip-compressed in the browser when it
// can) are imported in the background, this page following the import to its end.

import { ApiError, call } from "../api.js";
import { h, replace, when, day, card, loading, notice, pageHeader, errorText, field, select, count, providerName, messageArea, onSubmit, confirmDialog } from "../ui.js";

/** @typedef {import("../main.js").PageContext} PageContext */

/** The read permissions a restricted key needs, and nothing else. */
const PERMISSIONS = ["Customers", "Subscriptions", "Invoices", "Charges", "Refunds", "Payment methods", "Prices", "Products", "Coupons", "Events"];

/** The read permissions a Paddle API key needs, and nothing else. */
const PADDLE_PERMISSIONS = ["customer.read", "address.read", "subscription.read", "transaction.read", "adjustment.read", "discount.read", "event.read"];

/** What an import source takes, in the order a first import needs them. */
const IMPORT_KINDS = /** @type {[string, string][]} */ ([
  ["customers", "Customers"],
  ["plans", "Plans"],
  ["subscription_events", "Subscription events"],
  ["payments", "Payments"],
  ["refunds", "Refunds"],
]);

/** How often a running import is looked at, in milliseconds. */
const IMPORT_POLL_MS = 1000;

const STATUS_TEXT = /** @type {Record<string, string>} */ ({
  connected: "Connected",
  syncing: "Syncing",
  error: "Sync failed",
  disconnected: "Disconnected",
});

/** @param {PageContext} ctx */
export async function render(ctx) {
  const admin = ctx.me.user.role === "admin";
  const messages = messageArea();
  const listSlot = h("div", {}, loading());
  replace(
    ctx.main,
    pageHeader("Integrations", "Tally reads your billing data read-only. Disconnecting revokes access at once; the data is deleted within 24 hours."),
    messages.el,
    card("Your integrations", listSlot),
    admin ? connectCard(ctx, messages) : notice("info", "Only admins connect or disconnect payment processors."),
  );
  const connected = ctx.params.get("connected_provider") === "paddle" ? "Paddle" : "Stripe";
  if (ctx.params.has("connected")) messages.show("success", `${connected} is connected. The first sync has started.`);
  if (ctx.params.has("import_source")) messages.show("success", "The import source is ready. Upload CSV files to it below, or post JSON batches to the import API.");
  if (ctx.params.has("oauth_error")) messages.show("error", `Stripe did not connect (${ctx.params.get("oauth_error")}). Try again, or use a restricted key.`);
  await refresh(ctx, listSlot, messages, admin);
}

/**
 * @param {PageContext} ctx @param {HTMLElement} slot
 * @param {ReturnType<typeof messageArea>} messages @param {boolean} admin
 */
async function refresh(ctx, slot, messages, admin) {
  let list;
  try {
    list = await call("GET", "/v1/integrations");
  } catch (err) {
    replace(slot, notice("error", errorText(err)));
    return;
  }
  if (!list.data.length) {
    replace(slot, h("p", { class: "empty" }, "No payment processor is connected yet."));
    return;
  }
  replace(
    slot,
    h(
      "ul",
      { class: "integrations" },
      list.data.map((/** @type {any} */ i) =>
        h(
          "li",
          { class: "integration", "data-id": i.id, "data-status": i.status },
          h("div", { class: "provider" }, h("strong", {}, providerName(i)), h("span", { class: `tag status-${i.status}` }, STATUS_TEXT[i.status] || i.status)),
          h(
            "dl",
            { class: "facts" },
            h("dt", {}, "Connected"),
            h("dd", {}, day(i.connected_at)),
            h("dt", {}, i.provider === "custom" ? "Last import" : "Last sync"),
            h("dd", {}, i.last_sync_at ? when(i.last_sync_at) : "Not yet"),
            i.last_error ? [h("dt", {}, "Last error"), h("dd", { class: "error-text" }, i.last_error)] : null,
          ),
          admin && i.status !== "disconnected"
            ? h(
                "div",
                { class: "actions" },
                i.provider === "custom"
                  ? null
                  : h(
                  "button",
                  {
                    type: "button",
                    class: "secondary",
                    onclick: async () => {
                      try {
                        await call("POST", `/v1/integrations/${i.id}/sync`);
                        messages.show("success", "Sync requested. It runs in the background; this page shows its state.");
                        await refresh(ctx, slot, messages, admin);
                      } catch (err) {
                        messages.error(err);
                      }
                    },
                  },
                  "Sync now",
                ),
                h(
                  "button",
                  {
                    type: "button",
                    class: "danger",
                    onclick: async () => {
                      const ok = await confirmDialog(
                        `Disconnect ${providerName(i)}?`,
                        i.provider === "custom"
                          ? "Imports into this source stop. The data imported into it is hidden at once and deleted within 24 hours. This cannot be undone; you can create a new source later."
                          : "Tally's access is revoked now and syncs stop. The data read from this account is hidden at once and deleted within 24 hours. This cannot be undone; you can connect again later.",
                        "Disconnect",
                      );
                      if (!ok) return;
                      try {
                        const reply = await call("DELETE", `/v1/integrations/${i.id}`);
                        messages.show("success", `Disconnected. Access is revoked; the data will be deleted by ${when(reply && reply.data_deleted_by)}.`);
                        await refresh(ctx, slot, messages, admin);
                      } catch (err) {
                        messages.error(err);
                      }
                    },
                  },
                  "Disconnect",
                ),
              )
            : null,
          i.provider === "custom" && i.status !== "disconnected" && ctx.me.user.role !== "viewer" ? importForm(i) : null,
          i.provider === "paddle" && i.status !== "disconnected" && admin ? notificationForm(i, messages) : null,
        ),
      ),
    ),
  );
}

/**
 * A Paddle integration's notification secret: Paddle's destination needs the webhook URL,
 * which names the integration, so its secret is given once the integration exists.
 * @param {any} i @param {ReturnType<typeof messageArea>} pageMessages
 */
function notificationForm(i, pageMessages) {
  const messages = messageArea();
  const form = h(
    "form",
    { class: "stack narrow" },
    h("p", { class: "hint" }, "For syncs within minutes of a change: in Paddle (Developer tools → Notifications) add a webhook destination with the URL ", h("code", {}, `${location.origin}/v1/webhooks/paddle/${i.id}`), ", then give its secret key here."),
    field("Notification secret", { name: "webhook_secret", autocomplete: "off", spellcheck: "false", required: true, placeholder: "pdl_ntfset_…" }),
    h("button", { type: "submit", class: "secondary" }, "Save the secret"),
    messages.el,
  );
  onSubmit(
    form,
    async (values) => {
      await call("PUT", `/v1/integrations/${i.id}/webhook-secret`, { body: { webhook_secret: values.webhook_secret.trim() } });
      form.reset();
      pageMessages.show("success", "Notification secret saved. Paddle's signed notifications now start syncs.");
    },
    messages,
  );
  return form;
}

/**
 * Uploading one CSV file into an import source and following its import.
 * @param {any} i the import source
 */
function importForm(i) {
  const messages = messageArea();
  const progress = h("div", { class: "import-progress", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "stack narrow import" },
    select("What the file holds", "kind", IMPORT_KINDS, "customers"),
    field("CSV file", { name: "file", type: "file", accept: ".csv,text/csv", required: true }, "A header row naming the fields (see the import API's documentation), then one row per record."),
    h("button", { type: "submit", class: "secondary" }, "Import this file"),
    messages.el,
    progress,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    messages.clear();
    const input = form.querySelector("input[type=file]");
    const file = input instanceof HTMLInputElement && input.files ? input.files[0] : undefined;
    const kind = new FormData(form).get("kind");
    if (!file || typeof kind !== "string") return;
    const button = form.querySelector("button[type=submit]");
    if (button instanceof HTMLButtonElement) button.disabled = true;
    try {
      const started = await call("POST", `/v1/integrations/${i.id}/import/${kind}`, { upload: await compressed(file) });
      await follow(i.id, started.id, progress);
      form.reset();
    } catch (err) {
      messages.error(err);
    } finally {
      if (button instanceof HTMLButtonElement) button.disabled = false;
    }
  });
  return form;
}

/**
 * The file as sent: gzip-compressed when the browser can (the request limit is 6 MB,
 * and a CSV shrinks about tenfold), else as it is.
 * @param {File} file
 * @returns {Promise<{ data: Blob, type: string, encoding?: string }>}
 */
async function compressed(file) {
  if (typeof CompressionStream === "undefined") return { data: file, type: "text/csv" };
  const stream = file.stream().pipeThrough(new CompressionStream("gzip"));
  return { data: await new Response(stream).blob(), type: "text/csv", encoding: "gzip" };
}

/**
 * Shows an import's progress until it is done or failed, with its first row errors.
 * @param {string} integration @param {string} id @param {HTMLElement} slot
 */
async function follow(integration, id, slot) {
  for (;;) {
    const run = await call("GET", `/v1/integrations/${integration}/imports/${id}`);
    const finished = run.status === "done" || run.status === "failed";
    replace(
      slot,
      h(
        "p",
        { class: finished && run.status === "failed" ? "error-text" : "" },
        finished
          ? `Import ${run.status === "done" ? "finished" : "failed"}: ${count(run.rows)} rows, ${count(run.written)} written, ${count(run.unchanged)} unchanged, ${count(run.failed_rows)} refused.`
          : `Importing… ${count(run.rows)} rows read so far.`,
      ),
      run.errors && run.errors.length
        ? h(
            "ul",
            { class: "import-errors" },
            run.errors.map((/** @type {any} */ e) => h("li", {}, `${e.line ? `Line ${e.line}` : `Row ${e.index + 1}`}${e.field ? `, ${e.field}` : ""}: ${e.message}`)),
          )
        : null,
    );
    if (finished) return;
    await new Promise((resolve) => setTimeout(resolve, IMPORT_POLL_MS));
  }
}

/** @param {PageContext} ctx @param {ReturnType<typeof messageArea>} pageMessages */
function connectCard(ctx, pageMessages) {
  return h("div", { class: "stack" }, stripeCard(ctx, pageMessages), paddleCard(ctx, pageMessages), importSourceCard(ctx, pageMessages));
}

/** @param {PageContext} ctx @param {ReturnType<typeof messageArea>} pageMessages */
function paddleCard(ctx, pageMessages) {
  const messages = messageArea();
  const form = h(
    "form",
    { class: "stack narrow" },
    field("Paddle API key", { name: "api_key", autocomplete: "off", spellcheck: "false", required: true, placeholder: "pdl_live_apikey_…" }, "Give it the read permissions listed here and no write permission: Paddle does not show a key's permissions, so Tally cannot tell a key that can write."),
    h("button", { type: "submit", class: "primary" }, "Connect Paddle"),
  );
  onSubmit(
    form,
    async (values) => {
      await call("POST", "/v1/integrations", { body: { provider: "paddle", api_key: values.api_key.trim() } });
      form.reset();
      pageMessages.clear();
      ctx.go(`#/integrations?connected=${Date.now()}&connected_provider=paddle`);
    },
    messages,
  );
  return card(
    "Connect Paddle Billing",
    h("p", {}, "In Paddle: Developer tools → Authentication → New API key. Give it these ", h("strong", {}, "read"), " permissions, and nothing else:"),
    h("ul", { class: "permissions" }, PADDLE_PERMISSIONS.map((p) => h("li", {}, p))),
    messages.el,
    form,
  );
}

/** @param {PageContext} ctx @param {ReturnType<typeof messageArea>} pageMessages */
function importSourceCard(ctx, pageMessages) {
  const messages = messageArea();
  const form = h(
    "form",
    { class: "stack narrow" },
    h("button", { type: "submit", class: "secondary" }, "Create an import source"),
  );
  onSubmit(
    form,
    async () => {
      await call("POST", "/v1/integrations/custom", { body: {} });
      pageMessages.clear();
      ctx.go(`#/integrations?import_source=${Date.now()}`);
    },
    messages,
  );
  return card(
    "Another billing system",
    h("p", {}, "An import source takes customers, plans, subscription events, payments and refunds from any billing system: as CSV files uploaded here, or as JSON batches posted to the import API. Re-importing the same records changes nothing."),
    messages.el,
    form,
  );
}

/** @param {PageContext} ctx @param {ReturnType<typeof messageArea>} pageMessages */
function stripeCard(ctx, pageMessages) {
  const messages = messageArea();
  const form = h(
    "form",
    { class: "stack narrow" },
    field("Restricted key", { name: "api_key", autocomplete: "off", spellcheck: "false", required: true, placeholder: "rk_live_…" }, "A secret key (sk_…) is refused: Tally never holds a key that can write."),
    h("button", { type: "submit", class: "primary" }, "Connect with this key"),
  );
  onSubmit(
    form,
    async (values) => {
      await call("POST", "/v1/integrations", { body: { provider: "stripe", api_key: values.api_key.trim() } });
      form.reset();
      pageMessages.clear();
      ctx.go(`#/integrations?connected=${Date.now()}`);
    },
    messages,
  );
  const oauthMessages = messageArea();
  return card(
    "Connect Stripe",
    h(
      "div",
      { class: "two-col" },
      h(
        "div",
        {},
        h("h3", {}, "Install the Stripe app"),
        h("p", {}, "Stripe asks you to approve read-only access, then sends you back here."),
        oauthMessages.el,
        h(
          "button",
          {
            type: "button",
            class: "primary",
            onclick: async () => {
              try {
                const reply = await call("POST", "/v1/integrations/stripe/connect");
                location.assign(reply.authorize_url);
              } catch (err) {
                if (err instanceof ApiError && err.code === "oauth_not_configured") {
                  oauthMessages.show("info", "The Stripe app is not configured on this server. Use a restricted key.");
                } else {
                  oauthMessages.error(err);
                }
              }
            },
          },
          "Connect with Stripe",
        ),
      ),
      h(
        "div",
        {},
        h("h3", {}, "Or use a restricted key"),
        h("p", {}, "In the Stripe Dashboard: Developers → API keys → Create restricted key. Give it ", h("strong", {}, "Read"), " access to these, and nothing else:"),
        h("ul", { class: "permissions" }, PERMISSIONS.map((p) => h("li", {}, p))),
        messages.el,
        form,
      ),
    ),
  );
}
