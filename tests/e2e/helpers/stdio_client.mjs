// stdio_client.mjs: the server binary started over stdio with the official
// SDK client, state under <root>/base, for the end-to-end tests.
//
//   const s = await startStdio(root, { SANDBOX_SANDBOX_WORKSPACE_TIMEOUT: '2' });
//   const w = await s.call('create_workspace', { source_path });   // asserts success
//   const msg = await s.fail('read_file', { ... });                 // asserts isError, returns the text
//   await s.client.close();
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const binary = process.env.ISB_BINARY ?? path.resolve(here, '../../../build/bin/intelligent-sandbox');
export const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

export async function startStdio(root, env = {}, name = 'isb-e2e') {
  const transport = new StdioClientTransport({
    command: binary,
    args: ['serve'],
    env: { ...process.env, SANDBOX_BASE_DIR: path.join(root, 'base'), SANDBOX_LOG_LEVEL: 'warning', ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  // File-sized calls may take minutes; the SDK's default request timeout is 60 s.
  const options = { timeout: 600000 };
  const call = async (tool, args) => {
    const r = await client.callTool({ name: tool, arguments: args }, undefined, options);
    assert.equal(r.isError, false, `${tool}: ${text(r)}\n${stderr.slice(-2000)}`);
    return r.structuredContent;
  };
  const fail = async (tool, args) => {
    const r = await client.callTool({ name: tool, arguments: args }, undefined, options);
    assert.equal(r.isError, true, `${tool} must fail: ${JSON.stringify(r.structuredContent)}`);
    return text(r);
  };
  return { client, transport, call, fail, stderr: () => stderr };
}
