import { ColumnType, type CanonicalValue, type ColumnDef } from './column-types.js';
import { mariadbUncompress } from './compression.js';
import { Cursor } from './cursor.js';
import { MalformedEventError } from './errors.js';
import type { QueryBody, QueryStatusVars, UserVarBody } from './events.js';
import type { FormatDescription } from './format-description.js';
import { postHeaderLength } from './format-description.js';
import { decodeText } from './text.js';

/**
 * QUERY, QUERY_COMPRESSED and USER_VAR: the statement events.
 *
 * QUERY post-header (MySQL `statement_events.h` Query_event):
 *   offset 0  thread_id         4 bytes
 *   offset 4  exec_time         4 bytes
 *   offset 8  db_len            1 byte
 *   offset 9  error_code        2 bytes
 *   offset 11 status_vars_len   2 bytes (binlog v4)
 * Body: status variables (status_vars_len bytes), db name (db_len bytes) + NUL, query text to the end.
 */
const Q_THREAD_ID_OFFSET = 0;
const Q_EXEC_TIME_OFFSET = 4;
const Q_DB_LEN_OFFSET = 8;
const Q_ERR_CODE_OFFSET = 9;
const Q_STATUS_VARS_LEN_OFFSET = 11;
const QUERY_HEADER_MINIMAL_LEN = 11;

/** Status variable codes (MySQL `Query_event::Query_event_status_vars`, MariaDB `log_event.h`). */
const Q = {
  FLAGS2: 0,
  SQL_MODE: 1,
  CATALOG: 2,
  AUTO_INCREMENT: 3,
  CHARSET: 4,
  TIME_ZONE: 5,
  CATALOG_NZ: 6,
  LC_TIME_NAMES: 7,
  CHARSET_DATABASE: 8,
  TABLE_MAP_FOR_UPDATE: 9,
  MASTER_DATA_WRITTEN: 10,
  INVOKER: 11,
  UPDATED_DB_NAMES: 12,
  MICROSECONDS: 13,
  EXPLICIT_DEFAULTS_FOR_TIMESTAMP: 16,
  DDL_LOGGED_WITH_XID: 17,
  DEFAULT_COLLATION_FOR_UTF8MB4: 18,
  SQL_REQUIRE_PRIMARY_KEY: 19,
  DEFAULT_TABLE_ENCRYPTION: 20,
  HRNOW: 128,
  XID: 129,
  GTID_FLAGS3: 130,
  CHARACTER_SET_COLLATIONS: 131,
} as const;

/** MariaDB Gtid_log_event flags_extra bits that add an 8-byte start-alter sequence number. */
const FL_COMMIT_ALTER_E1 = 0x04;
const FL_ROLLBACK_ALTER_E1 = 0x08;
/** Q_UPDATED_DB_NAMES count meaning "too many databases to list". */
const OVER_MAX_DBS_IN_EVENT_MTS = 254;

function shortString(cur: Cursor, what: string): string {
  const len = cur.u8();
  return cur.bytes(len, what).toString('utf8');
}

/**
 * Parses status variables. An unknown code ends parsing (its length is unknowable); the remaining bytes are kept.
 * MariaDB 11.5+ writes Q_CHARACTER_SET_COLLATIONS before Q_CHARSET, so codes are not assumed to ascend.
 */
