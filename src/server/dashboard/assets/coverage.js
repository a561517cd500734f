// Coverage facts of one server under its recoverability timeline: the recoverable windows, the binlog retention
// on the server and the dump warnings ("dump at least as often as binlogs are kept", "keep at least two retention
// cycles"), as GET /api/v1/servers/{id}/coverage reports them (src/server/dashboard/coverage.ts). Pure DOM
// building; nothing here fetches.
import { h } from './dom.js';
import { formatTime } from './format.js';

/** Elements for a coverage answer; an empty list when the API did not report coverage. */
export function coverageDetails(coverage, serverId) {
  if (!coverage) return [];
  const windows = coverage.recoverable_windows ?? [];
  const retention = coverage.binlog_retention_seconds;
  const items = [
    h(
      'li',
      { 'data-coverage': 'recoverable' },
      h('strong', {}, 'Recoverable: '),
      windows.length === 0
        ? 'no point in time (no good dump inside a gap-free stretch of captured changes)'
        : windows.map((w, i) => `${i > 0 ? '; ' : ''}${formatTime(w.from)} to ${formatTime(w.to)}`).join(''),
    ),
    h(
      'li',
      { 'data-coverage': 'retention' },
      h('strong', {}, 'Binlog retention on the server: '),
      retention === null || retention === undefined
        ? 'unknown until an agent reports it'
        : retention === 0
          ? 'never purged'
          : `${humanSeconds(retention)}; binlogs before ${formatTime(coverage.binlog_retention_horizon)} may be gone`,
    ),
  ];
  if (coverage.newest_dump_at !== undefined) {
    items.push(
      h(
        'li',
        { 'data-coverage': 'newest-dump' },
        h('strong', {}, 'Newest good dump: '),
        coverage.newest_dump_at === null
          ? 'none'
          : `${formatTime(coverage.newest_dump_at)} (${coverage.good_dumps} good in all)`,
      ),
    );
  }
  const warnings = (coverage.warnings ?? []).map((w) =>
    h('p', { class: 'coverage-warning', role: 'alert', 'data-warning': w.code }, '⚠ ', w.message),
  );
  return [h('ul', { class: 'coverage-facts', id: `server-${serverId}-coverage` }, ...items), ...warnings];
}

function humanSeconds(s) {
  if (s % 86400 === 0) return `${s / 86400} day${s === 86400 ? '' : 's'}`;
  if (s % 3600 === 0) return `${s / 3600} hour${s === 3600 ? '' : 's'}`;
  return `${Math.round(s / 60)} minutes`;
}
