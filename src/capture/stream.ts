import { setTimeout as sleep } from 'node:timers/promises';
import { isDbtrailError, messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import { connectSource, type SourceConnection } from '../source/connect.js';
import { describeDsn, type ResolvedDsn } from '../source/dsn.js';
import { probeServer, type ServerFacts } from '../source/server-facts.js';
import { openBinlogStream, type StartPosition } from '../source/replication/binlog-stream.js';
import { BinlogUnavailableError, ReplicationConnectionLostError } from '../source/replication/errors.js';
import type { BinlogCoordinates, ChangeIndex, NewGap, TableSchemaEntry } from '../store/change-index.js';
import type { BatchLimits } from './batch.js';
import { describeCoordinates } from './coordinates.js';
import { CaptureCore } from './core.js';
import type { RawEventSink } from './raw-sink.js';
import { CaptureGapError, ServerIdentityMismatchError, UnsupportedSourceError } from './errors.js';
import type { TableFilter } from './filter.js';
import { describeGap, findGap, type GapFinding } from './gap.js';
import { RateMeter, type CaptureSnapshot, type CaptureStatusLine } from './progress.js';
import { SchemaHistory } from './schema-history.js';
import { snapshotTables } from './schema-snapshot.js';
import {
  currentCoordinates,
  describeIdentity,
  hasGtids,
  identityOf,
  listTables,
  sameServer,
  serverBinlogs,
} from './server-state.js';

/**
 * Live capture: follows a server's binlog as a replica and commits every complete transaction into the change
 * index, exactly once, until stopped (signal), caught up (`stopAtEnd`), or a failure that must not be papered over
 * (a gap, another server behind the DSN, a failed write).
 *
 * One session = one replication connection. A session starts from the stored checkpoint every time (the store is
 * the only truth about what is captured), so after a lost connection, a server restart or a KILL of the
 * replication thread the next session continues exactly where the last commit ended: nothing lost, nothing twice.
 *
 * Memory stays bounded under backpressure: events are pulled one at a time and a due batch is committed before the
 * next event is pulled, so while the store writes, the replication channel's queue fills and it pauses the socket
 * (the server's dump thread then waits). What is held is one batch plus the channel's queue; only a single huge
 * source transaction (never split) can exceed the batch limits.
 */
export interface StreamCaptureOptions {
  readonly dsn: ResolvedDsn;
  readonly index: ChangeIndex;
  /** dbtrail's id of the server (servers table). */
  readonly serverId: string;
  readonly serverName: string;
  readonly filter: TableFilter;
  readonly stopAtEnd: boolean;
  readonly acceptGap: boolean;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Where the status line is drawn when it is a terminal (stderr). */
  readonly status?: CaptureStatusLine;
  /** Called once per gap found, before capture stops on it or records it. */
  readonly onGap?: (gap: GapReport) => void;
  readonly limits?: Partial<BatchLimits>;
  readonly heartbeatMs?: number;
  /** Reconnect delays: doubling from `initialMs` up to `maxMs`. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** Receives the raw events of every session (the raw binlog archive). */
  readonly rawSink?: RawEventSink;
}

export interface GapReport {
  readonly gap: GapFinding;
  readonly fromTimeUs: bigint | null;
  readonly toTimeUs: bigint | null;
  readonly accepted: boolean;
  /** One line: from/to coordinates and times, reason. */
  readonly text: string;
}

export interface CaptureSummary {
  readonly transactions: number;
  readonly changes: number;
  readonly checkpoint: BinlogCoordinates | null;
  readonly reconnects: number;
  readonly gaps: readonly GapReport[];
  readonly stoppedBy: 'caught_up' | 'signal';
}

const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 30_000 };
/** How often a non-terminal run logs where it stands. */
const STATUS_LOG_MS = 10_000;
/** How often the terminal status line is redrawn. */
const STATUS_DRAW_MS = 250;

