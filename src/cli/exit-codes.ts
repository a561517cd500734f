import type { ErrorKind } from '../lib/errors.js';

/**
 * The one mapping from error kind to process exit code. Stable: scripts and systemd units depend on it.
 * 1 is reserved for "the command ran and found problems" (a failed doctor check, a failed verify).
 */
export const EXIT_CODES: Readonly<Record<ErrorKind, number>> = Object.freeze({
  check_failed: 1,
  usage: 2,
  input: 3,
  config: 4,
  connection: 5,
  auth: 6,
  not_found: 7,
  conflict: 8,
  integrity: 9,
  gap: 10,
  unsupported: 11,
  internal: 70,
});

export const EXIT_OK = 0;
/** Interrupted by SIGINT/SIGTERM before finishing. */
export const EXIT_INTERRUPTED = 130;

export function exitCodeFor(kind: ErrorKind): number {
  return EXIT_CODES[kind];
}
