// long_work.test.mjs: long work that every client survives, end to end with
// the official SDK client over stdio (and raw HTTP where a client goes away):
//   - a command longer than the SDK's default 60 s request timeout, called
//     with that default: exec_command returns "running" within the wait bound
//     and wait_execution follows it to its result;
//   - output reaches a client that never calls logging/setLevel;
//   - progress comes at least every 5 s while a step runs;
//   - wait false, since offsets, finished and unknown ids, plans;
//   - cancel_execution of a background execution; the bound on executions;
//   - idle cleanup leaves a workspace alone while its execution runs;
//   - a client that goes away leaves its execution running; the server
//     stopping records its executions as cancelled.
//
//   ISB_BINARY=/path/to/intelligent-sandbox node --test tests/e2e/long_work.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startStdio, text } from './helpers/stdio_client.mjs';
import { startHttpServer } from './mcp_http_server.mjs';

function tempRoot() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-long-'));
  fs.mkdirSync(path.join(root, 'src'));
  fs.writeFileSync(path.join(root, 'src', 'README.md'), '# long work\n');
  return root;
}

// One server and one workspace per test; env tunes the server.
async function withServer(env, fn) {
  const root = tempRoot();
  const s = await startStdio(root, env, 'isb-long-work');
  try {
    const ws = await s.call('create_workspace', { source_path: path.join(root, 'src') });
    await fn(s, ws.workspace_id, root);
  } finally {
    await s.client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

// A tool call with the SDK's own defaults (60 s request timeout), no options
// of ours but the progress callback.
async function callDefault(client, name, args, onprogress) {
  const r = await client.callTool({ name, arguments: args }, undefined, onprogress ? { onprogress } : undefined);
  assert.equal(r.isError ?? false, false, `${name}: ${text(r)}`);
  return r.structuredContent;
}

// Longest gap between consecutive times (ms), from start to end.
function longestGap(start, times, end) {
  let gap = 0, prev = start;
  for (const t of [...times, end]) { gap = Math.max(gap, t - prev); prev = t; }
  return gap;
}

test('a command longer than the SDK\'s 60 s timeout: running within the bound, then wait_execution to "done"; '
  + 'output without logging/setLevel; progress every 5 s at most', { timeout: 150_000 }, () =>
  withServer({}, async (s, wid) => {
    const logs = [];
    s.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params.data.text));
    const command = 'for i in $(seq 1 13); do echo tick $i; sleep 5; done; echo done';
    const progress = [];
    const windows = [];  // [start, end] of every call, for the progress gaps
    const onprogress = (p) => progress.push({ at: Date.now(), ...p });

    const started = Date.now();
    const first = await callDefault(s.client, 'exec_command', { workspace_id: wid, command }, onprogress);
    windows.push([started, Date.now()]);
    const firstMs = Date.now() - started;
    assert.equal(first.status, 'running', JSON.stringify(first).slice(0, 500));
    assert.ok(firstMs >= 24_000 && firstMs < 35_000, `the call returned after ${firstMs} ms, not at the 25 s bound`);
    assert.match(first.stdout, /^tick 1\n/);
    assert.equal(first.stdout_offset, Buffer.byteLength(first.stdout));
    assert.deepEqual(first.since, { stdout_offset: first.stdout_offset, stderr_offset: 0 });
    assert.match(first.message, /step 'command' running for \d+ s: tick \d+/);

    let r = first;
    let streamed = first.stdout;
    while (r.status === 'running') {
      const at = Date.now();
      r = await callDefault(s.client, 'wait_execution', { execution_id: first.execution_id, since: r.since }, onprogress);
      windows.push([at, Date.now()]);
      assert.ok(Date.now() - at < 55_000, 'every wait returns before the SDK times out');
      if (r.status === 'running') {
        assert.equal(r.stdout_skipped_bytes, 0);
        streamed += r.stdout;
      }
    }
    const total = Date.now() - started;
    assert.ok(total >= 64_000, `the command ran ${total} ms, past the SDK's 60 s timeout`);
    assert.equal(r.status, 'succeeded', JSON.stringify(r).slice(0, 1000));
    assert.equal(r.execution_id, first.execution_id);
    assert.match(r.stdout, /tick 13\ndone\n$/);
    assert.ok(r.stdout.startsWith(streamed), 'the running results gave the output in order, nothing twice');

    // No logging/setLevel was sent: the output came as info messages anyway.
    assert.ok(logs.includes('tick 1\n') && logs.includes('done\n'), `log notifications: ${JSON.stringify(logs)}`);

    // Within each call, progress came at least every 5 s, carrying the step
    // and its latest line, and increasing.
    for (const [from, to] of windows) {
      const mine = progress.filter((p) => p.at >= from && p.at <= to);
      if (to - from < 5_000) continue;
      assert.ok(longestGap(from, mine.map((p) => p.at), to) <= 5_000,
        `a gap of more than 5 s without progress in a call of ${to - from} ms: ${JSON.stringify(mine.map((p) => p.at - from))}`);
      for (let k = 1; k < mine.length; k++) assert.ok(mine[k].progress > mine[k - 1].progress, 'progress increases');
    }
    assert.ok(progress.some((p) => /step 'command' running for \d+ s: tick \d+/.test(p.message)),
      JSON.stringify(progress.slice(0, 3)));
  }));

