// planning_intents.test.mjs: task text to plans through the real analyzer and
// the rules planner: a part of the task with no supporting fact is refused
// with what the analysis offers; several intents come out in phase order.
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

test('plans from plain words: refusals name what is missing, intents come in phase order', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-plan-'));
  const transport = new StdioClientTransport({
    command: binary,
    args: ['serve', '--config', serverConfig(root)],
    env: { ...process.env, SANDBOX_BASE_DIR: path.join(root, 'state'), SANDBOX_LOG_LEVEL: 'warning',
      // Planning is under test here, not the security gate: run on hosts without the jail too.
      SANDBOX_SECURITY_ALLOW_DEGRADED: 'true' },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'isb-plan-e2e', version: '1.0.0' });
  await client.connect(transport);
  const call = (name, args) => client.callTool({ name, arguments: args });
  try {
    const project = path.join(root, 'node');
    fs.cpSync(path.join(fixtures, 'node-scripts'), project, { recursive: true });
    // Only planned here, never run: a dependency makes install a real need.
    const manifest = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8'));
    manifest.devDependencies = { 'left-pad': '1.3.0' };
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify(manifest, null, 2));
    assert.equal((await call('create_workspace', { source_path: project, workspace_id: 'n' })).isError, false);

    const refused = await call('create_task_plan', { workspace_id: 'n', task_description: 'lint and test the code' });
    assert.equal(refused.isError, true);
    assert.match(text(refused), /has no fact for: lint \(no project has a lint command\)/);
    assert.match(text(refused), /It offers: .*build \(\.\).*test \(\.\)/);
    const list = await call('list_plans', { workspace_id: 'n' });
    assert.equal(list.structuredContent.count, 0, 'a refused plan is not stored');

    const multi = await call('create_task_plan',
      { workspace_id: 'n', task_description: 'Run the tests, then build it and run `node -e 1`' });
    assert.equal(multi.isError, false, text(multi));
    const p = multi.structuredContent;
    assert.equal(p.planner, 'rules');
    assert.deepEqual(p.intents, ['build', 'test', 'custom']);
    // The build needs the install first: implied, and its provenance says so.
    assert.deepEqual(p.steps.map((s) => [s.id, s.phase, s.depends_on]), [['install-1', 'install', []],
      ['build-1', 'build', ['install-1']], ['test-1', 'test', ['build-1']], ['custom-1', 'custom', ['test-1']]]);
    assert.equal(p.steps[0].provenance.implied_by, 'build');
    assert.equal(p.steps[3].shell, 'node -e 1');
    assert.equal(p.steps[1].provenance.fact, 'projects[0].commands.build');

    // Phrasing decides what is implied.
    const phases = async (task) => {
      const r = await call('create_task_plan', { workspace_id: 'n', task_description: task });
      assert.equal(r.isError, false, text(r));
      return r.structuredContent.steps.map((s) => s.phase);
    };
    assert.deepEqual(await phases('run the tests'), ['install', 'build', 'test']);
    assert.deepEqual(await phases('run the tests without installing'), ['build', 'test']);
    assert.deepEqual(await phases('just run the tests'), ['test']);

    // A project whose manifest declares no dependency has nothing to install.
    const bare = path.join(root, 'bare');
    fs.cpSync(path.join(fixtures, 'node-scripts'), bare, { recursive: true });
    assert.equal((await call('create_workspace', { source_path: bare, workspace_id: 'bare' })).isError, false);
    const barePlan = await call('create_task_plan', { workspace_id: 'bare', task_description: 'run the tests' });
    assert.equal(barePlan.isError, false, text(barePlan));
    assert.deepEqual(barePlan.structuredContent.steps.map((s) => s.phase), ['build', 'test']);

    const nothing = await call('create_task_plan', { workspace_id: 'n', task_description: 'make me a sandwich' });
    assert.equal(nothing.isError, true);
    assert.match(text(nothing), /found no intent in the task/);
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
