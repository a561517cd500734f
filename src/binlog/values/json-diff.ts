import { JsonDiffError } from './errors.js';
import { jsonBinaryToText, quoteJsonString } from './json-binary.js';

/**
 * Applying one column's MySQL PARTIAL_UPDATE_ROWS JSON diffs (binlog_row_value_options=PARTIAL_JSON) to its
 * before image, giving the after image as MySQL JSON text.
 *
 * Layout (MySQL `sql/json_diff.cc`, `Json_diff_vector::write_binary` / `read_binary`): a 4-byte little-endian
 * length of the list, then diffs until that length is used up, each:
 *
 *   operation: 1 byte (0 REPLACE, 1 INSERT, 2 REMOVE)
 *   path length: length-encoded integer (net_field_length), path: that many bytes (MySQL path text: `$.a[2]."b c"`)
 *   unless REMOVE: value length: length-encoded integer, value: that many bytes of binary JSON
 *
 * `diffs` may be given with or without the leading 4-byte length; a list that starts with its own length is
 * recognised because no diff list can begin with a 32-bit number equal to the rest of its size (the path of the
 * first diff starts with `$`, 0x24, making that number at least 0x240000 while the buffer is smaller).
 *
 * Semantics (MySQL `apply_json_diffs`): REPLACE sets the value at the path, which must exist; INSERT adds a member
 * to an object (replacing one with the same key) or inserts into an array at the index (appending when the index
 * is past the end); REMOVE deletes the member or array element. Object members keep MySQL's key order: shorter
 * keys first, then bytewise.
 */
export function applyJsonDiffs(beforeJsonText: string | null, diffs: Buffer): string {
  if (beforeJsonText === null) {
    throw new JsonDiffError('Cannot apply JSON diffs: the before image of the column is NULL');
  }
  let doc = parseJsonText(beforeJsonText);
  const end = diffs.length;
  let p = diffs.length >= 4 && diffs.readUInt32LE(0) === diffs.length - 4 ? 4 : 0;
  while (p < end) {
    const op = diffs[p++] as number;
    if (op > 2)
      throw new JsonDiffError(`Cannot apply JSON diffs: unknown operation ${op} at offset ${p - 1}`);
    const [pathLen, q] = lenenc(diffs, p, end);
    if (q + pathLen > end)
      throw new JsonDiffError(
        `Cannot apply JSON diffs: path of ${pathLen} bytes overruns the diff list at offset ${q}`,
      );
    const pathText = diffs.toString('utf8', q, q + pathLen);
    p = q + pathLen;
    const path = parsePath(pathText);
    if (op === 2) {
      doc = remove(doc, path, pathText);
      continue;
    }
    const [valueLen, r] = lenenc(diffs, p, end);
    if (r + valueLen > end)
      throw new JsonDiffError(
        `Cannot apply JSON diffs: value of ${valueLen} bytes overruns the diff list at offset ${r}`,
      );
    const value = parseJsonText(jsonBinaryToText(diffs.subarray(r, r + valueLen)));
    p = r + valueLen;
    doc = op === 0 ? replace(doc, path, value, pathText) : insert(doc, path, value, pathText);
  }
  return serialize(doc);
}

function lenenc(buf: Buffer, p: number, end: number): [number, number] {
  if (p >= end) throw new JsonDiffError(`Cannot apply JSON diffs: length missing at offset ${p}`);
  const first = buf[p] as number;
  if (first < 0xfb) return [first, p + 1];
  const size = first === 0xfc ? 2 : first === 0xfd ? 3 : first === 0xfe ? 8 : 0;
  if (size === 0 || p + 1 + size > end)
    throw new JsonDiffError(`Cannot apply JSON diffs: bad length at offset ${p}`);
  const value = size === 8 ? Number(buf.readBigUInt64LE(p + 1)) : buf.readUIntLE(p + 1, size);
  return [value, p + 1 + size];
}

// ---------------------------------------------------------------------------------------------------------------
// A small JSON document model that keeps every scalar's text as MySQL printed it (numbers are never re-formatted).

type JsonNode =
  | { readonly kind: 'object'; readonly members: [key: string, value: JsonNode][] }
  | { readonly kind: 'array'; readonly items: JsonNode[] }
  | { readonly kind: 'scalar'; readonly text: string };

type PathLeg = { readonly key: string } | { readonly index: number; readonly fromEnd: boolean };

