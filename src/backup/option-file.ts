import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DumpOptionsError } from './errors.js';

/**
 * MySQL/MariaDB option files ("defaults files"), the one way dbtrail hands a password to mydumper, myloader,
 * mariadb-backup or xtrabackup: a password on argv is readable by every user of the host through `ps`.
 *
 * The file lives in its own `mkdtemp` directory (mode 0700) with mode 0600, and is removed when the tool is done
 * (and, as a last resort, when the process exits).
 *
 * Value syntax (MySQL manual, "Using Option Files"): leading and trailing spaces are dropped and `#` starts a
 * comment unless the value is quoted; inside a value, `\\`, `\"`, `\n`, `\t`, `\r` and `\b` are escapes. So every
 * value is written double-quoted with those characters escaped, which keeps any password intact.
 */
export interface ClientOptions {
  readonly user: string;
  readonly password?: string | undefined;
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  readonly socket?: string | undefined;
}

export type OptionGroups = Readonly<Record<string, Readonly<Record<string, string | number | undefined>>>>;

export function quoteOptionValue(value: string): string {
  if (value.includes('\0')) {
    throw new DumpOptionsError('Cannot write an option file: a value contains a NUL character');
  }
  const escaped = value
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t')
    .replaceAll('\b', '\\b');
  return `"${escaped}"`;
}

export function renderOptionFile(groups: OptionGroups): string {
  const out: string[] = [];
  for (const [group, options] of Object.entries(groups)) {
    if (!/^[A-Za-z0-9_-]+$/.test(group)) {
      throw new DumpOptionsError(
        `Cannot write an option file: group name "${group}" must be letters, digits, - or _`,
      );
    }
    out.push(`[${group}]`);
    for (const [key, value] of Object.entries(options)) {
      if (value === undefined) continue;
      if (!/^[a-z0-9_-]+$/.test(key)) {
        throw new DumpOptionsError(
          `Cannot write an option file: option name "${key}" must be lower-case letters, digits, - or _`,
        );
      }
      out.push(`${key}=${typeof value === 'number' ? String(value) : quoteOptionValue(value)}`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** The `[client]` options for a connection. */
export function clientGroup(options: ClientOptions): Record<string, string | number | undefined> {
  return {
    user: options.user,
    password: options.password,
    host: options.socket === undefined ? options.host : undefined,
    port: options.socket === undefined ? options.port : undefined,
    socket: options.socket,
  };
}

export interface OptionFile {
  readonly path: string;
  /** Removes the file and its private directory; safe to call more than once. */
  dispose(): Promise<void>;
}

const LIVE = new Set<string>();
let exitHookInstalled = false;

export async function writeOptionFile(groups: OptionGroups, baseDir: string = tmpdir()): Promise<OptionFile> {
  const text = renderOptionFile(groups);
  const dir = await mkdtemp(join(baseDir, 'dbtrail-cred-'));
  const path = join(dir, 'my.cnf');
  LIVE.add(dir);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const d of LIVE) rmSync(d, { recursive: true, force: true });
    });
  }
  try {
    await writeFile(path, text, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    LIVE.delete(dir);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    path,
    async dispose(): Promise<void> {
      LIVE.delete(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
