// The console's router: hash routes (#/jobs, #/jobs/ID, #/new, #/files/ID,
// #/keys), so any static host can serve it with no rewrite rules. Each
// view renders into <main> and may return a function that stops what it
// started (polling) when the user navigates away.

import { clearKey, getKey, onUnauthorized } from "./api.js";
import { focusHeading, replace, errorBox } from "./ui.js";
import * as login from "./views/login.js";
import * as jobs from "./views/jobs.js";
import * as job from "./views/job.js";
import * as newjob from "./views/newjob.js";
import * as files from "./views/files.js";
import * as keys from "./views/keys.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
let stop = null;

// parse splits "#/jobs/abc?q=x" into ["jobs", "abc"] and {q: "x"}.
function parse(hash) {
  const raw = hash.replace(/^#\/?/, "");
  const [path, qs] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: Object.fromEntries(new URLSearchParams(qs || "")) };
}

function route(parts) {
  switch (parts[0]) {
    case "login":
      return [login, {}];
    case "jobs":
      return parts[1] ? [job, { id: parts[1] }] : [jobs, {}];
    case "new":
      return [newjob, {}];
    case "files":
      return [files, { folder: parts[1] }];
    case "keys":
      return [keys, {}];
    default:
      return null;
  }
}

async function render() {
  if (stop) {
    stop();
    stop = null;
  }
  const { parts, params } = parse(location.hash);
  const loggedIn = Boolean(getKey());
  nav.hidden = !loggedIn;
  if (!loggedIn && parts[0] !== "login") {
    const back = location.hash && location.hash !== "#/login" ? location.hash : "";
    location.replace("#/login" + (back ? "?next=" + encodeURIComponent(back) : ""));
    return;
  }
  const found = route(parts);
  if (!found) {
    location.replace("#/jobs");
    return;
  }
  const [view, args] = found;
  for (const a of nav.querySelectorAll("a[data-nav]")) {
    if (a.dataset.nav === (parts[0] === "jobs" && parts[1] ? "" : parts[0])) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const page = document.createElement("div");
  replace(main, page);
  try {
    const cleanup = await view.render(page, { ...args, params });
    if (typeof cleanup === "function") stop = cleanup;
  } catch (err) {
    replace(page, errorBox(err));
  }
  document.title = (page.querySelector("h1")?.textContent || "Console") + " · Rescale console";
  focusHeading(page);
}

document.getElementById("logout").addEventListener("click", () => {
  clearKey();
  location.hash = "#/login";
});

onUnauthorized(() => {
  clearKey();
  if (!location.hash.startsWith("#/login")) location.hash = "#/login?expired=1";
});

window.addEventListener("hashchange", render);
render();
