import { describe, expect, it } from 'vitest';
import { ColumnType } from './column-types.js';
import { EventType } from './event-types.js';
import { decodeBinlogChunks, decodeBinlogChunksNdjson } from './file-reader.js';
import { renderNdjson } from './render.js';
import {
  binlogFile,
  bitmap,
  bitmapMsb,
  cat,
  decimalBytes,
  event,
  fde,
  lenenc,
  lenstr,
  rowsBody,
  tableMapBody,
  tlv,
  u16,
} from './spec-bytes.js';

/**
 * The NDJSON writer (rows-ndjson.ts) against the object decoder + renderNdjson on random rows: every type the
 * writer formats itself, at random bytes (valid or not), must come out byte for byte the same, and a failure must
 * leave the same output followed by the same error.
 */

function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

interface Col {
  name: string;
  type: number;
  meta: number[];
  unsigned?: boolean;
  /** Character columns: collation id. */
  collation?: number;
  /** A value's bytes; `raw` allows bytes that may not be a valid value. */
  value: (next: () => number, raw: boolean) => Buffer;
}

const bytes = (next: () => number, n: number): Buffer =>
  Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));

/** Text bytes: mostly printable ASCII, with quotes, backslashes, controls and bytes >= 0x80 mixed in. */
function text(next: () => number, max: number): Buffer {
  const n = Math.floor(next() * (max + 1));
  const pool = [
    0x41, 0x61, 0x20, 0x2d, 0x7e, 0x22, 0x5c, 0x00, 0x0a, 0x7f, 0x80, 0x9d, 0xc3, 0xa9, 0xe2, 0xff,
  ];
  return Buffer.from(
    Array.from({ length: n }, () =>
      next() < 0.85 ? 0x30 + Math.floor(next() * 0x40) : (pool[Math.floor(next() * pool.length)] as number),
    ),
  );
}

function digits(next: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(Math.floor(next() * 10));
  return s;
}

/** A DECIMAL value: valid digits (sometimes negative or zero), or now and then raw bytes that may be invalid. */
function decimal(precision: number, scale: number, size: number): Col['value'] {
  return (next, raw) => {
    if (raw && next() < 0.03) return bytes(next, size);
    const sign = next() < 0.3 ? '-' : '';
    const value = next() < 0.05 ? '0' : `${digits(next, precision - scale)}.${digits(next, scale)}`;
    return decimalBytes(sign + value, precision, scale);
  };
}

/** DATETIME2(fsp): plausible dates most of the time, raw bytes (negative, year > 9999, bad fractions) otherwise. */
function datetime2(fsp: number): (next: () => number) => Buffer {
  return (next) => {
    const b = bytes(next, 5 + ((fsp + 1) >> 1));
    if (next() < 0.8) b[0] = 0x80 | ((b[0] as number) & 0x1f);
    return b;
  };
}