test('wait false returns at once; wait_execution gives output after since, the result, again for a finished id; '
  + 'unknown ids say where ids come from', { timeout: 60_000 }, () =>
  withServer({ SANDBOX_PERFORMANCE_EXECUTION_WAIT_S: '2' }, async (s, wid) => {
    const at = Date.now();
    const r = await s.call('exec_command', { workspace_id: wid, command: 'echo one; sleep 1; echo two >&2; sleep 1; echo three', wait: false });
    assert.ok(Date.now() - at < 1500, `wait false took ${Date.now() - at} ms`);
    assert.equal(r.status, 'running');
    assert.equal(r.kind, 'command');
    assert.equal(r.plan_id, null);
    assert.match(r.hint, /wait_execution/);

    await sleep(1300);
    const mid = await s.call('wait_execution', { execution_id: r.execution_id, timeout_s: 0, since: { stdout_offset: 0, stderr_offset: 0 } });
    assert.equal(mid.status, 'running');
    assert.equal(mid.stdout, 'one\n');
    const later = await s.call('wait_execution', { execution_id: r.execution_id, timeout_s: 0, since: mid.since });
    assert.equal(later.stdout, '', 'nothing new on stdout since the offset');

    const done = await s.call('wait_execution', { execution_id: r.execution_id, timeout_s: 10, since: later.since });
    assert.equal(done.status, 'succeeded');
    assert.equal(done.stdout, 'one\nthree\n');
    assert.equal(done.stderr, 'two\n');
    const again = await s.call('wait_execution', { execution_id: r.execution_id });
    assert.deepEqual(again, done, 'a finished execution gives the same final result at once');

    // The default wait (here 2 s) is what a call without wait gets.
    const quick = await s.call('exec_command', { workspace_id: wid, command: 'echo fast' });
    assert.equal(quick.status, 'succeeded');
    const slow = await s.call('exec_command', { workspace_id: wid, command: 'sleep 4; echo slow', wait: true });
    assert.equal(slow.status, 'running');

    const unknown = await s.fail('wait_execution', { execution_id: 'exec-000000000000' });
    assert.match(unknown, /execution 'exec-000000000000' not found; execution ids come from the execution_id of exec_command and execute_task_plan results/);
    const flat = await s.fail('wait_execution', { execution_id: slow.execution_id, since: { steps: { nope: { stdout_offset: 1 } } } });
    assert.match(flat, /since.steps: execution '.*' has no step 'nope'; its steps are: command/);
    assert.equal((await s.call('wait_execution', { execution_id: slow.execution_id, timeout_s: 10 })).stdout, 'slow\n');
  }));

