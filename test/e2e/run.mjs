// End-to-end test: the built vmx-debug.vsix in a real VS Code (code-server 4.100.3) driven in
// Debian's Chromium with playwright-core. Run with `npm run test:e2e` (set-up first: test/e2e/setup.sh).
//
// Scenario A (samples/longmode-rom): open longmode.asm, set a breakpoint, start debugging (the
//   sample's launch.json, stopOnEntry), continue, check the stop is at the breakpoint in the .asm
//   source and the Variables view shows registers.
// Scenario B (samples/mini-hypervisor, with stopOnVmExit: ["cpuid"] added to its launch
//   configuration): breakpoint on VMLAUNCH, then continue to the CPUID VM exit; check the stop shows
//   the exit reason, the VMCS tree shows the six areas with decoded fields, and (if the extension
//   contributes an inspector panel command) the panel shows the same field values.
//
// Screenshots go to test/e2e/screenshots/. Exit code 0 only if every check passed (a skipped check
// is reported as SKIP and does not fail the run); 1 if a check failed; 2 if a step threw or the run
// timed out (the summary then names the step and the check it was working towards).
//
// No fixed sleeps decide anything: every step waits for the condition it needs (with a timeout),
// e.g. F5 on a stop only once the workbench has taken the stop in (the debug toolbar offers
// Continue), a check on the Call Stack only once its frames are rendered.
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PREFIX = process.env.E2E_PREFIX || path.join(ROOT, '.e2e');
const SHOTS = path.join(ROOT, 'test/e2e/screenshots');
const VSIX = process.env.E2E_VSIX || path.join(ROOT, 'vmx-debug.vsix');
const CODE_SERVER = path.join(PREFIX, 'node_modules/code-server/out/node/entry.js');
const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
const HEADED = process.env.E2E_HEADED === '1';
const STEP_TIMEOUT = Number(process.env.E2E_TIMEOUT_MS || 60_000);
// how long a check waits for the UI to show what it looks for, once the step before it is complete
const SETTLE = Math.min(STEP_TIMEOUT, 15_000);
// the whole run (start-up to shut-down); a hang anywhere ends the run with exit code 2
const TOTAL_TIMEOUT = Number(process.env.E2E_TOTAL_TIMEOUT_MS || 600_000);

const require = createRequire(path.join(PREFIX, 'package.json'));
const { chromium } = require('playwright-core');

const t0 = Date.now();
const log = (...a) => console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s]`, ...a);
const results = [];
// every check the run makes, in order (the summary lists those a thrown step kept from running)
const CHECKS = [
  'vsix installs with code-server --install-extension',
  'workbench loads (A)',
  'A: stops at the breakpoint in the .asm source',
  'A: Variables view shows registers',
  'B: stops at the VMLAUNCH breakpoint in mini-hypervisor.asm',
  'B: VM-exit stop shows its reason',
  'B: VMCS tree shows the six areas',
  'B: VMCS tree shows decoded fields (VM_EXIT_REASON decoded as CPUID)',
  'B: inspector panel shows the same field values',
];
let currentStep = 'start';
function step(name) { currentStep = name; log(`step: ${name}`); }
function check(name, ok, detail = '') {
  results.push({ name, status: ok ? 'PASS' : 'FAIL', detail });
  log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ' — ' + detail : ''}`);
  return ok;
}
function skip(name, why) {
  results.push({ name, status: 'SKIP', detail: why });
  log(`SKIP ${name} — ${why}`);
}

/**
 * Starts code-server on a port the kernel picks (--bind-addr 127.0.0.1:0: no window between choosing
 * a free port and binding it) and resolves with its URL, read from its "HTTP server listening on"
 * log line, once /healthz answers. Rejects at once if code-server exits, with the end of its log.
 * code-server gets its own process group so that stopCodeServer can end it with its children.
 */
