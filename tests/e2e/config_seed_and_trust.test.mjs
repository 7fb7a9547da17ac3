// config_seed_and_trust.test.mjs: issue 14's configuration, on the real binary.
//
// - A config/sandbox.yaml in the working directory (the project a desktop
//   client starts the server in) is never read; a non-root server keeps its
//   state in that user's XDG directories, made private.
// - The seed guide's sandbox.yaml and mcp_config.json load as printed
//   (tests/fixtures/seed): the tools list is all that is offered, the Python
//   log format is translated, metrics are logged.
// - A config file or plugin directory others can write is refused, naming the
//   path and the mode; an unknown key still names file and line.
// - authentication.header names the HTTP header that carries the key.
//
//   ISB_BINARY=build/bin/intelligent-sandbox node --test tests/e2e/config_seed_and_trust.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { binary } from './helpers/stdio_client.mjs';
import { startHttpServer, runToExit } from './mcp_http_server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SEED = path.resolve(here, '../fixtures/seed');
const SEED_TOOLS = [
  'create_workspace', 'analyze_codebase', 'create_task_plan', 'execute_task_plan',
  'get_execution_history', 'destroy_workspace', 'get_sandbox_status',
];
const USER = 'isb-cfg-e2e';
const systemConfigExists = fs.existsSync('/etc/intelligent-sandbox/sandbox.yaml');

function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// A project directory holding what a hostile repository would put there.
function hostileProject(root) {
  const project = path.join(root, 'project');
  fs.mkdirSync(path.join(project, 'config'), { recursive: true });
  fs.mkdirSync(path.join(project, 'evil-plugins'));
  fs.writeFileSync(path.join(project, 'config', 'sandbox.yaml'),
    `security:\n  level: low\n  allow_degraded: true\nplugins:\n  directories: [${path.join(project, 'evil-plugins')}]\n`);
  return project;
}

