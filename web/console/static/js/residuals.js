// OpenFOAM residuals: parsed from a solver log (log.simpleFoam, or the
// run's process_output.log) and drawn as an inline SVG chart. Pure
// functions over strings and numbers, plus one that builds SVG elements,
// so the parser is testable without a browser (residuals.test.js).

// OpenFOAM.org 11 and later print the unit: "Time = 1s".
const timeRE = /^\s*Time\s*=\s*([-+0-9.eE]+)s?\s*$/;
const solveRE = /Solving for\s+([A-Za-z0-9_.]+),\s*Initial residual\s*=\s*([-+0-9.eE]+)/;

// parseResiduals reads "Time = N" lines and the first "Solving for F,
// Initial residual = R" of each field within each time step (later
// correctors of the same field repeat it; the first is what OpenFOAM's
// own foamLog plots). Returns {times: [t...], series: {F: [r|null ...]}}
// with one entry per time step in every series.
export function parseResiduals(text) {
  const times = [];
  const series = {};
  let seen = null; // fields recorded in the current time step
  for (const line of String(text).split(/\r?\n/)) {
    const t = timeRE.exec(line);
    if (t) {
      const v = Number(t[1]);
      if (!Number.isFinite(v)) continue;
      times.push(v);
      for (const f of Object.keys(series)) series[f].push(null);
      seen = new Set();
      continue;
    }
    if (!seen) continue; // residuals before the first time step
    const s = solveRE.exec(line);
    if (!s) continue;
    const [, field, raw] = s;
    const r = Number(raw);
    if (seen.has(field) || !Number.isFinite(r)) continue;
    seen.add(field);
    if (!series[field]) series[field] = new Array(times.length).fill(null);
    series[field][times.length - 1] = r;
  }
  return { times, series };
}

// hasResiduals: is there anything worth a chart?
export function hasResiduals(parsed) {
  return Object.values(parsed.series).some((vals) => vals.some((v) => v !== null && v > 0));
}

// logTicks are the powers of ten spanning [lo, hi].
export function logTicks(lo, hi) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(e);
  return out;
}

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// Each series differs by colour, dash pattern and marker shape, so the
// chart reads in greyscale and for colour-blind readers too.
const styles = [
  { color: "#1f5fa8", dash: "", marker: "circle" },
  { color: "#b34700", dash: "6 3", marker: "square" },
  { color: "#2e7d32", dash: "2 3", marker: "triangle" },
  { color: "#6a1b9a", dash: "8 3 2 3", marker: "diamond" },
  { color: "#37474f", dash: "1 2", marker: "cross" },
];

function marker(kind, x, y, color) {
  const r = 3.5;
  switch (kind) {
    case "square":
      return s("rect", { x: x - r, y: y - r, width: 2 * r, height: 2 * r, fill: color });
    case "triangle":
      return s("polygon", { points: `${x},${y - r - 1} ${x - r - 1},${y + r} ${x + r + 1},${y + r}`, fill: color });
    case "diamond":
      return s("polygon", { points: `${x},${y - r - 1} ${x + r + 1},${y} ${x},${y + r + 1} ${x - r - 1},${y}`, fill: color });
    case "cross":
      return s("path", { d: `M${x - r},${y - r}L${x + r},${y + r}M${x - r},${y + r}L${x + r},${y - r}`, stroke: color, "stroke-width": 2 });
    default:
      return s("circle", { cx: x, cy: y, r, fill: color });
  }
}

// residualChart draws parsed residuals on a log scale. title names the
// file they came from.
export function residualChart(parsed, title) {
  const W = 640, H = 320, L = 64, R = 110, T = 28, B = 44;
  const fields = Object.keys(parsed.series).sort();
  const vals = fields.flatMap((f) => parsed.series[f]).filter((v) => v !== null && v > 0);
  const { times } = parsed;
  const tmin = Math.min(...times), tmax = Math.max(...times);
  const lo = Math.min(...vals), hi = Math.max(...vals);
  const ticks = logTicks(lo, hi);
  const e0 = ticks[0], e1 = Math.max(ticks[ticks.length - 1], e0 + 1);
  const x = (t) => L + (tmax === tmin ? (W - L - R) / 2 : ((t - tmin) / (tmax - tmin)) * (W - L - R));
  const y = (v) => T + ((e1 - Math.log10(v)) / (e1 - e0)) * (H - T - B);

  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "res-title res-desc", class: "chart" });
  svg.append(
    s("title", { id: "res-title" }, `Initial residuals per time step (${title})`),
    s("desc", { id: "res-desc" }, `${fields.length} fields over ${times.length} time steps, log scale from 1e${e0} to 1e${e1}. The table below holds the same numbers.`),
  );
  const axes = s("g", { class: "axes" });
  for (let e = e0; e <= e1; e++) {
    const yy = y(10 ** e);
    axes.append(
      s("line", { x1: L, x2: W - R, y1: yy, y2: yy, class: "grid" }),
      s("text", { x: L - 6, y: yy + 4, "text-anchor": "end" }, `1e${e}`),
    );
  }
  const xt = [...new Set([tmin, (tmin + tmax) / 2, tmax].map((t) => +t.toPrecision(4)))];
  for (const t of xt) axes.append(s("text", { x: x(t), y: H - B + 18, "text-anchor": "middle" }, t));
  axes.append(
    s("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }),
    s("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }),
    s("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }, "Time"),
    s("text", { x: 14, y: (T + H - B) / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${(T + H - B) / 2})` }, "Initial residual"),
  );
  svg.append(axes);

  fields.forEach((f, i) => {
    const st = styles[i % styles.length];
    const pts = parsed.series[f].map((v, j) => (v !== null && v > 0 ? [x(times[j]), y(v)] : null)).filter(Boolean);
    const g = s("g", { class: "series", "data-field": f });
    if (pts.length > 1) {
      g.append(s("polyline", { points: pts.map((p) => p.join(",")).join(" "), fill: "none", stroke: st.color, "stroke-width": 2, "stroke-dasharray": st.dash }));
    }
    // Markers on every point up to a density that stays legible.
    const step = Math.max(1, Math.ceil(pts.length / 40));
    pts.forEach((p, j) => {
      if (j % step === 0 || j === pts.length - 1) g.append(marker(st.marker, p[0], p[1], st.color));
    });
    const ly = T + 10 + i * 20;
    g.append(
      s("line", { x1: W - R + 12, x2: W - R + 40, y1: ly, y2: ly, stroke: st.color, "stroke-width": 2, "stroke-dasharray": st.dash }),
      marker(st.marker, W - R + 26, ly, st.color),
      s("text", { x: W - R + 46, y: ly + 4 }, f),
    );
    svg.append(g);
  });
  return svg;
}

// residualTable is the chart's numbers as a table (for screen readers and
// for copying).
export function residualTable(parsed, h) {
  const fields = Object.keys(parsed.series).sort();
  return h("table", {},
    h("caption", {}, "Initial residuals"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Time"), fields.map((f) => h("th", { scope: "col" }, f)))),
    h("tbody", {}, parsed.times.map((t, j) =>
      h("tr", {}, h("th", { scope: "row" }, t), fields.map((f) => h("td", {}, parsed.series[f][j] ?? "—"))))),
  );
}
