// The dbtrail dashboard: sign in with an API key, then servers with their health and recoverability, schedules,
// and backup history, refreshed by polling (fast while a backup is under way). Plain DOM, no framework: the page
// is small, and everything it shows comes from the public REST API under /api/v1.

import { ApiError, createApiClient, itemsOf } from './api.js';
import { drillFact, driftFact } from './checks.js';
import { coverageDetails } from './coverage.js';
import { h, replace } from './dom.js';
import { scheduleHealth, serverHealth } from './health.js';
import {
  ACTIVE_STATUSES,
  formatBytes,
  formatDuration,
  formatRelative,
  formatTime,
  parseTime,
  statusLabel,
} from './format.js';
import { renderTimeline, timelineModel } from './timeline.js';

// sessionStorage: the key lives as long as the tab, is not shared with other tabs and never reaches disk as a
// cookie would; closing the tab signs out.
const KEY_STORAGE = 'dbtrail.apiKey';
const TENANT_STORAGE = 'dbtrail.tenant';
const FAST_POLL_MS = 1500;
const SLOW_POLL_MS = 15_000;
const HIDDEN_POLL_MS = 60_000;
const TIMELINE_REFRESH_MS = 30_000;
const HISTORY_LIMIT = 50;
const TIMELINE_LIMIT = 200;

const $ = (id) => document.getElementById(id);

const state = {
  servers: [],
  schedules: [],
  backups: [],
  /** serverId -> { backups, coverage, drill, drift, loadedAt } */
  timelines: new Map(),
  /** resource (`drills`, `drift-checks`) -> false once the API answered that it has no such route. */
  checkRoutes: new Map(),
  /** null until known; false once the API answered that it has no coverage route. */
  coverageRoute: null,
  /** serverId -> { backupId, backup, error } for "Back up now" presses, kept until the next press. */
  onDemand: new Map(),
  /** backupId -> status, to announce transitions once. */
  seen: new Map(),
  filters: { server: '', status: '' },
  loaded: false,
  pollTimer: undefined,
  editing: null,
};

const api = createApiClient({
  getKey: () => sessionStorage.getItem(KEY_STORAGE),
  // Whatever the page was doing, a rejected key (wrong, revoked) ends the session with the server's reason.
  onUnauthorized: (error) => signOut(error.message),
});

// ---------------------------------------------------------------- sign-in

function showSignIn(message = '') {
  $('app-view').hidden = true;
  $('sign-out').hidden = true;
  $('nav').hidden = true;
  $('sign-in-view').hidden = false;
  $('sign-in-error').textContent = message;
  $('api-key').setAttribute('aria-invalid', message === '' ? 'false' : 'true');
  $('api-key').focus();
}

function showApp() {
  const tenant = sessionStorage.getItem(TENANT_STORAGE) ?? '';
  $('tenant').textContent = tenant === '' ? '' : `Tenant ${tenant}`;
  $('sign-in-view').hidden = true;
  $('app-view').hidden = false;
  $('sign-out').hidden = false;
  $('nav').hidden = false;
}

function signOut(message = '') {
  sessionStorage.removeItem(KEY_STORAGE);
  sessionStorage.removeItem(TENANT_STORAGE);
  clearTimeout(state.pollTimer);
  state.pollTimer = undefined;
  state.servers = [];
  state.schedules = [];
  state.backups = [];
  state.timelines.clear();
  state.onDemand.clear();
  state.seen.clear();
  state.loaded = false;
  if ($('schedule-dialog').open) $('schedule-dialog').close();
  showSignIn(message);
}

