import { createHash, type Hash } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { join } from 'node:path';
import { BinlogDecoder, flattenEvent } from '../binlog/decoder.js';
import { BINLOG_MAGIC, LOG_EVENT_HEADER_LEN } from '../binlog/event-types.js';
import { peekEventSize } from '../binlog/header.js';
import { TransactionAssembler, type AssembledTransaction } from '../capture/assembler.js';
import { compareCoordinates } from '../capture/coordinates.js';
import type { TableFilter } from '../capture/filter.js';
import { messageOf } from '../lib/errors.js';
import type { BinlogCoordinates } from '../store/change-index.js';
import { ArchiveSpoolError } from './errors.js';

/**
 * The local spool of the archive: the segment being filled is a binlog file on local disk, appended one whole
 * transaction per write before capture commits that transaction to the change index. A process crash (kill -9)
 * keeps what was written (the page cache survives it), so on restart the spool holds at least every transaction
 * the index holds; the segment is then closed and uploaded, and nothing is lost. A torn last write is cut off at
 * the last complete transaction.
 *
 * Files per segment, named `<source file>@<start position>`:
 * - `.open.json`   where the segment starts (file, position, GTID state, flavor), written and synced first;
 * - `.binlog`      the segment bytes (segment-file.ts);
 * - `.closed.json` the segment's metadata, written (atomically) when it is closed: from then on only the upload
 *                  and the catalog record remain to be done.
 */

export interface SegmentStart extends BinlogCoordinates {
  readonly flavor: 'mysql' | 'mariadb';
}

/** What the catalog records of a segment, minus server, key and ids. */
export interface SegmentMeta {
  readonly file: string;
  readonly startPosition: number;
  readonly endPosition: number;
  readonly endsFile: boolean;
  readonly startGtidSet: string | null;
  readonly endGtidSet: string | null;
  readonly firstGtid: string | null;
  readonly lastGtid: string | null;
  readonly firstCommitUs: bigint | null;
  readonly lastCommitUs: bigint | null;
  readonly transactions: number;
  readonly bytes: number;
  readonly sha256: string;
}

/** A closed segment waiting in the spool for upload. */
export interface SpooledSegment {
  readonly path: string;
  readonly meta: SegmentMeta;
}

const OPEN = '.open.json';
const CLOSED = '.closed.json';
const DATA = '.binlog';

/** Matches no table: the archive's assembler only needs transaction boundaries, not row changes. */
const NO_TABLES: TableFilter = {
  all: false,
  schemas: new Set(),
  tables: new Set(),
  matches: () => false,
  matchesSchema: () => false,
};

/** A transaction assembler that finds boundaries and coordinates only (no row images are built). */
export function boundaryAssembler(
  flavor: 'mysql' | 'mariadb',
  start: BinlogCoordinates,
): TransactionAssembler {
  return new TransactionAssembler({ flavor, start, filter: NO_TABLES, primaryKey: () => [] });
}

/** Running metadata of a segment, from the transactions written to it. */
class SegmentStats {
  firstGtid: string | null = null;
  lastGtid: string | null = null;
  firstCommitUs: bigint | null = null;
  lastCommitUs: bigint | null = null;
  transactions = 0;
  end: BinlogCoordinates;

  constructor(start: BinlogCoordinates) {
    this.end = start;
  }

  add(t: AssembledTransaction): void {
    const { gtid, commitTimeUs } = t.transaction;
    if (this.transactions === 0) {
      this.firstGtid = gtid;
      this.firstCommitUs = commitTimeUs;
    }
    this.lastGtid = gtid;
    this.lastCommitUs = commitTimeUs;
    this.transactions++;
    this.end = t.after;
  }
}

export class SpoolSegment {
  readonly path: string;
  readonly start: SegmentStart;
  readonly #fd: number;
  readonly #hash: Hash;
  readonly #stats: SegmentStats;
  #size = 0;
  #closed = false;

  private constructor(path: string, start: SegmentStart, fd: number) {
    this.path = path;
    this.start = start;
    this.#fd = fd;
    this.#hash = createHash('sha256');
    this.#stats = new SegmentStats(start);
  }

