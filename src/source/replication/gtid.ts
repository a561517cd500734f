import { formatGtidSet } from '../../binlog/decode-gtid.js';
import { StartPositionError } from './errors.js';

/**
 * GTID positions as the replication client takes them: a MySQL GTID set (`uuid:1-5:7,uuid2:tag:1-3`), kept as
 * normalised intervals and encoded for COM_BINLOG_DUMP_GTID, and a MariaDB GTID list (`0-1-100,1-2-5`), passed to
 * the server in `@slave_connect_state`. Sequence numbers are bigint: they are 64-bit on both servers.
 */

/** Largest GNO MySQL assigns (GNO_END - 1 = 2^63 - 2); intervals are stored with an exclusive end. */
const MAX_GNO = (1n << 63n) - 2n;
const UUID_RE = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/;
/** MySQL 8.3+ tags: a letter or underscore, then letters, digits or underscores, 32 characters at most. */
const TAG_RE = /^[a-z_][a-z0-9_]{0,31}$/;
const GNO_RE = /^\d+$/;

interface Interval {
  /** Inclusive. */
  start: bigint;
  /** Exclusive, as MySQL encodes it. */
  end: bigint;
}

interface SidEntry {
  readonly uuid: string;
  readonly tag: string;
  intervals: Interval[];
}

/** A MySQL GTID set: source ids (UUID + optional tag) with sorted, disjoint, non-adjacent GNO intervals. */
export class MysqlGtidSet {
  readonly #sids = new Map<string, SidEntry>();

  /** Parses MySQL's text form; whitespace (as in `@@gtid_executed` output) is ignored. '' is the empty set. */
  static parse(text: string): MysqlGtidSet {
    const set = new MysqlGtidSet();
    const compact = text.replace(/\s+/g, '');
    if (compact === '') return set;
    for (const part of compact.split(',')) {
      const fields = part.split(':');
      const uuid = normaliseUuid(fields[0] ?? '', text);
      if (fields.length < 2)
        throw gtidSyntax(text, `"${part}" has no transaction numbers (expected uuid:1-5)`);
      let tag = '';
      let sawInterval = false;
      for (const field of fields.slice(1)) {
        if (field === '') throw gtidSyntax(text, `"${part}" has an empty field`);
        if (/^\d/.test(field)) {
          const [a, b, ...rest] = field.split('-');
          if (rest.length > 0 || a === undefined || !GNO_RE.test(a) || (b !== undefined && !GNO_RE.test(b))) {
            throw gtidSyntax(text, `"${field}" is not a transaction number or range (expected 7 or 1-5)`);
          }
          const start = BigInt(a);
          const last = b === undefined ? start : BigInt(b);
          if (start < 1n || last > MAX_GNO || last < start) {
            throw gtidSyntax(text, `"${field}" must be a range within 1-${MAX_GNO} with start <= end`);
          }
          set.#addInterval(uuid, tag, start, last + 1n);
          sawInterval = true;
        } else {
          const lower = field.toLowerCase();
          if (!TAG_RE.test(lower)) {
            throw gtidSyntax(
              text,
              `"${field}" is neither a transaction range nor a valid tag ([a-z_][a-z0-9_]{0,31})`,
            );
          }
          tag = lower;
          sawInterval = false;
        }
      }
      if (!sawInterval) throw gtidSyntax(text, `"${part}" ends without transaction numbers`);
    }
    return set;
  }

  get isEmpty(): boolean {
    return this.#sids.size === 0;
  }

  /** Adds one transaction (as read from a GTID event). */
  add(uuid: string, tag: string | undefined, gno: bigint): void {
    this.#addInterval(uuid.toLowerCase(), tag ?? '', gno, gno + 1n);
  }

  /** Adds the transactions `start` (inclusive) to `end` (exclusive), as PREVIOUS_GTIDS stores them. */
  addRange(uuid: string, tag: string | undefined, start: bigint, end: bigint): void {
    if (end > start) this.#addInterval(uuid.toLowerCase(), tag ?? '', start, end);
  }

