// Formatting for people: sizes in IEC units (as the CLI prints them), durations in words, times in the
// browser's own time zone with the UTC instant kept in a tooltip.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 4718592 -> "4.50 MiB". Sizes arrive as JSON numbers; the API keeps them below 2^53. */
export function formatBytes(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** 8200 -> "8.2 s", 192000 -> "3 min 12 s", 3840000 -> "1 h 4 min". */
export function formatDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const totalSeconds = Math.round(ms / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return minutes > 0 ? `${hours} h ${minutes} min` : `${hours} h`;
  return seconds > 0 ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

/** Milliseconds since the epoch of an ISO-8601 string, or null for anything else. */
export function parseTime(iso) {
  if (typeof iso !== 'string' || iso === '') return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

const sameYear = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const otherYear = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** "May 1, 10:15:02" in the browser's time zone (with the year when it is not this one); "—" when absent. */
export function formatTime(iso) {
  const ms = parseTime(iso);
  if (ms === null) return '—';
  const thisYear = new Date(ms).getFullYear() === new Date().getFullYear();
  return (thisYear ? sameYear : otherYear).format(ms);
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "3 minutes ago", "in 2 hours". */
export function formatRelative(iso, now = Date.now()) {
  const ms = parseTime(iso);
  if (ms === null) return '—';
  const seconds = Math.round((ms - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return seconds <= 0 ? 'just now' : 'in a few seconds';
  if (abs < 45 * 60) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 22 * 3600) return relative.format(Math.round(seconds / 3600), 'hour');
  if (abs < 26 * 86400) return relative.format(Math.round(seconds / 86400), 'day');
  return relative.format(Math.round(seconds / (30 * 86400)), 'month');
}

/** Backup and run statuses as a person reads them. */
export const STATUS_LABELS = Object.freeze({
  queued: 'Queued',
  running: 'Dumping',
  uploading: 'Uploading',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
});

export const ACTIVE_STATUSES = Object.freeze(['queued', 'running', 'uploading']);

export function statusLabel(status) {
  return STATUS_LABELS[status] ?? String(status ?? 'Unknown');
}
