import { DbtrailError, type ErrorKind, type ErrorOptions } from '../../lib/errors.js';

/**
 * The source server answered a replication command with an ERR packet. `serverCode`, `sqlState` and
 * `serverMessage` are the server's own (also in `fields`), so callers can match on them: capture turns 1236
 * (binlog not found, purged, or a GTID state the server no longer has) into a gap.
 */
export class ReplicationServerError extends DbtrailError {
  readonly serverCode: number;
  readonly sqlState: string;
  readonly serverMessage: string;

  constructor(
    message: string,
    server: { readonly code: number; readonly sqlState: string; readonly message: string },
    options: ErrorOptions = {},
    code = 'SOURCE_REPLICATION_REFUSED',
    kind: ErrorKind = 'connection',
  ) {
    super(code, kind, message, {
      ...options,
      fields: {
        ...(options.fields ?? {}),
        serverCode: server.code,
        sqlState: server.sqlState,
        serverMessage: server.message,
      },
    });
    this.serverCode = server.code;
    this.sqlState = server.sqlState;
    this.serverMessage = server.message;
  }
}

/**
 * ER_SOURCE_FATAL_ERROR_READING_BINLOG / ER_MASTER_FATAL_ERROR_READING_BINLOG (1236): the requested binlog file,
 * position or GTID state is not on the server (typically purged). A subclass so callers can `instanceof` it; the
 * server's code stays in `serverCode`.
 */
export class BinlogUnavailableError extends ReplicationServerError {
  constructor(
    message: string,
    server: { readonly code: number; readonly sqlState: string; readonly message: string },
    options: ErrorOptions = {},
  ) {
    super(message, server, options, 'SOURCE_BINLOG_UNAVAILABLE', 'not_found');
  }
}

/** The replication connection closed or failed while streaming (server killed, network cut). */
export class ReplicationConnectionLostError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SOURCE_CONNECTION_LOST', 'connection', message, options);
  }
}

/** Nothing (no event, no heartbeat) arrived for longer than the heartbeat allowance: the connection is dead. */
export class HeartbeatTimeoutError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SOURCE_HEARTBEAT_TIMEOUT', 'connection', message, options);
  }
}

/** The server sent something the replication protocol does not allow at that point. */
export class ReplicationProtocolError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SOURCE_REPLICATION_PROTOCOL', 'connection', message, options);
  }
}

/** A start position given by the user is malformed or does not fit the server (a MySQL GTID set on MariaDB...). */
export class StartPositionError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SOURCE_START_POSITION_INVALID', 'input', message, options);
  }
}

/** The replica server id is invalid or equals the source's own server_id. */
export class ReplicaIdError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SOURCE_REPLICA_ID_INVALID', 'usage', message, options);
  }
}

/** The source writes no binary log, so there is nothing to stream. */
export class BinlogOffError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SOURCE_BINLOG_OFF', 'unsupported', message, options);
  }
}
