// jail_exec_command.test.mjs: what a new user sees through exec_command on the
// default (process, namespace jail) backend, over stdio with the official SDK
// client: no capabilities, no_new_privs, only loopback, only the workspace's
// own processes, and no host file outside the workspace.
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

const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

test('exec_command runs in the jail: no caps, no_new_privs, loopback only, own pids only, no host files', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-jail-e2e-'));
  const project = path.join(root, 'project');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'hello.txt'), 'inside\n');
  // A host file next to the project: outside the workspace, never visible in it.
  const secret = path.join(root, 'host-secret.txt');
  fs.writeFileSync(secret, 'host secret\n');
  const transport = new StdioClientTransport({
    command: binary,
    args: ['serve'],
    // The default security level; no degraded mode: the jail must really run.
    env: { ...process.env, SANDBOX_BASE_DIR: path.join(root, 'state'), SANDBOX_LOG_LEVEL: 'warning' },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'isb-jail-e2e', version: '1.0.0' });
  await client.connect(transport);
  const run = async (command) => {
    const r = await client.callTool({ name: 'exec_command', arguments: { workspace_id: 'j', command } });
    assert.equal(r.isError, false, text(r));
    return r.structuredContent;
  };
  try {
    const created = await client.callTool({ name: 'create_workspace',
      arguments: { source_path: project, workspace_id: 'j' } });
    assert.equal(created.isError, false, text(created));
    const isolation = created.structuredContent.isolation;
    assert.equal(isolation.backend, 'process');
    assert.equal(isolation.degraded, false, `the jail is enforced, not degraded: ${isolation.status}`);
    for (const p of ['user_namespace', 'pid_namespace', 'network_namespace', 'seccomp', 'capabilities_dropped']) {
      assert.ok(isolation.enforced.includes(p), `${p} is enforced`);
    }

    const status = await run("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status");
    assert.equal(status.exit_code, 0, status.stderr);
    assert.equal(status.stdout,
      'CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n'
      + 'CapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n');

    // Interfaces: the header lines of /proc/net/dev, then one line per interface.
    const net = await run("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
    assert.equal(net.stdout, 'lo\n');

    // Processes: the supervisor (pid 1), the shell and what it runs; none of the host's.
    const pids = await run("for p in /proc/[0-9]*; do echo ${p#/proc/}; done | sort -n | head -1; "
      + "ls -d /proc/[0-9]* | wc -l; cat /proc/1/comm");
    const [first, count, init] = pids.stdout.trim().split('\n');
    assert.equal(first, '1');
    assert.ok(Number(count) <= 6, `the jail sees only its own few processes, saw ${count}`);
    assert.equal(init, 'isb-supervisor');

    const mine = await run('cat hello.txt; id -u');
    assert.equal(mine.stdout, 'inside\n1000\n');
    const host = await run(`cat ${secret}; cat /etc/shadow; ls /root; echo done`);
    assert.equal(host.stdout, 'done\n');
    assert.match(host.stderr, /host-secret\.txt: No such file or directory/);
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
