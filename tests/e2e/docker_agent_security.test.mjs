// docker_agent_security.test.mjs: security issue 13 through the real server on
// the docker backend, with the official SDK client over stdio. A workspace
// whose root plants a symlink on its agent's socket and fills its pids limit
// never gets a command into another workspace; ptrace of the agent is
// refused; a frozen agent costs its command no more than timeout + kill grace
// + reply margin, fails only its own workspace, and other workspaces and
// destroy_workspace go on. Needs the engine of scripts/start-dockerd.sh and
// the image of scripts/build-test-image.sh (isb-test:latest); the static
// container probe is built next to the server (tests/plugins/container_probe.c).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = process.env.ISB_BINARY ?? path.resolve(here, '../../build/bin/intelligent-sandbox');
const probe = path.join(path.dirname(binary), 'isb-container-probe');
const image = process.env.ISB_TEST_DOCKER_IMAGE ?? 'isb-test:latest';
const instance = `e2e-agent-${process.pid}`;
// The plugin's defaults: kill_grace_ms 2000, reply_margin_ms 3000.
const graceAndMarginMs = 2000 + 3000;

const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

//! The engine's answer to a request over its socket (not through the server).
function engine(method, url) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: '/var/run/docker.sock', path: url, method }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(body ? JSON.parse(body) : null));
    });
    req.on('error', reject);
    req.end();
  });
}

//! The container of a workspace of this server: its id and host PID 1.
async function containerOf(workspaceId) {
  const filters = encodeURIComponent(JSON.stringify({
    label: [`dev.intelligent-sandbox.instance=${instance}`, `dev.intelligent-sandbox.workspace=${workspaceId}`],
  }));
  const list = await engine('GET', `/containers/json?all=true&filters=${filters}`);
  assert.equal(list.length, 1, `one container for workspace ${workspaceId}`);
  const c = await engine('GET', `/containers/${list[0].Id}/json`);
  return { id: c.Id, pid: c.State.Pid, running: c.State.Running };
}

async function removeOurContainers() {
  const filters = encodeURIComponent(JSON.stringify({ label: [`dev.intelligent-sandbox.instance=${instance}`] }));
  for (const c of await engine('GET', `/containers/json?all=true&filters=${filters}`)) {
    await engine('DELETE', `/containers/${c.Id}?force=true`);
  }
}

