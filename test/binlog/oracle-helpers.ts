import { Writable } from 'node:stream';
import mysql from 'mysql2/promise';
import type { CanonicalValue } from '../../src/binlog/column-types.js';
import type { DecodedEvent, RowImage, RowsBody } from '../../src/binlog/events.js';
import { readBinlogFile } from '../../src/binlog/file-reader.js';
import { runCli } from '../../src/cli/run.js';
import type { MariaDbSandbox } from '../harness/mariadb.js';

/**
 * The live oracle: a table with every column type at edge values, changed by INSERT, UPDATE and DELETE on a
 * private MariaDB, whose binlog row images must equal what SELECT returns as text (HEX for binary columns,
 * TIMESTAMP read with time_zone '+00:00'). FLOAT is the exception: its canonical text is the shortest that
 * identifies the stored float32, which the server's 6-digit text does not always do, so the oracle for FLOAT is
 * the stored value itself (`col + 0e0` prints the float32 widened to a double, exactly).
 *
 * Reusable by any path that yields row changes (`binlog decode` on the datadir's file, `binlog tail` over
 * replication): run `runOracleWorkload`, collect that path's row events for the table, and hand both to
 * `compareOracle`, which returns every mismatch as a readable line (an empty list means the decoder agrees with
 * the server on every value).
 */

/**
 * How SELECT must read a column so that its text is comparable with the canonical encoding; `float32` reads the
 * exact stored value, which the decoded text must read back as (`Math.fround(Number(text))`).
 */
type SelectAs = 'text' | 'hex' | 'float32' | { readonly bitWidth: number };

export interface OracleColumn {
  readonly name: string;
  readonly ddl: string;
  readonly selectAs: SelectAs;
}

export const ORACLE_SCHEMA = 'oracle';
export const ORACLE_TABLE = 'types';

