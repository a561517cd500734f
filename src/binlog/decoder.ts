import { ChecksumAlg, eventChecksumOk, eventChecksums } from './checksum.js';
import { Cursor } from './cursor.js';
import { zstdUncompress } from './compression.js';
import {
  decodeAnnotateRows,
  decodeBinlogCheckpoint,
  decodeHeartbeat,
  decodeHeartbeatV2,
  decodeIncident,
  decodeIntvar,
  decodeRand,
  decodeRotate,
  decodeRowsQuery,
  decodeXaPrepare,
  decodeXid,
} from './decode-control.js';
import {
  decodeGtidList,
  decodeMariadbGtid,
  decodeMysqlGtid,
  decodePreviousGtids,
  decodeTaggedGtid,
} from './decode-gtid.js';
import { decodeQuery, decodeUserVar } from './decode-query.js';
import {
  ChecksumMismatchError,
  MalformedEventError,
  TruncatedError,
  UnsupportedBinlogError,
} from './errors.js';
import {
  CHECKSUM_LEN,
  EventFlag,
  EventType,
  eventTypeName,
  LOG_EVENT_HEADER_LEN,
  rowsEventKind,
} from './event-types.js';
import type { DecodedEvent, EventBody, TableMap, TransactionPayloadBody } from './events.js';
import {
  decodeFormatDescription,
  defaultFormatDescription,
  formatDescriptionBody,
  type FormatDescription,
} from './format-description.js';
import { decodeHeader, HEADER_TYPE_OFFSET, peekEventSize, type EventHeader } from './header.js';
import type { NdjsonOutput } from './ndjson-output.js';
import { envelopeJson, renderNdjson } from './render.js';
import { writeRowsNdjson } from './rows-ndjson.js';
import { decodeRows, readRowsHeader, type ValueCodec } from './rows.js';
import { decodeTableMap, finishTableMap, type ColumnResolver } from './table-map.js';
import { decodeValue } from './values/decode-value.js';
import { applyJsonDiffs } from './values/json-diff.js';

export interface BinlogDecoderOptions {
  /** The file being decoded (file reader) or the stream's current file; ROTATE events update it. */
  readonly file?: string;
  /**
   * Checksum algorithm assumed before a FORMAT_DESCRIPTION is seen: a replication stream starts with an
   * artificial ROTATE that already carries the server's checksum. Default `off`.
   */
  readonly checksum?: 'crc32' | 'off';
  /** Verify CRC32 trailers when the format says so. Default true. */
  readonly verifyChecksums?: boolean;
  /** Supplies column names (and other gaps) from schema history for table maps without optional metadata. */
  readonly columnResolver?: ColumnResolver;
  /** Column value decoding; defaults to `values/decode-value.ts` and `values/json-diff.ts`. */
  readonly codec?: ValueCodec;
  /** Upper bound on any decompressed payload (TRANSACTION_PAYLOAD, MariaDB compressed events). Default 1 GiB. */
  readonly maxDecompressedSize?: number;
}

const DEFAULT_MAX_DECOMPRESSED = 1024 * 1024 * 1024;
/** Cached table maps beyond this count are dropped (a long stream over very many tables). */
const MAX_CACHED_TABLE_MAPS = 4096;
const EMPTY = Buffer.alloc(0);

const TRANSACTION_START = /^\s*(BEGIN|XA\s+START)\b/i;
const TRANSACTION_END = /^\s*(COMMIT|ROLLBACK(?!\s+TO\b)|XA\s+(PREPARE|COMMIT|ROLLBACK))\b/i;

/**
 * Stateful decoder for one binlog file or replication stream: holds the FORMAT_DESCRIPTION (post-header lengths,
 * checksum algorithm), the table maps and the current GTID, and turns raw event bytes into typed events.
 *
 * ```ts
 * const decoder = new BinlogDecoder({ file: 'binlog.000042' });
 * const event = decoder.decode(eventBytes, position);
 * for (const e of flattenEvent(event)) ...   // a TRANSACTION_PAYLOAD expands to its inner events
 * ```
 *
 * Pure: no I/O, no logging. Errors are typed (`errors.ts`); decoding may continue with the next event after a
 * checksum mismatch, but the caller decides.
 */
export class BinlogDecoder {
  #fde: FormatDescription;
  #sawFde = false;
  #file: string | undefined;
  readonly #verify: boolean;
  readonly #resolver: ColumnResolver | undefined;
  readonly #codec: ValueCodec;
  readonly #maxDecompressed: number;
  readonly #tableMaps = new Map<number, { raw: Buffer; tableMap: TableMap }>();
  readonly #activeTableMaps = new Map<number, TableMap>();
  readonly #cur = new Cursor(EMPTY);
  #gtid: string | undefined;
  #inTransaction = false;

