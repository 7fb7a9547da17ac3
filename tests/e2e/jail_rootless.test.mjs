// jail_rootless.test.mjs: the server started as an ordinary user, as an MCP
// client on a desktop starts it, through the official SDK client over stdio:
// create_workspace at security.level medium returns a jailed workspace, not a
// degraded one, and the held-out style attacks fail inside it: host files,
// the host's network, other processes, mounts, new user namespaces,
// capabilities, writes to /usr. The user is the one the rootless jail tests
// use (tests/isolation/as_test_user.sh, which creates it when run as root and
// switches to it); where the test cannot start the server as that user
// (not root), it is skipped and says why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = process.env.ISB_BINARY ?? path.resolve(here, '../../build/bin/intelligent-sandbox');
const asTestUser = path.resolve(here, '../isolation/as_test_user.sh');

const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

//! The test user as {name, uid, gid, home}, or a reason why there is none.
function testUser() {
  if (process.getuid() !== 0) return { skip: 'the server is started as the test user only when the test runs as root' };
  const [name, uid, gid, home] = execFileSync(asTestUser, ['--print'], { encoding: 'utf8' }).trim().split(' ');
  return { name, uid: Number(uid), gid: Number(gid), home };
}

function chownTree(p, uid, gid) {
  fs.chownSync(p, uid, gid);
  if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) chownTree(path.join(p, e), uid, gid);
}