export async function runStreamCapture(options: StreamCaptureOptions): Promise<CaptureSummary> {
  const log = options.logger;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const totals = { transactions: 0, changes: 0, reconnects: 0, gaps: [] as GapReport[] };
  let delay = backoff.initialMs;
  let streamedOnce = false;
  let forceOldest: string | undefined;
  let checkpoint: BinlogCoordinates | null = null;
  for (;;) {
    const session = new Session(options, totals, forceOldest);
    try {
      const result = await session.run();
      checkpoint = session.checkpoint;
      return { ...totals, checkpoint, stoppedBy: result };
    } catch (err) {
      checkpoint = session.checkpoint ?? checkpoint;
      if (session.streamed) {
        streamedOnce = true;
        delay = backoff.initialMs;
      }
      if (err instanceof BinlogUnavailableError && session.streamed === false && forceOldest === undefined) {
        // 1236 on start: the server cannot serve the checkpoint (purged, or a GTID state it lost). A gap.
        forceOldest = err.message;
        continue;
      }
      if (
        options.signal.aborted &&
        ((err instanceof Error && err.name === 'AbortError') ||
          (isDbtrailError(err) && err.kind === 'connection'))
      ) {
        return { ...totals, checkpoint, stoppedBy: 'signal' };
      }
      if (!streamedOnce || !isDbtrailError(err) || err.kind !== 'connection') throw err;
      totals.reconnects++;
      log.warn(
        { err: messageOf(err), code: err.code, retryInMs: delay },
        `Capture lost its connection to the source; reconnecting in ${delay} ms`,
      );
      try {
        await sleep(delay, undefined, { signal: options.signal });
      } catch {
        return { ...totals, checkpoint, stoppedBy: 'signal' };
      }
      delay = Math.min(delay * 2, backoff.maxMs);
    }
  }
}

class Session {
  readonly #o: StreamCaptureOptions;
  readonly #totals: { transactions: number; changes: number; reconnects: number; gaps: GapReport[] };
  readonly #forceOldest: string | undefined;
  readonly #server: string;
  readonly #log: Logger;
  /** Set once the binlog stream was opened and read. */
  streamed = false;
  checkpoint: BinlogCoordinates | null = null;

  constructor(
    options: StreamCaptureOptions,
    totals: { transactions: number; changes: number; reconnects: number; gaps: GapReport[] },
    forceOldest: string | undefined,
  ) {
    this.#o = options;
    this.#totals = totals;
    this.#forceOldest = forceOldest;
    this.#server = describeDsn(options.dsn);
    this.#log = options.logger;
  }

  async run(): Promise<'caught_up' | 'signal'> {
    const o = this.#o;
    o.signal.throwIfAborted();
    const conn = await connectSource(o.dsn);
    try {
      return await this.#withConnection(conn);
    } finally {
      await conn.close();
    }
  }