const COLUMNS: Col[] = [
  { name: 'ti', type: ColumnType.TINY, meta: [], value: (n) => bytes(n, 1) },
  { name: 'tu', type: ColumnType.TINY, meta: [], unsigned: true, value: (n) => bytes(n, 1) },
  { name: 'si', type: ColumnType.SHORT, meta: [], value: (n) => bytes(n, 2) },
  { name: 'mu', type: ColumnType.INT24, meta: [], unsigned: true, value: (n) => bytes(n, 3) },
  { name: 'mi', type: ColumnType.INT24, meta: [], value: (n) => bytes(n, 3) },
  { name: 'i', type: ColumnType.LONG, meta: [], value: (n) => bytes(n, 4) },
  { name: 'iu', type: ColumnType.LONG, meta: [], unsigned: true, value: (n) => bytes(n, 4) },
  {
    name: 'b',
    type: ColumnType.LONGLONG,
    meta: [],
    value: (n) => (n() < 0.5 ? bytes(n, 8) : cat(bytes(n, 6), [n() < 0.5 ? 0 : 0xff, n() < 0.5 ? 0 : 0xff])),
  },
  {
    name: 'bu',
    type: ColumnType.LONGLONG,
    meta: [],
    unsigned: true,
    value: (n) => (n() < 0.5 ? bytes(n, 8) : cat(bytes(n, 6), [n() < 0.5 ? 0x1f : 0x20, 0])),
  },
  { name: 'd', type: ColumnType.NEWDECIMAL, meta: [12, 2], value: decimal(12, 2, 6) },
  { name: 'd9', type: ColumnType.NEWDECIMAL, meta: [24, 9], value: decimal(24, 9, 11) },
  { name: 'dbig', type: ColumnType.NEWDECIMAL, meta: [65, 30], value: decimal(65, 30, 30) },
  { name: 'dt0', type: ColumnType.DATETIME2, meta: [0], value: datetime2(0) },
  { name: 'dt3', type: ColumnType.DATETIME2, meta: [3], value: datetime2(3) },
  { name: 'dt5', type: ColumnType.DATETIME2, meta: [5], value: datetime2(5) },
  { name: 'dt6', type: ColumnType.DATETIME2, meta: [6], value: datetime2(6) },
  { name: 'ts', type: ColumnType.TIMESTAMP2, meta: [2], value: (n) => bytes(n, 5) },
  { name: 'v', type: ColumnType.VARCHAR, meta: [200, 0], collation: 45, value: (n) => lenstr(text(n, 30)) },
  {
    name: 'vl',
    type: ColumnType.VARCHAR,
    meta: [0x90, 0x01],
    collation: 8,
    value: (n) => {
      const t = text(n, 40);
      return cat(u16(t.length), t);
    },
  },
  {
    name: 'vb',
    type: ColumnType.VARCHAR,
    meta: [20, 0],
    collation: 63,
    value: (n) => lenstr(bytes(n, Math.floor(n() * 20))),
  },
  {
    name: 'cb',
    type: ColumnType.STRING,
    meta: [0xfe, 4],
    collation: 63,
    value: (n) => lenstr(bytes(n, Math.floor(n() * 5))),
  },
  { name: 'c', type: ColumnType.STRING, meta: [0xfe, 8], collation: 33, value: (n) => lenstr(text(n, 8)) },
  {
    name: 'bl',
    type: ColumnType.BLOB,
    meta: [2],
    collation: 63,
    value: (n) => {
      const t = bytes(n, Math.floor(n() * 50));
      return cat(u16(t.length), t);
    },
  },
  {
    name: 'e',
    type: ColumnType.STRING,
    meta: [ColumnType.ENUM, 1],
    value: (n) => Buffer.from([Math.floor(n() * 4)]),
  },
];

function tableMap(): Buffer {
  const numeric = COLUMNS.filter((c) => [1, 2, 3, 8, 9, 246].includes(c.type));
  const character = COLUMNS.filter((c) => c.collation !== undefined);
  const optional = cat(
    tlv(1, bitmapMsb(numeric.map((c) => c.unsigned === true))),
    tlv(3, cat(...character.map((c) => lenenc(c.collation as number)))),
    tlv(4, cat(...COLUMNS.map((c) => lenstr(c.name)))),
    tlv(6, cat(lenenc(3), lenstr('a'), lenstr('b"c'), lenstr('\\'))),
    tlv(10, lenenc(45)),
  );
  return tableMapBody(
    9,
    'db',
    'random',
    COLUMNS.map((c) => ({ type: c.type, meta: c.meta, nullable: true })),
    optional,
  );
}

function image(next: () => number, present: boolean[], raw: boolean): Buffer {
  const cols = COLUMNS.filter((_, i) => present[i]);
  const nulls = cols.map(() => next() < 0.1);
  return cat(bitmap(nulls), ...cols.map((c, i) => (nulls[i] ? Buffer.alloc(0) : c.value(next, raw))));
}

