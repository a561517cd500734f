import type { Cursor } from './cursor.js';
import { MalformedEventError, TruncatedError } from './errors.js';
import { EventType } from './event-types.js';
import type {
  GtidInterval,
  GtidListBody,
  MariadbGtidBody,
  MysqlGtidBody,
  PreviousGtidsBody,
} from './events.js';
import type { FormatDescription } from './format-description.js';
import { postHeaderLength } from './format-description.js';
import type { EventHeader } from './header.js';

/** A 16-byte UUID as MySQL prints it: lower-case 8-4-4-4-12. */
export function formatUuid(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * MySQL GTID_LOG_EVENT / ANONYMOUS_GTID_LOG_EVENT (untagged; `control_events.cpp` Gtid_event constructor):
 *   offset 0   flags                       1 byte (FLAG_MAY_HAVE_SBR)
 *   offset 1   SID                         16 bytes
 *   offset 17  GNO                         8 bytes (0 for anonymous)
 *   offset 25  logical timestamp typecode  1 byte (2), then last_committed (8), sequence_number (8)
 *   offset 42  immediate_commit_timestamp  7 bytes; bit 55 set = original_commit_timestamp (7 bytes) follows
 *              transaction_length          packed integer
 *              immediate_server_version    4 bytes; bit 31 set = original_server_version (4 bytes) follows
 *              commit_group_ticket         8 bytes, optional
 * Every field after the GNO is optional: older servers stop earlier.
 */
const LOGICAL_TIMESTAMP_TYPECODE = 2;
const COMMIT_TS_HAS_ORIGINAL = 1n << 55n;
const SERVER_VERSION_HAS_ORIGINAL = 0x80000000;

export function decodeMysqlGtid(cur: Cursor, header: EventHeader): MysqlGtidBody {
  const anonymous = header.typeCode === EventType.ANONYMOUS_GTID;
  const flags = cur.u8();
  const uuid = formatUuid(cur.bytes(16, 'GTID source id'));
  const gno = cur.u64();
  let lastCommitted: bigint | undefined;
  let sequenceNumber: bigint | undefined;
  let immediateCommitTimestamp: bigint | undefined;
  let originalCommitTimestamp: bigint | undefined;
  let transactionLength: bigint | undefined;
  let immediateServerVersion: number | undefined;
  let originalServerVersion: number | undefined;
  let commitGroupTicket: bigint | undefined;
  if (cur.remaining >= 1 && cur.u8() === LOGICAL_TIMESTAMP_TYPECODE) {
    lastCommitted = cur.u64();
    sequenceNumber = cur.u64();
    if (cur.remaining >= 7) {
      let ts = BigInt(cur.u48()) + (BigInt(cur.u8()) << 48n);
      if ((ts & COMMIT_TS_HAS_ORIGINAL) !== 0n) {
        ts &= ~COMMIT_TS_HAS_ORIGINAL;
        originalCommitTimestamp = BigInt(cur.u48()) + (BigInt(cur.u8()) << 48n);
      } else originalCommitTimestamp = ts;
      immediateCommitTimestamp = ts;
      if (cur.remaining >= 1) transactionLength = packedBigint(cur);
      if (cur.remaining >= 4) {
        let v = cur.u32();
        if ((v & SERVER_VERSION_HAS_ORIGINAL) !== 0) {
          v = v & ~SERVER_VERSION_HAS_ORIGINAL;
          originalServerVersion = cur.u32();
        } else originalServerVersion = v;
        immediateServerVersion = v;
        if (cur.remaining >= 8) commitGroupTicket = cur.u64();
      }
    }
  }
  return {
    kind: 'mysql_gtid',
    gtid: anonymous ? undefined : `${uuid}:${gno}`,
    uuid,
    tag: undefined,
    gno,
    flags,
    lastCommitted,
    sequenceNumber,
    immediateCommitTimestamp,
    originalCommitTimestamp,
    transactionLength,
    immediateServerVersion,
    originalServerVersion,
    commitGroupTicket,
  };
}

/** net_field_length_ll as a bigint (transaction lengths may be large). */
function packedBigint(cur: Cursor): bigint {
  const first = cur.u8();
  if (first < 0xfb) return BigInt(first);
  if (first === 0xfc) return BigInt(cur.u16());
  if (first === 0xfd) return BigInt(cur.u24());
  if (first === 0xfe) return cur.u64();
  throw new MalformedEventError(`Cannot read packed integer: invalid first byte 0x${first.toString(16)}`);
}

/**
 * Variable-length unsigned integer of MySQL's serialization library (`libs/mysql/serialization/readme.md`,
 * `variable_length_integers.h`): the number of trailing one bits of the first byte, plus one, is the byte count
 * (1..9); the value follows those marker bits, little-endian.
 */
export function readVarlenUnsigned(cur: Cursor): bigint {
  const first = cur.u8();
  let n = 1;
  while (n <= 8 && (first & (1 << (n - 1))) !== 0) n++;
  if (n === 1) return BigInt(first >> 1);
  cur.need(n - 1, 'variable-length integer');
  let rest = 0n;
  for (let i = n - 2; i >= 0; i--) rest = (rest << 8n) | BigInt(cur.buf[cur.pos + i] as number);
  cur.pos += n - 1;
  // n <= 8: the first byte holds (8 - n) value bits; n == 9: the first byte is all marker bits.
  if (n === 9) return rest;
  return BigInt(first >> n) | (rest << BigInt(8 - n));
}

/** Signed variant: zig-zag, the least significant bit is the sign. */
export function readVarlenSigned(cur: Cursor): bigint {
  const u = readVarlenUnsigned(cur);
  return (u & 1n) === 0n ? u >> 1n : -(u >> 1n) - 1n;
}

function varlenNumber(cur: Cursor, what: string): number {
  const v = readVarlenUnsigned(cur);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new MalformedEventError(`Cannot decode ${what}: value ${v} is out of range`);
  }
  return Number(v);
}

