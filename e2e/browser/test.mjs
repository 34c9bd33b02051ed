// Drives the orx dashboard in headless Chromium: the run list, a run started from the form
// whose stages advance live, its diff and a gate log, a start error, and a second run that is
// cancelled and then resumed, and a run stopped for approval that is rejected with feedback,
// approved with an edited plan, refused an invalid backlog and approved to the end. Usage: node test.mjs BASE_URL ARTIFACT_DIR. Prints "N passed, N failed" and exits
// non-zero on any failure. Started by run.sh, which owns the server and the temp repository.
import { chromium } from 'playwright-core';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, outDir] = process.argv.slice(2);
if (!base || !outDir || !process.env.ORX_E2E_HOLD) {
  console.error('usage: ORX_E2E_HOLD=FILE node test.mjs BASE_URL ARTIFACT_DIR');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
// Every wait below is for an event on the page; the only clocks are this overall bound and
// playwright's per-wait default (set below), both minutes long: they turn a hang into a
// failure and decide nothing else.
const deadline = setTimeout(() => {
  console.error('browser test: out of time (300 s)');
  process.exit(1);
}, 300_000);
const hold = process.env.ORX_E2E_HOLD;

let passed = 0;
let failed = 0;
function check(cond, what) {
  if (cond) {
    passed++;
    console.log(`ok   ${what}`);
  } else {
    failed++;
    console.log(`FAIL ${what}`);
  }
  return cond;
}

const profile = mkdtempSync(join(tmpdir(), 'orx-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = context.pages()[0] || await context.newPage();
page.setDefaultTimeout(120_000);
const problems = [];
// The steps that provoke a 400 or 404 on purpose set this, so the browser's own
// "Failed to load resource" line for them is not counted as a problem.
let expectHttpError = false;
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  if (expectHttpError && m.text().startsWith('Failed to load resource')) return;
  problems.push(`console error: ${m.text()}`);
});
const shot = (name) => page.screenshot({ path: join(outDir, name), fullPage: true });
const stages = () => page.$$eval('#timeline tr.stage', (rows) => rows.map((r) => `${r.dataset.stage}:${r.dataset.status}`).join(' '));

async function startRun(task) {
  await page.goto(`${base}/`);
  await page.fill('textarea[name=task]', task);
  await page.selectOption('select[name=engine]', 'fake');
  await Promise.all([page.waitForURL(/\/runs\/[0-9a-z-]+$/), page.click('#start button[type=submit]')]);
  return page.url().split('/runs/')[1];
}

try {
  // 1. The run list.
  const resp = await page.goto(`${base}/`);
  check(resp.status() === 200, 'GET / answers 200');
  check(await page.isVisible('#start textarea[name=task]'), 'the run list has the start form');
  check(await page.getAttribute('#runs .count', 'data-total') === '0', 'the run table renders, empty');

  // 2. A start that fails shows a visible error and keeps the task.
  expectHttpError = true;
  await page.fill('textarea[name=task]', 'This should not start <b>bold</b>');
  await page.fill('input[name=base_branch]', 'no-such-branch');
  const [bad] = await Promise.all([page.waitForNavigation(), page.click('#start button[type=submit]')]);
  check(bad.status() === 400, `a bad base branch answers 400 (got ${bad.status()})`);
  check((await page.textContent('#error') || '').includes('no-such-branch'), 'the error is shown as a visible message');
  check((await page.inputValue('textarea[name=task]')).includes('<b>bold</b>'), 'the task text is kept, as text');
  expectHttpError = false;

  // 3. Start a fake-engine run from the form and watch the timeline advance without a reload.
  const id = await startRun('Add add() and mul() to calc, with gates');
  check(/^\d{8}-\d{6}-[0-9a-f]+$/.test(id), `the form redirects to the new run page (${id})`);
  await page.evaluate(() => { window.__sameDocument = true; });
  const seen = [await stages()];
  let midShot = false;
  // Watched until it ends, however long that takes (the overall bound ends a hang).
  for (;;) {
    const s = await stages();
    if (s !== seen[seen.length - 1]) seen.push(s);
    if (!midShot && /implement:running/.test(s)) {
      await page.waitForSelector('#tail-log .ev');
      await shot('02-run-live.png');
      midShot = true;
    }
    const status = await page.getAttribute('#live', 'data-status');
    if (['succeeded', 'failed', 'interrupted', 'budget_exceeded'].includes(status)) break;
    await page.waitForTimeout(150);
  }
  const final = await page.getAttribute('#live', 'data-status');
  check(final === 'succeeded', `the run finished as succeeded on the page (${final})`);
  check(seen.length >= 4, `the timeline changed ${seen.length - 1} times while watched`);
  check(seen[0].includes('pending') && !(await stages()).includes('pending'), 'stages went from pending to done');
  check(await page.evaluate(() => window.__sameDocument === true), 'it changed without a page reload');
  check(await page.isVisible('#resume') === false && await page.isVisible('#cancel') === false,
    'a succeeded run offers neither cancel nor resume');
  await page.waitForFunction(() => document.getElementById('live')?.dataset.live === 'false');
  check(await page.isVisible('#resume') === false && await page.isVisible('#cancel') === false,
    'nor once its driver has exited');

  // The live log tail (SSE) and its search box.
  await page.waitForFunction(() => document.getElementById('tail-state').textContent.startsWith('ended'));
  const lines = await page.$$eval('#tail-log .ev', (els) => els.length);
  check(lines >= 10, `the agent log tail received ${lines} events over SSE`);
  check(await page.$('#tail-log .ev[data-event=stage_started]') !== null, 'the tail shows stage starts');
  await page.fill('#tail-search', 'W001');
  const shown = await page.$$eval('#tail-log .ev', (els) => els.filter((e) => !e.hidden).map((e) => e.textContent));
  check(shown.length > 0 && shown.length < lines && shown.every((t) => t.includes('W001')), `search keeps only matching lines (${shown.length}/${lines})`);
  check(await page.$('#tail-log mark') !== null, 'search highlights the matches');
  await page.fill('#tail-search', '');
  // The tail tells normalised agent events, as `orx logs` does: a tool call is one line.
  const agentLines = await page.$$eval('#tail-log .ev[data-event=agent]', (els) => els.map((e) => e.textContent));
  check(agentLines.some((t) => /\[implement\/W001\] edit calc\.py$/.test(t)), 'the log shows a tool call as one normalised line (edit calc.py)');
  check(agentLines.length > 0 && agentLines.every((t) => !t.includes('"type":')), 'no agent line is a raw JSON event');
  const failedGates = await page.$$eval('#tail-log .ev[data-event=gate_finished].bad', (els) => els.map((e) => e.textContent));
  check(failedGates.some((t) => t.includes('add(2, 3) != 5')), 'a failed gate shows the line it failed on');
  await shot('03-run-done.png');

  // 4. The diff, highlighted.
  await page.click('#diff-link');
  await page.waitForSelector('.diff-file');
  const files = await page.$$eval('.diff-file', (els) => els.map((e) => e.dataset.path));
  check(files.includes('calc.py') && files.includes('mul.py'), `the diff lists the changed files (${files.join(', ')})`);
  check(await page.$('.diff-file[data-path="calc.py"] tr.add .tk-kw') !== null, 'added Python lines are syntax-highlighted');
  check(await page.$('tr.hunk') !== null, 'hunk headers are shown');
  await shot('04-diff.png');

  // 5. A gate log.
  await page.goto(`${base}/runs/${id}`);
  await page.click('a.gate-log >> nth=0');
  await page.waitForSelector('.viewer pre.file');
  check((await page.textContent('.viewer pre.file')).includes('add ok'), 'the gate log opens in the viewer');
  await shot('05-gate-log.png');

  // 6. Cancel a second run, held at the start of spec (orx.yaml's hook) so it is still live
  // when the cancel arrives.
  writeFileSync(hold, '');
  const id2 = await startRun('A run that will be cancelled');
  await page.waitForSelector('#cancel');
  await page.waitForFunction(() => /plan|spec/.test(document.querySelector('#live .now')?.textContent || ''));
  await Promise.all([page.waitForNavigation(), page.click('#cancel')]);
  await page.waitForFunction(() => document.getElementById('live')?.dataset.status === 'interrupted');
  check(true, `the second run (${id2}) shows interrupted after cancel`);
  check(await page.isVisible('#cancel') === false, 'an interrupted run no longer offers cancel');
  // The driver writes `interrupted` before it lets go of the run; resume is offered once no
  // process holds it, which the page learns on its next refresh.
  await page.waitForFunction(() => document.getElementById('live')?.dataset.live === 'false');
  check(await page.isVisible('#resume'), 'an interrupted run offers resume');
  await shot('06-cancelled.png');
  // Resume it from its page, the hold lifted: it picks up where it stopped and finishes.
  rmSync(hold, { force: true });
  await Promise.all([page.waitForNavigation(), page.click('#resume')]);
  await page.waitForFunction(() => document.getElementById('live')?.dataset.status === 'succeeded');
  check(true, 'the resume button brings the cancelled run to success');
  check(/resumes 1/.test(await page.textContent('#live .facts')), 'the page counts the resume');

  // 7. The list shows both.
  await page.goto(`${base}/`);
  await page.waitForSelector(`#run-${id2}`);
  const st1 = await page.getAttribute(`#run-${id} .badge`, 'data-status');
  const st2 = await page.getAttribute(`#run-${id2} .badge`, 'data-status');
  check(st1 === 'succeeded' && st2 === 'succeeded', `the run list shows both runs (${st1}, ${st2})`);
  await page.fill('form.filters input[name=q]', 'cancelled');
  await page.waitForFunction(() => document.querySelectorAll('#runs tbody tr[id]').length === 1);
  check(true, 'the live filter narrows the list without a reload');
  await page.fill('form.filters input[name=q]', '');
  await page.waitForFunction(() => document.querySelectorAll('#runs tbody tr[id]').length === 2);
  await shot('01-runs.png');

  // 8. Unknown run.
  expectHttpError = true;
  const nf = await page.goto(`${base}/runs/20000101-000000-abcdef`);
  check(nf.status() === 404 && (await page.textContent('#error')).includes('unknown run'), 'an unknown run is a 404 page');

  // 9. Approval checkpoints: a run started with `--approve plan,decompose` stops after plan;
  // its page shows the plan in an editable box with Approve and Reject.
  expectHttpError = false;
  const repo = process.env.ORX_E2E_REPO;
  const started = spawnSync(process.env.ORX_E2E_BIN,
    ['run', 'A run to approve', '--approve', 'plan,decompose', '--no-progress'],
    { cwd: repo, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  check(started.status === 4, `orx run --approve stops with exit 4 (got ${started.status})`);
  const id3 = (started.stdout.split('\n')[0] || '').replace(/^run /, '');
  const runFile = (rel) => readFileSync(join(repo, 'runs', id3, rel), 'utf8');
  await page.goto(`${base}/runs/${id3}`);
  check(await page.getAttribute('#approval', 'data-stage') === 'plan', 'the run page shows the plan awaiting approval');
  check((await page.inputValue('#approval-content')).includes('# Plan'), 'the plan is shown in an editable box');
  await shot('07-awaiting-approval.png');
  // Reject with feedback: the plan runs again with it, and the page shows the checkpoint again.
  await page.fill('#reject-feedback', 'FEEDBACK-FROM-THE-BROWSER: mention mul()');
  await Promise.all([page.waitForNavigation(), page.click('#reject')]);
  await page.waitForFunction(() => document.getElementById('live')?.dataset.status === 'awaiting_approval'
    && document.getElementById('approval')?.dataset.stage === 'plan');
  check(runFile('prompts/plan_2.md').includes('FEEDBACK-FROM-THE-BROWSER: mention mul()'),
    'reject runs the plan again with the feedback in its prompt');
  // Approve an edited plan: the spec stage reads the edit; the run stops after decompose.
  await page.fill('#approval-content', '# Plan\n\nEDITED-IN-THE-BROWSER: add() and mul().\n');
  await Promise.all([page.waitForNavigation(), page.click('#approve')]);
  await page.waitForFunction(() => document.getElementById('approval')?.dataset.stage === 'decompose');
  check(runFile('prompts/spec.md').includes('EDITED-IN-THE-BROWSER'), 'the approved, edited plan reaches the spec prompt');
  // An invalid backlog is refused with the file named, and nothing is written.
  const backlog = runFile('context/backlog.yaml');
  expectHttpError = true;
  await page.fill('#approval-content', 'items:\n  - id: W001\n    title: x\n    depends_on: [W404]\n');
  const [refused] = await Promise.all([page.waitForNavigation(), page.click('#approve')]);
  check(refused.status() === 400 && (await page.textContent('#error')).includes('backlog.yaml'),
    `an invalid backlog is refused with a visible error naming the file (${refused.status()})`);
  check(runFile('context/backlog.yaml') === backlog, 'the refused backlog left the file as it was');
  expectHttpError = false;
  await shot('08-invalid-backlog.png');
  // Approve it as it is: the run goes on to the end.
  await page.goto(`${base}/runs/${id3}`);
  await Promise.all([page.waitForNavigation(), page.click('#approve')]);
  await page.waitForFunction(() => document.getElementById('live')?.dataset.status === 'succeeded');
  check(true, 'approving the backlog brings the run to success');

  check(problems.length === 0, `no page errors or console errors (CSP included)${problems.length ? ': ' + problems.join('; ') : ''}`);
} catch (e) {
  failed++;
  console.log(`FAIL ${e.stack || e}`);
  await shot('failure.png').catch(() => {});
} finally {
  clearTimeout(deadline);
  await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
