// analysis_symlink_race.test.mjs: security issue 13, finding 3, through the
// real server and the official MCP SDK client. Code inside a workspace swaps
// its project directories with symlinks to a root-owned 0700 host directory
// (renameat2 RENAME_EXCHANGE in a tight loop, in the background, by the static
// helper tests/e2e/helpers/rename_exchange.c) while analyze_codebase runs
// again and again with include_dependencies; no byte of the host secret may
// come back, neither file contents nor file names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = process.env.ISB_BINARY ?? path.resolve(here, '../../build/bin/intelligent-sandbox');
// Built by tests/CMakeLists.txt next to the server binary.
const helper = process.env.ISB_RENAME_EXCHANGE ?? path.join(path.dirname(binary), 'isb-test-rename-exchange');
const raceSeconds = Number(process.env.ISB_RACE_SECONDS ?? 15);

const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('analyze_codebase never returns host files that the workspace swaps in through symlinks', async () => {
  assert.ok(fs.existsSync(helper), `${helper} is missing; build the target isb-test-rename-exchange`);
  const marker = `isbsecret${crypto.randomBytes(8).toString('hex')}`;

  // The host's secret: a root-owned 0700 directory outside the workspace
  // (mkdtemp's mode), with the marker in the contents and the names of files
  // each analyzer reads or lists.
  const secret = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-e2e-host-secret-'));
  fs.chmodSync(secret, 0o700);
  const put = (dir, rel, content) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  };
  put(secret, 'package.json', JSON.stringify({ name: marker, version: '1.0.0',
    scripts: { build: marker, test: marker }, dependencies: { [marker]: '^1.0.0' } }));
  put(secret, 'package-lock.json', JSON.stringify({ name: marker, lockfileVersion: 3,
    packages: { '': { name: marker }, [`node_modules/${marker}`]: { version: '1.2.3' } } }));
  put(secret, 'requirements.txt', `${marker}==1.0\n`);
  put(secret, 'Cargo.toml', `[package]\nname = "${marker}"\nversion = "0.1.0"\n\n[dependencies]\n${marker} = "1"\n`);
  put(secret, 'ci.yml', `on: push\njobs:\n  ${marker}:\n    runs-on: x\n    steps:\n      - run: make ${marker}\n`);
  put(secret, `${marker}.min.js`, 'var a=1;\n');
  put(secret, `${marker}.csproj`, '<Project Sdk="Microsoft.NET.Sdk"></Project>\n');

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-e2e-race-'));
  // The process backend's jail binds the workspace as another user: the
  // scratch root must be traversable, not mkdtemp's 0700.
  fs.chmodSync(root, 0o755);
  const project = path.join(root, 'project');
  put(project, 'proj/package.json', JSON.stringify({ name: 'app', version: '1.0.0', scripts: { test: 'jest' } }));
  put(project, 'proj/requirements.txt', 'requests==2.31.0\n');
  put(project, 'proj/Cargo.toml', '[package]\nname = "app"\nversion = "0.1.0"\n');
  put(project, 'proj/main.py', "print('hello')\n");
  put(project, '.github/workflows/ci.yml', 'on: push\njobs:\n  test:\n    runs-on: x\n    steps:\n      - run: make test\n');
  fs.copyFileSync(helper, path.join(project, 'rename-exchange'));
  fs.chmodSync(path.join(project, 'rename-exchange'), 0o755);

  const transport = new StdioClientTransport({
    command: binary,
    args: ['serve'],
    env: { ...process.env, SANDBOX_BASE_DIR: path.join(root, 'state'), SANDBOX_LOG_LEVEL: 'warning' },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'isb-e2e-symlink-race', version: '1.0.0' });
  await client.connect(transport);
  try {
    const created = await client.callTool({ name: 'create_workspace',
      arguments: { source_path: project, workspace_id: 'e2e-race' } });
    assert.equal(created.isError, false, text(created));

    // The attacker: symlinks to the host secret, exchanged with the project
    // directories in the background for the whole race (and a little longer).
    const started = await client.callTool({ name: 'exec_command', arguments: { workspace_id: 'e2e-race',
      command: `ln -s ${secret} dlink && ln -s ${secret} .github/wlink && ` +
        `(./rename-exchange ${raceSeconds + 2} /tmp/swaps proj dlink .github/workflows .github/wlink ` +
        '</dev/null >/dev/null 2>&1 &)' } });
    assert.equal(started.isError, false, text(started));
    assert.equal(started.structuredContent.exit_code, 0, text(started));

    const until = Date.now() + raceSeconds * 1000;
    let analyses = 0;
    let fresh = 0;
    const errors = [];
    while (Date.now() < until) {
      const r = await client.callTool({ name: 'analyze_codebase',
        arguments: { workspace_id: 'e2e-race', include_dependencies: true } });
      const body = `${text(r)}\n${JSON.stringify(r.structuredContent ?? {})}`;
      assert.ok(!body.includes(marker), `an analysis returned the host's secret:\n${body.slice(0, 4000)}`);
      if (r.isError) errors.push(text(r));
      else {
        analyses += 1;
        if (!r.structuredContent.cached) fresh += 1;
      }
    }

    // The swaps really raced the analyses.
    let swaps = '';
    for (let i = 0; i < 50 && !swaps; ++i) {
      const s = await client.callTool({ name: 'exec_command',
        arguments: { workspace_id: 'e2e-race', command: 'cat /tmp/swaps 2>/dev/null || true' } });
      swaps = (s.structuredContent?.stdout ?? '').trim();
      if (!swaps) await sleep(200);
    }
    const count = Number(swaps.split(/\s+/)[0]);
    assert.ok(count > 10000, `the helper made too few exchanges to race the analyzers: "${swaps}"`);
    assert.ok(fresh >= 5, `only ${fresh} fresh analyses succeeded; errors: ${errors.slice(0, 3).join(' | ')}`);
    // An analysis may be refused when the fingerprint walk meets a directory
    // turned symlink; it must say so, never return what lies behind it.
    for (const e of errors) assert.match(e, /cannot fingerprint the workspace tree/);
    console.log(`# ${analyses} analyses (${fresh} not from the cache; ${errors.length} refused while the tree ` +
      `changed), ${count} exchanges`);
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(secret, { recursive: true, force: true });
  }
});
