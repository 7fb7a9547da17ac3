// mcp_http_frontdoor.test.mjs: the HTTP front door against floods and
// borrowed sessions (security issue 13, findings 7, 8 and 9), on the real
// server:
//   - a wrong-key flood is locked out (429 + Retry-After) after the threshold,
//     per client address, and its audit lines are sampled;
//   - a session belongs to the key that created it (404 for any other key,
//     on POST, the GET stream and DELETE);
//   - one key opening many sessions ends its own idle ones and cannot lock
//     another key out; all-busy caps answer 429 / 503 naming the cap;
//   - a duplicated Host or Origin header is refused with 400.
// Raw HTTP (node:http, or a plain socket where headers must be duplicated) so
// that every status and header is seen as sent; the official SDK client
// stands for the key that must not be locked out. Every loop is bounded.
//
//   ISB_BINARY=/path/to/intelligent-sandbox node --test tests/e2e/mcp_http_frontdoor.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { readFileSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startHttpServer } from './mcp_http_server.mjs';

const KEY_A = 'frontdoor-key-a-0123456789';
const KEY_B = 'frontdoor-key-b-0123456789';
const KEY_C = 'frontdoor-key-c-0123456789';
// Rate limits are not the subject here (mcp_http.test.mjs covers them).
const ROOMY = { SANDBOX_SECURITY_RATE_LIMIT_BURST: '100000', SANDBOX_SECURITY_RATE_LIMIT_REQUESTS_PER_MINUTE: '1000000' };
const opts = { timeout: 60_000 };
const INIT = {
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e-frontdoor', version: '1' } },
};
const PING = { jsonrpc: '2.0', id: 2, method: 'ping' };

/** One HTTP request; localAddress picks the client's source address (any of 127/8). */
function request(srv, { method = 'POST', headers = {}, body, localAddress, agent } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const h = { ...headers };
    if (data !== undefined) {
      h['content-type'] ??= 'application/json';
      h.accept ??= 'application/json, text/event-stream';
    }
    const req = http.request({ host: '127.0.0.1', port: srv.port, method, path: '/mcp', headers: h, localAddress,
      agent, timeout: 15_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

async function initSession(srv, key) {
  const r = await request(srv, { body: INIT, headers: { 'x-api-key': key } });
  assert.equal(r.status, 200, r.text);
  return r.headers['mcp-session-id'];
}

/** Opens the GET /mcp stream of a session; resolves with its status once the head arrives. */
function openStream(srv, key, sid) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, method: 'GET', path: '/mcp',
      headers: { accept: 'text/event-stream', 'x-api-key': key, 'mcp-session-id': sid } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('error', () => {});
      resolve({ status: res.statusCode, text: () => text, close: () => req.destroy() });
    });
    req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
    req.end();
  });
}

