// frontdoor_flood.mjs: the figures of security issue 13 on one server binary,
// all on 127.0.0.1 and bounded:
//   1. a wrong-key flood (3,000 initializes with wrong keys, 32 at once):
//      the statuses it gets and how much audit log it writes;
//   2. 1,100 initializes from one key: how many get in, and the RSS before
//      and after;
//   3. 16 keys x 64 sessions, each initialized and listing its tools: RSS.
// Run it on an old and a new binary to compare:
//
//   node bench/mcp/frontdoor_flood.mjs build/bin/intelligent-sandbox
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

const [binaryArg] = process.argv.slice(2);
if (!binaryArg) {
  console.error('usage: node frontdoor_flood.mjs SERVER_BINARY');
  process.exit(2);
}
const binary = resolve(binaryArg);  // the server runs in its own directory
const keys = Array.from({ length: 16 }, (_, i) => `flood-key-${String(i).padStart(2, '0')}-0123456789`);
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'flood', version: '1' } } };
const LIST = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };

function startServer() {
  const base = mkdtempSync(join(tmpdir(), 'isb-flood-'));
  const audit = join(base, 'audit.jsonl');
  const proc = spawn(binary, ['serve', '--transport', 'http', '--port', '0'], {
    cwd: base, stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, SANDBOX_BASE_DIR: base, SANDBOX_SECURITY_AUDIT_LOG_PATH: audit,
      SANDBOX_SECURITY_API_KEYS: keys.join(','),
      // Not the rate limiter's figures: let every request reach the door.
      SANDBOX_SECURITY_RATE_LIMIT_BURST: '1000000', SANDBOX_SECURITY_RATE_LIMIT_REQUESTS_PER_MINUTE: '1000000' },
  });
  return new Promise((done, reject) => {
    let text = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`no port within 15 s:\n${text}`)); }, 15_000);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (c) => {
      text += c;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp/.exec(text);
      if (m) {
        clearTimeout(timer);
        done({ port: Number(m[1]), proc, audit,
          close: async () => { proc.kill('SIGTERM'); await sleep(500); proc.kill('SIGKILL'); rmSync(base, { recursive: true, force: true }); } });
      }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}:\n${text}`)); });
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
function post(port, headers, body) {
  return new Promise((done, reject) => {
    const r = http.request({ host: '127.0.0.1', port, path: '/mcp', method: 'POST', agent,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => done({ status: res.statusCode, headers: res.headers, text }));
    });
    r.on('error', reject);
    r.end(JSON.stringify(body));
  });
}
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const tally = (counts, status) => { counts[status] = (counts[status] ?? 0) + 1; };

let srv = await startServer();
try {
  const N = 3000;
  const statuses = {};
  let next = 0;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < N) tally(statuses, (await post(srv.port, { 'x-api-key': `wrong-key-${next++}-00000000` }, INIT)).status);
  }));
  const ms = Date.now() - t0;
  await sleep(1500);  // held-back audit lines are written within a second
  const lines = readFileSync(srv.audit, 'utf8').trim().split('\n').length;
  console.log(`wrong-key flood: ${N} requests in ${ms} ms: ${JSON.stringify(statuses)}; ` +
    `audit ${lines} lines, ${statSync(srv.audit).size} bytes`);
} finally {
  await srv.close();
}

srv = await startServer();
try {
  const before = rss(srv.proc.pid);
  const statuses = {};
  for (let i = 0; i < 1100; i++) tally(statuses, (await post(srv.port, { 'x-api-key': keys[0] }, INIT)).status);
  const other = await post(srv.port, { 'x-api-key': keys[1] }, INIT);
  console.log(`1,100 initializes from one key: ${JSON.stringify(statuses)}; RSS ${before.toFixed(1)} -> ` +
    `${rss(srv.proc.pid).toFixed(1)} MiB; then another key: ${other.status}`);
} finally {
  await srv.close();
}

srv = await startServer();
try {
  const before = rss(srv.proc.pid);
  const statuses = {};
  for (const key of keys) {
    for (let i = 0; i < 64; i++) {
      const r = await post(srv.port, { 'x-api-key': key }, INIT);
      tally(statuses, r.status);
      if (r.status === 200) await post(srv.port, { 'x-api-key': key, 'mcp-session-id': r.headers['mcp-session-id'] }, LIST);
    }
  }
  console.log(`16 keys x 64 sessions (initialize + tools/list): ${JSON.stringify(statuses)}; RSS ${before.toFixed(1)} -> ` +
    `${rss(srv.proc.pid).toFixed(1)} MiB`);
} finally {
  await srv.close();
  agent.destroy();
}
