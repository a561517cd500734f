import { mkdir, readdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { lastLines, runTool } from '../backup/child.js';
import { preparePhysicalBackup, probePhysicalTool, type PhysicalTool } from '../backup/mariabackup.js';
import type { Logger } from '../log/logger.js';
import { MariaDbSandbox } from '../sandbox/mariadb.js';
import { RestoreStepError } from './errors.js';

/**
 * Physical restore: a fetched mariadb-backup/xtrabackup copy is prepared (redo applied), copied back into a new
 * datadir, and a server is started on that datadir so that captured changes can be replayed into it. The server
 * is private (its own socket and free port, as the sandbox runs it) and is stopped cleanly when the restore ends:
 * the result is a datadir any mariadbd can be started on.
 */
export async function checkNewDatadir(datadir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(datadir);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return;
    throw err;
  }
  if (entries.length > 0) {
    throw new RestoreStepError(
      `Cannot restore into datadir ${datadir}: it is not empty (${entries.length} entries); give a new or empty directory`,
      'conflict',
      { fields: { step: 'check', datadir } },
    );
  }
}

export async function prepareAndCopyBack(options: {
  readonly tool: PhysicalTool;
  readonly backupDir: string;
  readonly datadir: string;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
}): Promise<void> {
  const extra = {
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  };
  await preparePhysicalBackup({ tool: options.tool, dir: options.backupDir, ...extra });
  const info = await probePhysicalTool(
    options.tool,
    options.signal !== undefined ? { signal: options.signal } : {},
  );
  await mkdir(dirname(options.datadir), { recursive: true, mode: 0o700 });
  // --no-defaults: the prepared copy's own backup-my.cnf describes the InnoDB layout; /etc/mysql must not interfere.
  const result = await runTool(
    info.bin,
    ['--no-defaults', '--copy-back', `--target-dir=${options.backupDir}`, `--datadir=${options.datadir}`],
    extra,
  );
  if (result.code !== 0 || !/completed OK!/.test(result.output)) {
    throw new RestoreStepError(
      `Cannot copy the prepared backup into ${options.datadir}: ${options.tool} exited with ${result.code ?? result.signal}: ${lastLines(result.output)}`,
      'internal',
      { fields: { step: 'load', datadir: options.datadir } },
    );
  }
}

/** Starts a private server on the restored datadir (its socket and logs beside it). */
export async function startOnDatadir(datadir: string): Promise<MariaDbSandbox> {
  try {
    return await MariaDbSandbox.start({ datadir, startTimeoutMs: 120_000 });
  } catch (err) {
    throw new RestoreStepError(
      `Cannot start a server on the restored datadir ${datadir}: ${(err as Error).message}`,
      'internal',
      {
        cause: err,
        fields: { step: 'load', datadir },
      },
    );
  }
}
