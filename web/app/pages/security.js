// Settings → Security (admins): the IP allowlist, the password and 2FA policy, users and
// roles with invitations, sign-in analytics, and the audit log.

import { ApiError, call } from "../api.js";
import { chart, legend } from "../chart.js";
import { h, replace, when, day, table, card, loading, notice, pageHeader, errorText, field, select, messageArea, onSubmit, confirmDialog, count } from "../ui.js";

/** @typedef {import("../main.js").PageContext} PageContext */

/** @param {PageContext} ctx */
export async function render(ctx) {
  const allowlist = h("div", {}, loading());
  const policy = h("div", {}, loading());
  const users = h("div", {}, loading());
  const signins = h("div", {}, loading());
  const audit = h("div", {}, loading());
  replace(
    ctx.main,
    pageHeader("Security settings", `Who can sign in to ${ctx.me.tenant.company}'s Tally, from where, and what they did.`),
    h(
      "nav",
      { class: "subnav", "aria-label": "Security sections" },
      h("a", { href: "#/security", onclick: jump("sec-allowlist") }, "IP allowlist"),
      h("a", { href: "#/security", onclick: jump("sec-policy") }, "Policy"),
      h("a", { href: "#/security", onclick: jump("sec-users") }, "Users"),
      h("a", { href: "#/security", onclick: jump("sec-signins") }, "Sign-ins"),
      h("a", { href: "#/security", onclick: jump("sec-audit") }, "Audit log"),
    ),
    section("sec-allowlist", "IP allowlist", allowlist),
    section("sec-policy", "Password and two-factor policy", policy),
    section("sec-users", "Users and roles", users),
    section("sec-signins", "Sign-in activity, last 30 days", signins),
    section("sec-audit", "Audit log", audit),
  );
  await Promise.all([
    renderAllowlist(allowlist),
    renderPolicy(policy),
    renderUsers(users, ctx),
    renderSignins(signins),
    renderAudit(audit, ""),
  ]);
}

/** Scrolls to a section without touching the route. @param {string} id */
function jump(id) {
  return (/** @type {Event} */ event) => {
    event.preventDefault();
    const target = document.getElementById(id);
    if (target) {
      target.scrollIntoView();
      target.focus();
    }
  };
}

/** @param {string} id @param {string} title @param {HTMLElement} body */
function section(id, title, body) {
  return h("section", { class: "card", id, tabindex: "-1", "aria-labelledby": `${id}-h` }, h("h2", { id: `${id}-h` }, title), body);
}

/** The caller's own address as the API sees it (the current session's). */
async function currentAddress() {
  try {
    const sessions = await call("GET", "/v1/me/sessions");
    const current = sessions.data.find((/** @type {any} */ s) => s.current);
    return current && current.ip ? String(current.ip) : "";
  } catch {
    return "";
  }
}

/** @param {HTMLElement} el */
async function renderAllowlist(el) {
  const messages = messageArea();
  let list;
  let address;
  try {
    [list, address] = await Promise.all([call("GET", "/v1/security/ip-allowlist"), currentAddress()]);
  } catch (err) {
    replace(el, notice("error", errorText(err)));
    return;
  }
  const first = list.data.length === 0;
  const form = h(
    "form",
    { class: "inline-form", "aria-label": "Add IP address" },
    field("IP address or network", { name: "cidr", required: true, autocomplete: "off", spellcheck: "false", placeholder: "203.0.113.7 or 203.0.113.0/24", value: first && address ? address : null }),
    field("Note", { name: "note", maxlength: 200, autocomplete: "off", placeholder: "Office, VPN…" }),
    h("div", { class: "field actions" }, h("button", { type: "submit", class: "primary" }, "Add IP address")),
  );
  const rule = first
    ? notice(
        "warning",
        "While the list is empty, every address may sign in. Once it has an entry, only listed addresses can: so the first entry must cover the address you are connecting from",
        address ? [" (", h("code", { "data-current-ip": address }, address), ")"] : "",
        ", or Tally refuses it to keep you from locking yourself out.",
      )
    : notice("info", "Only the addresses below can sign in or use a session. Changes that would lock you out", address ? [" (you are at ", h("code", { "data-current-ip": address }, address), ")"] : "", " are refused.");
  replace(
    el,
    rule,
    table(
      "Allowed addresses",
      [
        { label: "Address", cell: (/** @type {any} */ e) => h("code", {}, e.cidr) },
        { label: "Note", cell: (e) => e.note || "—" },
        { label: "Added", cell: (e) => day(e.created_at) },
        {
          label: "Actions",
          cell: (e) =>
            h(
              "button",
              {
                type: "button",
                class: "link danger",
                "aria-label": `Remove ${e.cidr}`,
                onclick: async () => {
                  if (!(await confirmDialog("Remove this address?", `Sign-ins from ${e.cidr} will be refused unless another entry covers them.`, "Remove"))) return;
                  try {
                    await call("DELETE", `/v1/security/ip-allowlist/${e.id}`);
                    await renderAllowlist(el);
                  } catch (err) {
                    messages.show("error", lockOutText(err));
                  }
                },
              },
              "Remove",
            ),
        },
      ],
      list.data,
      { hideCaption: true, empty: "No entries: every address may sign in." },
    ),
    messages.el,
    form,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    messages.clear();
    try {
      await call("POST", "/v1/security/ip-allowlist", { body: { cidr: String(data.get("cidr") || "").trim(), note: String(data.get("note") || "") || undefined } });
      await renderAllowlist(el);
      const again = el.querySelector(".messages");
      if (again) replace(again, notice("success", "Address added."));
    } catch (err) {
      messages.show("error", lockOutText(err));
    }
  });
}