async function signIn(event) {
  event.preventDefault();
  const key = $('api-key').value.trim();
  if (key === '') {
    showSignIn('Enter an API key: it starts with bt_live_');
    return;
  }
  const button = $('sign-in-button');
  button.disabled = true;
  $('sign-in-error').textContent = '';
  sessionStorage.setItem(KEY_STORAGE, key);
  try {
    const who = await api.get('/whoami');
    sessionStorage.setItem(TENANT_STORAGE, who?.tenant?.name ?? '');
    $('api-key').value = '';
    showApp();
    await refresh();
  } catch (error) {
    // A 401 has already brought the sign-in form back with its message.
    if (!(error instanceof ApiError && error.status === 401)) {
      sessionStorage.removeItem(KEY_STORAGE);
      showSignIn(error.message);
    }
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- loading

async function refresh() {
  clearTimeout(state.pollTimer);
  if (sessionStorage.getItem(KEY_STORAGE) === null) return;
  try {
    const query = new URLSearchParams({ limit: String(HISTORY_LIMIT) });
    if (state.filters.server !== '') query.set('server_id', state.filters.server);
    if (state.filters.status !== '') query.set('status', state.filters.status);
    const [servers, schedules, backups] = await Promise.all([
      api.get('/servers'),
      api.get('/schedules'),
      api.get(`/backups?${query}`),
    ]);
    state.servers = itemsOf(servers, 'servers');
    state.schedules = itemsOf(schedules, 'schedules');
    state.backups = itemsOf(backups, 'backups');
    // In order: a backup that just finished drops its server's timeline so that it is reloaded at once.
    await refreshOnDemand();
    await refreshTimelines();
    state.loaded = true;
    setBanner('');
    $('updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
    render();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    setBanner(`${error.message}. Retrying shortly.`);
  }
  schedulePoll();
}

/** Fast while anything is under way, so a person sees each status change; slow otherwise. */
function schedulePoll() {
  clearTimeout(state.pollTimer);
  if (sessionStorage.getItem(KEY_STORAGE) === null) return;
  const active =
    state.backups.some((b) => ACTIVE_STATUSES.includes(b.status)) ||
    [...state.onDemand.values()].some(
      (d) =>
        d.backupId !== undefined && (d.backup === undefined || ACTIVE_STATUSES.includes(d.backup.status)),
    );
  const delay = document.hidden ? HIDDEN_POLL_MS : active ? FAST_POLL_MS : SLOW_POLL_MS;
  state.pollTimer = setTimeout(() => void refresh(), delay);
}

async function refreshOnDemand() {
  await Promise.all(
    [...state.onDemand.entries()].map(async ([serverId, watch]) => {
      if (watch.backupId === undefined) return;
      if (watch.backup !== undefined && !ACTIVE_STATUSES.includes(watch.backup.status)) return;
      try {
        const backup = await api.get(`/backups/${encodeURIComponent(watch.backupId)}`);
        const before = watch.backup?.status;
        watch.backup = backup;
        if (before !== backup.status && !ACTIVE_STATUSES.includes(backup.status)) {
          // A finished backup changes what is recoverable: redraw that server's timeline now.
          state.timelines.delete(serverId);
        }
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) throw error;
        watch.error = error.message;
      }
    }),
  );
  for (const [serverId, watch] of state.onDemand) {
    const b = watch.backup;
    if (b?.id === undefined || state.seen.get(b.id) === b.status) continue;
    state.seen.set(b.id, b.status);
    const name = serverName(serverId);
    if (b.status === 'succeeded') {
      announce(
        `Backup of ${name} succeeded in ${formatDuration(b.duration_ms)}, ${formatBytes(b.size_bytes)}`,
      );
    } else if (b.status === 'failed') {
      announce(`Backup of ${name} failed: ${b.error?.message ?? 'no reason recorded'}`);
    } else {
      announce(`Backup of ${name}: ${statusLabel(b.status).toLowerCase()}`);
    }
  }
}

async function refreshTimelines() {
  const now = Date.now();
  await Promise.all(
    state.servers.map(async (server) => {
      const cached = state.timelines.get(server.id);
      if (cached !== undefined && now - cached.loadedAt < TIMELINE_REFRESH_MS) return;
      const [backups, coverage, drill, drift] = await Promise.all([
        api.get(`/backups?${new URLSearchParams({ server_id: server.id, limit: String(TIMELINE_LIMIT) })}`),
        loadCoverage(server.id),
        loadLastCheck(server.id, 'drills', 'drills'),
        loadLastCheck(server.id, 'drift-checks', 'drift_checks'),
      ]);
      state.timelines.set(server.id, {
        backups: itemsOf(backups, 'backups'),
        coverage,
        drill,
        drift,
        loadedAt: now,
      });
    }),
  );
}

/**
 * Captured change coverage of a server for its timeline, or null when the API does not report it. The contract
 * (see timeline.js, `timelineModel`): GET /api/v1/servers/{id}/coverage answers
 * { windows: [{from, to}], gaps: [{from, to, reason, detail}], binlog_retention_horizon }. When that route does
 * not exist the timeline shows the dumps alone and says so.
 */
async function loadCoverage(serverId) {
  if (state.coverageRoute === false) return null;
  try {
    const coverage = await api.get(`/servers/${encodeURIComponent(serverId)}/coverage`);
    state.coverageRoute = true;
    return coverage;
  } catch (error) {
    if (error instanceof ApiError && error.code === 'ROUTE_NOT_FOUND') {
      state.coverageRoute = false;
      return null;
    }
    if (error instanceof ApiError && error.status === 401) throw error;
    return null;
  }
}

/**
 * The newest restore drill or drift check of a server (src/server/routes/checks.ts): the record, undefined when
 * there is none yet, or null when the API cannot say (no such route, or it failed), so the card shows nothing
 * rather than a false "none yet".
 */
async function loadLastCheck(serverId, resource, listName) {
  if (state.checkRoutes.get(resource) === false) return null;
  try {
    const answer = await api.get(`/servers/${encodeURIComponent(serverId)}/${resource}?limit=1`);
    return itemsOf(answer, listName)[0];
  } catch (error) {
    if (error instanceof ApiError && error.code === 'ROUTE_NOT_FOUND') state.checkRoutes.set(resource, false);
    if (error instanceof ApiError && error.status === 401) throw error;
    return null;
  }
}

// ---------------------------------------------------------------- actions

async function backUpNow(server) {
  const watch = { backupId: undefined, backup: undefined, error: undefined, starting: true };
  state.onDemand.set(server.id, watch);
  render();
  try {
    const accepted = await api.post('/backup', { server_id: server.id });
    watch.backupId = accepted.backup_id;
    announce(`Backup of ${server.name} requested`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    const running = state.backups.find(
      (b) => b.server_id === server.id && ACTIVE_STATUSES.includes(b.status),
    );
    if (error instanceof ApiError && error.status === 409 && running !== undefined) {
      // Already running: follow that one rather than report a failure.
      watch.backupId = running.id;
    } else {
      watch.error = error.message;
      announce(`Cannot back up ${server.name}: ${error.message}`);
    }
  } finally {
    watch.starting = false;
  }
  if (watch.backupId === undefined) state.onDemand.set(server.id, { ...watch, backup: { status: 'failed' } });
  await refresh();
}

async function setEnabled(schedule, enabled, input) {
  input.disabled = true;
  try {
    const updated = await api.patch(`/schedules/${encodeURIComponent(schedule.id)}`, { enabled });
    Object.assign(schedule, updated ?? { enabled });
    announce(
      `Schedule ${schedule.cron} for ${serverName(schedule.server_id)} ${enabled ? 'enabled' : 'disabled'}`,
    );
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    input.checked = !enabled;
    setBanner(`Cannot ${enabled ? 'enable' : 'disable'} schedule: ${error.message}`);
  } finally {
    input.disabled = false;
  }
  await refresh();
}

// ---------------------------------------------------------------- schedule dialog

function openScheduleDialog(schedule = null) {
  state.editing = schedule;
  const form = $('schedule-form');
  form.reset();
  clearFieldErrors();
  $('schedule-dialog-title').textContent = schedule === null ? 'New schedule' : 'Edit schedule';
  $('schedule-save').textContent = schedule === null ? 'Create schedule' : 'Save changes';
  const select = $('schedule-server');
  replace(
    select,
    state.servers.map((server) => h('option', { value: server.id }, server.name)),
  );
  select.disabled = schedule !== null;
  if (schedule !== null) {
    select.value = schedule.server_id;
    $('schedule-cron').value = schedule.cron ?? '';
    $('schedule-timezone').value = schedule.timezone ?? 'UTC';
    $('schedule-tool').value = schedule.tool ?? 'mydumper';
    $('schedule-retention').value = String(schedule.retention_days ?? 30);
    $('schedule-prefix').value = schedule.s3_prefix ?? '';
    $('schedule-enabled').checked = schedule.enabled !== false;
  } else {
    $('schedule-timezone').value = 'UTC';
    $('schedule-retention').value = '30';
    $('schedule-enabled').checked = true;
  }
  $('schedule-dialog').showModal();
  (schedule === null ? select : $('schedule-cron')).focus();
}

async function saveSchedule(event) {
  event.preventDefault();
  clearFieldErrors();
  const editing = state.editing;
  const body = {
    cron: $('schedule-cron').value.trim(),
    timezone: $('schedule-timezone').value.trim() || 'UTC',
    tool: $('schedule-tool').value,
    enabled: $('schedule-enabled').checked,
  };
  const retention = $('schedule-retention').value.trim();
  // Sent as typed when it is not a whole number: the API's message names the field and the range.
  body.retention_days = /^\d+$/.test(retention) ? Number(retention) : retention;
  const prefix = $('schedule-prefix').value.trim();
  if (prefix !== '') body.s3_prefix = prefix;
  if (editing === null) body.server_id = $('schedule-server').value;

  const button = $('schedule-save');
  button.disabled = true;
  try {
    if (editing === null) await api.post('/schedules', body);
    else await api.patch(`/schedules/${encodeURIComponent(editing.id)}`, body);
    $('schedule-dialog').close();
    announce(editing === null ? 'Schedule created' : 'Schedule saved');
    await refresh();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    showFieldErrors(error);
  } finally {
    button.disabled = false;
  }
}

const FIELD_INPUTS = {
  server_id: 'schedule-server',
  cron: 'schedule-cron',
  timezone: 'schedule-timezone',
  tool: 'schedule-tool',
  retention_days: 'schedule-retention',
  s3_prefix: 'schedule-prefix',
  enabled: 'schedule-enabled',
};

function showFieldErrors(error) {
  const fields = error instanceof ApiError ? (error.fields ?? {}) : {};
  let first = null;
  for (const [name, problem] of Object.entries(fields)) {
    const id = FIELD_INPUTS[name];
    if (id === undefined || typeof problem !== 'string') continue;
    const input = $(id);
    input.setAttribute('aria-invalid', 'true');
    $(`${id}-error`).textContent = sentence(problem);
    first ??= input;
  }
  $('schedule-error').textContent = error.message;
  (first ?? $('schedule-cron')).focus();
}

function clearFieldErrors() {
  $('schedule-error').textContent = '';
  for (const id of Object.values(FIELD_INPUTS)) {
    $(id).removeAttribute('aria-invalid');
    const message = $(`${id}-error`);
    if (message) message.textContent = '';
  }
}

function sentence(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// ---------------------------------------------------------------- rendering

function render() {
  const focused = document.activeElement?.dataset?.focus;
  renderServers();
  renderSchedules();
  renderBackups();
  if (focused !== undefined) document.querySelector(`[data-focus="${CSS.escape(focused)}"]`)?.focus();
}

function renderServers() {
  const root = $('servers');
  if (state.servers.length === 0) {
    replace(
      root,
      emptyState(
        'No servers yet',
        'Register a MySQL or MariaDB server through the API (POST /api/v1/servers) and it appears here with its health and recoverability.',
      ),
    );
    return;
  }
  replace(root, state.servers.map(serverCard));
  for (const server of state.servers) drawTimeline(server);
}

function serverCard(server) {
  const health = serverHealth(server, state.schedules, state.timelines.get(server.id)?.backups ?? []);
  const headingId = `server-${server.id}-name`;
  const last = state.timelines.get(server.id)?.backups.find((b) => !ACTIVE_STATUSES.includes(b.status));
  const lastGood = state.timelines.get(server.id)?.backups.find((b) => b.status === 'succeeded');
  const schedules = state.schedules.filter((s) => s.server_id === server.id);
  const enabled = schedules.filter((s) => s.enabled !== false).length;
  const watch = state.onDemand.get(server.id);
  const active =
    watch?.starting === true ||
    (watch?.backup !== undefined
      ? ACTIVE_STATUSES.includes(watch.backup.status)
      : watch?.backupId !== undefined) ||
    state.backups.some((b) => b.server_id === server.id && ACTIVE_STATUSES.includes(b.status));

  return h(
    'article',
    { class: 'card server', 'aria-labelledby': headingId, 'data-server-id': server.id },
    h(
      'header',
      { class: 'server-head' },
      h(
        'div',
        {},
        h('h3', { id: headingId }, server.name),
        h('p', { class: 'muted mono' }, endpointOf(server)),
      ),
      healthBadge(health),
    ),
    health.reasons.length > 0
      ? h(
          'ul',
          { class: `reasons ${health.level}` },
          health.reasons.map((r) => h('li', {}, r)),
        )
      : null,
    h(
      'dl',
      { class: 'facts' },
      fact(
        'Last backup',
        last === undefined
          ? 'None yet'
          : [
              statusBadge(last.status),
              ' ',
              h(
                'span',
                { title: formatTime(last.finished_at ?? last.created_at) },
                formatRelative(last.finished_at ?? last.created_at),
              ),
            ],
      ),
      fact(
        'Newest good dump',
        lastGood === undefined
          ? 'None'
          : h('span', { title: formatTime(lastGood.finished_at) }, formatRelative(lastGood.finished_at)),
      ),
      fact('Schedules', schedules.length === 0 ? 'None' : `${enabled} of ${schedules.length} enabled`),
      // Until the server's timeline data has loaded, neither is known: show nothing rather than "none yet".
      state.timelines.has(server.id) ? drillFact(state.timelines.get(server.id).drill, server.id) : null,
      state.timelines.has(server.id) ? driftFact(state.timelines.get(server.id).drift, server.id) : null,
    ),
    h(
      'div',
      { class: 'actions' },
      h(
        'button',
        {
          type: 'button',
          class: 'primary',
          'data-focus': `backup-${server.id}`,
          'aria-describedby': `server-${server.id}-live`,
          disabled: active,
          onclick: () => void backUpNow(server),
        },
        active ? 'Backing up…' : 'Back up now',
      ),
      h('span', { id: `server-${server.id}-live`, class: 'live' }, onDemandStatus(watch)),
    ),
    h(
      'figure',
      { class: 'timeline-figure' },
      h('div', { class: 'timeline-box', 'data-timeline-for': server.id }),
      h('figcaption', { id: `server-${server.id}-timeline-caption` }),
      legend(),
    ),
  );
}

function onDemandStatus(watch) {
  if (watch === undefined) return null;
  if (watch.starting) return h('span', { class: 'muted' }, 'Requesting…');
  if (watch.error !== undefined && watch.backup?.id === undefined)
    return h('span', { class: 'error-text' }, watch.error);
  const b = watch.backup;
  if (b === undefined) return [statusBadge('queued'), ' waiting for an agent'];
  if (b.status === 'succeeded') {
    return [statusBadge('succeeded'), ` in ${formatDuration(b.duration_ms)} · ${formatBytes(b.size_bytes)}`];
  }
  if (b.status === 'failed') {
    return [
      statusBadge('failed'),
      ' ',
      h('span', { class: 'error-text' }, b.error?.message ?? 'no reason recorded'),
    ];
  }
  const since = parseTime(b.started_at ?? b.created_at);
  const elapsed = since === null ? '' : ` for ${formatDuration(Date.now() - since)}`;
  return [statusBadge(b.status), b.status === 'queued' ? ' waiting for an agent' : elapsed];
}

function drawTimeline(server) {
  const box = document.querySelector(`[data-timeline-for="${CSS.escape(server.id)}"]`);
  const data = state.timelines.get(server.id);
  if (box === null || data === undefined) return;
  const model = timelineModel({ backups: data.backups, coverage: data.coverage, now: Date.now() });
  replace(box, renderTimeline(model, { width: box.clientWidth || 720, label: server.name }));
  const caption = $(`server-${server.id}-timeline-caption`);
  replace(
    caption,
    h('strong', {}, 'Recoverability. '),
    model.summary,
    model.coverageKnown
      ? null
      : h('span', { class: 'muted' }, ' Captured change coverage appears here once the server reports it.'),
    ...coverageDetails(data.coverage, server.id),
  );
}

function legend() {
  const item = (cls, text) => h('li', {}, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text);
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    item('sw-dump', 'dump'),
    item('sw-failed', 'failed dump'),
    item('sw-band', 'changes captured'),
    item('sw-recoverable', 'recoverable'),
    item('sw-gap', 'gap'),
    item('sw-horizon', 'binlog retention horizon'),
  );
}

function renderSchedules() {
  const root = $('schedules');
  $('new-schedule').disabled = state.servers.length === 0;
  if (state.schedules.length === 0) {
    replace(
      root,
      emptyState(
        'No schedules yet',
        state.servers.length === 0
          ? 'Register a server first, then give it a schedule.'
          : 'A server without a schedule is backed up only when someone remembers to. Create one with “New schedule”.',
      ),
    );
    return;
  }
  const rows = state.schedules.map((schedule) => {
    const health = scheduleHealth(schedule);
    const label = `${serverName(schedule.server_id)} ${schedule.cron}`;
    const last = schedule.last_run ?? null;
    const lastAt = last?.time ?? last?.at ?? last?.finished_at ?? last?.started_at ?? null;
    return h(
      'tr',
      { 'data-schedule-id': schedule.id },
      h('th', { scope: 'row' }, serverName(schedule.server_id)),
      h(
        'td',
        {},
        h('code', {}, schedule.cron),
        h('div', { class: 'muted small' }, schedule.timezone ?? 'UTC'),
      ),
      h('td', {}, schedule.tool),
      h(
        'td',
        {},
        `${schedule.retention_days} days`,
        h('div', { class: 'muted small mono' }, schedule.s3_prefix ?? ''),
      ),
      h(
        'td',
        {},
        schedule.enabled === false
          ? h('span', { class: 'muted' }, 'Disabled')
          : h('span', { title: formatTime(schedule.next_run_at) }, formatRelative(schedule.next_run_at)),
        schedule.enabled === false
          ? null
          : h('div', { class: 'muted small' }, formatTime(schedule.next_run_at)),
      ),
      h(
        'td',
        {},
        last === null || last.status == null
          ? h('span', { class: 'muted' }, 'Never run')
          : [
              statusBadge(last.status),
              h('div', { class: 'muted small', title: formatTime(lastAt) }, formatRelative(lastAt)),
            ],
      ),
      h('td', {}, healthBadge(health)),
      h(
        'td',
        {},
        h(
          'label',
          { class: 'switch' },
          h('input', {
            type: 'checkbox',
            role: 'switch',
            checked: schedule.enabled !== false,
            'data-focus': `enabled-${schedule.id}`,
            'aria-label': `Enabled: ${label}`,
            onchange: (event) => void setEnabled(schedule, event.target.checked, event.target),
          }),
          h('span', { class: 'switch-track', 'aria-hidden': 'true' }),
        ),
      ),
      h(
        'td',
        {},
        h(
          'button',
          {
            type: 'button',
            'data-focus': `edit-${schedule.id}`,
            'aria-label': `Edit schedule ${label}`,
            onclick: () => openScheduleDialog(schedule),
          },
          'Edit',
        ),
      ),
    );
  });
  replace(
    root,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        {},
        h('caption', { class: 'visually-hidden' }, 'Backup schedules'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Server', 'When', 'Tool', 'Keeps', 'Next run', 'Last run', 'Health', 'Enabled', ''].map((t) =>
              h('th', { scope: 'col' }, t === '' ? h('span', { class: 'visually-hidden' }, 'Actions') : t),
            ),
          ),
        ),
        h('tbody', {}, rows),
      ),
    ),
  );
}

