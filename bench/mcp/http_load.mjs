// http_load.mjs: Streamable HTTP under load: S concurrent MCP sessions (one
// keep-alive connection each, default 64) call a trivial tool back to back
// for a bounded time (default 10 s), against this server (list_workspaces)
// and the reference server-everything (echo, its streamableHttp mode) in the
// same run. Prints calls/s and the error count of each (any non-200 status,
// JSON-RPC error or isError result counts), and the ratio. Both servers listen
// on 127.0.0.1 only. Driven by isb-bench-mcp; also runs alone:
//
//   node bench/mcp/http_load.mjs SERVER_BINARY REFERENCE_INDEX_JS [seconds=10] [sessions=64]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';

const [server, reference, secondsArg, sessionsArg] = process.argv.slice(2);
const seconds = Number(secondsArg || 10);
const sessions = Number(sessionsArg || 64);
if (!server || !reference || !(seconds > 0 && seconds <= 120) || !(sessions >= 1 && sessions <= 512)) {
  console.error('usage: node http_load.mjs SERVER_BINARY REFERENCE_INDEX_JS [seconds 1-120] [sessions 1-512]');
  process.exit(2);
}

/** Starts a server and resolves with {port, proc} once the line matching re shows its port. */
function start(command, args, env, stream, re) {
  return new Promise((resolve, reject) => {
    const stdio = ['ignore', stream === 'stdout' ? 'pipe' : 'ignore', stream === 'stderr' ? 'pipe' : 'ignore'];
    const proc = spawn(command, args, { env: { ...process.env, ...env }, stdio });
    let text = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`no port line within 15 s:\n${text}`)); }, 15_000);
    proc[stream].setEncoding('utf8');
    proc[stream].on('data', (c) => {
      text += c;
      const m = re.exec(text);
      if (m) { clearTimeout(timer); resolve({ port: Number(m[1]), proc }); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}:\n${text}`)); });
  });
}

function post(agent, port, body, sid) {
  return new Promise((resolve) => {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (sid) headers['mcp-session-id'] = sid;
    if (sid) headers['mcp-protocol-version'] = '2025-06-18';
    const req = http.request({ host: '127.0.0.1', port, path: '/mcp', method: 'POST', agent, headers, timeout: 30_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, sid: res.headers['mcp-session-id'], text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, text: String(e) }));
    req.end(JSON.stringify(body));
  });
}

// The JSON-RPC message of a JSON or SSE body (the last data line of SSE).
function message(text) {
  if (text.startsWith('{')) return JSON.parse(text);
  const data = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
  return data.length ? JSON.parse(data.at(-1)) : undefined;
}

async function load(name, port, tool, args) {
  const init = { jsonrpc: '2.0', id: 0, method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'isb-bench-http', version: '1' } } };
  let calls = 0;
  let errors = 0;
  const firstErrors = [];
  const fail = (what) => { errors++; if (firstErrors.length < 3) firstErrors.push(what); };
  const deadline = { at: 0 };
  const one = async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const r = await post(agent, port, init);
    if (r.status !== 200 || !r.sid) { fail(`initialize: ${r.status} ${r.text.slice(0, 200)}`); return; }
    await post(agent, port, { jsonrpc: '2.0', method: 'notifications/initialized' }, r.sid);
    while (!deadline.at) await new Promise((res) => setTimeout(res, 5));
    for (let id = 1; Date.now() < deadline.at; id++) {
      const c = await post(agent, port, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: args } }, r.sid);
      const m = c.status === 200 ? message(c.text) : undefined;
      if (!m || m.error || m.result?.isError) fail(`${c.status} ${c.text.slice(0, 200)}`);
      else calls++;
    }
    agent.destroy();
  };
  const workers = Array.from({ length: sessions }, one);
  await new Promise((res) => setTimeout(res, 500));  // sessions set up
  const t0 = Date.now();
  deadline.at = t0 + seconds * 1000;
  await Promise.all(workers);
  const rate = calls / ((Date.now() - t0) / 1000);
  console.log(`${name.padEnd(28)} HTTP, ${sessions} sessions x ${seconds} s: ${rate.toFixed(0).padStart(6)} calls/s  errors ${errors}` +
    (firstErrors.length ? `  first: ${JSON.stringify(firstErrors)}` : ''));
  return { rate, errors };
}

const base = mkdtempSync(join(tmpdir(), 'isb-bench-http-'));
const procs = [];
try {
  const ours = await start(server, ['serve', '--transport', 'http', '--port', '0'], {
    SANDBOX_BASE_DIR: base, SANDBOX_SECURITY_AUDIT_LOGGING: 'false',
    // The load is the subject here, not the rate limiter (tested in tests/e2e).
    SANDBOX_SECURITY_RATE_LIMIT_REQUESTS_PER_MINUTE: '100000000', SANDBOX_SECURITY_RATE_LIMIT_BURST: '1000000',
  }, 'stderr', /listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp/);
  procs.push(ours.proc);
  const a = await load('intelligent-sandbox', ours.port, 'list_workspaces', {});
  ours.proc.kill('SIGTERM');
  const refPort = 20000 + (process.pid % 20000);
  const loopback = new URL('./loopback_only.mjs', import.meta.url).href;
  const ref = await start('node', ['--import', loopback, reference, 'streamableHttp'], { PORT: String(refPort) }, 'stderr',
    /listening on port (\d+)/);
  procs.push(ref.proc);
  const b = await load('server-everything (echo)', ref.port, 'echo', { message: 'hi' });
  console.log(`ratio: HTTP throughput x${(a.rate / b.rate).toFixed(2)} (ours / reference); errors: ours ${a.errors}, reference ${b.errors}`);
  process.exitCode = a.errors ? 1 : 0;
} finally {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
}
