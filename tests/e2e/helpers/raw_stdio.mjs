// raw_stdio.mjs: the server over stdio driven by raw JSON-RPC lines, for
// protocol details that no SDK call exposes (tasks, _meta, error codes).
//
//   const s = startRaw({ SANDBOX_PERFORMANCE_EXECUTION_WAIT_S: '2' });
//   const init = await s.request('initialize', { protocolVersion: '2025-11-25', ... });
//   const m = await s.waitFor((m) => m.method === 'notifications/tasks/status');
//   await s.close();
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { binary } from './stdio_client.mjs';

/**
 * { messages: [{ m, at }], send(obj), request(method, params, ms) -> the response,
 *   waitFor(pred, ms) -> the first message (since start) satisfying pred,
 *   stderr(), close() }
 */
export function startRaw(env = {}) {
  const root = mkdtempSync(join(tmpdir(), 'isb-raw-'));
  const proc = spawn(binary, ['serve'], {
    cwd: tmpdir(),
    env: { ...process.env, SANDBOX_BASE_DIR: join(root, 'base'), SANDBOX_LOG_LEVEL: 'warning', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const s = { proc, root, messages: [], waiters: [], nextId: 1 };
  let stderr = '';
  let buf = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c) => { if (stderr.length < 1 << 20) stderr += c; });
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (c) => {
    buf += c;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const entry = { m: JSON.parse(buf.slice(0, nl)), at: Date.now() };
      buf = buf.slice(nl + 1);
      s.messages.push(entry);
      for (const w of [...s.waiters]) {
        if (w.pred(entry.m)) { s.waiters.splice(s.waiters.indexOf(w), 1); w.resolve(entry.m); }
      }
    }
  });
  proc.stdin.on('error', () => {});
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  s.stderr = () => stderr;
  s.send = (obj) => proc.stdin.write(JSON.stringify(obj) + '\n');
  s.waitFor = (pred, ms = 15_000) => {
    const seen = s.messages.find((e) => pred(e.m));
    if (seen) return Promise.resolve(seen.m);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (m) => { clearTimeout(t); resolve(m); } };
      const t = setTimeout(() => {
        s.waiters.splice(s.waiters.indexOf(w), 1);
        reject(new Error(`no such message within ${ms} ms; stderr:\n${stderr.slice(-2000)}`));
      }, ms);
      s.waiters.push(w);
    });
  };
  s.request = (method, params = {}, ms = 15_000) => {
    const id = `r${s.nextId++}`;
    s.send({ jsonrpc: '2.0', id, method, params });
    return s.waitFor((m) => m.id === id && ('result' in m || 'error' in m), ms);
  };
  s.close = async () => {
    proc.stdin.end();
    await Promise.race([exited, sleep(5000)]);
    proc.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  };
  s.exited = exited;
  return s;
}
