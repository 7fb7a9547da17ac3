// stdio_protocol.test.mjs: end-to-end tests of `intelligent-sandbox serve` over
// MCP stdio (newline-delimited JSON-RPC 2.0). Node 20 built-in runner only:
//
//   ISB_BINARY=/path/to/intelligent-sandbox node --test tests/e2e/stdio_protocol.test.mjs
//
// Every test starts its own server with a fresh SANDBOX_BASE_DIR, never waits
// without a timeout, and kills its server in a finally block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const BINARY = process.env.ISB_BINARY || '/work/main/build/bin/intelligent-sandbox';
const TEST_TIMEOUT = 10_000;
const EXPECTED_TOOLS = [
  'create_workspace', 'analyze_codebase', 'create_task_plan', 'approve_plan', 'execute_task_plan',
  'get_execution_history', 'destroy_workspace', 'get_sandbox_status', 'list_workspaces', 'exec_command',
];

// ---------------------------------------------------------------- helper ---

/** The raw text of the top-level "id" of a serialized response line. */
function rawId(line) {
  const m = /^\{"jsonrpc":"2\.0","id":("(?:[^"\\]|\\.)*"|-?\d+|null)/.exec(line);
  return m ? m[1] : undefined;
}

/**
 * Spawns the server. Returns an object with:
 *   send(obj)            write one JSON message + '\n'
 *   write(stringOrBuf)   raw write to stdin
 *   reply(id, ms)        await the response whose id is `id` (compared as JSON text)
 *   waitFor(pred, ms)    await the first received message satisfying pred(msg, rawLine)
 *   messages / raw       everything received so far (parsed / raw lines)
 *   exit(ms)             await process exit -> {code, signal}
 *   close()              kill the process and remove its temp dirs
 */