  constructor(options: BinlogDecoderOptions = {}) {
    this.#fde = defaultFormatDescription(options.checksum === 'crc32' ? ChecksumAlg.CRC32 : ChecksumAlg.OFF);
    this.#file = options.file;
    this.#verify = options.verifyChecksums ?? true;
    this.#resolver = options.columnResolver;
    this.#codec = options.codec ?? { decodeValue, applyJsonDiffs };
    this.#maxDecompressed = options.maxDecompressedSize ?? DEFAULT_MAX_DECOMPRESSED;
  }

  /** The FORMAT_DESCRIPTION in effect (a default one before any was seen). */
  get formatDescription(): FormatDescription {
    return this.#fde;
  }

  /** Whether a FORMAT_DESCRIPTION event has been decoded. */
  get hasFormatDescription(): boolean {
    return this.#sawFde;
  }

  get file(): string | undefined {
    return this.#file;
  }

  set file(name: string | undefined) {
    this.#file = name;
  }

  /** The GTID of the transaction being decoded, if any. */
  get currentGtid(): string | undefined {
    return this.#gtid;
  }

  /** Whether events carry a CRC32 trailer under the current format. */
  get hasChecksums(): boolean {
    return this.#fde.checksumAlg === ChecksumAlg.CRC32;
  }

  /** Forget every table map (after a schema change the caller knows of, or when jumping in the stream). */
  invalidateTableMaps(): void {
    this.#tableMaps.clear();
    this.#activeTableMaps.clear();
  }

  /**
   * Decodes one complete event: `length` bytes of `buf` from `offset` (default: all of it). `pos` is the event's
   * offset in its file; when omitted it is derived from the header's log_pos.
   */
  decode(buf: Buffer, pos?: number, offset = 0, length = buf.length - offset): DecodedEvent {
    const header = decodeHeader(buf, offset, length);
    if (header.eventSize !== length) {
      throw new MalformedEventError(
        `Cannot decode event: header declares ${header.eventSize} bytes, ${length} were handed in`,
        { fields: { declared: header.eventSize, length } },
      );
    }
    const at = pos ?? (header.logPos >= header.eventSize ? header.logPos - header.eventSize : 0);
    const next = header.logPos !== 0 ? header.logPos : at + header.eventSize;
    return this.#decodeEvent(buf, offset, header, at, next, undefined, true);
  }

