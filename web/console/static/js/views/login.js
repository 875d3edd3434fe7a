// Log in with an API key: checked against the API before it is kept.

import { get, setKey } from "../api.js";
import { h, replace } from "../ui.js";

export async function render(root, { params }) {
  const input = h("input", { id: "api-key", name: "api-key", type: "password", autocomplete: "current-password", required: true, spellcheck: "false", "aria-describedby": "api-key-help" });
  const msg = h("div", { role: "alert" });
  const form = h("form", { class: "card narrow", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in"),
    params.expired ? h("p", { class: "error" }, "Your API key was not accepted (expired or revoked). Log in again.") : null,
    h("p", {}, h("label", { for: "api-key" }, "API key")),
    h("p", {}, input),
    h("p", { id: "api-key-help", class: "hint" },
      "The key is kept in this tab's session storage only and sent as an Authorization header. The local server prints one on its first start; ",
      h("code", {}, "rescale-local keys create"), " makes more."),
    msg,
    h("p", {}, h("button", { type: "submit" }, "Log in")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    replace(msg);
    try {
      await get("/api/v2/users/me/api-keys/?page_size=1", { key });
    } catch (err) {
      replace(msg, h("p", { class: "error" }, err.status === 401 ? "That key was not accepted." : "Could not reach the API: " + err.message));
      input.focus();
      return;
    }
    setKey(key);
    location.hash = params.next && params.next.startsWith("#/") && !params.next.startsWith("#/login") ? params.next : "#/jobs";
  });
  replace(root, form);
}
