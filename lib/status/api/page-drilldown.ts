/**
 * The status page's drill-down, human times and paging, as browser code injected into page.ts's script (same
 * scope: it uses `rows`, `message`, `cell` and `load` from there, and page.ts calls `when`, `jobPages`). Click a
 * job: its clips with stage, failure reason and links (json, zip, error: TempURLs); "report" shows a clip's
 * decisions and one plot per texture feature from `videos/{id}/analysis`. A clip is named by its `source` from the
 * `videos/{id}` answer fetched for its stage (the upload's key or SOPInstanceUID, opened only for its own tenant),
 * else by its video id. Everything is built with DOM calls and textContent (no innerHTML): names are the
 * hospital's, and the strict CSP holds.
 */

export const DRILLDOWN_STYLE = `
#how{color:#555;font-size:.9rem;margin:.2rem 0 1rem}
#rows tr{cursor:pointer}#rows tr:hover{background:#f4f8ff}#rows tr.open{background:#e8f0fe}
#more{margin:.6rem 0}
#detail{margin-top:1.5rem;border-top:2px solid #2b7de9;padding-top:.8rem}
#detail h2{font-size:1.1rem;margin:0 0 .3rem}
#clips a{margin-right:.5rem}
.clip-report td{background:#fafafa}
.decisions{margin:.2rem 0 .5rem}.unvalidated{color:#e37400;font-weight:600}
.plots{display:flex;flex-wrap:wrap;gap:4px}
.spark{background:#fff;border:1px solid #eee}.spark polyline{fill:none;stroke:#2b7de9;stroke-width:1.2}.spark circle{fill:#2b7de9}
.spark text{font:9px system-ui,sans-serif;fill:#444}.spark .range{text-anchor:end;fill:#888}
`;

