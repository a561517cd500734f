import { duration } from './coverage.js';
import type { ReportJson, ReportRun } from './report.js';

/**
 * The printable HTML form of a report: one self-contained file (inline CSS, no scripts, no external fonts or
 * images) that opens the same in any browser years later and prints on A4 or Letter. Every value is escaped.
 */
export function renderReportHtml(r: ReportJson): string {
  const s = r.summary;
  const pct = (s.recoverable_per_mille / 10).toFixed(1);
  const verdict =
    r.audit_chain.ok && s.backups_failed === 0 && s.backups_verify_failed === 0 && s.gaps === 0
      ? { cls: 'ok', text: 'No problems found in the period' }
      : { cls: 'bad', text: 'Problems found in the period: see the sections below' };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dbtrail compliance report: ${esc(r.server.name)} ${esc(day(r.period.from))} to ${esc(day(r.period.to))}</title>
<style>
  @page { size: auto; margin: 16mm; }
  * { box-sizing: border-box; }
  body { font: 10.5pt/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1b1f24; margin: 24px auto; max-width: 1000px; padding: 0 16px; }
  h1 { font-size: 20pt; margin: 0 0 4px; }
  h2 { font-size: 13pt; margin: 28px 0 8px; border-bottom: 2px solid #1b1f24; padding-bottom: 3px; break-after: avoid; }
  .sub { color: #57606a; margin: 0 0 16px; }
  .verdict { padding: 10px 14px; border-radius: 6px; font-weight: 600; margin: 12px 0 4px; }
  .verdict.ok { background: #dafbe1; color: #116329; border: 1px solid #4ac26b; }
  .verdict.bad { background: #ffebe9; color: #a40e26; border: 1px solid #ff8182; }
  .cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 8px; margin: 12px 0; }
  .card { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 10px; }
  .card b { display: block; font-size: 16pt; }
  .card span { color: #57606a; font-size: 9pt; }
  table { width: 100%; border-collapse: collapse; margin: 6px 0; font-size: 9.5pt; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #d0d7de; vertical-align: top; }
  th { background: #f6f8fa; font-weight: 600; }
  tr { break-inside: avoid; }
  code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 8.5pt; word-break: break-all; }
  .good { color: #116329; font-weight: 600; }
  .fail { color: #a40e26; font-weight: 600; }
  .warn { color: #9a6700; font-weight: 600; }
  .none { color: #57606a; font-style: italic; }
  .bar { position: relative; height: 14px; background: #ffebe9; border: 1px solid #d0d7de; border-radius: 3px; margin: 6px 0 2px; }
  .bar i { position: absolute; top: 0; bottom: 0; background: #4ac26b; }
  .scale { display: flex; justify-content: space-between; color: #57606a; font-size: 8.5pt; }
  footer { margin-top: 32px; color: #57606a; font-size: 8.5pt; border-top: 1px solid #d0d7de; padding-top: 8px; }
  @media print { body { margin: 0; max-width: none; } .cards { grid-template-columns: repeat(4, 1fr); } }
</style>
</head>
<body>
<h1>Compliance report: server ${esc(r.server.name)}</h1>
<p class="sub">Tenant ${esc(r.tenant)} · period ${esc(utc(r.period.from))} to ${esc(utc(r.period.to))} · generated ${esc(utc(r.generated_at))} by dbtrail</p>
<div class="verdict ${verdict.cls}" id="verdict">${esc(verdict.text)}</div>
<div class="cards">
  <div class="card"><b>${s.backups_succeeded} / ${s.backups_taken}</b><span>backups succeeded</span></div>
  <div class="card"><b>${s.backups_verified_ok}</b><span>backups verified (${s.backups_verify_failed} failed, ${s.backups_never_verified} never)</span></div>
  <div class="card"><b>${s.drills_passed}</b><span>drills passed (${s.drills_failed} failed)</span></div>
  <div class="card"><b>${pct}%</b><span>of the period recoverable · ${s.gaps} gap${s.gaps === 1 ? '' : 's'}</span></div>
</div>

<h2>Recoverable window</h2>
${windowBar(r)}
${
  r.recoverable_windows.length === 0
    ? '<p class="none">No point in the period can be reconstructed: no good dump inside a gap-free stretch of captured changes</p>'
    : table(
        ['From', 'To', 'Starts from backup'],
        r.recoverable_windows.map((w) => [esc(utc(w.from)), esc(utc(w.to)), code(w.backup_id)]),
      )
}
<p>Binlog retention on the server: ${
    r.coverage_now.binlog_retention_seconds === null
      ? '<span class="none">unknown</span>'
      : r.coverage_now.binlog_retention_seconds === 0
        ? 'never purged'
        : `${esc(duration(r.coverage_now.binlog_retention_seconds))} (binlogs before ${esc(utc(r.coverage_now.binlog_retention_horizon ?? ''))} may be gone)`
  }. Newest good dump: ${r.coverage_now.newest_dump_at === null ? '<span class="none">none</span>' : esc(utc(r.coverage_now.newest_dump_at))}.</p>
${
  r.coverage_now.warnings.length === 0
    ? ''
    : `<ul>${r.coverage_now.warnings.map((w) => `<li class="warn">${esc(w.message)}</li>`).join('')}</ul>`
}

<h2>Backups taken and verified</h2>
${
  r.backups.length === 0
    ? '<p class="none">No backups were taken in the period</p>'
    : table(
        ['Backup', 'Started', 'Finished', 'Status', 'Size', 'Coordinates', 'Verified'],
        r.backups.map((b) => [
          code(b.id),
          esc(utc(b.started_at)),
          esc(utc(b.finished_at)),
          b.status === 'succeeded'
            ? '<span class="good">succeeded</span>'
            : b.status === 'failed'
              ? `<span class="fail">failed</span>${b.error === null ? '' : `<br>${esc(b.error)}`}`
              : esc(b.status),
          b.size_bytes === null ? '' : esc(bytes(b.size_bytes)),
          b.coordinates === null
            ? ''
            : code(
                `${b.coordinates.file}:${b.coordinates.position}${b.coordinates.gtid === null ? '' : ` ${b.coordinates.gtid}`}`,
              ),
          b.verification === null
            ? b.status === 'succeeded'
              ? '<span class="warn">never verified</span>'
              : ''
            : `<span class="${b.verification.outcome === 'success' ? 'good' : 'fail'}">${b.verification.outcome === 'success' ? 'OK' : 'FAILED'}</span> ${esc(utc(b.verification.at))}${b.verification.signature === null ? '' : `<br>signature ${esc(b.verification.signature)}`}`,
        ]),
      )
}

<h2>Restore drills</h2>
${runsTable(r.drills, 'No drills recorded')}

<h2>Drift checks</h2>
${runsTable(r.drift_checks, 'No drift checks recorded')}

<h2>Gaps in captured changes</h2>
${
  r.gaps.length === 0
    ? '<p class="none">No gaps: every change in the captured history is present</p>'
    : table(
        ['Reason', 'From', 'To', 'Coordinates', 'Detail'],
        r.gaps.map((g) => [
          `<span class="fail">${esc(g.reason)}</span>`,
          esc(g.from_time === null ? 'unknown' : utc(g.from_time)),
          esc(g.to_time === null ? 'unknown' : utc(g.to_time)),
          code(`${g.from.file}:${g.from.position} to ${g.to.file}:${g.to.position}`),
          esc(g.detail),
        ]),
      )
}

<h2>Integrity of this record</h2>
<p>Audit log: ${
    r.audit_chain.ok
      ? `<span class="good">hash chain intact</span>, ${r.audit_chain.entries} entries`
      : `<span class="fail">hash chain BROKEN</span>: ${r.audit_chain.problems.map(esc).join('; ')}`
  }${
    r.audit_chain.head === null
      ? ''
      : `. Head (keep it: <code>dbtrail audit verify --anchor ${r.audit_chain.head.seq}:${r.audit_chain.head.hash}</code> later proves nothing was removed since): entry ${r.audit_chain.head.seq}, <code>${r.audit_chain.head.hash}</code>`
  }.</p>
<p>Manifests are signed with Ed25519 key ${
    r.signing_key === null
      ? '<span class="none">(no signing key in this home)</span>'
      : `${code(r.signing_key.key_id)}, public key ${code(r.signing_key.public_key)}`
  }.</p>
<footer>dbtrail compliance report, format version ${r.report_version}. Times are UTC. The same data is available as JSON with <code>--format json</code>.</footer>
</body>
</html>
`;
}

function windowBar(r: ReportJson): string {
  const from = Date.parse(r.period.from);
  const span = Date.parse(r.period.to) - from;
  if (span <= 0) return '';
  const segs = r.recoverable_windows
    .map((w) => {
      const left = ((Date.parse(w.from) - from) / span) * 100;
      const width = ((Date.parse(w.to) - Date.parse(w.from)) / span) * 100;
      return `<i style="left:${left.toFixed(3)}%;width:${Math.max(width, 0.2).toFixed(3)}%"></i>`;
    })
    .join('');
  return `<div class="bar" title="green: recoverable, red: not recoverable">${segs}</div><div class="scale"><span>${esc(utc(r.period.from))}</span><span>${esc(utc(r.period.to))}</span></div>`;
}

function runsTable(runs: readonly ReportRun[], none: string): string {
  if (runs.length === 0) return `<p class="none">${esc(none)}</p>`;
  return table(
    ['When', 'Result', 'By', 'Details'],
    runs.map((run) => [
      esc(utc(run.at)),
      run.outcome === 'success' ? '<span class="good">passed</span>' : '<span class="fail">failed</span>',
      esc(run.actor),
      code(JSON.stringify(run.details)),
    ]),
  );
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((row) => `<tr>${row.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function code(text: string): string {
  return `<code>${esc(text)}</code>`;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function utc(iso: string | null): string {
  if (iso === null || iso === '') return '';
  return `${iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')} UTC`;
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