export function decodeStatusVars(cur: Cursor): QueryStatusVars {
  const v: QueryStatusVars = {};
  while (cur.remaining > 0) {
    const code = cur.u8();
    switch (code) {
      case Q.FLAGS2:
        v.flags2 = cur.u32();
        break;
      case Q.SQL_MODE:
        v.sqlMode = cur.u64();
        break;
      case Q.CATALOG: {
        // 5.0.0-5.0.3 masters: length, text, NUL.
        v.catalog = shortString(cur, 'catalog');
        cur.skip(1);
        break;
      }
      case Q.AUTO_INCREMENT:
        v.autoIncrementIncrement = cur.u16();
        v.autoIncrementOffset = cur.u16();
        break;
      case Q.CHARSET:
        v.charsetClient = cur.u16();
        v.collationConnection = cur.u16();
        v.collationServer = cur.u16();
        break;
      case Q.TIME_ZONE:
        v.timeZone = shortString(cur, 'time zone');
        break;
      case Q.CATALOG_NZ:
        v.catalog = shortString(cur, 'catalog');
        break;
      case Q.LC_TIME_NAMES:
        v.lcTimeNames = cur.u16();
        break;
      case Q.CHARSET_DATABASE:
        v.charsetDatabase = cur.u16();
        break;
      case Q.TABLE_MAP_FOR_UPDATE:
        v.tableMapForUpdate = cur.u64();
        break;
      case Q.MASTER_DATA_WRITTEN:
        v.masterDataWritten = cur.u32();
        break;
      case Q.INVOKER: {
        const user = shortString(cur, 'invoker user');
        const host = shortString(cur, 'invoker host');
        v.invoker = { user, host };
        break;
      }
      case Q.UPDATED_DB_NAMES: {
        const count = cur.u8();
        const names: string[] = [];
        if (count !== OVER_MAX_DBS_IN_EVENT_MTS) {
          for (let i = 0; i < count; i++)
            names.push(cur.nulTerminated('updated database name').toString('utf8'));
        }
        v.updatedDbNames = names;
        break;
      }
      case Q.MICROSECONDS:
        v.microseconds = cur.u24();
        break;
      case Q.EXPLICIT_DEFAULTS_FOR_TIMESTAMP:
        v.explicitDefaultsForTimestamp = cur.u8();
        break;
      case Q.DDL_LOGGED_WITH_XID:
        v.ddlXid = cur.u64();
        break;
      case Q.DEFAULT_COLLATION_FOR_UTF8MB4:
        v.defaultCollationForUtf8mb4 = cur.u16();
        break;
      case Q.SQL_REQUIRE_PRIMARY_KEY:
        v.sqlRequirePrimaryKey = cur.u8();
        break;
      case Q.DEFAULT_TABLE_ENCRYPTION:
        v.defaultTableEncryption = cur.u8();
        break;
      case Q.HRNOW:
        v.hrnow = cur.u24();
        break;
      case Q.XID:
        v.xid = cur.u64();
        break;
      case Q.GTID_FLAGS3: {
        const flags = cur.u8();
        v.gtidFlags3 = flags;
        if ((flags & (FL_COMMIT_ALTER_E1 | FL_ROLLBACK_ALTER_E1)) !== 0) v.startAlterSeqNo = cur.u64();
        break;
      }
      case Q.CHARACTER_SET_COLLATIONS: {
        const count = cur.u8();
        const pairs: (readonly [number, number])[] = [];
        for (let i = 0; i < count; i++) pairs.push([cur.u16(), cur.u16()]);
        v.characterSetCollations = pairs;
        break;
      }
      default:
        cur.pos -= 1;
        v.unparsed = Buffer.from(cur.rest());
    }
  }
  return v;
}

/** Decodes QUERY, or QUERY_COMPRESSED when `compressed` (the query text is MariaDB-compressed). */
export function decodeQuery(
  cur: Cursor,
  fde: FormatDescription,
  typeCode: number,
  compressed: boolean,
  maxDecompressedSize: number,
): QueryBody {
  const start = cur.pos;
  const postHeader = postHeaderLength(fde, typeCode);
  if (postHeader < QUERY_HEADER_MINIMAL_LEN) {
    throw new MalformedEventError(
      `Cannot decode QUERY event: post-header length is ${postHeader}, expected at least ${QUERY_HEADER_MINIMAL_LEN}`,
    );
  }
  cur.need(postHeader, 'query post-header');
  const buf = cur.buf;
  const threadId = buf.readUInt32LE(start + Q_THREAD_ID_OFFSET);
  const execTime = buf.readUInt32LE(start + Q_EXEC_TIME_OFFSET);
  const dbLen = buf[start + Q_DB_LEN_OFFSET] as number;
  const errorCode = buf.readUInt16LE(start + Q_ERR_CODE_OFFSET);
  const statusLen =
    postHeader >= QUERY_HEADER_MINIMAL_LEN + 2 ? buf.readUInt16LE(start + Q_STATUS_VARS_LEN_OFFSET) : 0;
  cur.pos = start + postHeader;
  const statusBytes = cur.bytes(statusLen, 'query status variables');
  const statusVars = decodeStatusVars(new Cursor(statusBytes));
  const schema = cur.bytes(dbLen, 'query schema name').toString('utf8');
  if (cur.u8() !== 0)
    throw new MalformedEventError('Cannot decode QUERY event: schema name is not NUL-terminated');
  let queryBytes = cur.rest();
  if (compressed)
    queryBytes = mariadbUncompress(queryBytes, 'QUERY_COMPRESSED query text', maxDecompressedSize);
  const query = decodeText(queryBytes, statusVars.charsetClient);
  return { kind: 'query', threadId, execTime, errorCode, schema, query, statusVars };
}

