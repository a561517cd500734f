import type mysql from 'mysql2/promise';
import type { CanonicalValue } from '../../src/binlog/column-types.js';
import type { ChangeRecord } from '../../src/store/change-index.js';

/**
 * A random DML workload over tables that exercise capture's keys and values: a composite primary key whose key
 * order differs from the column order, a table without a primary key (duplicates included), and a type zoo with
 * exact-value types (BIGINT UNSIGNED near 2^64, DECIMAL, fractional times, binary, BIT, ENUM/SET, JSON, emoji).
 * Changes run in multi-statement transactions, some rolled back.
 */
export const WORKLOAD_DDL = [
  'CREATE DATABASE app',
  'CREATE TABLE app.comp (a INT NOT NULL, b VARCHAR(20) NOT NULL, v INT, PRIMARY KEY (b, a))',
  'CREATE TABLE app.nopk (x INT, y VARCHAR(20))',
  `CREATE TABLE app.zoo (
     id BIGINT UNSIGNED NOT NULL PRIMARY KEY, d DECIMAL(30,10), f DOUBLE, dt DATETIME(6), ts TIMESTAMP(3) NULL,
     j JSON, vb VARBINARY(16), e ENUM('a','b','c'), s SET('x','y','z'), t TEXT, bits BIT(10), tm TIME(4), y YEAR,
     u VARCHAR(20) CHARACTER SET utf8mb4)`,
];

/** How SELECT must read each table so its text equals the canonical encoding. */
export const SELECTS: Readonly<Record<string, { sql: string; hex: readonly string[] }>> = {
  comp: { sql: 'SELECT a, b, v FROM app.comp', hex: [] },
  nopk: { sql: 'SELECT x, y FROM app.nopk', hex: [] },
  zoo: {
    sql: `SELECT id, d, f, dt, ts, j, HEX(vb) AS vb, e, s, t, IF(bits IS NULL, NULL, LPAD(HEX(bits), 4, '0')) AS bits,
                 tm, y, u FROM app.zoo`,
    hex: ['vb', 'bits'],
  },
};

