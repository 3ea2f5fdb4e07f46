// Account: two-factor sign-in (QR code of the otpauth:// URI, drawn here by the vendored
// encoder, and the recovery codes, shown once), the user's sessions with "sign out",
// the password, and for admins the company's export and the account's closure.

import { call, dropSession, signOut } from "../api.js";
import { h, replace, when, table, card, loading, notice, pageHeader, errorText, field, messageArea, onSubmit, confirmDialog } from "../ui.js";

/** @typedef {import("../main.js").PageContext} PageContext */
/**
 * The vendored encoder (app/vendor/qrcode, MIT), loaded only on this page. Named through a
 * constant so the type checker takes these types instead of checking the vendored code.
 * @typedef {{ addData(data: string): void, make(): void, getModuleCount(): number, isDark(r: number, c: number): boolean }} QrCode
 * @typedef {(typeNumber: number, level: "L" | "M" | "Q" | "H") => QrCode} QrFactory
 */
const QR_ENCODER = "../vendor/qrcode/qrcode.mjs";

/** @param {PageContext} ctx */
export async function render(ctx) {
  const mfa = h("div", {});
  const sessions = h("div", {}, loading());
  const admin = ctx.me.user.role === "admin";
  replace(
    ctx.main,
    pageHeader("Account", `${ctx.me.user.email} · ${ctx.me.user.role} at ${ctx.me.tenant.company}`),
    card("Two-factor sign-in", mfa),
    card("Sessions", sessions),
    card("Password", passwordForm(ctx)),
    admin ? card("Export your data", exportPanel()) : null,
    admin ? card("Close the account", closurePanel(ctx)) : null,
  );
  renderMfa(mfa, ctx, ctx.me.user.mfa_enabled);
  await renderSessions(sessions, ctx);
}