/** Item_result codes of USER_VAR (MySQL `statement_events.h` User_var_event::Value_type). */
const ITEM_RESULT = ['string', 'real', 'int', 'row', 'decimal'] as const;
/** User_var_event flags: the integer value is unsigned. */
const USER_VAR_UNSIGNED_F = 0x01;
const BINARY_COLLATION = 63;

/** A value decoder, as provided by `values/decode-value.ts`; injected to keep this module testable alone. */
export type ValueDecoder = (cur: Cursor, col: ColumnDef) => CanonicalValue;

/**
 * USER_VAR: name_len (4), name, is_null (1); unless NULL: type (1), collation (4), value_len (4), value, and an
 * optional flags byte (UNSIGNED_F). DECIMAL values are precision (1), scale (1), then the packed decimal, decoded by
 * the column value decoder as NEWDECIMAL(precision, scale).
 */
export function decodeUserVar(
  cur: Cursor,
  decodeValue: ValueDecoder,
  flavor: 'mysql' | 'mariadb',
): UserVarBody {
  const nameLen = cur.u32();
  const name = cur.bytes(nameLen, 'user variable name').toString('utf8');
  const isNull = cur.u8() !== 0;
  if (isNull)
    return {
      kind: 'user_var',
      name,
      valueType: undefined,
      collation: undefined,
      unsigned: false,
      value: null,
    };
  const typeCode = cur.u8();
  const collation = cur.u32();
  const valueLen = cur.u32();
  const bytes = cur.bytes(valueLen, 'user variable value');
  const unsigned = cur.remaining > 0 ? (cur.u8() & USER_VAR_UNSIGNED_F) !== 0 : false;
  const valueType: UserVarBody['valueType'] = ITEM_RESULT[typeCode] ?? `unknown_${typeCode}`;
  let value: CanonicalValue;
  switch (valueType) {
    case 'string':
      value =
        collation === BINARY_COLLATION
          ? { hex: bytes.toString('hex').toUpperCase() }
          : decodeText(bytes, collation);
      break;
    case 'real':
      if (bytes.length < 8)
        throw new MalformedEventError(
          `Cannot decode USER_VAR @${name}: REAL value is ${bytes.length} bytes, expected 8`,
        );
      value = String(bytes.readDoubleLE(0));
      break;
    case 'int':
      if (bytes.length < 8)
        throw new MalformedEventError(
          `Cannot decode USER_VAR @${name}: INT value is ${bytes.length} bytes, expected 8`,
        );
      value = (unsigned ? bytes.readBigUInt64LE(0) : bytes.readBigInt64LE(0)).toString();
      break;
    case 'decimal': {
      if (bytes.length < 2)
        throw new MalformedEventError(`Cannot decode USER_VAR @${name}: DECIMAL value is too short`);
      const precision = bytes[0] as number;
      const scale = bytes[1] as number;
      const col: ColumnDef = {
        index: 0,
        name: `@${name}`,
        type: ColumnType.NEWDECIMAL,
        meta: (precision << 8) | scale,
        nullable: false,
        unsigned: false,
        flavor,
      };
      value = decodeValue(new Cursor(bytes, 2), col);
      break;
    }
    default:
      value = { hex: bytes.toString('hex').toUpperCase() };
  }
  return { kind: 'user_var', name, valueType, collation, unsigned, value };
}