function startServer({ args = [], env = {} } = {}) {
  const base = mkdtempSync(join(tmpdir(), 'isb-e2e-base-'));
  const proc = spawn(BINARY, ['serve', ...args], {
    cwd: tmpdir(),
    env: { ...process.env, SANDBOX_BASE_DIR: base, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const s = {
    proc, base, raw: [], messages: [], badLines: [], stderr: '', waiters: [], extraDirs: [],
    exited: null, exitInfo: null,
  };
  s.exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => { s.exitInfo = { code, signal }; resolve(s.exitInfo); });
  });
  proc.stdin.on('error', () => {}); // EPIPE after the server is gone
  // Partial line kept as a list of chunks so a 40 MiB line is not rescanned
  // on every read.
  let partial = [];
  const onLine = (line) => {
    s.raw.push(line);
    let msg;
    try { msg = JSON.parse(line); } catch { s.badLines.push(line); return; }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) { s.badLines.push(line); return; }
    s.messages.push(msg);
    for (const w of [...s.waiters]) {
      if (w.pred(msg, line)) { s.waiters.splice(s.waiters.indexOf(w), 1); w.resolve(msg); }
    }
  };
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk) => {
    let start = 0;
    let nl;
    while ((nl = chunk.indexOf('\n', start)) >= 0) {
      partial.push(chunk.slice(start, nl));
      const line = partial.join('');
      partial = [];
      start = nl + 1;
      onLine(line);
    }
    if (start < chunk.length) partial.push(chunk.slice(start));
  });
  proc.stdout.on('end', () => { if (partial.length) s.badLines.push(partial.join('')); });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c) => { if (s.stderr.length < 1 << 20) s.stderr += c; });

  s.write = (data) => proc.stdin.write(data);
  s.send = (obj) => proc.stdin.write(JSON.stringify(obj) + '\n');
  s.waitFor = (pred, ms = 5000, what = 'message') => {
    for (let i = 0; i < s.messages.length; i++) {
      if (pred(s.messages[i], s.raw[i])) return Promise.resolve(s.messages[i]);
    }
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (m) => { clearTimeout(w.timer); resolve(m); } };
      w.timer = setTimeout(() => {
        s.waiters.splice(s.waiters.indexOf(w), 1);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; stderr tail:\n${s.stderr.slice(-2000)}`));
      }, ms);
      s.waiters.push(w);
    });
  };
  s.reply = (id, ms = 5000) =>
    s.waitFor((m) => 'id' in m && !('method' in m) && JSON.stringify(m.id) === JSON.stringify(id), ms, `reply to id ${JSON.stringify(id)}`);
  s.request = (id, method, params, ms) => {
    const msg = { jsonrpc: '2.0', id, method };
    if (params !== undefined) msg.params = params;
    s.send(msg);
    return s.reply(id, ms);
  };
  s.call = (id, name, args, ms, meta) => s.request(id, 'tools/call', { name, arguments: args, ...(meta ? { _meta: meta } : {}) }, ms);
  s.init = async (version = '2025-11-25') => {
    const r = await s.request('init', 'initialize', {
      protocolVersion: version, capabilities: {}, clientInfo: { name: 'e2e', version: '1' },
    });
    s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return r;
  };
  s.exit = (ms) => Promise.race([
    s.exited,
    sleep(ms).then(() => { throw new Error(`server did not exit within ${ms} ms`); }),
  ]);
  s.close = async () => {
    for (const w of s.waiters) clearTimeout(w.timer);
    if (!s.exitInfo) {
      // End of input is a clean shutdown: the server unmounts what its
      // workspaces mounted (disk images, overlays), so the temp dir can go.
      proc.stdin.end();
      await Promise.race([s.exited, sleep(5000)]);
    }
    if (!s.exitInfo) {
      proc.kill('SIGKILL');
      await Promise.race([s.exited, sleep(2000)]);
    }
    for (const d of [base, ...s.extraDirs]) rmSync(d, { recursive: true, force: true });
  };
  /** A fresh source dir under the temp dir with the given files; returns its path. */
  s.sourceDir = (files = { 'README.md': '# e2e\n' }) => {
    const dir = mkdtempSync(join(tmpdir(), 'isb-e2e-src-'));
    s.extraDirs.push(dir);
    for (const [name, text] of Object.entries(files)) {
      const p = join(dir, name);
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, text);
    }
    return dir;
  };
  /** Creates a workspace from a fresh source dir; returns its id. */
  s.workspace = async (files) => {
    const r = await s.call('ws', 'create_workspace', { source_path: s.sourceDir(files) });
    assert.equal(r.result?.isError, false, `create_workspace failed: ${JSON.stringify(r)}`);
    const id = r.result.structuredContent.workspace_id;
    assert.equal(typeof id, 'string');
    return id;
  };
  return s;
}

/** Runs fn with a started server, always killing it afterwards. */
function withServer(fn, options) {
  return async () => {
    const s = startServer(options);
    try {
      await fn(s);
    } finally {
      await s.close();
    }
  };
}

function errorOf(reply) {
  assert.ok(reply.error, `expected a JSON-RPC error, got ${JSON.stringify(reply).slice(0, 500)}`);
  assert.equal(reply.result, undefined);
  return reply.error;
}

function toolText(reply) {
  assert.ok(reply.result, `expected a result, got ${JSON.stringify(reply).slice(0, 500)}`);
  return reply.result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

const opts = { timeout: TEST_TIMEOUT };

// ----------------------------------------------------------------- tests ---

test('initialize negotiates the protocol version and advertises only tools, logging, resources (and tasks for 2025-11-25)', opts, withServer(async (s) => {
  const cases = [
    ['2025-06-18', '2025-06-18'],
    ['2025-11-25', '2025-11-25'],
    ['2024-11-05', '2024-11-05'],
    ['1999-01-01', '2025-11-25'],
  ];
  let n = 0;
  for (const [asked, expected] of cases) {
    const r = await s.request(++n, 'initialize', {
      protocolVersion: asked, capabilities: {}, clientInfo: { name: 'e2e', version: '1' },
    });
    assert.equal(r.result.protocolVersion, expected, `client asked ${asked}`);
    assert.equal(r.result.serverInfo.name, 'intelligent-sandbox');
    assert.equal(typeof r.result.serverInfo.version, 'string');
    assert.match(r.result.serverInfo.version, /^\d+\.\d+\.\d+/);
    assert.equal(typeof r.result.capabilities.tools, 'object');
    const expectedCapabilities = expected >= '2025-11-25' ? ['logging', 'resources', 'tasks', 'tools'] : ['logging', 'resources', 'tools'];
    assert.deepEqual(Object.keys(r.result.capabilities).sort(), expectedCapabilities);
    assert.deepEqual(r.result.capabilities.resources, { subscribe: false, listChanged: false });
  }
}));

test('ping returns {}, unknown methods get -32601, unknown notifications get no reply', opts, withServer(async (s) => {
  await s.init();
  const p = await s.request(1, 'ping');
  assert.deepEqual(p.result, {});
  const u = await s.request(2, 'no/such/method', {});
  assert.equal(errorOf(u).code, -32601);
  assert.equal(u.id, 2);
  const before = s.raw.length;
  s.send({ jsonrpc: '2.0', method: 'no/such/notification', params: {} });
  const p2 = await s.request(3, 'ping');
  assert.deepEqual(p2.result, {});
  await sleep(100);
  assert.deepEqual(s.raw.slice(before).map(rawId), ['3'], 'only the ping is answered');
}));

test('malformed JSON is -32700 with id null, non-objects and missing jsonrpc are -32600', opts, withServer(async (s) => {
  await s.init();
  s.write('{"jsonrpc":"2.0","id":1,"method":"ping"\n');
  const e1 = await s.waitFor((m) => m.error && m.id === null, 3000, 'parse error');
  assert.equal(e1.error.code, -32700);
  assert.deepEqual((await s.request(2, 'ping')).result, {});

  for (const bad of ['42', '[1]', '"str"', 'null']) {
    const before = s.messages.length;
    s.write(bad + '\n');
    const e = await s.waitFor((m, _l) => s.messages.indexOf(m) >= before && m.error, 3000, `error for ${bad}`);
    assert.equal(e.error.code, -32600, `for ${bad}`);
    assert.equal(e.id, null);
  }
  s.write('{"id":3,"method":"ping"}\n');
  const e3 = await s.reply(3);
  assert.equal(errorOf(e3).code, -32600);
  s.write('{"jsonrpc":"1.0","id":4,"method":"ping"}\n');
  assert.equal(errorOf(await s.reply(4)).code, -32600);
  assert.deepEqual((await s.request(5, 'ping')).result, {});
}));

test('string and integer ids are echoed unchanged', opts, withServer(async (s) => {
  await s.init();
  const ids = ['"abc"', '"1"', '""', '"ü \\"q\\" 🎉"', '0', '1', '-5', '9007199254740991', '123456789012'];
  for (const idText of ids) {
    s.write(`{"jsonrpc":"2.0","id":${idText},"method":"ping"}\n`);
  }
  for (const idText of ids) {
    await s.waitFor((_m, line) => rawId(line) === idText, 3000, `echo of id ${idText}`);
  }
  // "1" and 1 are different ids: each is answered separately.
  assert.equal(s.raw.filter((l) => rawId(l) === '"1"').length, 1);
  assert.equal(s.raw.filter((l) => rawId(l) === '1').length, 1);
  const big = s.raw.find((l) => rawId(l) === '9007199254740991');
  assert.deepEqual(JSON.parse(big).result, {});
}));

test('tools/list describes the 10 tools with valid names, schemas and annotations', opts, withServer(async (s) => {
  await s.init();
  const a = await s.request(1, 'tools/list', {});
  const b = await s.request(2, 'tools/list');
  const tools = a.result.tools;
  assert.ok(Array.isArray(tools));
  for (const t of tools) {
    assert.match(t.name, /^[a-zA-Z0-9_-]{1,64}$/);
    assert.equal(typeof t.description, 'string');
    assert.ok(t.description.length > 0, `${t.name} has a description`);
    for (const k of ['inputSchema', 'outputSchema']) {
      assert.equal(typeof t[k], 'object', `${t.name}.${k}`);
      assert.ok(t[k] && !Array.isArray(t[k]));
      assert.equal(t[k].type, 'object', `${t.name}.${k}.type`);
    }
    for (const h of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']) {
      assert.equal(typeof t.annotations[h], 'boolean', `${t.name}.annotations.${h}`);
    }
  }
  const names = tools.map((t) => t.name);
  assert.equal(new Set(names).size, names.length, 'names are unique');
  for (const n of EXPECTED_TOOLS) assert.ok(names.includes(n), `tool ${n} is listed`);
  assert.deepEqual(b.result.tools.map((t) => t.name), names, 'order is stable');
  assert.deepEqual(b.result, a.result);
  const c = await s.request(3, 'tools/list', { cursor: 'abc' });
  assert.equal(errorOf(c).code, -32602);
}));

test('tools/call reports unknown tools as -32602 and bad arguments as isError results', opts, withServer(async (s) => {
  await s.init();
  const u = await s.call(1, 'no_such_tool', {});
  assert.equal(errorOf(u).code, -32602);
  assert.match(u.error.message, /no_such_tool/);

  const missing = await s.call(2, 'analyze_codebase', {});
  assert.equal(missing.result.isError, true);
  assert.match(toolText(missing), /workspace_id/);

  const ws = await s.workspace();
  const wrongType = await s.call(3, 'exec_command', { workspace_id: ws, command: 'true', timeout_s: 'ten' });
  assert.equal(wrongType.result.isError, true);
  assert.match(toolText(wrongType), /timeout_s/);

  const unknownWs = 'ws-does-not-exist-4242';
  const nf = await s.call(4, 'analyze_codebase', { workspace_id: unknownWs });
  assert.equal(nf.result.isError, true);
  assert.match(toolText(nf), new RegExp(unknownWs));
}));

test('framing: split writes, joined messages, CRLF and blank lines', opts, withServer(async (s) => {
  await s.init();
  const msg = '{"jsonrpc":"2.0","id":1,"method":"ping"}\n';
  s.write(msg.slice(0, 17));
  await sleep(50);
  s.write(msg.slice(17));
  assert.deepEqual((await s.reply(1)).result, {});

  s.write('{"jsonrpc":"2.0","id":2,"method":"ping"}\n{"jsonrpc":"2.0","id":3,"method":"ping"}\n');
  assert.deepEqual((await s.reply(2)).result, {});
  assert.deepEqual((await s.reply(3)).result, {});

  s.write('{"jsonrpc":"2.0","id":4,"method":"ping"}\r\n');
  assert.deepEqual((await s.reply(4)).result, {});

  const before = s.raw.length;
  s.write('\n\r\n   \n\n{"jsonrpc":"2.0","id":5,"method":"ping"}\n\n');
  assert.deepEqual((await s.reply(5)).result, {});
  await sleep(100);
  assert.deepEqual(s.raw.slice(before).map(rawId), ['5'], 'blank lines get no reply');
}));

test('stdout carries only JSON-RPC lines, even when sandboxed commands print a lot', opts, withServer(async (s) => {
  await s.init();
  const ws = await s.workspace();
  const cmd = 'i=0; while [ $i -lt 3000 ]; do echo "LEAK-OUT $i"; echo "LEAK-ERR $i" >&2; i=$((i+1)); done; ' +
    'printf "no newline at end"; printf "\\033[2J bell\\a" >&2';
  const r = await s.call(1, 'exec_command', { workspace_id: ws, command: cmd }, 8000);
  assert.equal(r.result.isError, false, JSON.stringify(r).slice(0, 500));
  assert.equal(r.result.structuredContent.exit_code, 0);
  assert.match(r.result.structuredContent.stdout, /no newline at end$/);
  await s.request(2, 'tools/list');
  await s.request(3, 'no/such');
  s.write('garbage\n');
  await s.request(4, 'ping');
  assert.deepEqual(s.badLines, [], 'every stdout line is a JSON object');
  for (const line of s.raw) {
    assert.equal(JSON.parse(line).jsonrpc, '2.0');
    if (line.includes('LEAK-')) {
      const m = JSON.parse(line);
      assert.ok('result' in m || m.method === 'notifications/message', 'output only inside results and log messages');
    }
  }
  assert.ok(!s.raw.some((l) => l.startsWith('LEAK')));
}));

test('a 10 MiB message is answered and the server keeps working', opts, withServer(async (s) => {
  await s.init();
  const ws = await s.workspace();
  const big = 'x'.repeat(10 * 1024 * 1024);
  // A 10 MiB command line: the transport accepts the message, and the
  // command's schema bound (64 KiB, so that what is stored stays bounded)
  // refuses it with a result that names the argument.
  s.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'exec_command', arguments: { workspace_id: ws, command: 'true # ' + big } } });
  s.send({ jsonrpc: '2.0', id: 2, method: 'ping' });
  assert.deepEqual((await s.reply(2)).result, {}, 'the reader is not blocked by the big call');
  const r = await s.reply(1, 8000);
  assert.ok(r.result, JSON.stringify(r).slice(0, 500));
  assert.equal(r.result.isError, true);
  assert.match(r.result.content[0].text, /command/);
  // Refused by that limit, so also a 10 MiB argument that is checked before use.
  const b = await s.call(3, 'create_workspace', { source_path: '/tmp/' + big }, 8000);
  assert.equal(b.result.isError, true);
  assert.deepEqual((await s.request(4, 'ping')).result, {});
  const t = await s.request(5, 'tools/list');
  assert.ok(t.result.tools.length >= 10);
  assert.deepEqual(s.badLines, []);
}));

test('UTF-8 round-trips and invalid UTF-8 is a parse error', opts, withServer(async (s) => {
  await s.init();
  const ws = await s.workspace();
  const r = await s.call(1, 'exec_command', { workspace_id: ws, command: "printf '%s' '日本語 🎉'" });
  assert.equal(r.result.isError, false, JSON.stringify(r));
  assert.equal(r.result.structuredContent.stdout, '日本語 🎉');

  // Escaped surrogate pair in the JSON text of an argument.
  s.write(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"exec_command","arguments":` +
    `{"workspace_id":${JSON.stringify(ws)},"command":"printf '%s' '\\ud83c\\udf89'"}}}\n`);
  const r2 = await s.reply(2);
  assert.equal(r2.result.isError, false, JSON.stringify(r2));
  assert.equal(r2.result.structuredContent.stdout, '🎉');

  const before = s.messages.length;
  s.write(Buffer.concat([
    Buffer.from('{"jsonrpc":"2.0","id":3,"method":"ping","params":{"x":"'),
    Buffer.from([0xff, 0xfe]),
    Buffer.from('"}}\n'),
  ]));
  const e = await s.waitFor((m) => s.messages.indexOf(m) >= before && m.error, 3000, 'parse error');
  assert.equal(e.error.code, -32700);
  assert.equal(e.id, null);
  assert.deepEqual((await s.request(4, 'ping')).result, {});
}));