test('a plan runs in the background: its running result lists the steps, since goes per step, the final '
  + 'result comes from wait_execution', { timeout: 60_000 }, () =>
  withServer({ SANDBOX_PERFORMANCE_EXECUTION_WAIT_S: '1' }, async (s, wid) => {
    const plan = await s.call('create_task_plan', { workspace_id: wid, auto_approve: true, steps: [
      { id: 'first', command: 'echo A; sleep 2' },
      { id: 'second', command: 'echo B', depends_on: ['first'] },
    ] });
    const r = await s.call('execute_task_plan', { plan_id: plan.plan_id });
    assert.equal(r.status, 'running');
    assert.equal(r.kind, 'plan');
    assert.equal(r.plan_id, plan.plan_id);
    assert.deepEqual(r.steps.map((st) => [st.step_id, st.status]), [['first', 'running'], ['second', 'pending']]);
    assert.equal(r.steps[0].stdout, 'A\n');
    assert.deepEqual(r.since, { steps: { first: { stdout_offset: 2, stderr_offset: 0 } } });
    const flat = await s.fail('wait_execution', { execution_id: r.execution_id, since: { stdout_offset: 2 } });
    assert.match(flat, /is a plan; give its offsets per step, as since.steps.<step_id>/);
    let w = r;
    while (w.status === 'running') w = await s.call('wait_execution', { execution_id: r.execution_id, since: w.since, timeout_s: 5 });
    assert.equal(w.status, 'succeeded');
    assert.equal(w.plan_id, plan.plan_id);
    assert.deepEqual(w.steps.map((st) => [st.step_id, st.status, st.stdout_tail]), [['first', 'succeeded', 'A\n'], ['second', 'succeeded', 'B\n']]);
    assert.equal((await s.call('get_plan', { plan_id: plan.plan_id })).status, 'completed');
  }));

test('cancel_execution stops a background execution within about a second', { timeout: 60_000 }, () =>
  withServer({}, async (s, wid) => {
    const r = await s.call('exec_command', { workspace_id: wid, command: 'echo started; sleep 30', wait: false });
    await sleep(500);
    const at = Date.now();
    assert.equal((await s.call('cancel_execution', { execution_id: r.execution_id })).status, 'cancelling');
    const done = await s.call('wait_execution', { execution_id: r.execution_id, timeout_s: 10 });
    assert.ok(Date.now() - at < 2000, `cancelled after ${Date.now() - at} ms`);
    assert.equal(done.status, 'cancelled');
    assert.match(done.stderr, /cancelled on request/);
    const h = await s.call('get_execution_history', { workspace_id: wid });
    assert.equal(h.executions[0].status, 'cancelled');
    assert.match(await s.fail('cancel_execution', { execution_id: r.execution_id }), /is not running \(it is cancelled\)/);
  }));

test('idle cleanup leaves a workspace alone while its background execution runs', { timeout: 60_000 }, () =>
  withServer({ SANDBOX_SANDBOX_WORKSPACE_TIMEOUT: '1', SANDBOX_SANDBOX_CLEANUP_INTERVAL: '1' }, async (s, wid) => {
    const r = await s.call('exec_command', { workspace_id: wid, command: 'sleep 4; echo survived', wait: false });
    await sleep(3000);
    const listed = await s.call('list_workspaces', {});
    assert.ok(listed.workspaces.some((w) => w.workspace_id === wid), 'the workspace is still there after 3 idle-timeouts');
    const done = await s.call('wait_execution', { execution_id: r.execution_id, timeout_s: 10 });
    assert.equal(done.status, 'succeeded');
    assert.equal(done.stdout, 'survived\n');
    // Once nothing runs, the workspace is idle and goes.
    let gone = false;
    for (let i = 0; i < 50 && !gone; i++) {
      await sleep(200);
      gone = !(await s.call('list_workspaces', {})).workspaces.some((w) => w.workspace_id === wid);
    }
    assert.ok(gone, 'idle cleanup removed the workspace after its execution ended');
  }));

