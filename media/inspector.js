// VMCS inspector webview. Renders what the extension sends (src/extension/inspector/protocol.ts);
// filtering, diffing and decoding happen in the extension. No inline handlers, no innerHTML with data.
(function () {
  'use strict';
  const vscode = acquireVsCodeApi();
  const $ = (id) => document.getElementById(id);
  const AREA_SHORT = {};
  let filter = {};
  let state = null;
  let debounce = 0;

  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    if (props) for (const [k, v] of Object.entries(props)) {
      if (k === 'class') e.className = v;
      else if (k === 'title') e.title = v;
      else if (k === 'data') for (const [dk, dv] of Object.entries(v)) e.dataset[dk] = dv;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
    return e;
  }

  function sendFilter() {
    filter = {
      search: $('search').value, area: $('area').value,
      onlyChanged: $('onlyChanged').checked, onlyNonZero: $('onlyNonZero').checked,
    };
    vscode.setState({ filter });
    vscode.postMessage({ type: 'filter', filter });
  }

  function applyFilterToControls(f) {
    $('search').value = f.search || '';
    $('onlyChanged').checked = !!f.onlyChanged;
    $('onlyNonZero').checked = !!f.onlyNonZero;
    if (f.area !== undefined) $('area').value = f.area || '';
  }

  function renderRows(rows) {
    const body = $('fields').tBodies[0];
    body.replaceChildren();
    for (const r of rows) {
      const tr = el('tr', { class: (r.changed ? 'changed ' : '') + (r.nonZero ? '' : 'zero'), title: `${r.name} (${r.width === 'natural' ? 'natural width' : r.width + '-bit'}${r.readOnly ? ', read-only' : ''}${r.pointer ? ', pointer' : ''})\n${r.description}${r.changed ? `\nwas ${r.previous} at the previous stop` : ''}` });
      tr.append(
        el('td', { class: 'name' }, r.name),
        el('td', { class: 'area' }, AREA_SHORT[r.area] || r.area),
        el('td', { class: 'mono' }, r.encoding),
        el('td', { class: 'mono value', data: { copy: r.value }, title: 'Click to copy' }, r.value, r.changed ? el('span', { class: 'was' }, ` was ${r.previous}`) : null),
        el('td', { class: 'decoded' }, r.decoded),
      );
      body.append(tr);
    }
    const total = state ? state.rows.length : 0;
    $('count').textContent = `${rows.length} of ${total} fields`;
  }

  function renderExit(s) {
    const box = $('exit');
    box.replaceChildren();
    const x = s.lastExit;
    if (!x) { box.append(el('p', { class: 'muted' }, 'No VM exit recorded in this VMCS.')); return; }
    box.append(el('h2', null, `Last VM exit: ${x.name}${x.entryFailure ? ' (VM-entry failure)' : ''}`));
    if (x.stopText) box.append(el('p', null, x.stopText));
    const dl = el('dl');
    const add = (k, v) => dl.append(el('dt', null, k), el('dd', { class: 'mono' }, v));
    add('exit reason', x.raw);
    add('qualification', x.qualification);
    for (const f of x.qualificationFields) add(`  ${f.name}`, f.text);
    add('guest RIP', x.guestRip);
    add('instruction length', x.instructionLength);
    box.append(dl);
  }

  function renderControls(s) {
    $('allowedNote').textContent = s.allowedKnown ? '' :
      'The adapter does not send the capability MSRs\' allowed settings yet: allowed-0 / allowed-1 are shown as unknown.';
    const box = $('controls');
    box.replaceChildren();
    for (const c of s.controls) {
      const table = el('table', { class: 'ctl' });
      table.append(el('caption', null, `${c.title} (${c.field}) = `, el('span', { class: 'mono' }, c.value),
        `  allowed-0 (must be 1): `, el('span', { class: 'mono' }, c.allowed0 ?? 'unknown'),
        `  allowed-1 (may be 1): `, el('span', { class: 'mono' }, c.allowed1 ?? 'unknown')));
      table.append(el('tr', null, el('th', null, 'bit'), el('th', null, 'control'), el('th', null, 'current'), el('th', null, 'allowed')));
      for (const b of c.bits) {
        const allowed = { free: '0 or 1', fixed0: 'must be 0', fixed1: 'must be 1', unknown: 'unknown' }[b.allowed];
        table.append(el('tr', { class: (b.set ? 'set ' : '') + (b.violates ? 'violates' : '') },
          el('td', { class: 'mono' }, String(b.bit)), el('td', null, b.name), el('td', { class: 'mono' }, b.set ? '1' : '0'),
          el('td', null, allowed + (b.violates ? ' ✗' : ''))));
      }
      box.append(table);
    }
  }

  function renderSnapshots(s) {
    for (const id of ['diffA', 'diffB']) {
      const sel = $(id);
      const old = sel.value;
      sel.replaceChildren();
      for (const p of s.snapshots) sel.append(el('option', { value: String(p.id) }, p.label));
      if (old && s.snapshots.some((p) => String(p.id) === old)) sel.value = old;
      else if (s.snapshots.length) sel.value = String(s.snapshots[id === 'diffA' ? Math.max(0, s.snapshots.length - 2) : s.snapshots.length - 1].id);
    }
  }

  function renderDiff(m) {
    const box = $('diff');
    box.replaceChildren();
    if (!m.diff) { box.append(el('p', { class: 'muted' }, m.error || 'Nothing to diff')); return; }
    const d = m.diff;
    if (d.differentVmcs) box.append(el('p', { class: 'warn' }, `The two stops have different current VMCS regions (${d.a.pointer}, ${d.b.pointer}).`));
    if (!d.rows.length) { box.append(el('p', null, 'No field differs.')); return; }
    const t = el('table', { class: 'diff' });
    t.append(el('tr', null, el('th', null, 'Field'), el('th', null, d.a.label), el('th', null, d.b.label)));
    for (const r of d.rows) {
      t.append(el('tr', { title: r.area }, el('td', { class: 'name' }, r.name),
        el('td', { class: 'mono old' }, r.a, r.decodedA ? el('div', { class: 'decoded' }, r.decodedA) : null),
        el('td', { class: 'mono new' }, r.b, r.decodedB ? el('div', { class: 'decoded' }, r.decodedB) : null)));
    }
    box.append(t);
  }

  function renderState(m) {
    state = m.state;
    const s = state;
    const area = $('area');
    if (area.options.length === 1) {
      for (const a of s.areas) { AREA_SHORT[a.id] = a.title.replace(/ area$/i, ''); area.append(el('option', { value: a.id }, a.title)); }
    }
    applyFilterToControls(m.filter || {});
    const status = { 'no-session': 'No vmx debug session', running: 'Running… (the VMCS is read when the guest stops)', stopped: 'Stopped', unavailable: 'VMCS unavailable' }[s.status];
    const bits = [status, s.message, s.mode, s.pointer ? `VMCS ${s.pointer}` : '', s.launchState, s.world !== s.mode ? s.world : ''].filter(Boolean);
    if (s.viewing) bits.unshift(`Recorded snapshot — ${s.viewing.label}`);
    $('status').textContent = bits.join(' · ');
    document.body.classList.toggle('running', s.status === 'running');
    document.body.classList.toggle('snapshot', !!s.viewing);
    $('live').hidden = !s.viewing;
    renderExit(s);
    renderControls(s);
    renderSnapshots(s);
    renderRows(m.rows);
  }

  window.addEventListener('message', (ev) => {
    const m = ev.data;
    if (!m || typeof m !== 'object') return;
    if (m.type === 'state') renderState(m);
    else if (m.type === 'rows') renderRows(m.rows);
    else if (m.type === 'diff') renderDiff(m);
  });

  $('search').addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(sendFilter, 150); });
  for (const id of ['area', 'onlyChanged', 'onlyNonZero']) $(id).addEventListener('change', sendFilter);
  $('refresh').addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));
  $('live').addEventListener('click', () => vscode.postMessage({ type: 'live' }));
  $('diffGo').addEventListener('click', () => vscode.postMessage({ type: 'diff', a: Number($('diffA').value), b: Number($('diffB').value) }));
  $('viewA').addEventListener('click', () => vscode.postMessage({ type: 'view', snapshot: Number($('diffA').value) }));
  $('fields').addEventListener('click', (ev) => {
    const td = ev.target instanceof Element ? ev.target.closest('td[data-copy]') : null;
    if (td) vscode.postMessage({ type: 'copy', text: td.dataset.copy });
  });

  const saved = vscode.getState();
  if (saved && saved.filter) filter = saved.filter;
  vscode.postMessage({ type: 'ready' });
})();