function startCodeServer(args, env, logFile, ms) {
  const out = fs.createWriteStream(logFile);
  const cs = spawn(process.execPath, [CODE_SERVER, ...args, '--bind-addr', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'pipe'], env, detached: true });
  codeServer = cs;
  let text = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not report its address within ${ms} ms; its log:\n${text.slice(-3000)}`)), ms);
    const onData = (d) => {
      out.write(d);
      if (text.length < 200_000) text += d;
      const m = /HTTP server listening on (http:\/\/[^\s/]+)/.exec(text);
      if (m && !cs.url) { cs.url = m[1]; clearTimeout(timer); resolve(m[1]); }
    };
    cs.stdout.on('data', onData);
    cs.stderr.on('data', onData);
    cs.once('error', (e) => { clearTimeout(timer); reject(e); });
    cs.once('exit', (code, sig) => {
      cs.exited = true;
      if (!cs.url) { clearTimeout(timer); reject(new Error(`code-server exited (${sig || code}) before listening; its log:\n${text.slice(-3000)}`)); }
    });
  });
  return ready.then(async (url) => { await waitHttp(`${url}/healthz`, ms, cs); return url; });
}

async function waitHttp(url, ms, cs) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cs.exited) throw new Error('code-server exited during start-up');
    try { const r = await fetch(url); if (r.status < 500) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`code-server did not answer at ${url} within ${ms} ms`);
}

function groupAlive(pid) {
  try { process.kill(-pid, 0); return true; } catch { return false; }
}

/** SIGTERM to code-server's process group, SIGKILL to what is left after 10 s; waits until the group is gone. */
async function stopCodeServer(cs) {
  if (!cs || !cs.pid) return;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  try { process.kill(-cs.pid, 'SIGTERM'); } catch { /* already gone */ }
  for (let end = Date.now() + 10_000; Date.now() < end && groupAlive(cs.pid);) await sleep(100);
  if (groupAlive(cs.pid)) { try { process.kill(-cs.pid, 'SIGKILL'); } catch { /* gone */ } }
  for (let end = Date.now() + 5_000; Date.now() < end && groupAlive(cs.pid);) await sleep(100);
}

/** Polls `get` until `ok(value)` holds or `ms` pass; returns { ok, value } with the last value. */
async function poll(page, get, ok, ms = STEP_TIMEOUT, every = 250) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await get();
    if (ok(value)) return { ok: true, value };
    if (Date.now() >= end) return { ok: false, value };
    await page.waitForTimeout(every);
  }
}

/** Line (1-based) of the first line of `file` matching `re`. */
function lineOf(file, re) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => re.test(l));
  if (i < 0) throw new Error(`no line matching ${re} in ${file}`);
  return i + 1;
}

// ---- page helpers ---------------------------------------------------------------------------------

let shotNo = 0;
let currentPage = null;
let EXT_DIR = '';
let codeServer = null;
let browser = null;
let tmpDir = '';
async function shot(page, name) {
  const file = path.join(SHOTS, `${String(++shotNo).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file });
  log(`screenshot ${path.relative(ROOT, file)}`);
  return file;
}

/** Opens the quick input with F1 and replaces its text (">" prefix: commands; none: files; ":" go to line). */
async function quickInput(page, text) {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input.input');
  await input.waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
  await input.fill(text);
  return input;
}

async function runCommand(page, title) {
  await quickInput(page, `>${title}`);
  const row = page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
  await row.click();
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: STEP_TIMEOUT });
}

/** Opens `name` with quick open (clicks the result row of that name, not whichever row is first). */
async function openFile(page, name) {
  await quickInput(page, name);
  const row = page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: name }).first();
  await row.waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
  await row.click();
  await page.locator('.tab.active', { hasText: name }).waitFor({ timeout: STEP_TIMEOUT });
  await page.locator('.monaco-editor .view-lines').first().waitFor({ timeout: STEP_TIMEOUT });
}