export const DRILLDOWN_FUNCTIONS = `
  var pages = 1, openJob = null, NS = 'http://www.w3.org/2000/svg';
  var more = document.getElementById('more'), detail = document.getElementById('detail');
  var detailTitle = document.getElementById('detail-title'), detailFacts = document.getElementById('detail-facts'), clips = document.getElementById('clips');
  function when(iso) {
    if (!iso) return '–';
    var d = new Date(iso), secs = Math.round((Date.now() - d.getTime()) / 1000);
    function span(n) { return n < 90 ? n + ' s' : n < 5400 ? Math.round(n / 60) + ' min' : n < 129600 ? Math.round(n / 3600) + ' h' : Math.round(n / 86400) + ' days'; }
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) + ' (' + (secs >= 0 ? span(secs) + ' ago' : 'in ' + span(-secs)) + ')';
  }
  function timeCell(tr, iso) { var td = cell(tr, when(iso)); if (iso) td.title = iso; return td; }
  function api(path, token) {
    return fetch(path, { headers: { authorization: 'Bearer ' + token }, cache: 'no-store' })
      .then(function (res) { return res.json().then(function (body) { return { ok: res.ok, status: res.status, body: body }; }); });
  }
  function jobPages(token) {
    var jobs = [];
    function page(cursor, left) {
      return api('jobs?limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''), token).then(function (r) {
        if (!r.ok) return r;
        jobs = jobs.concat(r.body.jobs);
        if (r.body.next_cursor && left > 1) return page(r.body.next_cursor, left - 1);
        more.hidden = !r.body.next_cursor;
        return { ok: true, status: 200, body: { jobs: jobs } };
      });
    }
    return page(null, pages);
  }
  function markOpen() { Array.prototype.forEach.call(rows.children, function (tr) { tr.classList.toggle('open', tr.dataset.job === openJob); }); }
  function link(parent, text, href) {
    if (!href) return;
    var a = document.createElement('a'); a.href = href; a.textContent = text; a.rel = 'noreferrer'; a.target = '_blank'; parent.appendChild(a);
  }
  function svg(name, attrs, parent) { var el = document.createElementNS(NS, name); Object.keys(attrs).forEach(function (k) { el.setAttribute(k, String(attrs[k])); }); if (parent) parent.appendChild(el); return el; }
  function short(v) { return v === null || !isFinite(v) ? '–' : (v !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3) ? v.toExponential(2) : String(Number(v.toPrecision(4)))); }
  function spark(name, rowsByFrame, frames) {
    var w = 150, h = 54, pad = 4, top = 13, ph = h - top - 12;
    var s = svg('svg', { class: 'spark', width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, role: 'img', 'aria-label': name + ' across frames', 'data-feature': name });
    svg('text', { x: pad, y: 9, 'font-weight': 600 }, s).textContent = name;
    var pts = rowsByFrame.filter(function (r) { return typeof r[name] === 'number' && isFinite(r[name]); });
    if (!pts.length) { svg('text', { x: pad, y: top + 14 }, s).textContent = 'no values'; return s; }
    var vals = pts.map(function (r) { return r[name]; }), lo = Math.min.apply(null, vals), hi = Math.max.apply(null, vals);
    var lo2 = lo === hi ? lo - 1 : lo, hi2 = lo === hi ? hi + 1 : hi;
    function x(f) { return pad + (frames > 1 ? f / (frames - 1) : 0.5) * (w - 2 * pad); }
    function y(v) { return top + ph - ((v - lo2) / (hi2 - lo2)) * ph; }
    svg('polyline', { points: pts.map(function (r) { return x(r.frame).toFixed(1) + ',' + y(r[name]).toFixed(1); }).join(' ') }, s);
    pts.forEach(function (r) { svg('circle', { cx: x(r.frame).toFixed(1), cy: y(r[name]).toFixed(1), r: 1.6 }, s); });
    svg('text', { x: w - pad, y: h - 2, class: 'range' }, s).textContent = short(lo) + ' – ' + short(hi);
    return s;
  }
  function showReport(videoId, tr, token) {
    var next = tr.nextElementSibling;
    if (next && next.classList.contains('clip-report')) { next.remove(); return; }
    var row = document.createElement('tr'); row.className = 'clip-report'; row.dataset.video = videoId;
    var td = document.createElement('td'); td.colSpan = 5; row.appendChild(td); tr.after(row);
    td.textContent = 'loading…';
    api('videos/' + videoId + '/analysis', token).then(function (r) {
      if (!r.ok) { td.textContent = r.body.message || 'no analysis'; return; }
      var a = r.body; td.textContent = '';
      var p = document.createElement('p'); p.className = 'decisions';
      p.textContent = 'Doppler (frame 0): ' + (a.doppler ? 'yes' : 'no') + ' · texture: ' + a.textured_frames + ' of ' + a.frames + ' frames (' + a.result + ') · z = ' + (a.label.z === null ? 'not computed' : a.label.z.toFixed(1)) + (a.label.label ? ' → ' + a.label.label + ' ' : ' ');
      var u = document.createElement('span'); u.className = 'unvalidated'; u.textContent = a.label.label_status + ': not a diagnosis'; p.appendChild(u); td.appendChild(p);
      var plots = document.createElement('div'); plots.className = 'plots'; td.appendChild(plots);
      var names = a.per_frame.length ? Object.keys(a.per_frame[0]).filter(function (k) { return k !== 'frame'; }) : [];
      names.forEach(function (name) { plots.appendChild(spark(name, a.per_frame, a.frames)); });
    }).catch(function () { td.textContent = 'the status API is unreachable'; });
  }
  function clipRow(entry, token) {
    var tr = document.createElement('tr'); tr.dataset.video = entry.video_id;
    var name = cell(tr, entry.video_id); name.className = 'clip-name';
    var stage = cell(tr, '…'), reason = cell(tr, ''), links = cell(tr, ''), actions = cell(tr, '');
    link(links, 'json', entry.analysis_url); link(links, 'zip', entry.frames_url); link(links, 'error', entry.error_url);
    if (entry.analysis_url) {
      var b = document.createElement('button'); b.type = 'button'; b.textContent = 'report'; b.className = 'report';
      b.addEventListener('click', function () { showReport(entry.video_id, tr, token); }); actions.appendChild(b);
    }
    clips.appendChild(tr);
    api('videos/' + entry.video_id, token).then(function (r) {
      stage.textContent = r.ok ? r.body.stage : 'unknown'; tr.dataset.stage = stage.textContent; reason.textContent = r.ok && r.body.reason ? r.body.reason : '';
      if (r.ok && r.body.source) { name.textContent = r.body.source; name.title = entry.video_id; placeByName(tr); }
    });
  }
  function placeByName(tr) {
    var next = tr.nextElementSibling, report = next && next.classList.contains('clip-report') ? next : null;
    var key = tr.firstChild.textContent, before = null;
    Array.prototype.some.call(clips.children, function (r) {
      if (r === tr || r.classList.contains('clip-report') || r.firstChild.textContent <= key) return false;
      before = r; return true;
    });
    clips.insertBefore(tr, before);
    if (report) tr.after(report);
  }
  function showJob(id) {
    var token = sessionStorage.getItem('radiomics-token');
    if (!token) return;
    openJob = id; markOpen(); detail.hidden = false; detailTitle.textContent = 'Job ' + id; detailFacts.textContent = 'loading…'; clips.textContent = '';
    api('jobs/' + id, token).then(function (r) {
      if (!r.ok) { detailFacts.textContent = r.body.message || 'request failed'; return; }
      var job = r.body, entries = {};
      detailFacts.textContent = job.status + (job.reason ? ' (' + job.reason + ')' : '') + ' · submitted ' + when(job.submitted_at) + ' · ended ' + when(job.ended_at) +
        ' · links valid until ' + when(job.results_expire_at) + (job.results_truncated ? ' · only the first ' + job.results.length + ' clips are listed' : '') +
        ' · the whole report: radiomics results ' + id + ' --out DIR';
      job.results.forEach(function (e) { entries[e.video_id] = e; });
      job.failed_items.forEach(function (v) { entries[v] = entries[v] || { video_id: v, analysis_url: null, frames_url: null, error_url: null }; });
      Object.keys(entries).sort().forEach(function (v) { clipRow(entries[v], token); });
      if (!Object.keys(entries).length) detailFacts.textContent += ' · no clip results yet';
    }).catch(function () { detailFacts.textContent = 'the status API is unreachable'; });
  }
  rows.addEventListener('click', function (e) { var tr = e.target.closest('tr[data-job]'); if (tr) showJob(tr.dataset.job); });
  more.addEventListener('click', function () { pages++; load(); });
`;
