import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { lastLines, runTool, type ToolRunOptions } from './child.js';
import {
  CoordinatesMissingError,
  DumpFailedError,
  DumpMetadataError,
  DumpOptionsError,
  DumpToolError,
} from './errors.js';
import type { BackupTool, Coordinates } from './manifest.js';
import { clientGroup, writeOptionFile, type ClientOptions } from './option-file.js';

/**
 * The physical backup driver: `mariadb-backup` on MariaDB, Percona `xtrabackup` on MySQL (each only understands
 * its own server's InnoDB). Both copy the datadir while the server runs, so they must run on the database host.
 *
 * Coordinates: both write the binlog position they took under their backup lock to `xtrabackup_binlog_info`
 * (MariaDB 11 also as `mariadb_backup_binlog_info`): one line, tab-separated `file`, `position` and, when the
 * server has GTIDs, the GTID set (MariaDB `domain-server-seq` list; MySQL `uuid:ranges`, which older xtrabackup
 * quotes in single quotes and which may continue on further lines).
 *
 * The password goes in an option file passed as `--defaults-file`, which both tools require to be the first
 * argument; with it they read no other option file, so nothing from /etc/mysql changes the backup.
 */
export type PhysicalTool = Extract<BackupTool, 'mariadb-backup' | 'xtrabackup'>;

export function physicalToolFor(flavor: 'mysql' | 'mariadb'): PhysicalTool {
  return flavor === 'mariadb' ? 'mariadb-backup' : 'xtrabackup';
}

/** Refuses a physical tool that cannot read this server's files. */
export function checkPhysicalTool(tool: PhysicalTool, flavor: 'mysql' | 'mariadb'): void {
  if (tool !== physicalToolFor(flavor)) {
    throw new DumpOptionsError(
      `Cannot back up a ${flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} server with ${tool}: use ${physicalToolFor(flavor)} (each reads only its own server's InnoDB files)`,
      { fields: { tool, flavor } },
    );
  }
}

export const BINLOG_INFO_FILES = ['mariadb_backup_binlog_info', 'xtrabackup_binlog_info'] as const;

