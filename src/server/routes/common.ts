import type { Clock } from '../../lib/clock.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { Logger } from '../../log/logger.js';
import { DuplicateError, NotFoundError, StateConflictError } from '../../store/errors.js';
import type { StateStore } from '../../store/state-store.js';
import { HTTP_ERROR_CODES, HttpError } from '../errors.js';

/** What the control-plane routes work with; built once by createControlPlane. */
export interface RouteDeps {
  readonly store: StateStore;
  readonly clock: Clock;
  /** Seals server passwords before they reach the store. */
  readonly secrets: SecretBox;
  readonly logger: Logger;
  /** A server's binlog retention in seconds as its agents reported it, for health warnings; undefined when unknown. */
  readonly binlogRetentionSeconds?: (serverId: string) => number | null | undefined;
}

/**
 * Error codes of the control-plane API (besides the HTTP core's own). Public surface: clients match on them.
 */
export const API_ERROR_CODES = Object.freeze({
  notFound: 'NOT_FOUND',
  nameTaken: 'NAME_TAKEN',
  backupActive: 'BACKUP_ALREADY_ACTIVE',
  stateConflict: 'STATE_CONFLICT',
});

export const SERVER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const SERVER_NAME_RULE = '1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit';

/** A 400 for one body field, shaped like the schema validator's. */
export function fieldError(field: string, problem: string): HttpError {
  return new HttpError(
    400,
    HTTP_ERROR_CODES.validationFailed,
    `Cannot accept request body: ${field} ${problem}`,
    { fields: { [field]: problem } },
  );
}

/**
 * The store's not-found and conflict errors as API errors. Another tenant's record is "not found" in the store
 * already (scoped reads), so the API can never tell it apart from a record that does not exist.
 */
export function apiError(err: unknown, resource: string): unknown {
  if (err instanceof NotFoundError) {
    return new HttpError(404, API_ERROR_CODES.notFound, `Cannot find ${resource}: it does not exist`, {
      cause: err,
    });
  }
  if (err instanceof DuplicateError) {
    return new HttpError(409, API_ERROR_CODES.nameTaken, err.message, { cause: err, fields: err.fields });
  }
  if (err instanceof StateConflictError) {
    return new HttpError(409, API_ERROR_CODES.stateConflict, err.message, { cause: err, fields: err.fields });
  }
  return err;
}

/** Runs store work, translating its errors with `apiError`; `resource` names the record, e.g. `server <id>`. */
export async function storeCall<T>(resource: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw apiError(err, resource);
  }
}

export function iso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}