  #decodeEvent(
    buf: Buffer,
    offset: number,
    header: EventHeader,
    pos: number,
    nextPos: number,
    payloadIndex: number | undefined,
    mayHaveChecksum: boolean,
  ): DecodedEvent {
    const type = header.typeCode;
    const size = header.eventSize;
    let body: EventBody;
    if (type === EventType.FORMAT_DESCRIPTION) {
      const fde = decodeFormatDescription(this.#cur.reset(buf, offset + LOG_EVENT_HEADER_LEN, offset + size));
      if (fde.checksumAlg === ChecksumAlg.CRC32 && this.#verify)
        this.#verifyChecksum(buf, offset, size, pos, type);
      this.#fde = fde;
      this.#sawFde = true;
      this.invalidateTableMaps();
      body = formatDescriptionBody(fde);
      return this.#envelope(header, pos, nextPos, payloadIndex, body, this.#gtid);
    }
    const cur = this.#body(buf, offset, header, pos, mayHaveChecksum);
    const fde = this.#fde;
    let gtid = this.#gtid;
    let endsTransaction = false;
    switch (type) {
      case EventType.ROTATE:
        body = decodeRotate(cur, fde);
        break;
      case EventType.QUERY:
      case EventType.QUERY_COMPRESSED: {
        const q = decodeQuery(cur, fde, type, type === EventType.QUERY_COMPRESSED, this.#maxDecompressed);
        body = q;
        if (TRANSACTION_START.test(q.query)) this.#inTransaction = true;
        else if (TRANSACTION_END.test(q.query) || !this.#inTransaction) {
          endsTransaction = true;
          if (!TRANSACTION_END.test(q.query)) this.#forgetResolvedTableMaps();
        }
        break;
      }
      case EventType.XID:
        body = decodeXid(cur, fde);
        endsTransaction = true;
        break;
      case EventType.STOP:
        body = { kind: 'stop' };
        break;
      case EventType.HEARTBEAT:
        body = decodeHeartbeat(cur, header);
        break;
      case EventType.HEARTBEAT_V2:
        body = decodeHeartbeatV2(cur);
        break;
      case EventType.INTVAR:
        body = decodeIntvar(cur);
        break;
      case EventType.RAND:
        body = decodeRand(cur);
        break;
      case EventType.USER_VAR:
        body = decodeUserVar(cur, this.#codec.decodeValue, fde.flavor);
        break;
      case EventType.ROWS_QUERY:
        body = decodeRowsQuery(cur, fde);
        break;
      case EventType.ANNOTATE_ROWS:
        body = decodeAnnotateRows(cur, fde);
        break;
      case EventType.INCIDENT:
        body = decodeIncident(cur);
        break;
      case EventType.BINLOG_CHECKPOINT:
        body = decodeBinlogCheckpoint(cur, fde);
        break;
      case EventType.XA_PREPARE:
        body = decodeXaPrepare(cur, fde);
        endsTransaction = true;
        break;
      case EventType.TABLE_MAP:
        body = { kind: 'table_map', tableMap: this.#tableMap(cur) };
        break;
      case EventType.GTID:
      case EventType.ANONYMOUS_GTID:
      case EventType.GTID_TAGGED: {
        const g = type === EventType.GTID_TAGGED ? decodeTaggedGtid(cur) : decodeMysqlGtid(cur, header);
        body = g;
        gtid = this.#startTransaction(g.gtid);
        break;
      }
      case EventType.MARIADB_GTID: {
        const g = decodeMariadbGtid(cur, header);
        body = g;
        gtid = this.#startTransaction(g.gtid);
        break;
      }
      case EventType.PREVIOUS_GTIDS:
        body = decodePreviousGtids(cur, fde);
        break;
      case EventType.GTID_LIST:
        body = decodeGtidList(cur);
        break;
      case EventType.TRANSACTION_PAYLOAD:
        if (payloadIndex !== undefined) {
          throw new MalformedEventError(
            `Cannot decode TRANSACTION_PAYLOAD at position ${pos}: payload events do not nest`,
          );
        }
        body = this.#payload(cur, pos, nextPos);
        break;
      case EventType.START_ENCRYPTION:
        throw new UnsupportedBinlogError(
          `Cannot decode binlog${this.#file === undefined ? '' : ` "${this.#file}"`}: it is encrypted (START_ENCRYPTION at position ${pos}); decode it on the server with mariadb-binlog`,
        );
      default:
        if (rowsEventKind(type) !== undefined) {
          body = decodeRows(cur, type, {
            fde,
            tableMaps: this.#activeTableMaps,
            codec: this.#codec,
            maxDecompressedSize: this.#maxDecompressed,
          });
        } else {
          body = { kind: 'raw', raw: Buffer.from(cur.rest()) };
        }
    }
    const artificialRotate = body.kind === 'rotate' && (header.flags & EventFlag.ARTIFICIAL) !== 0;
    // An artificial ROTATE (replication stream start) names the file it and the following events come from.
    if (artificialRotate && body.kind === 'rotate') this.#file = body.nextFile;
    const event = this.#envelope(header, pos, nextPos, payloadIndex, body, gtid);
    // A real ROTATE is the last event of its file; the next events belong to the named one.
    if (!artificialRotate && body.kind === 'rotate') this.#file = body.nextFile;
    if (endsTransaction) {
      this.#gtid = undefined;
      this.#inTransaction = false;
    }
    return event;
  }

  /**
   * The cursor over an event's body (after the common header, before the CRC32 trailer), once the checksum is
   * verified when the format has one.
   */
  #body(buf: Buffer, offset: number, header: EventHeader, pos: number, mayHaveChecksum: boolean): Cursor {
    const type = header.typeCode;
    const size = header.eventSize;
    let end = offset + size;
    if (mayHaveChecksum && this.#fde.checksumAlg === ChecksumAlg.CRC32) {
      if (size < LOG_EVENT_HEADER_LEN + CHECKSUM_LEN) {
        throw new TruncatedError(
          `Cannot decode event at position ${pos}: ${size} bytes leave no room for its checksum`,
        );
      }
      if (this.#verify) this.#verifyChecksum(buf, offset, size, pos, type);
      end -= CHECKSUM_LEN;
    }
    const bodyStart = offset + (type === EventType.ROTATE ? LOG_EVENT_HEADER_LEN : this.#fde.headerLength);
    if (bodyStart > end) {
      throw new TruncatedError(
        `Cannot decode ${eventTypeName(type)} event at position ${pos}: ${size} bytes, shorter than its header`,
      );
    }
    return this.#cur.reset(buf, bodyStart, end);
  }

  /**
   * Decodes one complete event like `decode` and appends to `out` what `renderNdjson` prints for it (and for the
   * events inside a TRANSACTION_PAYLOAD). Row events are written straight from their bytes, without row objects
   * (rows-ndjson.ts), when the default value codec is in use. Throws what `decode` throws, leaving `out` as it was.
   */
  decodeNdjson(out: NdjsonOutput, buf: Buffer, pos?: number, offset = 0, length = buf.length - offset): void {
    const mark = out.pending;
    const type = length >= LOG_EVENT_HEADER_LEN ? (buf[offset + HEADER_TYPE_OFFSET] as number) : -1;
    if (
      rowsEventKind(type) !== undefined &&
      type !== EventType.PARTIAL_UPDATE_ROWS &&
      this.#codec.decodeValue === decodeValue
    ) {
      try {
        if (this.#rowsNdjson(out, buf, pos, offset, length)) return;
      } catch {
        // Decoded again below, which throws the error `decode` throws for these bytes.
      }
      out.truncate(mark);
    }
    const event = this.decode(buf, pos, offset, length);
    try {
      out.string(renderNdjson(event));
      if (event.body.kind === 'transaction_payload')
        for (const inner of event.body.events) out.string(renderNdjson(inner));
    } catch (err) {
      out.truncate(mark);
      throw err;
    }
  }

  #rowsNdjson(
    out: NdjsonOutput,
    buf: Buffer,
    pos: number | undefined,
    offset: number,
    length: number,
  ): boolean {
    const header = decodeHeader(buf, offset, length);
    if (header.eventSize !== length) return false;
    const at = pos ?? (header.logPos >= header.eventSize ? header.logPos - header.eventSize : 0);
    const next = header.logPos !== 0 ? header.logPos : at + header.eventSize;
    const cur = this.#body(buf, offset, header, at, true);
    const rows = readRowsHeader(cur, header.typeCode, {
      fde: this.#fde,
      tableMaps: this.#activeTableMaps,
      codec: this.#codec,
      maxDecompressedSize: this.#maxDecompressed,
    });
    const head = envelopeJson(
      this.#file,
      at,
      next,
      eventTypeName(header.typeCode),
      header,
      this.#gtid,
      undefined,
    );
    return writeRowsNdjson(rows, head, out);
  }

  #envelope(
    header: EventHeader,
    pos: number,
    nextPos: number,
    payloadIndex: number | undefined,
    body: EventBody,
    gtid: string | undefined,
  ): DecodedEvent {
    return {
      file: this.#file,
      pos,
      nextPos,
      type: eventTypeName(header.typeCode),
      header,
      gtid,
      payloadIndex,
      body,
    };
  }

  #startTransaction(gtid: string | undefined): string | undefined {
    this.#gtid = gtid;
    this.#inTransaction = false;
    return gtid;
  }

  #verifyChecksum(buf: Buffer, offset: number, size: number, pos: number, type: number): void {
    if (size < LOG_EVENT_HEADER_LEN + CHECKSUM_LEN) {
      throw new TruncatedError(
        `Cannot verify checksum of event at position ${pos}: ${size} bytes leave no room for it`,
      );
    }
    if (type !== EventType.FORMAT_DESCRIPTION && eventChecksumOk(buf, offset, size)) return;
    const { computed, stored } = eventChecksums(buf, offset, size);
    if (computed !== stored) {
      const where = this.#file === undefined ? `position ${pos}` : `"${this.#file}" position ${pos}`;
      throw new ChecksumMismatchError(
        `Cannot verify ${eventTypeName(type)} event at ${where}: CRC32 is 0x${hex8(computed)}, the event stores 0x${hex8(stored)}`,
        { fields: { file: this.#file, position: pos, computed, stored } },
      );
    }
  }

  #tableMap(cur: Cursor): TableMap {
    const raw = cur.buf.subarray(cur.pos, cur.end);
    const idLen = this.#fde.postHeaderLengths[EventType.TABLE_MAP - 1] === 6 ? 4 : 6;
    const cached = raw.length >= idLen ? this.#tableMaps.get(raw.readUIntLE(0, idLen)) : undefined;
    let tableMap: TableMap;
    if (cached !== undefined && cached.raw.equals(raw)) {
      // The same table map recurs before every statement: reuse its columns and the row plan cached on them.
      tableMap = cached.tableMap;
    } else {
      tableMap = finishTableMap(decodeTableMap(cur, this.#fde), this.#resolver);
      if (this.#tableMaps.size >= MAX_CACHED_TABLE_MAPS) this.#tableMaps.clear();
      this.#tableMaps.set(tableMap.tableId, { raw: Buffer.from(raw), tableMap });
    }
    cur.pos = cur.end;
    if (this.#activeTableMaps.size >= MAX_CACHED_TABLE_MAPS) this.#activeTableMaps.clear();
    this.#activeTableMaps.set(tableMap.tableId, tableMap);
    return tableMap;
  }

  /** A DDL may rename columns that came from schema history: drop those, keep table maps that name their columns. */
  #forgetResolvedTableMaps(): void {
    for (const [id, entry] of this.#tableMaps) {
      if (entry.tableMap.columnsSource !== 'binlog') this.#tableMaps.delete(id);
    }
  }

  /**
   * TRANSACTION_PAYLOAD (MySQL 8.0.20+, `control_events.h` / codecs/binary.cpp): a header of fields, each
   * type, length and value in net_field_length format (0 = end mark, 1 = payload size, 2 = compression type
   * (0 zstd, 255 none), 3 = uncompressed size), then the payload: the transaction's events, each a complete event
   * without a checksum trailer.
   */
  #payload(cur: Cursor, pos: number, nextPos: number): TransactionPayloadBody {
    let payloadSize: number | undefined;
    let compressionType: number | undefined;
    let uncompressedSize: number | undefined;
    for (;;) {
      const fieldType = cur.lenenc();
      if (fieldType === 0) break;
      const length = cur.lenenc();
      if (fieldType < 0 || length < 0)
        throw new MalformedEventError(
          `Cannot decode TRANSACTION_PAYLOAD at position ${pos}: NULL in its header`,
        );
      const valueStart = cur.pos;
      if (fieldType === 1) payloadSize = cur.lenenc();
      else if (fieldType === 2) compressionType = cur.lenenc();
      else if (fieldType === 3) uncompressedSize = cur.lenenc();
      cur.pos = valueStart;
      cur.skip(length);
    }
    if (
      payloadSize === undefined ||
      compressionType === undefined ||
      payloadSize < 0 ||
      payloadSize > cur.remaining
    ) {
      throw new MalformedEventError(
        `Cannot decode TRANSACTION_PAYLOAD at position ${pos}: payload size ${payloadSize} and compression ${compressionType} do not fit the ${cur.remaining} bytes present`,
      );
    }
    const payload = cur.bytes(payloadSize, 'transaction payload');
    let events: Buffer;
    let compression: TransactionPayloadBody['compression'];
    if (compressionType === 0) {
      compression = 'zstd';
      if (uncompressedSize === undefined || uncompressedSize < 0) {
        throw new MalformedEventError(
          `Cannot decode TRANSACTION_PAYLOAD at position ${pos}: zstd payload without an uncompressed size`,
        );
      }
      events = zstdUncompress(
        payload,
        uncompressedSize,
        `TRANSACTION_PAYLOAD at position ${pos}`,
        this.#maxDecompressed,
      );
    } else if (compressionType === 255) {
      compression = 'none';
      events = payload;
    } else {
      throw new UnsupportedBinlogError(
        `Cannot decode TRANSACTION_PAYLOAD at position ${pos}: compression type ${compressionType} is unknown`,
      );
    }
    const inner: DecodedEvent[] = [];
    let off = 0;
    for (let index = 0; off < events.length; index++) {
      if (events.length - off < LOG_EVENT_HEADER_LEN) {
        throw new TruncatedError(
          `Cannot decode TRANSACTION_PAYLOAD at position ${pos}: ${events.length - off} trailing bytes do not hold an event header`,
        );
      }
      const size = peekEventSize(events, off);
      if (size < LOG_EVENT_HEADER_LEN || off + size > events.length) {
        throw new MalformedEventError(
          `Cannot decode TRANSACTION_PAYLOAD at position ${pos}: inner event ${index} declares ${size} bytes, ${events.length - off} remain`,
        );
      }
      const h = decodeHeader(events, off, size);
      inner.push(this.#decodeEvent(events, off, h, pos, nextPos, index, false));
      off += size;
    }
    return {
      kind: 'transaction_payload',
      compression,
      payloadSize,
      uncompressedSize: uncompressedSize ?? payloadSize,
      events: inner,
    };
  }
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** The event followed by the events inside it (a TRANSACTION_PAYLOAD's transaction), in binlog order. */
export function* flattenEvent(event: DecodedEvent): Generator<DecodedEvent> {
  yield event;
  if (event.body.kind === 'transaction_payload') yield* event.body.events;
}
