import { HTTP_ERROR_CODES, HttpError } from './errors.js';

/**
 * A tiny typed validator for request bodies, query strings and path parameters. One schema gives three things:
 * the TypeScript type of the validated value (`Infer<typeof s>`), every field error at once keyed by field path
 * (`connection.port`, `tags[2]`), and the JSON Schema that goes into the OpenAPI document.
 *
 * Objects reject unknown fields: a misspelt `retention_day` must fail loudly, not be ignored. Integers must be
 * safe integers (JSON numbers beyond 2^53 are already imprecise when parsed, so they are refused, not rounded).
 */
export type JsonSchema = Readonly<Record<string, unknown>>;

const INVALID: unique symbol = Symbol('invalid');
type Parsed<T> = T | typeof INVALID;

interface ParseContext {
  /** Field errors so far, by path. A Map, so that paths like `__proto__` or `toString` are plain keys. */
  readonly issues: Map<string, string>;
  /** Values come from a query string or path: integers and booleans arrive as text. */
  readonly text: boolean;
}

export interface Schema<T> {
  readonly kind: string;
  /** Present on schemas made by `optional()`. */
  readonly optional?: boolean;
  parse(value: unknown, path: string, ctx: ParseContext): Parsed<T>;
  toJsonSchema(): JsonSchema;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

interface Common {
  readonly description?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Scalars

export interface StringOptions extends Common {
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: RegExp;
  /** Says what the pattern allows, for messages: `letters, digits, "_" and "-"`. */
  readonly patternDescription?: string;
  /** `uuid` values are lower-cased (UUIDs are case-insensitive); `date-time` must be RFC 3339. */
  readonly format?: 'uuid' | 'date-time';
  /** Never echo the value in messages (passwords). */
  readonly secret?: boolean;
  /** Further checks; returns the problem (`must be ...`) or undefined. */
  readonly check?: (value: string) => string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

export function string(options: StringOptions = {}): Schema<string> {
  return {
    kind: 'string',
    parse(value, path, ctx) {
      const secret = options.secret === true;
      if (typeof value !== 'string') {
        return fail(ctx, path, `must be a string, got ${secret ? typeName(value) : describe(value)}`);
      }
      const shown = secret ? '' : `, got ${describe(value)}`;
      let v = value;
      if (options.format === 'uuid') {
        v = value.toLowerCase();
        if (!UUID.test(v)) return fail(ctx, path, `must be a UUID${shown}`);
      }
      if (options.format === 'date-time' && (!DATE_TIME.test(v) || Number.isNaN(Date.parse(v)))) {
        return fail(ctx, path, `must be an RFC 3339 date-time such as 2024-05-01T10:00:00Z${shown}`);
      }
      const min = options.minLength ?? 0;
      const max = options.maxLength;
      if (v.length < min || (max !== undefined && v.length > max)) {
        const range = max === undefined ? `at least ${min}` : min === max ? `${min}` : `${min} to ${max}`;
        return fail(ctx, path, `must be ${range} characters long, got ${v.length}`);
      }
      if (options.pattern !== undefined && !options.pattern.test(v)) {
        const allowed = options.patternDescription ?? `text matching ${String(options.pattern)}`;
        return fail(ctx, path, `must be ${allowed}${shown}`);
      }
      const problem = options.check?.(v);
      if (problem !== undefined) return fail(ctx, path, problem);
      return v;
    },
    toJsonSchema() {
      return clean({
        type: 'string',
        description: options.description,
        format: options.format,
        minLength: options.minLength,
        maxLength: options.maxLength,
        pattern: options.pattern?.source,
      });
    },
  };
}

export interface IntegerOptions extends Common {
  readonly min?: number;
  readonly max?: number;
}

export function integer(options: IntegerOptions = {}): Schema<number> {
  const { min, max } = options;
  const expected =
    min !== undefined && max !== undefined
      ? `a whole number from ${min} to ${max}`
      : min !== undefined
        ? `a whole number of at least ${min}`
        : max !== undefined
          ? `a whole number of at most ${max}`
          : 'a whole number';
  return {
    kind: 'integer',
    parse(value, path, ctx) {
      let v = value;
      if (ctx.text && typeof v === 'string' && /^-?\d{1,16}$/.test(v)) v = Number(v);
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
        return fail(ctx, path, `must be ${expected}, got ${describe(value)}`);
      }
      if ((min !== undefined && v < min) || (max !== undefined && v > max)) {
        return fail(ctx, path, `must be ${expected}, got ${v}`);
      }
      return v;
    },
    toJsonSchema() {
      return clean({ type: 'integer', description: options.description, minimum: min, maximum: max });
    },
  };
}

export function boolean(options: Common = {}): Schema<boolean> {
  return {
    kind: 'boolean',
    parse(value, path, ctx) {
      if (typeof value === 'boolean') return value;
      if (ctx.text && (value === 'true' || value === 'false')) return value === 'true';
      return fail(ctx, path, `must be true or false, got ${describe(value)}`);
    },
    toJsonSchema() {
      return clean({ type: 'boolean', description: options.description });
    },
  };
}

export function enumOf<const V extends readonly [string, ...string[]]>(
  values: V,
  options: Common = {},
): Schema<V[number]> {
  const listed = values.map((v) => JSON.stringify(v)).join(', ');
  return {
    kind: 'enum',
    parse(value, path, ctx) {
      if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value;
      return fail(ctx, path, `must be one of ${listed}, got ${describe(value)}`);
    },
    toJsonSchema() {
      return clean({ type: 'string', description: options.description, enum: [...values] });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Combinators

/** Absent (undefined) is allowed; with a default, absence yields the default. */
export function optional<T>(schema: Schema<T>): Schema<T | undefined> & { readonly optional: true };
export function optional<T>(schema: Schema<T>, defaultValue: T): Schema<T> & { readonly hasDefault: true };
export function optional<T>(schema: Schema<T>, ...rest: [T?]): Schema<T | undefined> {
  const hasDefault = rest.length > 0;
  const defaultValue = rest[0];
  return {
    kind: schema.kind,
    optional: !hasDefault,
    ...(hasDefault ? { hasDefault: true } : {}),
    parse(value, path, ctx) {
      if (value === undefined) return defaultValue;
      return schema.parse(value, path, ctx);
    },
    toJsonSchema() {
      return hasDefault ? { ...schema.toJsonSchema(), default: defaultValue } : schema.toJsonSchema();
    },
  };
}

export function nullable<T>(schema: Schema<T>): Schema<T | null> {
  return {
    kind: schema.kind,
    parse(value, path, ctx) {
      if (value === null) return null;
      return schema.parse(value, path, ctx);
    },
    toJsonSchema() {
      return { anyOf: [schema.toJsonSchema(), { type: 'null' }] };
    },
  };
}

export function array<T>(
  item: Schema<T>,
  options: Common & { readonly minItems?: number; readonly maxItems?: number } = {},
): Schema<readonly T[]> {
  return {
    kind: 'array',
    parse(value, path, ctx) {
      if (!Array.isArray(value)) return fail(ctx, path, `must be an array, got ${describe(value)}`);
      const min = options.minItems ?? 0;
      const max = options.maxItems;
      if (value.length < min || (max !== undefined && value.length > max)) {
        const range = max === undefined ? `at least ${min}` : `${min} to ${max}`;
        return fail(ctx, path, `must have ${range} items, got ${value.length}`);
      }
      const out: T[] = [];
      let ok = true;
      value.forEach((element: unknown, i) => {
        const parsed = item.parse(element, `${path}[${i}]`, ctx);
        if (parsed === INVALID) ok = false;
        else out.push(parsed);
      });
      return ok ? out : INVALID;
    },
    toJsonSchema() {
      return clean({
        type: 'array',
        description: options.description,
        items: item.toJsonSchema(),
        minItems: options.minItems,
        maxItems: options.maxItems,
      });
    },
  };
}

export type Shape = Readonly<Record<string, Schema<unknown>>>;

type OptionalKeys<S extends Shape> = {
  [K in keyof S]: S[K] extends { readonly optional: true } ? K : never;
}[keyof S];

type Simplify<T> = { [K in keyof T]: T[K] } & {};

export type ObjectOf<S extends Shape> = Simplify<
  { readonly [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & {
    readonly [K in OptionalKeys<S>]?: Exclude<Infer<S[K]>, undefined>;
  }
>;

export interface ObjectSchema<T> extends Schema<T> {
  readonly shape: Shape;
}

export function object<const S extends Shape>(shape: S, options: Common = {}): ObjectSchema<ObjectOf<S>> {
  const keys = Object.keys(shape);
  return {
    kind: 'object',
    shape,
    parse(value, path, ctx) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return fail(ctx, path, `must be an object, got ${describe(value)}`);
      }
      const input = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      let ok = true;
      for (const key of keys) {
        const field = shape[key]!;
        const present = Object.hasOwn(input, key);
        const fieldPath = path === '' ? key : `${path}.${key}`;
        if (!present && field.optional !== true && !('hasDefault' in field)) {
          fail(ctx, fieldPath, 'is required');
          ok = false;
          continue;
        }
        const parsed = field.parse(present ? input[key] : undefined, fieldPath, ctx);
        if (parsed === INVALID) ok = false;
        else if (parsed !== undefined) out[key] = parsed;
      }
      for (const key of Object.keys(input)) {
        if (!Object.hasOwn(shape, key)) {
          fail(ctx, path === '' ? key : `${path}.${key}`, 'is not a known field');
          ok = false;
        }
      }
      return ok ? (out as ObjectOf<S>) : INVALID;
    },
    toJsonSchema() {
      const properties: Record<string, JsonSchema> = {};
      const required: string[] = [];
      for (const key of keys) {
        const field = shape[key]!;
        properties[key] = field.toJsonSchema();
        if (field.optional !== true && !('hasDefault' in field)) required.push(key);
      }
      return clean({
        type: 'object',
        description: options.description,
        properties,
        required: required.length > 0 ? required : undefined,
        additionalProperties: false,
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Running a schema

export type CheckResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly fields: Readonly<Record<string, string>> };

/** Validates without throwing. `text` is for query strings and path parameters. */
export function check<T>(
  schema: Schema<T>,
  value: unknown,
  options: { text?: boolean } = {},
): CheckResult<T> {
  const ctx: ParseContext = { issues: new Map(), text: options.text ?? false };
  const parsed = schema.parse(value, '', ctx);
  // fromEntries defines own properties, so even a `__proto__` path stays an ordinary key.
  if (parsed === INVALID) return { ok: false, fields: Object.fromEntries(ctx.issues) };
  return { ok: true, value: parsed };
}

export type InputPart = 'body' | 'query' | 'path';

const PART_NAMES: Readonly<Record<InputPart, string>> = {
  body: 'request body',
  query: 'query parameters',
  path: 'path parameters',
};

/**
 * Validates one part of a request; on failure throws a 400 VALIDATION_FAILED listing every field. A problem
 * with the whole value (a body that is an array) is reported under the part's name.
 */
export function validateInput<T>(schema: Schema<T>, value: unknown, part: InputPart): T {
  const result = check(schema, value, { text: part !== 'body' });
  if (result.ok) return result.value;
  const entries = Object.entries(result.fields).map(([path, problem]) => [
    path === '' ? part : path,
    problem,
  ]);
  const fields = Object.fromEntries(entries) as Record<string, string>;
  const shown = entries.slice(0, 5).map(([path, problem]) => `${path} ${problem}`);
  if (entries.length > 5) shown.push(`and ${entries.length - 5} more`);
  throw new HttpError(
    400,
    HTTP_ERROR_CODES.validationFailed,
    `Cannot accept ${PART_NAMES[part]}: ${shown.join('; ')}`,
    {
      fields,
    },
  );
}

function fail(ctx: ParseContext, path: string, message: string): typeof INVALID {
  if (!ctx.issues.has(path)) ctx.issues.set(path, message);
  return INVALID;
}

/** A short, safe rendering of a received value for messages. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function clean(schema: Record<string, unknown>): JsonSchema {
  return Object.fromEntries(Object.entries(schema).filter(([, v]) => v !== undefined));
}