  /** Starts a segment at `start` in `dir`, with its header bytes (magic, FORMAT_DESCRIPTION, GTID context). */
  static create(dir: string, start: SegmentStart, header: Buffer): SpoolSegment {
    const path = join(dir, `${start.file}@${start.position}`);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeSynced(path + OPEN, JSON.stringify(start));
      const fd = openSync(path + DATA, 'w', 0o600);
      const seg = new SpoolSegment(path, start, fd);
      seg.#write(header);
      return seg;
    } catch (err) {
      throw spoolError(`Cannot start archive segment ${path}${DATA}`, err);
    }
  }

  get size(): number {
    return this.#size;
  }

  get transactions(): number {
    return this.#stats.transactions;
  }

  /** Appends one whole transaction (its events' bytes, in order) in one write. */
  append(events: readonly Buffer[], transaction: AssembledTransaction): void {
    try {
      this.#writev(events);
    } catch (err) {
      throw spoolError(`Cannot append to archive segment ${this.path}${DATA}`, err);
    }
    this.#stats.add(transaction);
  }

  /**
   * Syncs and closes the file and records its metadata; the segment is then ready for upload. `fileEnd`: the
   * source rotated, and its file ended at that offset (the segment then covers the file to its end).
   */
  close(fileEnd?: number): SpooledSegment {
    const endsFile = fileEnd !== undefined;
    if (this.#closed)
      throw new ArchiveSpoolError(`Cannot close archive segment ${this.path}: already closed`);
    this.#closed = true;
    const s = this.#stats;
    const meta: SegmentMeta = {
      file: this.start.file,
      startPosition: this.start.position,
      endPosition: fileEnd ?? (s.end.file === this.start.file ? s.end.position : this.start.position),
      endsFile,
      startGtidSet: this.start.gtidSet,
      endGtidSet: s.end.gtidSet,
      firstGtid: s.firstGtid,
      lastGtid: s.lastGtid,
      firstCommitUs: s.firstCommitUs,
      lastCommitUs: s.lastCommitUs,
      transactions: s.transactions,
      bytes: this.#size,
      sha256: this.#hash.digest('hex'),
    };
    try {
      fsyncSync(this.#fd);
      closeSync(this.#fd);
      writeSynced(
        this.path + CLOSED,
        JSON.stringify(meta, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)),
      );
    } catch (err) {
      throw spoolError(`Cannot close archive segment ${this.path}${DATA}`, err);
    }
    return { path: this.path + DATA, meta };
  }

  /** Closes the file without recording anything (the segment is recovered from the spool on the next start). */
  abandon(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
  }

  #writev(parts: readonly Buffer[]): void {
    let total = 0;
    for (const p of parts) total += p.length;
    const written = writevSync(this.#fd, parts);
    if (written < total) {
      // A short write (rare: a signal, a full disk): write the rest from where it stopped.
      this.#writeFrom(Buffer.concat(parts, total), written);
    }
    for (const p of parts) this.#hash.update(p);
    this.#size += total;
  }

  #writeFrom(bytes: Buffer, from: number): void {
    let off = from;
    while (off < bytes.length) off += writeSync(this.#fd, bytes, off, bytes.length - off);
  }

  #write(bytes: Buffer): void {
    let off = 0;
    while (off < bytes.length) off += writeSync(this.#fd, bytes, off, bytes.length - off);
    this.#hash.update(bytes);
    this.#size += bytes.length;
  }
}

/**
 * Everything a previous run left in the spool, closed and ready for upload, in coordinate order. A segment that
 * was still open is cut after its last complete transaction and closed here; one without any transaction is
 * dropped.
 */
export function recoverSpool(dir: string): SpooledSegment[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw spoolError(`Cannot read the archive spool ${dir}`, err);
  }
  const out: SpooledSegment[] = [];
  for (const name of names) {
    if (!name.endsWith(OPEN)) continue;
    const path = join(dir, name.slice(0, -OPEN.length));
    try {
      const recovered = recoverOne(path);
      if (recovered !== undefined) out.push(recovered);
    } catch (err) {
      throw spoolError(`Cannot recover archive segment ${path}${DATA}`, err);
    }
  }
  return out.sort((a, b) =>
    compareCoordinates(
      { file: a.meta.file, position: a.meta.startPosition },
      { file: b.meta.file, position: b.meta.startPosition },
    ),
  );
}

