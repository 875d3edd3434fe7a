// Files: the v3 folder tree (My library, My jobs), with breadcrumbs, new
// folders, uploads with progress, downloads and deletes.

import { get, post, del, upload, download, query } from "../api.js";
import { h, replace, fmtDate, fmtBytes, announce, errorBox } from "../ui.js";

const PAGE_SIZE = 100;

export async function render(root, { folder, params }) {
  const roots = await get("/api/v3/users/me/folders/");
  const id = folder || roots.MyLibrary;
  const page = Math.max(1, parseInt(params.page, 10) || 1);
  const enc = encodeURIComponent(id);
  const [info, contents] = await Promise.all([
    get(`/api/v3/folders/${enc}/`),
    get(`/api/v3/folders/${enc}/contents/` + query({ page, page_size: PAGE_SIZE })),
  ]);
  const rerender = () => render(root, { folder: id, params });
  const msg = h("div", { role: "status" });
  const rootName = (f) => (f.id === roots.MyLibrary ? "My library" : f.id === roots.MyJobs ? "My jobs" : f.name);

  const crumbs = h("nav", { "aria-label": "Folder path", class: "crumbs" },
    h("ol", {}, [...(info.ancestry || []), info].map((f, i, arr) => h("li", {},
      i === arr.length - 1 ? h("span", { "aria-current": "page" }, rootName(f)) : h("a", { href: "#/files/" + encodeURIComponent(f.id) }, rootName(f))))));

  const folderName = h("input", { id: "folder-name", name: "folder-name", required: true, autocomplete: "off" });
  const newFolder = h("form", { class: "inline-form", "aria-label": "New folder" },
    h("label", { for: "folder-name" }, "New folder"), folderName, h("button", { type: "submit" }, "Create folder"));
  newFolder.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await post(`/api/v3/folders/${enc}/`, { name: folderName.value.trim() });
      announce("Folder created");
      await rerender(); // inside the try: its errors are shown too
    } catch (err) {
      replace(msg, errorBox(err));
    }
  });

  const fileInput = h("input", { id: "file-upload", type: "file", multiple: true });
  const uploads = h("ul", { class: "uploads", "aria-label": "Uploads" });
  fileInput.addEventListener("change", async () => {
    const files = [...fileInput.files];
    fileInput.value = "";
    const work = files.map((file) => {
      const bar = h("progress", { max: 100, value: 0, "aria-label": `Uploading ${file.name}` });
      const text = h("span", {}, "0%");
      uploads.append(h("li", { "data-file": file.name }, `${file.name} (${fmtBytes(file.size)}) `, bar, " ", text));
      return upload(file, {
        folderId: id,
        onProgress: (done, total) => {
          bar.value = total ? Math.round((done / total) * 100) : 100;
          text.textContent = bar.value + "%";
        },
      }).then(() => {
        text.textContent = "uploaded";
      }, (err) => {
        text.textContent = "failed: " + err.message;
        throw err;
      });
    });
    const results = await Promise.allSettled(work);
    const failed = results.filter((r) => r.status === "rejected").length;
    announce(failed ? `${failed} of ${files.length} uploads failed` : `${files.length} uploaded`);
    if (!failed) await rerender().catch((err) => replace(msg, errorBox(err)));
  });

  const rows = contents.results.map(({ type, item }) => {
    if (type === "folder") {
      return h("tr", {},
        h("th", { scope: "row" }, h("a", { href: "#/files/" + encodeURIComponent(item.id) }, h("span", { "aria-hidden": "true" }, "📁 "), item.name, "/")),
        h("td", {}, "folder"), h("td", {}, "—"), h("td", {}, fmtDate(item.dateInserted)),
        h("td", {}, h("button", {
          type: "button", class: "link danger", "aria-label": "Delete folder " + item.name,
          onclick: async () => {
            if (!window.confirm(`Delete folder ${item.name} and everything in it?`)) return;
            try {
              await del(`/api/v3/folders/${encodeURIComponent(item.id)}/`);
              await rerender();
            } catch (err) {
              replace(msg, errorBox(err));
            }
          },
        }, "Delete")));
    }
    return h("tr", {},
      h("th", { scope: "row" }, item.name),
      h("td", {}, "file"), h("td", {}, fmtBytes(item.decryptedSize)), h("td", {}, fmtDate(item.dateUploaded)),
      h("td", {},
        h("button", {
          type: "button", class: "download", "aria-label": "Download " + item.name,
          onclick: () => download(item.id, item.name).catch((err) => replace(msg, errorBox(err))),
        }, "Download"), " ",
        h("button", {
          type: "button", class: "link danger", "aria-label": "Delete " + item.name,
          onclick: async () => {
            if (!window.confirm(`Delete ${item.name}?`)) return;
            try {
              await del(`/api/v2/files/${encodeURIComponent(item.id)}/`);
              await rerender();
            } catch (err) {
              replace(msg, errorBox(err));
            }
          },
        }, "Delete")));
  });

  const pages = Math.max(1, Math.ceil(contents.count / PAGE_SIZE));
  const link = (p) => "#/files/" + enc + query({ page: p > 1 ? p : "" });
  replace(root,
    h("div", { class: "title-row" }, h("h1", {}, "Files"),
      h("p", {}, h("a", { href: "#/files/" + encodeURIComponent(roots.MyLibrary) }, "My library"), " · ",
        h("a", { href: "#/files/" + encodeURIComponent(roots.MyJobs) }, "My jobs"))),
    crumbs,
    h("div", { class: "toolbar" }, newFolder,
      h("div", { class: "inline-form" }, h("label", { for: "file-upload" }, "Upload files"), fileInput)),
    uploads, msg,
    rows.length === 0 ? h("p", {}, "This folder is empty.") : h("table", { class: "files" },
      h("caption", {}, `${contents.count} item${contents.count === 1 ? "" : "s"}`),
      h("thead", {}, h("tr", {}, ["Name", "Type", "Size", "Date", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows)),
    pages > 1 ? h("nav", { class: "pager", "aria-label": "Pages" },
      page > 1 ? h("a", { href: link(page - 1) }, "← Previous") : null,
      h("span", {}, `Page ${page} of ${pages}`),
      page < pages ? h("a", { href: link(page + 1) }, "Next →") : null) : null);
}
