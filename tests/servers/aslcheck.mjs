// aslcheck runs a state machine definition on aws-local-stepfunctions, an
// independent implementation of the Amazon States Language, with every Task
// answered from a scripted scenario. shared/asl's cross-check test runs the
// same scenario on the Go interpreter and compares what this prints.
//
//   node aslcheck.mjs <definition.asl.json> <scenario.json> [<definition> <scenario>]...
//
// (several pairs in one process, since starting node and compiling the
// validator cost more than running a scenario).
//
// A scenario is
//   {"name": "...", "input": {...}, "substitutions": {"Name": "value"},
//    "tasks": {"<target>": <outcomes>}}
// where a target is a Task's Resource, or Parameters.FunctionName for the
// lambda:invoke integrations (as shared/asl's TaskTargets), and outcomes is
// a list of {"output": ...} or {"error": "Name", "cause": "..."}: each call
// of a target takes the next one, the last repeating. For concurrent Map
// items, outcomes may instead be {"by": "<input field>", "outcomes":
// {"<its value>": [...], "*": [...]}}, a list per value of that field of
// the task's input, so which item gets which outcome does not depend on
// the order of calls.
//
// For each pair it prints a line {"status", "output", "error", "cause",
// "events", "calls"}:
// events are the state events (StateEntered, StateExited, StateFailed,
// StateRetried, StateCaught) with their state and Map item index; calls are
// the inputs each target was called with, with the task token replaced by
// "TOKEN" (this runner has no callbacks, so a .waitForTaskToken stub just
// returns its outcome).
import { readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';

// aws-local-stepfunctions 3 needs Node 22's Promise.withResolvers; Node 20
// lacks it and every Task would fail with "not a function".
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const TOKEN = 'TOKEN';
const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const LAMBDA_WAIT = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

function substitute(text, subs) {
  return text.replace(/\$\{([^}]*)\}/g, (whole, name) => {
    if (!(name in subs)) throw new Error(`no substitution for \${${name}}`);
    return subs[name];
  });
}

// tasksByState maps every Task state name, at any depth, to its resource
// and target: the runner's overrides are keyed by state name.
function tasksByState(states, out = {}) {
  for (const [name, st] of Object.entries(states)) {
    if (st.Type === 'Task') {
      const lambda = st.Resource === LAMBDA_INVOKE || st.Resource === LAMBDA_WAIT;
      const target = lambda ? st.Parameters.FunctionName : st.Resource;
      if (name in out && out[name].target !== target) {
        throw new Error(`two Task states named ${name} with different targets`);
      }
      out[name] = { resource: st.Resource, target };
    }
    const sub = st.ItemProcessor ?? st.Iterator;
    if (sub) tasksByState(sub.States, out);
    for (const b of st.Branches ?? []) tasksByState(b.States, out);
  }
  return out;
}

function retryStates(states, out = {}) {
  for (const [name, st] of Object.entries(states)) {
    if (st.Retry) out[name] = 0;
    const sub = st.ItemProcessor ?? st.Iterator;
    if (sub) retryStates(sub.States, out);
  }
  return out;
}

function waitStates(states, out = {}) {
  for (const [name, st] of Object.entries(states)) {
    if (st.Type === 'Wait') out[name] = 0;
    const sub = st.ItemProcessor ?? st.Iterator;
    if (sub) waitStates(sub.States, out);
  }
  return out;
}

function replaceToken(v) {
  if (v === TOKEN) return TOKEN;
  if (Array.isArray(v)) return v.map(replaceToken);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceToken(x)]));
  }
  return v;
}

class TaskError extends Error {
  constructor(name, cause) {
    super(cause ?? '');
    this.name = name;
  }
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length === 0 || args.length % 2 !== 0) {
    throw new Error('usage: node aslcheck.mjs <definition> <scenario> [<definition> <scenario>]...');
  }
  for (let i = 0; i < args.length; i += 2) {
    const out = await check(args[i], args[i + 1]);
    process.stdout.write(JSON.stringify(out) + '\n');
  }
}

async function check(defPath, scenarioPath) {
  const scenario = JSON.parse(readFileSync(scenarioPath, 'utf8'));
  const definition = JSON.parse(substitute(readFileSync(defPath, 'utf8'), scenario.substitutions ?? {}));

  const calls = [];
  const used = {};
  function next(target, input) {
    let list = scenario.tasks?.[target];
    let key = target;
    if (list && !Array.isArray(list)) {
      const v = String(input?.[list.by]);
      key = `${target}\u0000${v}`;
      list = list.outcomes[v] ?? list.outcomes['*'];
    }
    if (!list || list.length === 0) throw new TaskError('States.TaskFailed', `no scripted outcome for ${target}`);
    const i = Math.min(used[key] ?? 0, list.length - 1);
    used[key] = (used[key] ?? 0) + 1;
    return list[i];
  }

  const handlers = {};
  for (const [state, { resource, target }] of Object.entries(tasksByState(definition.States))) {
    handlers[state] = async (input) => {
      const lambda = resource === LAMBDA_INVOKE || resource === LAMBDA_WAIT;
      const payload = lambda ? input.Payload : input;
      calls.push({ target, input: replaceToken(payload) });
      // Yield once so concurrent Map items interleave as they would.
      await new Promise((r) => setImmediate(r));
      const o = next(target, payload);
      if ('error' in o) throw new TaskError(o.error, o.cause);
      if (resource === LAMBDA_INVOKE) return { Payload: o.output ?? null, StatusCode: 200 };
      return o.output ?? null;
    };
  }

  // The Go test validates every definition with asl-validator (the
  // validator this runner would use); skipping it here saves a schema
  // compilation per scenario.
  const machine = new StateMachine(definition, { validationOptions: { noValidate: true } });
  const execution = machine.run(scenario.input ?? {}, {
    overrides: {
      taskResourceLocalHandlers: handlers,
      retryIntervalOverrides: retryStates(definition.States),
      waitTimeOverrides: waitStates(definition.States),
    },
    context: {
      Execution: {
        Id: `arn:aws:states:us-east-1:123456789012:execution:check:${scenario.name}`,
        Name: scenario.name,
      },
      Task: { Token: TOKEN },
    },
  });

  const events = [];
  const collecting = (async () => {
    for await (const ev of execution.eventLogs) {
      if (!ev.type.startsWith('State')) continue;
      const e = { type: ev.type, state: ev.state.name };
      if (ev.index !== undefined) e.index = ev.index;
      if (ev.type === 'StateFailed') {
        e.error = ev.Error;
      }
      events.push(e);
    }
  })();

  const out = { status: 'SUCCEEDED' };
  try {
    out.output = await execution.result;
  } catch (err) {
    out.status = err.constructor.name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED';
    const cause = err.cause ?? err;
    out.error = cause.name;
    out.cause = cause.message;
  }
  await collecting;
  out.events = events;
  out.calls = calls;
  return out;
}

main().catch((err) => {
  process.stderr.write(`aslcheck: ${err.stack ?? err}\n`);
  process.exit(2);
});
