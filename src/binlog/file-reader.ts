import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { isDbtrailError } from '../lib/errors.js';
import { BinlogDecoder, flattenEvent, type BinlogDecoderOptions } from './decoder.js';
import { CorruptBinlogError, IncompleteEventError, NotABinlogError } from './errors.js';
import { EventFramer } from './event-framer.js';
import { NdjsonOutput } from './ndjson-output.js';
import { BINLOG_MAGIC, EventType, eventTypeName } from './event-types.js';
import type { DecodedEvent } from './events.js';

export interface BinlogFileReaderOptions extends Omit<BinlogDecoderOptions, 'file'> {
  /** Name events carry in `file` (default: the path's base name, which is what coordinates use). */
  readonly name?: string;
  /** Yield only events starting at or after this offset (the FORMAT_DESCRIPTION is still read first). */
  readonly fromPos?: number;
  /** Stop before the first event starting at or after this offset. */
  readonly stopPos?: number;
  /** Read size; memory stays at about one chunk plus the largest event. Default 4 MiB. */
  readonly chunkSize?: number;
  /** Largest event accepted before the file is declared corrupt. Default 1 GiB + 64 KiB (max_allowed_packet). */
  readonly maxEventSize?: number;
  readonly signal?: AbortSignal;
}

const DEFAULT_CHUNK = 4 * 1024 * 1024;
const DEFAULT_MAX_EVENT = 1024 * 1024 * 1024 + 64 * 1024;
const FIRST_EVENT_POS = BINLOG_MAGIC.length;

/**
 * Reads a binlog file by chunks and yields its decoded events in order, events inside a TRANSACTION_PAYLOAD right
 * after their payload event. Never holds the whole file.
 *
 * Failure modes, always after every earlier event was yielded:
 * - not a binlog (wrong magic): `NotABinlogError`;
 * - the file ends inside an event (still being written, or cut): `IncompleteEventError` with the offset;
 * - anything else (checksum mismatch, malformed event, lying length): `CorruptBinlogError` with file, offset and the
 *   underlying error as `cause`. Unsupported content (an encrypted binlog) passes through as is.
 */
export function readBinlogFile(
  path: string,
  options: BinlogFileReaderOptions = {},
): AsyncGenerator<DecodedEvent> {
  return withBinlogFile(path, options, decodeBinlogChunks);
}

export interface NdjsonReaderOptions extends BinlogFileReaderOptions {
  /**
   * Each yielded buffer is valid only until the consumer asks for the next one (its bytes are then written
   * over): for a consumer that writes each buffer out and waits for the write to complete, this keeps the output
   * in one reused slab. Default false: yielded buffers are never overwritten.
   */
  readonly reuseBuffers?: boolean;
}

/**
 * `readBinlogFile` as NDJSON: yields buffers of whole lines (about 64 KiB each), exactly what `renderNdjson` prints
 * for every event `readBinlogFile` yields, written without building row objects (rows-ndjson.ts). On a failure,
 * the lines of every earlier event are yielded first, then the same error is thrown.
 */
export function readBinlogFileNdjson(
  path: string,
  options: NdjsonReaderOptions = {},
): AsyncGenerator<Buffer> {
  return withBinlogFile(path, options, decodeBinlogChunksNdjson);
}

/** Opens a binlog file, checks its magic and hands its chunks (from offset 4) to a chunk decoder. */
async function* withBinlogFile<T>(
  path: string,
  options: NdjsonReaderOptions,
  decode: (source: AsyncIterable<Buffer>, options: DecodeChunksOptions) => AsyncGenerator<T>,
): AsyncGenerator<T> {
  const fh = await open(path, 'r').catch((err: unknown) => {
    throw new NotABinlogError(`Cannot read binlog "${path}": ${(err as Error).message}`, {
      cause: err,
      fields: { file: path },
    });
  });
  try {
    const size = (await fh.stat()).size;
    const magic = Buffer.alloc(FIRST_EVENT_POS);
    const { bytesRead } = await fh.read(magic, 0, FIRST_EVENT_POS, 0);
    if (bytesRead < FIRST_EVENT_POS || !magic.equals(BINLOG_MAGIC)) {
      throw new NotABinlogError(
        `Cannot read "${path}": not a binlog file (expected the magic bytes fe 62 69 6e, found ${
          magic
            .subarray(0, bytesRead)
            .toString('hex')
            .replace(/(..)(?=.)/g, '$1 ') || 'an empty file'
        })`,
        { fields: { file: path } },
      );
    }
    const chunkSize = Math.max(1, options.chunkSize ?? DEFAULT_CHUNK);
    let readPos = FIRST_EVENT_POS;
    async function* chunks(): AsyncGenerator<Buffer> {
      for (;;) {
        options.signal?.throwIfAborted();
        const want = Math.min(chunkSize, size - readPos);
        if (want <= 0) return;
        const chunk = Buffer.allocUnsafe(want);
        const r = await fh.read(chunk, 0, want, readPos);
        if (r.bytesRead === 0) return;
        readPos += r.bytesRead;
        yield r.bytesRead === want ? chunk : chunk.subarray(0, r.bytesRead);
      }
    }
    const seek = (pos: number): void => {
      readPos = pos;
    };
    yield* decode(chunks(), {
      ...options,
      name: options.name ?? basename(path),
      path,
      fileSize: size,
      seek,
    });
  } finally {
    await fh.close();
  }
}

export interface DecodeChunksOptions extends NdjsonReaderOptions {
  /** Path for messages (defaults to the name). */
  readonly path?: string;
  /** Total size of the source when known: an event declared past it is reported as incomplete without buffering. */
  readonly fileSize?: number;
  /** Lets the decoder jump to `fromPos` after the FORMAT_DESCRIPTION instead of decoding what lies between. */
  readonly seek?: (pos: number) => void;
}

