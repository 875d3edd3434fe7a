// The job list: search (q), status filter and pagination, all in the
// hash so a filtered page can be bookmarked and the back button works.

import { get, query } from "../api.js";
import { h, replace, fmtDate, fmtBytes, statusBadge, announce } from "../ui.js";

const PAGE_SIZE = 20;
export const STATUSES = ["PENDING", "QUEUED", "STARTED", "VALIDATED", "EXECUTING", "COMPLETED", "STOPPING", "WAITING_FOR_CLUSTER", "FORCE_STOP", "WAITING_FOR_QUEUE"];

const label = (s) => s.charAt(0) + s.slice(1).toLowerCase().replaceAll("_", " ");

export async function render(root, { params }) {
  const page = Math.max(1, parseInt(params.page, 10) || 1);
  const q = params.q || "";
  const status = params.status || "";

  const qInput = h("input", { id: "job-q", name: "q", type: "search", value: q, "aria-describedby": "job-q-help" });
  const sel = h("select", { id: "job-status", name: "status" },
    h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s, selected: s === status }, label(s))));
  const form = h("form", { class: "filters", role: "search", "aria-label": "Jobs" },
    h("div", { class: "row" },
      h("div", {}, h("label", { for: "job-q" }, "Search"), qInput),
      h("div", {}, h("label", { for: "job-status" }, "Status"), sel),
      h("div", {}, h("button", { type: "submit" }, "Search"))),
    h("p", { id: "job-q-help", class: "hint" }, "Words match job and software names; also #tag, owner:, software:, and, or, not, e.g. ", h("code", {}, "#wing and not software:abaqus"), "."));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = "#/jobs" + query({ q: qInput.value.trim(), status: sel.value });
  });

  const results = h("section", { "aria-labelledby": "jobs-results", "aria-busy": "true" }, h("h2", { id: "jobs-results", class: "visually-hidden" }, "Results"), h("p", {}, "Loading jobs…"));
  replace(root,
    h("div", { class: "title-row" }, h("h1", {}, "Jobs"), h("a", { class: "button", href: "#/new" }, "New job")),
    form, results);

  let body;
  try {
    body = await get("/api/v2/jobs/" + query({ q, job_status: status, page, page_size: PAGE_SIZE }));
  } catch (err) {
    results.removeAttribute("aria-busy");
    replace(results, h("p", { class: "error", role: "alert" }, "Error: " + err.message));
    return;
  }
  results.removeAttribute("aria-busy");
  const pages = Math.max(1, Math.ceil(body.count / PAGE_SIZE));
  const link = (p) => "#/jobs" + query({ q, status, page: p > 1 ? p : "" });
  const table = body.results.length === 0
    ? h("p", {}, q || status ? "No jobs match." : "No jobs yet. ", !q && !status ? h("a", { href: "#/new" }, "Create one.") : null)
    : h("table", { class: "jobs" },
      h("caption", {}, `${body.count} job${body.count === 1 ? "" : "s"}, page ${page} of ${pages}`),
      h("thead", {}, h("tr", {}, ["Name", "Status", "Cluster", "Software", "Created", "Input storage"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, body.results.map((j) => h("tr", {},
        h("th", { scope: "row" }, h("a", { href: "#/jobs/" + encodeURIComponent(j.id) }, j.name || j.id)),
        h("td", {}, statusBadge(j.jobStatus && j.jobStatus.content)),
        h("td", {}, (j.clusterStatusDisplay && j.clusterStatusDisplay.content) || "—"),
        h("td", {}, (j.analysisNames || []).join(", ")),
        h("td", {}, fmtDate(j.dateInserted)),
        h("td", {}, fmtBytes(j.storage))))));
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    page > 1 ? h("a", { href: link(page - 1), rel: "prev" }, "← Previous") : h("span", { "aria-disabled": "true" }, "← Previous"),
    h("span", {}, `Page ${page} of ${pages}`),
    page < pages ? h("a", { href: link(page + 1), rel: "next" }, "Next →") : h("span", { "aria-disabled": "true" }, "Next →"));
  replace(results, h("h2", { id: "jobs-results", class: "visually-hidden" }, "Results"), table, pages > 1 ? pager : null);
  announce(`${body.count} jobs`);
}