function randomBinlog(seed: number, events: number, raw = true): Buffer {
  const next = rng(seed);
  const C = { checksum: true };
  const makers: ((pos: number) => Buffer)[] = [(pos) => fde('8.0.36', 1, { pos })];
  for (let e = 0; e < events; e++) {
    makers.push((pos) => event(EventType.TABLE_MAP, tableMap(), { ...C, pos }));
    const all = COLUMNS.map(() => true);
    const some = COLUMNS.map(() => next() < 0.6);
    const kind = Math.floor(next() * 3);
    const rows: Buffer[] = [];
    const count = 1 + Math.floor(next() * 6);
    const before = next() < 0.3 ? some : all;
    for (let r = 0; r < count; r++) {
      rows.push(image(next, before, raw));
      if (kind === 1) rows.push(image(next, all, raw));
    }
    const type = [EventType.WRITE_ROWS, EventType.UPDATE_ROWS, EventType.DELETE_ROWS][kind] as number;
    const bitmaps = kind === 1 ? [bitmap(before), bitmap(all)] : [bitmap(before)];
    makers.push((pos) =>
      event(type, rowsBody(9, COLUMNS.length, bitmaps, cat(...rows), Buffer.alloc(0)), { ...C, pos }),
    );
  }
  return binlogFile(makers);
}

interface Outcome {
  readonly output: string;
  readonly error: string | undefined;
}

async function viaObjects(file: Buffer): Promise<Outcome> {
  let output = '';
  try {
    for await (const e of decodeBinlogChunks([file.subarray(4)], { name: 'random.000001' }))
      output += renderNdjson(e);
  } catch (err) {
    return { output, error: (err as Error).message };
  }
  return { output, error: undefined };
}

async function viaWriter(file: Buffer): Promise<Outcome> {
  const parts: Buffer[] = [];
  try {
    for await (const b of decodeBinlogChunksNdjson([file.subarray(4)], { name: 'random.000001' }))
      parts.push(b);
  } catch (err) {
    return { output: Buffer.concat(parts).toString('utf8'), error: (err as Error).message };
  }
  return { output: Buffer.concat(parts).toString('utf8'), error: undefined };
}

describe('NDJSON row writer', () => {
  it('prints random rows of every written type exactly as renderNdjson does', async () => {
    let errors = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const file = randomBinlog(seed, 3);
      const expected = await viaObjects(file);
      const actual = await viaWriter(file);
      expect(actual.error, `seed ${seed}`).toBe(expected.error);
      expect(actual.output, `seed ${seed}`).toBe(expected.output);
      if (expected.error !== undefined) errors++;
    }
    // Raw DECIMAL bytes make some events invalid: both paths must also fail alike, so some runs must fail.
    expect(errors).toBeGreaterThan(0);
    expect(errors).toBeLessThan(40);
  });

  it('stops at a damaged event with the same lines and the same error', async () => {
    const file = randomBinlog(1000, 4, false);
    // Cut the last event short, keeping its declared size: the file ends inside it.
    const cut = file.subarray(0, file.length - 7);
    const expected = await viaObjects(cut);
    const actual = await viaWriter(cut);
    expect(expected.error).toMatch(/incomplete event/);
    expect(expected.output.split('\n').length).toBeGreaterThan(4);
    expect(actual).toEqual(expected);
    // A flipped byte inside the rows breaks the checksum of that event only.
    const flipped = Buffer.from(file);
    flipped[flipped.length - 20] = (flipped[flipped.length - 20] as number) ^ 0x40;
    const e2 = await viaObjects(flipped);
    expect(e2.error).toMatch(/CRC32/);
    expect(await viaWriter(flipped)).toEqual(e2);
  });

  it('splits its output into buffers of whole lines', async () => {
    const file = randomBinlog(7, 400, false);
    const parts: Buffer[] = [];
    for await (const b of decodeBinlogChunksNdjson([file.subarray(4)], { name: 'random.000001' }))
      parts.push(b);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(p[p.length - 1]).toBe(0x0a);
    expect(Buffer.concat(parts).toString('utf8')).toBe((await viaObjects(file)).output);
  });
});