export const ORACLE_COLUMNS: readonly OracleColumn[] = [
  { name: 'id', ddl: 'INT NOT NULL PRIMARY KEY', selectAs: 'text' },
  { name: 'ti', ddl: 'TINYINT', selectAs: 'text' },
  { name: 'tiu', ddl: 'TINYINT UNSIGNED', selectAs: 'text' },
  { name: 'si', ddl: 'SMALLINT', selectAs: 'text' },
  { name: 'siu', ddl: 'SMALLINT UNSIGNED', selectAs: 'text' },
  { name: 'mi', ddl: 'MEDIUMINT', selectAs: 'text' },
  { name: 'miu', ddl: 'MEDIUMINT UNSIGNED', selectAs: 'text' },
  { name: 'i', ddl: 'INT', selectAs: 'text' },
  { name: 'iu', ddl: 'INT UNSIGNED', selectAs: 'text' },
  { name: 'bi', ddl: 'BIGINT', selectAs: 'text' },
  { name: 'biu', ddl: 'BIGINT UNSIGNED', selectAs: 'text' },
  { name: 'd65', ddl: 'DECIMAL(65,30)', selectAs: 'text' },
  { name: 'd650', ddl: 'DECIMAL(65,0)', selectAs: 'text' },
  { name: 'd10', ddl: 'DECIMAL(10,2)', selectAs: 'text' },
  { name: 'd55', ddl: 'DECIMAL(5,5)', selectAs: 'text' },
  { name: 'd1', ddl: 'DECIMAL(1,0)', selectAs: 'text' },
  { name: 'f', ddl: 'FLOAT', selectAs: 'float32' },
  { name: 'dbl', ddl: 'DOUBLE', selectAs: 'text' },
  { name: 'b64', ddl: 'BIT(64)', selectAs: { bitWidth: 64 } },
  { name: 'b1', ddl: 'BIT(1)', selectAs: { bitWidth: 1 } },
  { name: 'b10', ddl: 'BIT(10)', selectAs: { bitWidth: 10 } },
  { name: 'dt', ddl: 'DATE', selectAs: 'text' },
  { name: 't0', ddl: 'TIME', selectAs: 'text' },
  { name: 't3', ddl: 'TIME(3)', selectAs: 'text' },
  { name: 't6', ddl: 'TIME(6)', selectAs: 'text' },
  { name: 'dt0', ddl: 'DATETIME', selectAs: 'text' },
  { name: 'dt1', ddl: 'DATETIME(1)', selectAs: 'text' },
  { name: 'dt6', ddl: 'DATETIME(6)', selectAs: 'text' },
  { name: 'ts0', ddl: 'TIMESTAMP NULL', selectAs: 'text' },
  { name: 'ts4', ddl: 'TIMESTAMP(4) NULL', selectAs: 'text' },
  { name: 'ts6', ddl: 'TIMESTAMP(6) NULL', selectAs: 'text' },
  { name: 'y', ddl: 'YEAR', selectAs: 'text' },
  { name: 'e', ddl: `ENUM('a','b''c','d"e','')`, selectAs: 'text' },
  { name: 's', ddl: `SET('x','y''z','w')`, selectAs: 'text' },
  { name: 'vc', ddl: 'VARCHAR(100) CHARACTER SET utf8mb4', selectAs: 'text' },
  { name: 'vcl', ddl: 'VARCHAR(300) CHARACTER SET utf8mb4', selectAs: 'text' },
  { name: 'c', ddl: 'CHAR(10) CHARACTER SET utf8mb4', selectAs: 'text' },
  { name: 'cl', ddl: 'CHAR(100) CHARACTER SET utf8mb4', selectAs: 'text' },
  { name: 'u3', ddl: 'VARCHAR(20) CHARACTER SET utf8mb3', selectAs: 'text' },
  { name: 'uca', ddl: 'VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_uca1400_ai_ci', selectAs: 'text' },
  { name: 'l1', ddl: 'VARCHAR(60) CHARACTER SET latin1', selectAs: 'text' },
  { name: 'l1c', ddl: 'CHAR(5) CHARACTER SET latin1', selectAs: 'text' },
  { name: 'asc7', ddl: 'VARCHAR(10) CHARACTER SET ascii', selectAs: 'text' },
  { name: 'u16', ddl: 'VARCHAR(10) CHARACTER SET utf16', selectAs: 'text' },
  { name: 'u32', ddl: 'VARCHAR(10) CHARACTER SET utf32', selectAs: 'text' },
  { name: 'ucs', ddl: 'VARCHAR(10) CHARACTER SET ucs2', selectAs: 'text' },
  { name: 'gb', ddl: 'VARCHAR(10) CHARACTER SET gbk', selectAs: 'text' },
  { name: 'sj', ddl: 'VARCHAR(10) CHARACTER SET sjis', selectAs: 'text' },
  { name: 'cp', ddl: 'VARCHAR(10) CHARACTER SET cp1251', selectAs: 'text' },
  { name: 'txt', ddl: 'TEXT', selectAs: 'text' },
  { name: 'ttxt', ddl: 'TINYTEXT', selectAs: 'text' },
  { name: 'mtxt', ddl: 'MEDIUMTEXT', selectAs: 'text' },
  { name: 'ltxt', ddl: 'LONGTEXT', selectAs: 'text' },
  { name: 'bn', ddl: 'BINARY(5)', selectAs: 'hex' },
  { name: 'cbin', ddl: 'CHAR(4) CHARACTER SET binary', selectAs: 'hex' },
  { name: 'vb', ddl: 'VARBINARY(20)', selectAs: 'hex' },
  { name: 'tb', ddl: 'TINYBLOB', selectAs: 'hex' },
  { name: 'bl', ddl: 'BLOB', selectAs: 'hex' },
  { name: 'mb', ddl: 'MEDIUMBLOB', selectAs: 'hex' },
  { name: 'lb', ddl: 'LONGBLOB', selectAs: 'hex' },
  { name: 'j', ddl: 'JSON', selectAs: 'text' },
  { name: 'g', ddl: 'GEOMETRY', selectAs: 'hex' },
  { name: 'pt', ddl: 'POINT', selectAs: 'hex' },
  { name: 'u', ddl: 'UUID', selectAs: 'hex' },
  { name: 'ip', ddl: 'INET6', selectAs: 'hex' },
];

const MAX_D65 = '99999999999999999999999999999999999.999999999999999999999999999999';
const MAX_D650 = '9'.repeat(65);

