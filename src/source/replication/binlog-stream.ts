import { hostname } from 'node:os';
import { BinlogDecoder, flattenEvent } from '../../binlog/decoder.js';
import type { DecodedEvent } from '../../binlog/events.js';
import { classifyReplicationPacket, type ReplicationPacket } from '../../binlog/packet-parser.js';
import type { ColumnResolver } from '../../binlog/table-map.js';
import { isDbtrailError, messageOf } from '../../lib/errors.js';
import { connectSource, type SourceConnection } from '../connect.js';
import { describeDsn, type ResolvedDsn } from '../dsn.js';
import { probeServer, type ServerFacts } from '../server-facts.js';
import { PacketChannel } from './channel.js';
import { binlogDumpGtidPayload, binlogDumpPayload, DumpFlag, registerReplicaPayload } from './commands.js';
import { CoordinateTracker, type StreamCoordinates } from './coordinates.js';
import {
  BinlogOffError,
  BinlogUnavailableError,
  ReplicationProtocolError,
  ReplicationServerError,
  StartPositionError,
} from './errors.js';
import { looksLikeMariadbGtid, MysqlGtidSet, parseMariadbGtidList, formatMariadbGtidList } from './gtid.js';
import { sessionPreamble } from './preamble.js';
import { chooseReplicaServerId, newReplicaUuid } from './replica-identity.js';
import { takeOverSocket } from './takeover.js';
import { silenceLimitFor } from './watchdog.js';

/** Where a stream starts: a file and byte offset, or a GTID position (MariaDB list or MySQL set). */
export type StartPosition = { readonly file: string; readonly position: number } | { readonly gtid: string };

export interface BinlogStreamOptions {
  /** Default: the server's current end of binlog (SHOW MASTER STATUS), i.e. only new events. */
  readonly from?: StartPosition | undefined;
  /** Non-blocking dump: the stream ends at the end of the binlog instead of waiting for new events. */
  readonly stopAtEnd?: boolean | undefined;
  /** Replica server id to register with; default: random in 2^31..2^32-2, never the source's. */
  readonly serverId?: number | undefined;
  /** MySQL replica UUID; default: a fresh random one. */
  readonly replicaUuid?: string | undefined;
  /** Heartbeat period requested from the server. Default 5000 ms. */
  readonly heartbeatMs?: number | undefined;
  /** Silence after which the connection is declared dead. Default 2.5 heartbeat periods. */
  readonly silenceLimitMs?: number | undefined;
  /** Aborting ends the iteration cleanly (no error) and closes the connection. */
  readonly signal?: AbortSignal | undefined;
  /** Largest replication packet accepted. Default 1 GiB + 64 KiB (the largest max_allowed_packet). */
  readonly maxPacketSize?: number | undefined;
  /** Packets buffered before reading pauses. Default 512. */
  readonly highWaterMark?: number | undefined;
  readonly connectTimeoutMs?: number | undefined;
  /** Column names from schema history for table maps without metadata. */
  readonly columnResolver?: ColumnResolver | undefined;
  /** Verify CRC32 trailers. Default true. */
  readonly verifyChecksums?: boolean | undefined;
  /**
   * Called with each event's bytes as the server sent them (header to checksum; a view that is only valid during
   * the call) and its decoded form, before the decoded events are yielded. The raw binlog archive uses it.
   */
  readonly onRawEvent?: ((raw: Buffer, event: DecodedEvent) => void) | undefined;
}

/**
 * A running binlog stream: iterate it once for decoded events (events inside a TRANSACTION_PAYLOAD right after
 * their payload event, as the file reader yields them). The stream includes what the server adds to a binlog dump
 * (heartbeats, the artificial ROTATE, re-sent FORMAT_DESCRIPTION): see `isStreamArtifact`.
 */
export interface BinlogStream extends AsyncIterable<DecodedEvent> {
  readonly facts: ServerFacts;
  readonly replicaServerId: number;
  /** MySQL only. */
  readonly replicaUuid: string | undefined;
  /** The start position as sent to the server (the current end of binlog resolved to a file and position). */
  readonly start: StartPosition;
  /** Coordinates after the last event yielded. */
  readonly coordinates: StreamCoordinates;
  /** Stops reading and closes the connection; iteration then ends without error. Safe to call twice. */
  close(): Promise<void>;
}

