import type { DecodedEvent, RowImage, RowsBody, TableMap } from './events.js';
import type { EventHeader } from './header.js';

/**
 * Output forms of decoded events: NDJSON (one JSON object per line, the format of `binlog decode` and
 * `binlog tail`) and a human text form.
 *
 * NDJSON object: `file`, `pos`, `next_pos`, `type` (name), `type_code`, `timestamp` (unix seconds), `server_id`,
 * `gtid` (when known), `payload_index` (events inside a TRANSACTION_PAYLOAD, which carry its position), then the
 * event's own fields in snake_case. Row events: `schema`, `table`, `columns` (names), `rows: [{before, after}]`
 * with images keyed by column name in the canonical value encoding; a column absent from a partial image is absent.
 * Exactness: 64-bit integers print as decimal strings, bytes as `{"hex": "..."}` (upper case).
 */

const snakeCache = new Map<string, string>();

function snake(key: string): string {
  let s = snakeCache.get(key);
  if (s === undefined) {
    s = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    snakeCache.set(key, s);
  }
  return s;
}

/** Converts a body value to plain JSON data: bigint as text, bytes as {hex}, keys in snake_case. */
export function toJsonData(value: unknown): unknown {
  if (value === null || value === undefined) return value;
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'string':
    case 'number':
    case 'boolean':
      return value;
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value instanceof Uint8Array)
    return {
      hex: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex').toUpperCase(),
    };
  if (Array.isArray(value)) return value.map(toJsonData);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(k)] = toJsonData(v);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    out[snake(k)] = toJsonData(v);
  }
  return out;
}

const columnsJson = new WeakMap<readonly string[], string>();

function columnList(columns: readonly string[]): string {
  let s = columnsJson.get(columns);
  if (s === undefined) {
    s = JSON.stringify(columns);
    columnsJson.set(columns, s);
  }
  return s;
}

let lastFile: string | undefined;
let lastFileJson = 'null';

function envelope(e: DecodedEvent): string {
  return envelopeJson(e.file, e.pos, e.nextPos, e.type, e.header, e.gtid, e.payloadIndex);
}

/** The NDJSON object of an event up to its own fields (no closing brace). */
export function envelopeJson(
  file: string | undefined,
  pos: number,
  nextPos: number,
  type: string,
  h: EventHeader,
  gtid: string | undefined,
  payloadIndex: number | undefined,
): string {
  // Every event of a file carries the same name: its JSON text is kept instead of made per event.
  if (file !== lastFile) {
    lastFile = file;
    lastFileJson = file === undefined ? 'null' : JSON.stringify(file);
  }
  let s = `{"file":${lastFileJson},"pos":${pos},"next_pos":${nextPos},"type":"${type}","type_code":${h.typeCode},"timestamp":${h.timestamp},"server_id":${h.serverId}`;
  if (gtid !== undefined) s += `,"gtid":${quote(gtid)}`;
  if (payloadIndex !== undefined) s += `,"payload_index":${payloadIndex}`;
  return s;
}

/** The fields of a rows event between the envelope and its row images, through `"rows":[`. */
export function rowsHeadJson(
  schema: string,
  table: string,
  tableId: number,
  flags: number,
  columns: readonly string[],
  extra: RowsBody['extra'],
): string {
  let s = `,"schema":${quote(schema)},"table":${quote(table)},"table_id":${tableId},"flags":${flags},"columns":${columnList(columns)}`;
  if (extra !== undefined) s += `,"extra":${JSON.stringify(toJsonData(extra))}`;
  return `${s},"rows":[`;
}

/**
 * A JSON string literal, byte for byte what JSON.stringify gives: most values (numbers, dates, plain text) need
 * no escape, which a scan finds faster than JSON.stringify escapes. Quote, backslash, control characters and any
 * surrogate (JSON.stringify escapes lone ones) leave the work to JSON.stringify.
 */
export function quote(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return '"' + s + '"';
}

/** The `"name":` prefix of every column of a table, made once per column list. */
const keyPrefixes = new WeakMap<readonly string[], readonly string[]>();

function keyPrefixesOf(columns: readonly string[]): readonly string[] {
  let keys = keyPrefixes.get(columns);
  if (keys === undefined) {
    keys = columns.map((c) => `${JSON.stringify(c)}:`);
    keyPrefixes.set(columns, keys);
  }
  return keys;
}

/**
 * A row image as JSON, equal to `JSON.stringify(img)`: keys in the image's own order (the row decoder inserts
 * them in table order, absent columns left out), their prefixes looked up in table order, values serialised by
 * hand. Anything that is not null or a string (`{hex}`) goes through JSON.stringify.
 */
function imageJson(img: RowImage, columns: readonly string[], keys: readonly string[]): string {
  let s = '{';
  let j = 0;
  const n = columns.length;
  for (const k in img) {
    const v = img[k];
    let text: string | undefined;
    if (v === null) text = 'null';
    else if (typeof v === 'string') text = quote(v);
    else {
      const json: string | undefined = JSON.stringify(v);
      text = json;
      if (text === undefined) continue; // undefined and functions are left out, as JSON.stringify does
    }
    let key: string | undefined;
    if (j < n && columns[j] === k) key = keys[j++];
    else {
      let m = j;
      while (m < n && columns[m] !== k) m++;
      if (m < n) {
        key = keys[m];
        j = m + 1;
      } else key = `${JSON.stringify(k)}:`;
    }
    s += s.length === 1 ? (key as string) + text : ',' + (key as string) + text;
  }
  return s + '}';
}

