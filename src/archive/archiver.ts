import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquireLock, type HeldLock } from '../backup/lock.js';
import { flattenEvent } from '../binlog/decoder.js';
import { EventFlag, EventType } from '../binlog/event-types.js';
import type { DecodedEvent } from '../binlog/events.js';
import type { TransactionAssembler } from '../capture/assembler.js';
import { compareCoordinates, describeCoordinates } from '../capture/coordinates.js';
import type { RawEventSink } from '../capture/raw-sink.js';
import { messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import type { ObjectStore } from '../objects/store.js';
import { MysqlGtidSet, formatMariadbGtidList, parseMariadbGtidList } from '../source/replication/gtid.js';
import type { BinlogArchiveRepository } from '../store/binlog-archive.js';
import type { BinlogCoordinates, NewGap } from '../store/change-index.js';
import { ArchiveConfigError } from './errors.js';
import { gtidContextEvent, isContextEvent, segmentHeader, segmentKey } from './segment-file.js';
import {
  boundaryAssembler,
  recoverSpool,
  removeSpooled,
  SpoolSegment,
  type SegmentStart,
  type SpooledSegment,
} from './spool.js';

/**
 * The raw binlog archive writer: a RawEventSink for capture that copies the source's binlog, transaction by
 * transaction, into segment files (segment-file.ts) and uploads them to the object store under
 * `<tenant>/<server-name>/binlogs/`, recording each in the catalog (store.binlogArchive) once it is stored.
 *
 * - A segment closes `intervalMs` after its first transaction (the RPO of the archive, default 60 s), when it
 *   reaches `maxSegmentBytes`, and when the source rotates its binlog (a segment never spans two source files).
 *   Transactions are never split.
 * - Bytes go to the local spool (spool.ts) before capture commits them; uploads run in the background, in order,
 *   retried until they succeed. An object is stored (with its size and SHA-256 checked by the store) before the
 *   catalog records it.
 * - The archive keeps its own cursor: the coordinates after the last archived transaction. A session that
 *   replays transactions already archived (capture resumes from its checkpoint, which may be behind the spool)
 *   skips them; a session that starts after the cursor (binlogs purged while capture was down, a lost spool)
 *   records an archive gap, never silently skips.
 */
export interface ArchiverOptions {
  readonly serverId: string;
  /** Object key prefix of the server: `<tenant>/<server-name>`. */
  readonly base: string;
  readonly objects: ObjectStore;
  readonly catalog: BinlogArchiveRepository;
  /** Local directory of this server's spool. */
  readonly spoolDir: string;
  readonly intervalMs?: number;
  readonly maxSegmentBytes?: number;
  readonly logger: Logger;
  /** Upload retry delays: doubling from `initialMs` up to `maxMs`. */
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
}

export const DEFAULT_INTERVAL_MS = 60_000;
export const DEFAULT_MAX_SEGMENT_BYTES = 64 * 1024 * 1024;

export interface ArchiveSummary {
  readonly segments: number;
  readonly transactions: number;
  readonly gaps: number;
  /** Closed segments still in the spool (their upload failed); they are uploaded on the next start. */
  readonly pending: number;
}

interface Cursor extends BinlogCoordinates {
  readonly flavor: 'mysql' | 'mariadb';
}

export class BinlogArchiver implements RawEventSink {
  readonly #o: ArchiverOptions;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #maxBytes: number;
  #cursor: Cursor | undefined;
  #assembler: TransactionAssembler | undefined;
  #flavor: 'mysql' | 'mariadb' = 'mariadb';
  #fde: { bytes: Buffer; checksum: boolean; serverId: number; timestamp: number } | undefined;
  #pending: Buffer[] = [];
  #segment: SpoolSegment | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #queue: SpooledSegment[] = [];
  #pump: Promise<void> | undefined;
  #closing = false;
  #failure: unknown;
  readonly #stop = new AbortController();
  readonly #counts = { segments: 0, transactions: 0, gaps: 0 };
  #lock: HeldLock | undefined;

  private constructor(options: ArchiverOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'archive' });
    this.#intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.#maxBytes = options.maxSegmentBytes ?? DEFAULT_MAX_SEGMENT_BYTES;
    if (!Number.isFinite(this.#intervalMs) || this.#intervalMs < 100) {
      throw new ArchiveConfigError(
        `Cannot start the binlog archive: the segment interval must be at least 0.1 s, got ${this.#intervalMs} ms`,
      );
    }
    if (!Number.isSafeInteger(this.#maxBytes) || this.#maxBytes < 4096) {
      throw new ArchiveConfigError(
        `Cannot start the binlog archive: the segment size cap must be at least 4096 bytes, got ${this.#maxBytes}`,
      );
    }
  }

  /**
   * Opens the archive of a server: what a previous run left in the spool is closed and queued for upload first,
   * and the cursor continues from the last segment (the catalog's, or the spool's when it is newer).
   */
  static async open(options: ArchiverOptions): Promise<BinlogArchiver> {
    const archiver = new BinlogArchiver(options);
    // One writer per spool: a second capture of the same server on this host is refused (a stale lock of a
    // killed process is taken over).
    await mkdir(options.spoolDir, { recursive: true, mode: 0o700 });
    archiver.#lock = await acquireLock(options.spoolDir, 'archive', { purpose: 'binlog archive' });
    try {
      const last = await options.catalog.last(options.serverId);
      if (last !== undefined) {
        archiver.#cursor = archiver.#after(last, undefined);
      }
      for (const s of recoverSpool(options.spoolDir)) {
        archiver.#log.info(
          {
            file: s.meta.file,
            start: s.meta.startPosition,
            end: s.meta.endPosition,
            transactions: s.meta.transactions,
          },
          'Archive segment left in the spool by the previous run: uploading it',
        );
        const flavor = archiver.#cursor?.flavor ?? 'mariadb';
        const after = archiver.#after(s.meta, flavor);
        if (archiver.#cursor === undefined || compareCoordinates(after, archiver.#cursor) > 0)
          archiver.#cursor = after;
        archiver.#enqueue(s);
      }
    } catch (err) {
      await archiver.#lock.release();
      throw err;
    }
    return archiver;
  }

  /** The coordinates after the last transaction archived (spooled), if any. */
  get cursor(): BinlogCoordinates | undefined {
    return this.#cursor;
  }

  async begin(session: {
    readonly start: BinlogCoordinates;
    readonly flavor: 'mysql' | 'mariadb';
    readonly gap: NewGap | undefined;
  }): Promise<void> {
    this.#throwIfFailed();
    const { start, flavor, gap } = session;
    this.#flavor = flavor;
    this.#pending = [];
    this.#fde = undefined;
    this.#assembler = boundaryAssembler(flavor, start);
    // Whatever the previous session left open ends here: the new session's first events are the server's
    // context again, and a reconnect may come with a gap.
    this.#closeSegment(undefined);
    const cursor = this.#cursor;
    if (cursor === undefined || compareCoordinates(start, cursor) <= 0) {
      // The archive begins here, or the session replays what is archived (skipped until past the cursor).
      this.#cursor ??= { ...start, flavor };
      return;
    }
    if (gap === undefined && sameGtidState(flavor, start.gtidSet, cursor.gtidSet)) {
      // Only events between transactions lie in between (a new file's FORMAT_DESCRIPTION, GTID_LIST...).
      this.#cursor = { ...start, flavor };
      return;
    }
    const reason = gap !== undefined ? 'capture_gap' : 'archive_behind';
    const detail =
      gap !== undefined
        ? `the source no longer has the binlogs from ${describeCoordinates(cursor)}: ${gap.detail}`
        : `capture resumes at ${describeCoordinates(start)}, after the last archived transaction (the spool lost its tail, or the archive was off)`;
    await this.#o.catalog.recordGap(this.#o.serverId, { from: cursor, to: start, reason, detail });
    this.#counts.gaps++;
    this.#log.warn(
      { from: cursor, to: start, reason },
      `Recording an archive gap from ${describeCoordinates(cursor)} to ${describeCoordinates(start)}`,
    );
    this.#cursor = { ...start, flavor };
  }

  event(raw: Buffer, event: DecodedEvent): void {
    this.#throwIfFailed();
    const assembler = this.#assembler;
    if (assembler === undefined) return;
    const { header, body } = event;
    const type = header.typeCode;
    if (type === EventType.HEARTBEAT || type === EventType.HEARTBEAT_V2) return;
    if (isContextEvent(type)) {
      assembler.push(event);
      if (body.kind === 'format_description') {
        this.#fde = {
          bytes: Buffer.from(raw),
          checksum: body.checksum === 'crc32',
          serverId: header.serverId,
          timestamp: header.timestamp,
        };
      } else if (
        body.kind === 'rotate' &&
        header.logPos !== 0 &&
        (header.flags & EventFlag.ARTIFICIAL) === 0
      ) {
        this.#rotated(event, body.nextFile, body.position);
      }
      return;
    }
    this.#pending.push(Buffer.from(raw));
    let closedAny = false;
    for (const e of flattenEvent(event)) {
      const t = assembler.push(e);
      if (t === undefined) continue;
      closedAny = true;
      const end = { file: t.transaction.file, position: t.transaction.endPosition };
      const events = this.#pending;
      this.#pending = [];
      if (this.#cursor !== undefined && compareCoordinates(end, this.#cursor) <= 0) continue;
      const segment = this.#openSegment();
      segment.append(events, t);
      this.#counts.transactions++;
      this.#cursor = { ...t.after, flavor: this.#flavor };
      if (segment.size >= this.#maxBytes) this.#closeSegment(undefined);
    }
    // An event outside any transaction that is not context (an INCIDENT...): not archived.
    if (!closedAny && !assembler.inTransaction) this.#pending = [];
  }

  /**
   * Closes the open segment and waits for every queued upload (retrying until `deadlineMs`). What is still not
   * uploaded then stays in the spool for the next start.
   */
  async close(options: { readonly deadlineMs?: number } = {}): Promise<ArchiveSummary> {
    this.#closing = true;
    if (this.#failure === undefined) this.#closeSegment(undefined);
    else this.#segment?.abandon();
    const pump = this.#pump;
    if (pump !== undefined) {
      const deadline = sleep(options.deadlineMs ?? 30_000, undefined, { ref: false }).then(() =>
        this.#stop.abort(),
      );
      await Promise.race([pump, deadline]);
      this.#stop.abort();
      await pump;
    }
    await this.#lock?.release();
    return { ...this.#counts, pending: this.#queue.length };
  }

  #rotated(event: DecodedEvent, nextFile: string, position: number): void {
    const end = { file: event.file ?? this.#cursor?.file ?? '', position: event.header.logPos };
    if (this.#cursor !== undefined && compareCoordinates(end, this.#cursor) < 0) return;
    // The segment covers its file to the end, even when no transaction came since the last one closed: the
    // chain of segments then runs into the next file without a hole.
    if (this.#segment === undefined && this.#cursor !== undefined && this.#cursor.file === end.file) {
      this.#openSegment();
    }
    this.#closeSegment(end.position);
    this.#cursor = { file: nextFile, position, gtidSet: this.#cursor?.gtidSet ?? null, flavor: this.#flavor };
  }

  #openSegment(): SpoolSegment {
    if (this.#segment !== undefined) return this.#segment;
    const fde = this.#fde;
    const cursor = this.#cursor;
    if (fde === undefined || cursor === undefined) {
      throw new ArchiveConfigError(
        'Cannot start an archive segment: the stream sent no FORMAT_DESCRIPTION event before its first transaction',
      );
    }
    const start: SegmentStart = {
      file: cursor.file,
      position: cursor.position,
      gtidSet: cursor.gtidSet,
      flavor: this.#flavor,
    };
    const context = gtidContextEvent({
      flavor: this.#flavor,
      gtidSet: cursor.gtidSet,
      serverId: fde.serverId,
      timestamp: fde.timestamp,
      checksum: fde.checksum,
    });
    this.#segment = SpoolSegment.create(this.#o.spoolDir, start, segmentHeader(fde.bytes, context));
    this.#timer = setTimeout(() => this.#onTimer(), this.#intervalMs);
    this.#timer.unref();
    return this.#segment;
  }

  #onTimer(): void {
    this.#timer = undefined;
    try {
      this.#closeSegment(undefined);
    } catch (err) {
      this.#failure = err;
      this.#log.error({ err: messageOf(err) }, 'Cannot close the archive segment');
    }
  }

  #closeSegment(fileEnd: number | undefined): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const segment = this.#segment;
    if (segment === undefined) return;
    this.#segment = undefined;
    if (segment.transactions === 0 && fileEnd === undefined) {
      segment.abandon();
      removeSpooled(`${segment.path}.binlog`);
      return;
    }
    this.#enqueue(segment.close(fileEnd));
  }

  #enqueue(s: SpooledSegment): void {
    this.#queue.push(s);
    this.#pump ??= this.#uploadAll().finally(() => {
      this.#pump = undefined;
      // A segment queued while the last upload finished.
      if (this.#queue.length > 0 && !this.#stop.signal.aborted)
        this.#enqueue(this.#queue.shift() as SpooledSegment);
    });
  }

  async #uploadAll(): Promise<void> {
    const retry = this.#o.retry ?? { initialMs: 1000, maxMs: 60_000 };
    let delay = retry.initialMs;
    while (this.#queue.length > 0) {
      const s = this.#queue[0] as SpooledSegment;
      try {
        await this.#upload(s);
        this.#queue.shift();
        delay = retry.initialMs;
      } catch (err) {
        if (this.#stop.signal.aborted) return;
        this.#log.warn(
          { err: messageOf(err), file: s.meta.file, start: s.meta.startPosition, retryInMs: delay },
          `Cannot upload archive segment ${s.meta.file}:${s.meta.startPosition}; retrying in ${delay} ms`,
        );
        try {
          await sleep(delay, undefined, { signal: this.#stop.signal });
        } catch {
          return;
        }
        delay = Math.min(delay * 2, retry.maxMs);
      }
    }
  }

  async #upload(s: SpooledSegment): Promise<void> {
    const { meta } = s;
    const key = segmentKey(this.#o.base, meta.file, meta.startPosition, meta.endPosition);
    // Stored with its size and SHA-256 checked by the store before anything is recorded.
    await this.#o.objects.put(key, createReadStream(s.path), {
      size: meta.bytes,
      sha256: meta.sha256,
      contentType: 'application/octet-stream',
      signal: this.#stop.signal,
    });
    await this.#o.catalog.add({ ...meta, serverId: this.#o.serverId, objectKey: key });
    removeSpooled(s.path);
    this.#counts.segments++;
    this.#log.info(
      {
        file: meta.file,
        start: meta.startPosition,
        end: meta.endPosition,
        transactions: meta.transactions,
        bytes: meta.bytes,
        key,
      },
      'Archive segment stored',
    );
  }

  #after(
    s: Pick<SegmentStart, 'file'> & { endPosition: number; endsFile: boolean; endGtidSet: string | null },
    flavor: 'mysql' | 'mariadb' | undefined,
  ): Cursor {
    const f = flavor ?? (s.endGtidSet !== null && /^\d+-\d+-\d+/.test(s.endGtidSet) ? 'mariadb' : 'mysql');
    // After a segment that ends its file, the next transaction is in the next file; its first event is past the
    // file's header, so position 4 is at or before anything a session can start from there.
    if (s.endsFile) {
      const next = nextFileName(s.file);
      if (next !== undefined) return { file: next, position: 4, gtidSet: s.endGtidSet, flavor: f };
    }
    return { file: s.file, position: s.endPosition, gtidSet: s.endGtidSet, flavor: f };
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure as Error;
    if (this.#closing) throw new ArchiveConfigError('Cannot archive events: the archive is closed');
  }
}

/** `binlog.000042` -> `binlog.000043` (the sequence keeps its width, growing past it as the server does). */
export function nextFileName(file: string): string | undefined {
  const m = /^(.*\.)(\d+)$/.exec(file);
  if (m === null) return undefined;
  const digits = m[2] as string;
  return `${m[1]}${String(Number(digits) + 1).padStart(digits.length, '0')}`;
}

/** Whether two GTID states name the same set of transactions (each normalised; null never matches). */
export function sameGtidState(flavor: 'mysql' | 'mariadb', a: string | null, b: string | null): boolean {
  if (a === null || b === null) return false;
  try {
    if (flavor === 'mariadb') {
      return (
        formatMariadbGtidList(parseMariadbGtidList(a)) === formatMariadbGtidList(parseMariadbGtidList(b))
      );
    }
    return MysqlGtidSet.parse(a).toString() === MysqlGtidSet.parse(b).toString();
  } catch {
    return false;
  }
}