/** Row values as SQL expressions, by column; unlisted columns are NULL. */
const INSERTS: readonly Readonly<Record<string, string>>[] = [
  {
    id: '1',
    ti: '-128',
    tiu: '0',
    si: '-32768',
    siu: '0',
    mi: '-8388608',
    miu: '0',
    i: '-2147483648',
    iu: '0',
    bi: '-9223372036854775808',
    biu: '0',
    d65: `-${MAX_D65}`,
    d650: `-${MAX_D650}`,
    d10: '-99999999.99',
    d55: '-0.99999',
    d1: '-9',
    f: '-3.40282e38',
    dbl: '-1.7976931348623157e308',
    b64: "b'0'",
    b1: "b'0'",
    b10: "b'0'",
    dt: "'1000-01-01'",
    t0: "'-838:59:59'",
    t3: "'-00:00:00.001'",
    t6: "'-838:59:58.999999'",
    dt0: "'1000-01-01 00:00:00'",
    dt1: "'1000-01-01 00:00:00.1'",
    dt6: "'1000-01-01 00:00:00.000001'",
    ts0: "'1970-01-01 00:00:01'",
    ts4: "'1970-01-01 00:00:01.0001'",
    ts6: "'1970-01-01 00:00:01.000001'",
    y: '1901',
    e: "'a'",
    s: "''",
    vc: "''",
    vcl: "''",
    c: "''",
    cl: "''",
    u3: "''",
    uca: "''",
    l1: "''",
    l1c: "''",
    asc7: "''",
    u16: "''",
    u32: "''",
    ucs: "''",
    gb: "''",
    sj: "''",
    cp: "''",
    txt: "''",
    ttxt: "''",
    mtxt: "''",
    ltxt: "''",
    bn: "''",
    cbin: "''",
    vb: "''",
    tb: "''",
    bl: "''",
    mb: "''",
    lb: "''",
    j: "'{}'",
    g: "ST_GeomFromText('POINT(0 0)')",
    pt: 'POINT(-1.5, 2.25)',
    u: "'00000000-0000-0000-0000-000000000000'",
    ip: "'::'",
  },
  {
    id: '2',
    ti: '127',
    tiu: '255',
    si: '32767',
    siu: '65535',
    mi: '8388607',
    miu: '16777215',
    i: '2147483647',
    iu: '4294967295',
    bi: '9223372036854775807',
    biu: '18446744073709551615',
    d65: MAX_D65,
    d650: MAX_D650,
    d10: '99999999.99',
    d55: '0.99999',
    d1: '9',
    f: '3.40282e38',
    dbl: '1.7976931348623157e308',
    b64: "b'1111111111111111111111111111111111111111111111111111111111111111'",
    b1: "b'1'",
    b10: "b'1111111111'",
    dt: "'9999-12-31'",
    t0: "'838:59:59'",
    t3: "'838:59:59.999'",
    t6: "'838:59:59.999999'",
    dt0: "'9999-12-31 23:59:59'",
    dt1: "'9999-12-31 23:59:59.9'",
    dt6: "'9999-12-31 23:59:59.999999'",
    ts0: "'2038-01-19 03:14:07'",
    ts4: "'2038-01-19 03:14:07.9999'",
    ts6: "'2038-01-19 03:14:07.999999'",
    y: '2155',
    e: `'d"e'`,
    s: "'x,y''z,w'",
    vc: "'a😀 four-byte, ü two-byte, 你 three-byte'",
    vcl: `REPEAT('é', 300)`,
    c: "'abc  '",
    cl: `REPEAT('😀', 100)`,
    u3: "'ü€'",
    uca: "'Ünïcödé'",
    l1: "_latin1 X'808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9FA0E9FF'",
    l1c: "_latin1 X'E9E8A4'",
    asc7: "'plain~'",
    u16: "'😀ü'",
    u32: "'😀ü'",
    ucs: "'üλ'",
    gb: "'你好'",
    sj: "'あい'",
    cp: "'Жж'",
    txt: `REPEAT('t', 1000)`,
    ttxt: `REPEAT('x', 255)`,
    mtxt: `REPEAT('m', 70000)`,
    ltxt: "'long 😀'",
    bn: "X'0102030405'",
    cbin: "X'FFFFFFFF'",
    vb: "X'00FF0000'",
    tb: "X'00'",
    bl: `REPEAT(X'AB', 300)`,
    mb: `REPEAT(X'CD', 70000)`,
    lb: "X'DEADBEEF00'",
    j: `'{"a": [1, 2.5, "x\\\\"y"], "b": null, "c": {"d": true}}'`,
    g: "ST_GeomFromText('LINESTRING(0 0, 1 1, 2 2)', 4326)",
    pt: 'POINT(1e300, -1e-300)',
    u: "'123e4567-e89b-12d3-a456-426655440000'",
    ip: "'2001:db8::ff00:42:8329'",
  },
  {
    id: '3',
    ti: '0',
    tiu: '1',
    si: '-1',
    siu: '1',
    mi: '0',
    miu: '1',
    i: '-1',
    iu: '1',
    bi: '-9007199254740993',
    biu: '9007199254740993',
    d65: '-0.000000000000000000000000000001',
    d650: '0',
    d10: '-0.00',
    d55: '0.00001',
    d1: '0',
    f: '0',
    dbl: '-0e0',
    b64: "b'1'",
    b1: "b'1'",
    b10: "b'1000000000'",
    dt: "'0000-00-00'",
    t0: "'-00:00:01'",
    t3: "'-00:00:00.5'",
    t6: "'-00:00:00.000001'",
    dt0: "'0000-00-00 00:00:00'",
    dt1: "'0000-00-00 00:00:00.0'",
    dt6: "'0000-00-00 00:00:00.000000'",
    ts0: "'0000-00-00 00:00:00'",
    ts4: "'0000-00-00 00:00:00'",
    ts6: "'0000-00-00 00:00:00'",
    y: '0',
    e: "''",
    s: "'y''z'",
    vc: "' '",
    c: "'x'",
    l1: "'é'",
    bn: "X'6100'",
    cbin: "X'61'",
    vb: "X'6100'",
    j: `'[]'`,
    g: "ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))')",
    u: "'f81d4fae-7dec-11d0-a765-00a0c91e6bf6'",
    ip: "'::ffff:192.0.2.128'",
  },
  // Every nullable column NULL.
  { id: '4' },
];