/** Whether the keyboard focus is in the text of an editor (where F9 toggles a breakpoint). */
async function editorHasFocus(page) {
  return page.evaluate(() => !!(document.activeElement && document.activeElement.closest('.monaco-editor')));
}

/** Go to line in the active editor; waits until the status bar shows the cursor on that line and the editor has the focus. */
async function gotoLine(page, line) {
  await quickInput(page, `:${line}`);
  await page.keyboard.press('Enter');
  const sel = page.locator('[id="status.editor.selection"]');
  const r = await poll(page, async () => ({
    pos: ((await sel.innerText().catch(() => '')) || '').trim(),
    focus: await editorHasFocus(page),
    quick: await page.locator('.quick-input-widget').isVisible(),
  }), (v) => new RegExp(`^Ln ${line},`).test(v.pos) && v.focus && !v.quick);
  if (!r.ok) throw new Error(`go to line ${line}: status bar shows "${r.value.pos}", editor focus ${r.value.focus}, quick input open ${r.value.quick}`);
}

/**
 * Sets a breakpoint on `line` of the active editor (go to line, F9), checks the glyph appears.
 * F9 needs the extension's debugger contribution registered (VS Code's "debuggersAvailable"): wait
 * until the editor's language is the extension's NASM (contributed by the same package.json).
 */
async function setBreakpoint(page, line) {
  const mode = page.locator('[id="status.editor.mode"]');
  const m = await poll(page, async () => ((await mode.innerText().catch(() => '')) || '').trim(), (t) => t === 'NASM');
  if (!m.ok) throw new Error(`the editor's language never became NASM (status bar: "${m.value}"): the extension's contributions are not registered`);
  await gotoLine(page, line);
  await page.keyboard.press('F9');
  const glyph = page.locator('.monaco-editor .glyph-margin-widgets .codicon-debug-breakpoint, .monaco-editor .margin-view-overlays .codicon-debug-breakpoint');
  await glyph.first().waitFor({ timeout: SETTLE });
}

/** The Run and Debug side bar pane whose header title is `title`. */
function pane(page, title) {
  return page.locator('.pane').filter({ has: page.locator('.pane-header .title', { hasText: new RegExp(`^${title}$`, 'i') }) }).first();
}

/**
 * Expands a side bar pane. `pending` is an action that may already be expanding it (a command run in
 * the extension host: its effect comes a moment after the quick input closes); wait for that first,
 * since a click on the header of a pane that is expanding would collapse it again.
 */
async function expandPane(page, title, pending = false) {
  const p = pane(page, title);
  const header = p.locator('.pane-header').first();
  await header.waitFor({ timeout: STEP_TIMEOUT });
  const isOpen = async () => (await header.getAttribute('aria-expanded').catch(() => null)) === 'true';
  let open = await poll(page, isOpen, (v) => v, pending ? SETTLE : 0);
  if (!open.ok) {
    await header.click();
    open = await poll(page, isOpen, (v) => v, SETTLE);
  }
  if (!open.ok) throw new Error(`the ${title} pane does not expand`);
  return p;
}

/**
 * Waits until the debugger has stopped and the workbench has taken the stop in: the Call Stack's
 * state matches `stateRe` and its frames are rendered (a "file line:col" location), the editor shows
 * the top-frame line, and the debug toolbar offers Continue. The Call Stack shows "Paused on …"
 * before VS Code's debugState is "stopped"; F5 pressed in between is not a Continue and is lost.
 */
async function waitStopped(page, stateRe) {
  const cs = pane(page, 'Call Stack');
  await cs.waitFor({ timeout: STEP_TIMEOUT });
  const r = await poll(page, async () => ({
    text: (await cs.innerText().catch(() => '')) || '',
    top: await page.locator('.monaco-editor .debug-top-stack-frame-line').count(),
    cont: await page.locator('.debug-toolbar .action-item:not(.disabled) .codicon-debug-continue').count(),
  }), (v) => stateRe.test(v.text) && /\S\s+\d+:\d+\s*$/m.test(v.text) && v.top > 0 && v.cont > 0);
  if (!r.ok) {
    throw new Error(`the debugger never showed a complete stop matching ${stateRe} (editor top-frame line: ${r.value.top > 0}, `
      + `Continue in the debug toolbar: ${r.value.cont > 0}); call stack:\n${r.value.text}`);
  }
  return r.value.text;
}

