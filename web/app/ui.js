// Small DOM and formatting helpers. Every text goes in through textContent or attributes:
// nothing the API returns is ever parsed as HTML.

import { ApiError, downloadCsv } from "./api.js";

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @typedef {Record<string, string | number | boolean | null | undefined | EventListener>} Attrs
 */

/**
 * Builds an element. `on*` attributes become listeners; `false`/`null` ones are left out.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

/** @param {Node} parent @param {(Child | Child[])[]} children */
export function append(parent, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. @param {Element} el @param {...(Child | Child[])} children */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** Money in minor units as the reader's locale shows it. */
export function money(/** @type {number | null | undefined} */ minor, /** @type {string} */ currency) {
  if (minor === null || minor === undefined) return "—";
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency.toUpperCase() }).format(minor / 100);
  } catch {
    return `${(minor / 100).toFixed(2)} ${currency.toUpperCase()}`;
  }
}

/** Money in minor units, short (€40K), for chart axes. */
export function moneyShort(/** @type {number} */ minor, /** @type {string} */ currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency.toUpperCase(), notation: "compact", maximumFractionDigits: 1 }).format(minor / 100);
  } catch {
    return String(Math.round(minor / 100));
  }
}

/** A ratio (0.05) as a percentage (5.0 %). */
export function percent(/** @type {number | null | undefined} */ ratio) {
  if (ratio === null || ratio === undefined) return "—";
  return new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 }).format(ratio);
}

export function count(/** @type {number | null | undefined} */ n) {
  return n === null || n === undefined ? "—" : new Intl.NumberFormat().format(n);
}

/** An RFC 3339 time as a date and time in the reader's zone. */
export function when(/** @type {string | null | undefined} */ at) {
  if (!at) return "—";
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? at : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function day(/** @type {string | null | undefined} */ at) {
  if (!at) return "—";
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? at : d.toLocaleDateString(undefined, { dateStyle: "medium" });
}

/**
 * The view's dimension filters from a page's URL: `filter[<dimension>]=<value>`, empty
 * values left out (the API refuses them).
 * @param {URLSearchParams} params
 */
export function filtersOf(params) {
  /** @type {Record<string, string>} */
  const filters = {};
  params.forEach((value, key) => {
    const m = /^filter\[([a-z_]+)\]$/.exec(key);
    if (m && value) filters[m[1]] = value;
  });
  return filters;
}

/** The first day of the month eleven months before today: the API's default `from`. */
export function defaultFrom() {
  const today = new Date();
  return isoDay(new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 11, 1)));
}

/** `yyyy-mm-dd` of a date in UTC. */
export function isoDay(/** @type {Date} */ d) {
  return d.toISOString().slice(0, 10);
}

/** A person-readable line for an error; the API's message is written for people. */
export function errorText(/** @type {unknown} */ err) {
  if (err instanceof ApiError) {
    if (err.code === "rate_limited" && err.retryAfter) {
      return `${err.message} Try again in ${err.retryAfter} seconds.`;
    }
    if (err.code === "weak_password" && Array.isArray(err.details.rules)) {
      return `${err.message} ${err.details.rules.map(String).join("; ")}.`;
    }
    return err.message;
  }
  return "Tally could not be reached. Check your connection and try again.";
}

/**
 * A notice: `role=status` for news, `role=alert` for a problem.
 * @param {"info" | "error" | "success" | "warning"} kind
 * @param {...(Child | Child[])} children
 */
export function notice(kind, ...children) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}

/** A region that shows a notice (or nothing). */
export function messageArea() {
  const area = h("div", { class: "messages", "aria-live": "polite" });
  return {
    el: area,
    /** @param {"info" | "error" | "success" | "warning"} kind @param {...(Child | Child[])} text */
    show(kind, ...text) {
      replace(area, notice(kind, ...text));
    },
    /** @param {unknown} err */
    error(err) {
      replace(area, notice("error", errorText(err)));
    },
    clear() {
      area.replaceChildren();
    },
  };
}

/**
 * A labelled form field.
 * @param {string} label
 * @param {Attrs} attrs the input's attributes (`name` required)
 * @param {string} [hint]
 */
export function field(label, attrs, hint) {
  const id = `f-${String(attrs.name)}-${Math.random().toString(36).slice(2, 8)}`;
  const hintId = hint ? `${id}-hint` : null;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, "aria-describedby": hintId, ...attrs }),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
  );
}

/**
 * A labelled select.
 * @param {string} label
 * @param {string} name
 * @param {[string, string][]} options value, text
 * @param {string} [selected]
 */
export function select(label, name, options, selected) {
  const id = `s-${name}-${Math.random().toString(36).slice(2, 8)}`;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("select", { id, name }, options.map(([value, text]) => h("option", { value, selected: value === selected }, text))),
  );
}