  async #withConnection(conn: SourceConnection): Promise<'caught_up' | 'signal'> {
    const o = this.#o;
    const facts = await probeServer(conn);
    checkSettings(facts, this.#server, this.#log);
    const identity = identityOf(facts);
    const stored = await o.index.checkpoint(o.serverId);
    if (stored !== undefined && !sameServer(stored.identity, identity)) {
      throw new ServerIdentityMismatchError(
        `Cannot capture server "${o.serverName}" from ${this.#server}: it is ${describeIdentity(identity)}, but the checkpoint belongs to ${describeIdentity(stored.identity)}; point --dsn at that server, or use another --server-name`,
        { fields: { server: o.serverName, expected: stored.identity, actual: identity } },
      );
    }
    const history = new SchemaHistory();
    const needsHistory = (facts.variables['binlog_row_metadata'] ?? 'MINIMAL').toUpperCase() !== 'FULL';
    let start: BinlogCoordinates;
    let from: StartPosition;
    let initialSchemas: TableSchemaEntry[] = [];
    let gap: NewGap | undefined;
    if (stored === undefined) {
      // First start: capture begins at the current end of the binlog, where information_schema describes the tables.
      const first = await this.#firstStart(conn, facts);
      start = first.coordinates;
      initialSchemas = first.schemas;
      for (const e of initialSchemas) history.apply(e);
      from = { file: start.file, position: start.position };
    } else {
      this.checkpoint = stored.coordinates;
      const binlogs = await serverBinlogs(conn, facts, this.#server);
      let finding = findGap(stored.coordinates, binlogs);
      if (finding === undefined && this.#forceOldest !== undefined) {
        finding = {
          from: stored.coordinates,
          to: binlogs.oldest,
          reason: 'binlog_purged',
          detail: `the server cannot serve the checkpoint: ${this.#forceOldest}`,
        };
      }
      if (finding !== undefined) {
        gap = await this.#gap(finding);
        // The GTID state of the checkpoint seeds the tracker; the oldest binlog's own GTID_LIST/PREVIOUS_GTIDS
        // then moves it forward over what was lost.
        start = { file: binlogs.oldest.file, position: 4, gtidSet: stored.coordinates.gtidSet };
        from = { file: binlogs.oldest.file, position: 4 };
      } else {
        start = stored.coordinates;
        from = resumePosition(stored.coordinates, facts);
      }
      if (needsHistory) await this.#loadHistory(conn, history, stored.coordinates);
    }

    const core = new CaptureCore({
      index: o.index,
      serverId: o.serverId,
      serverName: o.serverName,
      identity,
      committed: stored?.coordinates ?? null,
      start,
      flavor: facts.flavor,
      filter: o.filter,
      history,
      snapshot: (tables, validFrom) => snapshotTables(conn, o.filter, validFrom, tables),
      logger: this.#log,
      ...(o.limits !== undefined ? { limits: o.limits } : {}),
    });
    if (stored === undefined) {
      // Make the first start durable at once: later starts resume here even if nothing is written for a while.
      core.batch.advance(start);
      for (const e of initialSchemas) core.batch.addTableSchema(e);
      await core.flush();
      this.checkpoint = start;
    }
    if (gap !== undefined) core.batch.setGap(gap);

    this.#log.info(
      {
        source: this.#server,
        from: 'gtid' in from ? { gtid: from.gtid } : from,
        resume: stored !== undefined,
      },
      stored === undefined
        ? `Capture of "${o.serverName}" starts at ${describeCoordinates(start)}`
        : `Capture of "${o.serverName}" resumes at ${describeCoordinates(start)}`,
    );
    await o.rawSink?.begin({ start, flavor: facts.flavor, gap });
    return this.#stream(core, from, history, facts);
  }