/**
 * FLOAT/DOUBLE values whose text is easy to get wrong: rounding ties, exponent switch points, subnormals, values
 * whose 6-digit FLOAT text names another float32 (123456789, 16777217, 3.14159265), powers of two.
 */
const FLOATS: readonly [string, string][] = [
  ['1e20', '1e20'],
  ['-1.5e-7', '-1.5e-7'],
  ['0.1', '0.1'],
  ['123456789', '123456789012345678'],
  ['16777217', '0.30000000000000004'],
  ['12345.25', '1e15'],
  ['1234565', '1e16'],
  ['1234575', '123456789012345.6'],
  ['1.17549435e-38', '2.2250738585072014e-308'],
  ['1e-5', '5e-324'],
  ['0.0001', '1e-14'],
  ['1e14', '1e-15'],
  ['1e15', '100'],
  ['-0.000123456789', '-1234567890123456.7'],
  ['3.14159265', '3.141592653589793'],
  ['999999.5', '0.000001'],
  ['9999995', '1e-7'],
  ['1e-45', '4.9406564584124654e-324'],
  ['-123456789', '-9007199254740993'],
  ['3.4028234e38', '0.1e-5'],
  ['33554432', '9007199254740992'],
  ['0.3', '1.7976931348623157e308'],
  ['1.0000001', '2.2250738585072009e-308'],
];

function insertSql(row: Readonly<Record<string, string>>): string {
  const names = Object.keys(row);
  return `INSERT INTO ${ORACLE_SCHEMA}.${ORACLE_TABLE} (${names.map((n) => `\`${n}\``).join(', ')}) VALUES (${names
    .map((n) => row[n] as string)
    .join(', ')})`;
}

export type ExpectedValue = string | null | { readonly hex: string };
export type ExpectedRow = Record<string, ExpectedValue>;

/** What one INSERT/UPDATE/DELETE statement did, as SELECT saw it before and after. */
export interface ExpectedChange {
  readonly op: 'insert' | 'update' | 'delete';
  readonly before: ExpectedRow | null;
  readonly after: ExpectedRow | null;
}

function selectList(): string {
  return ORACLE_COLUMNS.map((c) => {
    const q = `\`${c.name}\``;
    if (c.selectAs === 'text') return q;
    // HEX(bit) prints the number; pad it back to the ceil(M/8) bytes the column stores.
    if (c.selectAs === 'hex') return `HEX(${q}) AS ${q}`;
    if (c.selectAs === 'float32') return `${q} + 0e0 AS ${q}`;
    return `IF(${q} IS NULL, NULL, LPAD(HEX(${q}), ${2 * Math.ceil(c.selectAs.bitWidth / 8)}, '0')) AS ${q}`;
  }).join(', ');
}