test('concurrency: a ping is answered while a tools/call is still running', opts, withServer(async (s) => {
  await s.init();
  const ws = await s.workspace();
  const order = [];
  const slow = s.call('slow', 'exec_command', { workspace_id: ws, command: 'sleep 1' }, 6000).then((r) => { order.push('slow'); return r; });
  const ping = s.request('fast', 'ping').then((r) => { order.push('fast'); return r; });
  const [a, b] = await Promise.all([slow, ping]);
  assert.deepEqual(order, ['fast', 'slow']);
  assert.equal(a.result.isError, false);
  assert.equal(a.result.structuredContent.exit_code, 0);
  assert.deepEqual(b.result, {});
}));

test('notifications/cancelled ends a running exec_command', opts, withServer(async (s) => {
  await s.init();
  const ws = await s.workspace();
  s.send({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'exec_command', arguments: { workspace_id: ws, command: 'sleep 30' } } });
  await sleep(300);
  const t0 = Date.now();
  s.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7, reason: 'test' } });
  const r = await s.reply(7, 5000);
  assert.ok(Date.now() - t0 < 5000);
  assert.ok(r.result, JSON.stringify(r));
  assert.ok(r.result.isError === true || r.result.structuredContent?.status === 'cancelled', JSON.stringify(r));
  assert.deepEqual((await s.request(8, 'ping')).result, {});
}));

