// mcp_http_server.mjs: starts `intelligent-sandbox serve --transport http` on a
// free port for the HTTP end-to-end tests and hands back its URL.
//
//   const srv = await startHttpServer({ env: { SANDBOX_API_KEY: KEY } });
//   try { await fetch(srv.url, ...) } finally { await srv.close(); }
//
// Every server gets a fresh SANDBOX_BASE_DIR and listens on 127.0.0.1 only.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const BINARY = process.env.ISB_BINARY || '/work/main/build/bin/intelligent-sandbox';

/**
 * Resolves once the server logs its address, with
 *   url ("http://127.0.0.1:PORT/mcp"), base ("http://127.0.0.1:PORT"), port,
 *   stderr(), exited (promise of {code, signal}), close().
 * Rejects with the server's stderr when it exits or stays silent for 10 s.
 */
export async function startHttpServer({ args = [], env = {} } = {}) {
  const base = mkdtempSync(join(tmpdir(), 'isb-http-base-'));
  const proc = spawn(BINARY, ['serve', '--transport', 'http', '--port', '0', ...args], {
    cwd: tmpdir(),
    env: { ...process.env, SANDBOX_BASE_DIR: base, SANDBOX_SECURITY_AUDIT_LOG_PATH: join(base, 'audit.jsonl'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  let exitInfo = null;
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve((exitInfo = { code, signal }))));
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (c) => { stdout += c; });
  proc.stderr.setEncoding('utf8');
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" line within 10 s; stderr:\n${stderr}`)), 10_000);
    proc.stderr.on('data', (c) => {
      if (stderr.length < 1 << 20) stderr += c;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp/.exec(stderr);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    exited.then((e) => { clearTimeout(timer); reject(new Error(`server exited (${JSON.stringify(e)}); stderr:\n${stderr}`)); });
  });
  const close = async () => {
    if (!exitInfo) {
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (!exitInfo) { proc.kill('SIGKILL'); await Promise.race([exited, sleep(2000)]); }
    }
    rmSync(base, { recursive: true, force: true });
  };
  return {
    proc, port, base, exited, close,
    url: `http://127.0.0.1:${port}/mcp`,
    root: `http://127.0.0.1:${port}`,
    auditPath: join(base, 'audit.jsonl'),
    stderr: () => stderr,
    stdout: () => stdout,
  };
}

/** Runs the server to exit and returns {code, stderr}, for refusals at start. */
export async function runToExit(args, env = {}, ms = 10_000) {
  const base = mkdtempSync(join(tmpdir(), 'isb-http-base-'));
  try {
    const proc = spawn(BINARY, args, {
      cwd: tmpdir(), env: { ...process.env, SANDBOX_BASE_DIR: base, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (c) => { stderr += c; });
    const code = await Promise.race([
      new Promise((resolve) => proc.on('exit', (c) => resolve(c))),
      sleep(ms).then(() => { proc.kill('SIGKILL'); return 'timeout'; }),
    ]);
    return { code, stderr };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
