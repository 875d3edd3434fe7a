// The job creation form: software, version, coretype, cores, command and
// input files. Inputs upload as soon as they are chosen, each with its
// progress bar; saving waits for them. Files already uploaded (an earlier
// job's inputs, a large case uploaded with the CLI) are found by name and
// added without uploading them again.

import { all, get, post, query, upload } from "../api.js";
import { h, replace, announce, errorBox, fmtBytes } from "../ui.js";

const DEFAULT_ANALYSIS = "user_included";

export async function render(root) {
  const [analyses, coretypes] = await Promise.all([
    all("/api/v2/analyses/"),
    all("/api/v2/coretypes/"),
  ]);
  analyses.sort((a, b) => (a.name || a.code).localeCompare(b.name || b.code));
  coretypes.sort((a, b) => (a.displayOrder ?? 0) - (b.displayOrder ?? 0) || a.name.localeCompare(b.name));

  const field = (id, label, control, help) => h("div", { class: "field" },
    h("label", { for: id }, label), control, help ? h("p", { class: "hint", id: id + "-help" }, help) : null);

  const name = h("input", { id: "job-name", name: "name", required: true, value: "My job", autocomplete: "off" });
  const analysis = h("select", { id: "job-analysis", name: "analysis", required: true },
    analyses.map((a) => h("option", { value: a.code, selected: a.code === DEFAULT_ANALYSIS }, a.name || a.code)));
  const version = h("select", { id: "job-version", name: "version" });
  const coretype = h("select", { id: "job-coretype", name: "coretype", required: true });
  const cores = h("select", { id: "job-cores", name: "cores", required: true });
  const command = h("textarea", { id: "job-command", name: "command", rows: 4, required: true, spellcheck: "false", "aria-describedby": "job-command-help" });
  const fileInput = h("input", { id: "job-inputs", name: "inputs", type: "file", multiple: true, "aria-describedby": "job-inputs-help" });
  const uploads = h("ul", { class: "uploads", "aria-label": "Input uploads" });
  const librarySearch = h("input", { id: "job-library", type: "search", autocomplete: "off", placeholder: "part of a file name", "aria-describedby": "job-library-help" });
  const libraryFind = h("button", { type: "button", id: "job-library-find" }, "Find");
  const libraryResults = h("ul", { class: "library", "aria-label": "Files found", "aria-live": "polite" });
  const msg = h("div", { role: "alert" });
  const save = h("button", { type: "submit", name: "action", value: "save" }, "Save");
  const saveSubmit = h("button", { type: "submit", name: "action", value: "submit", id: "save-submit" }, "Save and submit");

  const inputs = []; // {name, id|null, promise}

  const current = () => analyses.find((a) => a.code === analysis.value);
  const currentVersion = () => (current()?.versions || []).find((v) => (v.versionCode || v.version) === version.value);

  function fillVersions() {
    const vs = current()?.versions || [];
    replace(version, vs.map((v) => h("option", { value: v.versionCode || v.version }, v.version || v.versionCode)));
    version.disabled = vs.length === 0;
    fillCoretypes();
  }
  function fillCoretypes() {
    const allowed = currentVersion()?.allowedCoreTypes;
    const keep = coretype.value;
    // An empty list (user_included) allows every coretype, as the API does.
    const list = coretypes.filter((c) => !c.isDeprecated && (!allowed || allowed.length === 0 || allowed.includes(c.code)));
    replace(coretype, list.map((c) => h("option", { value: c.code, selected: c.code === keep }, `${c.name} (${c.code})`)));
    fillCores();
  }
  function fillCores() {
    const ct = coretypes.find((c) => c.code === coretype.value);
    replace(cores, (ct?.cores || [1]).map((n) => h("option", { value: n }, n)));
  }
  analysis.addEventListener("change", fillVersions);
  version.addEventListener("change", fillCoretypes);
  coretype.addEventListener("change", fillCores);
  fillVersions();

  function pending() {
    return inputs.filter((i) => !i.id && !i.failed).length;
  }
  function updateButtons() {
    const busy = pending() > 0;
    save.disabled = saveSubmit.disabled = busy;
  }

  // addExisting lists a file already on the platform as an input.
  function addExisting(file) {
    if (inputs.some((i) => i.id === file.id)) return;
    const entry = { name: file.name, id: file.id, failed: false };
    const remove = h("button", { type: "button", class: "link", "aria-label": "Remove " + file.name }, "Remove");
    const li = h("li", { "data-file": file.name, "data-id": file.id, class: "done" },
      h("span", {}, `${file.name} (${fmtBytes(file.decryptedSize)}) `), h("span", { class: "upload-state" }, "from your files"), " ", remove);
    remove.addEventListener("click", () => {
      inputs.splice(inputs.indexOf(entry), 1);
      li.remove();
      updateButtons();
    });
    uploads.append(li);
    inputs.push(entry);
    announce(`${file.name} added`);
    updateButtons();
  }
  async function findFiles() {
    const q = librarySearch.value.trim();
    libraryFind.disabled = true;
    try {
      const page = await get("/api/v2/files/" + query({ search: q, page_size: 20 }));
      const found = page.results.filter((f) => f.isUploaded !== false);
      if (found.length === 0) {
        replace(libraryResults, h("li", { class: "hint" }, q ? `No file matches “${q}”.` : "You have no files yet."));
        return;
      }
      replace(libraryResults, found.map((f) => {
        const add = h("button", { type: "button", class: "add-input", "data-id": f.id, "aria-label": "Add " + f.name }, "Add");
        add.addEventListener("click", () => addExisting(f));
        return h("li", { "data-file": f.name }, `${f.name} (${fmtBytes(f.decryptedSize)}) `, add);
      }), page.count > page.results.length ? h("li", { class: "hint" }, `${page.count - page.results.length} more: narrow the search.`) : null);
    } catch (err) {
      replace(libraryResults, h("li", {}, errorBox(err)));
    } finally {
      libraryFind.disabled = false;
    }
  }
  libraryFind.addEventListener("click", findFiles);
  librarySearch.addEventListener("keydown", (e) => {
    // Enter searches rather than saving the form.
    if (e.key === "Enter") {
      e.preventDefault();
      findFiles();
    }
  });

  fileInput.addEventListener("change", () => {
    for (const file of fileInput.files) {
      const bar = h("progress", { max: 100, value: 0, "aria-label": `Uploading ${file.name}` });
      const text = h("span", { class: "upload-state" }, "0%");
      const entry = { name: file.name, id: null, failed: false };
      const remove = h("button", { type: "button", class: "link", "aria-label": "Remove " + file.name }, "Remove");
      const li = h("li", { "data-file": file.name }, h("span", {}, `${file.name} (${fmtBytes(file.size)}) `), bar, " ", text, " ", remove);
      remove.addEventListener("click", () => {
        inputs.splice(inputs.indexOf(entry), 1);
        li.remove();
        updateButtons();
      });
      uploads.append(li);
      inputs.push(entry);
      upload(file, {
        onProgress: (done, total) => {
          const pct = total ? Math.round((done / total) * 100) : 100;
          bar.value = pct;
          text.textContent = pct + "%";
        },
      }).then((rec) => {
        entry.id = rec.id;
        bar.value = 100;
        text.textContent = "uploaded";
        li.classList.add("done");
        announce(`${file.name} uploaded`);
        updateButtons();
      }, (err) => {
        entry.failed = true;
        text.textContent = "failed: " + err.message;
        li.classList.add("failed");
        announce(`${file.name} failed to upload`);
        updateButtons();
      });
    }
    fileInput.value = "";
    updateButtons();
  });

  const form = h("form", { class: "card", "aria-labelledby": "new-title", novalidate: false },
    h("h1", { id: "new-title" }, "New job"),
    field("job-name", "Name", name),
    h("div", { class: "grid" },
      field("job-analysis", "Software", analysis),
      field("job-version", "Version", version),
      field("job-coretype", "Coretype", coretype),
      field("job-cores", "Cores", cores)),
    field("job-command", "Command", command, "Runs in the job's working directory, where the inputs are (archives unpacked)."),
    field("job-inputs", "Input files", fileInput, "Each file uploads as soon as it is chosen."),
    h("div", { class: "field" },
      h("label", { for: "job-library" }, "Or add files you have uploaded before"),
      h("div", { class: "inline" }, librarySearch, " ", libraryFind),
      h("p", { class: "hint", id: "job-library-help" }, "Search your files by name; they are not uploaded again."),
      libraryResults),
    uploads, msg,
    h("p", { class: "actions" }, save, " ", saveSubmit));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    replace(msg);
    const submit = e.submitter && e.submitter.value === "submit";
    const failed = inputs.filter((i) => i.failed);
    if (failed.length) {
      replace(msg, h("p", { class: "error" }, `Remove or re-add the inputs that failed: ${failed.map((i) => i.name).join(", ")}.`));
      return;
    }
    if (pending()) return;
    save.disabled = saveSubmit.disabled = true;
    const an = { code: analysis.value };
    if (version.value) an.version = version.value;
    try {
      const job = await post("/api/v2/jobs/", {
        name: name.value.trim(),
        jobanalyses: [{
          analysis: an,
          command: command.value,
          useMpi: false,
          hardware: { coreType: coretype.value, coresPerSlot: Number(cores.value), slots: 1 },
          inputFiles: inputs.map((i) => ({ id: i.id })),
        }],
      });
      if (submit) await post(`/api/v2/jobs/${encodeURIComponent(job.id)}/submit/`, undefined);
      announce(submit ? "Job saved and submitted" : "Job saved");
      location.hash = "#/jobs/" + encodeURIComponent(job.id);
    } catch (err) {
      replace(msg, errorBox(err));
      updateButtons();
    }
  });
  replace(root, form);
}
