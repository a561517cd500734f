import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '../lib/errors.js';
import { CoordinatesMissingError, DumpFailedError, DumpMetadataError } from './errors.js';
import type { Coordinates } from './manifest.js';

/**
 * Reads the binlog coordinates out of mydumper's `metadata` file, in every format mydumper has written:
 *
 * - `legacy` (up to 0.13): an indented block after `SHOW MASTER STATUS:` with `Log:`, `Pos:` and `GTID:`; a
 *   MySQL GTID set is copied from SHOW MASTER STATUS as is, so it may continue on the following lines (the
 *   server puts a newline after each comma). A `SHOW SLAVE STATUS:` block that follows describes the server's
 *   own source and must not be mistaken for it.
 * - `master` (0.14-0.16): an ini section `[master]` with `File = `, `Position = `, `Executed_Gtid_Set = `.
 * - `source` (0.17-0.19): the same keys under `[source]`; with `--source-data` they become `SOURCE_LOG_FILE =
 *   "..."`, `SOURCE_LOG_POS = ` and `executed_gtid_set = "..."`.
 * - `source-commented` (0.20.2-5 and later, and `--source-data` with auto-position): the file and position
 *   are written as comments, `# SOURCE_LOG_FILE = "..."` / `# SOURCE_LOG_POS = ...`, so that myloader does not
 *   act on them; they are still the dump's coordinates.
 *
 * Any other section (`[replication]`, per-table sections) is ignored. mydumper 0.20.1 to 0.20.2-4 wrote no
 * coordinates at all: that, like any file without them, is a `CoordinatesMissingError`, because a backup that
 * cannot say where the binlog continues cannot start a window.
 */
export type MetadataFormat = 'legacy' | 'master' | 'source' | 'source-commented';

export interface DumpMetadata {
  readonly format: MetadataFormat;
  readonly coordinates: Coordinates;
  /** `Started dump at:` / `Finished dump at:` as written (server-local time, no zone), when present. */
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

const FILE_KEYS = new Set(['file', 'log', 'source_log_file', 'master_log_file']);
const POS_KEYS = new Set(['position', 'pos', 'source_log_pos', 'master_log_pos']);
const GTID_KEYS = new Set(['executed_gtid_set', 'gtid', 'gtid_binlog_pos']);

export function parseMydumperMetadata(text: string, fileName = 'metadata'): DumpMetadata {
  const lines = text.split(/\r?\n/);
  const startedAt = findStamp(lines, 'Started dump at:');
  const finishedAt = findStamp(lines, 'Finished dump at:');
  const legacyAt = lines.findIndex((l) => l.trim() === 'SHOW MASTER STATUS:');
  if (legacyAt !== -1) {
    return {
      format: 'legacy',
      coordinates: parseLegacy(lines, legacyAt + 1, fileName),
      startedAt,
      finishedAt,
    };
  }
  const sectionAt = lines.findIndex((l) => /^\s*\[(master|source)\]\s*$/i.test(l));
  if (sectionAt !== -1) {
    const section = /^\s*\[(\w+)\]/.exec(lines[sectionAt] as string)?.[1]?.toLowerCase() as
      'master' | 'source';
    const parsed = parseSection(lines, sectionAt + 1, fileName);
    const format: MetadataFormat = parsed.commented ? 'source-commented' : section;
    return { format, coordinates: parsed.coordinates, startedAt, finishedAt };
  }
  throw new CoordinatesMissingError(
    `Cannot read binlog coordinates from ${fileName}: it has no "SHOW MASTER STATUS:", [master] or [source] section (mydumper 0.20.1 to 0.20.2-4 write none; is binary logging on?)`,
    { fields: { file: fileName } },
  );
}

function findStamp(lines: readonly string[], label: string): string | null {
  for (const line of lines) {
    const at = line.indexOf(label);
    if (at !== -1) return line.slice(at + label.length).trim() || null;
  }
  return null;
}

/** The `Key: value` block up to the first blank line or the next unindented header. */
function parseLegacy(lines: readonly string[], from: number, fileName: string): Coordinates {
  let file: string | undefined;
  let pos: string | undefined;
  let gtid: string | undefined;
  for (let i = from; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === '') break;
    const m = /^\s*(\w+):\s*(.*?)\s*$/.exec(line);
    if (m === null) {
      // A continuation of a multi-line GTID set (MySQL prints `uuid:1-5,\nuuid:1-9`).
      if (gtid !== undefined && gtid.endsWith(',')) {
        gtid += line.trim();
        continue;
      }
      break;
    }
    const key = (m[1] as string).toLowerCase();
    const value = m[2] as string;
    if (FILE_KEYS.has(key)) file = value;
    else if (POS_KEYS.has(key)) pos = value;
    else if (GTID_KEYS.has(key)) gtid = value;
    else if (!/^\s/.test(line)) break;
  }
  return coordinates(file, pos, gtid, fileName, 'SHOW MASTER STATUS');
}