function renderBackups() {
  const root = $('backups');
  const serverFilter = $('filter-server');
  const keep = state.filters.server;
  replace(
    serverFilter,
    h('option', { value: '' }, 'All servers'),
    state.servers.map((server) => h('option', { value: server.id }, server.name)),
  );
  serverFilter.value = keep;
  if (state.backups.length === 0) {
    const filtered = state.filters.server !== '' || state.filters.status !== '';
    replace(
      root,
      emptyState(
        filtered ? 'No backups match these filters' : 'No backups yet',
        filtered
          ? 'Clear the filters to see every backup.'
          : 'Press “Back up now” on a server to take the first one; scheduled backups appear here as they run.',
      ),
    );
    return;
  }
  const rows = state.backups.map((b) =>
    h(
      'tr',
      { 'data-backup-id': b.id, 'data-status': b.status },
      h('td', {}, statusBadge(b.status)),
      h('th', { scope: 'row' }, b.server_name ?? serverName(b.server_id)),
      h('td', {}, b.tool),
      h('td', { class: 'nowrap' }, b.schedule_id ? 'Schedule' : 'On demand'),
      h(
        'td',
        { class: 'nowrap', title: formatRelative(b.started_at ?? b.created_at) },
        formatTime(b.started_at ?? b.created_at),
      ),
      h(
        'td',
        { class: 'num' },
        b.status === 'queued'
          ? '—'
          : ACTIVE_STATUSES.includes(b.status)
            ? elapsedSince(b)
            : formatDuration(b.duration_ms),
      ),
      h('td', { class: 'num' }, formatBytes(b.size_bytes)),
      h('td', { class: 'details' }, backupDetails(b)),
    ),
  );
  replace(
    root,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        {},
        h('caption', { class: 'visually-hidden' }, 'Backup history, newest first'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Status', 'Server', 'Tool', 'Trigger', 'Started', 'Duration', 'Size', 'Details'].map((t) =>
              h('th', { scope: 'col', class: t === 'Duration' || t === 'Size' ? 'num' : null }, t),
            ),
          ),
        ),
        h('tbody', {}, rows),
      ),
    ),
  );
}

