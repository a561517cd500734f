import * as zlib from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { MalformedEventError, UnsupportedBinlogError } from './errors.js';

/**
 * MariaDB's compressed events (QUERY_COMPRESSED, *_ROWS_COMPRESSED, log_bin_compress=ON) prefix the compressed
 * bytes with a small header (MariaDB `sql/log_event.cc` binlog_get_uncompress_len / binlog_buf_uncompress):
 *   byte 0       bit 7 always set; bits 4-6 algorithm (0 = zlib); bits 0-2 number of length bytes (1..4)
 *   bytes 1..n   uncompressed length, big-endian ("high byte first, like myisam keys")
 *   rest         a zlib stream (zlib header + deflate + adler32)
 * The declared length bounds the output, so a lying header cannot make us allocate more than it claims and
 * `maxSize` caps the claim.
 */
export function mariadbUncompress(data: Buffer, what: string, maxSize: number): Buffer {
  if (data.length < 2)
    throw new MalformedEventError(
      `Cannot decompress ${what}: ${data.length} bytes, too short for the header`,
    );
  const first = data[0] as number;
  if ((first & 0x80) === 0) {
    throw new MalformedEventError(
      `Cannot decompress ${what}: header byte 0x${first.toString(16)} lacks the compressed flag 0x80`,
    );
  }
  const algorithm = (first & 0x70) >> 4;
  if (algorithm !== 0) {
    throw new UnsupportedBinlogError(
      `Cannot decompress ${what}: compression algorithm ${algorithm}, only zlib (0) is supported`,
    );
  }
  const lenlen = first & 0x07;
  if (lenlen < 1 || lenlen > 4 || data.length < 1 + lenlen) {
    throw new MalformedEventError(
      `Cannot decompress ${what}: invalid length-of-length ${lenlen} in the header`,
    );
  }
  const declared = data.readUIntBE(1, lenlen);
  if (declared > maxSize) {
    throw new MalformedEventError(
      `Cannot decompress ${what}: declared size ${declared} exceeds the limit of ${maxSize} bytes`,
    );
  }
  let out: Buffer;
  try {
    out = zlib.inflateSync(data.subarray(1 + lenlen), { maxOutputLength: Math.max(declared, 1) });
  } catch (err) {
    throw new MalformedEventError(`Cannot decompress ${what}: ${(err as Error).message}`, { cause: err });
  }
  if (out.length !== declared) {
    throw new MalformedEventError(
      `Cannot decompress ${what}: got ${out.length} bytes, header declares ${declared}`,
    );
  }
  return out;
}

/**
 * Decompresses a MySQL TRANSACTION_PAYLOAD body (zstd). The output buffer is allocated at the declared
 * uncompressed size (capped by `maxSize`) and zero-filled, so fzstd never allocates its own window from a frame
 * header that lies, and a stream shorter than declared leaves zeros that fail event framing instead of exposing
 * stale memory.
 */
export function zstdUncompress(data: Buffer, declared: number, what: string, maxSize: number): Buffer {
  if (declared > maxSize) {
    throw new MalformedEventError(
      `Cannot decompress ${what}: declared size ${declared} exceeds the limit of ${maxSize} bytes`,
    );
  }
  const out = Buffer.alloc(declared);
  try {
    const result = zstdDecompress(data, out);
    if (
      result.buffer !== out.buffer ||
      result.byteOffset !== out.byteOffset ||
      result.length !== out.length
    ) {
      throw new Error(`decompressed size differs from the declared ${declared} bytes`);
    }
  } catch (err) {
    throw new MalformedEventError(`Cannot decompress ${what}: ${(err as Error).message}`, { cause: err });
  }
  return out;
}
