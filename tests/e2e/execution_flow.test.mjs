// execution_flow.test.mjs: the plan executor end to end over stdio with the
// official MCP SDK client (which validates structuredContent against every
// output schema): explicit plans, parallel steps, timeouts, retries,
// continue_on_error, cancellation (tool and AbortSignal), history filters and
// pages, full logs with their cap, and the plan states.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = process.env.ISB_BINARY ?? path.resolve(here, '../../build/bin/intelligent-sandbox');

const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

// The executor and planner are under test here, not the jail: commands run
// as plain child processes so the tests also pass on hosts (containers)
// where namespaces cannot be built.
function serverConfig(root) {
  const file = path.join(root, 'sandbox.yaml');
  fs.writeFileSync(file, 'plugins:\n  settings:\n    process:\n      disable: [namespaces]\n');
  return file;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ms = (iso) => Date.parse(iso);

// One server, one workspace made from a small directory, per test.
async function withWorkspace(fn, extraEnv = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-exec-'));
  const project = path.join(root, 'project');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'README.md'), 'fixture\n');
  const transport = new StdioClientTransport({
    command: binary,
    args: ['serve', '--config', serverConfig(root)],
    env: { ...process.env, SANDBOX_BASE_DIR: path.join(root, 'state'), SANDBOX_LOG_LEVEL: 'warning',
      // The executor is under test here, not the security gate: run on hosts without the jail too.
      SANDBOX_SECURITY_ALLOW_DEGRADED: 'true', ...extraEnv },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const client = new Client({ name: 'isb-exec-e2e', version: '1.0.0' });
  await client.connect(transport);
  const call = async (name, args, options) => {
    const r = await client.callTool({ name, arguments: args }, undefined, options);
    return r;
  };
  const ok = async (name, args, options) => {
    const r = await call(name, args, options);
    assert.equal(r.isError ?? false, false, `${name}: ${text(r)}`);
    return r.structuredContent;
  };
  const fails = async (name, args) => {
    const r = await call(name, args);
    assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} should fail`);
    return text(r);
  };
  try {
    const ws = await ok('create_workspace', { source_path: project, workspace_id: 'w' });
    await fn({ client, call, ok, fails, ws, root });
  } catch (e) {
    console.error('server stderr:\n' + stderr);
    throw e;
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

const plan = (ok, steps, extra = {}) =>
  ok('create_task_plan', { workspace_id: 'w', steps, auto_approve: true, ...extra });

test('independent steps overlap in time and a dependent step waits for both', () => withWorkspace(async ({ ok, ws }) => {
  const p = await plan(ok, [
    { id: 'a', command: 'sleep 1; echo a > a.txt' },
    { id: 'b', command: 'sleep 1; echo b > b.txt' },
    { id: 'c', command: ['cat', 'a.txt', 'b.txt'], depends_on: ['a', 'b'] },
  ]);
  assert.equal(p.planner, 'explicit');
  assert.equal(p.status, 'approved');
  const started = Date.now();
  const r = await ok('execute_task_plan', { plan_id: p.plan_id });
  const elapsed = Date.now() - started;
  assert.equal(r.status, 'succeeded');
  assert.equal(r.exit_code, 0);
  assert.deepEqual(r.steps.map((s) => s.step_id), ['a', 'b', 'c']);
  const [a, b, c] = r.steps;
  assert.ok(ms(a.started_at) < ms(b.finished_at) && ms(b.started_at) < ms(a.finished_at), 'a and b overlap');
  assert.ok(ms(c.started_at) >= Math.max(ms(a.finished_at), ms(b.finished_at)), 'c starts after a and b');
  assert.ok(elapsed < 1900, `two 1 s steps in parallel took ${elapsed} ms`);
  assert.equal(c.stdout_tail, 'a\nb\n');
  // Steps running at the same time share the tree: a's listing may include b's file.
  assert.ok(a.files.added.includes('a.txt'), JSON.stringify(a.files));
  assert.ok(!a.files.added.includes('README.md'));
  assert.deepEqual(c.files.added, []);
  assert.ok(fs.existsSync(path.join(ws.path, 'b.txt')));
  const after = await ok('get_plan', { plan_id: p.plan_id });
  assert.equal(after.status, 'completed');
}));

test('a step over its timeout is killed, marked timed_out, and its dependents are skipped', () =>
  withWorkspace(async ({ ok }) => {
    const p = await plan(ok, [
      { id: 'slow', command: 'sleep 20', timeout_s: 1 },
      { id: 'after', command: 'echo never', depends_on: ['slow'] },
    ]);
    const started = Date.now();
    const r = await ok('execute_task_plan', { plan_id: p.plan_id });
    assert.ok(Date.now() - started < 5000, 'the timeout ended the step');
    assert.equal(r.status, 'failed');
    assert.equal(r.steps[0].status, 'timed_out');
    assert.equal(r.steps[0].timed_out, true);
    assert.equal(r.steps[0].reason, 'the step ran longer than its timeout of 1 s');
    assert.equal(r.steps[1].status, 'skipped');
    assert.equal(r.steps[1].reason, "step 'slow' it depends on did not succeed");
    assert.equal((await ok('get_plan', { plan_id: p.plan_id })).status, 'failed');
  }));

test('a retryable step that fails once succeeds on its second attempt', () => withWorkspace(async ({ ok }) => {
  const p = await plan(ok, [{
    id: 'flaky',
    command: 'if [ -f .tried ]; then echo second; else touch .tried; echo first >&2; exit 3; fi',
    retryable: true,
    retry: { attempts: 3, backoff_ms: 50 },
  }]);
  const r = await ok('execute_task_plan', { plan_id: p.plan_id });
  assert.equal(r.status, 'succeeded');
  const s = r.steps[0];
  assert.equal(s.attempts.length, 2);
  assert.equal(s.attempts[0].exit_code, 3);
  assert.equal(s.attempts[0].status, 'failed');
  assert.equal(s.attempts[1].exit_code, 0);
  assert.equal(s.stdout_tail, 'second\n', 'the log holds the last attempt');
}));

test('continue_on_error lets the plan go on and succeed; a plain failure stops it', () =>
  withWorkspace(async ({ ok }) => {
    const lenient = await plan(ok, [
      { id: 'lint', command: 'exit 2', continue_on_error: true },
      { id: 'test', command: 'echo tested', depends_on: ['lint'] },
    ]);
    const r1 = await ok('execute_task_plan', { plan_id: lenient.plan_id });
    assert.equal(r1.status, 'succeeded');
    assert.deepEqual(r1.steps.map((s) => [s.status, s.exit_code]), [['failed', 2], ['succeeded', 0]]);

    const strict = await plan(ok, [
      { id: 'first', command: 'exit 4' },
      { id: 'second', command: 'echo no', depends_on: ['first'] },
    ]);
    const r2 = await ok('execute_task_plan', { plan_id: strict.plan_id });
    assert.equal(r2.status, 'failed');
    assert.equal(r2.exit_code, 4);
    assert.deepEqual(r2.steps.map((s) => s.status), ['failed', 'skipped']);
  }));

test('cancel_execution kills the running step within a second and the plan ends cancelled', () =>
  withWorkspace(async ({ ok, fails }) => {
    const p = await plan(ok, [
      { id: 'long', command: 'sleep 30' },
      { id: 'next', command: 'echo no', depends_on: ['long'] },
    ]);
    const running = ok('execute_task_plan', { plan_id: p.plan_id });
    let execution;
    for (let i = 0; i < 50 && !execution; ++i) {
      await sleep(100);
      const h = await ok('get_execution_history', { workspace_id: 'w', status: 'running' });
      execution = h.executions[0];
    }
    assert.ok(execution, 'the execution shows as running');
    assert.equal(execution.plan_id, p.plan_id);
    assert.equal((await ok('get_plan', { plan_id: p.plan_id })).status, 'executing');
    assert.match(await fails('execute_task_plan', { plan_id: p.plan_id }), /is already executing/);
    const cancelledAt = Date.now();
    const c = await ok('cancel_execution', { execution_id: execution.execution_id });
    assert.equal(c.status, 'cancelling');
    const r = await running;
    assert.ok(Date.now() - cancelledAt < 1500, `cancellation took ${Date.now() - cancelledAt} ms`);
    assert.equal(r.status, 'cancelled');
    assert.deepEqual(r.steps.map((s) => s.status), ['cancelled', 'skipped']);
    assert.equal((await ok('get_plan', { plan_id: p.plan_id })).status, 'cancelled');
  }));

test('aborting the request through the SDK AbortSignal cancels the execution', () =>
  withWorkspace(async ({ call, ok }) => {
    const p = await plan(ok, [{ id: 'long', command: 'sleep 30' }]);
    const controller = new AbortController();
    const pending = call('execute_task_plan', { plan_id: p.plan_id }, { signal: controller.signal, timeout: 60000 });
    await sleep(700);
    const abortedAt = Date.now();
    controller.abort('user stopped it');
    await assert.rejects(pending);
    let execution;
    for (let i = 0; i < 30; ++i) {
      const h = await ok('get_execution_history', { workspace_id: 'w', plan_id: p.plan_id });
      execution = h.executions[0];
      if (execution && execution.status !== 'running') break;
      await sleep(50);
    }
    assert.ok(Date.now() - abortedAt < 1500, 'the step was killed within about a second');
    assert.equal(execution.status, 'cancelled');
    assert.equal(execution.steps[0].status, 'cancelled');
    assert.equal((await ok('get_plan', { plan_id: p.plan_id })).status, 'cancelled');
  }));

test('plans are refused for cycles and unknown dependencies, naming the steps', () =>
  withWorkspace(async ({ fails }) => {
    assert.match(await fails('create_task_plan', { workspace_id: 'w', steps: [
      { id: 'a', command: 'true', depends_on: ['b'] }, { id: 'b', command: 'true', depends_on: ['a'] }] }),
    /depends_on forms a cycle: a -> b -> a/);
    assert.match(await fails('create_task_plan', { workspace_id: 'w', steps: [
      { id: 'a', command: 'true', depends_on: ['ghost'] }] }),
    /step 'a': depends on unknown step 'ghost'; the steps are: a/);
    assert.match(await fails('execute_task_plan', { plan_id: 'plan-nope' }), /plan 'plan-nope' not found/);
    assert.match(await fails('cancel_execution', { execution_id: 'exec-nope' }), /execution 'exec-nope' not found/);
  }));

test('approval, update, rejection and listing move plans through their states', () =>
  withWorkspace(async ({ ok, fails }) => {
    const p = await ok('create_task_plan', { workspace_id: 'w', steps: [{ command: 'echo one' }] });
    assert.equal(p.status, 'pending_approval');
    assert.match(await fails('execute_task_plan', { plan_id: p.plan_id }), /must be approved/);
    assert.equal((await ok('approve_plan', { plan_id: p.plan_id })).status, 'approved');
    const updated = await ok('update_plan', { plan_id: p.plan_id, steps: [{ id: 'two', command: 'echo two' }] });
    assert.equal(updated.status, 'pending_approval', 'edited steps need approval again');
    assert.deepEqual(updated.steps.map((s) => s.id), ['two']);
    assert.notEqual(updated.updated_at, '');
    const rejected = await ok('reject_plan', { plan_id: p.plan_id, reason: 'wrong target' });
    assert.equal(rejected.status, 'rejected');
    assert.equal(rejected.status_reason, 'wrong target');
    assert.match(await fails('approve_plan', { plan_id: p.plan_id }), /was rejected/);
    assert.match(await fails('update_plan', { plan_id: p.plan_id, steps: [{ command: 'x' }] }), /is rejected/);
    const q = await plan(ok, [{ command: 'echo three' }]);
    await ok('execute_task_plan', { plan_id: q.plan_id });
    assert.match(await fails('update_plan', { plan_id: q.plan_id, steps: [{ command: 'x' }] }), /is completed/);
    const list = await ok('list_plans', { workspace_id: 'w' });
    assert.deepEqual(list.plans.map((x) => [x.plan_id, x.status]),
      [[q.plan_id, 'completed'], [p.plan_id, 'rejected']]);
  }));

test('history filters by status and time and pages with a cursor', () => withWorkspace(async ({ ok, fails }) => {
  const before = new Date().toISOString();
  for (const cmd of ['echo 1', 'exit 1', 'echo 3', 'echo 4']) {
    await ok('exec_command', { workspace_id: 'w', command: cmd });
    await sleep(5);
  }
  const page1 = await ok('get_execution_history', { workspace_id: 'w', limit: 3 });
  assert.equal(page1.count, 3);
  assert.deepEqual(page1.executions.map((e) => e.steps[0].title), ['echo 4', 'echo 3', 'exit 1']);
  assert.equal(typeof page1.next_cursor, 'string');
  const page2 = await ok('get_execution_history', { workspace_id: 'w', limit: 3, cursor: page1.next_cursor });
  assert.deepEqual(page2.executions.map((e) => e.steps[0].title), ['echo 1']);
  assert.equal(page2.next_cursor, null);
  const failed = await ok('get_execution_history', { workspace_id: 'w', status: 'failed' });
  assert.deepEqual(failed.executions.map((e) => e.steps[0].title), ['exit 1']);
  assert.equal((await ok('get_execution_history', { workspace_id: 'w', since: before })).count, 4);
  const future = new Date(Date.now() + 3600_000).toISOString();
  assert.equal((await ok('get_execution_history', { workspace_id: 'w', since: future })).count, 0);
  assert.match(await fails('get_execution_history', { workspace_id: 'w', since: 'yesterday' }),
    /since: 'yesterday' is not an RFC 3339 UTC time/);
  assert.match(await fails('get_execution_history', { workspace_id: 'w', cursor: 'garbage' }),
    /cursor: 'garbage' is not a cursor of this server/);
}));

test('full output goes to a capped log read in slices; history keeps the tail', () => withWorkspace(async ({ ok, fails }) => {
  const p = await plan(ok, [{ id: 'loud', command: 'yes 0123456789 | head -c 300000; echo err >&2' }]);
  const r = await ok('execute_task_plan', { plan_id: p.plan_id });
  const s = r.steps[0];
  assert.equal(s.status, 'succeeded');
  assert.equal(s.output_truncated, true);
  assert.equal(s.stdout_tail.length, 4096);
  assert.equal(s.logs.stdout.bytes, 100000, 'the log is capped at performance.max_output_bytes');
  assert.equal(s.logs.stdout.truncated, true);
  assert.equal(s.logs.stderr.truncated, false);
  let offset = 0;
  let data = '';
  for (let i = 0; i < 10; ++i) {
    const slice = await ok('get_execution_log',
      { execution_id: r.execution_id, step_id: 'loud', stream: 'stdout', offset, limit: 40000 });
    data += slice.data;
    offset = slice.next_offset;
    if (slice.eof) break;
  }
  assert.ok(data.startsWith('0123456789\n0123456789\n'));
  assert.match(data, /\[intelligent-sandbox: output truncated at 100000 bytes/);
  const err = await ok('get_execution_log', { execution_id: r.execution_id, step_id: 'loud', stream: 'stderr' });
  assert.equal(err.data, 'err\n');
  assert.equal(err.eof, true);
  assert.match(await fails('get_execution_log', { execution_id: r.execution_id, step_id: 'nope', stream: 'stdout' }),
    /has no step 'nope'; its steps are: loud/);
}, { SANDBOX_PERFORMANCE_MAX_OUTPUT_BYTES: '100000' }));