function backupDetails(b) {
  if (b.status === 'failed') {
    return h(
      'div',
      { class: 'error-text' },
      b.error?.message ?? 'Failed without a recorded reason',
      b.error?.code ? h('div', { class: 'muted small mono' }, b.error.code) : null,
    );
  }
  if (b.status === 'succeeded') {
    const coordinates = b.coordinates
      ? `${b.coordinates.file}:${b.coordinates.position}${b.coordinates.gtid ? ` · GTID ${b.coordinates.gtid}` : ''}`
      : '';
    return h(
      'div',
      {},
      h('div', { class: 'mono small', title: b.location ?? '' }, shorten(b.location ?? '', 48)),
      coordinates === '' ? null : h('div', { class: 'muted small mono' }, coordinates),
    );
  }
  return h('span', { class: 'muted' }, b.status === 'queued' ? 'Waiting for an agent' : 'In progress');
}

function elapsedSince(b) {
  const since = parseTime(b.started_at ?? b.created_at);
  return since === null ? '—' : `${formatDuration(Date.now() - since)} so far`;
}

// ---------------------------------------------------------------- small pieces

function healthBadge(health) {
  return h('span', { class: `badge health-${health.level}` }, health.label);
}

function statusBadge(status) {
  return h('span', { class: `badge status-${status}` }, statusLabel(status));
}

