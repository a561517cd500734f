import { BackupIncompleteError, IllegalTransitionError } from './errors.js';

/**
 * The life of a backup in the catalog:
 *
 *   queued -> running -> uploading -> succeeded
 *      \         \           \
 *       `---------`-----------`---> failed -> uploading   (only when the dump step had finished)
 *
 * `running` is the dump step, `uploading` the upload step. Dump and upload are separate so that a failed upload
 * is retried from the local directory without dumping again: that is the one way out of `failed`. `succeeded`
 * is final.
 */
export const BACKUP_STATUSES = ['queued', 'running', 'uploading', 'succeeded', 'failed'] as const;
export type BackupStatus = (typeof BACKUP_STATUSES)[number];

/** Statuses in which work is under way: such a backup is neither finished nor deletable. */
export const ACTIVE_STATUSES: readonly BackupStatus[] = Object.freeze(['running', 'uploading']);

const NEXT: Readonly<Record<BackupStatus, readonly BackupStatus[]>> = Object.freeze({
  queued: ['running', 'failed'],
  running: ['uploading', 'failed'],
  uploading: ['succeeded', 'failed'],
  succeeded: [],
  failed: ['uploading'],
});

export function isBackupStatus(value: string): value is BackupStatus {
  return (BACKUP_STATUSES as readonly string[]).includes(value);
}

/** The statuses a backup may move to from `from`, before the dump-finished rule for `failed -> uploading`. */
export function nextStatuses(from: BackupStatus): readonly BackupStatus[] {
  return NEXT[from];
}

/** The statuses from which `to` may be reached. Backends use it to make the change a compare-and-set. */
export function previousStatuses(to: BackupStatus): readonly BackupStatus[] {
  return BACKUP_STATUSES.filter((from) => NEXT[from].includes(to));
}

export interface TransitionSubject {
  readonly id: string;
  readonly status: BackupStatus;
  /** When the dump step ended; null when it never did. */
  readonly dumpFinishedAt: Date | null;
}

/** Throws IllegalTransitionError unless the lifecycle allows `subject.status -> to`. */
export function checkTransition(subject: TransitionSubject, to: BackupStatus): void {
  const from = subject.status;
  const fields = { backupId: subject.id, from, to };
  if (!NEXT[from].includes(to)) {
    const allowed = NEXT[from];
    const detail =
      allowed.length === 0 ? `${from} is final` : `from ${from} only ${allowed.join(' or ')} is allowed`;
    throw new IllegalTransitionError(
      `Cannot change status of backup ${subject.id} from ${from} to ${to}: ${detail}`,
      { fields },
    );
  }
  if (from === 'failed' && to === 'uploading' && subject.dumpFinishedAt === null) {
    throw new IllegalTransitionError(
      `Cannot retry the upload of backup ${subject.id}: its dump step never finished, so there is nothing to upload`,
      { fields },
    );
  }
}

export interface CompletenessSubject {
  readonly id: string;
  readonly coordinates: unknown;
  readonly location: string | null;
}

/**
 * A backup is good only when a restore can use it: it must say where it is and from which binlog coordinates
 * changes are replayed. A dump without coordinates has lost users days of restore time; it is never "succeeded".
 */
export function checkComplete(subject: CompletenessSubject): void {
  const missing: string[] = [];
  if (subject.coordinates === null || subject.coordinates === undefined) missing.push('binlog coordinates');
  if (subject.location === null || subject.location === '') missing.push('location');
  if (missing.length > 0) {
    throw new BackupIncompleteError(
      `Cannot mark backup ${subject.id} succeeded: missing ${missing.join(' and ')}`,
      { fields: { backupId: subject.id, missing } },
    );
  }
}
