// mcp_http.test.mjs: the Streamable HTTP transport (MCP.md behaviours 14 and
// 15) driven with raw HTTP requests, so every status code and header is seen
// exactly as a client gets it:
//
//   ISB_BINARY=/path/to/intelligent-sandbox node --test tests/e2e/mcp_http.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync, existsSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { startHttpServer, runToExit, BINARY } from './mcp_http_server.mjs';

const KEY = 'e2e-key-0123456789abcdef';
const opts = { timeout: 30_000 };
const INIT = {
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e-http', version: '1' } },
};

/** One HTTP request with node:http (which, unlike fetch, lets us set Host). */
function request(srv, { method = 'POST', path = '/mcp', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const h = { ...headers };
    if (data !== undefined) {
      h['content-type'] ??= 'application/json';
      h.accept ??= 'application/json, text/event-stream';
    }
    const req = http.request({ host: '127.0.0.1', port: srv.port, method, path, headers: h, timeout: 15_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

/** SSE body -> the JSON messages of its data lines. */
function sseMessages(text) {
  return text.split('\n\n').map((ev) => ev.split('\n').filter((l) => l.startsWith('data: '))
    .map((l) => l.slice(6)).join('\n')).filter((d) => d.length > 0).map((d) => JSON.parse(d));
}

async function initSession(srv, headers = {}) {
  const r = await request(srv, { body: INIT, headers });
  assert.equal(r.status, 200, r.text);
  const sid = r.headers['mcp-session-id'];
  assert.match(sid, /^[\x21-\x7e]+$/, 'session id is visible ASCII');
  const n = await request(srv, { body: { jsonrpc: '2.0', method: 'notifications/initialized' },
    headers: { 'mcp-session-id': sid, ...headers } });
  assert.equal(n.status, 202);
  assert.equal(n.text, '');
  return sid;
}

function withHttp(fn, options) {
  return async () => {
    const srv = await startHttpServer(options);
    try { await fn(srv); } finally { await srv.close(); }
  };
}

test('initialize over POST returns JSON and a random visible-ASCII Mcp-Session-Id', opts, withHttp(async (srv) => {
  const a = await request(srv, { body: INIT });
  const b = await request(srv, { body: INIT });
  assert.equal(a.status, 200);
  assert.match(a.headers['content-type'], /^application\/json/);
  assert.equal(a.json.id, 1);
  assert.equal(a.json.result.protocolVersion, '2025-11-25');
  assert.deepEqual(Object.keys(a.json.result.capabilities).sort(), ['logging', 'resources', 'tasks', 'tools']);
  assert.match(a.headers['mcp-session-id'], /^[0-9a-f]{32}$/);
  assert.notEqual(a.headers['mcp-session-id'], b.headers['mcp-session-id']);
}));

test('requests need a known session: missing id 400, unknown id 404, DELETE ends it', opts, withHttp(async (srv) => {
  const sid = await initSession(srv);
  const ping = { jsonrpc: '2.0', id: 7, method: 'ping' };
  const ok = await request(srv, { body: ping, headers: { 'mcp-session-id': sid } });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.json, { jsonrpc: '2.0', id: 7, result: {} });
  assert.equal((await request(srv, { body: ping })).status, 400);
  assert.equal((await request(srv, { body: ping, headers: { 'mcp-session-id': 'deadbeef' } })).status, 404);
  const del = await request(srv, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
  assert.equal(del.status, 204);
  assert.equal((await request(srv, { body: ping, headers: { 'mcp-session-id': sid } })).status, 404);
  assert.equal((await request(srv, { method: 'DELETE', headers: { 'mcp-session-id': sid } })).status, 404);
}));

test('GET /mcp needs a session, PUT is 405 with Allow, /health is 200, other paths 404', opts, withHttp(async (srv) => {
  const g = await request(srv, { method: 'GET', headers: { accept: 'text/event-stream' } });
  assert.equal(g.status, 400);
  assert.match(g.text, /Mcp-Session-Id header is required/);
  const put = await request(srv, { method: 'PUT', headers: { 'mcp-session-id': 'x' } });
  assert.equal(put.status, 405);
  assert.equal(put.headers.allow, 'GET, POST, DELETE');
  const h = await request(srv, { method: 'GET', path: '/health' });
  assert.equal(h.status, 200);
  assert.deepEqual(h.json, { status: 'ok' });
  assert.equal((await request(srv, { method: 'GET', path: '/nope' })).status, 404);
}));

test('MCP-Protocol-Version: supported or absent accepted, unsupported is 400', opts, withHttp(async (srv) => {
  const sid = await initSession(srv);
  const ping = { jsonrpc: '2.0', id: 'p', method: 'ping' };
  for (const v of ['2025-11-25', '2025-06-18', '2025-03-26']) {
    const r = await request(srv, { body: ping, headers: { 'mcp-session-id': sid, 'mcp-protocol-version': v } });
    assert.equal(r.status, 200, v);
  }
  const bad = await request(srv, { body: ping, headers: { 'mcp-session-id': sid, 'mcp-protocol-version': '1999-01-01' } });
  assert.equal(bad.status, 400);
  assert.match(bad.json.error.message, /1999-01-01/);
}));

test('notifications get 202, malformed JSON 400 with -32700, wrong content type 415', opts, withHttp(async (srv) => {
  const sid = await initSession(srv);
  const n = await request(srv, { body: { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 9 } },
    headers: { 'mcp-session-id': sid } });
  assert.equal(n.status, 202);
  const bad = await request(srv, { body: '{"jsonrpc":', headers: { 'mcp-session-id': sid } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, -32700);
  assert.equal(bad.json.id, null);
  const ct = await request(srv, { body: 'x', headers: { 'mcp-session-id': sid, 'content-type': 'text/plain' } });
  assert.equal(ct.status, 415);
}));

test('tools/call answers on an SSE stream when accepted, and several POST streams run at once', opts, withHttp(async (srv) => {
  const sid = await initSession(srv);
  const src = mkdtempSync(join(tmpdir(), 'isb-http-src-'));
  try {
    writeFileSync(join(src, 'README.md'), '# x\n');
    const ws = await request(srv, { headers: { 'mcp-session-id': sid },
      body: { jsonrpc: '2.0', id: 'ws', method: 'tools/call', params: { name: 'create_workspace', arguments: { source_path: src } } } });
    assert.equal(ws.status, 200);
    assert.match(ws.headers['content-type'], /^text\/event-stream/);
    const wsReply = sseMessages(ws.text).at(-1);
    assert.equal(wsReply.id, 'ws');
    assert.equal(wsReply.result.isError, false, JSON.stringify(wsReply));
    const wid = wsReply.result.structuredContent.workspace_id;
    // Three slow calls on three POST streams at once: together they take about
    // as long as one, and each stream carries its own reply only.
    const started = Date.now();
    const calls = [0, 1, 2].map((i) => request(srv, { headers: { 'mcp-session-id': sid },
      body: { jsonrpc: '2.0', id: 100 + i, method: 'tools/call',
        params: { name: 'exec_command', arguments: { workspace_id: wid, command: `sleep 1; echo call${i}` } } } }));
    const replies = await Promise.all(calls);
    const took = Date.now() - started;
    replies.forEach((r, i) => {
      const msgs = sseMessages(r.text);
      const responses = msgs.filter((m) => 'id' in m);
      assert.deepEqual(responses.map((m) => m.id), [100 + i]);
      assert.equal(responses[0].result.isError, false);
      assert.match(JSON.stringify(responses[0].result.structuredContent), new RegExp(`call${i}`));
      // Besides it, only the call's own output (log messages at level info by default).
      for (const m of msgs.filter((x) => !('id' in x))) {
        assert.equal(m.method, 'notifications/message');
        assert.equal(m.params.data.text, `call${i}\n`);
      }
    });
    assert.ok(took < 2900, `three 1 s calls ran concurrently (took ${took} ms)`);
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
}));

test('foreign Host or Origin is refused with 403 (DNS rebinding)', opts, withHttp(async (srv) => {
  const evilHost = await request(srv, { body: INIT, headers: { host: `evil.example:${srv.port}` } });
  assert.equal(evilHost.status, 403);
  const evilOrigin = await request(srv, { body: INIT, headers: { origin: 'http://evil.example' } });
  assert.equal(evilOrigin.status, 403);
  const okOrigin = await request(srv, { body: INIT, headers: { origin: `http://localhost:${srv.port}` } });
  assert.equal(okOrigin.status, 200);
  const okHost = await request(srv, { body: INIT, headers: { host: `localhost:${srv.port}` } });
  assert.equal(okHost.status, 200);
}));

test('with an API key configured: 401 + WWW-Authenticate without it, both header forms accepted', opts, withHttp(async (srv) => {
  const none = await request(srv, { body: INIT });
  assert.equal(none.status, 401);
  assert.match(none.headers['www-authenticate'], /^Bearer realm="intelligent-sandbox"/);
  const wrong = await request(srv, { body: INIT, headers: { 'x-api-key': 'not-the-key-000000' } });
  assert.equal(wrong.status, 401);
  assert.match(wrong.headers['www-authenticate'], /error="invalid_token"/);
  assert.equal((await request(srv, { body: INIT, headers: { 'x-api-key': KEY } })).status, 200);
  assert.equal((await request(srv, { body: INIT, headers: { authorization: `Bearer ${KEY}` } })).status, 200);
  // The health check stays open for load balancers.
  assert.equal((await request(srv, { method: 'GET', path: '/health' })).status, 200);
}, { env: { SANDBOX_API_KEY: KEY } }));

test('a burst over the rate limit gets 429 with Retry-After', opts, withHttp(async (srv) => {
  const statuses = [];
  let retryAfter;
  for (let i = 0; i < 6; i++) {
    const r = await request(srv, { method: 'GET', path: '/mcp' });
    statuses.push(r.status);
    if (r.status === 429) retryAfter = r.headers['retry-after'];
  }
  // burst 3: three requests pass (a GET without a session is then 400), the rest are limited.
  assert.deepEqual(statuses, [400, 400, 400, 429, 429, 429]);
  assert.ok(Number(retryAfter) >= 1, `Retry-After: ${retryAfter}`);
}, { env: { SANDBOX_SECURITY_RATE_LIMIT_BURST: '3', SANDBOX_SECURITY_RATE_LIMIT_REQUESTS_PER_MINUTE: '6' } }));

test('every tool call is audited as one JSONL line with a digest of its arguments', opts, withHttp(async (srv) => {
  const headers = { 'x-api-key': KEY };
  const sid = await initSession(srv, headers);
  const args = { workspace_id: 'ws-missing-1234' };
  const r = await request(srv, { headers: { ...headers, 'mcp-session-id': sid, accept: 'application/json' },
    body: { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'analyze_codebase', arguments: args } } });
  assert.equal(r.status, 200);
  assert.equal(r.json.result.isError, true);
  assert.equal((await request(srv, { body: INIT })).status, 401);
  const lines = readFileSync(srv.auditPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const call = lines.find((l) => l.operation === 'analyze_codebase');
  assert.ok(call, `audit lines: ${JSON.stringify(lines)}`);
  const keyPrincipal = 'key:' + createHash('sha256').update(KEY).digest('hex').slice(0, 12);
  assert.equal(call.principal, keyPrincipal);
  assert.equal(call.transport, 'mcp-http');
  assert.equal(call.outcome, 'error:not_found');
  assert.equal(call.args_sha256, createHash('sha256').update(JSON.stringify(args)).digest('hex'));
  assert.equal(typeof call.duration_ms, 'number');
  assert.match(call.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const denied = lines.find((l) => l.outcome === 'denied:unauthenticated');
  assert.equal(denied.principal, 'anonymous');
}, { env: { SANDBOX_API_KEY: KEY } }));

test('binding a non-loopback address without API keys refuses to start', opts, async () => {
  const r = await runToExit(['serve', '--transport', 'http', '--host', '0.0.0.0', '--port', '0']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0 without API keys/);
});

test('--mcp-config selects HTTP and rejects unknown keys with the key named', opts, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'isb-mcpcfg-'));
  try {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ transport: { type: 'http', prot: 1 } }));
    const r = await runToExit(['serve', '--mcp-config', bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown key transport\.prot/);
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ transport: { type: 'http', host: '127.0.0.1', port: 0 },
      authentication: { enabled: true, api_keys: [`sha256:${createHash('sha256').update(KEY).digest('hex')}`] } }));
    const srv = await startHttpServer({ args: ['--mcp-config', good] });
    try {
      assert.equal((await request(srv, { body: INIT })).status, 401);
      assert.equal((await request(srv, { body: INIT, headers: { 'x-api-key': KEY } })).status, 200);
    } finally {
      await srv.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
