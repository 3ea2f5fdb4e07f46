// Sign-in with every path of POST /v1/sessions: a second factor (authenticator code or
// recovery code), an expired password (changed with the single-use change token), a
// locked account (reset with the token the e-mail carries), an address not on the
// allowlist. Also sign-up and accepting an invitation. Passwords and codes stay in the
// form fields and the request bodies: never in a URL.

import { ApiError, call, startSession } from "../api.js";
import { h, replace, field, messageArea, onSubmit, notice } from "../ui.js";

/**
 * @typedef {{ notice: string, mode: "signin" | "signup" | "invite", signedIn: () => void }} SignInOptions
 */

/** @param {HTMLElement} root @param {SignInOptions} options */
export function renderSignIn(root, options) {
  const panel = h("div", { class: "auth-panel" });
  const page = h(
    "main",
    { class: "auth", id: "main" },
    h("div", { class: "auth-brand" }, h("img", { src: "/app/favicon.svg", alt: "", width: 40, height: 40 }), h("span", {}, "Tally")),
    panel,
    h("p", { class: "auth-foot" }, "Revenue analytics with read-only access to your billing data."),
  );
  replace(root, page);
  if (options.mode === "signup") signUp(panel, options);
  else if (options.mode === "invite") acceptInvite(panel, options);
  else credentials(panel, options, options.notice);
}

/** @param {HTMLElement} panel @param {SignInOptions} options @param {string} [note] @param {string} [email] */
function credentials(panel, options, note, email) {
  const messages = messageArea();
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    field("E-mail", { name: "email", type: "email", autocomplete: "username", required: true, value: email || null }),
    field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    h("button", { type: "submit", class: "primary wide" }, "Sign in"),
  );
  replace(
    panel,
    h("h1", {}, "Sign in to Tally"),
    note ? notice(note.startsWith("You signed out") ? "info" : "warning", note) : null,
    messages.el,
    form,
    h(
      "p",
      { class: "auth-links" },
      h("a", { href: "#/signup" }, "Create an account"),
      " · ",
      h("a", { href: "#/invite" }, "Accept an invitation"),
    ),
  );
  onSubmit(form, async (values) => attempt(panel, options, messages, { email: values.email, password: values.password }), messages);
}

/**
 * One sign-in attempt and what its answer leads to.
 * @param {HTMLElement} panel
 * @param {SignInOptions} options
 * @param {ReturnType<typeof messageArea>} messages
 * @param {{ email: string, password: string, totp_code?: string, recovery_code?: string }} body
 */
async function attempt(panel, options, messages, body) {
  try {
    const reply = await call("POST", "/v1/sessions", { body });
    startSession(reply);
    options.signedIn();
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    switch (err.code) {
      case "mfa_required":
        return secondFactor(panel, options, body.email, body.password);
      case "password_expired":
        return expired(panel, options, body.email, String(err.body.change_token || err.details.change_token || ""));
      case "password_reset_required":
        return locked(panel, options, body.email);
      case "ip_not_allowed":
        return credentials(panel, options, "Your network address is not on your company's IP allowlist. Sign in from an allowed network, or ask an admin to add this address.", body.email);
      case "invalid_credentials":
        messages.show("error", "That e-mail and password do not match an account.");
        return;
      default:
        throw err;
    }
  }
}

