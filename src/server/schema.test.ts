import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.js';
import {
  array,
  boolean,
  check,
  enumOf,
  integer,
  nullable,
  object,
  optional,
  string,
  validateInput,
} from './schema.js';

const connection = object({
  host: string({ minLength: 1, maxLength: 255 }),
  port: optional(integer({ min: 1, max: 65535 }), 3306),
  user: string({ minLength: 1 }),
  password: optional(string({ minLength: 8, secret: true })),
});

const server = object({
  name: string({ pattern: /^[a-z][a-z0-9-]*$/, patternDescription: 'lower-case letters, digits and "-"' }),
  connection,
  tags: optional(array(string({ maxLength: 5 }), { maxItems: 3 })),
  note: optional(nullable(string())),
  since: optional(string({ format: 'date-time' })),
});

describe('check', () => {
  it('returns the typed value with defaults and without absent optional fields', () => {
    const result = check(server, { name: 'db-1', connection: { host: 'h', user: 'u' }, note: null });
    expect(result).toEqual({
      ok: true,
      value: { name: 'db-1', connection: { host: 'h', port: 3306, user: 'u' }, note: null },
    });
    if (result.ok) expect('tags' in result.value).toBe(false);
  });

  it('reports nested, array and unknown-field errors by path, all at once', () => {
    const result = check(server, {
      name: 'DB 1',
      connection: { host: '', port: 70000, password: 'short', extra: true },
      tags: ['ok', 'too-long', 3],
      since: 'yesterday',
    });
    expect(result).toEqual({
      ok: false,
      fields: {
        name: 'must be lower-case letters, digits and "-", got "DB 1"',
        'connection.host': 'must be 1 to 255 characters long, got 0',
        'connection.port': 'must be a whole number from 1 to 65535, got 70000',
        'connection.user': 'is required',
        'connection.password': 'must be at least 8 characters long, got 5',
        'connection.extra': 'is not a known field',
        'tags[1]': 'must be 0 to 5 characters long, got 8',
        'tags[2]': 'must be a string, got 3',
        since: 'must be an RFC 3339 date-time such as 2024-05-01T10:00:00Z, got "yesterday"',
      },
    });
  });

  it('never echoes secret values', () => {
    const secret = object({ password: string({ minLength: 8, pattern: /^\S+$/, secret: true }) });
    expect(check(secret, { password: 'has space!' })).toEqual({
      ok: false,
      fields: { password: 'must be text matching /^\\S+$/' },
    });
    expect(check(secret, { password: 12345678 })).toEqual({
      ok: false,
      fields: { password: 'must be a string, got a number' },
    });
  });

  it('lower-cases UUIDs and refuses imprecise or fractional integers', () => {
    const s = object({ id: string({ format: 'uuid' }), n: integer() });
    expect(check(s, { id: 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE', n: 1 })).toEqual({
      ok: true,
      value: { id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee', n: 1 },
    });
    expect(check(s, { id: 'x', n: 2 ** 53 })).toEqual({
      ok: false,
      fields: { id: 'must be a UUID, got "x"', n: 'must be a whole number, got 9007199254740992' },
    });
    expect(check(integer(), '5')).toEqual({ ok: false, fields: { '': 'must be a whole number, got "5"' } });
  });

  it('converts text only in text mode (query strings, paths)', () => {
    expect(check(integer({ min: 0 }), '42', { text: true })).toEqual({ ok: true, value: 42 });
    expect(check(integer({ min: 0 }), '-1', { text: true })).toEqual({
      ok: false,
      fields: { '': 'must be a whole number of at least 0, got -1' },
    });
    expect(check(boolean(), 'false', { text: true })).toEqual({ ok: true, value: false });
    expect(check(boolean(), 'no', { text: true })).toEqual({
      ok: false,
      fields: { '': 'must be true or false, got "no"' },
    });
    expect(check(boolean(), 'true')).toEqual({
      ok: false,
      fields: { '': 'must be true or false, got "true"' },
    });
  });

  it('ignores prototype keys and does not pollute', () => {
    const s = object({ a: optional(string()) });
    const input = JSON.parse('{"__proto__": {"polluted": true}}') as unknown;
    const result = check(s, input);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(Object.hasOwn(result.fields, '__proto__')).toBe(true);
      expect(JSON.stringify(result.fields)).toBe('{"__proto__":"is not a known field"}');
    }
    expect(check(s, { toString: 'x' })).toEqual({ ok: false, fields: { toString: 'is not a known field' } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('validateInput', () => {
  it('throws one 400 naming every field', () => {
    const s = object({ tool: enumOf(['mydumper', 'xtrabackup']), days: integer({ min: 1, max: 365 }) });
    let caught: unknown;
    try {
      validateInput(s, { tool: 'x', days: 0 }, 'body');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(HttpError);
    expect(caught).toMatchObject({
      status: 400,
      code: 'VALIDATION_FAILED',
      kind: 'usage',
      message:
        'Cannot accept request body: tool must be one of "mydumper", "xtrabackup", got "x"; days must be a whole number from 1 to 365, got 0',
      fields: {
        tool: 'must be one of "mydumper", "xtrabackup", got "x"',
        days: 'must be a whole number from 1 to 365, got 0',
      },
    });
  });

  it('reports a wrong top-level value under the part name', () => {
    expect(() => validateInput(object({}), 'text', 'body')).toThrow(
      'Cannot accept request body: body must be an object, got "text"',
    );
  });
});

describe('toJsonSchema', () => {
  it('describes types, bounds, defaults, required fields and closed objects', () => {
    expect(connection.toJsonSchema()).toEqual({
      type: 'object',
      properties: {
        host: { type: 'string', minLength: 1, maxLength: 255 },
        port: { type: 'integer', minimum: 1, maximum: 65535, default: 3306 },
        user: { type: 'string', minLength: 1 },
        password: { type: 'string', minLength: 8 },
      },
      required: ['host', 'user'],
      additionalProperties: false,
    });
    expect(nullable(enumOf(['a', 'b'])).toJsonSchema()).toEqual({
      anyOf: [{ type: 'string', enum: ['a', 'b'] }, { type: 'null' }],
    });
  });
});
