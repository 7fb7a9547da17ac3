// mcp_tasks.test.mjs: the 2025-11-25 tasks capability for tool calls that
// start executions (exec_command, execute_task_plan), over stdio:
//   - raw JSON-RPC: capabilities, execution.taskSupport, CreateTaskResult,
//     tasks/get, tasks/list (pages, bad cursor), tasks/result (blocks, then
//     the tools/call result with related-task _meta), tasks/cancel (and on a
//     terminal task), notifications tied to the task, progress for the
//     request's token every 5 s at most, errors of the spec;
//   - older revisions: no tasks, the task field ignored;
//   - the official SDK client's experimental tasks API (callToolStream,
//     listTasks, cancelTask) against this server.
//
//   ISB_BINARY=/path/to/intelligent-sandbox node --test tests/e2e/mcp_tasks.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRaw } from './helpers/raw_stdio.mjs';
import { startStdio } from './helpers/stdio_client.mjs';

const RELATED = 'io.modelcontextprotocol/related-task';
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function project() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-tasks-src-'));
  fs.writeFileSync(path.join(dir, 'README.md'), '# tasks\n');
  return dir;
}

async function rawSession(version, env = {}) {
  const s = startRaw(env);
  const init = await s.request('initialize', { protocolVersion: version, capabilities: {}, clientInfo: { name: 'tasks', version: '1' } });
  s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  s.src = project();
  const ws = await s.request('tools/call', { name: 'create_workspace', arguments: { source_path: s.src } });
  assert.equal(ws.result.isError, false, JSON.stringify(ws));
  s.wid = ws.result.structuredContent.workspace_id;
  const close = s.close;
  s.close = async () => { await close(); fs.rmSync(s.src, { recursive: true, force: true }); };
  return { s, init };
}