const DEFAULT_HEARTBEAT_MS = 5_000;
const DEFAULT_MAX_PACKET = 1024 * 1024 * 1024 + 64 * 1024;
const DEFAULT_HIGH_WATER_MARK = 512;
const STARTUP_SILENCE_MS = 60_000;
/** ER_MASTER_FATAL_ERROR_READING_BINLOG / ER_SOURCE_FATAL_ERROR_READING_BINLOG. */
const ER_BINLOG_UNAVAILABLE = 1236;
/**
 * 1236 also reports a start position that is not an event boundary ("bogus data in log event") or lies past the
 * end of the file; only these messages mean the binlog (or the GTID state) is gone: MariaDB "Could not find first
 * log file name in binary log index file", "Could not find GTID state requested by slave in any binlog files";
 * MySQL "...purged required binary logs...".
 */
/** ER_ACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR. */
const ACCESS_DENIED = new Set([1045, 1227, 1044]);
const MISSING_BINLOG = /could not find|purged|not find first log/i;

/**
 * Connects to the source as a replica and starts a binlog dump.
 *
 * Steps: connect with mysql2 (handshake, auth, TLS per the DSN); probe the server (flavour, server_id, binlog
 * settings); pick the replica identity; resolve the start; set the session preamble; take the socket over from
 * mysql2; COM_REGISTER_SLAVE; then COM_BINLOG_DUMP (file/position, or MariaDB GTID via `@slave_connect_state`) or
 * COM_BINLOG_DUMP_GTID (MySQL GTID set). Errors before the stream starts close the connection and are thrown here;
 * errors while streaming are thrown by the iteration.
 */
export async function openBinlogStream(
  dsn: ResolvedDsn,
  options: BinlogStreamOptions = {},
): Promise<BinlogStream> {
  const server = describeDsn(dsn);
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  if (!Number.isFinite(heartbeatMs) || heartbeatMs < 1) {
    throw new StartPositionError(
      `Cannot start the binlog stream: heartbeat must be at least 1 ms, got ${heartbeatMs}`,
    );
  }
  options.signal?.throwIfAborted();
  const conn = await connectSource(dsn, {
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
  });
  let channel: PacketChannel | undefined;
  try {
    const facts = await probeServer(conn);
    if ((facts.variables['log_bin'] ?? 'ON').toUpperCase() === 'OFF') {
      throw new BinlogOffError(
        `Cannot stream the binlog of ${server}: binary logging is off (start the server with log_bin)`,
        {
          fields: { server },
        },
      );
    }
    const replicaServerId = chooseReplicaServerId(facts.serverId, options.serverId);
    const replicaUuid = facts.flavor === 'mysql' ? (options.replicaUuid ?? newReplicaUuid()) : undefined;
    const start = options.from ?? (await currentPosition(conn, facts, server));
    const plan = dumpPlan(start, facts, replicaServerId, options.stopAtEnd === true);

    for (const sql of sessionPreamble({
      flavor: facts.flavor,
      heartbeatMs,
      replicaUuid,
      mariadbGtid: plan.mariadbGtid,
    })) {
      await conn.query(sql);
    }
    const [checksumRow] = await conn.query<{ c: string | null }>('SELECT @master_binlog_checksum AS c');
    const checksum = (checksumRow?.c ?? 'NONE').toUpperCase() === 'CRC32' ? 'crc32' : 'off';
    options.signal?.throwIfAborted();

    channel = new PacketChannel(takeOverSocket(conn.raw), {
      maxPacketSize: options.maxPacketSize ?? DEFAULT_MAX_PACKET,
      highWaterMark: options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
      server,
    });
    const silenceLimitMs = options.silenceLimitMs ?? silenceLimitFor(heartbeatMs);
    // Until the first event arrives the server sends no heartbeats: it may be scanning binlog files for a GTID
    // start. Allow a minute of silence there rather than the heartbeat limit.
    channel.watchSilence(Math.max(silenceLimitMs, STARTUP_SILENCE_MS), heartbeatMs);
    channel.send(registerReplicaPayload({ serverId: replicaServerId, reportHost: hostname().slice(0, 60) }));
    const registered = await channel.next();
    if (registered === undefined)
      throw new ReplicationProtocolError(
        `Cannot register as a replica of ${server}: the connection was closed before the server answered`,
      );
    const reply = classifyReplicationPacket(registered);
    if (reply.kind === 'error') throw serverError(reply, `Cannot register as a replica of ${server}`, start);
    if (reply.kind !== 'event') {
      throw new ReplicationProtocolError(
        `Cannot register as a replica of ${server}: expected OK, got ${reply.kind}`,
      );
    }

    channel.send(plan.command);
    return new RunningStream({
      channel,
      facts,
      replicaServerId,
      replicaUuid,
      start: plan.start,
      server,
      decoder: new BinlogDecoder({
        checksum,
        ...(options.verifyChecksums !== undefined ? { verifyChecksums: options.verifyChecksums } : {}),
        ...(options.columnResolver !== undefined ? { columnResolver: options.columnResolver } : {}),
      }),
      tracker: new CoordinateTracker(
        facts.flavor,
        'gtid' in plan.start
          ? { gtid: plan.start.gtid }
          : {
              file: plan.start.file,
              position: plan.start.position,
            },
      ),
      signal: options.signal,
      silenceLimitMs,
      heartbeatMs,
      onRawEvent: options.onRawEvent,
    });
  } catch (err) {
    if (channel !== undefined) channel.close();
    else await conn.close();
    throw err;
  }
}

