// The checks that prove a server's backups are worth something, as two facts on its card: the last restore drill
// (GET /api/v1/servers/{id}/drills?limit=1) and the last drift check (GET /api/v1/servers/{id}/drift-checks?limit=1),
// both answered by src/server/routes/checks.ts. A failed drill, drift found, or a check that could not run is
// shown in red, with a word as well as the colour. Pure DOM building; nothing here fetches.
import { h } from './dom.js';
import { formatDuration, formatRelative, formatTime } from './format.js';

const DRILL_LABELS = Object.freeze({ passed: 'Passed', failed: 'Failed' });
const DRIFT_LABELS = Object.freeze({ clean: 'Clean', drift: 'Drift found', error: 'Could not run' });

/** Good, or bad (red): the state a person must act on. */
export function drillState(drill) {
  return drill.status === 'passed' ? 'ok' : 'bad';
}

export function driftState(check) {
  return check.status === 'clean' ? 'ok' : 'bad';
}

/**
 * The last drill of a server: `drill` is the newest element of the API's `drills`, undefined when it has none,
 * null when the API did not say (an older control plane without the route).
 */
export function drillFact(drill, serverId) {
  if (drill === null) return null;
  if (drill === undefined) return fact('Last restore drill', 'drill', 'none', noneYet(), serverId);
  const state = drillState(drill);
  const details = [];
  if (drill.rto_ms !== null && drill.rto_ms !== undefined)
    details.push(`RTO ${formatDuration(drill.rto_ms)}`);
  details.push(drill.backup_id ? `backup ${shortId(drill.backup_id)}` : 'no backup restored');
  const differing = (drill.tables ?? []).filter((t) => t.match === false).length;
  if (differing > 0) details.push(`${differing} table${differing === 1 ? '' : 's'} differing`);
  return fact(
    'Last restore drill',
    'drill',
    state,
    [
      badge(state, DRILL_LABELS[drill.status] ?? String(drill.status)),
      ' ',
      when(drill.finished_at),
      h('div', { class: 'muted small', title: drill.backup_id ?? '' }, details.join(' · ')),
      state === 'bad' && drill.error ? h('div', { class: 'error-text small' }, drill.error) : null,
    ],
    serverId,
  );
}

/** The last drift check of a server, with the same undefined/null convention as `drillFact`. */
export function driftFact(check, serverId) {
  if (check === null) return null;
  if (check === undefined) return fact('Last drift check', 'drift', 'none', noneYet(), serverId);
  const state = driftState(check);
  let detail;
  if (check.status === 'error') {
    detail = h('div', { class: 'error-text small' }, check.error ?? 'No reason recorded');
  } else {
    const rows = check.drifted_rows;
    const tables = check.drifted_tables;
    detail = h(
      'div',
      { class: check.status === 'drift' ? 'error-text small' : 'muted small' },
      check.status === 'drift'
        ? `${count(rows, 'row')} in ${count(tables, 'table')} drifted`
        : 'No drifted rows',
      check.backup_id ? ` · backup ${shortId(check.backup_id)}` : '',
    );
  }
  return fact(
    'Last drift check',
    'drift',
    state,
    [badge(state, DRIFT_LABELS[check.status] ?? String(check.status)), ' ', when(check.at), detail],
    serverId,
  );
}

function fact(term, kind, state, value, serverId) {
  return h(
    'div',
    {
      class: `check check-${state}`,
      'data-check': kind,
      'data-state': state,
      id: `server-${serverId}-${kind}`,
    },
    h('dt', {}, term),
    h('dd', {}, value),
  );
}

function noneYet() {
  return h('span', { class: 'muted' }, 'None yet');
}

function badge(state, label) {
  return h('span', { class: `badge ${state === 'ok' ? 'status-succeeded' : 'status-failed'}` }, label);
}

function when(iso) {
  return h('span', { title: formatTime(iso) }, formatRelative(iso));
}

function count(n, noun) {
  if (typeof n !== 'number') return `some ${noun}s`;
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function shortId(id) {
  return String(id).slice(0, 8);
}