/** @param {HTMLElement} el @param {PageContext} ctx @param {boolean} enabled */
function renderMfa(el, ctx, enabled) {
  const messages = messageArea();
  if (enabled) {
    const form = h(
      "form",
      { class: "stack narrow" },
      field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
      field("Authentication or recovery code", { name: "code", autocomplete: "one-time-code", required: true }),
      h("button", { type: "submit", class: "danger" }, "Turn off two-factor sign-in"),
    );
    onSubmit(
      form,
      async (values) => {
        await call("DELETE", "/v1/mfa/totp", { body: { password: values.password, code: values.code.trim() } });
        ctx.me.user.mfa_enabled = false;
        renderMfa(el, ctx, false);
      },
      messages,
    );
    replace(el, notice("success", "Two-factor sign-in is on: signing in asks for a code from your authenticator app."), messages.el, form);
    return;
  }
  const form = h(
    "form",
    { class: "stack narrow" },
    field("Confirm your password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    h("button", { type: "submit", class: "primary" }, "Set up two-factor sign-in"),
  );
  onSubmit(
    form,
    async (values) => {
      const enrolment = await call("POST", "/v1/mfa/totp/setup", { body: { password: values.password } });
      await showEnrolment(el, ctx, enrolment);
    },
    messages,
  );
  replace(el, notice("warning", "Two-factor sign-in is off. Turn it on so a stolen password alone cannot open Tally."), messages.el, form);
}

/** @param {HTMLElement} el @param {PageContext} ctx @param {{ secret: string, otpauth_uri: string }} enrolment */
async function showEnrolment(el, ctx, enrolment) {
  const messages = messageArea();
  /** @type {{ default: QrFactory }} */
  const module = await import(QR_ENCODER);
  const qr = module.default(0, "M");
  qr.addData(enrolment.otpauth_uri);
  qr.make();
  const form = h(
    "form",
    { class: "stack narrow" },
    field("Code from the app", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", maxlength: 6, required: true }),
    h("button", { type: "submit", class: "primary" }, "Turn on"),
  );
  onSubmit(
    form,
    async (values) => {
      const reply = await call("POST", "/v1/mfa/totp/confirm", { body: { code: values.code.trim() } });
      ctx.me.user.mfa_enabled = true;
      showRecoveryCodes(el, ctx, reply.recovery_codes);
    },
    messages,
  );
  replace(
    el,
    h(
      "div",
      { class: "two-col" },
      h("div", { class: "qr" }, qrSvg(qr), h("p", { class: "hint" }, "Scan with your authenticator app, or type the key:"), h("code", { class: "secret", "data-totp-secret": enrolment.secret }, enrolment.secret)),
      h("div", {}, h("p", {}, "Then enter the 6-digit code the app shows for Tally."), messages.el, form),
    ),
  );
}

/** The QR code as an SVG element built node by node. @param {QrCode} qr */
function qrSvg(qr) {
  const ns = "http://www.w3.org/2000/svg";
  const n = qr.getModuleCount();
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `-4 -4 ${n + 8} ${n + 8}`);
  svg.setAttribute("width", "200");
  svg.setAttribute("height", "200");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "QR code of the two-factor setup key");
  const bg = document.createElementNS(ns, "rect");
  for (const [k, v] of [["x", "-4"], ["y", "-4"], ["width", String(n + 8)], ["height", String(n + 8)], ["fill", "#fff"]]) bg.setAttribute(k, v);
  svg.appendChild(bg);
  let d = "";
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c} ${r}h1v1h-1z`;
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  path.setAttribute("fill", "#000");
  svg.appendChild(path);
  return svg;
}

/** @param {HTMLElement} el @param {PageContext} ctx @param {string[]} codes */
function showRecoveryCodes(el, ctx, codes) {
  replace(
    el,
    notice("success", "Two-factor sign-in is on."),
    h("p", {}, "Save these recovery codes somewhere safe. Each signs you in once if you lose your phone. They are shown only now."),
    h("ol", { class: "codes", "data-recovery-codes": "" }, codes.map((c) => h("li", {}, h("code", {}, c)))),
    h("button", { type: "button", class: "secondary", onclick: () => download("tally-recovery-codes.txt", "text/plain", `${codes.join("\n")}\n`) }, "Download codes"),
    " ",
    h("button", { type: "button", class: "primary", onclick: () => renderMfa(el, ctx, true) }, "I saved them"),
  );
}

/** @param {HTMLElement} el @param {PageContext} ctx */
async function renderSessions(el, ctx) {
  const messages = messageArea();
  let list;
  try {
    list = await call("GET", "/v1/me/sessions");
  } catch (err) {
    replace(el, notice("error", errorText(err)));
    return;
  }
  replace(
    el,
    messages.el,
    table(
      "Your sessions",
      [
        { label: "Started", cell: (/** @type {any} */ s) => [when(s.created_at), s.current ? h("span", { class: "tag good" }, "this tab") : null] },
        { label: "Address", cell: (s) => (s.ip ? h("code", {}, s.ip) : "—") },
        { label: "Expires", cell: (s) => when(s.expires_at) },
        {
          label: "Actions",
          cell: (s) =>
            h(
              "button",
              {
                type: "button",
                class: "link danger",
                onclick: async () => {
                  try {
                    if (s.current) {
                      await signOut();
                      ctx.go("#/signin");
                      location.reload();
                      return;
                    }
                    await call("DELETE", `/v1/me/sessions/${s.id}`);
                    await renderSessions(el, ctx);
                  } catch (err) {
                    messages.error(err);
                  }
                },
              },
              "Sign out",
            ),
        },
      ],
      list.data,
      { hideCaption: true },
    ),
  );
}

/** @param {PageContext} ctx */
function passwordForm(ctx) {
  const messages = messageArea();
  const form = h(
    "form",
    { class: "stack narrow" },
    h("input", { type: "text", name: "username", autocomplete: "username", value: ctx.me.user.email, hidden: true, readonly: true }),
    field("Current password", { name: "current_password", type: "password", autocomplete: "current-password", required: true }),
    field("New password", { name: "new_password", type: "password", autocomplete: "new-password", required: true }, ctx.me.user.password_expires_at ? `Your password expires ${when(ctx.me.user.password_expires_at)}.` : undefined),
    h("button", { type: "submit", class: "primary" }, "Change password"),
  );
  onSubmit(
    form,
    async (values) => {
      await call("POST", "/v1/password/change", { body: { current_password: values.current_password, new_password: values.new_password } });
      form.reset();
      messages.show("success", "Password changed. Your other sessions were signed out.");
    },
    messages,
  );
  return h("div", {}, messages.el, form);
}

function exportPanel() {
  const messages = messageArea();
  const button = h("button", { type: "button", class: "primary" }, "Export everything (JSON)");
  button.addEventListener("click", async () => {
    button.disabled = true;
    messages.show("info", "Preparing the export…");
    try {
      const { id } = await call("POST", "/v1/exports");
      /** @type {any[]} */
      const pages = [];
      let page = 1;
      for (let tries = 0; tries < 120; tries++) {
        const reply = await call("GET", `/v1/exports/${id}`, { query: { page: String(page) } });
        if (reply.status !== "ready") {
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
        pages.push(reply.document);
        messages.show("info", `Downloading page ${reply.page} of ${reply.pages}…`);
        if (!reply.next_page) break;
        page = reply.next_page;
      }
      download(`tally-export-${new Date().toISOString().slice(0, 10)}.json`, "application/json", JSON.stringify(pages, null, 1));
      messages.show("success", "Export downloaded. It is a JSON array of the export's pages, in order.");
    } catch (err) {
      messages.error(err);
    } finally {
      button.disabled = false;
    }
  });
  return h("div", {}, h("p", {}, "Everything Tally holds for your company: users (no password hashes or secrets), integrations (no tokens), the audit log, metrics, customers, subscriptions and payments."), messages.el, button);
}

/** @param {PageContext} ctx */
function closurePanel(ctx) {
  const messages = messageArea();
  const form = h(
    "form",
    { class: "stack narrow" },
    field("Your password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    field(`Type the company name (${ctx.me.tenant.company}) to confirm`, { name: "confirm", autocomplete: "off", required: true }),
    h("button", { type: "submit", class: "danger" }, "Close the account"),
  );
  onSubmit(
    form,
    async (values) => {
      if (!(await confirmDialog("Close the account?", "Every session ends and sign-in is refused at once. The data can no longer be opened and is deleted within 30 days.", "Close the account"))) return;
      const reply = await call("DELETE", "/v1/account", { body: { password: values.password, confirm: values.confirm } });
      dropSession();
      alertAndLeave(`The account is closed. Everything is deleted by ${when(reply && reply.deleted_by)}.`);
    },
    messages,
  );
  return h("div", {}, notice("warning", "Closing ends every session, deletes the connections to your payment processors and shreds the key that opens your data."), messages.el, form);
}

/** @param {string} text */
function alertAndLeave(text) {
  sessionStorage.setItem("tally.farewell", text);
  location.hash = "#/signin";
  location.reload();
}

/** Saves `content` as a file through a temporary object URL. @param {string} name @param {string} type @param {string} content */
function download(name, type, content) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = h("a", { href: url, download: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