/** The values of a form's named controls. */
export function formValues(/** @type {HTMLFormElement} */ form) {
  /** @type {Record<string, string>} */
  const out = {};
  new FormData(form).forEach((value, key) => {
    out[key] = typeof value === "string" ? value : "";
  });
  return out;
}

/**
 * Runs `action` on submit with the submit button disabled; shows its error in `messages`.
 * @param {HTMLFormElement} form
 * @param {(values: Record<string, string>) => Promise<void>} action
 * @param {{ error: (err: unknown) => void, clear: () => void }} messages
 */
export function onSubmit(form, action, messages) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button instanceof HTMLButtonElement) button.disabled = true;
    messages.clear();
    try {
      await action(formValues(form));
    } catch (err) {
      messages.error(err);
    } finally {
      if (button instanceof HTMLButtonElement) button.disabled = false;
    }
  });
}

/**
 * A data table with a caption (visually hidden when `hideCaption`).
 * @template T
 * @param {string} caption
 * @param {{ label: string, cell: (row: T) => Child | Child[], numeric?: boolean, header?: Node, sorted?: boolean }[]} columns
 * @param {T[]} rows
 * @param {{ hideCaption?: boolean, empty?: string }} [options]
 */
export function table(caption, columns, rows, options = {}) {
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h(
      "table",
      {},
      h("caption", { class: options.hideCaption ? "visually-hidden" : null }, caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.numeric ? "num" : null, "aria-sort": c.sorted ? "descending" : null }, c.header || c.label)))),
      h(
        "tbody",
        {},
        rows.length === 0
          ? h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, options.empty || "Nothing yet."))
          : rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.numeric ? "num" : null }, c.cell(row))))),
      ),
    ),
  );
}

/** A page's heading block. */
export function pageHeader(/** @type {string} */ title, /** @type {string} */ lede) {
  return h("header", { class: "page-header" }, h("h1", {}, title), lede ? h("p", { class: "lede" }, lede) : null);
}

/** A card section with a heading. @param {string} title @param {...(Child | Child[])} children */
export function card(title, ...children) {
  return h("section", { class: "card", "aria-label": title }, h("h2", {}, title), ...children);
}

/** Shown while a page loads. */
export function loading() {
  return h("p", { class: "loading", role: "status" }, "Loading…");
}

/** Asks for confirmation in a modal dialog. Resolves true when confirmed. */
export function confirmDialog(/** @type {string} */ title, /** @type {string} */ text, /** @type {string} */ action) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": "dialog-title" },
      h("h2", { id: "dialog-title" }, title),
      h("p", {}, text),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close(false) }, "Cancel"),
        h("button", { type: "button", class: "danger", onclick: () => close(true) }, action),
      ),
    );
    /** @param {boolean} answer */
    function close(answer) {
      dialog.close();
      dialog.remove();
      resolve(answer);
    }
    dialog.addEventListener("cancel", () => close(false));
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}

/** The segment names of RFM as people say them. */
export const SEGMENT_NAMES = /** @type {Record<string, string>} */ ({
  champions: "Champions",
  loyal: "Loyal",
  at_risk: "At risk",
  cant_lose: "Can't lose",
  hibernating: "Hibernating",
  new: "New",
});

/**
 * "Download CSV" of a series or list: the same query as the page's call, with
 * `format=csv`, fetched with the session's header (see `downloadCsv`). `what` names the
 * download for screen readers ("Download CSV of MRR").
 * @param {string} what @param {string} path
 * @param {Record<string, string | string[] | undefined | null>} [query]
 */
export function csvDownload(what, path, query = {}) {
  const status = h("span", { class: "download-status", role: "status" });
  const button = h(
    "button",
    {
      type: "button",
      class: "link download",
      onclick: async () => {
        button.disabled = true;
        status.textContent = "";
        try {
          await downloadCsv(path, query, `tally-${what.toLowerCase().replace(/[^a-z0-9]+/g, "-")}.csv`);
        } catch (err) {
          status.textContent = errorText(err);
          status.className = "download-status error-text";
        } finally {
          button.disabled = false;
        }
      },
    },
    "Download CSV",
    h("span", { class: "visually-hidden" }, ` of ${what}`),
  );
  return h("p", { class: "download" }, button, " ", status);
}

/** The name a person knows an integration by. @param {any} i */
export function providerName(i) {
  switch (i.provider) {
    case "stripe":
      return "Stripe";
    case "paddle":
      return "Paddle";
    case "custom":
      return i.name ? `Import source · ${i.name}` : "Import source";
    case "demo":
      return i.demo_shape === "paddle" ? "Demo data (Paddle-shaped)" : "Demo data (Stripe-shaped)";
    default:
      return String(i.provider);
  }
}
