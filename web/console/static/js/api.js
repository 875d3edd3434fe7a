// The console's only way to the platform: the public REST API, with the
// user's key in an Authorization header. The key lives in sessionStorage
// (gone when the tab closes) and never in a URL, so it cannot leak into
// history, logs or a Referer.

const KEY = "rescale.apiKey";

export function apiBase() {
  const c = globalThis.RESCALE_CONSOLE || {};
  return String(c.apiBase || "").replace(/\/+$/, "");
}

export const getKey = () => sessionStorage.getItem(KEY);
export const setKey = (k) => sessionStorage.setItem(KEY, k);
export const clearKey = () => sessionStorage.removeItem(KEY);

// APIError carries the API's {"detail": ...} message and status.
export class APIError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

let unauthorized = () => {};
// onUnauthorized is called on any 401 (a revoked or expired key).
export function onUnauthorized(fn) {
  unauthorized = fn;
}

function url(path) {
  return apiBase() + path;
}

function authHeaders(extra, key) {
  return { Authorization: "Token " + (key || getKey() || ""), ...extra };
}

async function detailOf(resp) {
  try {
    const body = await resp.json();
    if (body && typeof body.detail === "string") return body.detail;
    if (body && typeof body === "object") {
      return Object.entries(body).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(" ") : v}`).join("; ");
    }
  } catch {
    // not JSON: fall through to the status line
  }
  return `${resp.status} ${resp.statusText}`;
}

// request calls the API and returns parsed JSON (or text, or null for 204).
export async function request(method, path, { json, headers, key, signal } = {}) {
  const h = authHeaders(headers, key);
  let body;
  if (json !== undefined) {
    h["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  const resp = await fetch(url(path), { method, headers: h, body, signal });
  if (!resp.ok) {
    const err = new APIError(resp.status, await detailOf(resp));
    if (resp.status === 401 && !key) unauthorized(err);
    throw err;
  }
  if (resp.status === 204) return null;
  const type = resp.headers.get("Content-Type") || "";
  return type.includes("json") ? resp.json() : resp.text();
}

export const get = (path, opts) => request("GET", path, opts);
export const post = (path, json, opts) => request("POST", path, { json, ...opts });
export const del = (path, opts) => request("DELETE", path, opts);

// query renders an object as ?a=1&b=2, skipping empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

// all reads every page of a list (bounded: these lists are small here).
export async function all(path, pageSize = 1000, maxPages = 20) {
  const out = [];
  for (let page = 1; page <= maxPages; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const body = await get(`${path}${sep}page=${page}&page_size=${pageSize}`);
    out.push(...body.results);
    if (!body.next) break;
  }
  return out;
}

// upload sends one file to POST /api/v2/files/contents/ and reports
// progress. fetch cannot report upload progress, XMLHttpRequest can.
export function upload(file, { folderId, onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url("/api/v2/files/contents/"));
    xhr.setRequestHeader("Authorization", "Token " + (getKey() || ""));
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.loaded, e.total);
    };
    xhr.onload = () => {
      if (xhr.status === 201 || xhr.status === 200) {
        if (onProgress) onProgress(file.size, file.size);
        resolve(xhr.response);
        return;
      }
      const detail = xhr.response && xhr.response.detail;
      if (xhr.status === 401) unauthorized();
      reject(new APIError(xhr.status, detail || `upload failed: HTTP ${xhr.status}`));
    };
    xhr.onerror = () => reject(new APIError(0, "upload failed: network error"));
    xhr.onabort = () => reject(new APIError(0, "upload cancelled"));
    if (signal) signal.addEventListener("abort", () => xhr.abort());
    const form = new FormData();
    if (folderId) form.append("current_folder_id", folderId);
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

// contentsPath is a file's download route on this API. The records'
// downloadUrl is absolute for the host the API saw, which behind a CDN
// may not be the console's origin; the id is enough.
export const contentsPath = (id) => `/api/v2/files/${encodeURIComponent(id)}/contents/`;

// fetchText reads a file's text; with tailBytes, only its last bytes
// (a Range request), so a huge log does not load whole.
export async function fetchText(id, tailBytes) {
  const headers = tailBytes ? { Range: `bytes=-${tailBytes}` } : {};
  const resp = await fetch(url(contentsPath(id)), { headers: authHeaders(headers) });
  if (!resp.ok && resp.status !== 416) throw new APIError(resp.status, await detailOf(resp));
  return resp.status === 416 ? "" : resp.text();
}

// download saves a file under its name. A plain link cannot send the
// Authorization header, so the bytes come through fetch into a blob URL.
export async function download(id, name) {
  const resp = await fetch(url(contentsPath(id)), { headers: authHeaders() });
  if (!resp.ok) throw new APIError(resp.status, await detailOf(resp));
  const blob = await resp.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = href;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}