async function snapshot(conn: mysql.Connection): Promise<Map<string, ExpectedRow>> {
  const [rows] = await conn.query(`SELECT ${selectList()} FROM ${ORACLE_SCHEMA}.${ORACLE_TABLE} ORDER BY id`);
  const out = new Map<string, ExpectedRow>();
  for (const raw of rows as Record<string, string | null>[]) {
    const row: ExpectedRow = {};
    for (const c of ORACLE_COLUMNS) {
      const v = raw[c.name] ?? null;
      row[c.name] = v === null || c.selectAs === 'text' || c.selectAs === 'float32' ? v : { hex: v };
    }
    out.set(String(raw.id), row);
  }
  return out;
}

/**
 * Creates the oracle table on `db`, runs the workload (inserts, updates, deletes, one statement per change) and
 * returns the expected row changes in binlog order, each image as SELECT printed it.
 */
export async function runOracleWorkload(db: MariaDbSandbox): Promise<ExpectedChange[]> {
  const conn = await mysql.createConnection({
    socketPath: db.socket,
    user: 'root',
    charset: 'UTF8MB4_GENERAL_CI',
    // Every value exactly as the server sent it: no number or date parsing on the client.
    typeCast: (field) => field.string(),
  });
  const changes: ExpectedChange[] = [];
  try {
    // Zero dates and out-of-range-but-storable values need a permissive sql_mode; TIMESTAMPs are read in UTC.
    await conn.query("SET SESSION sql_mode = '', time_zone = '+00:00'");
    await conn.query(`CREATE DATABASE IF NOT EXISTS ${ORACLE_SCHEMA}`);
    await conn.query(
      `CREATE TABLE ${ORACLE_SCHEMA}.${ORACLE_TABLE} (${ORACLE_COLUMNS.map((c) => `\`${c.name}\` ${c.ddl}`).join(', ')}) DEFAULT CHARSET=utf8mb4`,
    );
    const rows = [...INSERTS];
    FLOATS.forEach(([f, d], k) => rows.push({ id: String(100 + k), f, dbl: d }));
    let state = await snapshot(conn);
    for (const row of rows) {
      await conn.query(insertSql(row));
      const next = await snapshot(conn);
      changes.push({ op: 'insert', before: null, after: next.get(row.id as string) ?? null });
      state = next;
    }
    const updates: [string, string][] = [
      // Row 1 takes row 2's values and the other way round: every type changes in both directions.
      ['1', rowAssignments(INSERTS[1] as Record<string, string>)],
      ['2', rowAssignments(INSERTS[0] as Record<string, string>)],
      ['3', "vc = 'changed', ti = -ti, t6 = '12:34:56.789012', f = 1.5, s = 'x,w'"],
      ['4', "vc = 'was null', d65 = 1, ts6 = '2001-02-03 04:05:06.070809'"],
    ];
    for (const [id, set] of updates) {
      await conn.query(`UPDATE ${ORACLE_SCHEMA}.${ORACLE_TABLE} SET ${set} WHERE id = ${id}`);
      const next = await snapshot(conn);
      changes.push({ op: 'update', before: state.get(id) ?? null, after: next.get(id) ?? null });
      state = next;
    }
    for (const id of ['3', '4', '100']) {
      await conn.query(`DELETE FROM ${ORACLE_SCHEMA}.${ORACLE_TABLE} WHERE id = ${id}`);
      changes.push({ op: 'delete', before: state.get(id) ?? null, after: null });
      state = await snapshot(conn);
    }
  } finally {
    await conn.end();
  }
  return changes;
}

function rowAssignments(row: Readonly<Record<string, string>>): string {
  return Object.entries(row)
    .filter(([name]) => name !== 'id')
    .map(([name, value]) => `\`${name}\` = ${value}`)
    .join(', ');
}

/** Every event of a binlog file, through the project's streaming file reader. */
export async function decodeBinlogFile(path: string): Promise<DecodedEvent[]> {
  const events: DecodedEvent[] = [];
  for await (const event of readBinlogFile(path)) events.push(event);
  return events;
}

