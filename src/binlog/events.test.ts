import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ColumnType } from './column-types.js';
import { BinlogDecoder, flattenEvent } from './decoder.js';
import {
  ChecksumMismatchError,
  MalformedEventError,
  MissingTableMapError,
  UnsupportedBinlogError,
} from './errors.js';
import { EventType } from './event-types.js';
import type { DecodedEvent, EventBody } from './events.js';
import { renderNdjson } from './render.js';
import {
  bitmap,
  bitmapMsb,
  cat,
  event,
  fde,
  lenenc,
  lenstr,
  queryBody,
  rowsBody,
  tableMapBody,
  tlv,
  u16,
  u24,
  u32,
  u48,
  u64,
  u8,
  varlen,
  varlenSigned,
  zstdRawFrame,
} from './spec-bytes.js';

function body<K extends EventBody['kind']>(e: DecodedEvent, kind: K): Extract<EventBody, { kind: K }> {
  expect(e.body.kind).toBe(kind);
  return e.body as Extract<EventBody, { kind: K }>;
}

/** A decoder that has seen a MySQL 8 FORMAT_DESCRIPTION with the given checksum setting. */
function mysqlDecoder(checksum = true): BinlogDecoder {
  const d = new BinlogDecoder({ file: 'binlog.000001' });
  d.decode(fde('8.0.36', checksum ? 1 : 0), 4);
  return d;
}

function mariadbDecoder(): BinlogDecoder {
  const d = new BinlogDecoder({ file: 'mariadb-bin.000001' });
  d.decode(fde('10.11.6-MariaDB-log', 1), 4);
  return d;
}

const C = { checksum: true };

