import type { Cursor } from './cursor.js';
import { MalformedEventError } from './errors.js';
import { EventType } from './event-types.js';
import type {
  BinlogCheckpointBody,
  HeartbeatBody,
  IncidentBody,
  IntvarBody,
  RandBody,
  RotateBody,
  RowsQueryBody,
  XaPrepareBody,
  XidBody,
} from './events.js';
import type { FormatDescription } from './format-description.js';
import { postHeaderLength } from './format-description.js';
import type { EventHeader } from './header.js';

/**
 * Decoders for the small control events. Each takes a cursor at the start of the post-header whose `end` excludes
 * the checksum trailer, and returns the typed body. Layouts: MySQL `control_events.h` / `statement_events.h`,
 * MariaDB `log_event.h`.
 */

/** ROTATE: post-header `position` (8 bytes, when the FDE declares a post-header), body = next file name. */
export function decodeRotate(cur: Cursor, fde: FormatDescription): RotateBody {
  const position = postHeaderLength(fde, EventType.ROTATE) >= 8 ? cur.u64Number('rotate position') : 4;
  const nextFile = cur.rest().toString('utf8');
  return { kind: 'rotate', position, nextFile };
}

/** XID: body = 8-byte transaction id. */
export function decodeXid(cur: Cursor, fde: FormatDescription): XidBody {
  cur.skip(postHeaderLength(fde, EventType.XID));
  return { kind: 'xid', xid: cur.u64() };
}

/** HEARTBEAT (v1): body = current binlog name; the position is the header's log_pos. */
export function decodeHeartbeat(cur: Cursor, header: EventHeader): HeartbeatBody {
  return { kind: 'heartbeat', logFile: cur.rest().toString('utf8'), logPos: header.logPos };
}

/**
 * HEARTBEAT_V2 (MySQL 8.0.26+): TLV fields, each `type` and `length` in net_field_length format
 * (codecs/binary.cpp Heartbeat::decode): 0 = end mark, 1 = log file name (bytes), 2 = log position (packed int).
 */
export function decodeHeartbeatV2(cur: Cursor): HeartbeatBody {
  let logFile = '';
  let logPos = 0;
  while (cur.remaining > 0) {
    const type = cur.lenenc();
    if (type === 0) break;
    const length = cur.lenenc();
    if (length < 0) throw new MalformedEventError('Cannot decode HEARTBEAT_V2 event: NULL field length');
    if (type === 1) logFile = cur.bytes(length, 'heartbeat log file').toString('utf8');
    else if (type === 2) {
      const start = cur.pos;
      logPos = cur.lenenc();
      cur.pos = start + length;
    } else cur.skip(length);
  }
  return { kind: 'heartbeat', logFile, logPos };
}

/** INTVAR: type (1 byte: 1 LAST_INSERT_ID, 2 INSERT_ID), value (8 bytes). */
export function decodeIntvar(cur: Cursor): IntvarBody {
  const t = cur.u8();
  const intvarType: IntvarBody['intvarType'] =
    t === 1 ? 'LAST_INSERT_ID' : t === 2 ? 'INSERT_ID' : `UNKNOWN_${t}`;
  return { kind: 'intvar', intvarType, value: cur.u64() };
}

/** RAND: seed1, seed2 (8 bytes each). */
export function decodeRand(cur: Cursor): RandBody {
  return { kind: 'rand', seed1: cur.u64(), seed2: cur.u64() };
}

/** ROWS_QUERY (MySQL): post-header, then a 1-byte length that is ignored (it truncates at 255); the text runs to the end. */
export function decodeRowsQuery(cur: Cursor, fde: FormatDescription): RowsQueryBody {
  cur.skip(postHeaderLength(fde, EventType.ROWS_QUERY));
  cur.skip(1);
  return { kind: 'rows_query', query: cur.rest().toString('utf8') };
}

/** ANNOTATE_ROWS (MariaDB): the statement text is the whole body. */
export function decodeAnnotateRows(cur: Cursor, fde: FormatDescription): RowsQueryBody {
  cur.skip(postHeaderLength(fde, EventType.ANNOTATE_ROWS));
  return { kind: 'rows_query', query: cur.rest().toString('utf8') };
}

/** INCIDENT: incident number (2 bytes), message length (1 byte), message. */
export function decodeIncident(cur: Cursor): IncidentBody {
  const incident = cur.u16();
  const len = cur.remaining > 0 ? cur.u8() : 0;
  return { kind: 'incident', incident, message: cur.bytes(len, 'incident message').toString('utf8') };
}

/** BINLOG_CHECKPOINT (MariaDB): post-header = file name length (4 bytes), body = file name. */
export function decodeBinlogCheckpoint(cur: Cursor, fde: FormatDescription): BinlogCheckpointBody {
  const start = cur.pos;
  const len = cur.u32();
  cur.pos = start + postHeaderLength(fde, EventType.BINLOG_CHECKPOINT);
  return { kind: 'binlog_checkpoint', logFile: cur.bytes(len, 'checkpoint file name').toString('utf8') };
}

/**
 * XA_PREPARE (MySQL): one_phase (1 byte), formatID (4), gtrid_length (4), bqual_length (4), data.
 * MySQL rejects gtrid/bqual longer than 64 bytes (XA_prepare_event constructor); so do we.
 */
export function decodeXaPrepare(cur: Cursor, fde: FormatDescription): XaPrepareBody {
  cur.skip(postHeaderLength(fde, EventType.XA_PREPARE));
  const onePhase = cur.u8() !== 0;
  const formatId = cur.u32();
  const gtridLength = cur.u32();
  const bqualLength = cur.u32();
  if (gtridLength > 64 || bqualLength > 64) {
    throw new MalformedEventError(
      `Cannot decode XA_PREPARE event: gtrid length ${gtridLength} and bqual length ${bqualLength}, expected at most 64 each`,
    );
  }
  const gtrid = cur.bytesCopy(gtridLength, 'XA gtrid');
  const bqual = cur.bytesCopy(bqualLength, 'XA bqual');
  return { kind: 'xa_prepare', onePhase, formatId, gtrid, bqual };
}
