// security_races.test.mjs: the race harness of issue 13. Code inside the
// sandbox swaps a directory with a symlink to a root-only host directory, and
// a file with a symlink to a root-only host file, in a tight loop
// (renameat2 RENAME_EXCHANGE), while each host-side operation runs again and
// again for at least 10 s: listing, reading, searching, diffing, exporting,
// applying, analysing, and an execution that reads artifacts and build-tool
// reports under the swapped directory. Not one byte of the host files, nor
// their names, may come back, and nothing may land in the host directories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = process.env.ISB_BINARY ?? path.resolve(here, '../../build/bin/intelligent-sandbox');
const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
const kPerOperationMs = Number(process.env.ISB_RACE_SECONDS ?? 10) * 1000;

// The swapper, run inside the jail with the host's python3 (ctypes, libc's
// renameat2). It stops by itself after its time is up.
const kSwapper = `
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
end = time.time() + float(sys.argv[1])
pairs = [(b"d", b"dlink"), (b"e/f.txt", b"flink")]
n = 0
while time.time() < end:
    for a, b in pairs:
        libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
    n += 1
    if n % 5000 == 0:
        with open("swaps.out", "w") as f:
            f.write(str(n))
`;

test('host-side operations under a symlink-swapping sandbox leak no host byte', { timeout: 600000 }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isb-race-'));
  fs.chmodSync(root, 0o755);
  const marker = `RACE-SECRET-${process.pid}${Date.now()}`;
  // Root-only host files, named like the project's so that a followed link
  // would be read as them.
  const secretDir = path.join(root, 'host-only');
  fs.mkdirSync(path.join(secretDir, 'target', 'surefire-reports'), { recursive: true, mode: 0o700 });
  fs.chmodSync(secretDir, 0o700);
  const junit = `<testsuite><testcase classname="${marker}" name="t"><failure/></testcase></testsuite>\n`;
  const secrets = {
    'f.txt': `${marker}\n`,
    'requirements.txt': `${marker}==1.0\n`,
    'package.json': JSON.stringify({ name: marker, dependencies: { [marker]: '1.0.0' } }),
    'main.py': `# ${marker}\nprint("${marker}")\n`,
    'r.xml': junit,
    [`${marker}.txt`]: 'named\n',
    'target/surefire-reports/TEST-a.xml': junit,
  };
  for (const [rel, content] of Object.entries(secrets)) {
    fs.writeFileSync(path.join(secretDir, rel), content, { mode: 0o600 });
  }
  const secretFile = path.join(root, 'host-file.txt');
  fs.writeFileSync(secretFile, `${marker}\n`, { mode: 0o600 });
  const listing = () => fs.readdirSync(secretDir, { recursive: true }).sort();
  const before = listing();

  const project = path.join(root, 'proj');
  fs.mkdirSync(path.join(project, 'd', 'target', 'surefire-reports'), { recursive: true });
  fs.mkdirSync(path.join(project, 'e'));
  fs.writeFileSync(path.join(project, 'd', 'f.txt'), 'benign\n');
  fs.writeFileSync(path.join(project, 'd', 'requirements.txt'), 'requests==2.31.0\n');
  fs.writeFileSync(path.join(project, 'd', 'package.json'), JSON.stringify({ name: 'benign', dependencies: { leftpad: '1.0.0' } }));
  fs.writeFileSync(path.join(project, 'd', 'main.py'), 'print("benign")\n');
  fs.writeFileSync(path.join(project, 'd', 'r.xml'), '<testsuite><testcase name="ok"/></testsuite>\n');
  fs.writeFileSync(path.join(project, 'e', 'f.txt'), 'benign\n');
  fs.symlinkSync(secretDir, path.join(project, 'dlink'));
  fs.symlinkSync(secretFile, path.join(project, 'flink'));
  fs.writeFileSync(path.join(project, 'swap.py'), kSwapper);

  const transport = new StdioClientTransport({
    command: binary,
    args: ['serve'],
    env: { ...process.env, SANDBOX_BASE_DIR: path.join(root, 'base'), SANDBOX_LOG_LEVEL: 'error' },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const client = new Client({ name: 'isb-e2e-races', version: '1.0.0' });
  await client.connect(transport);
  const leaks = [];
  const check = (what, value) => {
    const s = typeof value === 'string' ? value : JSON.stringify(value);
    if (s.includes(marker)) leaks.push(`${what}: ${s.slice(Math.max(0, s.indexOf(marker) - 200), s.indexOf(marker) + 100)}`);
  };
  // Any result or error, checked for the marker; an error under the race is fine.
  const attempt = async (what, name, args) => {
    try {
      const r = await client.callTool({ name, arguments: args });
      check(what, r);
      return r.isError ? null : r.structuredContent;
    } catch (e) {
      check(what, String(e?.message ?? e));
      return null;
    }
  };
  const counts = {};
  const hammer = async (what, fn) => {
    const end = Date.now() + kPerOperationMs;
    let n = 0;
    while (Date.now() < end) {
      await fn();
      ++n;
    }
    counts[what] = n;
  };
  try {
    const created = await client.callTool({ name: 'create_workspace',
      arguments: { source_path: project, workspace_id: 'race', mode: 'copy' } });
    assert.equal(created.isError, false, text(created));
    const swapSeconds = Math.ceil((kPerOperationMs * 9) / 1000) + 30;
    const started = await client.callTool({ name: 'exec_command', arguments: { workspace_id: 'race',
      command: `nohup /usr/bin/python3 swap.py ${swapSeconds} > swap.log 2>&1 & sleep 1; cat swap.log; echo started` } });
    assert.equal(started.isError, false, text(started));
    assert.equal(started.structuredContent.stdout, 'started\n', 'the swapper runs');

    await hammer('list_files', () => attempt('list_files', 'list_files', { workspace_id: 'race', path: '', recursive: true }));
    await hammer('read_file', async () => {
      await attempt('read_file d', 'read_file', { workspace_id: 'race', path: 'd/f.txt' });
      await attempt('read_file e', 'read_file', { workspace_id: 'race', path: 'e/f.txt' });
    });
    await hammer('search_files', () => attempt('search_files', 'search_files', { workspace_id: 'race', pattern: 'RACE|benign' }));
    await hammer('get_workspace_diff', () => attempt('diff', 'get_workspace_diff', { workspace_id: 'race' }));
    await hammer('export_workspace', async () => {
      const x = await attempt('export', 'export_workspace', { workspace_id: 'race', format: 'tar.gz' });
      if (x) {
        check('export archive', zlib.gunzipSync(fs.readFileSync(x.path)).toString('latin1'));
        fs.rmSync(x.path, { force: true });
      }
    });
    await hammer('apply_changes', async () => {
      await attempt('apply', 'apply_changes', { workspace_id: 'race' });
      // The project as written, never through a link (the project's own
      // dlink and flink point at the host files on purpose).
      const walk = (dir, rel = '') => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
          const r = rel ? `${rel}/${e.name}` : e.name;
          check('applied name', r);
          if (e.isDirectory()) walk(path.join(dir, e.name), r);
          else if (e.isFile()) check(`applied ${r}`, fs.readFileSync(path.join(dir, e.name), 'latin1'));
        }
      };
      walk(project);
    });
    await hammer('analyze_codebase', () => attempt('analyze', 'analyze_codebase',
      { workspace_id: 'race', include_dependencies: true }));
    const steps = [
      { id: 'artifact', phase: 'test', command: 'true', artifacts: [{ type: 'junit', path: 'd/r.xml' }] },
      { id: 'discover', phase: 'test', cwd: 'd', command: 'echo ./mvnw test' },
    ];
    await hammer('execute_task_plan', async () => {
      const plan = await attempt('plan', 'create_task_plan', { workspace_id: 'race', auto_approve: true, steps });
      if (!plan) return;
      const ex = await attempt('execute', 'execute_task_plan', { plan_id: plan.plan_id });
      for (const st of ex?.steps ?? []) {
        await attempt('log', 'get_execution_log', { execution_id: ex.execution_id, step_id: st.step_id, stream: 'stdout' });
      }
    });
    await hammer('exec_command', () => attempt('exec', 'exec_command', { workspace_id: 'race', command: 'true' }));

    const swaps = await client.callTool({ name: 'exec_command', arguments: { workspace_id: 'race', command: 'cat swaps.out' } });
    console.log(`operations run: ${JSON.stringify(counts)}; swaps so far: ${swaps.structuredContent?.stdout}`);
    assert.ok(Number(swaps.structuredContent?.stdout) > 1000, 'the swapper kept swapping');
    for (const [what, n] of Object.entries(counts)) assert.ok(n > 0, `${what} ran`);
    const byOperation = {};
    for (const l of leaks) byOperation[l.slice(0, l.indexOf(':'))] = (byOperation[l.slice(0, l.indexOf(':'))] ?? 0) + 1;
    assert.deepEqual(byOperation, {}, `host bytes leaked; first: ${leaks.slice(0, 3).join('\n')}`);
    assert.deepEqual(listing(), before, 'something was created in the host directory');
    assert.equal(fs.readFileSync(secretFile, 'utf8'), `${marker}\n`);
  } finally {
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
    if (leaks.length) console.error(stderr.slice(-4000));
  }
});
