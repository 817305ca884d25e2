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
// is reported as SKIP and does not fail the run).
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
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

const require = createRequire(path.join(PREFIX, 'package.json'));
const { chromium } = require('playwright-core');

const t0 = Date.now();
const log = (...a) => console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s]`, ...a);
const results = [];
function check(name, ok, detail = '') {
  results.push({ name, status: ok ? 'PASS' : 'FAIL', detail });
  log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ' — ' + detail : ''}`);
  return ok;
}
function skip(name, why) {
  results.push({ name, status: 'SKIP', detail: why });
  log(`SKIP ${name} — ${why}`);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

async function waitHttp(url, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { const r = await fetch(url); if (r.status < 500) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`code-server did not answer at ${url} within ${ms} ms`);
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
  await page.waitForTimeout(400);
  return input;
}

async function runCommand(page, title) {
  await quickInput(page, `>${title}`);
  const row = page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
  await row.click();
  await page.waitForTimeout(300);
}

async function openFile(page, name) {
  await quickInput(page, name);
  const row = page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: name }).first();
  await row.waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
  await page.keyboard.press('Enter');
  await page.locator('.tab.active', { hasText: name }).waitFor({ timeout: STEP_TIMEOUT });
  await page.locator('.monaco-editor .view-lines').first().waitFor({ timeout: STEP_TIMEOUT });
}

async function gotoLine(page, line) {
  await quickInput(page, `:${line}`);
  await page.keyboard.press('Enter');
  await page.waitForTimeout(300);
}

/** Sets a breakpoint on `line` of the active editor (go to line, F9), checks the glyph appears. */
async function setBreakpoint(page, line) {
  await gotoLine(page, line);
  await page.keyboard.press('F9');
  const glyph = page.locator('.monaco-editor .glyph-margin-widgets .codicon-debug-breakpoint, .monaco-editor .margin-view-overlays .codicon-debug-breakpoint');
  await glyph.first().waitFor({ timeout: 10_000 });
}

/** The Run and Debug side bar pane whose header title is `title`. */
function pane(page, title) {
  return page.locator('.pane').filter({ has: page.locator('.pane-header .title', { hasText: new RegExp(`^${title}$`, 'i') }) }).first();
}

async function expandPane(page, title) {
  const p = pane(page, title);
  const header = p.locator('.pane-header').first();
  if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
  return p;
}

async function waitPaused(page, re) {
  const cs = pane(page, 'Call Stack');
  await cs.waitFor({ timeout: STEP_TIMEOUT });
  const end = Date.now() + STEP_TIMEOUT;
  let text = '';
  while (Date.now() < end) {
    text = (await cs.innerText().catch(() => '')) || '';
    if (re.test(text)) return text;
    await page.waitForTimeout(300);
  }
  throw new Error(`call stack never matched ${re}; last text:\n${text}`);
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
  if (!fs.existsSync(CODE_SERVER)) throw new Error(`code-server not found at ${CODE_SERVER}: run test/e2e/setup.sh`);
  if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} not found: run npm run package`);
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const f of fs.readdirSync(SHOTS)) if (f.endsWith('.png')) fs.rmSync(path.join(SHOTS, f));

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmx-e2e-'));
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

  const csArgs = ['--extensions-dir', extDir, '--user-data-dir', userData];
  log(`install ${path.relative(ROOT, VSIX)}`);
  const inst = execFileSync(process.execPath, [CODE_SERVER, ...csArgs, '--install-extension', VSIX], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp, XDG_CONFIG_HOME: tmp, XDG_DATA_HOME: tmp } });
  log(inst.trim().split('\n').slice(-2).join(' | '));
  check('vsix installs with code-server --install-extension', /successfully installed/i.test(inst)
    || fs.readdirSync(extDir).some((d) => d.startsWith('vmx-debug.')), inst.trim().split('\n').pop());

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  log(`code-server on ${base}`);
  const csLog = fs.openSync(path.join(tmp, 'code-server.log'), 'w');
  const cs = spawn(process.execPath, [CODE_SERVER, ...csArgs, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none',
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
    '--ignore-last-opened'], { stdio: ['ignore', csLog, csLog], env: { ...process.env, TMPDIR: tmp, XDG_CONFIG_HOME: tmp, XDG_DATA_HOME: tmp }, detached: false });
  let browser;
  try {
    await waitHttp(`${base}/healthz`, 60_000);
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
    if (currentPage) await shot(currentPage, 'FAILURE').catch(() => {});
    throw e;
  } finally {
    if (browser) await browser.close().catch(() => {});
    cs.kill('SIGTERM');
    if (process.env.E2E_KEEP !== '1') fs.rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  }
}

async function openWorkspace(page, base, folder) {
  await page.goto(`${base}/?folder=${encodeURIComponent(folder)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: STEP_TIMEOUT });
  await page.locator('.part.statusbar').waitFor({ timeout: STEP_TIMEOUT });
  await page.waitForTimeout(2000); // let the workbench restore and the explorer fill
}

