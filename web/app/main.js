// The dashboard's shell: hash routes (`#/overview?from=…`, so every view is a shareable
// URL and the back button works), the navigation for the signed-in user's role, and the
// sign-in page whenever there is no session.

import { ApiError, call, signOut, signedIn, whenSignedOut } from "./api.js";
import { h, replace, notice, errorText } from "./ui.js";

/**
 * @typedef {{ user: { id: string, email: string, role: "admin" | "analyst" | "viewer", mfa_enabled: boolean, password_expires_at: string | null }, tenant: { id: string, company: string } }} Me
 * @typedef {{ me: Me, params: URLSearchParams, path: string[], go: (hash: string) => void, main: HTMLElement }} PageContext
 * @typedef {(ctx: PageContext) => Promise<void> | void} Page
 */

/**
 * `roles`: who may open the page; `listedFor`: whose navigation lists it (a viewer who
 * opens a per-customer page by its URL is told why it is empty).
 * @type {Record<string, { title: string, load: () => Promise<{ render: Page }>, roles?: string[], listedFor?: string[] }>}
 */
const PAGES = {
  overview: { title: "Overview", load: () => import("./pages/overview.js") },
  customers: { title: "Customers", load: () => import("./pages/customers.js"), listedFor: ["admin", "analyst"] },
  cohorts: { title: "Cohorts", load: () => import("./pages/cohorts.js") },
  segments: { title: "Segments", load: () => import("./pages/segments.js") },
  insights: { title: "Insights", load: async () => ({ render: (await import("./pages/segments.js")).renderInsights }), listedFor: ["admin", "analyst"] },
  integrations: { title: "Integrations", load: () => import("./pages/integrations.js") },
  security: { title: "Security", load: () => import("./pages/security.js"), roles: ["admin"] },
  account: { title: "Account", load: () => import("./pages/account.js") },
};

const root = /** @type {HTMLElement} */ (document.getElementById("app"));
/** @type {Me | null} */
let me = null;
/** A message for the sign-in page (why the last session ended). */
let signInNotice = sessionStorage.getItem("tally.farewell") || "";
sessionStorage.removeItem("tally.farewell");

whenSignedOut((reason) => {
  me = null;
  signInNotice = reason;
  show("#/signin");
});

/** Navigates (a new history entry; hashchange renders). */
export function go(/** @type {string} */ hash) {
  if (location.hash !== hash) location.hash = hash;
}

/** Navigates, or renders again when already there. */
function show(/** @type {string} */ hash) {
  if (location.hash !== hash) location.hash = hash;
  else render();
}

/** The current route: path segments and query. */
function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query] = hash.split("?", 2);
  return { path: (path || "").split("/").filter(Boolean), params: new URLSearchParams(query || "") };
}

async function render() {
  const { path, params } = route();
  if (!signedIn()) {
    me = null;
    const { renderSignIn } = await import("./pages/signin.js");
    document.title = "Sign in · Tally";
    const message = signInNotice;
    signInNotice = "";
    renderSignIn(root, {
      notice: message,
      mode: path[0] === "signup" ? "signup" : path[0] === "invite" ? "invite" : "signin",
      signedIn: () => {
        me = null;
        const landing = ["signin", "signup", "invite"].includes(path[0]) || !path[0];
        show(landing ? "#/overview" : location.hash);
      },
    });
    return;
  }
  if (!me) {
    try {
      me = await call("GET", "/v1/me");
    } catch (err) {
      replace(root, h("main", { class: "main" }, notice("error", errorText(err))));
      return;
    }
  }
  const current = /** @type {Me} */ (me);
  // Back from Stripe's OAuth install (TALLY_APP_URL?connected=… or ?error=…).
  const oauth = new URLSearchParams(location.search);
  if (!path[0] && (oauth.has("connected") || oauth.has("error"))) {
    history.replaceState(null, "", `/#/integrations?${oauth.has("error") ? "oauth_error" : "connected"}=${encodeURIComponent(oauth.get("error") || oauth.get("connected") || "")}`);
    render();
    return;
  }
  const name = PAGES[path[0]] ? path[0] : "overview";
  if (!PAGES[path[0]]) {
    history.replaceState(null, "", "#/overview");
  }
  const page = PAGES[name];
  const main = h("main", { class: "main", id: "main", tabindex: "-1" });
  replace(root, h("a", { class: "skip", href: "#main", onclick: skip }, "Skip to content"), shell(current, name), main);
  document.title = `${page.title} · Tally`;
  if (page.roles && !page.roles.includes(current.user.role)) {
    replace(main, notice("warning", `${page.title} is for admins. Ask an admin of ${current.tenant.company} if you need a change here.`));
    return;
  }
  try {
    const module = await page.load();
    await module.render({ me: current, params, path, go, main });
  } catch (err) {
    // A bug of the page, not an API refusal: shown, and reported on the console.
    if (!(err instanceof ApiError)) console.error(err);
    main.appendChild(notice("error", errorText(err)));
  }
}

/** @param {Event} event */
function skip(event) {
  event.preventDefault();
  const main = document.getElementById("main");
  if (main) main.focus();
}

/** The header with the navigation for `me`'s role. @param {Me} current @param {string} active */
function shell(current, active) {
  const links = Object.entries(PAGES)
    .filter(([, page]) => (page.listedFor || page.roles || [current.user.role]).includes(current.user.role))
    .map(([name, page]) =>
      h("li", {}, h("a", { href: `#/${name}`, "aria-current": name === active ? "page" : null }, page.title)),
    );
  return h(
    "header",
    { class: "topbar" },
    h("a", { class: "brand", href: "#/overview", "aria-label": "Tally, overview" }, h("img", { src: "/app/favicon.svg", alt: "", width: 24, height: 24 }), "Tally"),
    h("nav", { "aria-label": "Main" }, h("ul", {}, links)),
    h(
      "div",
      { class: "who" },
      h("span", { class: "company" }, current.tenant.company),
      h("span", { class: "role", "data-role": current.user.role }, current.user.role),
      h(
        "button",
        {
          type: "button",
          class: "link",
          onclick: async () => {
            await signOut();
            me = null;
            signInNotice = "You signed out.";
            show("#/signin");
          },
        },
        "Sign out",
      ),
    ),
  );
}

window.addEventListener("hashchange", () => {
  render();
});
render();
