// mcp_streams.test.mjs: where server-initiated messages go and how calls are
// scheduled:
//   - HTTP GET /mcp, the session's own SSE stream: notifications of requests
//     answered with plain JSON arrive there as numbered events; a client that
//     reconnects with Last-Event-ID gets only what it missed; one GET stream
//     per session; 405 only when the server is configured without it; the
//     SDK's StreamableHTTPClientTransport opens it and receives on it;
//   - the worker pool: long calls (commands) never hold up read-only ones,
//     and long_call_workers bounds how many run at once.
//
//   ISB_BINARY=/path/to/intelligent-sandbox node --test tests/e2e/mcp_streams.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startHttpServer, BINARY } from './mcp_http_server.mjs';

const opts = { timeout: 60_000 };
const ROOMY = { SANDBOX_SECURITY_RATE_LIMIT_BURST: '1000' };

function tempDir(prefix, files = {}) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** A JSON-RPC POST with fetch; JSON answers only unless sse is set. */
async function post(srv, body, { sid, sse = false } = {}) {
  const headers = { 'content-type': 'application/json', accept: sse ? 'application/json, text/event-stream' : 'application/json' };
  if (sid) headers['mcp-session-id'] = sid;
  const r = await fetch(srv.url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(20_000) });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, json: text && !sse ? JSON.parse(text) : undefined };
}

async function session(srv) {
  const init = await post(srv, { jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'streams', version: '1' } } });
  assert.equal(init.status, 200, init.text);
  const sid = init.headers.get('mcp-session-id');
  assert.equal((await post(srv, { jsonrpc: '2.0', method: 'notifications/initialized' }, { sid })).status, 202);
  return sid;
}

/**
 * Opens GET /mcp and parses its events as they come:
 * { status, events: [{id, data}], waitFor(pred, ms), close() }.
 */
async function openGet(srv, sid, lastEventId) {
  const ac = new AbortController();
  const headers = { accept: 'text/event-stream', 'mcp-session-id': sid };
  if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
  const res = await fetch(srv.url, { method: 'GET', headers, signal: ac.signal });
  const g = { status: res.status, headers: res.headers, events: [], waiters: [] };
  g.close = () => ac.abort();
  if (res.status !== 200) {
    g.text = await res.text();
    return g;
  }
  (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const ev = { id: undefined, data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) ev.id = Number(line.slice(4));
            if (line.startsWith('data: ')) ev.data += line.slice(6);
          }
          if (!ev.data) continue;  // keep-alive comments
          ev.msg = JSON.parse(ev.data);
          g.events.push(ev);
          for (const w of [...g.waiters]) if (w.pred(ev)) { g.waiters.splice(g.waiters.indexOf(w), 1); w.resolve(ev); }
        }
      }
    } catch { /* aborted */ }
  })();
  g.waitFor = (pred, ms = 10_000) => {
    const seen = g.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (e) => { clearTimeout(t); resolve(e); } };
      const t = setTimeout(() => { g.waiters.splice(g.waiters.indexOf(w), 1); reject(new Error(`no such event within ${ms} ms; got ${JSON.stringify(g.events)}`)); }, ms);
      g.waiters.push(w);
    });
  };
  return g;
}

const logText = (ev) => ev.msg.method === 'notifications/message' && ev.msg.params.data.text;

test('GET /mcp carries notifications of JSON-answered calls as numbered events, resumable with Last-Event-ID', opts, async () => {
  const srv = await startHttpServer({ env: ROOMY });
  const src = tempDir('isb-streams-src-', { 'README.md': '# x\n' });
  try {
    const sid = await session(srv);
    assert.equal((await post(srv, { jsonrpc: '2.0', id: 2, method: 'logging/setLevel', params: { level: 'info' } }, { sid })).status, 200);
    const ws = await post(srv, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'create_workspace', arguments: { source_path: src } } }, { sid });
    const wid = ws.json.result.structuredContent.workspace_id;
    const exec = (id, text) => post(srv, { jsonrpc: '2.0', id, method: 'tools/call',
      params: { name: 'exec_command', arguments: { workspace_id: wid, command: `echo ${text}` } } }, { sid });

    const get = await openGet(srv, sid);
    assert.equal(get.status, 200);
    assert.match(get.headers.get('content-type'), /^text\/event-stream/);
    const second = await openGet(srv, sid);
    assert.equal(second.status, 409, 'one GET stream per session');

    const first = await exec(4, 'first-output');
    assert.equal(first.status, 200);
    assert.equal(first.json.result.isError, false);
    const ev1 = await get.waitFor((e) => logText(e) === 'first-output\n');
    assert.equal(ev1.msg.params.level, 'info');
    assert.ok(Number.isInteger(ev1.id) && ev1.id >= 1, `event id ${ev1.id}`);
    get.close();
    await sleep(800);  // the server notices within 250 ms and frees the stream

    // Nobody listens: the event is kept, and a resumed stream starts after ev1.
    await exec(5, 'second-output');
    const resumed = await openGet(srv, sid, ev1.id);
    assert.equal(resumed.status, 200);
    const ev2 = await resumed.waitFor((e) => logText(e) === 'second-output\n');
    assert.equal(ev2.id, ev1.id + 1);
    assert.deepEqual(resumed.events.map((e) => e.id), [ev2.id], 'nothing before Last-Event-ID is replayed');
    resumed.close();
    await sleep(800);

    const bogus = await openGet(srv, sid, 999999);
    assert.equal(bogus.status, 400);
    assert.match(bogus.text, /Last-Event-ID '999999' is not an event id of this session/);
    const noSession = await fetch(srv.url, { headers: { accept: 'text/event-stream' } });
    assert.equal(noSession.status, 400);
    const unknown = await fetch(srv.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': 'feedface' } });
    assert.equal(unknown.status, 404);
    const notSse = await fetch(srv.url, { headers: { accept: 'application/json', 'mcp-session-id': sid } });
    assert.equal(notSse.status, 406);
  } finally {
    await srv.close();
    rmSync(src, { recursive: true, force: true });
  }
});