interface DumpPlan {
  readonly command: Buffer;
  readonly start: StartPosition;
  /** MariaDB GTID start: the normalised list for `@slave_connect_state`. */
  readonly mariadbGtid: string | undefined;
}

/** The dump command for a start position, checked against the server's flavour. */
export function dumpPlan(
  start: StartPosition,
  facts: Pick<ServerFacts, 'flavor'>,
  serverId: number,
  stopAtEnd: boolean,
): DumpPlan {
  const nonBlock = stopAtEnd ? DumpFlag.NON_BLOCK : 0;
  if ('gtid' in start) {
    if (facts.flavor === 'mariadb') {
      if (!looksLikeMariadbGtid(start.gtid) && start.gtid.trim() !== '') {
        throw new StartPositionError(
          `Cannot start from GTID "${start.gtid}": the server is MariaDB, expected a domain-server-sequence list such as 0-1-100`,
          { fields: { gtid: start.gtid } },
        );
      }
      const gtid = formatMariadbGtidList(parseMariadbGtidList(start.gtid));
      return {
        // With @slave_connect_state set, MariaDB ignores the file name and finds the position from the GTIDs.
        command: binlogDumpPayload({
          serverId,
          file: '',
          position: 4,
          flags: nonBlock | DumpFlag.MARIADB_SEND_ANNOTATE_ROWS,
        }),
        start: { gtid },
        mariadbGtid: gtid,
      };
    }
    if (looksLikeMariadbGtid(start.gtid)) {
      throw new StartPositionError(
        `Cannot start from GTID "${start.gtid}": the server is MySQL, expected a GTID set such as 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5`,
        { fields: { gtid: start.gtid } },
      );
    }
    const set = MysqlGtidSet.parse(start.gtid);
    return {
      command: binlogDumpGtidPayload({
        serverId,
        file: '',
        position: 4n,
        flags: nonBlock,
        gtidData: set.encode(),
      }),
      start: { gtid: set.toString() },
      mariadbGtid: undefined,
    };
  }
  if (start.file === '' || /[\0/\\]/.test(start.file)) {
    throw new StartPositionError(
      `Cannot start from binlog file "${start.file}": expected a file name such as binlog.000001`,
      {
        fields: { file: start.file },
      },
    );
  }
  if (!Number.isInteger(start.position) || start.position < 4) {
    throw new StartPositionError(
      `Cannot start from position ${start.position}: expected an offset of at least 4`,
      {
        fields: { position: start.position },
      },
    );
  }
  const flags = nonBlock | (facts.flavor === 'mariadb' ? DumpFlag.MARIADB_SEND_ANNOTATE_ROWS : 0);
  return {
    command: binlogDumpPayload({ serverId, file: start.file, position: start.position, flags }),
    start,
    mariadbGtid: undefined,
  };
}