function parseSection(
  lines: readonly string[],
  from: number,
  fileName: string,
): { coordinates: Coordinates; commented: boolean } {
  const plain: Record<'file' | 'pos' | 'gtid', string | undefined> = {
    file: undefined,
    pos: undefined,
    gtid: undefined,
  };
  const commented: Record<'file' | 'pos' | 'gtid', string | undefined> = {
    file: undefined,
    pos: undefined,
    gtid: undefined,
  };
  let lastKey: 'file' | 'pos' | 'gtid' | undefined;
  for (let i = from; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^\s*\[.*\]\s*$/.test(line)) break;
    const m = /^\s*(#\s*)?([A-Za-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m === null) {
      const target = lastKey === 'gtid' ? (plain.gtid !== undefined ? plain : commented) : undefined;
      if (target?.gtid?.endsWith(',') && line.trim() !== '') target.gtid += unquote(line.trim());
      continue;
    }
    const isComment = m[1] !== undefined;
    const key = (m[2] as string).toLowerCase();
    const value = unquote(stripTrailingComment(m[3] as string));
    const slot = FILE_KEYS.has(key)
      ? 'file'
      : POS_KEYS.has(key)
        ? 'pos'
        : GTID_KEYS.has(key)
          ? 'gtid'
          : undefined;
    lastKey = slot;
    if (slot === undefined) continue;
    (isComment ? commented : plain)[slot] = value;
  }
  const file = plain.file ?? commented.file;
  const pos = plain.pos ?? commented.pos;
  const gtid = plain.gtid ?? commented.gtid;
  const usedComment =
    (plain.file === undefined && commented.file !== undefined) ||
    (plain.pos === undefined && commented.pos !== undefined);
  return { coordinates: coordinates(file, pos, gtid, fileName, 'source section'), commented: usedComment };
}

function stripTrailingComment(value: string): string {
  // `''  # It can be use to ...`: a comment after an unquoted or quoted value; file names never contain `#`.
  if (value.startsWith('"') || value.startsWith("'")) {
    const q = value[0] as string;
    const end = value.indexOf(q, 1);
    return end === -1 ? value : value.slice(0, end + 1);
  }
  const hash = value.indexOf(' #');
  return (hash === -1 ? value : value.slice(0, hash)).trim();
}

function unquote(value: string): string {
  if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
    return value.slice(1, -1);
  }
  return value;
}

function coordinates(
  file: string | undefined,
  pos: string | undefined,
  gtid: string | undefined,
  fileName: string,
  where: string,
): Coordinates {
  if (file === undefined || file === '' || pos === undefined || pos === '') {
    const missing = [file ? undefined : 'binlog file', pos ? undefined : 'position'].filter(
      (x) => x !== undefined,
    );
    throw new CoordinatesMissingError(
      `Cannot read binlog coordinates from ${fileName}: the ${where} has no ${missing.join(' and ')}`,
      { fields: { file: fileName } },
    );
  }
  if (!/^\d+$/.test(pos) || !Number.isSafeInteger(Number(pos))) {
    throw new DumpMetadataError(
      `Cannot read binlog coordinates from ${fileName}: position "${pos}" is not a whole number`,
      {
        fields: { file: fileName, position: pos },
      },
    );
  }
  const normalised = gtid?.replace(/\s+/g, '') ?? '';
  return { file, position: Number(pos), gtid: normalised === '' ? null : normalised };
}

/**
 * Reads `<dir>/metadata` after mydumper exits. mydumper writes `metadata.partial` first and renames it to
 * `metadata` only when it finished without error, so a `metadata.partial` still there means the dump failed,
 * whatever the exit code said.
 */
export async function readMydumperMetadata(dir: string): Promise<DumpMetadata> {
  const partial = join(dir, 'metadata.partial');
  if (await exists(partial)) {
    throw new DumpFailedError(
      `Cannot accept the dump in ${dir}: mydumper left metadata.partial, so it did not finish`,
      {
        fields: { dir },
      },
    );
  }
  const path = join(dir, 'metadata');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new DumpFailedError(`Cannot read ${path}: ${messageOf(err)}`, { fields: { dir }, cause: err });
  }
  return parseMydumperMetadata(text, path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