test('the SDK client opens the GET stream and receives log notifications on it', opts, async () => {
  const srv = await startHttpServer({ env: ROOMY });
  const src = tempDir('isb-streams-src-', { 'README.md': '# x\n' });
  const transport = new StreamableHTTPClientTransport(new URL(srv.url));
  const client = new Client({ name: 'isb-streams-sdk', version: '1.0.0' });
  const logs = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logs.push(n.params.data.text); });
  await client.connect(transport);
  try {
    await client.setLoggingLevel('info');
    const ws = await client.callTool({ name: 'create_workspace', arguments: { source_path: src } });
    const wid = ws.structuredContent.workspace_id;
    // The SDK's own tools/call takes an SSE response, which carries its logs;
    // a JSON-only POST in the same session leaves the GET stream as the only
    // way to the client.
    const r = await post(srv, { jsonrpc: '2.0', id: 'raw', method: 'tools/call',
      params: { name: 'exec_command', arguments: { workspace_id: wid, command: 'echo via-get-stream' } } }, { sid: transport.sessionId });
    assert.equal(r.json.result.isError, false);
    for (let i = 0; i < 100 && !logs.includes('via-get-stream\n'); i++) await sleep(50);
    assert.ok(logs.includes('via-get-stream\n'), `logs seen: ${JSON.stringify(logs)}`);
  } finally {
    await client.close();
    await srv.close();
    rmSync(src, { recursive: true, force: true });
  }
});

test('GET /mcp is 405 when the server is configured without the stream', opts, async () => {
  const dir = tempDir('isb-streams-cfg-', { 'sandbox.yaml': 'plugins:\n  settings:\n    mcp-http:\n      standalone_sse: false\n' });
  const srv = await startHttpServer({ args: ['--config', join(dir, 'sandbox.yaml')], env: ROOMY });
  try {
    const sid = await session(srv);
    const r = await fetch(srv.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid } });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST, DELETE');
    assert.match(await r.text(), /standalone_sse: false/);
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('long calls never hold up read-only ones, and long_call_workers bounds them (stdio)', opts, async () => {
  const dir = tempDir('isb-streams-cfg-', { 'sandbox.yaml': 'plugins:\n  settings:\n    mcp-stdio:\n      long_call_workers: 2\n' });
  const base = tempDir('isb-streams-base-');
  const src = tempDir('isb-streams-src-', { 'README.md': '# x\n' });
  const proc = spawn(BINARY, ['serve', '--config', join(dir, 'sandbox.yaml')], {
    env: { ...process.env, SANDBOX_BASE_DIR: base }, stdio: ['pipe', 'pipe', 'ignore'],
  });
  const replies = new Map();
  let buf = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (c) => {
    buf += c;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const m = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if ('id' in m) replies.set(m.id, { m, at: Date.now() });
    }
  });
  const send = (m) => proc.stdin.write(JSON.stringify(m) + '\n');
  const reply = async (id, ms = 15_000) => {
    for (let t = 0; t < ms && !replies.has(id); t += 10) await sleep(10);
    assert.ok(replies.has(id), `no reply to ${id} within ${ms} ms`);
    return replies.get(id);
  };
  try {
    send({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'pool', version: '1' } } });
    await reply('init');
    send({ jsonrpc: '2.0', id: 'ws', method: 'tools/call', params: { name: 'create_workspace', arguments: { source_path: src } } });
    const wid = (await reply('ws')).m.result.structuredContent.workspace_id;
    const started = Date.now();
    for (let i = 0; i < 4; i++) {
      send({ jsonrpc: '2.0', id: `sleep${i}`, method: 'tools/call', params: { name: 'exec_command', arguments: { workspace_id: wid, command: 'sleep 1' } } });
    }
    send({ jsonrpc: '2.0', id: 'quick', method: 'tools/call', params: { name: 'list_workspaces', arguments: {} } });
    const quick = await reply('quick');
    assert.equal(quick.m.result.isError, false);
    assert.ok(quick.at - started < 700, `list_workspaces answered after ${quick.at - started} ms, behind the sleeps`);
    const done = [];
    for (let i = 0; i < 4; i++) done.push((await reply(`sleep${i}`)).at - started);
    done.sort((a, b) => a - b);
    // Two at a time: the first pair ends after ~1 s, the second after ~2 s.
    assert.ok(done[1] < 1900, `first two sleeps ended at ${done}`);
    assert.ok(done[2] >= 1900, `the third sleep waited for a worker (ended at ${done})`);
  } finally {
    // End of input is a clean shutdown that unmounts the workspaces' disk images.
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.stdin.end();
    await Promise.race([exited, sleep(5000)]);
    proc.kill('SIGKILL');
    for (const d of [dir, base, src]) rmSync(d, { recursive: true, force: true });
  }
});