//! Resolves to the promise's value, or rejects after ms, having called onOverrun
//! (which must make the call return) so that a test fails instead of hanging.
async function within(ms, promise, onOverrun) {
  let timer;
  const overrun = new Promise((_, reject) => {
    timer = setTimeout(async () => {
      await onOverrun();
      reject(new Error(`still waiting after ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, overrun]);
  } finally {
    clearTimeout(timer);
  }
}

let root;
let client;

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-docker-agent-e2e-'));
  for (const name of ['p1', 'p2', 'p3', 'p4']) {
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    fs.copyFileSync(probe, path.join(dir, 'container_probe'));
    fs.chmodSync(path.join(dir, 'container_probe'), 0o755);
  }
  fs.writeFileSync(path.join(root, 'p2', 'w2-marker'), 'w2 secret\n');
  const config = path.join(root, 'sandbox.yaml');
  fs.writeFileSync(config, [
    'isolation:',
    '  backend: docker',
    `  container_image: "${image}"`,
    '  resource_limits:',
    '    max_processes: 16',
    'plugins:',
    '  settings:',
    '    docker:',
    `      instance_id: ${instance}`,
    '',
  ].join('\n'));
  const transport = new StdioClientTransport({
    command: binary,
    args: ['serve', '--config', config],
    env: { ...process.env, SANDBOX_BASE_DIR: path.join(root, 'state'), SANDBOX_LOG_LEVEL: 'warning' },
    stderr: 'pipe',
  });
  client = new Client({ name: 'isb-docker-agent-e2e', version: '1.0.0' });
  await client.connect(transport);
});

after(async () => {
  await client?.close();
  await removeOurContainers();
  fs.rmSync(root, { recursive: true, force: true });
});

async function create(project, workspaceId) {
  const r = await client.callTool({ name: 'create_workspace',
    arguments: { source_path: path.join(root, project), workspace_id: workspaceId } });
  assert.equal(r.isError, false, text(r));
  assert.equal(r.structuredContent.isolation.backend, 'docker', text(r));
}

async function run(workspaceId, command, timeoutS = 30) {
  const r = await client.callTool({ name: 'exec_command',
    arguments: { workspace_id: workspaceId, command, timeout_s: timeoutS } },
  undefined, { timeout: 120000 });
  assert.equal(r.isError, false, text(r));
  return r.structuredContent;
}

test('a planted symlink and a full pids limit never send a command into another workspace', async () => {
  await create('p1', 'w1');
  await create('p2', 'w2');
  const w1 = await containerOf('w1');
  const w2 = await containerOf('w2');

  // Root in w1 links its agent's socket to w2's, as the host would resolve it...
  const link = `/proc/${w2.pid}/root/.isb/run/agent.sock`;
  const plant = await run('w1', `rm /.isb/run/agent.sock && ln -s ${link} /.isb/run/agent.sock && readlink /.isb/run/agent.sock`);
  assert.equal(plant.stdout, `${link}\n`, plant.stderr);
  // ...and fills its pids limit, so that the agent's next fork fails.
  const fill = await run('w1', './container_probe fill_pids 6');
  assert.match(fill.stdout, /then EAGAIN/);
  await new Promise((r) => setTimeout(r, 300));

  const attack = 'hostname; cat w2-marker; echo from-w1 > from-w1';
  const refused = await run('w1', attack);
  // When the sleepers are gone, w1's commands run again: in w1.
  let again;
  for (let i = 0; i < 40; ++i) {
    again = await run('w1', attack);
    if (again.exit_code === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(again.exit_code, 0, again.reason);
  assert.equal(again.stdout, `${w1.id.slice(0, 12)}\n`, again.stderr);
  const inW2 = await run('w2', 'hostname; test -e from-w1 && echo LEAKED || echo clean');
  assert.equal(inW2.stdout, `${w2.id.slice(0, 12)}\nclean\n`);

  // The agent's failed fork was the refused command's error, saying why and
  // what to do; the server kept its one connection to w1's agent.
  assert.equal(refused.status, 'failed');
  assert.equal(refused.exit_code, 127, refused.reason);
  assert.match(refused.reason, /fork failed: Resource temporarily unavailable/);
  assert.match(refused.reason, /max_processes/);
  assert.doesNotMatch(refused.stdout, /w2 secret/);
});

test('ptrace of the agent is refused, and a frozen agent costs only its own workspace', async () => {
  await create('p3', 'w3');
  await create('p4', 'w4');
  const ptrace = await run('w3', './container_probe ptrace_pid1 30 & sleep 0.5; ./container_probe io_uring_setup');
  assert.equal(ptrace.stdout, 'ptrace_pid1 EPERM\nio_uring_setup EPERM\n', ptrace.stderr);
  const alive = await run('w3', 'echo alive', 5);
  assert.equal(alive.stdout, 'alive\n');

  // Frozen from outside (nothing inside can do it any more): the command is
  // given up within its bound, the container killed, the workspace failed.
  const w3 = await containerOf('w3');
  process.kill(w3.pid, 'SIGSTOP');
  const t0 = Date.now();
  const frozen = within(2000 + graceAndMarginMs + 10000, run('w3', 'echo never', 2),
    () => process.kill(w3.pid, 'SIGKILL'));
  // Meanwhile another workspace runs commands promptly.
  const t1 = Date.now();
  const healthy = await run('w4', 'echo healthy');
  const healthyMs = Date.now() - t1;
  assert.equal(healthy.stdout, 'healthy\n');
  assert.ok(healthyMs < 3000, `exec on a healthy workspace took ${healthyMs} ms`);

  const lost = await frozen;
  const lostMs = Date.now() - t0;
  assert.ok(lostMs < 2000 + graceAndMarginMs + 3000, `exec on the frozen agent took ${lostMs} ms`);
  assert.equal(lost.status, 'failed');
  assert.match(lost.reason, /workspace sandbox failed: the in-container agent of container \w+ was lost/);
  let running = true;
  for (let i = 0; i < 50 && running; ++i) {
    running = (await containerOf('w3')).running;
    if (running) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(running, false, 'the server killed the container of the lost agent');
  const later = await run('w3', 'echo never', 2);
  assert.match(later.reason, /was lost earlier/);

  const t2 = Date.now();
  const destroyed = await client.callTool({ name: 'destroy_workspace', arguments: { workspace_id: 'w3' } });
  assert.equal(destroyed.isError, false, text(destroyed));
  assert.ok(Date.now() - t2 < 5000, 'destroy_workspace returned promptly');
  const still = await run('w4', 'echo still');
  assert.equal(still.stdout, 'still\n');
});