/**
 * GTID_TAGGED_LOG_EVENT (type 42, MySQL 8.3+), encoded by the serialization library (`control_events.h`
 * Gtid_event::define_fields): version, message size (counted from the version byte), last non-ignorable field id,
 * then (field id, value) pairs, all variable-length integers:
 *   0 flags, 1 uuid (16 varlen bytes), 2 gno (signed), 3 tag (length + bytes), 4 last_committed (signed),
 *   5 sequence_number (signed), 6 immediate_commit_timestamp, 7 original_commit_timestamp (optional),
 *   8 transaction_length, 9 immediate_server_version, 10 original_server_version (optional),
 *   11 commit_group_ticket (optional).
 * Unknown ignorable fields cannot be skipped (their size is not encoded), so decoding stops at the first one.
 */
const LAST_KNOWN_TAGGED_FIELD = 11;

export function decodeTaggedGtid(cur: Cursor): MysqlGtidBody {
  const messageStart = cur.pos;
  readVarlenUnsigned(cur); // serialization format version
  const size = varlenNumber(cur, 'GTID_TAGGED message size');
  const messageEnd = messageStart + size;
  if (messageEnd > cur.end || size < 1) {
    throw new TruncatedError(
      `Cannot decode GTID_TAGGED event: message size ${size} exceeds the ${cur.end - messageStart} bytes present`,
    );
  }
  const savedEnd = cur.end;
  cur.end = messageEnd;
  const lastNonIgnorable = varlenNumber(cur, 'GTID_TAGGED last non-ignorable field');
  if (lastNonIgnorable > LAST_KNOWN_TAGGED_FIELD) {
    throw new MalformedEventError(
      `Cannot decode GTID_TAGGED event: it requires field ${lastNonIgnorable}, this decoder knows fields up to ${LAST_KNOWN_TAGGED_FIELD}`,
    );
  }
  let flags = 0;
  const uuidBytes = Buffer.alloc(16);
  let gno = 0n;
  let tag = '';
  let lastCommitted: bigint | undefined;
  let sequenceNumber: bigint | undefined;
  let immediateCommitTimestamp: bigint | undefined;
  let originalCommitTimestamp: bigint | undefined;
  let transactionLength: bigint | undefined;
  let immediateServerVersion: number | undefined;
  let originalServerVersion: number | undefined;
  let commitGroupTicket: bigint | undefined;
  let lastId = -1;
  while (cur.remaining > 0) {
    const id = varlenNumber(cur, 'GTID_TAGGED field id');
    if (id <= lastId)
      throw new MalformedEventError(`Cannot decode GTID_TAGGED event: field ${id} follows field ${lastId}`);
    lastId = id;
    if (id > LAST_KNOWN_TAGGED_FIELD) break;
    switch (id) {
      case 0:
        flags = Number(readVarlenUnsigned(cur) & 0xffn);
        break;
      case 1:
        for (let i = 0; i < 16; i++) uuidBytes[i] = Number(readVarlenUnsigned(cur) & 0xffn);
        break;
      case 2:
        gno = readVarlenSigned(cur);
        break;
      case 3: {
        const len = varlenNumber(cur, 'GTID tag length');
        tag = cur.bytes(len, 'GTID tag').toString('utf8');
        break;
      }
      case 4:
        lastCommitted = readVarlenSigned(cur);
        break;
      case 5:
        sequenceNumber = readVarlenSigned(cur);
        break;
      case 6:
        immediateCommitTimestamp = readVarlenUnsigned(cur);
        break;
      case 7:
        originalCommitTimestamp = readVarlenUnsigned(cur);
        break;
      case 8:
        transactionLength = readVarlenUnsigned(cur);
        break;
      case 9:
        immediateServerVersion = Number(readVarlenUnsigned(cur) & 0xffffffffn);
        break;
      case 10:
        originalServerVersion = Number(readVarlenUnsigned(cur) & 0xffffffffn);
        break;
      case 11:
        commitGroupTicket = readVarlenUnsigned(cur);
        break;
    }
  }
  cur.end = savedEnd;
  cur.pos = messageEnd;
  const uuid = formatUuid(uuidBytes);
  return {
    kind: 'mysql_gtid',
    gtid: tag === '' ? `${uuid}:${gno}` : `${uuid}:${tag}:${gno}`,
    uuid,
    tag: tag === '' ? undefined : tag,
    gno,
    flags,
    lastCommitted,
    sequenceNumber,
    immediateCommitTimestamp,
    originalCommitTimestamp: originalCommitTimestamp ?? immediateCommitTimestamp,
    transactionLength,
    immediateServerVersion,
    originalServerVersion: originalServerVersion ?? immediateServerVersion,
    commitGroupTicket,
  };
}

