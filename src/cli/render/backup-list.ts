import { formatBytes, formatDuration } from '../../lib/progress.js';
import type { BackupRecord } from '../../store/catalog.js';

/** Table width when stdout is not a terminal: readable in a 120-column window and in logs. */
export const DEFAULT_TABLE_WIDTH = 120;

const GAP = '  ';
/** Error lines start under the SERVER column, so the eye finds them below their backup. */
const ERROR_INDENT = ' '.repeat(8 + GAP.length);

interface Column {
  readonly header: string;
  readonly cells: readonly string[];
  /** Narrowest it may be squeezed to when the table is too wide; undefined = never squeezed. */
  readonly min?: number;
  /** Widest it grows to; longer cells are cut with an ellipsis. */
  readonly max?: number;
}

/**
 * The human table of `dbtrail backup list`: one line per backup, fitted to `width` by cutting the coordinates,
 * then the server name, with an ellipsis. A failed backup gets a second line with its error, cut to the width:
 * error messages are sentences and would not fit in a column. Ids are shortened to 8 hex digits (commands that
 * take a backup id accept such a prefix); `--json` has full ids and untruncated values. Times are UTC.
 */
export function renderBackupTable(
  backups: readonly BackupRecord[],
  width: number = DEFAULT_TABLE_WIDTH,
): string {
  const columns: Column[] = [
    { header: 'ID', cells: backups.map((b) => b.id.slice(0, 8)) },
    { header: 'SERVER', cells: backups.map((b) => b.serverName), min: 8, max: 24 },
    { header: 'TOOL', cells: backups.map((b) => b.tool) },
    { header: 'STATUS', cells: backups.map((b) => b.status) },
    { header: 'STARTED (UTC)', cells: backups.map((b) => utcMinutes(b.startedAt)) },
    {
      header: 'DURATION',
      cells: backups.map((b) => (b.durationMs === null ? '-' : formatDuration(b.durationMs))),
    },
    { header: 'SIZE', cells: backups.map((b) => (b.sizeBytes === null ? '-' : formatBytes(b.sizeBytes))) },
    { header: 'COORDINATES', cells: backups.map(coordinates), min: 16, max: 64 },
  ];
  const widths = columns.map((c) =>
    Math.min(c.max ?? Infinity, Math.max(c.header.length, ...c.cells.map((s) => s.length))),
  );
  // Squeeze the coordinates first, then the server name, each down to its minimum.
  for (const i of [7, 1]) {
    const over = total(widths) - width;
    if (over <= 0) break;
    widths[i] = Math.max(columns[i]?.min ?? 0, (widths[i] ?? 0) - over);
  }
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => fit(cell, widths[i] ?? 0))
      .join(GAP)
      .trimEnd();
  const rows = [line(columns.map((c) => c.header))];
  backups.forEach((b, r) => {
    rows.push(line(columns.map((c) => c.cells[r] ?? '')));
    if (b.error !== null) {
      const text = `error: ${oneLine(b.error.message)}`;
      rows.push(ERROR_INDENT + fit(text, Math.max(20, width - ERROR_INDENT.length)).trimEnd());
    }
  });
  return `${rows.join('\n')}\n`;
}

function total(widths: readonly number[]): number {
  return widths.reduce((sum, w) => sum + w, 0) + GAP.length * (widths.length - 1);
}

function fit(text: string, width: number): string {
  if (text.length <= width) return text.padEnd(width);
  return `${text.slice(0, Math.max(0, width - 1))}…`;
}

function utcMinutes(date: Date | null): string {
  if (date === null) return '-';
  return date.toISOString().slice(0, 16).replace('T', ' ');
}

function coordinates(b: BackupRecord): string {
  if (b.coordinates === null) return '-';
  const { file, position, gtid } = b.coordinates;
  return gtid === null || gtid === ''
    ? `${file}:${position}`
    : `${file}:${position} ${gtid.replace(/\s+/g, '')}`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
