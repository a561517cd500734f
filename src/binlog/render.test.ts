import { describe, expect, it } from 'vitest';
import type { DecodedEvent, RowImage, RowsBody } from './events.js';
import { quote, renderNdjson } from './render.js';

/** A deterministic generator, so a failure repeats. */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

/** Strings mixing plain ASCII with every character class JSON.stringify treats specially. */
function randomString(next: () => number): string {
  const pool = [
    0x41, 0x7a, 0x20, 0x22, 0x5c, 0x00, 0x0a, 0x1f, 0x7f, 0xe9, 0x2028, 0xd83d, 0xde00, 0xdfff, 0xfffd,
  ];
  let s = '';
  const n = Math.floor(next() * 12);
  for (let i = 0; i < n; i++) {
    s += next() < 0.6 ? 'abc' : String.fromCharCode(pool[Math.floor(next() * pool.length)] as number);
  }
  return s;
}

describe('quote', () => {
  it('is JSON.stringify of a string, lone surrogates and control characters included', () => {
    const next = rng(1);
    for (let i = 0; i < 5000; i++) {
      const s = randomString(next);
      expect(quote(s)).toBe(JSON.stringify(s));
    }
    expect(quote('')).toBe('""');
    expect(quote('2026-01-01 00:00:01.000001')).toBe('"2026-01-01 00:00:01.000001"');
  });
});

function rowsEvent(columns: string[], rows: RowsBody['rows']): DecodedEvent {
  return {
    file: 'binlog.000001',
    pos: 4,
    nextPos: 100,
    type: 'WRITE_ROWS',
    header: { timestamp: 1, typeCode: 30, serverId: 1, eventSize: 96, logPos: 100, flags: 0 },
    gtid: undefined,
    payloadIndex: undefined,
    body: {
      kind: 'rows',
      op: 'insert',
      tableId: 1,
      flags: 0,
      schema: 's',
      table: 't',
      columns,
      rows,
      tableMap: undefined,
    },
  };
}

/** What the renderer printed before row images were serialised by hand: JSON.stringify of each image. */
function reference(columns: string[], rows: RowsBody['rows']): string {
  const images = rows
    .map((r) => `{"before":${JSON.stringify(r.before)},"after":${JSON.stringify(r.after)}}`)
    .join(',');
  return `{"file":"binlog.000001","pos":4,"next_pos":100,"type":"WRITE_ROWS","type_code":30,"timestamp":1,"server_id":1,"schema":"s","table":"t","table_id":1,"flags":0,"columns":${JSON.stringify(columns)},"rows":[${images}]}\n`;
}

describe('renderNdjson row images', () => {
  it('equal JSON.stringify of the image objects, whatever their keys and values', () => {
    const columns = ['id', 'name', '7', 'we"ird', '__proto__', 'blob'];
    const next = rng(2);
    for (let i = 0; i < 300; i++) {
      const img: RowImage = {};
      // Keys in table order with some left out, sometimes shuffled, sometimes one the table does not have.
      const keys = columns.filter(() => next() < 0.8);
      if (next() < 0.3) keys.reverse();
      if (next() < 0.2) keys.push('extra');
      for (const k of keys) {
        const r = next();
        const v = r < 0.2 ? null : r < 0.3 ? { hex: 'A0' } : randomString(next);
        Object.defineProperty(img, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      const rows = [
        { before: null, after: img },
        { before: img, after: next() < 0.5 ? null : { id: '1' } },
      ];
      expect(renderNdjson(rowsEvent(columns, rows))).toBe(reference(columns, rows));
    }
  });

  it('leave out undefined values as JSON.stringify does', () => {
    const img = { id: '1', gone: undefined, name: 'x' } as unknown as RowImage;
    const rows = [{ before: null, after: img }];
    expect(renderNdjson(rowsEvent(['id', 'gone', 'name'], rows))).toBe(
      reference(['id', 'gone', 'name'], rows),
    );
  });
});