  async #stream(
    core: CaptureCore,
    from: StartPosition,
    history: SchemaHistory,
    facts: ServerFacts,
  ): Promise<'caught_up' | 'signal'> {
    const o = this.#o;
    // Stops the stream when a background commit fails, so the failure surfaces even while the source is quiet.
    const failure = new AbortController();
    let failed: unknown;
    const signal = AbortSignal.any([o.signal, failure.signal]);
    const stream = await openBinlogStream(o.dsn, {
      from,
      serverId: replicaIdFor(o.serverId, facts.serverId),
      stopAtEnd: o.stopAtEnd,
      signal,
      columnResolver: history.resolver(),
      onRawEvent: o.rawSink === undefined ? undefined : (raw, e) => o.rawSink?.event(raw, e),
      ...(o.heartbeatMs !== undefined ? { heartbeatMs: o.heartbeatMs } : {}),
    });
    if (stream.facts.serverId !== facts.serverId) {
      await stream.close();
      throw new ServerIdentityMismatchError(
        `Cannot capture server "${o.serverName}": the replication connection reached server_id ${stream.facts.serverId}, the SQL connection server_id ${facts.serverId}`,
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      if (timer !== undefined) return;
      const wait = core.batch.msUntilDue;
      if (wait === undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        core.flush().then(
          () => this.#afterCommit(core),
          (err: unknown) => {
            failed = err;
            failure.abort();
          },
        );
      }, wait);
    };
    const started = Date.now();
    const rate = new RateMeter(started);
    let lastStatusLog = started;
    let nextStatus = started;
    let caughtUp = false;
    const snapshot = (now: number): CaptureSnapshot => ({
      position: core.safeCoordinates,
      lagSeconds:
        caughtUp || core.counters.lastEventTime === undefined
          ? caughtUp
            ? 0
            : undefined
          : Math.max(0, Math.round(now / 1000 - core.counters.lastEventTime)),
      rowsPerSecond: rate.sample(core.counters.rowsSeen, now),
      changes: this.#totals.changes + core.counters.changes,
      transactions: this.#totals.transactions + core.counters.transactions,
    });
    try {
      for await (const event of stream) {
        this.streamed = true;
        if (event.body.kind === 'heartbeat') {
          // The server sends heartbeats only when it has nothing else: caught up.
          caughtUp = true;
        } else {
          caughtUp = false;
          const wait = core.push(event);
          if (wait !== undefined) {
            await wait;
            this.#afterCommit(core);
          }
        }
        if (failed !== undefined) break;
        arm();
        const now = Date.now();
        if (now < nextStatus) continue;
        nextStatus = now + STATUS_DRAW_MS;
        if (o.status?.enabled === true) {
          o.status.update(snapshot(now), now, true);
        } else if (now - lastStatusLog >= STATUS_LOG_MS) {
          lastStatusLog = now;
          const s = snapshot(now);
          this.#log.info(
            {
              file: s.position?.file,
              position: s.position?.position,
              gtid: s.position?.gtidSet,
              lagSeconds: s.lagSeconds,
              rowsPerSecond: Math.round(s.rowsPerSecond),
              changes: s.changes,
            },
            'Capture progress',
          );
        }
      }
    } catch (err) {
      // Whatever is complete is committed before the error is reported: the next session starts after it.
      if (timer !== undefined) clearTimeout(timer);
      await this.#finalFlush(core, failed);
      throw err;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      await stream.close();
      o.status?.update(snapshot(Date.now()), Date.now(), true);
    }
    await this.#finalFlush(core, failed);
    if (o.signal.aborted) return 'signal';
    if (o.stopAtEnd) return 'caught_up';
    throw new ReplicationConnectionLostError(
      `Cannot read the binlog from ${this.#server}: the server ended the stream`,
    );
  }

  async #finalFlush(core: CaptureCore, failed: unknown): Promise<void> {
    if (failed !== undefined) throw failed as Error;
    await core.flush();
    this.#afterCommit(core);
    this.#totals.transactions += core.counters.transactions;
    this.#totals.changes += core.counters.changes;
    core.counters.transactions = 0;
    core.counters.changes = 0;
  }

  #afterCommit(core: CaptureCore): void {
    this.checkpoint = core.batch.committed;
  }

  async #firstStart(
    conn: SourceConnection,
    facts: ServerFacts,
  ): Promise<{ coordinates: BinlogCoordinates; schemas: TableSchemaEntry[] }> {
    // Read the coordinates on both sides of the snapshot: when they agree, no DDL (no write at all) came in
    // between, so the snapshot is exactly the definitions at those coordinates. Under a steady write load they
    // rarely agree; the snapshot is then taken after the coordinates, and a DDL in that instant is applied
    // again when capture reaches it.
    let coordinates = await currentCoordinates(conn, facts, this.#server);
    let schemas: TableSchemaEntry[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      schemas = await snapshotTables(conn, this.#o.filter, coordinates);
      const after = await currentCoordinates(conn, facts, this.#server);
      if (after.file === coordinates.file && after.position === coordinates.position) break;
      if (attempt === 4) break;
      coordinates = after;
    }
    return { coordinates, schemas: schemas.map((s) => ({ ...s, validFrom: coordinates })) };
  }

  async #loadHistory(conn: SourceConnection, history: SchemaHistory, at: BinlogCoordinates): Promise<void> {
    const o = this.#o;
    for (const t of await listTables(conn)) {
      if (!o.filter.matches(t.schema, t.table)) continue;
      const entry = await o.index.tableSchemaAt(o.serverId, t.schema, t.table, { coordinates: at });
      if (entry !== undefined) history.apply(entry);
    }
  }

  async #gap(finding: GapFinding): Promise<NewGap> {
    const o = this.#o;
    const stats = await o.index.stats(o.serverId);
    const fromTimeUs = stats.lastCommitTimeUs;
    const toTimeUs = await binlogCreatedUs(o.dsn, finding.to.file).catch(() => null);
    const text = describeGap(finding, fromTimeUs, toTimeUs);
    const report: GapReport = { gap: finding, fromTimeUs, toTimeUs, accepted: o.acceptGap, text };
    o.onGap?.(report);
    if (!o.acceptGap) {
      throw new CaptureGapError(
        `Cannot continue capture of server "${o.serverName}": changes are missing ${text}; rerun with --accept-gap to record the gap and continue from ${finding.to.file}`,
        {
          fields: {
            server: o.serverName,
            from: finding.from,
            to: finding.to,
            fromTimeUs: fromTimeUs?.toString() ?? null,
            toTimeUs: toTimeUs?.toString() ?? null,
            reason: finding.reason,
          },
        },
      );
    }
    this.#totals.gaps.push(report);
    this.#log.warn({ from: finding.from, to: finding.to, reason: finding.reason }, `Recording a gap ${text}`);
    return {
      from: finding.from,
      to: finding.to,
      fromTimeUs,
      toTimeUs,
      reason: finding.reason,
      detail: finding.detail,
    };
  }
}