/**
 * PREVIOUS_GTIDS (MySQL `Gtid_set::add_gtid_encoding`): an 8-byte header, then per source id: UUID (16 bytes),
 * in the tagged format a tag (varlen length + bytes), interval count (8 bytes), intervals (start, end exclusive;
 * 8 bytes each). Header: untagged = n_sids in the low 56 bits and format 0 in the top byte; tagged = format byte 1
 * in both the top and the low byte, n_sids in bits 8-55.
 */
export function decodePreviousGtids(cur: Cursor, fde: FormatDescription): PreviousGtidsBody {
  cur.skip(postHeaderLength(fde, EventType.PREVIOUS_GTIDS));
  const head = cur.u64();
  const format = Number(head >> 56n);
  if (format > 1)
    throw new MalformedEventError(`Cannot decode PREVIOUS_GTIDS event: unknown GTID set format ${format}`);
  const tagged = format === 1;
  const nSids = tagged ? Number((head >> 8n) & 0xffffffffffffn) : Number(head & 0xffffffffffffffn);
  // Each source id takes at least 24 bytes: refuse counts the event cannot hold before looping.
  if (nSids * 24 > cur.remaining) {
    throw new TruncatedError(
      `Cannot decode PREVIOUS_GTIDS event: ${nSids} source ids do not fit in ${cur.remaining} bytes`,
    );
  }
  const sids: { uuid: string; tag: string; intervals: GtidInterval[] }[] = [];
  for (let i = 0; i < nSids; i++) {
    const uuid = formatUuid(cur.bytes(16, 'GTID source id'));
    let tag = '';
    if (tagged) {
      const len = varlenNumber(cur, 'GTID tag length');
      tag = cur.bytes(len, 'GTID tag').toString('utf8');
    }
    const nIntervals = cur.u64Number('GTID interval count');
    if (nIntervals * 16 > cur.remaining) {
      throw new TruncatedError(
        `Cannot decode PREVIOUS_GTIDS event: ${nIntervals} intervals do not fit in ${cur.remaining} bytes`,
      );
    }
    const intervals: GtidInterval[] = [];
    for (let j = 0; j < nIntervals; j++) intervals.push({ start: cur.u64(), end: cur.u64() });
    sids.push({ uuid, tag, intervals });
  }
  return { kind: 'previous_gtids', gtidSet: formatGtidSet(sids), sids };
}

function formatIntervals(intervals: readonly GtidInterval[]): string {
  return intervals
    .map((iv) => (iv.end - 1n === iv.start ? `${iv.start}` : `${iv.start}-${iv.end - 1n}`))
    .join(':');
}

/** MySQL's text form: `uuid:1-5:7,uuid2:1-3:tag:1-2` (untagged intervals first, then each tag). */
export function formatGtidSet(
  sids: readonly { uuid: string; tag: string; intervals: readonly GtidInterval[] }[],
): string {
  const byUuid = new Map<string, { tag: string; intervals: readonly GtidInterval[] }[]>();
  for (const s of sids) {
    const list = byUuid.get(s.uuid) ?? [];
    list.push(s);
    byUuid.set(s.uuid, list);
  }
  const parts: string[] = [];
  for (const [uuid, list] of byUuid) {
    let text = uuid;
    for (const s of list) {
      if (s.intervals.length === 0) continue;
      text += s.tag === '' ? `:${formatIntervals(s.intervals)}` : `:${s.tag}:${formatIntervals(s.intervals)}`;
    }
    parts.push(text);
  }
  return parts.join(',');
}

