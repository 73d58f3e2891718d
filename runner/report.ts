// The compliance report in four formats, from the one jsonb that
// retention.compliance_report returns: json (as it is), md, csv (one row per figure) and
// html (one self-contained file: inline CSS and SVG, printable). Every figure on the page
// carries data-key with its path in the JSON, so a test (or an auditor's script) can check
// the page against the JSON it came from.

export type Format = 'json' | 'md' | 'csv' | 'html';
export const FORMATS: Format[] = ['json', 'md', 'csv', 'html'];

type Json = Record<string, unknown>;

interface PolicyRow {
  policy: string;
  action: string;
  /** The table its latest run in the period acted on. */
  table: string | null;
  exists: boolean;
  versions: string[];
  runs: number;
  dry_runs: number;
  rows_deleted: number;
  rows_cascaded: number;
  rows_soft_deleted: number;
  rows_scrubbed: number;
  rows_revoked: number;
  rows_archived: number;
  rows_moved_to_archive_schema: number;
  partitions_removed: number;
  rows_held_back: number;
  rows_failed: number;
  runs_failed: number;
  runs_refused: number;
  runs_interrupted: number;
  runs_stopped: number;
  last_run_at: string | null;
  last_success_at: string | null;
}

export interface Report {
  report: string;
  format: number;
  period: { from: string; to: string };
  database: string;
  generated_at: string;
  summary: Record<string, number>;
  policies: PolicyRow[];
  weekly: { policy: string; table?: string; week: string; rows: number }[];
  accounts: Json[];
  erasures: Json & { requests: Json[] };
  holds: Json & { active: Json[] };
  approvals: Json & { proposals: Json[] };
  runs: Json & { by_status: Record<string, number>; problems: Json[] };
  archive: Json;
  objects: Json;
  backups: Json;
  audit: { head: Json | null; entries: number; last_entry_in_period: number | null; checkpoint: Json | null };
  /** Added by the CLI for a stored report: its id and sha256. */
  stored?: { report_id: number; sha256: string; storage_key: string | null };
}

/** The figures the summary shows, in order, with their labels. */
export const SUMMARY_LABELS: [string, string][] = [
  ['rows_deleted', 'Rows permanently deleted'],
  ['rows_soft_deleted', 'Rows soft-deleted'],
  ['rows_scrubbed', 'Rows scrubbed'],
  ['rows_archived', 'Rows archived before deletion'],
  ['rows_held_back', 'Rows held back by legal holds'],
  ['rows_failed', 'Rows that failed'],
  ['accounts_flagged', 'Inactive accounts flagged'],
  ['accounts_acted_on', 'Inactive accounts acted on'],
  ['erasures_received', 'Erasure requests received'],
  ['erasures_completed', 'Erasure requests completed'],
  ['erasures_overdue', 'Erasure requests overdue'],
  ['holds_active', 'Legal holds active at the end'],
  ['approvals', 'Purges approved'],
  ['runs', 'Runs'],
  ['runs_failed', 'Runs failed'],
  ['runs_refused', 'Runs refused'],
  ['runs_interrupted', 'Runs interrupted'],
];

const POLICY_COLUMNS: [keyof PolicyRow, string][] = [
  ['rows_deleted', 'deleted'],
  ['rows_cascaded', 'cascaded'],
  ['rows_soft_deleted', 'soft-deleted'],
  ['rows_scrubbed', 'scrubbed'],
  ['rows_archived', 'archived'],
  ['rows_held_back', 'held back'],
  ['rows_failed', 'failed rows'],
  ['runs', 'runs'],
  ['runs_failed', 'failed'],
  ['runs_refused', 'refused'],
  ['runs_interrupted', 'interrupted'],
];

const num = (v: unknown): string => (typeof v === 'number' ? v.toLocaleString('en') : v == null ? '–' : String(v));
const day = (v: unknown): string => (typeof v === 'string' ? v.slice(0, 10) : '–');
/** The report's name for its period: YYYY-MM for a calendar month, else from – to. */
export function periodName(r: Report): string {
  const from = new Date(r.period.from), to = new Date(r.period.to);
  const monthly = from.getUTCDate() === 1 && from.getUTCHours() === 0 && from.getUTCMinutes() === 0 && from.getUTCSeconds() === 0
    && from.getUTCMilliseconds() === 0 && to.getTime() === Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + 1, 1);
  return monthly ? r.period.from.slice(0, 7) : `${r.period.from.slice(0, 10)} to ${r.period.to.slice(0, 10)}`;
}