// Starts `serve` through the official SDK client; command/args default to the binary.
async function connect({ command = binary, args = ['serve'], cwd, env }) {
  const transport = new StdioClientTransport({ command, args, cwd, env, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const client = new Client({ name: 'isb-config-e2e', version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (e) {
    throw new Error(`${e.message}\nstderr:\n${stderr}`);
  }
  const status = async () => (await client.callTool({ name: 'get_sandbox_status', arguments: {} })).structuredContent;
  return { client, status, stderr: () => stderr };
}

function ensureUser() {
  try {
    return Number(execFileSync('id', ['-u', USER]).toString().trim());
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
    return Number(execFileSync('id', ['-u', USER]).toString().trim());
  }
}

test('a non-root server started in a hostile project reads no config there and keeps its state in XDG dirs',
  { skip: process.getuid() !== 0 && 'needs root to run the server as another user' }, async () => {
    const uid = ensureUser();
    const root = tempDir('isb-cfg-e2e-');
    fs.chmodSync(root, 0o755);
    const home = path.join(root, 'home');
    fs.mkdirSync(home);
    const project = hostileProject(root);
    execFileSync('chown', ['-R', `${USER}:`, home, project]);
    let s;
    try {
      s = await connect({
        command: 'setpriv',
        args: [`--reuid=${USER}`, `--regid=${USER}`, '--init-groups', binary, 'serve'],
        cwd: project,
        // As a desktop client starts it: HOME, PATH, no SANDBOX_* or XDG_*.
        env: { PATH: process.env.PATH, HOME: home },
      });
      const st = await s.status();
      if (!systemConfigExists) assert.equal(st.config_source, 'built-in defaults', s.stderr());
      assert.equal(st.security.level, 'medium', 'the project lowered nothing');
      assert.ok(!st.plugins.some((p) => p.path.startsWith(project)), JSON.stringify(st.plugins));
      const state = path.join(home, '.local/state/intelligent-sandbox');
      assert.equal(st.paths.state_dir, state);
      assert.equal(st.paths.workspaces_dir, path.join(state, 'workspaces'));
      assert.equal(st.paths.cache_dir, path.join(home, '.cache/intelligent-sandbox'));
      assert.equal(st.paths.log_file, path.join(state, 'sandbox.log'));
      assert.equal(st.paths.audit_log, path.join(state, 'audit.log'));
      await s.client.close();
      for (const dir of [state, path.join(home, '.cache/intelligent-sandbox'), path.join(home, '.local')]) {
        const info = fs.statSync(dir);
        assert.equal(info.uid, uid, dir);
        assert.equal(info.mode & 0o777, 0o700, `${dir} is private`);
      }
      assert.ok(fs.existsSync(path.join(state, 'sandbox.db')));
      assert.match(fs.readFileSync(path.join(state, 'sandbox.log'), 'utf8'), /configuration: /);
      assert.deepEqual(fs.readdirSync(project).sort(), ['config', 'evil-plugins'], 'nothing written in the project');
    } finally {
      await s?.client.close().catch(() => {});
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

test('the working directory config is not read by a server started as root either', async () => {
  const root = tempDir('isb-cfg-e2e-');
  const project = hostileProject(root);
  let s;
  try {
    s = await connect({
      cwd: project,
      env: { PATH: process.env.PATH, HOME: path.join(root, 'home'), SANDBOX_BASE_DIR: path.join(root, 'base') },
    });
    const st = await s.status();
    if (!systemConfigExists) {
      assert.equal(st.config_source, 'built-in defaults');
      assert.match(s.stderr(), /configuration: built-in defaults/);
    }
    assert.equal(st.security.level, 'medium');
    assert.equal(st.security.allow_degraded, false);
  } finally {
    await s?.client.close().catch(() => {});
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("the seed's mcp_config.json as printed: only its tools are offered, its server description is sent", async () => {
  const root = tempDir('isb-cfg-e2e-');
  let s;
  try {
    s = await connect({
      args: ['serve', '--mcp-config', path.join(SEED, 'mcp_config.json')],
      cwd: root,
      env: { PATH: process.env.PATH, HOME: root, SANDBOX_BASE_DIR: path.join(root, 'base'), SANDBOX_LOG_LEVEL: 'warning' },
    });
    const info = s.client.getServerVersion();
    assert.equal(info.name, 'intelligent-sandbox');
    assert.equal(info.description, 'Intelligent Sandbox MCP Server');
    const { tools } = await s.client.listTools();
    // execute_task_plan brings the tools that follow and stop its execution
    // when it outlasts the call (the seed predates them).
    assert.deepEqual(tools.map((t) => t.name).sort(), [...SEED_TOOLS, 'wait_execution', 'cancel_execution'].sort());
    assert.equal(tools.find((t) => t.name === 'create_task_plan').description, 'Create an intelligent task plan');
    await assert.rejects(s.client.callTool({ name: 'list_workspaces', arguments: {} }), /Unknown tool: list_workspaces/);
    const st = await s.status();
    assert.equal(st.security.level, 'medium');
    assert.match(s.stderr(), /authentication\.enabled: on stdio the client is the process that started this server/);
  } finally {
    await s?.client.close().catch(() => {});
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("the seed's sandbox.yaml as printed: Python log format, metrics summary lines, the endpoints warning", async () => {
  const root = tempDir('isb-cfg-e2e-');
  const log = path.join(root, 'logs', 'sandbox.log');
  let s;
  try {
    s = await connect({
      args: ['serve', '--config', path.join(SEED, 'sandbox.yaml')],
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: root,
        // The seed's paths are /tmp and /var/log/intelligent_sandbox: kept out of the host here.
        SANDBOX_BASE_DIR: path.join(root, 'base'),
        SANDBOX_LOGGING_FILE_PATH: log,
        SANDBOX_SECURITY_AUDIT_LOG_PATH: path.join(root, 'logs', 'audit.log'),
        SANDBOX_CACHE_CACHE_DIR: path.join(root, 'cache'),
        SANDBOX_PERFORMANCE_METRICS_INTERVAL: '1',
      },
    });
    const st = await s.status();
    assert.equal(st.config_source, path.join(SEED, 'sandbox.yaml'));
    assert.equal(st.config_origin, '--config');
    assert.equal(st.metrics.enabled, true);
    assert.equal(st.cache.ttl_s, 3600);
    assert.equal(st.cache.max_bytes, 1000 * 1024 * 1024);
    await s.status();
    const again = await s.status();
    assert.ok(again.metrics.operations.get_sandbox_status.calls >= 2, JSON.stringify(again.metrics));
    let text = '';
    for (let i = 0; i < 50 && !/get_sandbox_status calls=/.test(text); ++i) {
      await sleep(100);
      text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
    }
    const lines = text.trim().split('\n');
    const python = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - intelligent-sandbox - (INFO|WARNING|ERROR) - \S/;
    for (const line of lines) assert.match(line, python);
    assert.ok(lines.some((l) => / - INFO - configuration: .*sandbox\.yaml \(--config\)$/.test(l)), text);
    assert.ok(lines.some((l) => / - WARNING - security\.allowed_endpoints lists 4 endpoints/.test(l)), text);
    assert.ok(lines.some((l) => / - INFO - metrics: .*get_sandbox_status calls=\d+ errors=0 p50=/.test(l)), text);
  } finally {
    await s?.client.close().catch(() => {});
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a config file or plugin directory others can write is refused, naming the path and the mode', async () => {
  const root = tempDir('isb-cfg-e2e-');
  try {
    const file = path.join(root, 'sandbox.yaml');
    fs.writeFileSync(file, 'security:\n  level: low\n');
    fs.chmodSync(file, 0o666);
    const c = await runToExit(['serve', '--config', file]);
    assert.equal(c.code, 2, c.stderr);
    assert.match(c.stderr, new RegExp(`config file ${file}: refused: ${file} is writable by others \\(mode 0666`));
    assert.match(c.stderr, new RegExp(`Fix: chmod o-w ${file}`));

    const named = await runToExit(['serve'], { SANDBOX_CONFIG: file });
    assert.equal(named.code, 2, named.stderr);
    assert.match(named.stderr, /is writable by others \(mode 0666/);

    const plugins = path.join(root, 'plugins');
    fs.mkdirSync(plugins);
    fs.chmodSync(plugins, 0o777);
    const p = await runToExit(['serve', '--plugin-dir', plugins]);
    assert.equal(p.code, 1, p.stderr);
    assert.match(p.stderr, new RegExp(`plugin directory ${plugins}: refused: ${plugins} is writable by others \\(mode 0777`));

    const listed = await runToExit(['plugins', '--plugin-dir', plugins]);
    assert.equal(listed.code, 1, listed.stderr);

    fs.chmodSync(file, 0o644);
    fs.writeFileSync(file, 'sandbox:\n  max_workspace: 3\n');
    const typo = await runToExit(['serve', '--config', file]);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, new RegExp(`${file}:2: sandbox\\.max_workspace: unknown key.*did you mean max_workspaces\\?`));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('an MCP config naming a tool the server does not have is refused at start', async () => {
  const root = tempDir('isb-cfg-e2e-');
  try {
    const file = path.join(root, 'mcp.json');
    fs.writeFileSync(file, JSON.stringify({ tools: [{ name: 'get_sandbox_status' }, { name: 'run_anything' }] }));
    const r = await runToExit(['serve', '--mcp-config', file]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /tools\[1\] \(run_anything\): this server has no tool of that name; its tools are: create_workspace/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('authentication.header names the HTTP header that carries the key; Bearer keeps working', async () => {
  const root = tempDir('isb-cfg-e2e-');
  const key = 'header-test-key-0123456789';
  const file = path.join(root, 'mcp.json');
  fs.writeFileSync(file, JSON.stringify({
    transport: { type: 'http', encoding: 'utf-8' },
    authentication: { enabled: true, type: 'api_key', header: 'X-Sandbox-Token' },
  }));
  const srv = await startHttpServer({ args: ['--mcp-config', file], env: { SANDBOX_API_KEY: key } });
  const initialize = (headers) => fetch(srv.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    }),
  });
  try {
    assert.equal((await initialize({ 'X-Sandbox-Token': key })).status, 200, srv.stderr());
    assert.equal((await initialize({ Authorization: `Bearer ${key}` })).status, 200);
    assert.equal((await initialize({ 'X-API-Key': key })).status, 401, 'the configured header replaces X-API-Key');
    assert.equal((await initialize({})).status, 401);
  } finally {
    await srv.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