/** @param {HTMLElement} panel @param {SignInOptions} options @param {string} email @param {string} password */
function secondFactor(panel, options, email, password, recovery = false) {
  const messages = messageArea();
  const form = h(
    "form",
    { class: "stack" },
    recovery
      ? field("Recovery code", { name: "code", autocomplete: "off", required: true, spellcheck: "false" }, "One of the ten codes you saved when you set up two-factor sign-in. Each works once.")
      : field("Authentication code", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", maxlength: 6, required: true }, "The 6-digit code your authenticator app shows for Tally."),
    h("button", { type: "submit", class: "primary wide" }, "Verify"),
  );
  replace(
    panel,
    h("h1", {}, "Two-factor sign-in"),
    messages.el,
    form,
    h(
      "p",
      { class: "auth-links" },
      h("button", { type: "button", class: "link", onclick: () => secondFactor(panel, options, email, password, !recovery) }, recovery ? "Use your authenticator app instead" : "Use a recovery code instead"),
      " · ",
      h("button", { type: "button", class: "link", onclick: () => credentials(panel, options, "", email) }, "Start over"),
    ),
  );
  onSubmit(
    form,
    async (values) => {
      const code = values.code.trim();
      try {
        await attempt(panel, options, messages, recovery ? { email, password, recovery_code: code } : { email, password, totp_code: code });
      } catch (err) {
        if (err instanceof ApiError && err.code === "invalid_mfa_code") {
          messages.show("error", recovery ? "That recovery code is not valid or was already used." : "That code is not valid. Check the time on your device and try the current code.");
          return;
        }
        throw err;
      }
    },
    messages,
  );
  const input = form.querySelector("input");
  if (input) input.focus();
}

/** @param {HTMLElement} panel @param {SignInOptions} options @param {string} email @param {string} changeToken */
function expired(panel, options, email, changeToken) {
  const messages = messageArea();
  const form = h(
    "form",
    { class: "stack" },
    field("New password", { name: "new_password", type: "password", autocomplete: "new-password", required: true }, "Your company's policy decides the rules; a password you used before is refused."),
    h("button", { type: "submit", class: "primary wide" }, "Change password"),
  );
  replace(panel, h("h1", {}, "Your password has expired"), notice("warning", "Choose a new password to continue."), messages.el, form);
  onSubmit(
    form,
    async (values) => {
      await call("POST", "/v1/password/change", { body: { change_token: changeToken, new_password: values.new_password } });
      credentials(panel, options, "Password changed. Sign in with your new password.", email);
    },
    messages,
  );
}

/** @param {HTMLElement} panel @param {SignInOptions} options @param {string} email */
function locked(panel, options, email) {
  const messages = messageArea();
  const request = h(
    "form",
    { class: "stack" },
    field("E-mail", { name: "email", type: "email", autocomplete: "username", required: true, value: email }),
    h("button", { type: "submit", class: "primary wide" }, "E-mail me a reset code"),
  );
  replace(
    panel,
    h("h1", {}, "Account locked"),
    notice("warning", "After five failed sign-ins your password must be reset. We send a single-use reset code to your e-mail address; it is valid for 30 minutes."),
    messages.el,
    request,
    h("p", { class: "auth-links" }, h("button", { type: "button", class: "link", onclick: () => resetForm(panel, options, email) }, "I already have a reset code")),
  );
  onSubmit(
    request,
    async (values) => {
      await call("POST", "/v1/password/reset-request", { body: { email: values.email } });
      resetForm(panel, options, values.email, "If the address has an account, a reset code is on its way.");
    },
    messages,
  );
}

/** @param {HTMLElement} panel @param {SignInOptions} options @param {string} email @param {string} [note] */
function resetForm(panel, options, email, note) {
  const messages = messageArea();
  const form = h(
    "form",
    { class: "stack" },
    field("Reset code", { name: "token", autocomplete: "off", required: true, spellcheck: "false" }, "From the e-mail we sent you."),
    field("New password", { name: "new_password", type: "password", autocomplete: "new-password", required: true }),
    h("button", { type: "submit", class: "primary wide" }, "Reset password"),
  );
  replace(panel, h("h1", {}, "Reset your password"), note ? notice("info", note) : null, messages.el, form);
  onSubmit(
    form,
    async (values) => {
      await call("POST", "/v1/password/reset", { body: { token: values.token.trim(), new_password: values.new_password } });
      credentials(panel, options, "Password reset. Every other session was ended; sign in with the new password.", email);
    },
    messages,
  );
}

/** @param {HTMLElement} panel @param {SignInOptions} options */
function signUp(panel, options) {
  const messages = messageArea();
  const form = h(
    "form",
    { class: "stack" },
    field("Company", { name: "company", autocomplete: "organization", required: true }),
    field("Work e-mail", { name: "email", type: "email", autocomplete: "username", required: true }),
    field("Password", { name: "password", type: "password", autocomplete: "new-password", required: true }, "At least 12 characters, with upper and lower case, a digit and a symbol."),
    h("button", { type: "submit", class: "primary wide" }, "Create account"),
  );
  replace(panel, h("h1", {}, "Create your Tally account"), messages.el, form, h("p", { class: "auth-links" }, h("a", { href: "#/signin" }, "I have an account")));
  onSubmit(
    form,
    async (values) => {
      await call("POST", "/v1/signup", { body: values });
      history.replaceState(null, "", "#/signin");
      await attempt(panel, options, messages, { email: values.email, password: values.password });
    },
    messages,
  );
}

/** @param {HTMLElement} panel @param {SignInOptions} options */
function acceptInvite(panel, options) {
  const messages = messageArea();
  const form = h(
    "form",
    { class: "stack" },
    field("Invitation code", { name: "token", autocomplete: "off", required: true, spellcheck: "false" }, "The code your admin sent you."),
    field("Choose a password", { name: "password", type: "password", autocomplete: "new-password", required: true }),
    h("button", { type: "submit", class: "primary wide" }, "Accept invitation"),
  );
  replace(panel, h("h1", {}, "Accept an invitation"), messages.el, form, h("p", { class: "auth-links" }, h("a", { href: "#/signin" }, "Back to sign-in")));
  onSubmit(
    form,
    async (values) => {
      const user = await call("POST", "/v1/invites/accept", { body: { token: values.token.trim(), password: values.password } });
      history.replaceState(null, "", "#/signin");
      credentials(panel, options, "Invitation accepted. Sign in with your new password.", user && user.email);
    },
    messages,
  );
}