export function render(report: Report, format: Format): string {
  switch (format) {
    case 'json': return `${JSON.stringify(report, null, 2)}\n`;
    case 'md': return markdown(report);
    case 'csv': return csv(report);
    case 'html': return html(report);
  }
}

// --- csv: section, subject, figure, value — one row per figure ----------------------

function csvCell(v: unknown): string {
  const s = v == null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  // A leading = + - @ would be a formula in a spreadsheet: quote it with a leading '.
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvRows(r: Report): [string, string, string, unknown][] {
  const rows: [string, string, string, unknown][] = [
    ['period', '', 'from', r.period.from],
    ['period', '', 'to', r.period.to],
  ];
  for (const [k] of SUMMARY_LABELS) rows.push(['summary', '', k, r.summary[k]]);
  for (const p of r.policies) {
    for (const [k, v] of Object.entries(p)) rows.push(['policy', p.policy, k, Array.isArray(v) ? v.join(' ') : v]);
  }
  for (const w of r.weekly) rows.push(['weekly', w.policy, w.week, w.rows]);
  for (const a of r.accounts) {
    for (const [k, v] of Object.entries(a)) if (k !== 'policy') rows.push(['accounts', String(a.policy), k, v]);
  }
  for (const [k, v] of Object.entries(r.erasures)) if (k !== 'requests') rows.push(['erasures', '', k, v]);
  for (const e of r.erasures.requests) {
    for (const [k, v] of Object.entries(e)) if (k !== 'request_id') rows.push(['erasure_request', String(e.request_id), k, v]);
  }
  for (const [k, v] of Object.entries(r.holds)) if (k !== 'active') rows.push(['holds', '', k, v]);
  for (const h of r.holds.active) {
    for (const [k, v] of Object.entries(h)) if (k !== 'hold_id') rows.push(['hold', String(h.hold_id), k, v]);
  }
  for (const [k, v] of Object.entries(r.approvals)) if (k !== 'proposals') rows.push(['approvals', '', k, v]);
  for (const p of r.approvals.proposals) {
    for (const [k, v] of Object.entries(p)) if (k !== 'proposal_id') rows.push(['proposal', String(p.proposal_id), k, v]);
  }
  rows.push(['runs', '', 'total', r.runs.total], ['runs', '', 'failed_rows', r.runs.failed_rows]);
  for (const [k, v] of Object.entries(r.runs.by_status)) rows.push(['runs_by_status', '', k, v]);
  for (const p of r.runs.problems) {
    for (const [k, v] of Object.entries(p)) if (k !== 'run_id') rows.push(['run', String(p.run_id), k, v]);
  }
  for (const [section, o] of [['archive', r.archive], ['objects', r.objects], ['backups', r.backups]] as const) {
    for (const [k, v] of Object.entries(o)) rows.push([section, '', k, v]);
  }
  rows.push(['audit', '', 'entries', r.audit.entries], ['audit', '', 'last_entry_in_period', r.audit.last_entry_in_period]);
  for (const [k, v] of Object.entries(r.audit.head ?? {})) rows.push(['audit_head', '', k, v]);
  for (const [k, v] of Object.entries(r.audit.checkpoint ?? {})) rows.push(['audit_checkpoint', '', k, v]);
  if (r.stored) for (const [k, v] of Object.entries(r.stored)) rows.push(['stored', '', k, v]);
  return rows;
}

function csv(r: Report): string {
  return `${['section,subject,figure,value', ...csvRows(r).map((row) => row.map(csvCell).join(','))].join('\r\n')}\r\n`;
}

// --- markdown ------------------------------------------------------------------------

/** Text for Markdown: no line breaks or control characters, every character Markdown or
 * HTML would act on escaped (a name or key id that reached the report stays text). */
export function mdText(v: unknown): string {
  // eslint-disable-next-line no-control-regex
  return String(v ?? '').replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/[\\`*_[\]<>|#&!~]/g, (c) => `\\${c}`);
}

function mdCell(v: unknown): string {
  return typeof v === 'number' ? num(v) : mdText(num(v));
}

function mdTable(head: string[], rows: unknown[][]): string[] {
  if (rows.length === 0) return ['(none)'];
  return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((row) => `| ${row.map(mdCell).join(' | ')} |`)];
}

function markdown(r: Report): string {
  const out = [
    `# Compliance report ${mdText(periodName(r))}`,
    '',
    `Database ${mdText(r.database)}, period ${mdText(r.period.from)} to ${mdText(r.period.to)} (end excluded), generated ${mdText(r.generated_at)}.`,
    r.stored ? `Stored report ${mdText(r.stored.report_id)}, sha256 ${mdText(r.stored.sha256)}.` : '',
    '',
    '## Summary',
    '',
    ...mdTable(['figure', 'count'], SUMMARY_LABELS.map(([k, label]) => [label, r.summary[k]])),
    '',
    '## Policies',
    '',
    ...mdTable(['policy', 'action', ...POLICY_COLUMNS.map(([, l]) => l), 'versions'],
      r.policies.map((p) => [p.policy + (p.exists ? '' : ' (dropped)'), p.action, ...POLICY_COLUMNS.map(([k]) => p[k]), p.versions.join(' ')])),
    '',
    '## Inactive accounts',
    '',
    ...mdTable(['policy', 'flagged', 'cancelled', 'exempted', 'acted', 'erased', 'open at end', 'notifications'],
      r.accounts.map((a) => [a.policy, a.flagged, a.cancelled, a.exempted, a.acted, a.erased, a.open_at_end, a.notifications])),
    '',
    '## Erasure requests',
    '',
    ...mdTable(['received', 'completed', 'on time', 'late', 'overdue', 'open at end', 'blocked by hold', 'failed'],
      [[r.erasures.received, r.erasures.completed, r.erasures.completed_on_time, r.erasures.completed_late, r.erasures.overdue,
        r.erasures.open_at_end, r.erasures.blocked_by_hold, r.erasures.failed]]),
    '',
    ...mdTable(['request', 'table', 'received', 'due', 'completed', 'status', 'on time'],
      r.erasures.requests.map((e) => [e.request_id, e.subject_table, day(e.received_at), day(e.due_at), day(e.completed_at), e.status,
        e.on_time == null ? '–' : e.on_time ? 'yes' : 'no'])),
    '',
    '## Legal holds',
    '',
    `Placed ${num(r.holds.placed)}, released ${num(r.holds.released)}, expired ${num(r.holds.expired)}, active at the end ${num(r.holds.active_at_end)}.`,
    '',
    ...mdTable(['hold', 'scope', 'covers', 'placed', 'expires'],
      r.holds.active.map((h) => [h.hold_id, h.scope, h.covers ?? '(a subject)', day(h.placed_at), day(h.expires_at)])),
    '',
    '## Approvals',
    '',
    `Proposed ${num(r.approvals.proposed)}, approved ${num(r.approvals.approved)}, rejected ${num(r.approvals.rejected)}, executed ${num(r.approvals.executed)}, expired ${num(r.approvals.expired)}.`,
    '',
    ...mdTable(['proposal', 'policy', 'rows', 'proposed', 'decided', 'status', 'four eyes', 'executed rows'],
      r.approvals.proposals.map((p) => [p.proposal_id, p.policy, p.rows, day(p.proposed_at), day(p.decided_at), p.status,
        p.four_eyes ? 'yes' : 'no', p.executed_rows])),
    '',
    '## Runs that did not complete, and failed rows',
    '',
    ...mdTable(['run', 'policy', 'kind', 'status', 'error code', 'started', 'failed rows'],
      r.runs.problems.map((p) => [p.run_id, p.policy, p.kind, p.status, p.error_code, p.started_at, p.failed_rows])),
    '',
    '## Cold storage, files and backups',
    '',
    ...mdTable(['figure', 'count'], [
      ['archive objects written', r.archive.objects_written], ['rows written to objects', r.archive.rows_written],
      ['archive objects deleted', r.archive.objects_deleted], ['archive objects at the end', r.archive.objects_at_end],
      ['files deleted with their rows', r.objects.deleted], ['files kept (still referenced)', r.objects.kept],
      ['file deletions failed', r.objects.failed], ['backups pruned', r.backups.pruned], ['backup prunings failed', r.backups.failed]]),
    '',
    '## Audit chain',
    '',
    `${num(r.audit.entries)} entries in the period; the chain's head is entry ${mdText(num(r.audit.head?.audit_id))} (hash ${mdText(r.audit.head?.row_hash ?? '–')}).`,
    r.audit.checkpoint
      ? `Newest signed checkpoint: ${mdText(num(r.audit.checkpoint.checkpoint_id))} of entry ${mdText(num(r.audit.checkpoint.audit_id))}, signed ${mdText(r.audit.checkpoint.signed_at)} with key ${mdText(r.audit.checkpoint.key_id)}.`
      : 'No signed checkpoint yet (set PG_RETENTION_SIGNING_KEY_FILE on the worker).',
    '',
  ];
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n')}\n`;
}

// --- html ----------------------------------------------------------------------------

const esc = (v: unknown): string => String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const cell = (key: string, v: unknown) => `<td class="n" data-key="${esc(key)}">${esc(num(v))}</td>`;
const PALETTE = ['#2b6cb0', '#c05621', '#2f855a', '#6b46c1', '#b7791f', '#c53030', '#2c7a7b', '#97266d'];

/** Rows removed per policy per week: grouped bars, one colour per policy. */
function weeklyChart(r: Report): string {
  // A policy name set again on another table is two series (the report keeps them apart).
  const tables = new Map<string, Set<string>>();
  for (const w of r.weekly) tables.set(w.policy, (tables.get(w.policy) ?? new Set()).add(w.table ?? ''));
  const series = (w: Report['weekly'][number]) => ((tables.get(w.policy)?.size ?? 0) > 1 ? `${w.policy} on ${w.table ?? '?'}` : w.policy);
  const weeks = [...new Set(r.weekly.map((w) => w.week))].sort();
  const policies = [...new Set(r.weekly.map(series))].sort();
  if (weeks.length === 0) return '<p class="empty">No rows removed in this period.</p>';
  const max = Math.max(...r.weekly.map((w) => w.rows), 1);
  const W = 640, H = 220, left = 56, bottom = 28, top = 10;
  const groupW = (W - left - 10) / weeks.length;
  const barW = Math.max(2, Math.min(28, (groupW - 8) / policies.length));
  const y = (v: number) => top + (H - top - bottom) * (1 - v / max);
  const bars = r.weekly.map((w) => {
    const x = left + weeks.indexOf(w.week) * groupW + 4 + policies.indexOf(series(w)) * barW;
    return `<rect class="bar" x="${x.toFixed(1)}" y="${y(w.rows).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${(H - bottom - y(w.rows)).toFixed(1)}" fill="${PALETTE[policies.indexOf(series(w)) % PALETTE.length]}" data-policy="${esc(w.policy)}" data-week="${esc(w.week)}" data-rows="${w.rows}"><title>${esc(series(w))}, week of ${esc(w.week)}: ${esc(num(w.rows))} rows</title></rect>`;
  });
  const labels = weeks.map((wk, i) => `<text x="${(left + i * groupW + groupW / 2).toFixed(1)}" y="${H - 10}" text-anchor="middle">${esc(wk.slice(5))}</text>`);
  const axis = [0, 0.5, 1].map((f) => `<text x="${left - 6}" y="${(y(max * f) + 4).toFixed(1)}" text-anchor="end">${esc(num(Math.round(max * f)))}</text><line x1="${left}" x2="${W - 6}" y1="${y(max * f).toFixed(1)}" y2="${y(max * f).toFixed(1)}" class="grid"/>`);
  const legend = policies.map((p, i) => `<span><i style="background:${PALETTE[i % PALETTE.length]}"></i>${esc(p)}</span>`).join('');
  return `<svg id="chart-weekly" class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="Rows removed per policy per week">${axis.join('')}${bars.join('')}${labels.join('')}</svg><div class="legend">${legend}</div>`;
}

/** Each erasure request from receipt to its deadline, with its completion marked. */
function erasureChart(r: Report): string {
  const reqs = r.erasures.requests;
  if (reqs.length === 0) return '<p class="empty">No erasure requests in this period.</p>';
  const t = (v: unknown) => new Date(String(v)).getTime();
  const from = Math.min(t(r.period.from), ...reqs.map((e) => t(e.received_at)));
  const to = Math.max(t(r.period.to), ...reqs.map((e) => t(e.due_at)));
  const W = 640, rowH = 16, left = 70, H = reqs.length * rowH + 24;
  const x = (ms: number) => left + (W - left - 10) * ((ms - from) / Math.max(1, to - from));
  const end = x(t(r.period.to));
  const rows = reqs.map((e, i) => {
    const yy = 6 + i * rowH;
    const cls = e.status === 'completed' ? (e.on_time ? 'ontime' : 'late') : e.on_time === false ? 'overdue' : 'open';
    const done = e.completed_at ? `<circle cx="${x(t(e.completed_at)).toFixed(1)}" cy="${yy + 5}" r="4" class="done"/>` : '';
    return `<text x="${left - 6}" y="${yy + 9}" text-anchor="end">#${esc(e.request_id)}</text><rect class="span ${cls}" data-request="${esc(e.request_id)}" x="${x(t(e.received_at)).toFixed(1)}" y="${yy}" width="${Math.max(2, x(t(e.due_at)) - x(t(e.received_at))).toFixed(1)}" height="10"><title>request ${esc(e.request_id)}: received ${esc(day(e.received_at))}, due ${esc(day(e.due_at))}, ${esc(e.status)}</title></rect>${done}`;
  });
  return `<svg id="chart-erasures" class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="Erasure requests and their deadlines">${rows.join('')}<line x1="${end.toFixed(1)}" x2="${end.toFixed(1)}" y1="0" y2="${H - 14}" class="periodend"/><text x="${end.toFixed(1)}" y="${H - 2}" text-anchor="middle">end of period</text></svg><div class="legend"><span><i class="ontime"></i>completed on time</span><span><i class="late"></i>completed late</span><span><i class="open"></i>open</span><span><i class="overdue"></i>overdue</span></div>`;
}

/** Legal holds active at the end, by scope. */
function holdsChart(r: Report): string {
  const scopes = ['table', 'policy', 'subject', 'backups'];
  const counts = scopes.map((s) => r.holds.active.filter((h) => h.scope === s).length);
  const max = Math.max(...counts, 1);
  const W = 640, rowH = 22, left = 70;
  const bars = scopes.map((s, i) => `<text x="${left - 6}" y="${i * rowH + 15}" text-anchor="end">${s}</text><rect class="bar holds" data-scope="${s}" data-count="${counts[i]}" x="${left}" y="${i * rowH + 4}" width="${((W - left - 60) * counts[i]! / max).toFixed(1)}" height="14"/><text x="${(left + (W - left - 60) * counts[i]! / max + 6).toFixed(1)}" y="${i * rowH + 15}">${counts[i]}</text>`);
  return `<svg id="chart-holds" class="chart" viewBox="0 0 ${W} ${scopes.length * rowH + 6}" role="img" aria-label="Legal holds active at the end of the period, by scope">${bars.join('')}</svg>`;
}

function htmlTable(id: string, head: string[], rows: string[][]): string {
  if (rows.length === 0) return `<p class="empty" id="${id}">None.</p>`;
  return `<div class="wide"><table id="${id}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.join('')}</tr>`).join('')}</tbody></table></div>`;
}
const td = (v: unknown) => `<td>${esc(v == null ? '–' : v)}</td>`;

const CSS = `
:root{--fg:#1a202c;--muted:#4a5568;--line:#e2e8f0;--bg:#fff;--accent:#2b6cb0}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:960px;padding:32px 24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:32px 0 8px;padding-bottom:4px;border-bottom:2px solid var(--line)}
.meta{color:var(--muted);margin:0 0 20px}.meta code{font-size:12px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px}.card .v{font-size:22px;font-weight:600}.card .l{color:var(--muted);font-size:12px}
.card.warn .v{color:#c53030}
table{border-collapse:collapse;width:100%;margin:6px 0 4px;font-size:13px}th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:12px;vertical-align:bottom}#policies th{max-width:72px}#policies th:last-child{max-width:120px}td code{font-size:11px;word-break:break-all}
.wide{overflow-x:auto;max-width:100%}td.n{text-align:right;font-variant-numeric:tabular-nums}
.chart{width:100%;height:auto;font-size:11px;fill:var(--muted)}.grid{stroke:var(--line)}.periodend{stroke:#a0aec0;stroke-dasharray:3 3}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12px;color:var(--muted);margin:4px 0}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.ontime{fill:#68d391;background:#68d391}.late{fill:#f6ad55;background:#f6ad55}.open{fill:#90cdf4;background:#90cdf4}.overdue{fill:#fc8181;background:#fc8181}
.done{fill:#1a202c}.holds{fill:#805ad5}.empty{color:var(--muted);font-style:italic}
footer{margin-top:36px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:8px}
@media print{body{padding:0;max-width:none;font-size:11px}.wide{overflow:visible}table{font-size:9px}th,td{padding:3px 4px}h2{break-after:avoid}table,svg,.cards{break-inside:avoid}.card{border-color:#999}}
`;

function html(r: Report): string {
  const warn = new Set(['rows_failed', 'erasures_overdue', 'runs_failed', 'runs_interrupted']);
  const cards = SUMMARY_LABELS.map(([k, label]) => `<div class="card${warn.has(k) && (r.summary[k] ?? 0) > 0 ? ' warn' : ''}"><div class="v" data-key="summary.${k}">${esc(num(r.summary[k]))}</div><div class="l">${esc(label)}</div></div>`);
  // Rows by what happened to them, then the runs with their failures in one cell.
  const rowCols = POLICY_COLUMNS.filter(([k]) => String(k).startsWith('rows_'));
  const span = (key: string, v: unknown) => `<span data-key="${esc(key)}">${esc(num(v))}</span>`;
  const policies = htmlTable('policies', ['policy', 'action', ...rowCols.map(([, l]) => l), 'runs (failed / refused / interrupted)'],
    r.policies.map((p, i) => [td(p.policy + (p.exists ? '' : ' (dropped)')), td(p.action),
      ...rowCols.map(([k]) => cell(`policies.${i}.${k}`, p[k])),
      `<td class="n">${span(`policies.${i}.runs`, p.runs)} (${span(`policies.${i}.runs_failed`, p.runs_failed)} / ${span(`policies.${i}.runs_refused`, p.runs_refused)} / ${span(`policies.${i}.runs_interrupted`, p.runs_interrupted)})</td>`]));
  const versions = htmlTable('policy-versions', ['policy', 'versions in force (sha256 of the settings, first 16 hex digits)', 'last run', 'last success'],
    r.policies.map((p) => [td(p.policy), `<td><code>${esc(p.versions.join(' ') || '–')}</code></td>`,
      td(String(p.last_run_at ?? '–').slice(0, 16).replace('T', ' ')), td(String(p.last_success_at ?? '–').slice(0, 16).replace('T', ' '))]));
  const accounts = htmlTable('accounts', ['policy', 'flagged', 'cancelled', 'exempted', 'acted', 'erased', 'open at end', 'notifications'],
    r.accounts.map((a, i) => [td(a.policy), ...['flagged', 'cancelled', 'exempted', 'acted', 'erased', 'open_at_end', 'notifications'].map((k) => cell(`accounts.${i}.${k}`, a[k]))]));
  const erasureKeys = ['received', 'completed', 'completed_on_time', 'completed_late', 'overdue', 'open_at_end', 'blocked_by_hold', 'failed'];
  const erasures = htmlTable('erasures', ['received', 'completed', 'on time', 'late', 'overdue', 'open at end', 'blocked by hold', 'failed'],
    [erasureKeys.map((k) => cell(`erasures.${k}`, r.erasures[k]))]);
  const requests = htmlTable('erasure-requests', ['request', 'table', 'received', 'due', 'completed', 'status', 'on time'],
    r.erasures.requests.map((e) => [td(e.request_id), td(e.subject_table), td(day(e.received_at)), td(day(e.due_at)), td(day(e.completed_at)), td(e.status),
      td(e.on_time == null ? '–' : e.on_time ? 'yes' : 'no')]));
  const holdKeys = ['placed', 'released', 'expired', 'active_at_end'];
  const holds = htmlTable('holds', ['placed', 'released', 'expired', 'active at end'], [holdKeys.map((k) => cell(`holds.${k}`, r.holds[k]))]);
  const activeHolds = htmlTable('holds-active', ['hold', 'scope', 'covers', 'placed', 'expires'],
    r.holds.active.map((h) => [td(h.hold_id), td(h.scope), td(h.covers ?? '(a subject)'), td(day(h.placed_at)), td(day(h.expires_at))]));
  const apprKeys = ['proposed', 'approved', 'rejected', 'executed', 'expired'];
  const approvals = htmlTable('approvals', apprKeys, [apprKeys.map((k) => cell(`approvals.${k}`, r.approvals[k]))]);
  const proposals = htmlTable('proposals', ['proposal', 'policy', 'rows', 'proposed', 'decided', 'status', 'four eyes', 'executed rows'],
    r.approvals.proposals.map((p) => [td(p.proposal_id), td(p.policy), td(num(p.rows)), td(day(p.proposed_at)), td(day(p.decided_at)), td(p.status),
      td(p.four_eyes ? 'yes' : 'no'), td(num(p.executed_rows))]));
  const problems = htmlTable('run-problems', ['run', 'policy', 'kind', 'status', 'error code', 'started', 'failed rows'],
    r.runs.problems.map((p) => [td(p.run_id), td(p.policy), td(p.kind), td(p.status), td(p.error_code), td(String(p.started_at ?? '').slice(0, 19).replace('T', ' ')), td(num(p.failed_rows))]));
  const storage = htmlTable('storage', ['figure', 'count'], ([
    ['archive objects written', 'archive.objects_written', r.archive.objects_written], ['rows written to objects', 'archive.rows_written', r.archive.rows_written],
    ['archive objects deleted', 'archive.objects_deleted', r.archive.objects_deleted], ['archive objects at the end', 'archive.objects_at_end', r.archive.objects_at_end],
    ['files deleted with their rows', 'objects.deleted', r.objects.deleted], ['files kept (still referenced)', 'objects.kept', r.objects.kept],
    ['file deletions failed', 'objects.failed', r.objects.failed], ['backups pruned', 'backups.pruned', r.backups.pruned],
    ['backup prunings failed', 'backups.failed', r.backups.failed]] as [string, string, unknown][]).map(([l, k, v]) => [td(l), cell(k, v)]));
  const cp = r.audit.checkpoint;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Compliance report ${esc(periodName(r))} — ${esc(r.database)}</title>
<style>${CSS}</style></head>
<body>
<h1>Compliance report ${esc(periodName(r))}</h1>
<p class="meta">Database <code>${esc(r.database)}</code> · ${esc(r.period.from)} to ${esc(r.period.to)} (end excluded) · generated ${esc(r.generated_at)}${r.stored ? ` · stored report ${esc(r.stored.report_id)}, sha256 <code>${esc(r.stored.sha256)}</code>` : ''}</p>
<section id="summary"><h2>Summary</h2><div class="cards">${cards.join('')}</div></section>
<section><h2>Rows removed per week</h2>${weeklyChart(r)}</section>
<section><h2>Policies</h2>${policies}${versions}</section>
<section><h2>Inactive accounts</h2>${accounts}</section>
<section><h2>Erasure requests</h2>${erasures}${erasureChart(r)}${requests}</section>
<section><h2>Legal holds</h2>${holds}${holdsChart(r)}${activeHolds}</section>
<section><h2>Approvals</h2>${approvals}${proposals}</section>
<section><h2>Runs that did not complete, and failed rows</h2>${problems}</section>
<section><h2>Cold storage, files and backups</h2>${storage}</section>
<section id="audit"><h2>Audit chain</h2><p><span data-key="audit.entries">${esc(num(r.audit.entries))}</span> entries in the period. Head: entry <span data-key="audit.head.audit_id">${esc(num(r.audit.head?.audit_id))}</span>, hash <code>${esc(r.audit.head?.row_hash ?? '–')}</code>.</p>
<p>${cp ? `Newest signed checkpoint <span data-key="audit.checkpoint.checkpoint_id">${esc(cp.checkpoint_id)}</span> of entry ${esc(cp.audit_id)}, signed ${esc(cp.signed_at)} with key <code>${esc(cp.key_id)}</code>. Verify with <code>pg-retention audit verify</code>.` : 'No signed checkpoint yet (set PG_RETENTION_SIGNING_KEY_FILE on the worker).'}</p></section>
<footer>pg-retention compliance report, format ${esc(r.format)}. Counts, ids and hashes only: no personal data.</footer>
</body></html>
`;
}