/** A complete event of the source, as the framer cut it, with its type code. */
interface Frame {
  readonly buf: Buffer;
  readonly offset: number;
  readonly length: number;
  readonly pos: number;
  readonly typeCode: number;
}

/**
 * The core of the file reader over any chunked source of the bytes after the 4-byte magic (the first chunk starts
 * at file offset 4). Exposed so tests can split input at every offset.
 */
export async function* decodeBinlogChunks(
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
  options: DecodeChunksOptions = {},
): AsyncGenerator<DecodedEvent> {
  const path = options.path ?? options.name ?? 'binlog';
  const decoder = newDecoder(options);
  const fromPos = options.fromPos ?? 0;
  for await (const f of frames(source, options)) {
    let event: DecodedEvent;
    try {
      event = decoder.decode(f.buf, f.pos, f.offset, f.length);
    } catch (err) {
      throw wrap(err, path, f.pos, f.typeCode);
    }
    if (f.pos >= fromPos) yield* flattenEvent(event);
  }
}

/** Output is handed out in buffers of about this size. */
const NDJSON_BATCH = 64 * 1024;

/** `decodeBinlogChunks` as NDJSON buffers (see `readBinlogFileNdjson`). */
export async function* decodeBinlogChunksNdjson(
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
  options: DecodeChunksOptions = {},
): AsyncGenerator<Buffer> {
  const path = options.path ?? options.name ?? 'binlog';
  const decoder = newDecoder(options);
  const fromPos = options.fromPos ?? 0;
  const out = new NdjsonOutput(undefined, options.reuseBuffers === true);
  try {
    for await (const f of frames(source, options)) {
      try {
        if (f.pos >= fromPos) decoder.decodeNdjson(out, f.buf, f.pos, f.offset, f.length);
        else decoder.decode(f.buf, f.pos, f.offset, f.length);
      } catch (err) {
        throw wrap(err, path, f.pos, f.typeCode);
      }
      if (out.pending >= NDJSON_BATCH) yield out.take();
    }
  } catch (err) {
    // Whatever decoded before the failure is output before the error.
    if (out.pending > 0) yield out.take();
    throw err;
  }
  if (out.pending > 0) yield out.take();
}

function newDecoder(options: DecodeChunksOptions): BinlogDecoder {
  const name = options.name;
  return new BinlogDecoder({ ...options, ...(name !== undefined ? { file: name } : {}) });
}

/**
 * Frames the source into events, stopping before `stopPos` and, after the FORMAT_DESCRIPTION (which the consumer
 * decodes before asking for the next frame), seeking to `fromPos` when the source can seek. Framing failures
 * carry the path and offset; the consumer wraps its own decoding errors with `wrap`.
 */
async function* frames(
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
  options: DecodeChunksOptions,
): AsyncGenerator<Frame> {
  const path = options.path ?? options.name ?? 'binlog';
  let framer = new EventFramer(FIRST_EVENT_POS, options.maxEventSize ?? DEFAULT_MAX_EVENT);
  const fromPos = options.fromPos ?? 0;
  const stopPos = options.stopPos ?? Number.POSITIVE_INFINITY;
  let seeked = false;

  for await (const chunk of source) {
    framer.push(chunk);
    for (;;) {
      const at = framer.pos;
      let frame;
      try {
        const size = framer.peekSize();
        if (size !== undefined && options.fileSize !== undefined && at + size > options.fileSize) {
          throw incomplete(path, at, size, options.fileSize - at);
        }
        frame = framer.next();
      } catch (err) {
        throw wrap(err, path, at, undefined);
      }
      if (frame === undefined) break;
      if (frame.pos >= stopPos) return;
      const typeCode = frame.buf[frame.offset + 4] as number;
      yield { buf: frame.buf, offset: frame.offset, length: frame.length, pos: frame.pos, typeCode };
      const isFde = typeCode === EventType.FORMAT_DESCRIPTION;
      if (isFde && !seeked && fromPos > framer.pos && options.seek !== undefined) {
        // Jump over everything between the FORMAT_DESCRIPTION and --from-pos, as mysqlbinlog does.
        seeked = true;
        options.seek(fromPos);
        framer = new EventFramer(fromPos, options.maxEventSize ?? DEFAULT_MAX_EVENT);
        break;
      }
    }
  }
  if (framer.pending > 0) {
    let size: number | undefined;
    try {
      size = framer.peekSize();
    } catch (err) {
      throw wrap(err, path, framer.pos, undefined);
    }
    throw incomplete(path, framer.pos, size, framer.pending);
  }
}

function incomplete(
  path: string,
  offset: number,
  need: number | undefined,
  available: number,
): IncompleteEventError {
  const detail =
    need === undefined
      ? `${available} bytes, less than an event header`
      : `the event needs ${need} bytes, ${available} are there`;
  return new IncompleteEventError(
    `Cannot decode "${path}": stopped at offset ${offset}, incomplete event (${detail})`,
    {
      fields: { file: path, offset, need, available },
    },
  );
}

function wrap(err: unknown, path: string, offset: number, typeCode: number | undefined): unknown {
  if (!isDbtrailError(err)) return err;
  if (err.kind === 'unsupported' || err instanceof IncompleteEventError || err instanceof CorruptBinlogError)
    return err;
  const what = typeCode === undefined ? '' : ` (${eventTypeName(typeCode)})`;
  return new CorruptBinlogError(`Cannot decode "${path}" at offset ${offset}${what}: ${err.message}`, {
    cause: err,
    fields: { file: path, offset, reason: err.code },
  });
}
