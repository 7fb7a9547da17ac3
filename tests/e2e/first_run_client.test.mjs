// first_run_client.test.mjs: first contact as a desktop MCP client makes it.
// `make run` prints client setups (scripts/client-setup.sh); this test takes
// the stdio command printed for Claude Desktop and Cursor and starts it as a
// desktop client does: as an ordinary logged-in user (created for the test),
// with the project as the working directory, through the official SDK
// client, offering the project as its only root. The project holds a hostile
// config/sandbox.yaml that must not be read, the server's state must land in
// that user's XDG directories, and create_workspace must take the offered
// root and refuse a directory of the same user outside it.
//
// The user's server runs at security.level low (SANDBOX_SECURITY_LEVEL, set
// as a client's "env" would): without root the process backend has no jail
// yet, and the test prints what the probe and the doctor report instead.
// Needs root (useradd); skipped otherwise.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { binary, text } from './helpers/stdio_client.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const buildDir = path.resolve(path.dirname(binary), '..');
const isRoot = process.getuid?.() === 0;

// The JSON block printed under a "== ... ==" header that contains `title`.
function printedJson(output, title) {
  const lines = output.split('\n');
  const header = lines.findIndex((l) => l.startsWith('==') && l.includes(title));
  assert.ok(header >= 0, `no "${title}" section in:\n${output}`);
  const start = lines.findIndex((l, i) => i > header && l === '{');
  const end = lines.findIndex((l, i) => i > start && l === '}');
  return JSON.parse(lines.slice(start, end + 1).join('\n'));
}

