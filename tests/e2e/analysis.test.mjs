// analysis.test.mjs: analyze_codebase end to end through the official MCP SDK
// client (which validates structuredContent against the outputSchema, i.e.
// docs/schemas/analysis.schema.json): CI commands outrank ecosystem defaults
// in the merged facts, the fingerprint cache answers an unchanged workspace and
// any change invalidates it, and depth quick skips line counting.
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
const fixture = path.resolve(here, '../fixtures/analysis/ci-custom');

const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

test('analyze_codebase ranks CI commands first, caches by fingerprint, and honours depth', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-e2e-analysis-'));
  // The process backend's jail binds the workspace as another user: the
  // scratch root must be traversable, not mkdtemp's 0700.
  fs.chmodSync(root, 0o755);
  const project = path.join(root, 'project');
  fs.cpSync(fixture, project, { recursive: true });
  const transport = new StdioClientTransport({
    command: binary,
    args: ['serve'],
    env: { ...process.env, SANDBOX_BASE_DIR: path.join(root, 'state'), SANDBOX_LOG_LEVEL: 'warning' },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'isb-e2e-analysis', version: '1.0.0' });
  await client.connect(transport);
  try {
    const created = await client.callTool({ name: 'create_workspace',
      arguments: { source_path: project, workspace_id: 'e2e-analysis' } });
    assert.equal(created.isError, false, text(created));
    const wsPath = created.structuredContent.path;

    const first = await client.callTool({ name: 'analyze_codebase', arguments: { workspace_id: 'e2e-analysis' } });
    assert.equal(first.isError, false, text(first));
    const a = first.structuredContent;
    assert.equal(a.schema_version, 2);
    assert.equal(a.cached, false);
    assert.match(a.fingerprint, /^[0-9a-f]{16}$/);
    assert.deepEqual(a.analyzers.map((x) => x.id).sort(), ['ci', 'codebase', 'languages']);
    assert.equal(a.primary_language, 'Python');

    const py = a.projects.find((p) => p.ecosystem === 'python' && p.path === '.');
    assert.ok(py, JSON.stringify(a.projects));
    // CI runs only the unit tests: that beats the ecosystem's default.
    assert.deepEqual(py.commands.test.argv, ['python', '-m', 'pytest', '-q', 'tests/unit']);
    assert.equal(py.commands.test.source, 'ci_workflow');
    assert.deepEqual(py.commands.test.evidence[0], { file: '.github/workflows/ci.yml', line: 16,
      detail: 'CI job "test", Unit tests only runs it' });
    assert.deepEqual(py.commands.lint.argv, ['ruff', 'check', 'pkg', 'tests']);
    assert.equal(py.commands.install.shell, 'pip install -e ".[dev]"');
    assert.equal(py.commands.install.source, 'ci_workflow');
    assert.deepEqual(a.ci.map((c) => [c.line, c.kind]), [[12, 'install'], [14, 'lint'], [16, 'test']]);

    const second = await client.callTool({ name: 'analyze_codebase', arguments: { workspace_id: 'e2e-analysis' } });
    assert.equal(second.isError, false, text(second));
    assert.equal(second.structuredContent.cached, true);
    assert.equal(second.structuredContent.fingerprint, a.fingerprint);
    assert.deepEqual(second.structuredContent.projects, a.projects);

    fs.appendFileSync(path.join(wsPath, 'pkg', '__init__.py'), '\n\ndef triple(x):\n    return 3 * x\n');
    const third = await client.callTool({ name: 'analyze_codebase', arguments: { workspace_id: 'e2e-analysis' } });
    assert.equal(third.structuredContent.cached, false);
    assert.notEqual(third.structuredContent.fingerprint, a.fingerprint);
    const pyLang = (doc) => doc.languages.find((l) => l.name === 'Python');
    assert.equal(pyLang(third.structuredContent).code, pyLang(a).code + 2);

    const quick = await client.callTool({ name: 'analyze_codebase',
      arguments: { workspace_id: 'e2e-analysis', depth: 'quick' } });
    assert.equal(quick.isError, false, text(quick));
    assert.equal(quick.structuredContent.options.depth, 'quick');
    assert.deepEqual(quick.structuredContent.languages, []);
    assert.equal(quick.structuredContent.projects.find((p) => p.ecosystem === 'python').commands.test.source,
      'ci_workflow');

    const bad = await client.callTool({ name: 'analyze_codebase',
      arguments: { workspace_id: 'e2e-analysis', depth: 'deep' } });
    assert.equal(bad.isError, true);
    assert.match(text(bad), /depth/);
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