test('executions beyond performance.max_concurrent_operations are refused, naming the key', { timeout: 60_000 }, () =>
  withServer({ SANDBOX_PERFORMANCE_MAX_CONCURRENT_OPERATIONS: '1' }, async (s, wid) => {
    const r = await s.call('exec_command', { workspace_id: wid, command: 'sleep 30', wait: false });
    const refused = await s.fail('exec_command', { workspace_id: wid, command: 'true' });
    assert.match(refused, /resource_exhausted: 1 executions are running, the most this server runs at once \(performance.max_concurrent_operations\); wait for one to end \(wait_execution\) or stop one \(cancel_execution\)/);
    await s.call('cancel_execution', { execution_id: r.execution_id });
    assert.equal((await s.call('wait_execution', { execution_id: r.execution_id, timeout_s: 10 })).status, 'cancelled');
    assert.equal((await s.call('exec_command', { workspace_id: wid, command: 'echo again' })).stdout, 'again\n');
  }));

test('a client that goes away leaves its execution running (HTTP session deleted while its call waits)', { timeout: 60_000 }, async () => {
  const root = tempRoot();
  const srv = await startHttpServer({ env: { SANDBOX_SECURITY_RATE_LIMIT_BURST: '1000', SANDBOX_PERFORMANCE_EXECUTION_WAIT_S: '20' } });
  const post = async (body, sid) => {
    const headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (sid) headers['mcp-session-id'] = sid;
    const res = await fetch(srv.url, { method: 'POST', headers, body: JSON.stringify(body) });
    const t = await res.text();
    return { status: res.status, headers: res.headers, json: t ? JSON.parse(t) : undefined };
  };
  const session = async () => {
    const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'gone', version: '1' } } });
    const sid = init.headers.get('mcp-session-id');
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sid);
    return sid;
  };
  const tool = async (sid, name, args, id = 2) => (await post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }, sid)).json;
  try {
    const sid = await session();
    const wid = (await tool(sid, 'create_workspace', { source_path: path.join(root, 'src') })).result.structuredContent.workspace_id;
    const pending = tool(sid, 'exec_command', { workspace_id: wid, command: 'sleep 3; echo finished' }, 3).catch(() => undefined);
    await sleep(700);
    const at = Date.now();
    const del = await fetch(srv.url, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
    assert.equal(del.status, 204);
    assert.ok(Date.now() - at < 2000, `ending the session took ${Date.now() - at} ms: it waited for the command`);
    await pending;

    const other = await session();
    const running = (await tool(other, 'get_execution_history', { workspace_id: wid, status: 'running' })).result.structuredContent;
    assert.equal(running.count, 1, 'the execution still runs after its client went away');
    const done = (await tool(other, 'wait_execution', { execution_id: running.executions[0].execution_id, timeout_s: 10 })).result;
    assert.equal(done.isError, false, JSON.stringify(done));
    assert.equal(done.structuredContent.status, 'succeeded');
    assert.equal(done.structuredContent.stdout, 'finished\n');
  } finally {
    await srv.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('the server stopping ends its background executions, recorded as cancelled', { timeout: 60_000 }, async () => {
  const root = tempRoot();
  try {
    let s = await startStdio(root, {}, 'isb-long-work');
    const ws = await s.call('create_workspace', { source_path: path.join(root, 'src'), workspace_id: 'stop' });
    const r = await s.call('exec_command', { workspace_id: ws.workspace_id, command: 'sleep 30', wait: false });
    const at = Date.now();
    // End of input: the server stops (the SDK waits for it, and would send
    // SIGTERM after 2 s and SIGKILL after 4 s).
    await s.client.close();
    assert.ok(Date.now() - at < 3900, `the server took ${Date.now() - at} ms to stop`);
    s = await startStdio(root, {}, 'isb-long-work');
    try {
      const done = await s.call('wait_execution', { execution_id: r.execution_id });
      assert.equal(done.status, 'cancelled');
      assert.match(done.stderr, /the server stopped while the step ran/);
    } finally {
      await s.client.close();
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