/**
 * The replica server_id capture registers with: stable per dbtrail server (FNV-1a of its id, in the high half of
 * the 32-bit range the replication client uses), so that a new session makes the source end the dump thread a
 * killed or cut-off session left behind (the server kills an older dump thread of the same server_id).
 */
export function replicaIdFor(serverId: string, sourceServerId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < serverId.length; i++) {
    h ^= serverId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const id = 0x8000_0000 + (h % 0x7fff_ffff);
  return String(id) === sourceServerId ? id - 1 : id;
}

/** Resume by GTID when the server has GTIDs and the checkpoint holds a GTID state, else by file and position. */
export function resumePosition(checkpoint: BinlogCoordinates, facts: ServerFacts): StartPosition {
  if (hasGtids(facts) && checkpoint.gtidSet !== null && checkpoint.gtidSet !== '') {
    return { gtid: checkpoint.gtidSet };
  }
  return { file: checkpoint.file, position: checkpoint.position };
}

function checkSettings(facts: ServerFacts, server: string, log: Logger): void {
  const format = (facts.variables['binlog_format'] ?? '').toUpperCase();
  if (format !== '' && format !== 'ROW') {
    throw new UnsupportedSourceError(
      `Cannot capture changes from ${server}: binlog_format is ${format}, capture needs ROW (SET GLOBAL binlog_format = 'ROW')`,
      { fields: { server, binlogFormat: format } },
    );
  }
  const image = (facts.variables['binlog_row_image'] ?? 'FULL').toUpperCase();
  if (image !== 'FULL') {
    log.warn(
      { server, binlogRowImage: image },
      `binlog_row_image is ${image} on ${server}: before and after images hold only the columns the server logs`,
    );
  }
}

/**
 * When the binlog `file` was created: the header time of its FORMAT_DESCRIPTION event (MariaDB/MySQL write it
 * when they open the file), as microseconds. Every change missing before that file happened before this time.
 */
async function binlogCreatedUs(dsn: ResolvedDsn, file: string): Promise<bigint | null> {
  const stream = await openBinlogStream(dsn, { from: { file, position: 4 }, stopAtEnd: true });
  try {
    for await (const e of stream) {
      if (e.body.kind === 'format_description' && e.header.logPos !== 0) {
        return BigInt(e.header.timestamp) * 1_000_000n;
      }
      if (e.header.logPos !== 0) return null;
    }
    return null;
  } finally {
    await stream.close();
  }
}