test('as an ordinary user, create_workspace at medium is jailed and the held-out attacks fail', async (t) => {
  const user = testUser();
  if (user.skip) {
    t.skip(user.skip);
    return;
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-rootless-e2e-'));
  const project = path.join(root, 'project');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'hello.txt'), 'inside\n');
  // A private file of the server's own user next to the project: the sandbox
  // runs as that very uid on the host, so only the jail keeps it away.
  const secret = path.join(root, 'user-secret.txt');
  fs.writeFileSync(secret, 'the user\'s secret\n', { mode: 0o600 });
  fs.mkdirSync(path.join(root, 'state'));
  chownTree(root, user.uid, user.gid);
  // A service of the host on loopback that the sandbox must not reach.
  const service = net.createServer((s) => s.end('host service\n'));
  await new Promise((resolve) => service.listen(0, '127.0.0.1', resolve));
  const port = service.address().port;

  const transport = new StdioClientTransport({
    command: asTestUser,
    args: [binary, 'serve'],
    env: { ...process.env, SANDBOX_BASE_DIR: path.join(root, 'state'), SANDBOX_LOG_LEVEL: 'warning',
      SANDBOX_SECURITY_LEVEL: 'medium' },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'isb-rootless-e2e', version: '1.0.0' });
  await client.connect(transport);
  const run = async (command) => {
    const r = await client.callTool({ name: 'exec_command', arguments: { workspace_id: 'r', command } });
    assert.equal(r.isError, false, text(r));
    return r.structuredContent;
  };
  try {
    const created = await client.callTool({ name: 'create_workspace',
      arguments: { source_path: project, workspace_id: 'r' } });
    assert.equal(created.isError, false, text(created));
    const isolation = created.structuredContent.isolation;
    assert.equal(isolation.backend, 'process');
    assert.equal(isolation.security_level, 'medium');
    assert.equal(isolation.degraded, false, `jailed, not degraded: ${isolation.status}`);
    for (const p of ['user_namespace', 'mount_namespace', 'pid_namespace', 'network_namespace', 'seccomp',
      'no_new_privs', 'capabilities_dropped', 'filesystem_isolation']) {
      assert.ok(isolation.enforced.includes(p), `${p} is enforced`);
    }
    // What rootless cannot give is said, with the fix, never claimed.
    const missing = Object.fromEntries(isolation.not_enforced.map((p) => [p.name, p]));
    for (const p of ['cgroup_memory', 'cgroup_pids', 'host_uid_separation']) {
      assert.ok(missing[p], `${p} is reported not enforced`);
      assert.ok(missing[p].fix, `${p} comes with a fix`);
    }
    assert.equal(isolation.workspace_ownership, 'server_user');

    // Who it is: uid 1000 inside, the server's user on disk.
    const me = await run('id -u; cat hello.txt; echo made > made.txt');
    assert.equal(me.stdout, '1000\ninside\n');
    const made = fs.statSync(path.join(root, 'state', 'workspaces', 'r', 'made.txt'), { throwIfNoEntry: false })
      ?? findFile(path.join(root, 'state'), 'made.txt');
    assert.equal(made.uid, user.uid, 'files the sandbox makes belong to the server\'s user');

    // Host files: the user's own secret, its home, the host's shadow file.
    const files = await run(`cat ${secret} 2>&1; ls ${user.home} 2>&1 | head -1; cat /etc/shadow 2>&1 | head -1`);
    assert.doesNotMatch(files.stdout, /the user's secret/);
    assert.match(files.stdout, /user-secret\.txt: No such file or directory/);
    assert.match(files.stdout, new RegExp(`${user.home}.*No such file or directory`));
    assert.match(files.stdout, /shadow: No such file or directory/);

    // The host's network: its loopback service and the outside.
    const network = await run(`python3 -c "
import socket
for host, p in (('127.0.0.1', ${port}), ('1.1.1.1', 443)):
    try:
        socket.create_connection((host, p), timeout=2); print(host, 'connected')
    except OSError as e:
        print(host, type(e).__name__)
"; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '`);
    assert.equal(network.stdout, '127.0.0.1 ConnectionRefusedError\n1.1.1.1 OSError\nlo\n');

    // Other processes: only the jail's own; not the server, not the host's init.
    const procs = await run(`ls -d /proc/[0-9]* | wc -l; cat /proc/1/comm; kill -0 ${process.pid} 2>&1 || echo no`);
    const [count, init] = procs.stdout.split('\n');
    assert.ok(Number(count) <= 6, `only the jail's few processes, saw ${count}`);
    assert.equal(init, 'isb-supervisor');
    assert.match(procs.stdout, /no\n$/);

    // Mounts, new user namespaces, capabilities, /usr writes.
    const privileged = await run('mount -t tmpfs x /tmp 2>/dev/null; echo mount=$?; '
      + 'unshare -U true 2>/dev/null; echo unshare=$?; unshare -r true 2>/dev/null; echo userns=$?; '
      + "grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status; "
      + 'touch /usr/x 2>/dev/null; echo usr=$?; touch /etc/x 2>/dev/null; echo etc=$?');
    assert.equal(privileged.stdout, 'mount=32\nunshare=1\nuserns=1\nCapEff:\t0000000000000000\n'
      + 'CapBnd:\t0000000000000000\nNoNewPrivs:\t1\nusr=1\netc=1\n');

    // Overlay workspaces need a mount only root may make on the host path the
    // server's file tools use: the workspace is copied instead, and says why.
    const overlay = await client.callTool({ name: 'create_workspace',
      arguments: { source_path: project, workspace_id: 'o', mode: 'overlay' } });
    assert.equal(overlay.isError, false, text(overlay));
    assert.equal(overlay.structuredContent.isolation.degraded, false);
    assert.match(overlay.structuredContent.mode_note,
      /overlay is unavailable here \(overlayfs mount failed: Operation not permitted .*\); the workspace was copied/);
    const inOverlay = await client.callTool({ name: 'exec_command', arguments: { workspace_id: 'o', command: 'cat hello.txt' } });
    assert.equal(inOverlay.structuredContent.stdout, 'inside\n');
  } finally {
    await client.close();
    service.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

//! The first file called name below dir (where the server keeps workspaces is its business).
function findFile(dir, name) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isFile() && e.name === name) return fs.statSync(p);
    if (e.isDirectory()) {
      const found = findFile(p, name);
      if (found) return found;
    }
  }
  return undefined;
}

test('as an ordinary user, security.level high is refused: the missing cgroups are named with the fix', async (t) => {
  const user = testUser();
  if (user.skip) {
    t.skip(user.skip);
    return;
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-rootless-e2e-'));
  fs.mkdirSync(path.join(root, 'project'));
  fs.mkdirSync(path.join(root, 'state'));
  chownTree(root, user.uid, user.gid);
  const transport = new StdioClientTransport({
    command: asTestUser,
    args: [binary, 'serve'],
    env: { ...process.env, SANDBOX_BASE_DIR: path.join(root, 'state'), SANDBOX_LOG_LEVEL: 'warning',
      SANDBOX_SECURITY_LEVEL: 'high' },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'isb-rootless-e2e', version: '1.0.0' });
  await client.connect(transport);
  try {
    const created = await client.callTool({ name: 'create_workspace',
      arguments: { source_path: path.join(root, 'project'), workspace_id: 'h' } });
    assert.equal(created.isError, true, 'fail closed: no workspace without the protections high needs');
    assert.match(text(created), /cgroup_memory \(the server is not root/);
    assert.match(text(created), /To enforce them on this host: run the server as root/);
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