async function scenarioA(page, base, folder) {
  log('scenario A: longmode-rom');
  await openWorkspace(page, base, folder);
  check('workbench loads (A)', await page.locator('.monaco-workbench').isVisible());
  await openFile(page, 'longmode.asm');
  const bpLine = lineOf(path.join(folder, 'longmode.asm'), /lea\s+rsi,\s*\[msg_lm\]/);
  await setBreakpoint(page, bpLine);
  await shot(page, 'A-breakpoint-set');
  await page.keyboard.press('F5');
  const entry = await waitPaused(page, /paused on (entry|step)/i);
  log('entry stop:', entry.replace(/\s+/g, ' ').slice(0, 160));
  await page.keyboard.press('F5');
  const bp = await waitPaused(page, /paused on breakpoint/i);
  const top = page.locator('.monaco-editor .debug-top-stack-frame-line');
  await top.first().waitFor({ timeout: STEP_TIMEOUT });
  const activeTab = await page.locator('.tab.active').first().innerText();
  const stackLine = new RegExp(`longmode\\.asm\\s*:?\\s*${bpLine}\\b`);
  check('A: stops at the breakpoint in the .asm source',
    /paused on breakpoint/i.test(bp) && /longmode\.asm/.test(activeTab) && stackLine.test(bp),
    `call stack: ${bp.replace(/\s+/g, ' ').slice(0, 140)}; active tab ${activeTab.trim()}`);
  let vars = '';
  for (let end = Date.now() + 15_000; Date.now() < end; await page.waitForTimeout(300)) {
    vars = await paneText(page, 'Variables');
    if (/Registers/.test(vars) && /\brax\s*=\s*0x[0-9a-f]+/i.test(vars) && /\brsp\s*=\s*0x[0-9a-f]+/i.test(vars)) break;
  }
  check('A: Variables view shows registers', /Registers/.test(vars) && /\brax\s*=\s*0x[0-9a-f]+/i.test(vars) && /\brsp\s*=\s*0x[0-9a-f]+/i.test(vars),
    vars.replace(/\s+/g, ' ').slice(0, 200));
  await shot(page, 'A-stopped-at-breakpoint-variables');
  await stopDebugging(page);
}

