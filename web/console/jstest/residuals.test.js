// Unit tests of the console's pure modules, run by node's built-in test
// runner (go test runs them: see console_test.go).
import { test } from "node:test";
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";
import { parseResiduals, hasResiduals, logTicks } from "../static/js/residuals.js";
import { coreHours } from "../static/js/views/job.js";
import { query } from "../static/js/api.js";

// A trimmed simpleFoam log, as the airFoil2D tutorial writes it.
const simpleFoam = `
Starting time loop

Time = 1

smoothSolver:  Solving for Ux, Initial residual = 1, Final residual = 0.0538101, No Iterations 1
smoothSolver:  Solving for Uy, Initial residual = 1, Final residual = 0.030925, No Iterations 2
GAMG:  Solving for p, Initial residual = 1, Final residual = 0.068427, No Iterations 17
GAMG:  Solving for p, Initial residual = 0.5, Final residual = 0.01, No Iterations 3
ExecutionTime = 0.05 s  ClockTime = 0 s

Time = 2

smoothSolver:  Solving for Ux, Initial residual = 0.43, Final residual = 0.0221, No Iterations 2
GAMG:  Solving for p, Initial residual = 2.5e-1, Final residual = 0.011, No Iterations 15
ExecutionTime = 0.09 s  ClockTime = 0 s

Time = 3
smoothSolver:  Solving for nuTilda, Initial residual = 0.12, Final residual = 0.005, No Iterations 3
`;

test("parseResiduals", async (t) => {
  const cases = [
    {
      name: "simpleFoam log: first residual of each field per step, gaps as null",
      text: simpleFoam,
      times: [1, 2, 3],
      series: { Ux: [1, 0.43, null], Uy: [1, null, null], p: [1, 0.25, null], nuTilda: [null, null, 0.12] },
      chart: true,
    },
    {
      name: "time lines only (the e2e job's output): no residuals",
      text: "hello\nTime = 1\nTime = 2\nTime = 3\n",
      times: [1, 2, 3],
      series: {},
      chart: false,
    },
    {
      name: "residuals before any time step are ignored; CRLF lines",
      text: "Solving for Ux, Initial residual = 0.9, Final residual = 0.1\r\nTime = 0.5\r\nDILUPBiCG:  Solving for k, Initial residual = 0.001, Final residual = 1e-5\r\n",
      times: [0.5],
      series: { k: [0.001] },
      chart: true,
    },
    {
      name: "exponents and zero residuals (a converged field draws nothing)",
      text: "Time = 1e-3\nSolving for T, Initial residual = 0, Final residual = 0\nTime = 2e-3\nSolving for T, Initial residual = 0, Final residual = 0\n",
      times: [0.001, 0.002],
      series: { T: [0, 0] },
      chart: false,
    },
    {
      name: "OpenFOAM.org 11's time unit",
      text: "Time = 1s\nsmoothSolver:  Solving for Ux, Initial residual = 0.5, Final residual = 0.1\nTime = 2s\n",
      times: [1, 2],
      series: { Ux: [0.5, null] },
      chart: true,
    },
    {
      name: "not a time line: ExecutionTime and Time = garbage",
      text: "ExecutionTime = 3 s\nTime = abc\n",
      times: [],
      series: {},
      chart: false,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const got = parseResiduals(c.text);
      assert.deepEqual(got.times, c.times);
      assert.deepEqual(got.series, c.series);
      assert.equal(hasResiduals(got), c.chart);
    });
  }
});

test("logTicks spans the data", () => {
  assert.deepEqual(logTicks(0.0023, 1), [-3, -2, -1, 0]);
  assert.deepEqual(logTicks(0.5, 0.5), [-1, 0]);
  assert.deepEqual(logTicks(1e-6, 1e-6), [-6]);
});

test("coreHours", () => {
  const run = { dateStarted: "2026-01-01T00:00:00Z", dateCompleted: "2026-01-01T00:30:00Z" };
  assert.equal(coreHours(run, 4), 2);
  assert.equal(coreHours({ dateStarted: null }, 4), 0);
  assert.equal(coreHours({ dateStarted: "2026-01-01T00:00:00Z" }, 2, Date.parse("2026-01-01T03:00:00Z")), 6);
});

test("query skips empty values", () => {
  assert.equal(query({ q: "wing tag", job_status: "", page: 2, x: null }), "?q=wing+tag&page=2");
  assert.equal(query({ q: "" }), "");
});

// A real log: Debian's OpenFOAM v1912 simpleFoam on the airFoil2D
// tutorial, five iterations.
test("parseResiduals on a real simpleFoam log", () => {
  const text = readFileSync(new URL("./testdata/airFoil2D.log.simpleFoam", import.meta.url), "utf8");
  const got = parseResiduals(text);
  const steps = text.split("\n").filter((l) => /^Time = /.test(l)).length;
  assert.equal(got.times.length, steps);
  assert.deepEqual(got.times, Array.from({ length: steps }, (_, i) => i + 1));
  assert.deepEqual(Object.keys(got.series).sort(), ["Ux", "Uy", "nuTilda", "p"]);
  for (const [field, vals] of Object.entries(got.series)) {
    assert.equal(vals.length, steps, field);
    assert.ok(vals.every((v) => v > 0 && v <= 1), `${field}: ${vals}`);
    // OpenFOAM normalises each field's first residual to 1.
    assert.equal(vals[0], 1, field);
  }
  assert.ok(hasResiduals(got));
});