export function parseBinlogInfo(text: string, fileName = 'xtrabackup_binlog_info'): Coordinates {
  const lines = text.split(/\r?\n/);
  const first = lines[0]?.trim() ?? '';
  if (first === '') {
    throw new CoordinatesMissingError(
      `Cannot read binlog coordinates from ${fileName}: the file is empty (is binary logging on?)`,
      {
        fields: { file: fileName },
      },
    );
  }
  const parts = first.split(/\t+|\s+/);
  const file = parts[0] ?? '';
  const pos = parts[1] ?? '';
  if (pos === '') {
    throw new CoordinatesMissingError(
      `Cannot read binlog coordinates from ${fileName}: expected "file<TAB>position[<TAB>gtid]", got "${first}"`,
      {
        fields: { file: fileName },
      },
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
  let gtid = parts.slice(2).join('');
  for (const more of lines.slice(1)) {
    if (more.trim() === '' || !gtid.endsWith(',')) break;
    gtid += more.trim();
  }
  gtid = gtid.replace(/^'|'$/g, '').replace(/\s+/g, '');
  return { file, position: Number(pos), gtid: gtid === '' ? null : gtid };
}

export async function readBinlogInfo(dir: string): Promise<Coordinates> {
  for (const name of BINLOG_INFO_FILES) {
    let text: string;
    try {
      text = await readFile(join(dir, name), 'utf8');
    } catch {
      continue;
    }
    return parseBinlogInfo(text, join(dir, name));
  }
  throw new CoordinatesMissingError(
    `Cannot read binlog coordinates from ${dir}: no ${BINLOG_INFO_FILES.join(' or ')} (binary logging off on the server?)`,
    { fields: { dir } },
  );
}

/** Binaries to try for a tool, in order (mariadb-backup was called mariabackup before 10.5). */
export function binariesFor(tool: PhysicalTool): string[] {
  return tool === 'mariadb-backup' ? ['mariadb-backup', 'mariabackup'] : ['xtrabackup'];
}

export interface PhysicalToolInfo {
  readonly bin: string;
  readonly version: string;
}

/** Finds the tool and reads its version (`mariadb-backup based on MariaDB server 10.11.19-MariaDB ...`). */
export async function probePhysicalTool(
  tool: PhysicalTool,
  options: { bin?: string; signal?: AbortSignal } = {},
): Promise<PhysicalToolInfo> {
  const candidates = options.bin !== undefined ? [options.bin] : binariesFor(tool);
  let lastError: unknown;
  for (const bin of candidates) {
    try {
      const result = await runTool(
        bin,
        ['--version'],
        options.signal === undefined ? {} : { signal: options.signal },
      );
      const m = /(\d+\.\d+\.\d+(?:-[\w.]+)?)/.exec(result.output);
      if (result.code !== 0 || m === null) {
        throw new DumpToolError(
          `Cannot read the ${tool} version from ${bin} --version: ${lastLines(result.output)}`,
        );
      }
      return { bin, version: m[1] as string };
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError instanceof Error ? lastError : new DumpToolError(`Cannot run ${tool}`);
}

export interface PhysicalBackupOptions {
  readonly tool: PhysicalTool;
  readonly bin?: string;
  readonly connection: ClientOptions;
  /** An empty directory dbtrail created. */
  readonly targetDir: string;
  readonly threads: number;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
}

export interface PhysicalBackupRun {
  readonly tool: PhysicalToolInfo;
  readonly coordinates: Coordinates;
}

export function physicalBackupArgs(optionFile: string, targetDir: string, threads: number): string[] {
  // --defaults-file must come first for both tools.
  return [`--defaults-file=${optionFile}`, '--backup', `--target-dir=${targetDir}`, `--parallel=${threads}`];
}

export async function runPhysicalBackup(options: PhysicalBackupOptions): Promise<PhysicalBackupRun> {
  const info = await probePhysicalTool(options.tool, {
    ...(options.bin !== undefined ? { bin: options.bin } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  });
  const optionFile = await writeOptionFile({ client: clientGroup(options.connection) });
  try {
    const args = physicalBackupArgs(optionFile.path, options.targetDir, options.threads);
    options.logger?.info({ tool: options.tool, version: info.version, args }, `Running ${options.tool}`);
    await runChecked(info.bin, args, options.tool, 'back up', toolRunOptions(options));
    return { tool: info, coordinates: await readBinlogInfo(options.targetDir) };
  } finally {
    await optionFile.dispose();
  }
}

/**
 * Applies the redo log so the copied datadir is consistent (`--prepare`); needs no server connection. Run it on
 * a fetched copy before moving it into a datadir.
 */
export async function preparePhysicalBackup(options: {
  readonly tool: PhysicalTool;
  readonly dir: string;
  readonly bin?: string;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
}): Promise<void> {
  const info = await probePhysicalTool(options.tool, {
    ...(options.bin !== undefined ? { bin: options.bin } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  });
  // --no-defaults: the backup's own backup-my.cnf tells the tool the InnoDB layout; /etc/mysql must not interfere.
  await runChecked(
    info.bin,
    ['--no-defaults', '--prepare', `--target-dir=${options.dir}`],
    options.tool,
    'prepare',
    toolRunOptions(options),
  );
}

function toolRunOptions(options: { logger?: Logger; signal?: AbortSignal }): ToolRunOptions {
  return {
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  };
}

async function runChecked(
  bin: string,
  args: string[],
  tool: string,
  action: string,
  options: ToolRunOptions,
): Promise<void> {
  const result = await runTool(bin, args, options);
  // Both tools end a successful run with "completed OK!"; anything else is a failure whatever the exit code.
  if (result.code !== 0 || !/completed OK!/.test(result.output)) {
    throw new DumpFailedError(
      `Cannot ${action} with ${tool}: exited with ${result.code ?? result.signal}: ${lastLines(result.output)}`,
      {
        fields: { tool, exitCode: result.code },
      },
    );
  }
}
