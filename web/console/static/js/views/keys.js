// API keys: list, create (the secret is shown once) and revoke.

import { all, post, del, getKey } from "../api.js";
import { h, replace, fmtDate, announce, errorBox } from "../ui.js";

export async function render(root) {
  const keys = await all("/api/v2/users/me/api-keys/");
  const msg = h("div", { role: "status" });
  const mine = getKey() || "";
  const days = h("input", { id: "key-days", name: "days", type: "number", min: 1, step: 1, inputmode: "numeric", "aria-describedby": "key-days-help" });
  const form = h("form", { class: "inline-form", "aria-label": "New API key" },
    h("label", { for: "key-days" }, "Expires in days"), days,
    h("span", { id: "key-days-help", class: "hint" }, "empty: the server's longest allowed lifetime"),
    h("button", { type: "submit" }, "Create key"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {};
    if (days.value) body.expiresInDays = Number(days.value);
    try {
      const k = await post("/api/v2/users/me/api-keys/", body);
      await render(root);
      const out = root.querySelector("#key-msg");
      replace(out, h("div", { class: "card ok", role: "alert" },
        h("p", {}, "New key (shown once; copy it now):"),
        h("p", {}, h("code", { class: "secret", id: "new-key" }, k.key))));
      announce("Key created");
    } catch (err) {
      replace(msg, errorBox(err));
    }
  });
  replace(root,
    h("h1", {}, "API keys"),
    h("div", { id: "key-msg" }), msg, form,
    h("table", {},
      h("caption", {}, `${keys.length} key${keys.length === 1 ? "" : "s"}`),
      h("thead", {}, h("tr", {}, ["Prefix", "Created", "Expires", "State", "Job", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, keys.map((k) => {
        const current = k.prefix && mine.startsWith(k.prefix);
        return h("tr", {},
          h("th", { scope: "row" }, h("code", {}, k.prefix + "…"), current ? " (this session)" : ""),
          h("td", {}, fmtDate(k.createdAt)),
          h("td", {}, k.expiresAt ? fmtDate(k.expiresAt) : "never"),
          h("td", {}, k.isActive ? "active" : "inactive"),
          h("td", {}, k.jobId ? h("a", { href: "#/jobs/" + encodeURIComponent(k.jobId) }, k.jobId) : "—"),
          h("td", {}, h("button", {
            type: "button", class: "link danger", "aria-label": "Revoke key " + k.prefix,
            onclick: async () => {
              if (!window.confirm(current ? "Revoke the key this session uses? You will be logged out." : `Revoke key ${k.prefix}…?`)) return;
              try {
                await del(`/api/v2/users/me/api-keys/${encodeURIComponent(k.id)}/`);
                await render(root);
              } catch (err) {
                replace(msg, errorBox(err));
              }
            },
          }, "Revoke")));
      }))));
}