async function paneText(page, title) {
  return (await pane(page, title).innerText().catch(() => '')) || '';
}

async function stopDebugging(page) {
  await page.keyboard.press('Escape');
  await runCommand(page, 'Debug: Stop').catch(() => {});
  await page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 15_000 }).catch(() => {});
}

/** All frames' visible text (webview content lives in nested iframes). */
async function framesText(page) {
  const out = [];
  for (const f of page.frames()) {
    const t = await f.evaluate(() => document.body ? document.body.innerText : '').catch(() => '');
    if (t) out.push({ url: f.url(), text: t });
  }
  return out;
}

// ---- main -----------------------------------------------------------------------------------------

async function main() {
  step('prepare');
  if (!fs.existsSync(CODE_SERVER)) throw new Error(`code-server not found at ${CODE_SERVER}: run test/e2e/setup.sh`);
  if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} not found: run npm run package`);
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const f of fs.readdirSync(SHOTS)) if (f.endsWith('.png') || f === 'code-server.log') fs.rmSync(path.join(SHOTS, f));

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmx-e2e-'));
  tmpDir = tmp;
  const userData = path.join(tmp, 'user-data');
  const extDir = path.join(tmp, 'extensions');
  EXT_DIR = extDir;
  const ws = path.join(tmp, 'ws');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.writeFileSync(path.join(userData, 'User/settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none',
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'workbench.tips.enabled': false,
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'update.mode': 'none',
    'workbench.enableExperiments': false,
    'chat.disableAIFeatures': true,
    'debug.openDebug': 'openOnSessionStart',
    'editor.minimap.enabled': false,
  }, null, 2));
  for (const s of ['longmode-rom', 'mini-hypervisor']) fs.cpSync(path.join(ROOT, 'samples', s), path.join(ws, s), { recursive: true });
  // Scenario B stops on CPUID VM exits (the guest asks CPUID once) and not on entry.
  const mhLaunch = path.join(ws, 'mini-hypervisor/.vscode/launch.json');
  const mh = JSON.parse(fs.readFileSync(mhLaunch, 'utf8'));
  Object.assign(mh.configurations[0], { stopOnEntry: false, stopOnVmExit: ['cpuid'] });
  fs.writeFileSync(mhLaunch, JSON.stringify(mh, null, 2));

  // code-server's environment: everything in the temporary folder; none of the variables that make
  // code-server pick another port or host (PORT, CODE_SERVER_HOST) or hand the folder to another
  // instance (VSCODE_IPC_HOOK_CLI, when run from a VS Code terminal).
  const env = { ...process.env, TMPDIR: tmp, XDG_CONFIG_HOME: tmp, XDG_DATA_HOME: tmp };
  for (const k of Object.keys(env)) if (k === 'PORT' || k.startsWith('CODE_SERVER_') || k.startsWith('VSCODE_')) delete env[k];
  const csArgs = ['--extensions-dir', extDir, '--user-data-dir', userData];
  step('install the .vsix');
  log(`install ${path.relative(ROOT, VSIX)}`);
  const inst = execFileSync(process.execPath, [CODE_SERVER, ...csArgs, '--install-extension', VSIX], { encoding: 'utf8', env, timeout: 120_000 });
  log(inst.trim().split('\n').slice(-2).join(' | '));
  check('vsix installs with code-server --install-extension', /successfully installed/i.test(inst)
    || fs.readdirSync(extDir).some((d) => d.startsWith('vmx-debug.')), inst.trim().split('\n').pop());

  step('start code-server');
  const csLogFile = path.join(tmp, 'code-server.log');
  let failed = false;
  try {
    const base = await startCodeServer([...csArgs, '--auth', 'none', '--disable-telemetry', '--disable-update-check',
      '--disable-workspace-trust', '--disable-getting-started-override', '--ignore-last-opened'], env, csLogFile, 60_000);
    log(`code-server on ${base}`);
    step('start Chromium');
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: !HEADED,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
    const ctx = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    const page = await ctx.newPage();
    currentPage = page;
    page.on('pageerror', (e) => log('page error:', String(e).slice(0, 200)));

    // ---------------- Scenario A: longmode-rom ----------------
    await scenarioA(page, base, path.join(ws, 'longmode-rom'));
    // ---------------- Scenario B: mini-hypervisor ----------------
    await scenarioB(page, base, path.join(ws, 'mini-hypervisor'));
  } catch (e) {
    failed = true;
    if (currentPage) await shot(currentPage, 'FAILURE').catch(() => {});
    throw e;
  } finally {
    if (browser) await browser.close().catch(() => {});
    browser = null;
    await stopCodeServer(codeServer);
    failed ||= results.some((r) => r.status === 'FAIL');
    if (failed) keepLog(csLogFile);
    if (process.env.E2E_KEEP !== '1') fs.rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  }
}

/** After a failure, code-server's log goes next to the screenshots (the temporary folder is removed). */
function keepLog(file) {
  try {
    fs.copyFileSync(file, path.join(SHOTS, 'code-server.log'));
    log(`code-server log: ${path.relative(ROOT, path.join(SHOTS, 'code-server.log'))}`);
  } catch { /* no log */ }
}

async function openWorkspace(page, base, folder) {
  await page.goto(`${base}/?folder=${encodeURIComponent(folder)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: STEP_TIMEOUT });
  await page.locator('.part.statusbar').waitFor({ timeout: STEP_TIMEOUT });
  // the workbench has restored its views and reached the folder: the explorer lists its files
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: STEP_TIMEOUT });
}