/** Parses JSON text (as this module and MySQL print it) into the document model. */
function parseJsonText(text: string): JsonNode {
  const parser = new TextParser(text);
  parser.ws();
  const node = parser.value(0);
  parser.ws();
  if (parser.p !== text.length) parser.fail('unexpected text after the document');
  return node;
}

class TextParser {
  readonly s: string;
  p = 0;

  constructor(s: string) {
    this.s = s;
  }

  fail(what: string): never {
    throw new JsonDiffError(
      `Cannot apply JSON diffs: the before image is not JSON text: ${what} at character ${this.p}`,
    );
  }

  ws(): void {
    while (this.p < this.s.length && ' \t\n\r'.includes(this.s[this.p]!)) this.p++;
  }

  value(depth: number): JsonNode {
    if (depth > 100) this.fail('nesting deeper than 100');
    const c = this.s[this.p];
    if (c === '{') {
      this.p++;
      const members: [string, JsonNode][] = [];
      this.ws();
      if (this.s[this.p] === '}') {
        this.p++;
        return { kind: 'object', members };
      }
      for (;;) {
        this.ws();
        if (this.s[this.p] !== '"') this.fail('expected a key');
        const key = this.string();
        this.ws();
        if (this.s[this.p] !== ':') this.fail('expected ":"');
        this.p++;
        this.ws();
        members.push([key, this.value(depth + 1)]);
        this.ws();
        const sep = this.s[this.p++];
        if (sep === '}') return { kind: 'object', members };
        if (sep !== ',') this.fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      this.p++;
      const items: JsonNode[] = [];
      this.ws();
      if (this.s[this.p] === ']') {
        this.p++;
        return { kind: 'array', items };
      }
      for (;;) {
        this.ws();
        items.push(this.value(depth + 1));
        this.ws();
        const sep = this.s[this.p++];
        if (sep === ']') return { kind: 'array', items };
        if (sep !== ',') this.fail('expected "," or "]"');
      }
    }
    if (c === '"') {
      const start = this.p;
      this.string();
      return { kind: 'scalar', text: this.s.slice(start, this.p) };
    }
    const m = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)/.exec(
      this.s.slice(this.p, this.p + 400),
    );
    if (m === null) this.fail('expected a value');
    this.p += m[0].length;
    return { kind: 'scalar', text: m[0] };
  }

  /** A string literal at p (on the opening quote); returns its value and moves past the closing quote. */
  string(): string {
    const start = this.p;
    this.p++;
    let escaped = false;
    while (this.p < this.s.length) {
      const c = this.s[this.p++];
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') return JSON.parse(this.s.slice(start, this.p)) as string;
    }
    return this.fail('unterminated string');
  }
}

function serialize(node: JsonNode): string {
  switch (node.kind) {
    case 'scalar':
      return node.text;
    case 'array':
      return '[' + node.items.map(serialize).join(', ') + ']';
    case 'object':
      return '{' + node.members.map(([k, v]) => quoteJsonString(k) + ': ' + serialize(v)).join(', ') + '}';
  }
}

/** MySQL path text (`$`, `.key`, `."quoted key"`, `[n]`, `[last]`, `[last-n]`) as legs. */
function parsePath(text: string): PathLeg[] {
  function bad(why: string): never {
    throw new JsonDiffError(
      `Cannot apply JSON diffs: path ${JSON.stringify(text)} is not a JSON path: ${why}`,
    );
  }
  let p = 0;
  while (text[p] === ' ') p++;
  if (text[p] !== '$') bad('it must start with $');
  p++;
  const legs: PathLeg[] = [];
  for (;;) {
    while (text[p] === ' ') p++;
    if (p >= text.length) return legs;
    const c = text[p];
    if (c === '.') {
      p++;
      while (text[p] === ' ') p++;
      if (text[p] === '"') {
        const start = p++;
        let escaped = false;
        for (; p < text.length; p++) {
          if (escaped) escaped = false;
          else if (text[p] === '\\') escaped = true;
          else if (text[p] === '"') break;
        }
        if (p >= text.length) bad('unterminated quoted key');
        p++;
        legs.push({ key: JSON.parse(text.slice(start, p)) as string });
      } else {
        const start = p;
        while (p < text.length && text[p] !== '.' && text[p] !== '[' && text[p] !== ' ') p++;
        if (p === start) bad('empty member name');
        legs.push({ key: text.slice(start, p) });
      }
    } else if (c === '[') {
      const close = text.indexOf(']', p);
      if (close < 0) bad('unterminated array index');
      const inner = text.slice(p + 1, close).trim();
      const m = /^(?:(\d+)|last(?:\s*-\s*(\d+))?)$/.exec(inner);
      if (m === null) bad(`unsupported array index [${inner}]`);
      legs.push(
        m[1] !== undefined
          ? { index: Number(m[1]), fromEnd: false }
          : { index: Number(m[2] ?? 0), fromEnd: true },
      );
      p = close + 1;
    } else {
      bad(`unexpected character ${JSON.stringify(c)}`);
    }
  }
}