/** @param {unknown} err */
function lockOutText(err) {
  if (err instanceof ApiError && err.code === "would_lock_out") {
    return "Refused: with this change the list would not cover the address you are connecting from, and you would be locked out. Add an entry that covers your address first.";
  }
  if (err instanceof ApiError && err.code === "invalid_cidr") {
    return "That is not an IP address or network (a network that covers every address is not allowed either).";
  }
  return errorText(err);
}

/** @param {HTMLElement} el */
async function renderPolicy(el) {
  const messages = messageArea();
  let current;
  try {
    current = await call("GET", "/v1/security/policy");
  } catch (err) {
    replace(el, notice("error", errorText(err)));
    return;
  }
  const form = h(
    "form",
    { class: "stack narrow" },
    select("Password policy", "preset", [
      ["default", "Default: 12+ mixed characters, expires in 180 days"],
      ["nist", "NIST SP 800-63B: 15+ characters, no expiry"],
    ], current.preset),
    h("div", { class: "check" }, h("input", { type: "checkbox", id: "pol-mfa", name: "require_mfa", checked: current.require_mfa }), h("label", { for: "pol-mfa" }, "Require two-factor sign-in for every user")),
    h("p", { class: "hint" }, "Users without two-factor sign-in can then only set it up until they have."),
    h("button", { type: "submit", class: "primary" }, "Save policy"),
  );
  onSubmit(
    form,
    async (values) => {
      await call("PUT", "/v1/security/policy", { body: { preset: values.preset, require_mfa: values.require_mfa === "on" } });
      messages.show("success", "Policy saved.");
    },
    messages,
  );
  replace(el, messages.el, form);
}

/** @param {HTMLElement} el @param {PageContext} ctx */
async function renderUsers(el, ctx) {
  const messages = messageArea();
  let list;
  try {
    list = await call("GET", "/v1/users", { query: { limit: "200" } });
  } catch (err) {
    replace(el, notice("error", errorText(err)));
    return;
  }
  const roles = /** @type {[string, string][]} */ ([
    ["admin", "Admin"],
    ["analyst", "Analyst"],
    ["viewer", "Viewer (aggregates only)"],
  ]);
  const invite = h(
    "form",
    { class: "inline-form", "aria-label": "Invite a user" },
    field("E-mail", { name: "email", type: "email", required: true, autocomplete: "off" }),
    select("Role", "role", roles, "analyst"),
    h("div", { class: "field actions" }, h("button", { type: "submit", class: "primary" }, "Invite")),
  );
  onSubmit(
    invite,
    async (values) => {
      const reply = await call("POST", "/v1/users", { body: values });
      await renderUsers(el, ctx);
      const area = el.querySelector(".messages");
      if (area) {
        replace(area, notice("success", `Invited ${reply.email}. Give them this single-use invitation code (shown once) to accept under “Accept an invitation” on the sign-in page: `, h("code", { class: "secret" }, reply.invite_token)));
      }
    },
    messages,
  );
  /** @param {any} u @param {Record<string, unknown>} patch */
  const update = async (u, patch) => {
    try {
      await call("PATCH", `/v1/users/${u.id}`, { body: patch });
      await renderUsers(el, ctx);
    } catch (err) {
      messages.show("error", err instanceof ApiError && err.code === "last_admin" ? "Refused: the company must keep at least one admin." : errorText(err));
    }
  };
  replace(
    el,
    messages.el,
    table(
      "Users",
      [
        { label: "E-mail", cell: (/** @type {any} */ u) => [u.email, u.id === ctx.me.user.id ? h("span", { class: "tag" }, "you") : null] },
        {
          label: "Role",
          cell: (u) => {
            const s = h("select", { "aria-label": `Role of ${u.email}` }, roles.map(([v, t]) => h("option", { value: v, selected: v === u.role }, t)));
            s.addEventListener("change", () => update(u, { role: s.value }));
            return s;
          },
        },
        { label: "Status", cell: (u) => h("span", { class: `tag ${u.disabled ? "bad" : u.invited ? "warn" : "good"}` }, u.disabled ? "disabled" : u.invited ? "invited" : "active") },
        { label: "2FA", cell: (u) => (u.mfa_enabled ? "on" : "off") },
        { label: "Since", cell: (u) => day(u.created_at) },
        {
          label: "Actions",
          cell: (u) =>
            u.id === ctx.me.user.id
              ? "—"
              : [
                  h("button", { type: "button", class: "link", onclick: () => update(u, { disabled: !u.disabled }) }, u.disabled ? "Enable" : "Disable"),
                  " ",
                  h(
                    "button",
                    {
                      type: "button",
                      class: "link danger",
                      onclick: async () => {
                        if (!(await confirmDialog("Delete this user?", `${u.email} loses access at once.`, "Delete"))) return;
                        try {
                          await call("DELETE", `/v1/users/${u.id}`);
                          await renderUsers(el, ctx);
                        } catch (err) {
                          messages.error(err);
                        }
                      },
                    },
                    "Delete",
                  ),
                ],
        },
      ],
      list.data,
      { hideCaption: true },
    ),
    h("h3", {}, "Invite a user"),
    invite,
  );
}