async function scenarioA(page, base, folder) {
  step('A: open the longmode-rom folder');
  await openWorkspace(page, base, folder);
  check('workbench loads (A)', await page.locator('.monaco-workbench').isVisible());
  step('A: open longmode.asm, set the breakpoint');
  await openFile(page, 'longmode.asm');
  const bpLine = lineOf(path.join(folder, 'longmode.asm'), /lea\s+rsi,\s*\[msg_lm\]/);
  await setBreakpoint(page, bpLine);
  await shot(page, 'A-breakpoint-set');
  step('A: F5, stop on entry');
  await page.keyboard.press('F5');
  const entry = await waitStopped(page, /paused on (entry|step)/i);
  log('entry stop:', entry.replace(/\s+/g, ' ').slice(0, 160));
  step('A: F5, run to the breakpoint');
  await page.keyboard.press('F5');
  await waitStopped(page, /paused on breakpoint/i);
  const stackLine = new RegExp(`longmode\\.asm\\s*:?\\s*${bpLine}\\b`);
  const stop = await poll(page, async () => ({
    bp: (await paneText(page, 'Call Stack')),
    activeTab: ((await page.locator('.tab.active').first().innerText().catch(() => '')) || ''),
  }), (v) => /paused on breakpoint/i.test(v.bp) && /longmode\.asm/.test(v.activeTab) && stackLine.test(v.bp), SETTLE);
  const { bp, activeTab } = stop.value;
  check('A: stops at the breakpoint in the .asm source', stop.ok,
    `call stack: ${bp.replace(/\s+/g, ' ').slice(0, 140)}; active tab ${activeTab.trim()}`);
  const regs = (t) => /Registers/.test(t) && /\brax\s*=\s*0x[0-9a-f]+/i.test(t) && /\brsp\s*=\s*0x[0-9a-f]+/i.test(t);
  const vars = await poll(page, () => paneText(page, 'Variables'), regs, SETTLE);
  check('A: Variables view shows registers', vars.ok, vars.value.replace(/\s+/g, ' ').slice(0, 200));
  await shot(page, 'A-stopped-at-breakpoint-variables');
  step('A: stop debugging');
  await stopDebugging(page);
}