function utf8Compare(a: string, b: string): number {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length - bb.length || Buffer.compare(ab, bb);
}

function arrayIndex(leg: { index: number; fromEnd: boolean }, length: number): number {
  return leg.fromEnd ? length - 1 - leg.index : leg.index;
}

/** The node at `legs` (or undefined when the path does not exist). */
function lookup(doc: JsonNode, legs: readonly PathLeg[]): JsonNode | undefined {
  let node: JsonNode | undefined = doc;
  for (const leg of legs) {
    if (node === undefined) return undefined;
    if ('key' in leg) {
      node = node.kind === 'object' ? node.members.find(([k]) => k === leg.key)?.[1] : undefined;
    } else {
      node = node.kind === 'array' ? node.items[arrayIndex(leg, node.items.length)] : undefined;
    }
  }
  return node;
}

function parentOf(
  doc: JsonNode,
  legs: readonly PathLeg[],
  pathText: string,
  op: string,
): [JsonNode, PathLeg] {
  const last = legs[legs.length - 1];
  const parent = lookup(doc, legs.slice(0, -1));
  if (last === undefined || parent === undefined) {
    throw new JsonDiffError(
      `Cannot apply JSON diffs: ${op} path ${pathText} does not exist in the before image`,
    );
  }
  return [parent, last];
}

function replace(doc: JsonNode, legs: readonly PathLeg[], value: JsonNode, pathText: string): JsonNode {
  if (legs.length === 0) return value;
  const [parent, leg] = parentOf(doc, legs, pathText, 'REPLACE');
  if ('key' in leg && parent.kind === 'object') {
    const member = parent.members.find(([k]) => k === leg.key);
    if (member !== undefined) {
      member[1] = value;
      return doc;
    }
  } else if (!('key' in leg) && parent.kind === 'array') {
    const i = arrayIndex(leg, parent.items.length);
    if (i >= 0 && i < parent.items.length) {
      parent.items[i] = value;
      return doc;
    }
  }
  throw new JsonDiffError(
    `Cannot apply JSON diffs: REPLACE path ${pathText} does not exist in the before image`,
  );
}

function insert(doc: JsonNode, legs: readonly PathLeg[], value: JsonNode, pathText: string): JsonNode {
  const [parent, leg] = parentOf(doc, legs, pathText, 'INSERT');
  if ('key' in leg && parent.kind === 'object') {
    const existing = parent.members.find(([k]) => k === leg.key);
    if (existing !== undefined) {
      existing[1] = value;
      return doc;
    }
    let at = 0;
    while (at < parent.members.length && utf8Compare(parent.members[at]![0], leg.key) < 0) at++;
    parent.members.splice(at, 0, [leg.key, value]);
    return doc;
  }
  if (!('key' in leg) && parent.kind === 'array') {
    const i = Math.max(0, Math.min(arrayIndex(leg, parent.items.length), parent.items.length));
    parent.items.splice(i, 0, value);
    return doc;
  }
  throw new JsonDiffError(
    `Cannot apply JSON diffs: INSERT path ${pathText} does not name an object member or array cell`,
  );
}

function remove(doc: JsonNode, legs: readonly PathLeg[], pathText: string): JsonNode {
  const [parent, leg] = parentOf(doc, legs, pathText, 'REMOVE');
  if ('key' in leg && parent.kind === 'object') {
    const i = parent.members.findIndex(([k]) => k === leg.key);
    if (i >= 0) {
      parent.members.splice(i, 1);
      return doc;
    }
  } else if (!('key' in leg) && parent.kind === 'array') {
    const i = arrayIndex(leg, parent.items.length);
    if (i >= 0 && i < parent.items.length) {
      parent.items.splice(i, 1);
      return doc;
    }
  }
  throw new JsonDiffError(
    `Cannot apply JSON diffs: REMOVE path ${pathText} does not exist in the before image`,
  );
}
