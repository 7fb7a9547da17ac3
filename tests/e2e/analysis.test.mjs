// analysis.test.mjs: analyze_codebase end to end through the official MCP SDK
// client (which validates structuredContent against the outputSchema, i.e.
// docs/schemas/analysis.schema.json): CI commands outrank ecosystem defaults
// in the merged facts, the fingerprint cache answers an unchanged workspace and
// any change invalidates it, and depth quick skips line counting.
import { describe, test } from 'node:test';
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
    assert.deepEqual(a.analyzers.map((x) => x.id).sort(), ['ci', 'codebase', 'dependencies', 'languages']);
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

describe('analyze_codebase dependencies and frameworks', () => {
  test('names frameworks per project by default and lists every dependency with include_dependencies', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-e2e-deps-'));
    fs.chmodSync(root, 0o755);
    const project = path.join(root, 'project');
    fs.cpSync(path.resolve(here, '../fixtures/analysis/deps-node'), project, { recursive: true });
    const transport = new StdioClientTransport({
      command: binary,
      args: ['serve'],
      env: { ...process.env, SANDBOX_BASE_DIR: path.join(root, 'state'), SANDBOX_LOG_LEVEL: 'warning' },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'isb-e2e-deps', version: '1.0.0' });
    await client.connect(transport);
    try {
      const created = await client.callTool({ name: 'create_workspace',
        arguments: { source_path: project, workspace_id: 'e2e-deps' } });
      assert.equal(created.isError, false, text(created));

      // Default: counts and frameworks on the project, no dependency list.
      const summary = await client.callTool({ name: 'analyze_codebase',
        arguments: { workspace_id: 'e2e-deps', depth: 'quick' } });
      assert.equal(summary.isError, false, text(summary));
      const s = summary.structuredContent;
      assert.equal(s.options.include_dependencies, false);
      assert.equal(s.dependencies, undefined);
      const node = s.projects.find((p) => p.ecosystem === 'node' && p.path === '.');
      assert.ok(node, JSON.stringify(s.projects));
      assert.deepEqual(node.dependency_count, { direct: 6, transitive: 4 });
      assert.equal(node.test_framework, 'Jest');
      assert.deepEqual(node.frameworks.map((f) => [f.name, f.category, f.version]),
        [['Next.js', 'web', '14.1.0'], ['React', 'frontend', '18.2.0'], ['Jest', 'test', '29.7.0']]);
      assert.deepEqual(node.frameworks[0].evidence, [
        { file: 'package.json', line: 11, detail: 'declares next ^14.1.0 (runtime)' },
        { file: 'next.config.js', detail: 'next.config.js configures Next.js' }]);

      // include_dependencies: the full list; a different result, so not the cached one.
      const full = await client.callTool({ name: 'analyze_codebase',
        arguments: { workspace_id: 'e2e-deps', depth: 'quick', include_dependencies: true } });
      assert.equal(full.isError, false, text(full));
      const f = full.structuredContent;
      assert.equal(f.cached, false);
      assert.equal(f.options.include_dependencies, true);
      assert.equal(f.dependencies.length, 10);
      assert.deepEqual(f.dependencies.find((d) => d.name === 'next'), { ecosystem: 'npm', name: 'next',
        constraint: '^14.1.0', resolved: '14.1.0', scope: 'runtime', direct: true, file: 'package.json', line: 11,
        project: '.' });
      assert.deepEqual(f.dependencies.find((d) => d.name === 'ci-info'), { ecosystem: 'npm', name: 'ci-info',
        constraint: null, resolved: '3.9.0', scope: 'dev', direct: false, file: 'package-lock.json', line: 62,
        project: '.' });

      const bad = await client.callTool({ name: 'analyze_codebase',
        arguments: { workspace_id: 'e2e-deps', include_dependencies: 'yes' } });
      assert.equal(bad.isError, true);
      assert.match(text(bad), /include_dependencies/);
    } finally {
      await client.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('analyze_codebase monorepos, toolchains and nested .gitignore', () => {
  test('links workspace members to their root, reports toolchain hints and honours a nested .gitignore', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-e2e-mono-'));
    fs.chmodSync(root, 0o755);
    const project = path.join(root, 'project');
    fs.cpSync(path.resolve(here, '../fixtures/analysis/yarn-workspaces'), project, { recursive: true });
    // A member's own .gitignore applies to its subtree only.
    fs.writeFileSync(path.join(project, 'packages', 'server', '.gitignore'), '*.js\n');
    fs.writeFileSync(path.join(project, 'packages', 'ui', 'index.js'), 'module.exports = 1;\n');
    const transport = new StdioClientTransport({
      command: binary,
      args: ['serve'],
      env: { ...process.env, SANDBOX_BASE_DIR: path.join(root, 'state'), SANDBOX_LOG_LEVEL: 'warning' },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'isb-e2e-mono', version: '1.0.0' });
    await client.connect(transport);
    try {
      const created = await client.callTool({ name: 'create_workspace',
        arguments: { source_path: project, workspace_id: 'e2e-mono' } });
      assert.equal(created.isError, false, text(created));
      const result = await client.callTool({ name: 'analyze_codebase', arguments: { workspace_id: 'e2e-mono' } });
      assert.equal(result.isError, false, text(result));
      const a = result.structuredContent;
      const node = (p) => a.projects.find((x) => x.ecosystem === 'node' && x.path === p);
      const top = node('.');
      assert.deepEqual(top.members, ['packages/server', 'packages/ui']);
      assert.equal(top.workspace_file, 'package.json');
      assert.deepEqual(top.commands.install.argv, ['yarn', 'install', '--frozen-lockfile']);
      assert.deepEqual(top.toolchain, { node: { version: 'v20.11.1', source: '.nvmrc' } });
      const ui = node('packages/ui');
      assert.equal(ui.workspace_root, '.');
      assert.equal(ui.package_manager, 'yarn');
      assert.equal(ui.commands.install, undefined);
      assert.deepEqual(ui.commands.build.argv, ['yarn', 'run', 'build']);
      assert.equal(ui.commands.build.cwd, 'packages/ui');
      assert.equal(node('tools/scripts').workspace_root, undefined);
      // packages/server/index.js is ignored by its directory's .gitignore; packages/ui's files are not.
      assert.equal(a.files.skipped.ignored, 1);
      assert.equal(a.languages.find((l) => l.name === 'JavaScript').files, 2);
    } finally {
      await client.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