  has(uuid: string, tag: string | undefined, gno: bigint): boolean {
    const entry = this.#sids.get(key(uuid.toLowerCase(), tag ?? ''));
    return entry?.intervals.some((iv) => iv.start <= gno && gno < iv.end) ?? false;
  }

  clone(): MysqlGtidSet {
    const copy = new MysqlGtidSet();
    for (const [k, e] of this.#sids) {
      copy.#sids.set(k, { uuid: e.uuid, tag: e.tag, intervals: e.intervals.map((iv) => ({ ...iv })) });
    }
    return copy;
  }

  /** MySQL's text form, source ids sorted by UUID, the untagged intervals of a UUID before its tags. */
  toString(): string {
    return formatGtidSet(this.#sorted());
  }

  /**
   * `Gtid_set::encode` (MySQL `sql/rpl_gtid_set.cc`), as COM_BINLOG_DUMP_GTID expects it:
   *   offset 0  8 bytes  header: untagged format = n_sids; tagged format (any tag present, MySQL 8.3+) =
   *                      format byte 1 in bits 56-63 and 0-7, n_sids in bits 8-55
   *   then, per source id:
   *             16 bytes UUID
   *             tagged format only: tag as a varlen length + bytes (`mysql/serialization`: a length below 128
   *                      is one byte, length << 1; tags are at most 32 bytes)
   *              8 bytes n_intervals
   *             16 bytes per interval: start (8), end exclusive (8)
   * The server rejects intervals that are not ascending and disjoint, so they are kept normalised.
   */
  encode(): Buffer {
    const sids = this.#sorted();
    const tagged = sids.some((s) => s.tag !== '');
    let size = 8;
    for (const s of sids) size += 16 + (tagged ? 1 + s.tag.length : 0) + 8 + 16 * s.intervals.length;
    const out = Buffer.alloc(size);
    const n = BigInt(sids.length);
    out.writeBigUInt64LE(tagged ? (1n << 56n) | (n << 8n) | 1n : n, 0);
    let o = 8;
    for (const s of sids) {
      o += Buffer.from(s.uuid.replace(/-/g, ''), 'hex').copy(out, o);
      if (tagged) {
        out[o++] = s.tag.length << 1;
        o += out.write(s.tag, o, 'ascii');
      }
      o = out.writeBigUInt64LE(BigInt(s.intervals.length), o);
      for (const iv of s.intervals) {
        o = out.writeBigInt64LE(iv.start, o);
        o = out.writeBigInt64LE(iv.end, o);
      }
    }
    return out;
  }

  #sorted(): SidEntry[] {
    return [...this.#sids.values()]
      .filter((s) => s.intervals.length > 0)
      .sort((a, b) => (a.uuid === b.uuid ? compare(a.tag, b.tag) : compare(a.uuid, b.uuid)));
  }

  #addInterval(uuid: string, tag: string, start: bigint, end: bigint): void {
    const k = key(uuid, tag);
    let entry = this.#sids.get(k);
    if (entry === undefined) {
      entry = { uuid, tag, intervals: [] };
      this.#sids.set(k, entry);
    }
    // Insert, then merge overlapping or touching neighbours: [1,3) + [3,5) = [1,5).
    const list = entry.intervals;
    list.push({ start, end });
    list.sort((a, b) => compare(a.start, b.start));
    const merged: Interval[] = [];
    for (const iv of list) {
      const last = merged[merged.length - 1];
      if (last !== undefined && iv.start <= last.end) {
        if (iv.end > last.end) last.end = iv.end;
      } else {
        merged.push({ ...iv });
      }
    }
    entry.intervals = merged;
  }
}

/** One MariaDB GTID: replication domain, originating server id, sequence number. */
export interface MariadbGtid {
  readonly domainId: number;
  readonly serverId: number;
  readonly seqNo: bigint;
}

/**
 * Parses a MariaDB GTID list (`0-1-100,1-2-5`, the form of `@@gtid_binlog_pos` and `@slave_connect_state`): at most
 * one GTID per domain. '' is the empty list (start from the oldest binlog).
 */