test('an id reused while its call is in flight is rejected with -32600', opts, withServer(async (s) => {
  await s.init();
  const ws = await s.workspace();
  s.send({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'exec_command', arguments: { workspace_id: ws, command: 'sleep 30' } } });
  s.send({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'exec_command', arguments: { workspace_id: ws, command: 'true' } } });
  const dup = await s.reply(5, 3000);
  assert.equal(errorOf(dup).code, -32600);
  // The first call is still known under its id, so it can still be cancelled.
  s.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 5 } });
  // Depending on whether the pool had started it, the first call ends as a
  // cancelled result or as an error saying it was cancelled before it started.
  const first = await s.waitFor((m) => m !== dup && m.id === 5 && (m.result || m.error), 5000, 'the cancelled first call');
  if (first.result) {
    assert.equal(first.result.structuredContent?.status, 'cancelled', JSON.stringify(first).slice(0, 500));
  } else {
    assert.match(first.error.message, /cancelled before it started/, JSON.stringify(first));
  }
}));

test('execute_task_plan streams increasing progress before its result', opts, withServer(async (s) => {
  await s.init();
  const ws = await s.workspace({
    'pyproject.toml': '[project]\nname = "e2e"\nversion = "0.1.0"\n',
    'test_x.py': 'import unittest\n\nclass T(unittest.TestCase):\n    def test_ok(self):\n        self.assertEqual(1 + 1, 2)\n\n' +
      'if __name__ == "__main__":\n    unittest.main()\n',
  });
  const plan = await s.call(1, 'create_task_plan', { workspace_id: ws, task_description: 'run the tests', auto_approve: true });
  assert.equal(plan.result.isError, false, JSON.stringify(plan));
  const planId = plan.result.structuredContent.plan_id;
  assert.equal(typeof planId, 'string');
  const r = await s.call(2, 'execute_task_plan', { plan_id: planId }, 8000, { progressToken: 'tok' });
  assert.equal(r.result.isError, false, JSON.stringify(r).slice(0, 1000));
  await sleep(200);
  const resultIndex = s.messages.indexOf(r);
  const progress = s.messages
    .map((m, i) => ({ m, i }))
    .filter(({ m }) => m.method === 'notifications/progress');
  const mine = progress.filter(({ m }) => m.params.progressToken === 'tok');
  assert.ok(mine.length >= 1, 'at least one progress notification');
  assert.equal(mine.length, progress.length, 'no progress with another token');
  for (const { i } of mine) assert.ok(i < resultIndex, 'progress arrives before the result');
  for (let k = 1; k < mine.length; k++) {
    assert.ok(mine[k].m.params.progress > mine[k - 1].m.params.progress, 'progress strictly increases');
  }
  for (const { m } of mine) assert.equal(m.jsonrpc, '2.0');
}));

