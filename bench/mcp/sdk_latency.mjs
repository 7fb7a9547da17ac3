// sdk_latency.mjs: sequential tools/call latency with the official TypeScript
// SDK client (Client + StdioClientTransport), one request at a time, for this
// server and the reference server in the same run. Prints p50/p99 per server
// and the ratio. Driven by isb-bench-mcp; also runs alone:
//
//   node bench/mcp/sdk_latency.mjs SERVER_BINARY REFERENCE_INDEX_JS [calls=1000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const modules = resolve(dirname(fileURLToPath(import.meta.url)), '../../tests/node_modules');
const sdk = (p) => import(pathToFileURL(join(modules, '@modelcontextprotocol/sdk/dist/esm', p)).href);
const { Client } = await sdk('client/index.js');
const { StdioClientTransport } = await sdk('client/stdio.js');

const [server, reference, callsArg] = process.argv.slice(2);
const calls = Number(callsArg || 1000);
if (!server || !reference || !(calls >= 10)) {
  console.error('usage: node sdk_latency.mjs SERVER_BINARY REFERENCE_INDEX_JS [calls >= 10]');
  process.exit(2);
}

async function measure(name, command, args, tool, toolArgs, env) {
  const client = new Client({ name: 'isb-bench-sdk', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command, args, env: { ...process.env, ...env }, stderr: 'ignore' }));
  let errors = 0;
  try {
    for (let i = 0; i < 50; i++) await client.callTool({ name: tool, arguments: toolArgs });  // warm-up
    const lat = [];
    for (let i = 0; i < calls; i++) {
      const t = process.hrtime.bigint();
      const r = await client.callTool({ name: tool, arguments: toolArgs });
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (r.isError) errors++;
    }
    lat.sort((a, b) => a - b);
    const f = { p50: lat[Math.floor(lat.length / 2)], p99: lat[Math.floor(lat.length * 0.99)], errors };
    console.log(`${name.padEnd(28)} SDK client, ${calls} sequential calls: p50 ${f.p50.toFixed(3)} ms  p99 ${f.p99.toFixed(3)} ms  errors ${errors}`);
    return f;
  } finally {
    await client.close();
  }
}

const base = mkdtempSync(join(tmpdir(), 'isb-bench-sdk-'));
try {
  const ours = await measure('intelligent-sandbox', server, ['serve'], 'list_workspaces', {},
    { SANDBOX_BASE_DIR: base, SANDBOX_SECURITY_AUDIT_LOGGING: 'false' });
  const ref = await measure('server-everything (echo)', 'node', [reference, 'stdio'], 'echo', { message: 'hi' }, {});
  console.log(`ratio: SDK-client latency p50 x${(ours.p50 / ref.p50).toFixed(2)}, p99 x${(ours.p99 / ref.p99).toFixed(2)} (ours / reference; lower is better)`);
  process.exitCode = ours.errors || ref.errors ? 1 : 0;
} finally {
  rmSync(base, { recursive: true, force: true });
}