/**
 * MariaDB GTID_EVENT (`sql/log_event.cc` Gtid_log_event): post-header seq_no (8), domain_id (4), flags2 (1),
 * then commit_id (8) if FL_GROUP_COMMIT_ID, else XA format_id (4) + gtrid_len (1) + bqual_len (1) + data if
 * FL_PREPARED_XA/FL_COMPLETED_XA; then, if bytes remain, flags_extra (1) with extra_engines (1) for
 * FL_EXTRA_MULTI_ENGINE, a start-alter seq_no (8) for FL_COMMIT_ALTER/FL_ROLLBACK_ALTER, and a thread id (4) for
 * FL_EXTRA_THREAD_ID (11.x). The event is zero-padded to its 19-byte post-header.
 */
const FL_STANDALONE = 0x01;
const FL_GROUP_COMMIT_ID = 0x02;
const FL_PREPARED_XA = 0x40;
const FL_COMPLETED_XA = 0x80;
const FL_EXTRA_MULTI_ENGINE = 0x01;
const FL_COMMIT_ALTER = 0x04;
const FL_ROLLBACK_ALTER = 0x08;
const FL_EXTRA_THREAD_ID = 0x10;

export function decodeMariadbGtid(cur: Cursor, header: EventHeader): MariadbGtidBody {
  const seqNo = cur.u64();
  const domainId = cur.u32();
  const flags2 = cur.u8();
  let commitId: bigint | undefined;
  let xa: MariadbGtidBody['xa'];
  if ((flags2 & FL_GROUP_COMMIT_ID) !== 0) commitId = cur.u64();
  if ((flags2 & (FL_PREPARED_XA | FL_COMPLETED_XA)) !== 0) {
    const formatId = cur.u32();
    const gtridLen = cur.u8();
    const bqualLen = cur.u8();
    if (gtridLen > 64 || bqualLen > 64) {
      throw new MalformedEventError(
        `Cannot decode GTID event: XA gtrid length ${gtridLen} and bqual length ${bqualLen}, expected at most 64 each`,
      );
    }
    xa = { formatId, gtrid: cur.bytesCopy(gtridLen, 'XA gtrid'), bqual: cur.bytesCopy(bqualLen, 'XA bqual') };
  }
  let flagsExtra = 0;
  let extraEngines: number | undefined;
  let startAlterSeqNo: bigint | undefined;
  let threadId: number | undefined;
  if (cur.remaining > 0) {
    flagsExtra = cur.u8();
    if ((flagsExtra & FL_EXTRA_MULTI_ENGINE) !== 0) extraEngines = cur.u8();
    if ((flagsExtra & (FL_COMMIT_ALTER | FL_ROLLBACK_ALTER)) !== 0) startAlterSeqNo = cur.u64();
    if ((flagsExtra & FL_EXTRA_THREAD_ID) !== 0) threadId = cur.u32();
  }
  cur.pos = cur.end;
  return {
    kind: 'mariadb_gtid',
    gtid: `${domainId}-${header.serverId}-${seqNo}`,
    domainId,
    seqNo,
    flags2,
    standalone: (flags2 & FL_STANDALONE) !== 0,
    commitId,
    xa,
    flagsExtra,
    extraEngines,
    startAlterSeqNo,
    threadId,
  };
}

/**
 * MariaDB GTID_LIST: count_and_flags (4 bytes: count in the low 28 bits, flags in the top 4), then count entries
 * of domain_id (4), server_id (4), seq_no (8).
 */
export function decodeGtidList(cur: Cursor): GtidListBody {
  const countAndFlags = cur.u32();
  const count = countAndFlags & 0x0fffffff;
  if (count * 16 > cur.remaining) {
    throw new TruncatedError(
      `Cannot decode GTID_LIST event: ${count} entries do not fit in ${cur.remaining} bytes`,
    );
  }
  const gtids: string[] = [];
  for (let i = 0; i < count; i++) {
    const domain = cur.u32();
    const server = cur.u32();
    const seq = cur.u64();
    gtids.push(`${domain}-${server}-${seq}`);
  }
  return { kind: 'gtid_list', flags: countAndFlags >>> 28, gtids };
}
