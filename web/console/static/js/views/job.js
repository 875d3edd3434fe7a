// One job: summary, status timeline, cluster statuses, runs, the live log
// (followed while the job runs, the saved log after), the residuals chart,
// output files, and the submit and stop buttons.

import { get, post, download, fetchText, APIError } from "../api.js";
import { h, replace, fmtDate, fmtBytes, statusBadge, announce, errorBox } from "../ui.js";
import { parseResiduals, hasResiduals, residualChart, residualTable } from "../residuals.js";

const POLL_MS = 1500;
const LOG_LINES = 500;
const LOG_TAIL_BYTES = 256 * 1024;
// Residual logs a solver writes beside process_output.log; the first one
// found wins.
const RESIDUAL_LOGS = [/(^|\/)log\.simpleFoam$/, /(^|\/)log\.[A-Za-z]+Foam$/];

const byNewest = (page) => (page && page.results) || [];

// coreHours is a run's cores × wall time, for runs that have started.
export function coreHours(run, cores, now = Date.now()) {
  if (!run.dateStarted) return 0;
  const end = run.dateCompleted ? Date.parse(run.dateCompleted) : now;
  return Math.max(0, (end - Date.parse(run.dateStarted)) / 3_600_000) * cores;
}

// softwareName shows the version unless it is the placeholder "0" of
// software without versions (user_included).
function softwareName(a) {
  if (!a) return "—";
  const v = a.versionName || (a.version !== "0" ? a.version : "");
  return [a.name || a.code, v].filter(Boolean).join(" ");
}

function residualSource(files) {
  for (const re of RESIDUAL_LOGS) {
    const f = files.find((x) => re.test(x.relativePath || x.path || ""));
    if (f) return f;
  }
  return null;
}

