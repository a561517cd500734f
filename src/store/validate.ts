import { isBackupStatus, type BackupStatus } from './backup-lifecycle.js';
import {
  BACKUP_TOOLS,
  DEFAULT_LIST_LIMIT,
  MAX_LIST_LIMIT,
  type BackupFacts,
  type BackupFailure,
  type BackupFilter,
  type BackupTool,
  type Coordinates,
  type NewBackup,
} from './catalog.js';
import { InvalidValueError } from './errors.js';
import { isUuid } from './ids.js';
import type { NewServer } from './servers.js';

/**
 * Checks of values handed to the store, shared by every backend so that they all refuse the same input with the
 * same message. Database constraints back these up; they are not the first line.
 */

/** Tenant and server names appear in object paths: keep them to one safe path segment. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function checkName(what: 'tenant' | 'server', name: string): void {
  if (!NAME.test(name)) {
    throw new InvalidValueError(
      `Cannot use ${what} name "${name}": expected 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit`,
      { fields: { [what]: name } },
    );
  }
}

export function checkId(what: string, id: string): void {
  if (!isUuid(id)) {
    throw new InvalidValueError(`Cannot use ${what} "${id}": expected a lower-case UUID`, {
      fields: { [what]: id },
    });
  }
}

function checkText(what: string, value: string, max = 4096): void {
  if (value.length === 0 || value.length > max) {
    throw new InvalidValueError(
      `Cannot record ${what}: expected 1 to ${max} characters, got ${value.length}`,
      {
        fields: { field: what },
      },
    );
  }
}

function checkCount(what: string, value: number, min = 0): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidValueError(
      `Cannot record ${what}: expected a whole number of at least ${min}, got ${value}`,
      {
        fields: { field: what, value },
      },
    );
  }
}

export function checkTool(tool: string): asserts tool is BackupTool {
  if (!(BACKUP_TOOLS as readonly string[]).includes(tool)) {
    throw new InvalidValueError(
      `Cannot record backup tool "${tool}": expected one of ${BACKUP_TOOLS.join(', ')}`,
      {
        fields: { tool },
      },
    );
  }
}

export function checkCoordinates(c: Coordinates): void {
  checkText('binlog file of the coordinates', c.file, 512);
  checkCount('binlog position of the coordinates', c.position);
  if (c.gtid !== null && c.gtid.length > 1_000_000) {
    throw new InvalidValueError('Cannot record coordinates: GTID set is longer than 1000000 characters');
  }
}

export function checkNewBackup(b: NewBackup): void {
  if (b.id !== undefined) checkId('backup id', b.id);
  checkId('tenant id', b.tenantId);
  checkName('server', b.serverName);
  if (b.serverId !== undefined && b.serverId !== null) checkId('server id', b.serverId);
  if (b.scheduleId !== undefined && b.scheduleId !== null) checkId('schedule id', b.scheduleId);
  checkTool(b.tool);
  if (b.toolVersion !== undefined && b.toolVersion !== null) checkText('tool version', b.toolVersion, 200);
  if (b.status !== undefined && b.status !== 'queued' && b.status !== 'running') {
    throw new InvalidValueError(
      `Cannot create backup with status "${String(b.status)}": expected queued or running`,
      {
        fields: { status: b.status },
      },
    );
  }
  if (b.localDir !== undefined && b.localDir !== null) checkText('local directory', b.localDir);
}

export function checkFacts(f: BackupFacts): void {
  if (f.tool !== undefined) checkTool(f.tool);
  if (f.toolVersion !== undefined) checkText('tool version', f.toolVersion, 200);
  if (f.coordinates !== undefined) checkCoordinates(f.coordinates);
  if (f.sizeBytes !== undefined) checkCount('backup size', f.sizeBytes);
  if (f.location !== undefined) checkText('backup location', f.location);
  if (f.localDir !== undefined) checkText('local directory', f.localDir);
}

export function checkFailure(e: BackupFailure | undefined, backupId: string): asserts e is BackupFailure {
  if (e === undefined || e.message.length === 0) {
    throw new InvalidValueError(
      `Cannot mark backup ${backupId} failed: expected an error message saying why`,
      {
        fields: { backupId },
      },
    );
  }
}

/** The validated filter with the limit resolved and the status list normalised. */
export interface CheckedFilter {
  readonly filter: BackupFilter;
  readonly statuses: readonly BackupStatus[];
  readonly limit: number;
}

export function checkFilter(f: BackupFilter): CheckedFilter {
  checkId('tenant id', f.tenantId);
  if (f.serverId !== undefined) checkId('server id', f.serverId);
  if (f.scheduleId !== undefined) checkId('schedule id', f.scheduleId);
  if (f.before !== undefined) checkId('backup id', f.before);
  const statuses: readonly BackupStatus[] =
    f.status === undefined ? [] : typeof f.status === 'string' ? [f.status] : f.status;
  for (const s of statuses) {
    if (!isBackupStatus(s)) {
      throw new InvalidValueError(`Cannot list backups with status "${String(s)}": not a backup status`, {
        fields: { status: s },
      });
    }
  }
  const limit = f.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new InvalidValueError(
      `Cannot list backups: limit must be between 1 and ${MAX_LIST_LIMIT}, got ${limit}`,
      {
        fields: { limit },
      },
    );
  }
  return { filter: f, statuses, limit };
}

export function checkNewServer(s: NewServer): void {
  if (s.id !== undefined) checkId('server id', s.id);
  checkId('tenant id', s.tenantId);
  checkName('server', s.name);
  checkText('server host', s.host, 255);
  if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) {
    throw new InvalidValueError(
      `Cannot register server "${s.name}": port must be 1 to 65535, got ${s.port}`,
      {
        fields: { port: s.port },
      },
    );
  }
  checkText('server user', s.username, 255);
}