test('EOF on stdin exits with code 0 within 2 s', opts, withServer(async (s) => {
  await s.init();
  s.proc.stdin.end();
  const t0 = Date.now();
  const e = await s.exit(2000);
  assert.equal(e.code, 0);
  assert.ok(Date.now() - t0 < 2000);
}));

test('EOF with a call in flight exits with code 0 within 5 s', opts, withServer(async (s) => {
  await s.init();
  const ws = await s.workspace();
  s.send({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'exec_command', arguments: { workspace_id: ws, command: 'sleep 30' } } });
  await sleep(300);
  const t0 = Date.now();
  s.proc.stdin.end();
  const e = await s.exit(5000);
  assert.equal(e.code, 0);
  assert.ok(Date.now() - t0 < 5000);
  assert.deepEqual(s.badLines, []);
}));

test('tools/list pages with nextCursor in a stable order; a bad cursor is -32602', opts, withServer(async (s) => {
  await s.init();
  const names = [];
  const cursors = [];
  let cursor;
  for (let page = 0; page < 10; page++) {
    const r = await s.request(`page${page}`, 'tools/list', cursor === undefined ? {} : { cursor });
    const tools = r.result.tools;
    assert.ok(tools.length <= 4, `page ${page} has ${tools.length} tools`);
    names.push(...tools.map((t) => t.name));
    cursor = r.result.nextCursor;
    if (cursor === undefined) break;
    assert.equal(tools.length, 4);
    cursors.push(cursor);
  }
  assert.equal(cursor, undefined, 'the last page has no nextCursor');
  assert.equal(new Set(names).size, names.length, 'no tool appears on two pages');
  for (const n of EXPECTED_TOOLS) assert.ok(names.includes(n), `tool ${n} is on some page`);
  assert.equal(cursors.length, Math.ceil(names.length / 4) - 1, `${names.length} tools in pages of 4`);
  const again = await s.request('again', 'tools/list', { cursor: cursors[0] });
  assert.deepEqual(again.result.tools.map((t) => t.name), names.slice(4, 8));
  for (const [i, bad] of [['b1', 'tools-offset:3'], ['b2', 'tools-offset:400'], ['b3', 'x'], ['b4', 7]]) {
    const e = errorOf(await s.request(i, 'tools/list', { cursor: bad }));
    assert.equal(e.code, -32602, `cursor ${JSON.stringify(bad)}`);
    assert.match(e.message, /cursor/);
  }
}, { args: ['--config', pageSizeConfig(4)] }));