async function scenarioB(page, base, folder) {
  step('B: open the mini-hypervisor folder');
  await openWorkspace(page, base, folder);
  step('B: open mini-hypervisor.asm, set the breakpoint on VMLAUNCH');
  await openFile(page, 'mini-hypervisor.asm');
  const bpLine = lineOf(path.join(folder, 'mini-hypervisor.asm'), /^\s*vmlaunch\b/);
  await setBreakpoint(page, bpLine);
  step('B: F5, run to the VMLAUNCH breakpoint');
  await page.keyboard.press('F5');
  await waitStopped(page, /paused on breakpoint/i);
  const bpRe = new RegExp(`mini-hypervisor\\.asm\\s*:?\\s*${bpLine}\\b`);
  const bp = await poll(page, () => paneText(page, 'Call Stack'), (t) => bpRe.test(t), SETTLE);
  check('B: stops at the VMLAUNCH breakpoint in mini-hypervisor.asm', bp.ok, bp.value.replace(/\s+/g, ' ').slice(0, 140));
  await shot(page, 'B-breakpoint-vmlaunch');

  // continue to the CPUID VM exit
  step('B: F5, run to the CPUID VM exit');
  await page.keyboard.press('F5');
  await waitStopped(page, /VM exit:|paused on exception/i);
  // the Call Stack's state and the exception widget (rendered after the stop) both name the exit
  const exStop = await poll(page, async () => ({
    ex: await paneText(page, 'Call Stack'),
    widget: (await page.locator('.exception-widget').first().innerText({ timeout: 1000 }).catch(() => '')) || '',
  }), (v) => /VM exit:\s*CPUID/i.test(v.ex) && /EXIT_REASON_CPUID/.test(v.widget) && /qualification/i.test(v.widget) && /guest RIP/i.test(v.widget), SETTLE);
  const { ex, widget: exWidget } = exStop.value;
  check('B: VM-exit stop shows its reason', exStop.ok,
    `call stack: ${ex.replace(/\s+/g, ' ').slice(0, 120)}; exception widget: ${exWidget.replace(/\s+/g, ' ').slice(0, 160)}`);
  await shot(page, 'B-vm-exit-cpuid');

  // VMCS tree: focus it, read the six areas, expand the exit-information and control areas
  step('B: Show VMCS');
  const shown = await runCommand(page, 'Show VMCS').then(() => true, () => false);
  const vmcs = await expandPane(page, 'VMCS', shown);
  await vmcs.locator('.monaco-list-row', { hasText: 'Guest-state area' }).first().waitFor({ timeout: STEP_TIMEOUT });
  // give the tree room: widen the side bar (drag its sash), collapse Watch and Breakpoints
  const sb = await page.locator('.part.sidebar').boundingBox();
  if (sb && sb.width < 560) {
    await page.mouse.move(sb.x + sb.width + 1, sb.y + sb.height / 2);
    await page.mouse.down();
    await page.mouse.move(sb.x + 600, sb.y + sb.height / 2, { steps: 10 });
    await page.mouse.up();
  }
  for (const t of ['Watch', 'Breakpoints']) {
    const h = pane(page, t).locator('.pane-header').first();
    if ((await h.getAttribute('aria-expanded').catch(() => null)) === 'true') await h.click();
  }
  const areas = ['Guest-state area', 'Host-state area', 'VM-execution control fields', 'VM-exit control fields',
    'VM-entry control fields', 'VM-exit information fields'];
  // the tree is a virtual list: rows appear as the pane grows; wait for all six
  const tree = await poll(page, () => vmcs.innerText().catch(() => ''), (t) => areas.every((a) => t.includes(a)), SETTLE);
  const missing = areas.filter((a) => !tree.value.includes(a));
  check('B: VMCS tree shows the six areas', missing.length === 0, missing.length ? `missing ${missing.join(', ')}` : areas.join(' / '));
  step('B: VMCS tree, expand VM-exit information fields');
  const exitInfo = vmcs.locator('.monaco-list-row', { hasText: 'VM-exit information fields' }).first();
  await exitInfo.click();
  const reasonRow = vmcs.locator('.monaco-list-row', { hasText: 'VM_EXIT_REASON' }).first();
  await reasonRow.waitFor({ timeout: SETTLE });
  const reason = await poll(page, async () => ((await reasonRow.innerText().catch(() => '')) || '').replace(/\s+/g, ' ').trim(),
    (t) => /cpuid/i.test(t) && /0x/i.test(t), SETTLE);
  const reasonText = reason.value;
  check('B: VMCS tree shows decoded fields (VM_EXIT_REASON decoded as CPUID)', reason.ok, reasonText);
  await shot(page, 'B-vmcs-tree-exit-info');
  // also show a control area decoded
  step('B: VMCS tree, expand VM-execution control fields');
  await exitInfo.click();
  await reasonRow.waitFor({ state: 'hidden', timeout: SETTLE });
  const execCtl = vmcs.locator('.monaco-list-row', { hasText: 'VM-execution control fields' }).first();
  await execCtl.click();
  const procRow = vmcs.locator('.monaco-list-row', { hasText: /CPU_BASED_VM_EXEC_CONTROL|PROC.*CONTROL|PRIMARY/i }).first();
  const proc = await poll(page, async () => ((await procRow.innerText({ timeout: 1000 }).catch(() => '')) || '').replace(/\s+/g, ' ').trim(),
    (t) => /0x[0-9a-f]+/i.test(t), SETTLE);
  const procText = proc.value;
  log('processor-based controls row:', procText);
  await shot(page, 'B-vmcs-tree-exec-controls');

  // Inspector panel: only if the extension contributes its command.
  // (the commands of the extension as installed from the .vsix, not of the work tree)
  const extDir = fs.readdirSync(EXT_DIR).find((d) => d.startsWith('vmx-debug.vmx-debug-'));
  const pkg = JSON.parse(fs.readFileSync(path.join(EXT_DIR, extDir, 'package.json'), 'utf8'));
  const inspector = (pkg.contributes.commands || []).find((c) => /inspector|panel/i.test(`${c.command} ${c.title}`));
  if (!inspector) {
    skip('B: inspector panel shows the same field values', 'package.json contributes no inspector/panel command yet');
  } else {
    step('B: open the inspector panel');
    const title = inspector.category ? `${inspector.category}: ${inspector.title}` : inspector.title;
    await runCommand(page, title);
    // the same values as the tree: VM_EXIT_REASON and CPU_BASED_VM_EXEC_CONTROL
    const want = [['VM_EXIT_REASON', reasonText], ['CPU_BASED_VM_EXEC_CONTROL', procText]]
      .map(([name, row]) => [name, (row.match(/0x[0-9a-f]+/i) || [''])[0].toLowerCase()]).filter(([, v]) => v);
    const end = Date.now() + STEP_TIMEOUT;
    let found = null;
    const norm = (t) => t.toLowerCase().replace(/0x0*([0-9a-f])/g, '0x$1');
    while (Date.now() < end && !found) {
      for (const f of await framesText(page)) {
        // each field on one line (a table row) with the tree's value as a whole token
        const lines = norm(f.text).split('\n');
        if (want.every(([name, v]) => lines.some((l) => l.includes(name.toLowerCase()) && new RegExp(`(^|[^0-9a-z_])${norm(v)}($|[^0-9a-z_])`).test(l)))) { found = f; break; }
      }
      if (!found) await page.waitForTimeout(500);
    }
    const wantText = want.map(([n, v]) => `${n} ${v}`).join(', ');
    check('B: inspector panel shows the same field values', !!found && want.length === 2,
      found ? `${wantText} found in the webview` : `no frame shows ${wantText}`);
    await shot(page, 'B-inspector-panel');
    if (found) {
      // bring the VM_EXIT_REASON row into the screenshot if the panel has a search box
      const fr = page.frames().find((fr) => fr.url() === found.url);
      const search = fr && fr.locator('input[type="search"], input[type="text"]').first();
      if (search && await search.count()) await search.fill('VM_EXIT_REASON', { timeout: 5000 }).catch(() => {});
      await page.waitForTimeout(800); // cosmetic: let the filtered table paint before the screenshot
      await shot(page, 'B-inspector-panel-search');
    }
  }
  step('B: stop debugging');
  await stopDebugging(page);
}

