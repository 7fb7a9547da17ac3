// execution_projects.test.mjs: real fixture projects (tests/fixtures/projects)
// planned from plain words through the analysis, executed on the process
// backend, and checked for step order, exit codes, test counts and the files
// the build produced. Uses only toolchains on the test host: python3, node,
// cmake/ctest with cc, cargo (offline, no dependencies), make.
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
const fixtures = path.resolve(here, '../fixtures/projects');
const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

// The executor and planner are under test here, not the jail: commands run
// as plain child processes so the tests also pass on hosts (containers)
// where namespaces cannot be built.
function serverConfig(root) {
  const file = path.join(root, 'sandbox.yaml');
  fs.writeFileSync(file, 'plugins:\n  settings:\n    process:\n      disable: [namespaces]\n');
  return file;
}

// Plans `task` for a copy of fixture `name`, approves, executes; returns
// {plan, run}. Progress notifications are collected to check they arrive.
async function planAndRun(name, task, editSteps) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `isb-proj-${name}-`));
  const transport = new StdioClientTransport({
    command: binary,
    args: ['serve', '--config', serverConfig(root)],
    env: { ...process.env, SANDBOX_BASE_DIR: path.join(root, 'state'), SANDBOX_LOG_LEVEL: 'warning',
      // The executor is under test here, not the security gate: run on hosts without the jail too.
      SANDBOX_SECURITY_ALLOW_DEGRADED: 'true',
      CARGO_NET_OFFLINE: 'true' },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const client = new Client({ name: 'isb-projects-e2e', version: '1.0.0' });
  await client.connect(transport);
  const ok = async (tool, args, options) => {
    const r = await client.callTool({ name: tool, arguments: args }, undefined, options);
    assert.equal(r.isError ?? false, false, `${tool}: ${text(r)}\nserver stderr:\n${stderr}`);
    return r.structuredContent;
  };
  try {
    const project = path.join(root, name);
    fs.cpSync(path.join(fixtures, name), project, { recursive: true });
    await ok('create_workspace', { source_path: project, workspace_id: name });
    const plan = await ok('create_task_plan', { workspace_id: name, task_description: task });
    assert.equal(plan.status, 'pending_approval');
    if (editSteps) {
      const edited = await ok('update_plan', { plan_id: plan.plan_id, steps: editSteps(plan.steps) });
      assert.equal(edited.status, 'pending_approval');
    }
    await ok('approve_plan', { plan_id: plan.plan_id });
    const progress = [];
    const run = await ok('execute_task_plan', { plan_id: plan.plan_id },
      { timeout: 180000, onprogress: (p) => progress.push(p) });
    const history = await ok('get_execution_history', { workspace_id: name, plan_id: plan.plan_id });
    return { plan, run, progress, history };
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

const phases = (plan) => plan.steps.map((s) => s.phase);
const statuses = (run) => run.steps.map((s) => [s.step_id, s.status, s.exit_code]);

test('python unittest: one failing test is counted and named', { timeout: 120000 }, async () => {
  const { plan, run, history } = await planAndRun('python-unittest', 'just run the tests');
  assert.deepEqual(phases(plan), ['test']);
  assert.equal(run.status, 'failed');
  assert.equal(run.exit_code, 1);
  const t = run.steps[0].tests;
  assert.deepEqual([t.passed, t.failed, t.skipped], [2, 1, 0]);
  assert.deepEqual(t.failing_tests, ['test_mathlib.MathTest.test_divide_rounds']);
  assert.equal(t.source, 'summary:unittest');
  assert.deepEqual(history.executions[0].steps[0].tests, t, 'the history keeps the test counts');
});

test('node: build script then node --test via npm test, in that order', { timeout: 120000 }, async () => {
  const { plan, run, progress } = await planAndRun('node-scripts', 'build it and run the tests without installing');
  assert.deepEqual(phases(plan), ['build', 'test']);
  assert.deepEqual(plan.steps[1].depends_on, [plan.steps[0].id]);
  assert.deepEqual(statuses(run), [[plan.steps[0].id, 'succeeded', 0], [plan.steps[1].id, 'succeeded', 0]]);
  assert.ok(run.steps[0].files.added.includes('dist/index.js'), JSON.stringify(run.steps[0].files));
  assert.ok(Date.parse(run.steps[1].started_at) >= Date.parse(run.steps[0].finished_at));
  const t = run.steps[1].tests;
  assert.deepEqual([t.passed, t.failed, t.skipped], [2, 0, 0]);
  assert.ok(progress.length >= 2, `progress notifications: ${progress.length}`);
  for (let k = 1; k < progress.length; ++k) assert.ok(progress[k].progress > progress[k - 1].progress);
});

test('cmake: tests imply the build; ctest results come back', { timeout: 150000 }, async () => {
  const { plan, run } = await planAndRun('cmake-ctest', 'run the tests');
  assert.deepEqual(phases(plan), ['build', 'test']);
  assert.equal(plan.steps[0].provenance.implied_by, 'test');
  assert.equal(run.status, 'succeeded', JSON.stringify(run.steps.map((s) => s.stderr_tail)));
  const t = run.steps[1].tests;
  assert.deepEqual([t.passed, t.failed, t.skipped], [2, 0, 0]);
});

test('cargo: build then test offline, two tests pass', { timeout: 170000 }, async () => {
  // The sandbox's HOME is the workspace, so rustup must be told where the
  // toolchains are; the planned steps are edited and approved again for it.
  const home = os.homedir();
  const env = { RUSTUP_HOME: process.env.RUSTUP_HOME ?? path.join(home, '.rustup'),
    CARGO_HOME: process.env.CARGO_HOME ?? path.join(home, '.cargo') };
  const { plan, run } = await planAndRun('cargo-lib', 'build and test, skip the install',
    (steps) => steps.map((s) => ({ ...s, env: { ...s.env, ...env } })));
  assert.deepEqual(phases(plan), ['build', 'test']);
  assert.equal(run.status, 'succeeded', JSON.stringify(run.steps.map((s) => s.stderr_tail)));
  const t = run.steps[1].tests;
  assert.deepEqual([t.passed, t.failed, t.source], [2, 0, 'summary:cargo']);
});

test('make: the check target runs as the test step', { timeout: 60000 }, async () => {
  const { plan, run } = await planAndRun('make-check', 'just run the checks');
  assert.deepEqual(phases(plan), ['test']);
  assert.deepEqual(plan.steps[0].argv ?? plan.steps[0].shell.split(' '), ['make', 'check']);
  assert.equal(run.status, 'succeeded');
  assert.equal(run.steps[0].stdout_tail, 'check passed\n');
});