test('tasks over raw JSON-RPC: create, get, list, result, cancel, notifications and errors', { timeout: 90_000 }, async () => {
  const { s, init } = await rawSession('2025-11-25');
  try {
    assert.deepEqual(init.result.capabilities.tasks, { list: {}, cancel: {}, requests: { tools: { call: {} } } });
    const tools = (await s.request('tools/list')).result.tools;
    const support = Object.fromEntries(tools.map((t) => [t.name, t.execution?.taskSupport]));
    assert.equal(support.exec_command, 'optional');
    assert.equal(support.execute_task_plan, 'optional');
    assert.equal(support.list_workspaces, undefined);
    assert.equal(support.wait_execution, undefined);

    // Create: the answer comes at once, the work goes on.
    const command = 'for i in 1 2 3 4; do echo tick $i; sleep 2; done; echo done';
    const at = Date.now();
    const created = await s.request('tools/call', { name: 'exec_command', arguments: { workspace_id: s.wid, command },
      task: { ttl: 120000 }, _meta: { progressToken: 'tp' } });
    const createdAt = Date.now();
    assert.ok(createdAt - at < 2000, `CreateTaskResult after ${createdAt - at} ms`);
    const task = created.result.task;
    assert.match(task.taskId, /^[0-9a-f]{32}$/);
    assert.equal(task.status, 'working');
    assert.equal(task.ttl, 120000);
    assert.equal(task.pollInterval, 1000);
    assert.match(task.createdAt, ISO);
    assert.match(task.lastUpdatedAt, ISO);
    assert.match(created.result._meta['io.modelcontextprotocol/model-immediate-response'], /execution exec-[0-9a-f]{12}/);
    const executionId = /exec-[0-9a-f]{12}/.exec(created.result._meta['io.modelcontextprotocol/model-immediate-response'])[0];

    const got = (await s.request('tasks/get', { taskId: task.taskId })).result;
    assert.equal(got.taskId, task.taskId);
    assert.equal(got.status, 'working');
    assert.match(got.statusMessage, new RegExp(`execution ${executionId}`));
    assert.equal(got._meta, undefined, 'tasks/get carries no related-task _meta');
    const listed = (await s.request('tasks/list')).result;
    assert.deepEqual(listed.tasks.map((t) => t.taskId), [task.taskId]);
    assert.equal(listed.nextCursor, undefined);

    // Output of the task's execution comes as log messages tied to the task.
    const tick = await s.waitFor((m) => m.method === 'notifications/message' && m.params.data.text === 'tick 1\n');
    assert.deepEqual(tick.params._meta, { [RELATED]: { taskId: task.taskId } });

    // tasks/result blocks until the execution ended, then gives what the
    // tools/call would have returned, tied to the task.
    const result = (await s.request('tasks/result', { taskId: task.taskId }, 30_000)).result;
    const endedAt = Date.now();
    assert.equal(result.isError, false);
    assert.equal(result.structuredContent.status, 'succeeded');
    assert.equal(result.structuredContent.execution_id, executionId);
    assert.match(result.structuredContent.stdout, /tick 4\ndone\n$/);
    assert.deepEqual(JSON.parse(result.content[0].text), result.structuredContent);
    assert.deepEqual(result._meta, { [RELATED]: { taskId: task.taskId } });

    // Progress for the tools/call's token kept coming after its answer, every
    // 5 s at most while the execution ran, increasing, tied to the task.
    const progress = s.messages.filter((e) => e.m.method === 'notifications/progress' && e.m.params.progressToken === 'tp');
    assert.ok(progress.length >= 2, `progress notifications: ${progress.length}`);
    let prev = createdAt;
    for (const e of progress) {
      assert.ok(e.at - prev <= 5000, `a gap of ${e.at - prev} ms between progress notifications`);
      prev = e.at;
      assert.deepEqual(e.m.params._meta, { [RELATED]: { taskId: task.taskId } });
    }
    assert.ok(endedAt - prev <= 5500, `no progress in the last ${endedAt - prev} ms before the end`);
    for (let k = 1; k < progress.length; k++) assert.ok(progress[k].m.params.progress > progress[k - 1].m.params.progress);
    assert.ok(progress.some((e) => /step 'command' running for \d+ s: tick \d/.test(e.m.params.message)));

    const status = await s.waitFor((m) => m.method === 'notifications/tasks/status' && m.params.taskId === task.taskId);
    assert.equal(status.params.status, 'completed');
    assert.equal((await s.request('tasks/get', { taskId: task.taskId })).result.status, 'completed');
    const late = (await s.request('tasks/cancel', { taskId: task.taskId })).error;
    assert.equal(late.code, -32602);
    assert.match(late.message, /Cannot cancel task: already in terminal status 'completed'/);

    // tasks/cancel stops the execution; the task stays cancelled and its
    // result is the cancelled execution's.
    const long = (await s.request('tools/call', { name: 'exec_command', arguments: { workspace_id: s.wid, command: 'sleep 30' }, task: {} })).result.task;
    assert.equal(long.ttl, 3600000, 'the default ttl');
    const cancelled = (await s.request('tasks/cancel', { taskId: long.taskId })).result;
    assert.equal(cancelled.status, 'cancelled');
    assert.match(cancelled.statusMessage, /cancelled by tasks\/cancel/);
    const cancelledResult = (await s.request('tasks/result', { taskId: long.taskId }, 10_000)).result;
    assert.equal(cancelledResult.structuredContent.status, 'cancelled');
    assert.equal((await s.request('tasks/get', { taskId: long.taskId })).result.status, 'cancelled');

    // A call that fails at once is a failed task whose result is the error.
    const bad = (await s.request('tools/call', { name: 'exec_command', arguments: { workspace_id: 'nope', command: 'true' }, task: {} })).result.task;
    assert.equal(bad.status, 'failed');
    assert.match(bad.statusMessage, /not_found: .*nope/);
    const badResult = (await s.request('tasks/result', { taskId: bad.taskId })).result;
    assert.equal(badResult.isError, true);
    assert.match(badResult.content[0].text, /nope/);

    // Errors the spec names.
    for (const method of ['tasks/get', 'tasks/result', 'tasks/cancel']) {
      const e = (await s.request(method, { taskId: 'feedface' })).error;
      assert.equal(e.code, -32602, method);
      assert.match(e.message, /task 'feedface' not found/);
    }
    assert.equal((await s.request('tasks/get', {})).error.code, -32602);
    const cursor = (await s.request('tasks/list', { cursor: 'made-up' })).error;
    assert.equal(cursor.code, -32602);
    assert.match(cursor.message, /unknown cursor/);
    const forbidden = (await s.request('tools/call', { name: 'list_workspaces', arguments: {}, task: {} })).error;
    assert.equal(forbidden.code, -32601);
    assert.match(forbidden.message, /list_workspaces cannot run as a task/);
    assert.deepEqual((await s.request('tasks/list')).result.tasks.map((t) => t.status), ['completed', 'cancelled', 'failed']);
  } finally {
    await s.close();
  }
});

