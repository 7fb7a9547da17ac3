// mcp_resources.test.mjs: MCP resources (step logs and workspace files) with
// the official SDK client over stdio and Streamable HTTP: listResources,
// listResourceTemplates, readResource, the errors for unknown and escaping
// URIs, and the resource_link items of results that show output in part.
//
//   ISB_BINARY=/path/to/intelligent-sandbox node --test tests/e2e/mcp_resources.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startHttpServer, BINARY } from './mcp_http_server.mjs';

const opts = { timeout: 60_000 };
const ROOMY = { SANDBOX_SECURITY_RATE_LIMIT_BURST: '1000' };
// `seq 1 3000` prints 13893 bytes: more than the 4 KiB tail a plan result shows.
const SEQ_BYTES = 13893;
const seqText = () => Array.from({ length: 3000 }, (_, i) => `${i + 1}\n`).join('');

function sourceDir() {
  const dir = mkdtempSync(join(tmpdir(), 'isb-res-src-'));
  writeFileSync(join(dir, 'hello.txt'), 'héllo 世界 🎉\n');
  writeFileSync(join(dir, 'bin.dat'), Buffer.from([0, 1, 2, 255]));
  writeFileSync(join(dir, 'with space.txt'), 'spaced\n');
  return dir;
}

async function tool(client, name, args) {
  const r = await client.callTool({ name, arguments: args });
  assert.equal(r.isError, false, `${name}: ${JSON.stringify(r.content)}`);
  return r;
}

async function rpcError(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('the request succeeded; an error was expected');
}

/** Workspace files as resources: text, blob, encoded names, confinement, not found. */
async function checkFiles(client, src) {
  const { structuredContent: ws } = await tool(client, 'create_workspace', { source_path: src });
  const base = `sandbox://workspaces/${ws.workspace_id}/files/`;
  const text = await client.readResource({ uri: `${base}hello.txt` });
  assert.deepEqual(text.contents, [{ uri: `${base}hello.txt`, mimeType: 'text/plain', text: 'héllo 世界 🎉\n' }]);
  const blob = await client.readResource({ uri: `${base}bin.dat` });
  assert.deepEqual(blob.contents, [{ uri: `${base}bin.dat`, mimeType: 'application/octet-stream', blob: 'AAEC/w==' }]);
  const spaced = await client.readResource({ uri: `${base}with%20space.txt` });
  assert.equal(spaced.contents[0].text, 'spaced\n');
  for (const escape of ['../../../../etc/passwd', '..%2F..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd']) {
    const e = await rpcError(client.readResource({ uri: base + escape }));
    assert.equal(e.code, -32602, `${escape}: ${e.message}`);
    assert.doesNotMatch(e.message, /root:/);
  }
  const missing = await rpcError(client.readResource({ uri: `${base}nope.txt` }));
  assert.equal(missing.code, -32002);
  assert.match(missing.message, /nope\.txt/);
  assert.deepEqual(missing.data, { uri: `${base}nope.txt` });
  const foreign = await rpcError(client.readResource({ uri: 'file:///etc/passwd' }));
  assert.equal(foreign.code, -32002);
  assert.match(foreign.message, /only sandbox:\/\/ URIs/);
  return ws.workspace_id;
}