export type DecodedChange = { op: string; before: RowImage | null; after: RowImage | null };

/** Runs `dbtrail binlog decode FILE` in-process and returns its exit code, NDJSON output and error text. */
export async function decodeViaCli(path: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done): void {
        append(chunk.toString());
        done();
      },
    });
  const code = await runCli(['binlog', 'decode', path], {
    env: {},
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
  });
  return { code, stdout, stderr };
}

/** The oracle table's row changes in NDJSON output (`binlog decode`, later `binlog tail`), in order. */
export function ndjsonRowChanges(ndjson: string): DecodedChange[] {
  const out: DecodedChange[] = [];
  for (const line of ndjson.split('\n')) {
    if (line === '') continue;
    const e = JSON.parse(line) as {
      type: string;
      schema?: string;
      table?: string;
      rows?: { before: RowImage | null; after: RowImage | null }[];
    };
    if (e.rows === undefined || e.schema !== ORACLE_SCHEMA || e.table !== ORACLE_TABLE) continue;
    const op = e.type.startsWith('WRITE') ? 'insert' : e.type.startsWith('UPDATE') ? 'update' : 'delete';
    for (const r of e.rows) out.push({ op, before: r.before, after: r.after });
  }
  return out;
}

/** The row changes of the oracle table, in binlog order. */
export function oracleRowChanges(
  events: readonly DecodedEvent[],
): { op: RowsBody['op']; before: RowImage | null; after: RowImage | null }[] {
  const out: { op: RowsBody['op']; before: RowImage | null; after: RowImage | null }[] = [];
  for (const e of events) {
    const body = e.body;
    if (body.kind !== 'rows' || body.schema !== ORACLE_SCHEMA || body.table !== ORACLE_TABLE) continue;
    for (const row of body.rows) out.push({ op: body.op, before: row.before, after: row.after });
  }
  return out;
}

function show(v: CanonicalValue | ExpectedValue | undefined): string {
  if (v === undefined) return '(absent)';
  const s = JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

function sameValue(
  expected: ExpectedValue,
  actual: CanonicalValue | undefined,
  column: OracleColumn,
): boolean {
  if (actual === undefined) return false;
  if (expected === null || actual === null) return expected === actual;
  if (column.selectAs === 'float32') {
    // The stored float32 (exact as a double), and a text that reads back as exactly it.
    if (typeof expected !== 'string' || typeof actual !== 'string') return false;
    const stored = Number(expected);
    return Math.fround(stored) === stored && Math.fround(Number(actual)) === stored;
  }
  if (typeof expected === 'string' || typeof actual === 'string') return expected === actual;
  return expected.hex === actual.hex;
}

/**
 * Compares the decoded changes with the expected ones, in order: operation, and every column of every image.
 * Returns one line per mismatch; an empty array means full agreement.
 */
export function compareOracle(
  expected: readonly ExpectedChange[],
  actual: readonly { op: string; before: RowImage | null; after: RowImage | null }[],
): string[] {
  const problems: string[] = [];
  if (expected.length !== actual.length) {
    problems.push(`expected ${expected.length} row changes, decoded ${actual.length}`);
  }
  const n = Math.min(expected.length, actual.length);
  for (let k = 0; k < n; k++) {
    const exp = expected[k] as ExpectedChange;
    const act = actual[k] as { op: string; before: RowImage | null; after: RowImage | null };
    const id = (exp.after ?? exp.before)?.id;
    const label = `change ${k} (${exp.op} id=${typeof id === 'string' ? id : '?'})`;
    if (exp.op !== act.op) problems.push(`${label}: decoded as ${act.op}`);
    for (const side of ['before', 'after'] as const) {
      const e = exp[side];
      const a = act[side];
      if (e === null || a === null) {
        if (e !== a)
          problems.push(
            `${label} ${side}: expected ${e === null ? 'no image' : 'an image'}, decoded ${a === null ? 'none' : 'one'}`,
          );
        continue;
      }
      for (const c of ORACLE_COLUMNS) {
        const ev = e[c.name] ?? null;
        const av = a[c.name];
        if (!sameValue(ev, av, c))
          problems.push(`${label} ${side}.${c.name}: SELECT ${show(ev)}, decoded ${show(av)}`);
      }
    }
  }
  return problems;
}
