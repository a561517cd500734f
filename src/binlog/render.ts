import type { DecodedEvent, RowImage, RowsBody, TableMap } from './events.js';

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

function envelope(e: DecodedEvent): string {
  const h = e.header;
  let s = `{"file":${e.file === undefined ? 'null' : JSON.stringify(e.file)},"pos":${e.pos},"next_pos":${e.nextPos},"type":"${e.type}","type_code":${h.typeCode},"timestamp":${h.timestamp},"server_id":${h.serverId}`;
  if (e.gtid !== undefined) s += `,"gtid":${JSON.stringify(e.gtid)}`;
  if (e.payloadIndex !== undefined) s += `,"payload_index":${e.payloadIndex}`;
  return s;
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
  let s = `${head},"schema":${JSON.stringify(b.schema)},"table":${JSON.stringify(b.table)},"table_id":${b.tableId},"flags":${b.flags},"columns":${columnList(b.columns)}`;
  if (b.extra !== undefined) s += `,"extra":${JSON.stringify(toJsonData(b.extra))}`;
  s += ',"rows":[';
  const rows = b.rows;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as (typeof rows)[number];
    if (i > 0) s += ',';
    s += `{"before":${image(r.before)},"after":${image(r.after)}}`;
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
  return toJsonData(rest) as Record<string, unknown>;
}

/** One NDJSON line (with its newline) for an event. */
export function renderNdjson(e: DecodedEvent): string {
  const head = envelope(e);
  if (e.body.kind === 'rows') return rowsNdjson(head, e.body);
  const data = JSON.stringify(bodyData(e));
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
