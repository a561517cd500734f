import { DbtrailError, type ErrorOptions } from '../lib/errors.js';

/**
 * Errors of the agent: the worker that claims jobs and runs them near a database, embedded in `dbtrail server` or
 * standing alone as `dbtrail agent`.
 */
export class AgentError extends DbtrailError {}

/** A job the agent claimed cannot be run as given: no backup record, no server, an unknown kind. */
export class JobInvalidError extends AgentError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('AGENT_JOB_INVALID', 'input', message, options);
  }
}

/** The agent gave up a job it was running: the lease was lost or the agent is stopping. */
export class JobAbandonedError extends AgentError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('AGENT_JOB_ABANDONED', 'conflict', message, options);
  }
}

/** The control plane could not be reached, or answered with something other than the agent protocol. */
export class ControlPlaneError extends AgentError {
  readonly status: number | undefined;

  constructor(
    message: string,
    options: ErrorOptions & {
      readonly status?: number;
      readonly code?: string;
      readonly kind?: 'connection' | 'auth' | 'conflict' | 'not_found' | 'input' | 'internal';
    } = {},
  ) {
    super(options.code ?? 'AGENT_CONTROL_PLANE_FAILED', options.kind ?? 'connection', message, options);
    this.status = options.status;
  }
}

/** The agent's key could not be read, or was given in a way dbtrail refuses. */
export class AgentKeyError extends AgentError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('AGENT_KEY_INVALID', 'usage', message, options);
  }
}

/** A capture batch (or answer) on the agent protocol is not in the documented JSON form. */
export class WireFormatError extends AgentError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('AGENT_PROTOCOL_INVALID', 'input', message, options);
  }
}

/** A capture job cannot run: capture is not switched on for its server, or the control plane has no index. */
export class CaptureJobError extends AgentError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('AGENT_CAPTURE_REFUSED', 'conflict', message, options);
  }
}