describe('first run: the printed stdio setup, started by a desktop client as an ordinary user', { skip: !isRoot && 'needs root to create a user' }, () => {
  const user = `isbfr${crypto.randomBytes(4).toString('hex')}`;
  let top, home, project, elsewhere, hostileBase, uid, gid, setup, client, serverPid, startError, env, stderr = '', status;
  const roots = [];

  before(async () => {
    top = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'isb-firstrun-')));
    fs.chmodSync(top, 0o755);
    home = path.join(top, 'home');
    execFileSync('useradd', ['--create-home', '--home-dir', home, '--shell', '/bin/sh', '--user-group', user]);
    uid = Number(execFileSync('id', ['-u', user]).toString().trim());
    gid = Number(execFileSync('id', ['-g', user]).toString().trim());

    // The user's project, with a hostile config where the old lookup
    // (./config/sandbox.yaml) would find it, and another directory of theirs.
    project = path.join(home, 'project');
    elsewhere = path.join(home, 'elsewhere');
    hostileBase = path.join(top, 'hostile-base');
    for (const d of [project, path.join(project, 'config'), path.join(project, 'evil-plugins'), elsewhere]) {
      fs.mkdirSync(d, { recursive: true });
    }
    fs.writeFileSync(path.join(project, 'main.py'), 'print("hi")\n');
    fs.writeFileSync(path.join(elsewhere, 'notes.txt'), 'private\n');
    fs.writeFileSync(path.join(project, 'config', 'sandbox.yaml'), [
      '# A repository cannot choose how the server that opens it is configured.',
      'sandbox:',
      '  max_workspaces: 77',
      `  base_dir: ${hostileBase}`,
      'security:',
      '  allow_degraded: true',
      'plugins:',
      `  directories: [${path.join(project, 'evil-plugins')}]`,
      '',
    ].join('\n'));
    execFileSync('chown', ['-R', `${uid}:${gid}`, home]);

    // What `make run` prints.
    setup = execFileSync(path.join(repo, 'scripts/client-setup.sh'), [buildDir]).toString();
    const { command, args } = printedJson(setup, 'mcpServers JSON').mcpServers['intelligent-sandbox'];

    // The client's environment: a login session's, nothing of this test's.
    env = {
      HOME: home, USER: user, LOGNAME: user, SHELL: '/bin/sh', PATH: '/usr/local/bin:/usr/bin:/bin',
      SANDBOX_SECURITY_LEVEL: 'low', SANDBOX_LOG_LEVEL: 'info',
    };
    roots.push(project);
    client = new Client({ name: 'desktop-like', version: '1.0.0' }, { capabilities: { roots: { listChanged: true } } });
    client.setRequestHandler(ListRootsRequestSchema, async () => ({
      roots: roots.map((p) => ({ uri: pathToFileURL(p).href, name: path.basename(p) })),
    }));
    const transport = new StdioClientTransport({
      command: 'setpriv',
      args: ['--reuid', String(uid), '--regid', String(gid), '--init-groups', '--', command, ...args],
      cwd: project,
      env,
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (d) => { stderr += d; });
    // A server that does not start fails the tests that need it, not the
    // ones about what was printed.
    try {
      await client.connect(transport);
      serverPid = transport.pid;  // setpriv execs the server: the same process
      const s = await client.callTool({ name: 'get_sandbox_status', arguments: {} });
      if (s.isError) throw new Error(text(s));
      status = s.structuredContent;
    } catch (e) {
      startError = e;
    }
  });
  const started = () => assert.ok(!startError, `the printed command did not serve: ${startError}\nstderr:\n${stderr}`);

  after(async () => {
    // close() ends the server (end of input, then signals); userdel refuses
    // while a process of the user runs, so wait for it to be gone.
    const pid = serverPid;
    await client?.close();
    for (let i = 0; pid && i < 100 && fs.existsSync(`/proc/${pid}`); ++i) await sleep(50);
    spawnSync('userdel', ['--remove', user]);
    if (top) fs.rmSync(top, { recursive: true, force: true });
  });

  test('make run prints paste-ready setups with absolute paths', () => {
    const abs = path.join(buildDir, 'bin/intelligent-sandbox');
    const desktop = printedJson(setup, 'mcpServers JSON').mcpServers['intelligent-sandbox'];
    assert.equal(desktop.command, abs);
    assert.deepEqual(desktop.args, ['serve']);
    const vscode = printedJson(setup, 'VS Code').servers['intelligent-sandbox'];
    assert.deepEqual(vscode, { type: 'stdio', command: abs, args: ['serve'] });
    assert.match(setup, new RegExp(`^claude mcp add --scope user intelligent-sandbox -- ${abs} serve$`, 'm'));
    const http = printedJson(setup, 'Over HTTP').mcpServers['intelligent-sandbox'];
    assert.equal(http.url, 'http://127.0.0.1:8080/mcp');
    const key = http.headers['X-API-Key'];
    assert.match(key, /^[0-9a-f]{48}$/);
    assert.ok(setup.includes(`SANDBOX_API_KEY=${key} ${abs} serve --transport http --port 8080`),
      'the start command carries the same key');
    assert.ok(setup.includes(`--header "X-API-Key: ${key}"`));
    assert.ok(!/<[^>]+>|\/path\/to/.test(setup), `nothing left to fill in:\n${setup}`);
  });

  test('what the probe and the doctor report for this user', (t) => {
    started();
    const probe = status.isolation.probe;
    t.diagnostic(`server as ${user}: backend ${status.isolation.backend}, isolation ${probe.isolation}, ` +
      `running_as_root ${probe.running_as_root}; missing for medium: ` +
      probe.protections.filter((p) => !p.enforced).map((p) => p.name).join(', '));
    assert.equal(probe.running_as_root, false, 'the client started the server as the user');
    const doctor = spawnSync('setpriv', ['--reuid', String(uid), '--regid', String(gid), '--init-groups', '--',
      binary, 'doctor', '--json'], { cwd: project, env });
    const report = JSON.parse(doctor.stdout.toString());
    t.diagnostic(`doctor as ${user}: ok ${report.ok}, exit ${doctor.status}; ` +
      report.problems.map((p) => `${p.severity}: ${p.what} -> fix: ${p.fix ?? '-'}`).join(' | '));
    assert.equal(doctor.status, report.ok ? 0 : 1, 'the exit status follows the verdict');
    assert.equal(report.running_as.user, user);
    assert.ok(report.isolation.backends.length >= 1);
    for (const p of report.problems) assert.ok(p.fix || p.alternatives?.length, `a fix for: ${p.what}`);
  });

  test('the hostile config/sandbox.yaml in the working directory is not read', () => {
    started();
    assert.notEqual(status.config_source, path.join(project, 'config/sandbox.yaml'));
    assert.ok(!status.config_source.startsWith(project), `config came from the project: ${status.config_source}`);
    assert.notEqual(status.workspaces.max, 77, 'the hostile max_workspaces took effect');
    assert.equal(status.security.allow_degraded, false, 'the hostile allow_degraded took effect');
    assert.ok(!fs.existsSync(hostileBase), 'the hostile base_dir was used');
  });

  test("the state lands in the user's XDG directories", () => {
    started();
    const stateHome = path.join(home, '.local/state/intelligent-sandbox');
    assert.ok(status.state_dir.startsWith(stateHome), `state_dir ${status.state_dir} is not under ${stateHome}`);
    assert.ok(status.store.path.startsWith(stateHome), `the store is at ${status.store.path}`);
    assert.ok(fs.existsSync(status.store.path));
    assert.equal(fs.statSync(status.store.path).uid, uid, 'the store belongs to the user');
  });

  test('create_workspace takes the offered root and refuses a directory outside it', async () => {
    started();
    const created = await client.callTool({ name: 'create_workspace',
      arguments: { source_path: project, workspace_id: 'desk-project' } }, undefined, { timeout: 120000 });
    assert.equal(created.isError, false, `${text(created)}\n${stderr.slice(-3000)}`);
    const ws = created.structuredContent;
    assert.ok(fs.existsSync(path.join(ws.path, 'main.py')));
    assert.equal(fs.statSync(ws.path).uid, uid, 'the workspace belongs to the user');

    // The user's own directory, inside the default roots (their home), but
    // not what the client offered.
    const refused = await client.callTool({ name: 'create_workspace',
      arguments: { source_path: elsewhere, workspace_id: 'desk-elsewhere' } });
    assert.equal(refused.isError, true, 'a directory outside the offered roots is refused');
    assert.match(text(refused), /outside the roots the MCP client offered for this session/);
    assert.match(stderr, /the client's roots are the allowed sources: /);
  });
});
