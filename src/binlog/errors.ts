import { DbtrailError, type ErrorOptions } from '../lib/errors.js';

/** Bytes ran out before a field was complete: a truncated event or a length that lies. */
export class TruncatedError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BINLOG_TRUNCATED', 'input', message, options);
  }
}

/** Bytes are present but do not follow the format. */
export class MalformedEventError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BINLOG_MALFORMED', 'input', message, options);
  }
}

/** An event's CRC32 trailer does not match its bytes. */
export class ChecksumMismatchError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BINLOG_CHECKSUM_MISMATCH', 'integrity', message, options);
  }
}

/**
 * A binlog file is corrupt at a known byte offset. Everything before `fields.offset` was decoded and handed out
 * before this is thrown; `cause` holds the underlying decode error (`fields.reason` is its code).
 */
export class CorruptBinlogError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BINLOG_CORRUPT', 'input', message, options);
  }
}

/**
 * A binlog file ends inside an event: typically a file that is still being written. Everything before
 * `fields.offset` was decoded; a later read may find the rest. Distinct from corruption so callers can wait and retry.
 */
export class IncompleteEventError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BINLOG_INCOMPLETE_EVENT', 'input', message, options);
  }
}

/** A file handed to the binlog reader does not start with the binlog magic bytes. */
export class NotABinlogError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BINLOG_NOT_A_BINLOG', 'input', message, options);
  }
}

/** A rows event refers to a table id no TABLE_MAP event has described. */
export class MissingTableMapError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BINLOG_MISSING_TABLE_MAP', 'input', message, options);
  }
}

/** The binlog uses something this decoder cannot read (an encrypted binlog, an unknown compression algorithm). */
export class UnsupportedBinlogError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BINLOG_UNSUPPORTED', 'unsupported', message, options);
  }
}

/** A replication packet is larger than the configured maximum: refused before its bytes are buffered. */
export class PacketTooLargeError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BINLOG_PACKET_TOO_LARGE', 'input', message, options);
  }
}
