"""The explorer's one page: form, progress, the report's figures, the single-dyad view.

The page loads Plotly from the explorer itself (``/plotly.js``) and talks only to the
explorer's ``/api`` routes; the Content-Security-Policy forbids any other host.
"""

from __future__ import annotations

import html

from lactobiome.report import DISCLAIMER
from lactobiome.trials.output import DISCLAIMER as TRIAL_DISCLAIMER

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1250px;padding:0 1rem;color:#212121}
.disclaimer{background:#fff3e0;border-left:4px solid #ef6c00;padding:.5rem 1rem}
#layout{display:grid;grid-template-columns:330px 1fr;gap:1.2rem}
fieldset{border:1px solid #ccc;margin:0 0 .6rem;padding:.3rem .6rem}
legend{font-weight:600}
.field{display:grid;grid-template-columns:1fr 7rem;gap:.3rem;align-items:center;font-size:.85rem;margin:.15rem 0}
.field input[type=number]{width:6.5rem}
.error{grid-column:1/3;color:#c62828;font-size:.8rem}
.error:empty{display:none}
#status{margin:.5rem 0;font-size:.9rem}
progress{width:100%}
.caption{color:#424242;font-size:.9rem}
#dyad-values{font-family:ui-monospace,monospace;font-size:.85rem}
nav[role=tablist] button{font-size:1rem;padding:.3rem 1rem;margin-right:.3rem;border:1px solid #999;background:#f5f5f5}
nav[role=tablist] button[aria-selected=true]{background:#1a237e;color:#fff}
#trial-designs{border-collapse:collapse;font-size:.8rem;margin:.6rem 0}
#trial-designs th,#trial-designs td{border:1px solid #ddd;padding:.25rem .4rem;vertical-align:top;text-align:left}
#trial-designs tbody tr{cursor:pointer}
#trial-designs tr.chosen{background:#e8eaf6}
#trial-designs ul{margin:0;padding-left:1rem}
#trial-layout{display:grid;grid-template-columns:330px 1fr;gap:1.2rem}
#trial-summary{font-size:.8rem;white-space:pre-wrap}
"""

_SCRIPT = r"""
const $ = (id) => document.getElementById(id);
let form = null, polling = null;

function fieldInput(f, value, prefix = '', onChange = validate) {
  const id = prefix + 'field-' + f.key;
  const wrap = document.createElement('div');
  wrap.className = 'field';
  const label = document.createElement('label');
  label.htmlFor = id; label.textContent = f.key.split('.').pop().replaceAll('_', ' ');
  label.title = f.description || f.title;
  const input = document.createElement('input');
  input.id = id; input.name = f.key; input.dataset.kind = f.kind;
  if (f.kind === 'boolean') { input.type = 'checkbox'; input.checked = !!value; }
  else { input.type = 'number'; input.step = 'any'; input.value = value === null ? '' : value;
         input.placeholder = f.nullable ? 'table default' : ''; }
  input.addEventListener('change', onChange);
  const err = document.createElement('span');
  err.className = 'error'; err.id = prefix + 'error-' + f.key; err.setAttribute('role', 'alert');
  wrap.append(label, input, err);
  return wrap;
}

async function loadForm(name) {
  const answer = await (await fetch('/api/form?scenario=' + encodeURIComponent(name))).json();
  form = answer;
  const select = $('scenario');
  if (!select.options.length) {
    for (const s of answer.scenarios) select.add(new Option(s, s, s === name, s === name));
  }
  const box = $('fields'); box.replaceChildren();
  const sections = {};
  for (const f of answer.fields) {
    const section = f.key.split('.')[0];
    if (!sections[section]) {
      const fs = document.createElement('fieldset');
      const lg = document.createElement('legend'); lg.textContent = section; fs.append(lg);
      sections[section] = fs; box.append(fs);
    }
    sections[section].append(fieldInput(f, answer.values[f.key]));
  }
  $('limits').textContent = `at most ${answer.limits['cohort.dyads']} dyads and ${answer.limits['cohort.days']} days`;
}

function values() {
  const out = {};
  for (const input of $('fields').querySelectorAll('input')) {
    out[input.name] = input.dataset.kind === 'boolean' ? input.checked : input.value;
  }
  return {scenario: $('scenario').value, fields: out};
}

function showErrors(errors) {
  for (const el of $('view-cohort').querySelectorAll('.error')) el.textContent = '';
  let general = [];
  for (const [key, message] of Object.entries(errors || {})) {
    const el = $('error-' + key);
    if (el) el.textContent = message; else general.push(message);
  }
  $('form-error').textContent = general.join('; ');
  return Object.keys(errors || {}).length === 0;
}

async function post(url) {
  const r = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
                              body: JSON.stringify(values())});
  return [r.status, await r.json()];
}

async function validate() { const [, a] = await post('/api/validate'); return showErrors(a.errors); }

async function run() {
  const [status, answer] = await post('/api/run');
  if (answer.errors) { showErrors(answer.errors); return; }
  showErrors({});
  if (status !== 202) { $('status').textContent = answer.error; return; }
  $('run').disabled = true; $('progress').value = 0; $('status').textContent = 'running…';
  polling = setInterval(poll, 400);
}

async function poll() {
  const s = await (await fetch('/api/run')).json();
  $('progress').max = s.total; $('progress').value = s.done;
  if (s.state === 'running') { $('status').textContent = `running: ${s.done} of ${s.total} dyad-days`; return; }
  clearInterval(polling); $('run').disabled = false;
  if (s.state === 'failed') { $('status').textContent = s.message; return; }
  $('status').textContent = 'done'; $('download').hidden = false;
  const answer = await (await fetch('/api/figures')).json();
  drawFigures(answer.figures);
  $('dyad-index').max = answer.dyads - 1;
  $('dyad').hidden = false;
  await loadDyad();
  document.body.dataset.runs = String(Number(document.body.dataset.runs || 0) + 1);
}

function drawFigures(figures, box = $('figures'), prefix = 'explorer-') {
  box.replaceChildren();
  for (const f of figures) {
    const section = document.createElement('section'); section.id = prefix + f.key;
    const h = document.createElement('h2'); h.textContent = f.title;
    const c = document.createElement('div'); c.className = 'caption'; c.textContent = f.caption.join(' ');
    const plot = document.createElement('div'); plot.className = 'figure'; plot.dataset.figure = f.key;
    section.append(h, c, plot); box.append(section);
    Plotly.newPlot(plot, f.figure.data, f.figure.layout, {displaylogo: false, responsive: true});
  }
}

let dyad = null;
async function loadDyad() {
  const r = await fetch('/api/dyad?index=' + encodeURIComponent($('dyad-index').value));
  dyad = await r.json();
  if (!r.ok) { $('dyad-values').textContent = dyad.error; return; }
  $('dyad-day').max = dyad.days.length;
  const d = dyad.daily, days = dyad.days;
  const traces = [
    {x: days, y: d.inflammation, name: 'inflammation', yaxis: 'y'},
    {x: days, y: d.somatic_cells_per_ml, name: 'SCC (cells/mL)', yaxis: 'y2'},
    {x: days, y: d.leucocyte_fraction, name: 'leucocyte share', yaxis: 'y3'},
  ];
  const layout = {height: 380, grid: {rows: 3, columns: 1, pattern: 'independent'}, showlegend: true,
                  yaxis2: {type: 'log'}, xaxis3: {title: {text: 'day of life'}}, margin: {t: 20},
                  shapes: []};
  traces[1].xaxis = 'x2'; traces[2].xaxis = 'x3';
  await Plotly.newPlot('dyad-series', traces, layout, {displaylogo: false, responsive: true});
  showDay();
}

function showDay() {
  if (!dyad || !dyad.days) return;
  const day = Number($('dyad-day').value), i = day - 1;
  const line = (ref) => ({type: 'line', xref: ref, yref: ref.replace('x', 'y') + ' domain', x0: day, x1: day,
                          y0: 0, y1: 1, line: {color: '#c62828', width: 1}});
  Plotly.relayout('dyad-series', {shapes: [line('x'), line('x2'), line('x3')]});
  const recorded = dyad.sample_days.filter((s) => s <= day);
  const k = Math.max(0, recorded.length - 1);
  const bars = [];
  for (const site of ['milk', 'infant_gut']) {
    for (const [genus, shares] of Object.entries(dyad.composition[site])) {
      bars.push({type: 'bar', x: [site], y: [shares[k]], name: genus, legendgroup: genus,
                 showlegend: site === 'milk', hovertemplate: genus + ': %{y:.1%}<extra></extra>'});
    }
  }
  Plotly.react('dyad-composition', bars, {barmode: 'stack', height: 380, yaxis: {tickformat: '.0%', range: [0, 1]},
               title: {text: `composition on recorded day ${dyad.sample_days[k]}`}, margin: {t: 40}},
               {displaylogo: false, responsive: true});
  const d = dyad.daily;
  $('dyad-values').textContent = `day ${day}: ${dyad.mastitis_state[i]}; milk ${d.milk_volume_ml[i].toFixed(0)} mL/day, ` +
    `SCC ${d.somatic_cells_per_ml[i].toExponential(2)}/mL, leucocytes ${(100 * d.leucocyte_fraction[i]).toFixed(1)}%, ` +
    `Na:K ${d.na_k_ratio[i].toFixed(2)}, sIgA ${d.siga_g_per_l[i].toFixed(2)} g/L, HMO ${d.hmo_g_per_l[i].toFixed(1)} g/L, ` +
    `inflammation ${d.inflammation[i].toFixed(3)} (${Object.entries(dyad.attributes).map(([k, v]) => k + ' ' + v).join(', ')})`;
}

// --- the trial view ---------------------------------------------------------------------
let trials = null, trialPolling = null;

function cell(row, text, tag = 'td') {
  const c = document.createElement(tag); c.textContent = text; row.append(c); return c;
}

function armText(arm) {
  const what = arm.interventions.length ? arm.interventions.join('; ') : 'no intervention the model acts on (placebo)';
  return `${arm.name}${arm.weight !== 1 ? ' (weight ' + arm.weight + ')' : ''}: ${what}`;
}

async function loadTrials() {
  trials = await (await fetch('/api/trials')).json();
  const body = $('trial-designs').querySelector('tbody'); body.replaceChildren();
  const select = $('trial');
  for (const d of trials.designs) {
    const row = document.createElement('tr'); row.dataset.trial = d.name;
    cell(row, d.name, 'th'); cell(row, d.description); cell(row, d.source);
    const arms = cell(row, ''); const list = document.createElement('ul');
    for (const arm of d.arms) { const li = document.createElement('li'); li.textContent = armText(arm); list.append(li); }
    arms.append(list);
    cell(row, `${d.primary.name} (${d.primary.unit}; ${d.primary.analysis.replaceAll('_', ' ')})`);
    cell(row, `${d.n_per_arm} per arm, ${d.follow_up_days} days`);
    row.addEventListener('click', () => { select.value = d.name; trialForm(d.name); });
    body.append(row);
    select.add(new Option(d.name, d.name));
  }
  $('trial-limits').textContent = `in the explorer: at most ${trials.limits.n_per_arm} women per arm, ` +
    `${trials.limits.follow_up_days} days of follow-up and ${trials.limits.dyad_days.toLocaleString('en')} dyad-days; ` +
    'a follow-up shorter than the design\'s also shortens the endpoint windows that run to its end';
  select.value = trials.designs.some((d) => d.name === 'hurtado2017') ? 'hurtado2017' : trials.designs[0].name;
  trialForm(select.value);
}

function trialForm(name) {
  const box = $('trial-fields'); box.replaceChildren();
  for (const f of trials.fields) box.append(fieldInput(f, trials.values[name][f.key], 'trial-', validateTrial));
  for (const row of $('trial-designs').querySelectorAll('tbody tr')) row.classList.toggle('chosen', row.dataset.trial === name);
  showTrialErrors({});
}

function trialValues() {
  const out = {};
  for (const input of $('trial-fields').querySelectorAll('input')) out[input.name] = input.value;
  return {trial: $('trial').value, fields: out};
}

function showTrialErrors(errors) {
  for (const el of $('view-trials').querySelectorAll('.error')) el.textContent = '';
  const general = [];
  for (const [key, message] of Object.entries(errors || {})) {
    const el = $('trial-error-' + key);
    if (el) el.textContent = message; else general.push(message);
  }
  $('trial-form-error').textContent = general.join('; ');
  return Object.keys(errors || {}).length === 0;
}

async function postTrial(url) {
  const r = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
                              body: JSON.stringify(trialValues())});
  return [r.status, await r.json()];
}

async function validateTrial() { const [, a] = await postTrial('/api/trial/validate'); return showTrialErrors(a.errors); }

async function runTrial() {
  const [status, answer] = await postTrial('/api/trial/run');
  if (answer.errors) { showTrialErrors(answer.errors); return; }
  showTrialErrors({});
  if (status !== 202) { $('trial-status').textContent = answer.error; return; }
  $('trial-run').disabled = true; $('trial-progress').value = 0; $('trial-download').hidden = true;
  $('trial-status').textContent = 'screening…';
  trialPolling = setInterval(pollTrial, 400);
}

async function pollTrial() {
  const s = await (await fetch('/api/trial/run')).json();
  $('trial-progress').max = Math.max(1, s.total); $('trial-progress').value = s.done;
  if (s.state === 'running') {
    $('trial-status').textContent = s.phase === 'screening' ? `screening: ${s.done} of ${s.total} women enrolled`
      : `simulating: ${s.done.toLocaleString('en')} of ${s.total.toLocaleString('en')} dyad-days (every woman under every arm)`;
    return;
  }
  clearInterval(trialPolling); $('trial-run').disabled = false;
  if (s.state === 'failed') { $('trial-status').textContent = s.message; return; }
  const answer = await (await fetch('/api/trial/figures')).json();
  $('trial-status').textContent = `done: ${answer.trial}`;
  $('trial-summary').textContent = answer.summary;
  $('trial-download').hidden = false;
  drawFigures(answer.figures, $('trial-figures'), 'trial-view-');
  document.body.dataset.trialRuns = String(Number(document.body.dataset.trialRuns || 0) + 1);
}

function showView(name) {
  for (const v of ['cohort', 'trials']) {
    $('view-' + v).hidden = v !== name;
    $('tab-' + v).setAttribute('aria-selected', String(v === name));
  }
  if (name === 'trials' && !trials) loadTrials();
}

window.addEventListener('DOMContentLoaded', async () => {
  $('tab-cohort').addEventListener('click', () => showView('cohort'));
  $('tab-trials').addEventListener('click', () => showView('trials'));
  $('trial').addEventListener('change', () => trialForm($('trial').value));
  $('trial-run').addEventListener('click', runTrial);
  $('scenario').addEventListener('change', async () => { await loadForm($('scenario').value); showErrors({}); });
  $('run').addEventListener('click', run);
  $('dyad-index').addEventListener('change', loadDyad);
  $('dyad-day').addEventListener('input', showDay);
  await loadForm('default');
  document.body.dataset.ready = '1';
});
"""


def page() -> str:
    """The explorer's HTML page."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:">
<title>lactobiome explorer</title><style>{_STYLE}</style>
<script src="/plotly.js"></script></head><body>
<h1>lactobiome explorer</h1>
<p class="disclaimer" id="disclaimer"><strong>Not medical advice.</strong> {html.escape(DISCLAIMER)}</p>
<nav role="tablist"><button id="tab-cohort" role="tab" type="button" aria-selected="true">Cohort</button><button
 id="tab-trials" role="tab" type="button" aria-selected="false">Trials</button></nav>
<div id="view-cohort">
<div id="layout"><div>
<label for="scenario">built-in scenario</label> <select id="scenario"></select>
<p class="caption" id="limits"></p>
<div id="fields"></div>
<p class="error" id="form-error" role="alert"></p>
<button id="run" type="button">Run cohort</button>
<progress id="progress" value="0" max="1"></progress>
<p id="status"></p>
<p><a id="download" href="/api/result.nc" download hidden>Download the result (NetCDF)</a></p>
</div><div>
<section id="dyad" hidden><h2>One dyad, day by day</h2>
<label>dyad <input id="dyad-index" type="number" min="0" value="0"></label>
<label>day <input id="dyad-day" type="range" min="1" value="1"></label>
<p id="dyad-values"></p>
<div style="display:grid;grid-template-columns:2fr 1fr"><div id="dyad-series"></div><div id="dyad-composition"></div></div>
</section>
<div id="figures"></div>
</div></div>
</div>
<div id="view-trials" hidden>
<h2>In-silico trials</h2>
<p class="disclaimer" id="trial-disclaimer"><strong>Not evidence for care.</strong> {html.escape(TRIAL_DISCLAIMER.strip("()"))}</p>
<table id="trial-designs"><thead><tr><th>design</th><th>description</th><th>design source</th><th>arms</th>
<th>primary endpoint</th><th>as published</th></tr></thead><tbody></tbody></table>
<div id="trial-layout"><div>
<label for="trial">built-in design</label> <select id="trial"></select>
<p class="caption" id="trial-limits"></p>
<div id="trial-fields"></div>
<p class="error" id="trial-form-error" role="alert"></p>
<button id="trial-run" type="button">Run trial</button>
<progress id="trial-progress" value="0" max="1"></progress>
<p id="trial-status"></p>
<p><a id="trial-download" href="/api/trial/outputs.zip" download hidden>Download the outputs (arms.tsv, effects.tsv, paired.tsv, women.tsv, trial.yaml; zip)</a></p>
<pre id="trial-summary"></pre>
</div><div id="trial-figures"></div></div>
</div>
<script>{_SCRIPT}</script>
</body></html>"""