function image(img: RowImage | null): string {
  // Canonical values are already JSON data (null, string, {hex}).
  return img === null ? 'null' : JSON.stringify(img);
}

function tableMapData(tm: TableMap): Record<string, unknown> {
  return {
    table_id: tm.tableId,
    flags: tm.flags,
    schema: tm.schema,
    table: tm.table,
    columns_source: tm.columnsSource,
    columns: tm.columns.map((c) =>
      toJsonData({
        name: c.name,
        type: c.type,
        meta: c.meta,
        nullable: c.nullable,
        unsigned: c.unsigned,
        collation: c.collation,
        enumValues: c.enumValues,
        setValues: c.setValues,
        geometryType: c.geometryType,
        primaryKey: c.primaryKey,
        visible: c.visible,
        vectorDimensions: tm.vectorDimensions.get(c.index),
      }),
    ),
    ...(tm.primaryKey.length > 0 ? { primary_key: tm.primaryKey } : {}),
  };
}

function rowsNdjson(head: string, b: RowsBody): string {
  const columns = b.columns;
  let s = head + rowsHeadJson(b.schema, b.table, b.tableId, b.flags, columns, b.extra);
  const keys = keyPrefixesOf(columns);
  const rows = b.rows;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as (typeof rows)[number];
    const before = r.before === null ? 'null' : imageJson(r.before, columns, keys);
    const after = r.after === null ? 'null' : imageJson(r.after, columns, keys);
    s += `${i > 0 ? ',' : ''}{"before":${before},"after":${after}}`;
  }
  s += ']';
  if (b.unappliedJsonDiffs !== undefined)
    s += `,"unapplied_json_diffs":${JSON.stringify(toJsonData(b.unappliedJsonDiffs))}`;
  return `${s}}\n`;
}

/** Body fields of a non-row event as JSON data. */
export function bodyData(e: DecodedEvent): Record<string, unknown> {
  const b = e.body;
  if (b.kind === 'table_map') return tableMapData(b.tableMap);
  if (b.kind === 'transaction_payload') {
    return {
      compression: b.compression,
      payload_size: b.payloadSize,
      uncompressed_size: b.uncompressedSize,
      event_count: b.events.length,
    };
  }
  const { kind: _kind, ...rest } = b as unknown as Record<string, unknown> & { kind: string };
  // A GTID event's own GTID is the envelope's `gtid` (the transaction it starts): printed once, there.
  if (b.kind === 'mysql_gtid' || b.kind === 'mariadb_gtid') delete rest['gtid'];
  return toJsonData(rest) as Record<string, unknown>;
}

/** The JSON of a TABLE_MAP body, per table map: the decoder hands out the same object while its bytes recur. */
const tableMapJson = new WeakMap<TableMap, string>();

/** One NDJSON line (with its newline) for an event. */
export function renderNdjson(e: DecodedEvent): string {
  const head = envelope(e);
  const b = e.body;
  if (b.kind === 'rows') return rowsNdjson(head, b);
  let data: string;
  if (b.kind === 'table_map') {
    const cached = tableMapJson.get(b.tableMap);
    data = cached ?? JSON.stringify(tableMapData(b.tableMap));
    if (cached === undefined) tableMapJson.set(b.tableMap, data);
  } else data = JSON.stringify(bodyData(e));
  return data === '{}' ? `${head}}\n` : `${head},${data.slice(1)}\n`;
}

/** A human-readable rendering: one header line, then the rows or the statement, indented. */
export function renderText(e: DecodedEvent): string {
  const h = e.header;
  const when = new Date(h.timestamp * 1000).toISOString().replace('.000Z', 'Z');
  let s = `# ${e.file ?? ''}:${e.pos}-${e.nextPos} ${when} server ${h.serverId} ${e.type}`;
  if (e.payloadIndex !== undefined) s += ` [payload #${e.payloadIndex}]`;
  if (e.gtid !== undefined) s += ` gtid ${e.gtid}`;
  const b = e.body;
  switch (b.kind) {
    case 'rows': {
      s += ` ${b.schema}.${b.table} (${b.rows.length} row${b.rows.length === 1 ? '' : 's'})\n`;
      for (const r of b.rows) {
        if (r.before !== null) s += `  before ${image(r.before)}\n`;
        if (r.after !== null) s += `  after  ${image(r.after)}\n`;
      }
      return s;
    }
    case 'query':
      return `${s}${b.schema === '' ? '' : ` schema ${b.schema}`}\n  ${b.query.replace(/\n/g, '\n  ')}\n`;
    case 'rows_query':
      return `${s}\n  ${b.query.replace(/\n/g, '\n  ')}\n`;
    case 'table_map':
      return `${s} ${b.tableMap.schema}.${b.tableMap.table} id ${b.tableMap.tableId} columns ${b.tableMap.columns.map((c) => c.name).join(', ')}\n`;
    default: {
      const data = JSON.stringify(bodyData(e));
      return data === '{}' ? `${s}\n` : `${s} ${data}\n`;
    }
  }
}