async function currentPosition(
  conn: SourceConnection,
  facts: ServerFacts,
  server: string,
): Promise<StartPosition> {
  const [major, minor] = facts.versionNumber;
  const sql =
    facts.flavor === 'mysql' && (major > 8 || (major === 8 && minor >= 2))
      ? 'SHOW BINARY LOG STATUS'
      : 'SHOW MASTER STATUS';
  const [row] = await conn.query<{ File?: string; Position?: string | number }>(sql);
  if (row?.File === undefined || row.Position === undefined) {
    throw new BinlogOffError(
      `Cannot find the current binlog position of ${server}: ${sql} returned nothing (is log_bin on?)`,
      {
        fields: { server },
      },
    );
  }
  return { file: row.File, position: Number(row.Position) };
}

function serverError(
  packet: Extract<ReplicationPacket, { kind: 'error' }>,
  action: string,
  start: StartPosition,
): ReplicationServerError {
  const details = { code: packet.code, sqlState: packet.sqlState ?? '', message: packet.message };
  const text = `${action}: server error ${packet.code}${packet.sqlState === undefined ? '' : ` (${packet.sqlState})`}: ${packet.message}`;
  const fields = 'gtid' in start ? { gtid: start.gtid } : { file: start.file, position: start.position };
  if (packet.code === ER_BINLOG_UNAVAILABLE && MISSING_BINLOG.test(packet.message)) {
    return new BinlogUnavailableError(text, details, { fields });
  }
  // Missing REPLICATION SLAVE / REPLICATION CLIENT privileges; 1236 otherwise means a start position that is not
  // an event boundary or lies past the end of its file.
  const kind = ACCESS_DENIED.has(packet.code)
    ? 'auth'
    : packet.code === ER_BINLOG_UNAVAILABLE
      ? 'input'
      : 'connection';
  return new ReplicationServerError(text, details, { fields }, 'SOURCE_REPLICATION_REFUSED', kind);
}

interface RunningStreamInit {
  readonly channel: PacketChannel;
  readonly facts: ServerFacts;
  readonly replicaServerId: number;
  readonly replicaUuid: string | undefined;
  readonly start: StartPosition;
  readonly server: string;
  readonly decoder: BinlogDecoder;
  readonly tracker: CoordinateTracker;
  readonly signal: AbortSignal | undefined;
  readonly silenceLimitMs: number;
  readonly heartbeatMs: number;
  readonly onRawEvent: ((raw: Buffer, event: DecodedEvent) => void) | undefined;
}

class RunningStream implements BinlogStream {
  readonly facts: ServerFacts;
  readonly replicaServerId: number;
  readonly replicaUuid: string | undefined;
  readonly start: StartPosition;
  readonly #init: RunningStreamInit;
  #iterated = false;

  constructor(init: RunningStreamInit) {
    this.#init = init;
    this.facts = init.facts;
    this.replicaServerId = init.replicaServerId;
    this.replicaUuid = init.replicaUuid;
    this.start = init.start;
  }

  get coordinates(): StreamCoordinates {
    return this.#init.tracker.coordinates;
  }

  close(): Promise<void> {
    this.#init.channel.close();
    return Promise.resolve();
  }

  [Symbol.asyncIterator](): AsyncIterator<DecodedEvent> {
    if (this.#iterated) {
      throw new ReplicationProtocolError(
        'Cannot iterate a binlog stream twice: open a new stream to read again',
      );
    }
    this.#iterated = true;
    return this.#events();
  }

  async *#events(): AsyncGenerator<DecodedEvent> {
    const { channel, decoder, tracker, signal, server, start } = this.#init;
    let first = true;
    const onAbort = (): void => channel.close();
    if (signal?.aborted === true) channel.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const payload = await channel.next();
        if (first) {
          first = false;
          channel.watchSilence(this.#init.silenceLimitMs, this.#init.heartbeatMs);
        }
        if (payload === undefined) return;
        const packet = classifyReplicationPacket(payload);
        if (packet.kind === 'eof') return;
        if (packet.kind === 'error')
          throw serverError(packet, `Cannot read the binlog from ${server}`, start);
        let event: DecodedEvent;
        try {
          event = decoder.decode(packet.event);
        } catch (err) {
          if (isDbtrailError(err)) throw err;
          throw new ReplicationProtocolError(`Cannot decode an event from ${server}: ${messageOf(err)}`, {
            cause: err,
          });
        }
        this.#init.onRawEvent?.(packet.event, event);
        for (const e of flattenEvent(event)) {
          tracker.observe(e);
          yield e;
          if (signal?.aborted === true) return;
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      channel.close();
    }
  }
}
