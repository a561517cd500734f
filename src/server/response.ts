/**
 * What handlers and middleware return. Bodies are serialised when the response is built, so a value that cannot
 * be encoded fails inside the handler, where the one error mapping turns it into a 500, never halfway through
 * writing to a socket.
 */
export interface ApiResponse {
  readonly status: number;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array | undefined;
}

export const JSON_TYPE = 'application/json; charset=utf-8';

/** A JSON response. BIGINTs become decimal strings and bytes `{"hex": ...}`: the canonical value encoding. */
export function json(
  value: unknown,
  status = 200,
  headers: Readonly<Record<string, string>> = {},
): ApiResponse {
  return {
    status,
    headers: { 'content-type': JSON_TYPE, 'cache-control': 'no-store', ...lowerKeys(headers) },
    body: Buffer.from(toJson(value), 'utf8'),
  };
}

/** A text response (HTML, JavaScript, Prometheus metrics) with its content type. */
export function text(
  body: string,
  contentType: string,
  status = 200,
  headers: Readonly<Record<string, string>> = {},
): ApiResponse {
  return {
    status,
    headers: { 'content-type': contentType, ...lowerKeys(headers) },
    body: Buffer.from(body, 'utf8'),
  };
}

/** A response without a body: 204 by default. */
export function empty(status = 204, headers: Readonly<Record<string, string>> = {}): ApiResponse {
  return { status, headers: lowerKeys(headers), body: undefined };
}

/** Returns a copy with extra headers (names lower-cased); existing ones are replaced. */
export function withHeaders(response: ApiResponse, headers: Readonly<Record<string, string>>): ApiResponse {
  return { ...response, headers: { ...response.headers, ...lowerKeys(headers) } };
}

/** JSON text of a value: bigint as a decimal string, Uint8Array (and Buffer) as `{"hex": "..."}`. */
export function toJson(value: unknown): string {
  // A replacer function makes JSON.stringify call back into JS for every key, about twice the cost on a page of
  // backups; most responses hold neither kind of value, which one walk finds out for much less.
  if (!holdsSpecial(value, 0)) return JSON.stringify(value);
  return JSON.stringify(value, function (this: unknown, key: string, replaced: unknown): unknown {
    // `replaced` has been through toJSON already (a Buffer arrives as {type, data}); the holder has the original.
    const original = (this as Record<string, unknown>)[key];
    if (original instanceof Uint8Array) return { hex: Buffer.from(original).toString('hex') };
    if (typeof replaced === 'bigint') return replaced.toString();
    return replaced;
  });
}

const MAX_DEPTH = 64;

/**
 * Whether a value holds a bigint, a Uint8Array, or anything the walk does not look into (an object with its own
 * toJSON, a structure deeper than MAX_DEPTH): only then is the replacer needed.
 */
function holdsSpecial(value: unknown, depth: number): boolean {
  if (typeof value === 'bigint') return true;
  if (typeof value !== 'object' || value === null) return false;
  if (depth >= MAX_DEPTH || value instanceof Uint8Array) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (holdsSpecial(item, depth + 1)) return true;
    return false;
  }
  // Dates (and other objects with toJSON) serialise themselves; the replacer sees what toJSON returned.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return !(value instanceof Date);
  for (const item of Object.values(value)) if (holdsSpecial(item, depth + 1)) return true;
  return false;
}

/** Everything the wire needs: the headers with content-length and defaults, and the bytes (none for HEAD). */
export function finalize(
  response: ApiResponse,
  method: string,
): { status: number; headers: Record<string, string>; body: Uint8Array | undefined } {
  const headers: Record<string, string> = { 'x-content-type-options': 'nosniff', ...response.headers };
  const length = response.body?.byteLength ?? 0;
  if (response.status !== 204 && response.status !== 304) headers['content-length'] = String(length);
  return { status: response.status, headers, body: method === 'HEAD' ? undefined : response.body };
}

function lowerKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}
