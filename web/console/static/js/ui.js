// Small DOM helpers. Everything is built with createElement and text
// nodes, never innerHTML, so names and logs from the API cannot inject
// markup.

// h builds an element: h("a", {href: "#/x", class: "c"}, "text", child).
// Attributes starting with "on" become listeners; false/null are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace swaps el's children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// announce tells screen readers about something that happened off-focus.
export function announce(msg) {
  const el = document.getElementById("announce");
  if (el) el.textContent = msg;
}

export function errorBox(err) {
  return h("p", { class: "error", role: "alert" }, "Error: ", err && err.message ? err.message : String(err));
}

export function fmtDate(s) {
  if (!s) return "—";
  const d = new Date(s);
  return isNaN(d) ? String(s) : d.toLocaleString();
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

// statusKind groups a status into a few kinds for styling. The status word
// is always shown as text beside its symbol, so colour is never the only
// signal.
export function statusKind(status) {
  const s = String(status || "").toLowerCase();
  if (!s || s === "not submitted") return "idle";
  if (s === "completed" || s === "stopped") return "done";
  if (s.includes("stop") || s.includes("fail")) return "warn";
  return "active";
}

const symbols = { idle: "○", active: "◐", done: "●", warn: "■" };

export function statusBadge(status) {
  const kind = statusKind(status);
  return h("span", { class: `status status-${kind}` }, h("span", { "aria-hidden": "true" }, symbols[kind] + " "), status || "Not submitted");
}

// focusHeading moves focus to a page's heading after navigation, so
// keyboard and screen reader users start at the new content.
export function focusHeading(root) {
  const h1 = root.querySelector("h1");
  if (h1) {
    h1.setAttribute("tabindex", "-1");
    h1.focus({ preventScroll: false });
  }
}