/** Deterministic pseudo-random numbers (mulberry32), so a failing run can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Workload {
  readonly #random: () => number;
  #zooNext: bigint;
  readonly #zooIds: bigint[] = [];
  transactions = 0;

  constructor(seed: number) {
    this.#random = rng(seed);
    // Ids near 2^64 (exact-value check), a disjoint range per seed.
    this.#zooNext = 18446744073000000000n + BigInt(seed) * 1_000_000n;
  }

  #int(n: number): number {
    return Math.floor(this.#random() * n);
  }

  #pick<T>(list: readonly T[]): T {
    return list[this.#int(list.length)] as T;
  }

  #statement(): string {
    const r = this.#int(9);
    const k = this.#int(40);
    const b = this.#pick(['x', 'y', 'zz', 'ünï', 'a b']);
    switch (r) {
      case 0:
        return `INSERT IGNORE INTO app.comp VALUES (${k}, '${b}', ${this.#int(1000)})`;
      case 1:
        return `UPDATE app.comp SET v = v + 1 WHERE a = ${k}`;
      case 2:
        return `DELETE FROM app.comp WHERE a = ${k} AND b = '${b}'`;
      case 3:
        return `INSERT INTO app.nopk VALUES (${k % 8}, '${b}')`;
      case 4:
        return `UPDATE app.nopk SET y = CONCAT(y, '.') WHERE x = ${k % 8} LIMIT 1`;
      case 5:
        return `DELETE FROM app.nopk WHERE x = ${k % 8} LIMIT 1`;
      case 6:
      case 7: {
        const id = this.#zooNext++;
        this.#zooIds.push(id);
        const frac = String(this.#int(1_000_000)).padStart(6, '0');
        const bytes = Buffer.from(Array.from({ length: this.#int(16) + 1 }, () => this.#int(256))).toString(
          'hex',
        );
        return `INSERT INTO app.zoo VALUES (${id}, ${this.#int(10 ** 9)}.${String(this.#int(10 ** 9)).padStart(10, '0')},
          ${this.#int(1000)}.25, '2024-02-29 23:59:59.${frac}', '2038-01-19 03:14:07.${frac.slice(0, 3)}',
          '{"k": ${k}, "s": "é"}', X'${bytes}', '${this.#pick(['a', 'b', 'c'])}', '${this.#pick(['', 'x', 'x,z', 'x,y,z'])}',
          '${this.#pick(['text', 'ünicode ✓', ''])}', b'${(this.#int(1024) >>> 0).toString(2)}', '-838:59:59.${frac.slice(0, 4)}',
          ${1901 + this.#int(254)}, '${this.#pick(['😀', 'plain', 'ß'])}')`;
      }
      default: {
        const id = this.#zooIds.length === 0 ? 0n : this.#pick(this.#zooIds);
        return this.#int(2) === 0
          ? `UPDATE app.zoo SET d = d + 0.0000000001, vb = NULL, u = 'upd' WHERE id = ${id}`
          : `DELETE FROM app.zoo WHERE id = ${id}`;
      }
    }
  }

  /** One transaction of 1 to 5 statements; one in ten is rolled back. */
  async transaction(conn: mysql.Connection): Promise<void> {
    const n = 1 + this.#int(5);
    await conn.query('BEGIN');
    for (let i = 0; i < n; i++) await conn.query(this.#statement());
    await conn.query(this.#int(10) === 0 ? 'ROLLBACK' : 'COMMIT');
    this.transactions++;
  }
}

type Row = Record<string, CanonicalValue>;

/**
 * Replays the after-images of captured changes (in seq order) into tables keyed by primary key, or by full image
 * for tables without one, and returns each table's rows as sorted JSON lines.
 */
export function replay(changes: readonly ChangeRecord[]): Map<string, string[]> {
  const keyed = new Map<string, Map<string, Row>>();
  const bags = new Map<string, Map<string, number>>();
  for (const c of changes) {
    if (c.pkIsFullImage) {
      const bag = bags.get(c.table) ?? new Map<string, number>();
      bags.set(c.table, bag);
      if (c.before !== null) {
        const k = JSON.stringify(c.before);
        const n = (bag.get(k) ?? 0) - 1;
        if (n <= 0) bag.delete(k);
        else bag.set(k, n);
      }
      if (c.after !== null) {
        const k = JSON.stringify(c.after);
        bag.set(k, (bag.get(k) ?? 0) + 1);
      }
      continue;
    }
    const rows = keyed.get(c.table) ?? new Map<string, Row>();
    keyed.set(c.table, rows);
    rows.delete(c.pk);
    if (c.after !== null) {
      const newKey = JSON.stringify(c.pkColumns.map((k) => c.after?.[k] ?? null));
      rows.set(newKey, { ...c.after });
    }
  }
  const out = new Map<string, string[]>();
  for (const [table, rows] of keyed) out.set(table, [...rows.values()].map((r) => JSON.stringify(r)).sort());
  for (const [table, bag] of bags) {
    const lines: string[] = [];
    for (const [k, n] of bag) for (let i = 0; i < n; i++) lines.push(k);
    out.set(table, lines.sort());
  }
  return out;
}

/** Each workload table's current content as SELECT returns it, canonical form, sorted JSON lines. */
export async function currentContent(conn: mysql.Connection): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const [table, { sql, hex }] of Object.entries(SELECTS)) {
    const [rows] = await conn.query(sql);
    out.set(
      table,
      (rows as Record<string, string | null>[])
        .map((r) => {
          const row: Row = {};
          for (const [k, v] of Object.entries(r)) row[k] = v === null || !hex.includes(k) ? v : { hex: v };
          return JSON.stringify(row);
        })
        .sort(),
    );
  }
  return out;
}
