// Integrations: the connected payment processors with their sync state and last error,
// "Sync now", disconnecting (access revoked at once, data deleted within 24 hours), and
// connecting Stripe read-only with a restricted key or Stripe's OAuth install.

import { ApiError, call } from "../api.js";
import { h, replace, when, day, card, loading, notice, pageHeader, errorText, field, messageArea, onSubmit, confirmDialog } from "../ui.js";

/** @typedef {import("../main.js").PageContext} PageContext */

/** The read permissions a restricted key needs, and nothing else. */
const PERMISSIONS = ["Customers", "Subscriptions", "Invoices", "Charges", "Refunds", "Payment methods", "Prices", "Products", "Coupons", "Events"];

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
  if (ctx.params.has("connected")) messages.show("success", "Stripe is connected. The first sync has started.");
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
          h("div", { class: "provider" }, h("strong", {}, i.provider === "stripe" ? "Stripe" : i.provider), h("span", { class: `tag status-${i.status}` }, STATUS_TEXT[i.status] || i.status)),
          h(
            "dl",
            { class: "facts" },
            h("dt", {}, "Connected"),
            h("dd", {}, day(i.connected_at)),
            h("dt", {}, "Last sync"),
            h("dd", {}, i.last_sync_at ? when(i.last_sync_at) : "Not yet"),
            i.last_error ? [h("dt", {}, "Last error"), h("dd", { class: "error-text" }, i.last_error)] : null,
          ),
          admin && i.status !== "disconnected"
            ? h(
                "div",
                { class: "actions" },
                h(
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
                        "Disconnect Stripe?",
                        "Tally's access is revoked now and syncs stop. The data read from this account is hidden at once and deleted within 24 hours. This cannot be undone; you can connect again later.",
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
        ),
      ),
    ),
  );
}

/** @param {PageContext} ctx @param {ReturnType<typeof messageArea>} pageMessages */
function connectCard(ctx, pageMessages) {
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