/** Raw HTTP/1.1 over a socket, so that headers can be sent twice; resolves with {status, text}. */
function rawRequest(port, head, body = '') {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port }, () => {
      sock.write(`${head}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    let text = '';
    sock.setEncoding('utf8');
    sock.setTimeout(10_000, () => sock.destroy(new Error('raw request timed out')));
    sock.on('data', (c) => { text += c; });
    sock.on('end', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), text }));
    sock.on('error', reject);
  });
}

function auditLines(srv) {
  return readFileSync(srv.auditPath, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function withServer(fn, options) {
  return async () => {
    const srv = await startHttpServer(options);
    try { await fn(srv); } finally { await srv.close(); }
  };
}

/** A config file giving the HTTP transport small session caps. */
function sessionCapConfig(maxSessions, perKey) {
  const dir = mkdtempSync(join(tmpdir(), 'isb-frontdoor-cfg-'));
  const file = join(dir, 'sandbox.yaml');
  writeFileSync(file, `plugins:\n  settings:\n    mcp-http:\n      max_sessions: ${maxSessions}\n` +
    `      max_sessions_per_key: ${perKey}\n`);
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('a wrong-key flood is locked out with 429 + Retry-After after 10 tries; other addresses still get in; the audit stays small',
  opts, withServer(async (srv) => {
    const N = 400;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16, localAddress: '127.0.0.2' });
    const statuses = {};
    const retryAfter = [];
    let next = 0;
    try {
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (next < N) {
          const i = next++;
          const r = await request(srv, { body: INIT, headers: { 'x-api-key': `wrong-key-${i}-000000` }, agent });
          statuses[r.status] = (statuses[r.status] ?? 0) + 1;
          if (r.status === 429) {
            retryAfter.push(Number(r.headers['retry-after']));
            assert.match(r.text, /too many failed API key attempts/);
          }
        }
      }));
    } finally {
      agent.destroy();
    }
    assert.deepEqual(statuses, { 401: 10, 429: N - 10 }, 'exactly the threshold of keys is judged');
    assert.ok(retryAfter.every((s) => s >= 1), `Retry-After: ${[...new Set(retryAfter)]}`);

    // From the locked-out address even the right key waits; another address is not affected.
    const locked = await request(srv, { body: INIT, headers: { 'x-api-key': KEY_A }, localAddress: '127.0.0.2' });
    assert.equal(locked.status, 429);
    const elsewhere = await request(srv, { body: INIT, headers: { 'x-api-key': KEY_A }, localAddress: '127.0.0.1' });
    assert.equal(elsewhere.status, 200, elsewhere.text);

    // Sampled lines carry the count of those not written; the held-back rest
    // is written within about a second.
    let accounted = 0;
    let lines = [];
    for (let i = 0; i < 30 && accounted < N + 1; i++) {
      await sleep(200);
      lines = auditLines(srv).filter((l) => l.client_address === '127.0.0.2');
      accounted = lines.reduce((n, l) => n + 1 + (l.suppressed ?? 0), 0);
    }
    assert.equal(accounted, N + 1, 'every refusal is a line or counted in one');
    assert.ok(lines.length <= 40, `${lines.length} audit lines for ${N + 1} refusals`);
    assert.ok(lines.some((l) => l.suppressed > 0));
    assert.deepEqual(new Set(lines.map((l) => l.outcome)), new Set(['denied:unauthenticated', 'denied:auth_backoff']));
    assert.ok(statSync(srv.auditPath).size < 16 * 1024, `audit log is ${statSync(srv.auditPath).size} bytes`);
  }, { env: { ...ROOMY, SANDBOX_API_KEY: KEY_A } }));

test('a session belongs to the key that created it: another key gets 404 on POST, the GET stream and DELETE',
  opts, withServer(async (srv) => {
    const sid = await initSession(srv, KEY_A);
    const ping = await request(srv, { body: PING, headers: { 'x-api-key': KEY_B, 'mcp-session-id': sid } });
    assert.equal(ping.status, 404, ping.text);
    assert.match(ping.text, /Session not found/);
    const get = await openStream(srv, KEY_B, sid);
    get.close();
    assert.equal(get.status, 404);
    const del = await request(srv, { method: 'DELETE', headers: { 'x-api-key': KEY_B, 'mcp-session-id': sid } });
    assert.equal(del.status, 404);

    // Untouched for its own key.
    const own = await request(srv, { body: PING, headers: { 'x-api-key': KEY_A, 'mcp-session-id': sid } });
    assert.equal(own.status, 200, own.text);
    const stream = await openStream(srv, KEY_A, sid);
    stream.close();
    assert.equal(stream.status, 200);
    const end = await request(srv, { method: 'DELETE', headers: { 'x-api-key': KEY_A, 'mcp-session-id': sid } });
    assert.equal(end.status, 204);
  }, { env: { ...ROOMY, SANDBOX_SECURITY_API_KEYS: `${KEY_A},${KEY_B}` } }));

test('one key opening many sessions ends its own idle ones and cannot lock another key out', opts, async () => {
  const cfg = sessionCapConfig(6, 3);
  const srv = await startHttpServer({ args: ['--config', cfg.file],
    env: { ...ROOMY, SANDBOX_SECURITY_API_KEYS: `${KEY_A},${KEY_B}` } });
  const streams = [];
  try {
    const sids = [];
    for (let i = 0; i < 20; i++) sids.push(await initSession(srv, KEY_A));
    const alive = [];
    for (const sid of sids) {
      const r = await request(srv, { body: PING, headers: { 'x-api-key': KEY_A, 'mcp-session-id': sid } });
      alive.push(r.status);
    }
    assert.deepEqual(alive, [...Array(17).fill(404), 200, 200, 200], 'the key keeps its 3 newest sessions');

    // Another key, with the official SDK client, is not locked out.
    const client = new Client({ name: 'key-b', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(srv.url),
      { requestInit: { headers: { 'x-api-key': KEY_B } } }));
    try {
      const r = await client.callTool({ name: 'list_workspaces', arguments: {} });
      assert.equal(r.isError, false);
    } finally {
      await client.close();
    }

    // With all three of its sessions busy (GET streams open), the key's next
    // initialize is refused with the cap named, and B still gets in.
    for (const sid of sids.slice(17)) {
      const s = await openStream(srv, KEY_A, sid);
      streams.push(s);
      assert.equal(s.status, 200);
    }
    const refused = await request(srv, { body: INIT, headers: { 'x-api-key': KEY_A } });
    assert.equal(refused.status, 429, refused.text);
    assert.match(refused.text, /max_sessions_per_key: 3/);
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal((await request(srv, { body: INIT, headers: { 'x-api-key': KEY_B } })).status, 200);
  } finally {
    for (const s of streams) s.close();
    await srv.close();
    cfg.cleanup();
  }
});

test('a full server ends an idle session of the key holding the most, and says 503 naming max_sessions when all are busy',
  opts, async () => {
    const cfg = sessionCapConfig(6, 3);
    const srv = await startHttpServer({ args: ['--config', cfg.file],
      env: { ...ROOMY, SANDBOX_SECURITY_API_KEYS: `${KEY_A},${KEY_B},${KEY_C}` } });
    const streams = [];
    try {
      const sidsA = [];
      for (const key of [KEY_A, KEY_B]) {
        for (let i = 0; i < 3; i++) {
          const sid = await initSession(srv, key);
          if (key === KEY_A) sidsA.push(sid);
          const s = await openStream(srv, key, sid);
          assert.equal(s.status, 200);
          streams.push({ key, sid, s });
        }
      }
      const full = await request(srv, { body: INIT, headers: { 'x-api-key': KEY_C } });
      assert.equal(full.status, 503, full.text);
      assert.match(full.text, /maximum of 6 sessions \(max_sessions\)/);

      // One of A's sessions goes idle: C's initialize takes its place.
      streams[0].s.close();
      let status = 0;
      for (let i = 0; i < 40 && status !== 200; i++) {
        await sleep(100);
        status = (await request(srv, { body: INIT, headers: { 'x-api-key': KEY_C } })).status;
      }
      assert.equal(status, 200, 'the idle session made room');
      const gone = await request(srv, { body: PING, headers: { 'x-api-key': KEY_A, 'mcp-session-id': sidsA[0] } });
      assert.equal(gone.status, 404);
    } finally {
      for (const { s } of streams) s.close();
      await srv.close();
      cfg.cleanup();
    }
  });

test('a duplicated Host or Origin header is refused with 400', opts, withServer(async (srv) => {
  const body = JSON.stringify(INIT);
  const base = 'POST /mcp HTTP/1.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n';
  const good = `Host: 127.0.0.1:${srv.port}\r\n`;
  const evil = 'Host: evil.example\r\n';
  const single = await rawRequest(srv.port, base + good, body);
  assert.equal(single.status, 200, single.text);
  for (const hosts of [good + evil, evil + good, good + good]) {
    const r = await rawRequest(srv.port, base + hosts, body);
    assert.equal(r.status, 400, `${JSON.stringify(hosts)}: ${r.text}`);
    assert.match(r.text, /2 Host headers; send exactly one/);
  }
  const origins = `Origin: http://127.0.0.1:${srv.port}\r\nOrigin: http://evil.example\r\n`;
  const r = await rawRequest(srv.port, base + good + origins, body);
  assert.equal(r.status, 400, r.text);
  assert.match(r.text, /2 Origin headers; send exactly one/);
}, { env: ROOMY }));