/** A config file that sets mcp-stdio's tools/list page size (removed at exit). */
function pageSizeConfig(n) {
  const dir = mkdtempSync(join(tmpdir(), 'isb-e2e-cfg-'));
  const file = join(dir, 'sandbox.yaml');
  writeFileSync(file, `plugins:\n  settings:\n    mcp-stdio:\n      tools_page_size: ${n}\n`);
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return file;
}

test('logging/setLevel filters command output sent as notifications/message', opts, withServer(async (s) => {
  await s.init();
  const ws = await s.workspace();
  const cmd = 'echo to-stdout; echo to-stderr >&2';
  // Before any setLevel the level is info (most clients never set one): both
  // streams, stdout as info and stderr as warning, before the result.
  const r1 = await s.call(1, 'exec_command', { workspace_id: ws, command: cmd });
  assert.equal(r1.result.isError, false);
  const first = s.messages.filter((m) => m.method === 'notifications/message');
  assert.ok(first.length > 0 && s.messages.indexOf(first.at(-1)) < s.messages.indexOf(r1), 'log messages come before the result');
  // setLevel info changes nothing.
  assert.deepEqual((await s.request(2, 'logging/setLevel', { level: 'info' })).result, {});
  const mark = s.messages.length;
  const r3 = await s.call(3, 'exec_command', { workspace_id: ws, command: cmd });
  const logs = s.messages.slice(mark).filter((m) => m.method === 'notifications/message');
  assert.ok(s.messages.indexOf(logs.at(-1)) < s.messages.indexOf(r3), 'log messages come before the result');
  const text = (level) => logs.filter((m) => m.params.level === level).map((m) => m.params.data.text).join('');
  assert.equal(text('info'), 'to-stdout\n');
  assert.equal(text('warning'), 'to-stderr\n');
  for (const m of [...first, ...logs]) assert.equal(m.params.logger, 'execution');
  assert.deepEqual(first.map((m) => [m.params.level, m.params.data.text]).sort(), [['info', 'to-stdout\n'], ['warning', 'to-stderr\n']]);
  // warning: stderr only.
  assert.deepEqual((await s.request(4, 'logging/setLevel', { level: 'warning' })).result, {});
  const before = s.messages.length;
  await s.call(5, 'exec_command', { workspace_id: ws, command: cmd });
  const later = s.messages.slice(before).filter((m) => m.method === 'notifications/message');
  assert.deepEqual(later.map((m) => [m.params.level, m.params.data.text]), [['warning', 'to-stderr\n']]);
  // Bad levels name the valid ones.
  for (const [id, level] of [[6, 'verbose'], [7, 3], [8, undefined]]) {
    const e = errorOf(await s.request(id, 'logging/setLevel', level === undefined ? {} : { level }));
    assert.equal(e.code, -32602);
    assert.match(e.message, /debug, info, notice, warning, error, critical, alert, emergency/);
  }
}));

test('requests are served after initialize even when notifications/initialized comes late', opts, withServer(async (s) => {
  const init = await s.request(1, 'initialize', { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'late', version: '1' } });
  assert.equal(init.result.protocolVersion, '2025-03-26');
  const list = await s.request(2, 'tools/list', {});
  for (const n of EXPECTED_TOOLS) assert.ok(list.result.tools.some((t) => t.name === n), `tool ${n} is listed`);
  s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  assert.deepEqual((await s.request(3, 'ping')).result, {});
}));
