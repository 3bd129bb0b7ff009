/**
 * `GET /`: a small self-refreshing status page, no framework. The user pastes a token; it is sent as a bearer
 * header to `jobs` (relative, so it works under a stage path) and kept in sessionStorage (this tab only) only once
 * the API has accepted it, so a token for another audience (a PACS write token) is never stored; a later 401
 * (expired, revoked) removes it. A strict CSP allows only this page's own inline script and style (by hash) and
 * same-origin fetches. Jobs are paged 100 at a time ("Show older jobs"); clicking one drills down to its clips
 * (page-drilldown.ts); times are shown local and relative, with the ISO time as a tooltip.
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DRILLDOWN_FUNCTIONS, DRILLDOWN_STYLE } from './page-drilldown.js';

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#222}
h1{font-size:1.3rem}
form{margin-bottom:1rem}
input{width:28rem;font:inherit;padding:.3rem}
table{border-collapse:collapse;min-width:48rem}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd}
.bar{width:14rem;height:.9rem;background:#eee;border-radius:.45rem;overflow:hidden}
.fill{height:100%;background:#2b7de9}
.status{font-weight:600;padding:.1rem .5rem;border-radius:.3rem;color:#fff}
.s-submitted,.s-created{background:#7a7a7a}
.s-ongoing{background:#2b7de9}
.s-completed{background:#1e8e3e}
.s-failed,.s-error,.s-lost,.s-not-found{background:#c5221f}
.s-stopped,.s-terminated{background:#e37400}
.stale{color:#e37400}
#message{color:#c5221f}
${DRILLDOWN_STYLE}`;

const SCRIPT = `
(function () {
  var form = document.getElementById('auth'), input = document.getElementById('token');
  var rows = document.getElementById('rows'), message = document.getElementById('message'), updated = document.getElementById('updated');
  var refreshSecs = Number(document.body.dataset.refresh) || 10, timer = null;
${DRILLDOWN_FUNCTIONS}  function cell(tr, content) { var td = document.createElement('td'); if (typeof content === 'string') td.textContent = content; else td.appendChild(content); tr.appendChild(td); return td; }
  function render(jobs) {
    rows.textContent = '';
    jobs.forEach(function (job) {
      var tr = document.createElement('tr'); tr.dataset.job = job.job_id; tr.dataset.status = job.status; if (job.job_id === openJob) tr.className = 'open';
      cell(tr, job.job_id);
      var badge = document.createElement('span'); badge.className = 'status s-' + job.status.replace(/\\s+/g, '-'); badge.textContent = job.status; cell(tr, badge);
      var bar = document.createElement('div'); bar.className = 'bar'; var fill = document.createElement('div'); fill.className = 'fill';
      var pct = job.progress ? job.progress.percent : (job.status === 'completed' ? 100 : 0); fill.style.width = pct + '%'; bar.appendChild(fill);
      bar.setAttribute('role', 'progressbar'); bar.setAttribute('aria-valuenow', String(pct)); cell(tr, bar);
      cell(tr, job.progress ? job.progress.done + ' / ' + job.progress.total : (job.items === null ? '–' : '0 / ' + job.items));
      cell(tr, String(job.failed_count));
      timeCell(tr, job.submitted_at);
      var stale = cell(tr, job.stale_since ? 'stale since ' + when(job.stale_since) : ''); stale.className = 'stale';
      rows.appendChild(tr);
    });
  }
  function stop() { if (timer) clearInterval(timer); timer = null; }
  function start() { stop(); timer = setInterval(function () { load(); }, refreshSecs * 1000); }
  function load(candidate) {
    var token = candidate || sessionStorage.getItem('radiomics-token');
    if (!token) return;
    jobPages(token)
      .then(function (r) {
        if (r.status === 401) { sessionStorage.removeItem('radiomics-token'); stop(); }
        if (!r.ok) { message.textContent = r.body.message || 'request failed'; return; }
        if (candidate) { sessionStorage.setItem('radiomics-token', candidate); start(); }
        message.textContent = ''; render(r.body.jobs); updated.textContent = 'updated ' + new Date().toLocaleTimeString();
      })
      .catch(function () { message.textContent = 'the status API is unreachable'; });
  }
  form.addEventListener('submit', function (e) {
    e.preventDefault(); var candidate = input.value.trim(); input.value = ''; stop(); load(candidate);
  });
  if (sessionStorage.getItem('radiomics-token')) { load(); start(); }
})();
`;

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
const CSP = `default-src 'none'; script-src ${hash(SCRIPT)}; style-src ${hash(STYLE)}; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

export function statusPage(refreshSecs: number): APIGatewayProxyStructuredResultV2 {
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Radiomics jobs</title><style>${STYLE}</style></head>
<body data-refresh="${Math.max(1, Math.floor(refreshSecs))}">
<h1>Radiomics jobs</h1>
<form id="auth"><input id="token" type="password" autocomplete="off" placeholder="Paste your access token"> <button type="submit">Show jobs</button></form>
<p id="how">No token? It is a JWT for your tenant from the identity provider set as <code>AUTH_ISSUER</code> (audience <code>AUTH_AUDIENCE</code>, tenant in the <code>AUTH_TENANT_CLAIM</code> claim): ask whoever runs that provider. Locally, <code>npm start</code> writes one to <code>.local/secrets/status-token</code>. Click a job to see its clips.</p>
<p id="message" role="alert"></p>
<table><thead><tr><th>Job</th><th>Status</th><th>Progress</th><th>Items</th><th>Failed</th><th>Submitted</th><th></th></tr></thead><tbody id="rows"></tbody></table>
<button id="more" type="button" hidden>Show older jobs</button>
<p id="updated"></p>
<section id="detail" hidden><h2 id="detail-title"></h2><p id="detail-facts"></p>
<table><thead><tr><th>Clip (source, else video id)</th><th>Stage</th><th>Reason</th><th>Results</th><th></th></tr></thead><tbody id="clips"></tbody></table></section>
<script>${SCRIPT}</script>
</body></html>`;
  return {
    statusCode: 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    },
    body,
  };
}
