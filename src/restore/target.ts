import { RestoreOptionsError } from './errors.js';

/**
 * Where a restore stops, in the terms of the command line. Each kind is resolved against the change index by the
 * planner (plan.ts) into an exact cut in binlog order.
 */
export type RestoreTarget =
  /** Every transaction committed at or before this instant (microseconds since the epoch), in binlog order. */
  | { readonly kind: 'time'; readonly atUs: bigint }
  /** Up to and including the transaction with this GTID. */
  | { readonly kind: 'to-gtid'; readonly gtid: string }
  /** Up to, not including, the transaction with this GTID: the bad one. */
  | { readonly kind: 'before-gtid'; readonly gtid: string }
  /** Every transaction that starts before this binlog position (as `mariadb-binlog --stop-position`). */
  | { readonly kind: 'position'; readonly file: string; readonly position: number }
  /** Everything the index holds (its checkpoint). */
  | { readonly kind: 'latest' };

/** `binlog.000042:1234` as a binlog file and position. */
export function parsePositionArg(flag: string, text: string): { file: string; position: number } {
  const m = /^([^:\s/]+\.\d+):(\d{1,15})$/.exec(text.trim());
  if (m === null) {
    throw new RestoreOptionsError(
      `Cannot parse --${flag} "${text}": expected a binlog file and position such as binlog.000042:1234`,
      { fields: { flag: `--${flag}`, value: text } },
    );
  }
  const position = Number(m[2]);
  if (position < 4) {
    throw new RestoreOptionsError(`Cannot parse --${flag} "${text}": a binlog position is at least 4`, {
      fields: { flag: `--${flag}`, value: text },
    });
  }
  return { file: m[1] as string, position };
}

/** A GTID of either flavour: MariaDB `domain-server-seq`, MySQL `uuid:n` or `uuid:tag:n`. */
export function parseGtidArg(flag: string, text: string): string {
  const t = text.trim();
  if (
    /^\d+-\d+-\d+$/.test(t) ||
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(:[a-z_][a-z0-9_]{0,31})?:\d+$/i.test(t)
  ) {
    return t;
  }
  throw new RestoreOptionsError(
    `Cannot parse --${flag} "${text}": expected one GTID, MariaDB domain-server-seq (0-1-42) or MySQL uuid:n`,
    { fields: { flag: `--${flag}`, value: text } },
  );
}

export interface SchemaRename {
  readonly from: string;
  readonly to: string;
}

const IDENT = /^[^\s.`/\\]{1,64}$/;

/** `old:new` schema renames; each source schema at most once, no two onto the same name. */
export function parseRenameArgs(flag: string, items: readonly string[]): readonly SchemaRename[] {
  const out: SchemaRename[] = [];
  for (const item of items) {
    const m = /^([^:]+):([^:]+)$/.exec(item.trim());
    if (m === null || !IDENT.test(m[1] as string) || !IDENT.test(m[2] as string)) {
      throw new RestoreOptionsError(
        `Cannot parse --${flag} "${item}": expected old:new with two schema names (no dots, spaces or backquotes)`,
        { fields: { flag: `--${flag}`, value: item } },
      );
    }
    const r = { from: m[1] as string, to: m[2] as string };
    if (out.some((o) => o.from === r.from || o.to === r.to)) {
      throw new RestoreOptionsError(
        `Cannot parse --${flag} "${item}": schema "${r.from}" or "${r.to}" is renamed twice`,
        {
          fields: { flag: `--${flag}`, value: item },
        },
      );
    }
    out.push(r);
  }
  return out;
}

export function describeTarget(t: RestoreTarget): string {
  switch (t.kind) {
    case 'time':
      return `time ${isoUs(t.atUs)}`;
    case 'to-gtid':
      return `GTID ${t.gtid} (inclusive)`;
    case 'before-gtid':
      return `just before GTID ${t.gtid}`;
    case 'position':
      return `position ${t.file}:${t.position}`;
    case 'latest':
      return 'the latest captured transaction';
  }
}

/** ISO 8601 UTC with microseconds, exactly. */
export function isoUs(us: bigint): string {
  const ms = us / 1000n - (us % 1000n < 0n ? 1n : 0n);
  const micros = us - ms * 1000n;
  return `${new Date(Number(ms)).toISOString().slice(0, 23)}${micros.toString().padStart(3, '0')}Z`;
}

/**
 * A MariaDB GTID position (`0-1-100,1-2-7`) as the highest sequence number per domain; undefined for anything
 * else (MySQL sets are intervals per source UUID and are compared by coordinates instead).
 */
export function mariadbGtidPos(text: string | null): Map<number, bigint> | undefined {
  if (text === null || text.trim() === '') return new Map();
  const out = new Map<number, bigint>();
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)-(\d+)-(\d+)\s*$/.exec(part);
    if (m === null) return undefined;
    out.set(Number(m[1]), BigInt(m[3] as string));
  }
  return out;
}

/** One MariaDB GTID as domain and sequence number; undefined for a MySQL GTID. */
export function mariadbGtid(gtid: string | null): { domain: number; seq: bigint } | undefined {
  if (gtid === null) return undefined;
  const m = /^(\d+)-(\d+)-(\d+)$/.exec(gtid);
  return m === null ? undefined : { domain: Number(m[1]), seq: BigInt(m[3] as string) };
}