export async function render(root, { id }) {
  const enc = encodeURIComponent(id);
  const base = `/api/v2/jobs/${enc}/`;
  const job = await get(base);
  const an = (job.jobanalyses && job.jobanalyses[0]) || {};
  const hw = an.hardware || {};
  const cores = (hw.coresPerSlot || 1) * (hw.slots || 1);

  const statusNow = h("span", {}, statusBadge(""));
  const actions = h("div", { class: "actions", role: "group", "aria-label": "Job actions" });
  const msg = h("div", { role: "status" });
  const timeline = h("ol", { class: "timeline" });
  const cluster = h("ol", { class: "timeline" });
  const runsBox = h("div", {}, h("p", {}, "No runs yet."));
  const follow = h("input", { type: "checkbox", id: "log-follow", checked: true });
  const logState = h("p", { class: "hint", id: "log-state" }, "No log yet.");
  const logPre = h("pre", { class: "log", id: "log", tabindex: "0", "aria-labelledby": "log-title", "aria-describedby": "log-state" });
  const runSel = h("select", { id: "log-run", hidden: true });
  const runLabel = h("label", { for: "log-run", hidden: true }, "Run ");
  const chartBox = h("div", {});
  const outputsBox = h("div", {}, h("p", {}, "Outputs appear when the job completes."));

  replace(root,
    h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "Jobs"), " / ", job.id),
    h("div", { class: "title-row" }, h("h1", {}, job.name || job.id), statusNow),
    h("dl", { class: "summary" },
      h("dt", {}, "Job id"), h("dd", {}, h("code", {}, job.id)),
      h("dt", {}, "Software"), h("dd", {}, softwareName(an.analysis)),
      h("dt", {}, "Hardware"), h("dd", {}, `${cores} × ${hw.coreType || "?"} core${cores === 1 ? "" : "s"}`),
      h("dt", {}, "Command"), h("dd", {}, h("code", { class: "command" }, an.command || "—")),
      h("dt", {}, "Inputs"), h("dd", {}, (an.inputFiles || []).length ? (an.inputFiles || []).map((f, i) => [i ? ", " : "", f.name]) : "none")),
    actions, msg,
    h("div", { class: "columns" },
      h("section", { "aria-labelledby": "timeline-title" }, h("h2", { id: "timeline-title" }, "Status timeline"), timeline),
      h("section", { "aria-labelledby": "cluster-title" }, h("h2", { id: "cluster-title" }, "Cluster"), cluster)),
    h("section", { "aria-labelledby": "runs-title" }, h("h2", { id: "runs-title" }, "Runs"), runsBox),
    h("section", { "aria-labelledby": "log-title" },
      h("div", { class: "title-row" }, h("h2", { id: "log-title" }, "Log"),
        h("div", { class: "inline" }, runLabel, runSel),
        h("div", { class: "inline" }, follow, h("label", { for: "log-follow" }, "Follow"))),
      logState, logPre),
    h("section", { "aria-labelledby": "chart-title" }, h("h2", { id: "chart-title" }, "Residuals"), chartBox),
    h("section", { "aria-labelledby": "outputs-title" }, h("h2", { id: "outputs-title" }, "Output files"), outputsBox),
  );

  let timer = null;
  let stopped = false;
  let last; // newest status seen; undefined until the first poll
  let runs = [];
  let selectedRun = null;
  let polls = 0;
  let liveResidual = null; // path of a live residual log, once seen
  let listedAt = null; // the poll that last listed the run's directory
  let finalShownFor = null;

  function button(label, onClick, attrs = {}) {
    return h("button", { type: "button", onclick: onClick, ...attrs }, label);
  }

  async function act(path, done, confirmText) {
    if (confirmText && !window.confirm(confirmText)) return;
    replace(msg);
    try {
      await post(base + path, undefined);
      announce(done);
      replace(msg, h("p", { class: "ok" }, done));
      schedule(0);
    } catch (err) {
      replace(msg, errorBox(err));
    }
  }

  function renderActions(status) {
    const running = status && status !== "Completed";
    replace(actions,
      !status ? button("Submit", () => act("submit/", "Submitted."), { id: "submit" }) : null,
      running ? button("Stop", () => act("stop/", "Stop requested: outputs are saved."), { id: "stop" }) : null,
      running ? button("Force stop", () => act("force_stop/", "Force stop requested."), { id: "force-stop" }) : null,
      running ? button("Shut down", () => act("shutdown/", "Shutdown requested: outputs are discarded.", "Shut down the cluster now? Outputs not yet saved are discarded."), { id: "shutdown", class: "danger" }) : null,
      h("button", { type: "button", class: "link", onclick: () => schedule(0) }, "Refresh"),
    );
  }

  function renderStatuses(list, into) {
    const items = [...list].reverse();
    if (!items.length) {
      replace(into, h("li", {}, "Not submitted yet."));
      return;
    }
    replace(into, items.map((s, i) => h("li", { "aria-current": i === items.length - 1 ? "step" : false },
      statusBadge(s.status), " ", h("time", { datetime: s.statusDate }, fmtDate(s.statusDate)),
      s.statusReason ? h("span", { class: "reason" }, " — " + s.statusReason) : null)));
  }

  function renderRuns() {
    if (!runs.length) {
      replace(runsBox, h("p", {}, "No runs yet."));
      return;
    }
    replace(runsBox, h("table", {},
      h("thead", {}, h("tr", {}, ["Run", "Started", "Completed", "Core-hours", "Output files"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, runs.map((r) => h("tr", {},
        h("th", { scope: "row" }, r.id),
        h("td", {}, fmtDate(r.dateStarted)),
        h("td", {}, r.dateCompleted ? fmtDate(r.dateCompleted) : "running"),
        h("td", {}, coreHours(r, cores).toFixed(4)),
        h("td", {}, r.dateCompleted ? `${r.outputFileCount ?? 0} (${fmtBytes(r.outputFileSize)})` : "—"))))));
    const ids = runs.map((r) => r.id);
    if (!selectedRun || !ids.includes(selectedRun)) selectedRun = ids[ids.length - 1];
    const many = ids.length > 1;
    runSel.hidden = !many;
    runLabel.hidden = !many;
    if (many && runSel.options.length !== ids.length) {
      replace(runSel, ids.map((x) => h("option", { value: x, selected: x === selectedRun }, x)));
    }
  }

  function showLog(text, state) {
    logPre.textContent = text;
    logState.textContent = state;
    if (follow.checked) logPre.scrollTop = logPre.scrollHeight;
  }

  function showChart(text, source) {
    const parsed = parseResiduals(text);
    if (!hasResiduals(parsed)) {
      replace(chartBox, h("p", {}, "No OpenFOAM residuals (\u201cSolving for …, Initial residual = …\u201d lines) in " + source + "."));
      return;
    }
    replace(chartBox, residualChart(parsed, source),
      h("details", {}, h("summary", {}, "Residuals as a table"), residualTable(parsed, h)));
  }

  async function liveLog(run) {
    const runBase = `${base}runs/${encodeURIComponent(run)}/`;
    try {
      const tail = await get(`${runBase}tail/process_output.log/?lines=${LOG_LINES}`);
      const text = tail.lines.join("\n");
      showLog(text, `Live: the last ${LOG_LINES} lines of run ${run}'s process_output.log, refreshed every ${POLL_MS / 1000} s.`);
      // The directory listing is the expensive call: look for a solver
      // log at once, then every fifth poll until one appears.
      if (!liveResidual && (listedAt === null || polls - listedAt >= 5)) {
        listedAt = polls;
        const listing = await get(`${runBase}directory-contents/`);
        const f = residualSource(listing.map((e) => ({ relativePath: e.path })));
        if (f) liveResidual = f.relativePath;
      }
      if (liveResidual) {
        const res = await get(`${runBase}tail/${liveResidual.split("/").map(encodeURIComponent).join("/")}/?lines=10000`);
        showChart(res.lines.join("\n"), liveResidual + " (live)");
      } else {
        showChart(text, "process_output.log (live)");
      }
    } catch (err) {
      // Before the process starts or between its end and the outputs
      // being saved the live files are not there: keep what is shown.
      if (!(err instanceof APIError) || (err.status !== 404 && err.status !== 409 && err.status !== 400)) throw err;
    }
  }

  async function finalOutputs(run) {
    const files = (await get(`${base}runs/${encodeURIComponent(run)}/files/?page_size=1000`)).results;
    files.sort((a, b) => (a.relativePath || a.name).localeCompare(b.relativePath || b.name));
    replace(outputsBox, files.length === 0 ? h("p", {}, "No output files.") : h("table", { class: "outputs" },
      h("caption", {}, `Run ${run}: ${files.length} file${files.length === 1 ? "" : "s"}`),
      h("thead", {}, h("tr", {}, ["File", "Size", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, files.map((f) => {
        const name = f.relativePath || f.name;
        return h("tr", {},
          h("th", { scope: "row" }, name),
          h("td", {}, fmtBytes(f.decryptedSize)),
          h("td", {}, h("button", {
            type: "button", class: "download", "data-file": name, "aria-label": "Download " + name,
            onclick: async (e) => {
              e.target.disabled = true;
              try {
                await download(f.id, f.name);
                announce("Downloaded " + name);
              } catch (err) {
                replace(msg, errorBox(err));
              } finally {
                e.target.disabled = false;
              }
            },
          }, "Download")));
      }))));
    const log = files.find((f) => (f.relativePath || f.name) === "process_output.log");
    let logText = "";
    if (log) {
      logText = await fetchText(log.id, LOG_TAIL_BYTES);
      const cut = log.decryptedSize > LOG_TAIL_BYTES ? `the last ${fmtBytes(LOG_TAIL_BYTES)} of ` : "";
      showLog(logText, `Saved log: ${cut}run ${run}'s process_output.log (${fmtBytes(log.decryptedSize)}).`);
    } else {
      showLog("", `Run ${run} saved no process_output.log.`);
    }
    const res = residualSource(files);
    if (res) showChart(await fetchText(res.id, 4 * 1024 * 1024), res.relativePath);
    else showChart(logText, "process_output.log");
  }

  async function poll() {
    polls++;
    const [st, cl, rn] = await Promise.all([
      get(`${base}statuses/?page_size=100`),
      get(`${base}cluster_statuses/?page_size=100`),
      get(`${base}runs/?page_size=1000`),
    ]);
    const list = byNewest(st);
    const now = list.length ? list[0].status : null;
    if (now !== last) {
      replace(statusNow, statusBadge(now || "Not submitted"));
      renderActions(now);
      if (last !== undefined) announce("Job status: " + (now || "not submitted"));
      last = now;
    }
    renderStatuses(list, timeline);
    renderStatuses(byNewest(cl), cluster);
    runs = byNewest(rn);
    renderRuns();
    const run = runs.find((r) => r.id === selectedRun);
    if (!run) {
      if (now === "Completed") {
        // Refused at validation, or stopped before a run started.
        replace(outputsBox, h("p", {}, "No output files: the job ended before a run started."));
        showLog("", "No log: the job ended before a run started.");
        replace(chartBox, h("p", {}, "No residuals."));
      }
      return now === "Completed";
    }
    if (run.dateCompleted && now === "Completed") {
      if (finalShownFor !== run.id) {
        finalShownFor = run.id;
        await finalOutputs(run.id);
      }
    } else if (!run.dateCompleted) {
      await liveLog(run.id);
    }
    return now === "Completed";
  }

  function schedule(ms) {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(async () => {
      let done = false;
      try {
        done = await poll();
      } catch (err) {
        replace(msg, errorBox(err));
      }
      if (!done && !stopped) schedule(POLL_MS);
    }, ms);
  }

  runSel.addEventListener("change", () => {
    selectedRun = runSel.value;
    finalShownFor = null;
    liveResidual = null;
    listedAt = null;
    schedule(0);
  });
  follow.addEventListener("change", () => {
    if (follow.checked) logPre.scrollTop = logPre.scrollHeight;
  });

  // The buttons wait for the first poll: a Submit button shown before the
  // status is known would be wrong for a job already running.
  await poll().then((done) => {
    if (!done) schedule(POLL_MS);
  }, (err) => {
    replace(msg, errorBox(err));
    schedule(POLL_MS);
  });
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
