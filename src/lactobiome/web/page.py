"""The explorer's one page: form, progress, the report's figures, the single-dyad view.

The page loads Plotly from the explorer itself (``/plotly.js``) and talks only to the
explorer's ``/api`` routes; the Content-Security-Policy forbids any other host.
"""

from __future__ import annotations

import html

from lactobiome.report import DISCLAIMER

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
"""

_SCRIPT = r"""
const $ = (id) => document.getElementById(id);
let form = null, polling = null;

function fieldInput(f, value) {
  const id = 'field-' + f.key;
  const wrap = document.createElement('div');
  wrap.className = 'field';
  const label = document.createElement('label');
  label.htmlFor = id; label.textContent = f.key.split('.')[1].replaceAll('_', ' ');
  label.title = f.description || f.title;
  const input = document.createElement('input');
  input.id = id; input.name = f.key; input.dataset.kind = f.kind;
  if (f.kind === 'boolean') { input.type = 'checkbox'; input.checked = !!value; }
  else { input.type = 'number'; input.step = 'any'; input.value = value === null ? '' : value;
         input.placeholder = f.nullable ? 'table default' : ''; }
  input.addEventListener('change', validate);
  const err = document.createElement('span');
  err.className = 'error'; err.id = 'error-' + f.key; err.setAttribute('role', 'alert');
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
  for (const el of document.querySelectorAll('.error')) el.textContent = '';
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

function drawFigures(figures) {
  const box = $('figures'); box.replaceChildren();
  for (const f of figures) {
    const section = document.createElement('section'); section.id = 'explorer-' + f.key;
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

window.addEventListener('DOMContentLoaded', async () => {
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
<script>{_SCRIPT}</script>
</body></html>"""