/** The summary: every check's result; with `error`, the step that threw and the check it kept from running. */
function summary(error, done = results) {
  const failed = done.filter((r) => r.status === 'FAIL');
  const notRun = CHECKS.filter((c) => !done.some((r) => r.name === c));
  console.log(`\n=== vmx-debug e2e${error ? ': ERROR' : ''} ===`);
  for (const r of done) console.log(`${r.status.padEnd(7)} ${r.name}`);
  for (const c of notRun) console.log(`NOT RUN ${c}`);
  for (const r of failed) console.log(`\nFAILED CHECK: ${r.name}\n  ${r.detail}`);
  if (error) {
    console.log(`\nFAILED STEP: ${currentStep}${notRun.length ? ` (working towards the check "${notRun[0]}")` : ''}`);
    console.log(`  ${String(error && error.stack || error).split('\n').join('\n  ')}`);
  }
  const rel = path.relative(ROOT, SHOTS);
  console.log(`\n${done.length - failed.length}/${CHECKS.length} passed or skipped, ${failed.length} failed${notRun.length ? `, ${notRun.length} not run` : ''}; screenshots in ${rel}/`);
}

// A hang anywhere (a wait without its own timeout, a stuck child) ends the run instead of CI's job.
// (not unref'd: should every handle close while main() still waits, Node would otherwise exit 0)
let timedOut = false;
setTimeout(async () => {
  timedOut = true; // main() fails once the browser closes under it: the verdict is this one
  const e = new Error(`the e2e run took longer than ${TOTAL_TIMEOUT} ms (E2E_TOTAL_TIMEOUT_MS)`);
  const stepAtTimeout = currentStep;
  const done = results.slice(); // main() goes on while we clean up: report the state at the timeout
  if (currentPage) await shot(currentPage, 'FAILURE').catch(() => {});
  if (browser) await browser.close().catch(() => {});
  await stopCodeServer(codeServer).catch(() => {});
  if (tmpDir) keepLog(path.join(tmpDir, 'code-server.log'));
  if (tmpDir && process.env.E2E_KEEP !== '1') fs.rmSync(tmpDir, { recursive: true, force: true });
  currentStep = stepAtTimeout;
  summary(e, done);
  process.exit(2);
}, TOTAL_TIMEOUT);

// Interrupted (Ctrl-C, CI cancelling the job): code-server runs in its own process group, end it too.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    if (codeServer && codeServer.pid) { try { process.kill(-codeServer.pid, 'SIGKILL'); } catch { /* gone */ } }
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

main().then(() => {
  if (timedOut) return;
  summary();
  // a check that never reported (a scenario returned early) fails the run as a FAIL would
  const incomplete = CHECKS.some((c) => !results.some((r) => r.name === c));
  process.exit(results.some((r) => r.status === 'FAIL') || incomplete ? 1 : 0);
}, (e) => {
  if (timedOut) return;
  summary(e);
  process.exit(2);
});