test('resources over stdio with the SDK client: templates, step logs, files, links, errors', opts, async () => {
  const base = mkdtempSync(join(tmpdir(), 'isb-res-base-'));
  const src = sourceDir();
  const client = new Client({ name: 'isb-resources-e2e', version: '1.0.0' });
  await client.connect(new StdioClientTransport({
    command: BINARY, args: ['serve'], env: { ...process.env, SANDBOX_BASE_DIR: base }, stderr: 'ignore',
  }));
  try {
    assert.deepEqual(client.getServerCapabilities().resources, { subscribe: false, listChanged: false });
    const { resourceTemplates } = await client.listResourceTemplates();
    assert.deepEqual(resourceTemplates.map((t) => t.uriTemplate), [
      'sandbox://executions/{execution_id}/steps/{step_id}/{stream}',
      'sandbox://workspaces/{workspace_id}/files/{+path}',
    ]);
    assert.deepEqual((await client.listResources()).resources, []);

    const wid = await checkFiles(client, src);

    // A plan step printing more than its result shows: the result links the full log.
    const plan = await tool(client, 'create_task_plan', {
      workspace_id: wid, auto_approve: true, steps: [{ id: 'big', title: 'print', command: 'seq 1 3000' }],
    });
    const run = await tool(client, 'execute_task_plan', { plan_id: plan.structuredContent.plan_id });
    const eid = run.structuredContent.execution_id;
    const uri = `sandbox://executions/${eid}/steps/big/stdout`;
    const links = run.content.filter((c) => c.type === 'resource_link');
    assert.deepEqual(links, [{
      type: 'resource_link', uri, name: `${eid}/big/stdout`, mimeType: 'text/plain', size: SEQ_BYTES,
      description: `The full stdout of step big (${SEQ_BYTES} bytes); the result shows only part of it`,
    }]);
    const full = await client.readResource({ uri });
    assert.equal(full.contents[0].text, seqText());

    // get_execution_log: a slice links the whole log; the whole log links nothing.
    const slice = await tool(client, 'get_execution_log', { execution_id: eid, step_id: 'big', stream: 'stdout', limit: 100 });
    assert.deepEqual(slice.content.filter((c) => c.type === 'resource_link').map((c) => c.uri), [uri]);
    const whole = await tool(client, 'get_execution_log', { execution_id: eid, step_id: 'big', stream: 'stderr' });
    assert.equal(whole.content.filter((c) => c.type === 'resource_link').length, 0);

    const listed = (await client.listResources()).resources.map((r) => r.uri).sort();
    assert.deepEqual(listed, [`sandbox://executions/${eid}/steps/big/stderr`, uri]);
    const stderr = await client.readResource({ uri: `sandbox://executions/${eid}/steps/big/stderr` });
    assert.equal(stderr.contents[0].text, '');

    const gone = await rpcError(client.readResource({ uri: `sandbox://executions/${eid}/steps/nope/stdout` }));
    assert.equal(gone.code, -32002);
    assert.match(gone.message, /has no step 'nope'; its steps are: big/);
    const badStream = await rpcError(client.readResource({ uri: `sandbox://executions/${eid}/steps/big/stdin` }));
    assert.equal(badStream.code, -32002);
    assert.match(badStream.message, /stdout or stderr/);
  } finally {
    await client.close();
    rmSync(base, { recursive: true, force: true });
    rmSync(src, { recursive: true, force: true });
  }
});

test('resources/list pages with nextCursor and refuses a made-up cursor', opts, async () => {
  const base = mkdtempSync(join(tmpdir(), 'isb-res-base-'));
  const src = sourceDir();
  const client = new Client({ name: 'isb-resources-pages', version: '1.0.0' });
  await client.connect(new StdioClientTransport({
    command: BINARY, args: ['serve'], env: { ...process.env, SANDBOX_BASE_DIR: base }, stderr: 'ignore',
  }));
  try {
    // Two workspaces with 26 commands each: 104 logs, more than the 100 of one page.
    for (let w = 0; w < 2; w++) {
      const { structuredContent: ws } = await tool(client, 'create_workspace', { source_path: src });
      for (let i = 0; i < 26; i++) await tool(client, 'exec_command', { workspace_id: ws.workspace_id, command: 'true' });
    }
    const first = await client.listResources();
    assert.equal(first.resources.length, 100);
    assert.equal(typeof first.nextCursor, 'string');
    const second = await client.listResources({ cursor: first.nextCursor });
    assert.equal(second.resources.length, 4);
    assert.equal(second.nextCursor, undefined);
    const all = new Set([...first.resources, ...second.resources].map((r) => r.uri));
    assert.equal(all.size, 104);
    const bad = await rpcError(client.listResources({ cursor: 'made-up' }));
    assert.equal(bad.code, -32602);
    assert.match(bad.message, /unknown cursor 'made-up'/);
  } finally {
    await client.close();
    rmSync(base, { recursive: true, force: true });
    rmSync(src, { recursive: true, force: true });
  }
});

test('resources over Streamable HTTP with the SDK client', opts, async () => {
  const srv = await startHttpServer({ env: ROOMY });
  const src = sourceDir();
  const client = new Client({ name: 'isb-resources-http', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(srv.url)));
  try {
    assert.equal((await client.listResourceTemplates()).resourceTemplates.length, 2);
    const wid = await checkFiles(client, src);
    const cmd = await tool(client, 'exec_command', { workspace_id: wid, command: 'echo over-http' });
    const uri = `sandbox://executions/${cmd.structuredContent.execution_id}/steps/${cmd.structuredContent.step_id}/stdout`;
    assert.ok((await client.listResources()).resources.some((r) => r.uri === uri));
    assert.equal((await client.readResource({ uri })).contents[0].text, 'over-http\n');
  } finally {
    await client.close();
    await srv.close();
    rmSync(src, { recursive: true, force: true });
  }
});