describe('FORMAT_DESCRIPTION and checksums', () => {
  it('reads the format and verifies the FDE CRC even with the in-use flag set in place', () => {
    const bytes = fde('8.0.36', 1);
    // Set LOG_EVENT_BINLOG_IN_USE_F after the CRC was computed, as the server does while the file is open.
    bytes[17] = (bytes[17] as number) | 0x1;
    const d = new BinlogDecoder();
    const e = d.decode(bytes, 4);
    expect(e.type).toBe('FORMAT_DESCRIPTION');
    expect(body(e, 'format_description')).toMatchObject({
      serverVersion: '8.0.36',
      checksum: 'crc32',
      flavor: 'mysql',
      binlogVersion: 4,
    });
    expect(d.hasChecksums).toBe(true);
  });

  it('detects MariaDB and a file without checksums', () => {
    const d = new BinlogDecoder();
    const e = d.decode(fde('10.5.15-MariaDB-log', 0), 4);
    expect(body(e, 'format_description')).toMatchObject({ flavor: 'mariadb', checksum: 'off' });
    expect(d.hasChecksums).toBe(false);
  });

  it('rejects an event whose CRC32 does not match, naming file and position', () => {
    const d = mysqlDecoder();
    const bytes = event(EventType.XID, u64(9), { ...C, pos: 1234 });
    bytes[20] = (bytes[20] as number) ^ 0xff;
    let err: unknown;
    try {
      d.decode(bytes, 1234);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect((err as ChecksumMismatchError).fields).toMatchObject({ file: 'binlog.000001', position: 1234 });
    expect((err as Error).message).toMatch(
      /^Cannot verify XID event at "binlog.000001" position 1234: CRC32 is 0x[0-9a-f]{8}, the event stores 0x/,
    );
  });

  it('rejects a corrupted FDE checksum', () => {
    const bytes = fde('8.0.36', 1);
    bytes[30] = 0x41;
    expect(() => new BinlogDecoder().decode(bytes, 4)).toThrow(ChecksumMismatchError);
  });

  it('rejects a header whose size disagrees with the bytes handed in', () => {
    const bytes = event(EventType.XID, u64(1));
    expect(() => new BinlogDecoder().decode(bytes.subarray(0, bytes.length - 1))).toThrow(
      MalformedEventError,
    );
  });
});

describe('control events', () => {
  it('ROTATE: position and next file; the decoder follows it', () => {
    const d = mysqlDecoder();
    const e = d.decode(event(EventType.ROTATE, cat(u64(4), Buffer.from('binlog.000002')), C), 500);
    expect(body(e, 'rotate')).toEqual({ kind: 'rotate', position: 4, nextFile: 'binlog.000002' });
    expect(e.file).toBe('binlog.000001');
    expect(d.file).toBe('binlog.000002');
  });

  it('XID, STOP, INTVAR, RAND, INCIDENT', () => {
    const d = mysqlDecoder();
    expect(body(d.decode(event(EventType.XID, u64(0xfffffffffffffffen), C)), 'xid').xid).toBe(
      0xfffffffffffffffen,
    );
    expect(d.decode(event(EventType.STOP, Buffer.alloc(0), C)).body).toEqual({ kind: 'stop' });
    expect(body(d.decode(event(EventType.INTVAR, cat(u8(2), u64(42)), C)), 'intvar')).toEqual({
      kind: 'intvar',
      intvarType: 'INSERT_ID',
      value: 42n,
    });
    expect(body(d.decode(event(EventType.RAND, cat(u64(1), u64(2)), C)), 'rand')).toEqual({
      kind: 'rand',
      seed1: 1n,
      seed2: 2n,
    });
    expect(
      body(d.decode(event(EventType.INCIDENT, cat(u16(1), u8(4), Buffer.from('lost')), C)), 'incident'),
    ).toEqual({
      kind: 'incident',
      incident: 1,
      message: 'lost',
    });
  });

  it('HEARTBEAT v1 and v2', () => {
    const d = mysqlDecoder();
    const v1 = d.decode(event(EventType.HEARTBEAT, Buffer.from('binlog.000007'), { ...C, logPos: 999 }));
    expect(body(v1, 'heartbeat')).toEqual({ kind: 'heartbeat', logFile: 'binlog.000007', logPos: 999 });
    const tlvs = cat(u8(1), u8(13), Buffer.from('binlog.000008'), u8(2), u8(4), lenenc(70000), u8(0));
    expect(body(d.decode(event(EventType.HEARTBEAT_V2, tlvs, C)), 'heartbeat')).toEqual({
      kind: 'heartbeat',
      logFile: 'binlog.000008',
      logPos: 70000,
    });
  });

  it('ROWS_QUERY skips its one-byte length; ANNOTATE_ROWS and BINLOG_CHECKPOINT (MariaDB)', () => {
    const d = mysqlDecoder();
    expect(
      body(
        d.decode(event(EventType.ROWS_QUERY, cat(u8(3), Buffer.from('INSERT INTO t VALUES (1)')), C)),
        'rows_query',
      ).query,
    ).toBe('INSERT INTO t VALUES (1)');
    const m = mariadbDecoder();
    expect(
      body(m.decode(event(EventType.ANNOTATE_ROWS, Buffer.from('DELETE FROM t'), C)), 'rows_query').query,
    ).toBe('DELETE FROM t');
    expect(
      body(
        m.decode(event(EventType.BINLOG_CHECKPOINT, cat(u32(16), Buffer.from('mariadb-bin.0001')), C)),
        'binlog_checkpoint',
      ).logFile,
    ).toBe('mariadb-bin.0001');
  });

  it('XA_PREPARE', () => {
    const d = mysqlDecoder();
    const e = d.decode(
      event(EventType.XA_PREPARE, cat(u8(0), u32(1), u32(3), u32(2), Buffer.from('abcde')), C),
    );
    expect(body(e, 'xa_prepare')).toEqual({
      kind: 'xa_prepare',
      onePhase: false,
      formatId: 1,
      gtrid: Buffer.from('abc'),
      bqual: Buffer.from('de'),
    });
    expect(() => d.decode(event(EventType.XA_PREPARE, cat(u8(0), u32(1), u32(65), u32(0)), C))).toThrow(
      MalformedEventError,
    );
  });

  it('keeps unknown event types raw (Aurora type 100)', () => {
    const d = mysqlDecoder();
    const e = d.decode(event(100, Buffer.from('****'), C));
    expect(e.type).toBe('UNKNOWN_100');
    expect(body(e, 'raw').raw).toEqual(Buffer.from('****'));
    expect(renderNdjson(e)).toContain('"raw":{"hex":"2A2A2A2A"}');
  });

  it('refuses encrypted MariaDB binlogs with an unsupported error', () => {
    const m = mariadbDecoder();
    expect(() =>
      m.decode(event(EventType.START_ENCRYPTION, cat(u8(1), u32(1), Buffer.alloc(12)), C)),
    ).toThrow(UnsupportedBinlogError);
  });
});

describe('QUERY', () => {
  it('decodes status variables: flags2, sql_mode, catalog, charset, time zone, invoker, db names, xid', () => {
    const vars = cat(
      u8(0),
      u32(0x4000),
      u8(1),
      u64(0x4000_0000_0000_0001n),
      u8(6),
      u8(3),
      Buffer.from('std'),
      u8(4),
      u16(33),
      u16(45),
      u16(255),
      u8(5),
      u8(6),
      Buffer.from('+02:00'),
      u8(11),
      u8(4),
      Buffer.from('root'),
      u8(9),
      Buffer.from('localhost'),
      u8(12),
      u8(2),
      Buffer.from('a\0b\0'),
      u8(17),
      u64(77),
      u8(18),
      u16(255),
    );
    const d = mysqlDecoder();
    const q = body(
      d.decode(event(EventType.QUERY, queryBody('app', 'CREATE TABLE t (id int)', vars), C)),
      'query',
    );
    expect(q).toMatchObject({ schema: 'app', query: 'CREATE TABLE t (id int)', threadId: 77, errorCode: 0 });
    expect(q.statusVars).toEqual({
      flags2: 0x4000,
      sqlMode: 0x4000_0000_0000_0001n,
      catalog: 'std',
      charsetClient: 33,
      collationConnection: 45,
      collationServer: 255,
      timeZone: '+02:00',
      invoker: { user: 'root', host: 'localhost' },
      updatedDbNames: ['a', 'b'],
      ddlXid: 77n,
      defaultCollationForUtf8mb4: 255,
    });
  });

  it('keeps status variables after an unknown code raw, and still reads schema and query', () => {
    const vars = cat(u8(0), u32(1), u8(200), [1, 2, 3]);
    const q = body(mysqlDecoder().decode(event(EventType.QUERY, queryBody('', 'BEGIN', vars), C)), 'query');
    expect(q.statusVars.flags2).toBe(1);
    expect(q.statusVars.unparsed).toEqual(Buffer.from([200, 1, 2, 3]));
    expect(q.query).toBe('BEGIN');
  });

  it('MariaDB QUERY_COMPRESSED and Q_HRNOW / Q_XID', () => {
    const text = 'INSERT INTO t VALUES (' + '1,'.repeat(100) + '1)';
    const z = deflateSync(Buffer.from(text));
    const compressed = cat(u8(0x80 | 2), u16(0).fill(0), z);
    compressed.writeUInt16BE(text.length, 1);
    const vars = cat(u8(128), u24(123456), u8(129), u64(5));
    const q = body(
      mariadbDecoder().decode(event(EventType.QUERY_COMPRESSED, queryBody('db', compressed, vars), C)),
      'query',
    );
    expect(q.query).toBe(text);
    expect(q.statusVars).toMatchObject({ hrnow: 123456, xid: 5n });
  });
});

describe('USER_VAR', () => {
  it('decodes string, unsigned int, decimal and NULL values exactly', () => {
    const d = mysqlDecoder();
    const str = d.decode(
      event(
        EventType.USER_VAR,
        cat(
          u32(1),
          Buffer.from('a'),
          u8(0),
          u8(0),
          u32(45),
          u32(3),
          Buffer.from('héy'.slice(0, 2)),
          Buffer.from('y').subarray(0, 0),
        ),
        C,
      ),
    );
    expect(body(str, 'user_var')).toMatchObject({ name: 'a', valueType: 'string', value: 'hé' });
    const int = d.decode(
      event(
        EventType.USER_VAR,
        cat(u32(1), Buffer.from('b'), u8(0), u8(2), u32(63), u32(8), u64(0xffffffffffffffffn), u8(1)),
        C,
      ),
    );
    expect(body(int, 'user_var')).toMatchObject({
      valueType: 'int',
      unsigned: true,
      value: '18446744073709551615',
    });
    // DECIMAL(4,2) 12.34: precision, scale, then the packed decimal (sign bit flipped): 0x80 | 12, 34.
    const dec = d.decode(
      event(
        EventType.USER_VAR,
        cat(u32(1), Buffer.from('c'), u8(0), u8(4), u32(63), u32(4), [4, 2, 0x8c, 0x22]),
        C,
      ),
    );
    expect(body(dec, 'user_var').value).toBe('12.34');
    const nul = d.decode(event(EventType.USER_VAR, cat(u32(1), Buffer.from('d'), u8(1)), C));
    expect(body(nul, 'user_var').value).toBeNull();
  });
});

const META_FULL = (cols: string[]): Buffer => cat(...cols.map((c) => lenstr(c)));

describe('TABLE_MAP', () => {
  it('turns every optional metadata field into column definitions', () => {
    const cols = [
      { type: ColumnType.LONG, meta: [], nullable: false }, // id
      { type: ColumnType.LONGLONG, meta: [], nullable: true }, // big unsigned
      { type: ColumnType.VARCHAR, meta: [0x90, 0x01], nullable: true }, // name utf8mb4 (default charset)
      { type: ColumnType.STRING, meta: [ColumnType.ENUM, 1], nullable: true }, // en
      { type: ColumnType.STRING, meta: [ColumnType.SET, 1], nullable: true }, // st
      { type: ColumnType.STRING, meta: [0xfe ^ 0x10, 0x2c], nullable: true }, // CHAR(300) latin1: length 0x12c folded
      { type: ColumnType.GEOMETRY, meta: [4], nullable: true },
      { type: ColumnType.NEWDECIMAL, meta: [10, 2], nullable: false },
    ];
    const optional = cat(
      tlv(1, bitmapMsb([false, true, false])), // LONG, LONGLONG, NEWDECIMAL
      tlv(2, cat(lenenc(255), lenenc(1), lenenc(8))), // default utf8mb4_0900; char column #1 (CHAR) latin1
      tlv(4, META_FULL(['id', 'big', 'name', 'en', 'st', 'ch', 'g', 'price'])),
      tlv(5, cat(lenenc(2), lenstr('x'), lenstr("y'z"))),
      tlv(6, cat(lenenc(2), lenstr('small'), lenstr('large'))),
      tlv(7, lenenc(2)),
      tlv(9, cat(lenenc(0), lenenc(0), lenenc(2), lenenc(10))),
      tlv(10, lenenc(45)),
      tlv(12, bitmapMsb([true, true, true, true, true, true, false, true])),
      tlv(99, Buffer.from([1, 2, 3])), // unknown type: skipped by its length
    );
    const d = mysqlDecoder();
    const e = d.decode(event(EventType.TABLE_MAP, tableMapBody(42, 'app', 'items', cols, optional), C));
    const tm = body(e, 'table_map').tableMap;
    expect(tm).toMatchObject({ tableId: 42, schema: 'app', table: 'items', columnsSource: 'binlog' });
    expect(tm.primaryKey).toEqual([
      { index: 0, prefix: 0 },
      { index: 2, prefix: 10 },
    ]);
    const [id, big, name, en, st, ch, g, price] = tm.columns;
    expect(id).toMatchObject({
      name: 'id',
      type: ColumnType.LONG,
      unsigned: false,
      nullable: false,
      primaryKey: true,
      visible: true,
    });
    expect(big).toMatchObject({ name: 'big', unsigned: true, nullable: true, primaryKey: false });
    expect(name).toMatchObject({
      name: 'name',
      type: ColumnType.VARCHAR,
      meta: 400,
      collation: 255,
      primaryKey: true,
    });
    expect(en).toMatchObject({
      name: 'en',
      type: ColumnType.ENUM,
      enumValues: ['small', 'large'],
      collation: 45,
    });
    expect(st).toMatchObject({ name: 'st', type: ColumnType.SET, setValues: ['x', "y'z"], collation: 45 });
    expect(ch).toMatchObject({
      name: 'ch',
      type: ColumnType.STRING,
      meta: ((0xfe ^ 0x10) << 8) | 0x2c,
      collation: 8,
    });
    expect(g).toMatchObject({ name: 'g', type: ColumnType.GEOMETRY, geometryType: 2, visible: false });
    expect(price).toMatchObject({
      name: 'price',
      type: ColumnType.NEWDECIMAL,
      meta: (10 << 8) | 2,
      unsigned: false,
    });
  });

  it('names columns @1, @2... without metadata, or from the resolver when one is given', () => {
    const cols = [
      { type: ColumnType.LONG, meta: [], nullable: false },
      { type: ColumnType.LONG, meta: [], nullable: true },
    ];
    const plain = mysqlDecoder().decode(event(EventType.TABLE_MAP, tableMapBody(7, 'a', 'b', cols), C));
    expect(body(plain, 'table_map').tableMap.columns.map((c) => c.name)).toEqual(['@1', '@2']);
    expect(body(plain, 'table_map').tableMap.columnsSource).toBe('positional');

    const d = new BinlogDecoder({
      columnResolver: ({ schema, table }) =>
        schema === 'a' && table === 'b' ? [{ name: 'id' }, { name: 'n', unsigned: true }] : undefined,
    });
    d.decode(fde('8.0.36', 1), 4);
    const tm = body(
      d.decode(event(EventType.TABLE_MAP, tableMapBody(7, 'a', 'b', cols), C)),
      'table_map',
    ).tableMap;
    expect(tm.columnsSource).toBe('resolver');
    expect(tm.columns.map((c) => [c.name, c.unsigned])).toEqual([
      ['id', false],
      ['n', true],
    ]);
  });
});

/** TABLE_MAP for `app.t (id INT, v VARCHAR(20) NULL, u BIGINT UNSIGNED NULL)` with names. */
function defineTable(d: BinlogDecoder, tableId = 5): void {
  const cols = [
    { type: ColumnType.LONG, meta: [], nullable: false },
    { type: ColumnType.VARCHAR, meta: [80, 0], nullable: true },
    { type: ColumnType.LONGLONG, meta: [], nullable: true },
  ];
  const optional = cat(
    tlv(1, bitmapMsb([false, true])),
    tlv(2, lenenc(255)),
    tlv(4, META_FULL(['id', 'v', 'u'])),
  );
  d.decode(event(EventType.TABLE_MAP, tableMapBody(tableId, 'app', 't', cols, optional), C));
}

const ALL3 = bitmap([true, true, true]);

describe('rows events', () => {
  it('WRITE_ROWS v1: NULL bitmap and values', () => {
    const d = mysqlDecoder();
    defineTable(d);
    const row1 = cat(
      bitmap([false, false, false]),
      u32(1),
      u8(2),
      Buffer.from('hi'),
      u64(0xffffffffffffffffn),
    );
    const row2 = cat(bitmap([false, true, true]), u32(0xffffffff));
    const e = d.decode(event(EventType.WRITE_ROWS_V1, rowsBody(5, 3, [ALL3], cat(row1, row2)), C));
    const b = body(e, 'rows');
    expect(b).toMatchObject({ op: 'insert', schema: 'app', table: 't', columns: ['id', 'v', 'u'] });
    expect(b.rows).toEqual([
      { before: null, after: { id: '1', v: 'hi', u: '18446744073709551615' } },
      { before: null, after: { id: '-1', v: null, u: null } },
    ]);
  });

  it('UPDATE_ROWS v2 with extra data and partial images: absent columns are absent, not null', () => {
    const d = mysqlDecoder();
    defineTable(d);
    const before = bitmap([true, false, false]);
    const after = bitmap([false, true, true]);
    const row = cat(bitmap([false]), u32(9), bitmap([true, false]), u64(5));
    const extra = cat(u8(1), u16(3), u16(4)); // partition 3, source partition 4
    const e = d.decode(event(EventType.UPDATE_ROWS, rowsBody(5, 3, [before, after], row, extra), C));
    const b = body(e, 'rows');
    expect(b.extra).toEqual({ partitionId: 3, sourcePartitionId: 4 });
    expect(b.rows).toHaveLength(1);
    const r = b.rows[0]!;
    expect(r.before).toEqual({ id: '9' });
    expect(r.after).toEqual({ v: null, u: '5' });
    expect(Object.hasOwn(r.after!, 'id')).toBe(false);
    const line = renderNdjson(e);
    expect(line).toContain('"rows":[{"before":{"id":"9"},"after":{"v":null,"u":"5"}}]');
  });

  it('DELETE_ROWS v1, and a MariaDB compressed DELETE', () => {
    const d = mariadbDecoder();
    defineTable(d);
    const rows = cat(bitmap([false, true, true]), u32(3), bitmap([false, true, true]), u32(4));
    const plain = d.decode(event(EventType.DELETE_ROWS_V1, rowsBody(5, 3, [ALL3], rows), C));
    expect(body(plain, 'rows').rows.map((r) => r.before?.['id'])).toEqual(['3', '4']);
    const z = deflateSync(rows);
    const compressed = cat(u8(0x81), u8(rows.length), z);
    const c = d.decode(event(EventType.DELETE_ROWS_COMPRESSED_V1, rowsBody(5, 3, [ALL3], compressed), C));
    expect(c.type).toBe('DELETE_ROWS_COMPRESSED_V1');
    expect(body(c, 'rows').rows).toEqual(body(plain, 'rows').rows);
  });

  it('refuses rows wider than the table map, rows without a table map, and empty images that would loop', () => {
    const d = mysqlDecoder();
    defineTable(d);
    expect(() =>
      d.decode(
        event(
          EventType.WRITE_ROWS_V1,
          rowsBody(5, 4, [bitmap([true, true, true, true])], Buffer.from([0, 0])),
          C,
        ),
      ),
    ).toThrow('Cannot decode rows event for table "app.t": column count is 4, table map has 3');
    expect(() =>
      d.decode(event(EventType.WRITE_ROWS_V1, rowsBody(6, 3, [ALL3], Buffer.from([7])), C)),
    ).toThrow(MissingTableMapError);
    expect(() =>
      d.decode(
        event(EventType.WRITE_ROWS_V1, rowsBody(5, 3, [bitmap([false, false, false])], Buffer.from([7])), C),
      ),
    ).toThrow(/row image with no columns leaves 1 bytes unread/);
    // An empty rows event for an unknown table (MySQL's dummy end-of-statement event) is fine.
    expect(
      body(
        d.decode(event(EventType.WRITE_ROWS_V1, rowsBody(0xffffff, 3, [ALL3], Buffer.alloc(0)), C)),
        'rows',
      ).rows,
    ).toEqual([]);
  });

  it('keeps a column named __proto__ as an own property', () => {
    const d = mysqlDecoder();
    const cols = [
      { type: ColumnType.LONG, meta: [], nullable: false },
      { type: ColumnType.LONG, meta: [], nullable: true },
    ];
    d.decode(
      event(
        EventType.TABLE_MAP,
        tableMapBody(4, 'app', 'odd', cols, tlv(4, META_FULL(['id', '__proto__']))),
        C,
      ),
    );
    const e = d.decode(
      event(
        EventType.WRITE_ROWS_V1,
        rowsBody(4, 2, [bitmap([true, true])], cat(bitmap([false, false]), u32(1), u32(2))),
        C,
      ),
    );
    const after = body(e, 'rows').rows[0]!.after!;
    expect(Object.hasOwn(after, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(after)).toBe(Object.prototype);
    expect(renderNdjson(e)).toContain('"after":{"id":"1","__proto__":"2"}');
  });

  it('PARTIAL_UPDATE_ROWS applies a JSON diff to the before image', () => {
    const d = mysqlDecoder();
    const cols = [
      { type: ColumnType.LONG, meta: [], nullable: false },
      { type: ColumnType.JSON, meta: [4], nullable: true },
    ];
    d.decode(
      event(EventType.TABLE_MAP, tableMapBody(8, 'app', 'j', cols, tlv(4, META_FULL(['id', 'doc']))), C),
    );
    // Binary JSON {"a": 1}: small object, 1 member, size 12, key entry (offset 11, length 1), value int16 1 inline.
    const doc = Buffer.from([0x00, 0x01, 0x00, 0x0c, 0x00, 0x0b, 0x00, 0x01, 0x00, 0x05, 0x01, 0x00, 0x61]);
    const beforeImage = cat(bitmap([false, false]), u32(1), u32(doc.length), doc);
    // One diff: REPLACE (0), path "$.a", value int16 2.
    const diffs = cat(u8(0), lenstr('$.a'), lenstr(Buffer.from([0x05, 0x02, 0x00])));
    const afterImage = cat(bitmap([false, false]), u32(1), u32(diffs.length), diffs);
    const shared = cat(lenenc(1), bitmap([true])); // PARTIAL_JSON_UPDATES, JSON column 0 is partial
    const both = bitmap([true, true]);
    const e = d.decode(
      event(
        EventType.PARTIAL_UPDATE_ROWS,
        rowsBody(8, 2, [both, both], cat(beforeImage, shared, afterImage), Buffer.alloc(0)),
        C,
      ),
    );
    const r = body(e, 'rows').rows[0]!;
    expect(r.before).toEqual({ id: '1', doc: '{"a": 1}' });
    expect(r.after).toEqual({ id: '1', doc: '{"a": 2}' });
  });
});

describe('GTID events', () => {
  const sid = Buffer.from('3e11fa4771ca11e19e33c80aa9429562', 'hex');

  it('MySQL GTID with logical clock, both commit timestamps, length and versions; later events carry it', () => {
    const ts = (1n << 55n) | 1_700_000_000_000_001n;
    const tsBytes = Buffer.alloc(8);
    tsBytes.writeBigUInt64LE(ts);
    const orig = Buffer.alloc(8);
    orig.writeBigUInt64LE(1_699_999_999_000_000n);
    const gtid = cat(
      u8(1),
      sid,
      u64(42),
      u8(2),
      u64(7),
      u64(8),
      tsBytes.subarray(0, 7),
      orig.subarray(0, 7),
      lenenc(300),
      u32(0x80000000 | 80036),
      u32(50744),
    );
    const d = mysqlDecoder();
    const e = d.decode(event(EventType.GTID, gtid, C));
    expect(body(e, 'mysql_gtid')).toMatchObject({
      gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:42',
      gno: 42n,
      lastCommitted: 7n,
      sequenceNumber: 8n,
      immediateCommitTimestamp: 1_700_000_000_000_001n,
      originalCommitTimestamp: 1_699_999_999_000_000n,
      transactionLength: 300n,
      immediateServerVersion: 80036,
      originalServerVersion: 50744,
    });
    expect(e.gtid).toBe('3e11fa47-71ca-11e1-9e33-c80aa9429562:42');
    const begin = d.decode(event(EventType.QUERY, queryBody('', 'BEGIN'), C));
    expect(begin.gtid).toBe('3e11fa47-71ca-11e1-9e33-c80aa9429562:42');
    const xid = d.decode(event(EventType.XID, u64(1), C));
    expect(xid.gtid).toBe('3e11fa47-71ca-11e1-9e33-c80aa9429562:42');
    expect(d.decode(event(EventType.ROTATE, cat(u64(4), Buffer.from('x')), C)).gtid).toBeUndefined();
    // NDJSON names the GTID once: the envelope's `gtid` key, not again among the event's own fields.
    const line = renderNdjson(e);
    expect(line.match(/"gtid":/g)).toHaveLength(1);
    expect(JSON.parse(line)).toMatchObject({ gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:42', gno: '42' });
  });

  it('ANONYMOUS_GTID from a 5.7 server (no timestamps) has no GTID', () => {
    const e = mysqlDecoder().decode(
      event(EventType.ANONYMOUS_GTID, cat(u8(1), Buffer.alloc(16), u64(0), u8(2), u64(0), u64(1)), C),
    );
    expect(body(e, 'mysql_gtid')).toMatchObject({
      gtid: undefined,
      sequenceNumber: 1n,
      immediateCommitTimestamp: undefined,
    });
    expect(e.gtid).toBeUndefined();
  });

  it('GTID_TAGGED from its serialization format', () => {
    const fields = cat(
      varlen(0),
      varlen(1), // flags = 1
      varlen(1),
      ...[...sid].map((b) => varlen(b)),
      varlen(2),
      varlenSigned(77),
      varlen(3),
      varlen(5),
      Buffer.from('mytag'),
      varlen(4),
      varlenSigned(3),
      varlen(5),
      varlenSigned(4),
      varlen(6),
      varlen(1_770_368_687_207_196n),
      varlen(8),
      varlen(296),
      varlen(9),
      varlen(90600),
    );
    const head = cat(varlen(1)); // version
    const lastNonIgnorable = varlen(0);
    // Size counts from the version byte; its own encoding is one byte for sizes below 128.
    const size = head.length + 1 + lastNonIgnorable.length + fields.length;
    const msg = cat(head, varlen(size), lastNonIgnorable, fields);
    const e = mysqlDecoder().decode(event(EventType.GTID_TAGGED, msg, C));
    expect(body(e, 'mysql_gtid')).toMatchObject({
      gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:mytag:77',
      tag: 'mytag',
      flags: 1,
      lastCommitted: 3n,
      sequenceNumber: 4n,
      immediateCommitTimestamp: 1_770_368_687_207_196n,
      originalCommitTimestamp: 1_770_368_687_207_196n,
      transactionLength: 296n,
      immediateServerVersion: 90600,
    });
  });

  it('PREVIOUS_GTIDS untagged and tagged', () => {
    const d = mysqlDecoder();
    const untagged = cat(u64(1), sid, u64(2), u64(1), u64(6), u64(8), u64(9));
    expect(body(d.decode(event(EventType.PREVIOUS_GTIDS, untagged, C)), 'previous_gtids').gtidSet).toBe(
      '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:8',
    );
    const head = (1n << 56n) | (2n << 8n) | 1n;
    const tagged = cat(
      u64(head),
      sid,
      varlen(0),
      u64(1),
      u64(1),
      u64(14),
      sid,
      varlen(5),
      Buffer.from('mytag'),
      u64(1),
      u64(1),
      u64(3),
    );
    expect(body(d.decode(event(EventType.PREVIOUS_GTIDS, tagged, C)), 'previous_gtids').gtidSet).toBe(
      '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-13:mytag:1-2',
    );
    expect(() => d.decode(event(EventType.PREVIOUS_GTIDS, cat(u64(1_000_000), sid), C))).toThrow(
      /source ids do not fit/,
    );
  });

  it('MariaDB GTID (standalone DDL, group commit id), GTID_LIST', () => {
    const d = mariadbDecoder();
    const ddl = d.decode(
      event(EventType.MARIADB_GTID, cat(u64(11), u32(0), u8(0x01 | 0x20), Buffer.alloc(6)), {
        ...C,
        serverId: 3,
      }),
    );
    expect(body(ddl, 'mariadb_gtid')).toMatchObject({
      gtid: '0-3-11',
      standalone: true,
      commitId: undefined,
    });
    const q = d.decode(event(EventType.QUERY, queryBody('db', 'CREATE TABLE x (a int)'), C));
    expect(q.gtid).toBe('0-3-11');
    expect(d.currentGtid).toBeUndefined();
    const gc = d.decode(
      event(EventType.MARIADB_GTID, cat(u64(12), u32(2), u8(0x02 | 0x08), u64(99)), { ...C, serverId: 3 }),
    );
    expect(body(gc, 'mariadb_gtid')).toMatchObject({ gtid: '2-3-12', standalone: false, commitId: 99n });
    const line = renderNdjson(gc);
    expect(line.match(/"gtid":/g)).toHaveLength(1);
    expect(JSON.parse(line)).toMatchObject({ gtid: '2-3-12', domain_id: 2, seq_no: '12' });
    const list = d.decode(
      event(EventType.GTID_LIST, cat(u32(2), u32(0), u32(1), u64(10), u32(1), u32(2), u64(20)), C),
    );
    expect(body(list, 'gtid_list').gtids).toEqual(['0-1-10', '1-2-20']);
  });
});

describe('TRANSACTION_PAYLOAD', () => {
  function innerEvents(): Buffer {
    const cols = [{ type: ColumnType.LONG, meta: [], nullable: false }];
    return cat(
      event(EventType.QUERY, queryBody('', 'BEGIN'), { logPos: 0 }),
      event(EventType.TABLE_MAP, tableMapBody(9, 'app', 'p', cols, tlv(4, META_FULL(['id']))), { logPos: 0 }),
      event(
        EventType.WRITE_ROWS,
        rowsBody(9, 1, [bitmap([true])], cat(bitmap([false]), u32(5)), Buffer.alloc(0)),
        { logPos: 0 },
      ),
      event(EventType.XID, u64(3), { logPos: 0 }),
    );
  }

  for (const [name, compression, payload] of [
    ['zstd', 0, (b: Buffer) => zstdRawFrame(b)],
    ['uncompressed', 255, (b: Buffer) => b],
  ] as const) {
    it(`decodes a ${name} payload's events with the payload's position and an index`, () => {
      const inner = innerEvents();
      const data = payload(inner);
      const field = (type: number, value: number): Buffer =>
        cat(u8(type), u8(lenenc(value).length), lenenc(value));
      const headerFields = cat(field(2, compression), field(3, inner.length), field(1, data.length), u8(0));
      const d = mysqlDecoder();
      const e = d.decode(
        event(EventType.TRANSACTION_PAYLOAD, cat(headerFields, data), { ...C, pos: 1000 }),
        1000,
      );
      const all = [...flattenEvent(e)];
      expect(all.map((x) => [x.type, x.pos, x.nextPos, x.payloadIndex])).toEqual([
        ['TRANSACTION_PAYLOAD', 1000, e.nextPos, undefined],
        ['QUERY', 1000, e.nextPos, 0],
        ['TABLE_MAP', 1000, e.nextPos, 1],
        ['WRITE_ROWS', 1000, e.nextPos, 2],
        ['XID', 1000, e.nextPos, 3],
      ]);
      expect(body(all[3]!, 'rows').rows).toEqual([{ before: null, after: { id: '5' } }]);
      expect(renderNdjson(all[3]!)).toContain('"payload_index":2');
    });
  }

  it('refuses a declared uncompressed size above the limit without allocating it', () => {
    const data = zstdRawFrame(Buffer.from('x'));
    const headerFields = cat(
      u8(2),
      u8(1),
      lenenc(0),
      u8(3),
      u8(9),
      lenenc(2 ** 40),
      u8(1),
      u8(1),
      lenenc(data.length),
      u8(0),
    );
    const d = new BinlogDecoder({ maxDecompressedSize: 1 << 20 });
    d.decode(fde('8.0.36', 1), 4);
    expect(() => d.decode(event(EventType.TRANSACTION_PAYLOAD, cat(headerFields, data), C))).toThrow(
      /exceeds the limit/,
    );
  });
});

describe('NDJSON rendering', () => {
  it('prints the envelope and exact 64-bit values', () => {
    const d = mysqlDecoder();
    const e = d.decode(
      event(EventType.XID, u64(18446744073709551615n), {
        ...C,
        timestamp: 1_700_000_123,
        serverId: 9,
        pos: 200,
      }),
      200,
    );
    expect(JSON.parse(renderNdjson(e))).toEqual({
      file: 'binlog.000001',
      pos: 200,
      next_pos: 200 + 31,
      type: 'XID',
      type_code: 16,
      timestamp: 1_700_000_123,
      server_id: 9,
      xid: '18446744073709551615',
    });
    expect(renderNdjson(e).endsWith('}\n')).toBe(true);
    void u48;
  });
});
