// mcp_roots.test.mjs: the MCP client's roots are the session's allowed sources.
// The official SDK client offers roots (the "roots" capability); the server
// asks with roots/list and again on notifications/roots/list_changed, then
// create_workspace takes a source only beneath them (cut to
// sandbox.allowed_source_roots when configured). A client that offers roots
// but cannot list them gets every source refused (fail closed). Over stdio
// and over Streamable HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { binary, text } from './helpers/stdio_client.mjs';
import { startHttpServer } from './mcp_http_server.mjs';

// Projects under one temp dir (inside the server's default roots, so only
// the client's roots can be what refuses them).
function setUp() {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'isb-roots-')));
  for (const p of ['offered', 'offered/sub', 'other', 'later with space']) {
    fs.mkdirSync(path.join(root, p), { recursive: true });
    fs.writeFileSync(path.join(root, p, 'README'), `${p}\n`);
  }
  fs.writeFileSync(path.join(root, 'a-file.txt'), 'not a directory\n');
  return root;
}

// An SDK client that offers the roots in `state.roots` (paths) or, with
// state.fail, answers roots/list with an error.
function rootsClient(state) {
  const client = new Client({ name: 'isb-roots-e2e', version: '1.0.0' }, { capabilities: { roots: { listChanged: true } } });
  client.setRequestHandler(ListRootsRequestSchema, async () => {
    state.asked = (state.asked ?? 0) + 1;
    if (state.fail) throw new Error('roots are not available in this test client');
    return { roots: state.roots.map((p) => ({ uri: p.includes('://') ? p : pathToFileURL(p).href, name: path.basename(p) })) };
  });
  return client;
}

async function connectStdio(root, state, env = {}) {
  const transport = new StdioClientTransport({
    command: binary,
    args: ['serve'],
    cwd: root,
    env: { ...process.env, SANDBOX_BASE_DIR: path.join(root, 'base'), SANDBOX_LOG_LEVEL: 'info', ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const client = rootsClient(state);
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

const create = (client, source_path, workspace_id) =>
  client.callTool({ name: 'create_workspace', arguments: { source_path, workspace_id } }, undefined, { timeout: 120000 });

test('stdio: sources only beneath the offered roots; list_changed widens them; no directory entries are ignored with a log line', async () => {
  const root = setUp();
  const state = {
    roots: [path.join(root, 'offered'), path.join(root, 'a-file.txt'), 'https://example.com/repo'],
  };
  const { client, stderr } = await connectStdio(root, state);
  try {
    const inside = await create(client, path.join(root, 'offered/sub'), 'in-root');
    assert.equal(inside.isError, false, `${text(inside)}\n${stderr().slice(-2000)}`);
    assert.ok(state.asked >= 1, 'the server asked for the roots');

    const outside = await create(client, path.join(root, 'other'), 'outside');
    assert.equal(outside.isError, true, 'a source outside the offered roots is refused');
    assert.match(text(outside), /outside the roots the MCP client offered for this session/);
    assert.match(text(outside), new RegExp(`\\(${path.join(root, 'offered')}\\)`));
    assert.ok(!fs.existsSync(path.join(root, 'base/workspaces/outside')), 'nothing is created');

    assert.match(stderr(), /client root file:\/\/\S*a-file\.txt ignored: \S*a-file\.txt is not a directory/);
    assert.match(stderr(), /client root https:\/\/example\.com\/repo ignored: not a file:\/\/ URI/);

    // The client opens another folder (a name that needs percent-encoding).
    state.roots = [path.join(root, 'offered'), path.join(root, 'later with space')];
    const asked = state.asked;
    await client.sendRootsListChanged();
    const widened = await create(client, path.join(root, 'later with space'), 'after-change');
    assert.equal(widened.isError, false, `${text(widened)}\n${stderr().slice(-2000)}`);
    assert.ok(state.asked > asked, 'list_changed made the server ask again');
    const still = await create(client, path.join(root, 'other'), 'still-outside');
    assert.equal(still.isError, true);
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('stdio: the offered roots are cut to sandbox.allowed_source_roots', async () => {
  const root = setUp();
  // The client offers the whole temp tree; the operator allows only "other".
  const state = { roots: [root] };
  const { client } = await connectStdio(root, state, { SANDBOX_SANDBOX_ALLOWED_SOURCE_ROOTS: path.join(root, 'other') });
  try {
    const allowed = await create(client, path.join(root, 'other'), 'both-allow');
    assert.equal(allowed.isError, false, text(allowed));
    const offeredOnly = await create(client, path.join(root, 'offered'), 'client-only');
    assert.equal(offeredOnly.isError, true);
    assert.match(text(offeredOnly), /within sandbox\.allowed_source_roots/);
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('stdio: a client that offers roots but cannot list them gets every source refused, with the reason', async () => {
  const root = setUp();
  const { client } = await connectStdio(root, { roots: [], fail: true });
  try {
    const r = await create(client, path.join(root, 'offered'), 'unknown-roots');
    assert.equal(r.isError, true, 'fail closed: no fallback to the default roots');
    assert.match(text(r), /the MCP client offers roots for this session, but they are not known/);
    assert.match(text(r), /the client answered roots\/list with error/);
    // Other tools are not affected.
    const status = await client.callTool({ name: 'get_sandbox_status', arguments: {} });
    assert.equal(status.isError, false);
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('stdio: a client without the roots capability keeps the configured default roots', async () => {
  const root = setUp();
  const transport = new StdioClientTransport({
    command: binary, args: ['serve'], cwd: root,
    env: { ...process.env, SANDBOX_BASE_DIR: path.join(root, 'base'), SANDBOX_LOG_LEVEL: 'warning' }, stderr: 'pipe',
  });
  const client = new Client({ name: 'isb-no-roots', version: '1.0.0' });
  await client.connect(transport);
  try {
    const r = await create(client, path.join(root, 'other'), 'defaults');
    assert.equal(r.isError, false, text(r));
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('Streamable HTTP: the roots request travels on the GET stream and the session follows the answer', async () => {
  const root = setUp();
  const srv = await startHttpServer({ env: { SANDBOX_LOG_LEVEL: 'info' } });
  const state = { roots: [path.join(root, 'offered')] };
  const client = rootsClient(state);
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(srv.url)));
    const inside = await create(client, path.join(root, 'offered'), 'http-in');
    assert.equal(inside.isError, false, `${text(inside)}\n${srv.stderr().slice(-2000)}`);
    const outside = await create(client, path.join(root, 'other'), 'http-out');
    assert.equal(outside.isError, true);
    assert.match(text(outside), /outside the roots the MCP client offered/);
    assert.match(srv.stderr(), /mcp-http session \S+: the client's roots are the allowed sources/);
  } finally {
    await client.close();
    await srv.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
