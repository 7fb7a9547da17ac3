// security_memory_disk.test.mjs: issue 13, finding 4, through the real
// server over stdio with the official SDK client.
// - Memory: a 4 GiB sparse file and a 1 GiB file of real blocks go through
//   every file-sized operation (export as tar.gz and zip, diff, read, search,
//   analysis, apply_changes) while the server's peak RSS (VmHWM) stays
//   under 128 MiB; the applied sparse file keeps its holes.
// - Disk: disk_mb holds after a command returns: a background writer that
//   outlives its command cannot take the workspace past its limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStdio } from './helpers/stdio_client.mjs';

const kib = (status, field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);

const start = (root, env) => startStdio(root, env, 'isb-e2e-memory');

test('file-sized operations keep the server under 128 MiB with a 4 GiB sparse and a 1 GiB real file', { timeout: 900000 }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-memory-'));
  fs.chmodSync(root, 0o755);
  const project = path.join(root, 'proj');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'main.py'), 'print("hi")\n');
  const s = await start(root);
  try {
    await s.call('create_workspace', { source_path: project, workspace_id: 'big' });
    const made = await s.call('exec_command', { workspace_id: 'big', timeout_s: 600,
      command: 'truncate -s 4G sparse.bin && printf MIDDLE | dd of=sparse.bin bs=1 seek=2147483648 conv=notrunc 2>/dev/null && '
        + 'dd if=/dev/zero of=real.bin bs=1M count=1024 2>/dev/null && ls -ls sparse.bin real.bin' });
    assert.equal(made.exit_code, 0, made.stderr);
    const pid = s.transport.pid;
    const rss = () => fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const baseline = kib(rss(), 'VmRSS');

    const steps = {
      'export tar.gz': () => s.call('export_workspace', { workspace_id: 'big', format: 'tar.gz' }),
      'export zip (changes only)': () => s.call('export_workspace', { workspace_id: 'big', format: 'zip', changes_only: true }),
      diff: () => s.call('get_workspace_diff', { workspace_id: 'big' }),
      read: () => s.call('read_file', { workspace_id: 'big', path: 'sparse.bin', offset: 2147483648, limit: 6 }),
      search: () => s.call('search_files', { workspace_id: 'big', pattern: 'MIDDLE' }),
      analyze: () => s.call('analyze_codebase', { workspace_id: 'big', include_dependencies: true }),
      apply: () => s.call('apply_changes', { workspace_id: 'big', include: ['sparse.bin', 'real.bin'] }),
    };
    const seen = {};
    for (const [what, fn] of Object.entries(steps)) {
      const t0 = Date.now();
      const r = await fn();
      seen[what] = { ms: Date.now() - t0, hwm_kib: kib(rss(), 'VmHWM') };
      assert.ok(seen[what].hwm_kib < 128 * 1024, `after ${what} the peak RSS is ${seen[what].hwm_kib} KiB`);
      if (what === 'read') assert.equal(r.content, 'MIDDLE');
      if (what === 'export tar.gz') fs.rmSync(r.path);
      if (what === 'export zip (changes only)') fs.rmSync(r.path);
      if (what === 'apply') assert.deepEqual(r.written.sort(), ['real.bin', 'sparse.bin']);
    }
    console.log(`baseline RSS ${baseline} KiB; per operation: ${JSON.stringify(seen)}`);
    const peak = kib(rss(), 'VmHWM');
    assert.ok(peak < 128 * 1024, `peak RSS ${peak} KiB is not under 128 MiB: ${JSON.stringify(seen)}`);
    // The applied sparse file kept its holes.
    const st = fs.statSync(path.join(project, 'sparse.bin'));
    assert.equal(st.size, 4 * 1024 ** 3);
    assert.ok(st.blocks * 512 < 64 * 1024 * 1024, `sparse.bin took ${st.blocks * 512} bytes`);
    const fd = fs.openSync(path.join(project, 'sparse.bin'), 'r');
    const mid = Buffer.alloc(6);
    fs.readSync(fd, mid, 0, 6, 2147483648);
    fs.closeSync(fd);
    assert.equal(mid.toString(), 'MIDDLE');
  } finally {
    await s.client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('disk_mb holds after a command returns: a background writer stops at the limit', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-disk-'));
  fs.chmodSync(root, 0o755);
  const project = path.join(root, 'proj');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'README'), 'x\n');
  const s = await start(root);
  try {
    const w = await s.call('create_workspace', { source_path: project, workspace_id: 'd',
      isolation: { resource_limits: { disk_mb: 64 } } });
    const enforced = w.isolation.disk_limit.enforced_by;
    assert.ok(['disk_image', 'watch'].includes(enforced), JSON.stringify(w.isolation.disk_limit));
    if (process.getuid() === 0) assert.equal(enforced, 'disk_image', 'as root the limit is a disk image');
    // The command returns at once; its child goes on writing 200 MB.
    const r = await s.call('exec_command', { workspace_id: 'd',
      command: '(sleep 1; dd if=/dev/zero of=bg.bin bs=1M count=200 2>bg.err; echo "$?" > bg.rc) > /dev/null 2>&1 & echo left' });
    assert.equal(r.stdout, 'left\n');
    let size = 0;
    for (let i = 0; i < 40; ++i) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const ls = await s.client.callTool({ name: 'exec_command', arguments: { workspace_id: 'd',
        command: 'cat bg.rc 2>/dev/null; stat -c %s bg.bin 2>/dev/null || echo 0' } });
      if (ls.isError) break;  // the watch restarted the sandbox, or refuses work while over the limit
      const lines = ls.structuredContent.stdout.trim().split('\n');
      size = Number(lines.at(-1));
      if (lines.length > 1) break;  // dd ended
    }
    assert.ok(size <= 64 * 1024 * 1024, `the background writer reached ${size} bytes, over disk_mb 64`);
    const list = await s.call('list_files', { workspace_id: 'd', path: '' });
    const bg = list.entries.find((e) => e.path === 'bg.bin');
    assert.ok(!bg || bg.size <= 64 * 1024 * 1024, JSON.stringify(bg));
  } finally {
    await s.client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