/** Removes a segment's spool files once it is uploaded and recorded. */
export function removeSpooled(dataPath: string): void {
  const base = dataPath.slice(0, -DATA.length);
  for (const suffix of [CLOSED, DATA, OPEN]) rmSync(base + suffix, { force: true });
}

function recoverOne(path: string): SpooledSegment | undefined {
  const start = JSON.parse(readFileSync(path + OPEN, 'utf8')) as SegmentStart;
  let closed: string | undefined;
  try {
    closed = readFileSync(path + CLOSED, 'utf8');
  } catch {
    closed = undefined;
  }
  if (closed !== undefined) {
    const meta = JSON.parse(closed, (_k, v: unknown) =>
      typeof v === 'string' && /^\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v,
    ) as SegmentMeta;
    return { path: path + DATA, meta };
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(path + DATA);
  } catch {
    removeSpooled(path + DATA);
    return undefined;
  }
  const scan = scanSegment(bytes, start);
  if (scan.transactions.length === 0) {
    removeSpooled(path + DATA);
    return undefined;
  }
  if (scan.completeBytes < bytes.length) truncateSync(path + DATA, scan.completeBytes);
  const stats = new SegmentStats(start);
  for (const t of scan.transactions) stats.add(t);
  const kept = bytes.subarray(0, scan.completeBytes);
  const meta: SegmentMeta = {
    file: start.file,
    startPosition: start.position,
    endPosition: stats.end.position,
    endsFile: false,
    startGtidSet: start.gtidSet,
    endGtidSet: stats.end.gtidSet,
    firstGtid: stats.firstGtid,
    lastGtid: stats.lastGtid,
    firstCommitUs: stats.firstCommitUs,
    lastCommitUs: stats.lastCommitUs,
    transactions: stats.transactions,
    bytes: kept.length,
    sha256: createHash('sha256').update(kept).digest('hex'),
  };
  writeSynced(
    path + CLOSED,
    JSON.stringify(meta, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)),
  );
  return { path: path + DATA, meta };
}

/**
 * Walks a segment's events (framed by their sizes) and finds its complete transactions: the byte length up to the
 * end of the last one, and each one's coordinates as the source wrote them. Stops at a torn tail or at an event
 * that does not decode (a torn write is the only way one gets there).
 */
export function scanSegment(
  bytes: Buffer,
  start: SegmentStart,
): { completeBytes: number; transactions: AssembledTransaction[] } {
  const transactions: AssembledTransaction[] = [];
  if (bytes.length < BINLOG_MAGIC.length || !bytes.subarray(0, 4).equals(BINLOG_MAGIC)) {
    return { completeBytes: 0, transactions };
  }
  const decoder = new BinlogDecoder({ file: start.file });
  const assembler = boundaryAssembler(start.flavor, start);
  let off = BINLOG_MAGIC.length;
  let complete = 0;
  while (off + LOG_EVENT_HEADER_LEN <= bytes.length) {
    const size = peekEventSize(bytes, off);
    if (size < LOG_EVENT_HEADER_LEN || off + size > bytes.length) break;
    let event;
    try {
      event = decoder.decode(bytes, undefined, off, size);
    } catch {
      break;
    }
    off += size;
    for (const e of flattenEvent(event)) {
      const t = assembler.push(e);
      if (t !== undefined) transactions.push(t);
    }
    // The header (magic, FORMAT_DESCRIPTION, GTID context) is complete once the first transaction is.
    if (!assembler.inTransaction && transactions.length > 0) complete = off;
  }
  return { completeBytes: complete, transactions };
}

function writeSynced(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function spoolError(action: string, err: unknown): ArchiveSpoolError {
  if (err instanceof ArchiveSpoolError) return err;
  return new ArchiveSpoolError(`${action}: ${messageOf(err)}`, { cause: err });
}

/** Size of a spool data file, for tests and status. */
export function spoolFileSize(path: string): number {
  return statSync(path).size;
}