export function parseMariadbGtidList(text: string): MariadbGtid[] {
  const compact = text.replace(/\s+/g, '');
  if (compact === '') return [];
  const seen = new Set<number>();
  const out: MariadbGtid[] = [];
  for (const part of compact.split(',')) {
    const m = /^(\d+)-(\d+)-(\d+)$/.exec(part);
    if (m === null) {
      throw new StartPositionError(
        `Cannot parse MariaDB GTID position "${text}": "${part}" is not domain-server-sequence (e.g. 0-1-100)`,
        { fields: { gtid: text } },
      );
    }
    const domainId = Number(m[1]);
    const serverId = Number(m[2]);
    const seqNo = BigInt(m[3] as string);
    if (domainId > 0xffffffff || serverId > 0xffffffff || seqNo > 0xffffffffffffffffn) {
      throw new StartPositionError(
        `Cannot parse MariaDB GTID position "${text}": "${part}" is out of range (32-bit domain and server, 64-bit sequence)`,
        { fields: { gtid: text } },
      );
    }
    if (seen.has(domainId)) {
      throw new StartPositionError(
        `Cannot parse MariaDB GTID position "${text}": domain ${domainId} appears twice (one GTID per domain)`,
        { fields: { gtid: text } },
      );
    }
    seen.add(domainId);
    out.push({ domainId, serverId, seqNo });
  }
  return out;
}

export function formatMariadbGtidList(list: readonly MariadbGtid[]): string {
  return [...list]
    .sort((a, b) => a.domainId - b.domainId)
    .map((g) => `${g.domainId}-${g.serverId}-${g.seqNo}`)
    .join(',');
}

/**
 * The MariaDB GTID position of a stream: the last GTID seen per domain. Seeded from the start position or a
 * GTID_LIST event, advanced by each GTID event. Its text is what `@slave_connect_state` takes to resume.
 */
export class MariadbGtidPosition {
  readonly #byDomain = new Map<number, MariadbGtid>();

  constructor(initial: readonly MariadbGtid[] = []) {
    for (const g of initial) this.#byDomain.set(g.domainId, g);
  }

  set(gtid: MariadbGtid): void {
    this.#byDomain.set(gtid.domainId, gtid);
  }

  /** Sets the position from a `domain-server-seq` text (as decoded GTID events carry it). */
  setText(text: string): void {
    for (const g of parseMariadbGtidList(text)) this.set(g);
  }

  /**
   * Like `setText`, but never moves a domain backwards: a GTID_LIST names the state at the start of a file, which
   * is older than a GTID start position inside it.
   */
  advance(text: string): void {
    for (const g of parseMariadbGtidList(text)) {
      const current = this.#byDomain.get(g.domainId);
      if (current === undefined || g.seqNo >= current.seqNo) this.set(g);
    }
  }

  toString(): string {
    return formatMariadbGtidList([...this.#byDomain.values()]);
  }
}

/** Whether a `--from-gtid` value is written in MariaDB's form (`0-1-100,...`) rather than MySQL's (`uuid:1-5`). */
export function looksLikeMariadbGtid(text: string): boolean {
  return /^\s*\d+-\d+-\d+\s*(,\s*\d+-\d+-\d+\s*)*$/.test(text);
}

function normaliseUuid(text: string, whole: string): string {
  const lower = text.toLowerCase();
  if (!UUID_RE.test(lower)) {
    throw gtidSyntax(whole, `"${text}" is not a server UUID (expected 8-4-4-4-12 hex digits)`);
  }
  const hex = lower.replace(/-/g, '');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function gtidSyntax(text: string, detail: string): StartPositionError {
  return new StartPositionError(`Cannot parse MySQL GTID set "${text}": ${detail}`, {
    fields: { gtid: text },
  });
}

function key(uuid: string, tag: string): string {
  return `${uuid}:${tag}`;
}

function compare<T extends string | bigint>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
