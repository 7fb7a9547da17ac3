// workspace_files.test.mjs: the file and change tools over stdio with the
// official MCP SDK client (which validates structuredContent against each
// tool's outputSchema), hostile paths refused with a clear message, and
// restart recovery: the server is SIGKILLed and started again on the same
// state, and the workspace is listed and usable with its changes.
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

function setUp() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-e2e-files-'));
  fs.chmodSync(root, 0o755);  // the process backend's jail runs as another uid
  const project = path.join(root, 'project');
  fs.mkdirSync(path.join(project, 'src'), { recursive: true });
  fs.writeFileSync(path.join(project, 'src', 'app.py'), 'def add(a, b):\n    return a + b\n');
  fs.writeFileSync(path.join(project, 'README.md'), 'demo\n');
  fs.writeFileSync(path.join(root, 'outside.txt'), 'OUTSIDE\n');
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
  const client = new Client({ name: 'isb-e2e-files', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport, stderrText: () => stderr };
}

const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

async function call(client, name, args) {
  const r = await client.callTool({ name, arguments: args });
  assert.equal(r.isError, false, `${name}: ${text(r)}`);
  return r.structuredContent;
}

test('file tools, diff, export and apply_changes over MCP; hostile paths refused', async () => {
  const { root, project, baseDir } = setUp();
  const { client, stderrText } = await connect(baseDir);
  try {
    await call(client, 'create_workspace', { source_path: project, workspace_id: 'files', mode: 'copy' });
    const w = await call(client, 'write_file',
      { workspace_id: 'files', path: 'src/app.py', content: 'def add(a, b):\n    return b + a\n' });
    assert.equal(w.created, false);
    await call(client, 'write_file', { workspace_id: 'files', path: 'docs/new.md', content: '# new\n' });
    await call(client, 'delete_file', { workspace_id: 'files', path: 'README.md' });

    const read = await call(client, 'read_file', { workspace_id: 'files', path: 'docs/new.md' });
    assert.equal(read.content, '# new\n');
    const list = await call(client, 'list_files', { workspace_id: 'files', path: '', recursive: true, glob: '*.py' });
    assert.deepEqual(list.entries.map((e) => e.path), ['src/app.py']);
    const found = await call(client, 'search_files', { workspace_id: 'files', pattern: 'return b' });
    assert.deepEqual(found.matches, [{ path: 'src/app.py', line: 2, text: '    return b + a' }]);

    for (const bad of ['../outside.txt', '/etc/passwd', 'src/../../outside.txt']) {
      const r = await client.callTool({ name: 'read_file', arguments: { workspace_id: 'files', path: bad } });
      assert.equal(r.isError, true, `read_file ${bad} must fail`);
      assert.match(text(r), /absolute|'\.\.'|outside the workspace/);
      assert.doesNotMatch(text(r), /OUTSIDE|root:/);
    }

    const diff = await call(client, 'get_workspace_diff', { workspace_id: 'files' });
    assert.deepEqual(diff.summary, { added: 1, modified: 1, deleted: 1 });
    assert.deepEqual(diff.files.map((f) => [f.path, f.status]),
      [['README.md', 'deleted'], ['docs/new.md', 'added'], ['src/app.py', 'modified']]);
    assert.equal(diff.files[2].diff,
      '--- a/src/app.py\n+++ b/src/app.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a + b\n+    return b + a\n');

    const exp = await call(client, 'export_workspace', { workspace_id: 'files', format: 'zip', changes_only: true });
    assert.ok(fs.existsSync(exp.path), exp.path);
    assert.equal(fs.statSync(exp.path).size, exp.size_bytes);
    assert.equal(exp.entries, 2);
    assert.deepEqual(exp.deleted, ['README.md']);

    const refused = await client.callTool({ name: 'apply_changes', arguments: { workspace_id: 'files', target_path: '/etc' } });
    assert.equal(refused.isError, true);
    assert.match(text(refused), /target_path refused/);

    const applied = await call(client, 'apply_changes', { workspace_id: 'files', target_path: project });
    assert.deepEqual(applied.written, ['docs/new.md', 'src/app.py']);
    assert.deepEqual(applied.deleted, ['README.md']);
    assert.equal(fs.readFileSync(path.join(project, 'src', 'app.py'), 'utf8'), 'def add(a, b):\n    return b + a\n');
    assert.ok(!fs.existsSync(path.join(project, 'README.md')));
    await call(client, 'destroy_workspace', { workspace_id: 'files' });
  } catch (e) {
    e.message += `\nserver stderr:\n${stderrText()}`;
    throw e;
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('after SIGKILL and restart the overlay workspace is listed and usable with its changes', async () => {
  const { root, project, baseDir } = setUp();
  let { client, transport } = await connect(baseDir);
  try {
    const ws = await call(client, 'create_workspace', { source_path: project, workspace_id: 'survivor', mode: 'overlay' });
    assert.equal(ws.mode, 'overlay', JSON.stringify(ws));
    assert.equal(ws.isolation.workspace_ownership, 'idmapped_overlay_layers', JSON.stringify(ws.isolation));
    await call(client, 'write_file', { workspace_id: 'survivor', path: 'notes.txt', content: 'kept\n' });
    const pid = transport.pid;
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await client.close().catch(() => {});

    ({ client, transport } = await connect(baseDir));
    const listed = await call(client, 'list_workspaces', {});
    assert.deepEqual(listed.workspaces.map((w) => [w.workspace_id, w.mode]), [['survivor', 'overlay']]);
    const read = await call(client, 'read_file', { workspace_id: 'survivor', path: 'notes.txt' });
    assert.equal(read.content, 'kept\n');
    // The sandbox user owns both what write_file created and the source's
    // files (the overlay sits on idmapped layers), so a command changes both.
    const run = await call(client, 'exec_command', {
      workspace_id: 'survivor', command: 'echo more >> notes.txt && echo changed >> README.md' });
    assert.equal(run.exit_code, 0, JSON.stringify(run));
    assert.equal((await call(client, 'read_file', { workspace_id: 'survivor', path: 'notes.txt' })).content,
      'kept\nmore\n');
    const diff = await call(client, 'get_workspace_diff', { workspace_id: 'survivor' });
    assert.deepEqual(diff.files.map((f) => [f.path, f.status]), [['README.md', 'modified'], ['notes.txt', 'added']]);
    await call(client, 'destroy_workspace', { workspace_id: 'survivor' });
    assert.ok(!fs.existsSync(path.join(project, 'notes.txt')), 'the source is never written');
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