function fact(term, value) {
  return h('div', {}, h('dt', {}, term), h('dd', {}, value));
}

function emptyState(title, text) {
  return h(
    'div',
    { class: 'empty' },
    h('p', { class: 'empty-title' }, title),
    h('p', { class: 'muted' }, text),
  );
}

function endpointOf(server) {
  const user = server.username ?? server.user ?? server.connection?.user;
  const host = server.host ?? server.connection?.host ?? '?';
  const port = server.port ?? server.connection?.port;
  return `${user ? `${user}@` : ''}${host}${port ? `:${port}` : ''}`;
}

function serverName(serverId) {
  return (
    state.servers.find((s) => s.id === serverId)?.name ?? String(serverId ?? 'unknown server').slice(0, 8)
  );
}

function shorten(text, max) {
  return text.length <= max ? text : `…${text.slice(text.length - max + 1)}`;
}

function setBanner(message) {
  const banner = $('banner');
  banner.textContent = message;
  banner.hidden = message === '';
}

function announce(message) {
  const region = $('announcer');
  // Cleared first so that the same message twice is announced twice.
  region.textContent = '';
  setTimeout(() => {
    region.textContent = message;
  }, 50);
}

// ---------------------------------------------------------------- start

function start() {
  $('sign-in-form').addEventListener('submit', (event) => void signIn(event));
  $('sign-out').addEventListener('click', () => signOut('You have signed out'));
  $('new-schedule').addEventListener('click', () => openScheduleDialog(null));
  $('schedule-form').addEventListener('submit', (event) => void saveSchedule(event));
  $('schedule-cancel').addEventListener('click', () => $('schedule-dialog').close());
  $('filter-server').addEventListener('change', (event) => {
    state.filters.server = event.target.value;
    void refresh();
  });
  $('filter-status').addEventListener('change', (event) => {
    state.filters.status = event.target.value;
    void refresh();
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.loaded) void refresh();
  });
  let resizeTimer;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => state.servers.forEach(drawTimeline), 150);
  });

  if (sessionStorage.getItem(KEY_STORAGE) === null) {
    showSignIn();
  } else {
    showApp();
    void refresh();
  }
}

start();