async function scenarioB(page, base, folder) {
  log('scenario B: mini-hypervisor');
  await openWorkspace(page, base, folder);
  await openFile(page, 'mini-hypervisor.asm');
  const bpLine = lineOf(path.join(folder, 'mini-hypervisor.asm'), /^\s*vmlaunch\b/);
  await setBreakpoint(page, bpLine);
  await page.keyboard.press('F5');
  const bp = await waitPaused(page, /paused on breakpoint/i);
  check('B: stops at the VMLAUNCH breakpoint in mini-hypervisor.asm',
    new RegExp(`mini-hypervisor\\.asm\\s*:?\\s*${bpLine}\\b`).test(bp), bp.replace(/\s+/g, ' ').slice(0, 140));
  await shot(page, 'B-breakpoint-vmlaunch');

  // continue to the CPUID VM exit
  await page.keyboard.press('F5');
  const ex = await waitPaused(page, /VM exit:|paused on exception/i);
  await page.waitForTimeout(1500);
  const exWidget = (await page.locator('.exception-widget').first().innerText({ timeout: 5000 }).catch(() => '')) || '';
  check('B: VM-exit stop shows its reason',
    /cpuid/i.test(exWidget + ' ' + ex) && /vm exit/i.test(exWidget + ' ' + ex),
    `call stack: ${ex.replace(/\s+/g, ' ').slice(0, 120)}; exception widget: ${exWidget.replace(/\s+/g, ' ').slice(0, 160)}`);
  await shot(page, 'B-vm-exit-cpuid');

  // VMCS tree: focus it, read the six areas, expand the exit-information and control areas
  await runCommand(page, 'Show VMCS').catch(() => {});
  const vmcs = await expandPane(page, 'VMCS');
  await vmcs.locator('.monaco-list-row', { hasText: 'Guest-state area' }).first().waitFor({ timeout: STEP_TIMEOUT });
  // give the tree room: widen the side bar (drag its sash), collapse Watch and Breakpoints
  const sb = await page.locator('.part.sidebar').boundingBox();
  if (sb && sb.width < 560) {
    await page.mouse.move(sb.x + sb.width + 1, sb.y + sb.height / 2);
    await page.mouse.down();
    await page.mouse.move(sb.x + 600, sb.y + sb.height / 2, { steps: 10 });
    await page.mouse.up();
    await page.waitForTimeout(300);
  }
  for (const t of ['Watch', 'Breakpoints']) {
    const h = pane(page, t).locator('.pane-header').first();
    if ((await h.getAttribute('aria-expanded').catch(() => null)) === 'true') await h.click();
  }
  const areas = ['Guest-state area', 'Host-state area', 'VM-execution control fields', 'VM-exit control fields',
    'VM-entry control fields', 'VM-exit information fields'];
  let treeText = await vmcs.innerText();
  const missing = areas.filter((a) => !treeText.includes(a));
  check('B: VMCS tree shows the six areas', missing.length === 0, missing.length ? `missing ${missing.join(', ')}` : areas.join(' / '));
  const exitInfo = vmcs.locator('.monaco-list-row', { hasText: 'VM-exit information fields' }).first();
  await exitInfo.click();
  await page.waitForTimeout(800);
  const reasonRow = vmcs.locator('.monaco-list-row', { hasText: 'VM_EXIT_REASON' }).first();
  await reasonRow.waitFor({ timeout: 10_000 });
  const reasonText = (await reasonRow.innerText()).replace(/\s+/g, ' ').trim();
  treeText = await vmcs.innerText();
  check('B: VMCS tree shows decoded fields (VM_EXIT_REASON decoded as CPUID)', /cpuid/i.test(reasonText) && /0x/i.test(reasonText), reasonText);
  await shot(page, 'B-vmcs-tree-exit-info');
  // also show a control area decoded
  await exitInfo.click();
  const execCtl = vmcs.locator('.monaco-list-row', { hasText: 'VM-execution control fields' }).first();
  await execCtl.click();
  await page.waitForTimeout(800);
  const procRow = vmcs.locator('.monaco-list-row', { hasText: /CPU_BASED_VM_EXEC_CONTROL|PROC.*CONTROL|PRIMARY/i }).first();
  const procText = ((await procRow.innerText({ timeout: 5000 }).catch(() => '')) || '').replace(/\s+/g, ' ').trim();
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
      await page.waitForTimeout(800);
      await shot(page, 'B-inspector-panel-search');
    }
  }
  await stopDebugging(page);
}

main().then(() => {
  const failed = results.filter((r) => r.status === 'FAIL');
  console.log('\n=== vmx-debug e2e ===');
  for (const r of results) console.log(`${r.status.padEnd(4)} ${r.name}`);
  console.log(`${results.length - failed.length}/${results.length} passed or skipped, ${failed.length} failed; screenshots in ${path.relative(ROOT, SHOTS)}/`);
  process.exit(failed.length ? 1 : 0);
}, async (e) => {
  console.error('\n=== vmx-debug e2e: ERROR ===\n' + (e && e.stack || e));
  for (const r of results) console.log(`${r.status.padEnd(4)} ${r.name}`);
  process.exit(2);
});