test('older revisions get no tasks: no capability, no taskSupport, the task field ignored, tasks/* unknown', { timeout: 30_000 }, async () => {
  const { s, init } = await rawSession('2025-06-18');
  try {
    assert.equal(init.result.capabilities.tasks, undefined);
    const tools = (await s.request('tools/list')).result.tools;
    assert.ok(tools.every((t) => t.execution === undefined));
    const r = await s.request('tools/call', { name: 'exec_command', arguments: { workspace_id: s.wid, command: 'echo plain' }, task: { ttl: 1000 } });
    assert.equal(r.result.structuredContent.status, 'succeeded');
    assert.equal(r.result.structuredContent.stdout, 'plain\n');
    const e = (await s.request('tasks/get', { taskId: 'x' })).error;
    assert.equal(e.code, -32601);
    assert.match(e.message, /tasks\/\* with protocol revision 2025-11-25/);
  } finally {
    await s.close();
  }
});

test('the official SDK client runs exec_command as a task (callToolStream, listTasks, cancelTask)', { timeout: 60_000 }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-tasks-sdk-'));
  const src = project();
  const s = await startStdio(root, {}, 'isb-tasks-sdk');
  try {
    const wid = (await s.call('create_workspace', { source_path: src })).workspace_id;
    await s.client.listTools();  // the SDK learns which tools take tasks
    const seen = [];
    let result;
    for await (const m of s.client.experimental.tasks.callToolStream(
      { name: 'exec_command', arguments: { workspace_id: wid, command: 'echo one; sleep 2; echo two' } })) {
      seen.push(m.type);
      if (m.type === 'taskCreated') assert.equal(m.task.status, 'working');
      if (m.type === 'error') assert.fail(String(m.error));
      if (m.type === 'result') result = m.result;
    }
    assert.equal(seen[0], 'taskCreated');
    assert.ok(seen.includes('taskStatus'));
    assert.equal(seen.at(-1), 'result');
    assert.equal(result.structuredContent.status, 'succeeded');
    assert.equal(result.structuredContent.stdout, 'one\ntwo\n');

    const stream = s.client.experimental.tasks.callToolStream(
      { name: 'exec_command', arguments: { workspace_id: wid, command: 'sleep 30' } });
    const first = await stream.next();
    assert.equal(first.value.type, 'taskCreated');
    const taskId = first.value.task.taskId;
    const listed = await s.client.experimental.tasks.listTasks();
    assert.ok(listed.tasks.some((t) => t.taskId === taskId && t.status === 'working'));
    const cancelled = await s.client.experimental.tasks.cancelTask(taskId);
    assert.equal(cancelled.status, 'cancelled');
    let last;
    for await (const m of stream) last = m;
    assert.equal(last.type, 'error');
    assert.match(String(last.error), /was cancelled/);
    await sleep(100);
  } finally {
    await s.client.close();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(src, { recursive: true, force: true });
  }
});