/** @param {HTMLElement} el */
async function renderSignins(el) {
  let report;
  try {
    report = await call("GET", "/v1/security/login-attempts", { query: { limit: "20" } });
  } catch (err) {
    replace(el, notice("error", errorText(err)));
    return;
  }
  const s = report.summary;
  const days = s.by_day || [];
  const series = [
    { label: "Succeeded", values: days.map((/** @type {any} */ d) => d.succeeded) },
    { label: "Failed", values: days.map((/** @type {any} */ d) => d.failed) },
  ];
  replace(
    el,
    h(
      "dl",
      { class: "figures small" },
      h("div", { class: "figure" }, h("dt", {}, "Attempts"), h("dd", { class: "value" }, count(s.total))),
      h("div", { class: "figure" }, h("dt", {}, "Succeeded"), h("dd", { class: "value" }, count(s.succeeded))),
      h("div", { class: "figure" }, h("dt", {}, "Failed"), h("dd", { class: "value" }, count(s.failed))),
      h("div", { class: "figure" }, h("dt", {}, "Locked out"), h("dd", { class: "value" }, count(s.locked_out))),
    ),
    days.length ? [legend(series), chart({ title: "Sign-in attempts per day", x: days.map((/** @type {any} */ d) => Date.parse(`${d.date}T00:00:00Z`) / 1000), series, format: (v) => String(Math.round(v)), stacked: true, integer: true })] : null,
    h(
      "div",
      { class: "two-col" },
      table(
        "Top addresses",
        [
          { label: "Address", cell: (/** @type {any} */ t) => h("code", {}, t.ip) },
          { label: "Attempts", numeric: true, cell: (t) => count(t.count) },
        ],
        s.top_ips || [],
        { empty: "No sign-in attempts." },
      ),
      table(
        "Latest attempts",
        [
          { label: "When", cell: (/** @type {any} */ a) => when(a.at) },
          { label: "Address", cell: (a) => h("code", {}, a.ip) },
          { label: "Outcome", cell: (a) => h("span", { class: `tag ${a.outcome === "success" ? "good" : "bad"}` }, a.outcome.replace(/_/g, " ")) },
        ],
        report.data,
        { empty: "No sign-in attempts." },
      ),
    ),
  );
}

/** @param {HTMLElement} el @param {string} cursor */
async function renderAudit(el, cursor) {
  let page;
  try {
    page = await call("GET", "/v1/security/audit-log", { query: { limit: "20", cursor } });
  } catch (err) {
    replace(el, notice("error", errorText(err)));
    return;
  }
  replace(
    el,
    table(
      "Audit log",
      [
        { label: "When", cell: (/** @type {any} */ e) => when(e.at) },
        { label: "Action", cell: (e) => h("code", {}, e.action) },
        { label: "Actor", cell: (e) => e.actor || "system" },
        { label: "Target", cell: (e) => e.target || "—" },
        { label: "Address", cell: (e) => e.ip || "—" },
      ],
      page.data,
      { hideCaption: true, empty: "Nothing recorded yet." },
    ),
    h(
      "nav",
      { class: "pager", "aria-label": "Audit log pages" },
      cursor ? h("button", { type: "button", class: "secondary", onclick: () => renderAudit(el, "") }, "← Newest") : h("span", {}),
      page.next_cursor ? h("button", { type: "button", class: "secondary", onclick: () => renderAudit(el, page.next_cursor) }, "Older →") : null,
    ),
  );
}
