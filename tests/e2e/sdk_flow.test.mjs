// sdk_flow.test.mjs: the seed's whole flow, driven over stdio by the official
// MCP TypeScript SDK client (which validates every structuredContent against
// the tool's outputSchema). Run: ISB_BINARY=build/bin/intelligent-sandbox node --test e2e/
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
const fixture = path.resolve(here, '../fixtures/python-unittest');

// A private copy of the fixture with a credential directory that must never
// reach the workspace, in a fresh state directory.
function setUp() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-e2e-'));
  const project = path.join(root, 'project');
  fs.cpSync(fixture, project, { recursive: true });
  fs.mkdirSync(path.join(project, '.ssh'));
  fs.writeFileSync(path.join(project, '.ssh', 'id_ed25519'), 'not a real key\n');
  return { root, project, baseDir: path.join(root, 'state') };
}

async function connect(baseDir) {
  const transport = new StdioClientTransport({
    command: binary,
    args: ['serve'],
    env: { ...process.env, SANDBOX_BASE_DIR: baseDir, SANDBOX_LOG_LEVEL: 'warning' },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const client = new Client({ name: 'isb-e2e', version: '1.0.0' });
  await client.connect(transport);
  return { client, stderrText: () => stderr };
}

const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

test('official SDK client completes create -> analyze -> plan -> approve -> execute -> history -> destroy', async () => {
  const { root, project, baseDir } = setUp();
  const { client, stderrText } = await connect(baseDir);
  try {
    assert.equal(client.getServerVersion()?.name, 'intelligent-sandbox');

    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const seed of ['create_workspace', 'analyze_codebase', 'create_task_plan', 'execute_task_plan',
      'get_execution_history', 'destroy_workspace', 'get_sandbox_status', 'approve_plan', 'list_workspaces',
      'exec_command']) {
      assert.ok(names.includes(seed), `tools/list lacks ${seed}`);
    }
    for (const t of tools) {
      assert.equal(t.inputSchema.type, 'object', `${t.name} inputSchema`);
      assert.equal(t.outputSchema?.type, 'object', `${t.name} outputSchema`);
    }

    const created = await client.callTool({ name: 'create_workspace',
      arguments: { source_path: project, workspace_id: 'e2e-calc' } });
    assert.equal(created.isError, false, text(created));
    const ws = created.structuredContent;
    assert.equal(ws.workspace_id, 'e2e-calc');
    assert.equal(ws.status, 'active');
    assert.deepEqual(JSON.parse(text(created)), ws, 'text block carries the same JSON');
    assert.ok(fs.existsSync(path.join(ws.path, 'test_calc.py')));
    assert.ok(!fs.existsSync(path.join(ws.path, '.ssh')), 'credentials must never be copied');
    assert.deepEqual(ws.copy.skipped_credentials, ['.ssh']);

    const analysis = await client.callTool({ name: 'analyze_codebase', arguments: { workspace_id: 'e2e-calc' } });
    assert.equal(analysis.isError, false, text(analysis));
    assert.equal(analysis.structuredContent.primary_language, 'Python');
    const py = analysis.structuredContent.projects.find((p) => p.ecosystem === 'python');
    assert.ok(py, 'a python project is detected');
    assert.deepEqual(py.commands.test.argv.slice(0, 3), ['python3', '-m', 'unittest']);
    assert.ok(py.commands.test.evidence.some((e) => e.file === 'test_calc.py'));

    const plan = await client.callTool({ name: 'create_task_plan',
      arguments: { workspace_id: 'e2e-calc', task_description: 'run the tests' } });
    assert.equal(plan.isError, false, text(plan));
    assert.equal(plan.structuredContent.status, 'pending_approval');
    assert.equal(plan.structuredContent.steps.length, 1);
    assert.equal(plan.structuredContent.steps[0].phase, 'test');
    const planId = plan.structuredContent.plan_id;

    const refused = await client.callTool({ name: 'execute_task_plan', arguments: { plan_id: planId } });
    assert.equal(refused.isError, true);
    assert.match(text(refused), /must be approved/);

    const approved = await client.callTool({ name: 'approve_plan', arguments: { plan_id: planId } });
    assert.equal(approved.structuredContent.status, 'approved');

    const run = await client.callTool({ name: 'execute_task_plan', arguments: { plan_id: planId } });
    assert.equal(run.isError, false, text(run));
    assert.equal(run.structuredContent.status, 'failed');
    assert.notEqual(run.structuredContent.exit_code, 0);
    assert.match(run.structuredContent.steps[0].stderr_tail, /test_add_wrong/);

    const history = await client.callTool({ name: 'get_execution_history', arguments: { workspace_id: 'e2e-calc' } });
    assert.equal(history.isError, false, text(history));
    const execution = history.structuredContent.executions.find((e) => e.plan_id === planId);
    assert.ok(execution, 'the plan execution is in history');
    assert.equal(execution.status, 'failed');
    assert.equal(execution.steps[0].status, 'failed');
    assert.equal(execution.steps[0].exit_code, 1, 'unittest exits 1 when a test fails');

    const destroyed = await client.callTool({ name: 'destroy_workspace', arguments: { workspace_id: 'e2e-calc' } });
    assert.equal(destroyed.isError, false, text(destroyed));
    assert.equal(fs.existsSync(ws.path), false, 'the workspace directory is gone');

    const after = await client.callTool({ name: 'get_execution_history', arguments: { workspace_id: 'e2e-calc' } });
    assert.equal(after.structuredContent.workspace_status, 'destroyed', 'history outlives the workspace');

    const status = await client.callTool({ name: 'get_sandbox_status', arguments: {} });
    assert.equal(status.structuredContent.isolation.backend, 'process');
    assert.equal(status.structuredContent.workspaces.active, 0);
  } catch (e) {
    console.error('server stderr:\n' + stderrText());
    throw e;
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('bad input gets tool errors that name what was wrong, and nothing is created', async () => {
  const { root, project, baseDir } = setUp();
  const { client } = await connect(baseDir);
  try {
    await client.listTools();
    const bad = async (name, args) => {
      const r = await client.callTool({ name, arguments: args });
      assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} should fail`);
      return text(r);
    };
    assert.match(await bad('create_workspace', { source_path: project, workspace_id: '../x' }), /invalid workspace_id '\.\.\/x'/);
    assert.match(await bad('create_workspace', { source_path: project, workspace_id: 'a/b' }), /invalid workspace_id 'a\/b'/);
    assert.match(await bad('create_workspace', { source_path: '/etc' }), /never allowed/);
    assert.match(await bad('create_workspace', { source_path: path.join(root, 'missing') }), /does not exist/);
    assert.match(await bad('analyze_codebase', { workspace_id: 'nope' }), /workspace 'nope' not found/);
    assert.match(await bad('approve_plan', { plan_id: 'plan-000' }), /plan 'plan-000' not found/);
    assert.match(await bad('analyze_codebase', {}), /workspace_id/);
    const workspaces = path.join(baseDir, 'workspaces');
    assert.deepEqual(fs.readdirSync(workspaces), [], 'no workspace directory was created');
    const list = await client.callTool({ name: 'list_workspaces', arguments: {} });
    assert.equal(list.structuredContent.count, 0);
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
