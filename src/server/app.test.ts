import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../lib/clock.js';
import { DbtrailError, type ErrorKind } from '../lib/errors.js';
import { cronProblem } from '../scheduler/cron.js';
import { generateApiKey, hashApiKey } from './api-keys.js';
import { createApp, type App } from './app.js';
import { bearerAuth } from './auth.js';
import type { Principal } from './context.js';
import { RouteTableError, STATUS_BY_KIND } from './errors.js';
import type { RunningServer } from './http.js';
import { rateLimit, TokenBuckets } from './rate-limit.js';
import { requestLog } from './request-log.js';
import { empty, json } from './response.js';
import { route } from './router.js';
import { boolean, enumOf, integer, object, optional, string } from './schema.js';

const SERVER_ID = '0b0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3';

const scheduleBody = object({
  server_id: string({ format: 'uuid' }),
  cron: string({ maxLength: 200, check: (v) => cronProblem(v) }),
  tool: enumOf(['mydumper', 'xtrabackup']),
  retention_days: optional(integer({ min: 1, max: 365 }), 30),
  enabled: optional(boolean(), true),
  s3_prefix: optional(string({ minLength: 1, maxLength: 200 })),
});

const serverParams = object({ server_id: string({ format: 'uuid' }) });

class Thrown extends DbtrailError {}

function routes() {
  return [
    route({
      method: 'GET',
      path: '/api/v1/servers/{server_id}',
      operationId: 'getServer',
      summary: 'One server',
      params: serverParams,
      responses: { 200: { description: 'The server' } },
      handle({ params }, ctx) {
        return json({ id: params.server_id, tenant: ctx.principal?.tenantId });
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/servers/latest',
      operationId: 'getLatestServer',
      summary: 'The latest server',
      responses: { 200: { description: 'The server' } },
      handle: () => json({ latest: true }),
    }),
    route({
      method: 'DELETE',
      path: '/api/v1/servers/{server_id}',
      operationId: 'deleteServer',
      summary: 'Delete a server',
      params: serverParams,
      responses: { 204: { description: 'Deleted' } },
      handle: () => empty(),
    }),
    route({
      method: 'GET',
      path: '/api/v1/names/{name}',
      operationId: 'getName',
      summary: 'Echo a raw path parameter',
      responses: { 200: { description: 'The name' } },
      handle: ({ params }) => json({ name: params.name }),
    }),
    route({
      method: 'POST',
      path: '/api/v1/schedules',
      operationId: 'createSchedule',
      summary: 'Create a schedule',
      body: scheduleBody,
      responses: { 201: { description: 'Created' } },
      handle({ body }) {
        // Typed: retention_days is a number here, s3_prefix optional.
        const days: number = body.retention_days;
        return json({ ...body, retention_days: days, s3_prefix: body.s3_prefix ?? null }, 201);
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/backups',
      operationId: 'listBackups',
      summary: 'List backups',
      query: object({
        limit: optional(integer({ min: 1, max: 1000 }), 50),
        status: optional(enumOf(['queued', 'running', 'succeeded', 'failed'])),
        verbose: optional(boolean()),
      }),
      responses: { 200: { description: 'Backups' } },
      handle: ({ query }) => json(query),
    }),
    route({
      method: 'POST',
      path: '/api/v1/small',
      operationId: 'small',
      summary: 'A route with a tiny body limit',
      body: object({ note: string() }),
      bodyLimit: 64,
      responses: { 200: { description: 'OK' } },
      handle: ({ body }) => json(body),
    }),
    route({
      method: 'GET',
      path: '/api/v1/health',
      operationId: 'health',
      summary: 'Public liveness',
      auth: 'none',
      responses: { 200: { description: 'Alive' } },
      handle: () => json({ ok: true }),
    }),
    route({
      method: 'GET',
      path: '/api/v1/fail/{kind}',
      operationId: 'fail',
      summary: 'Throws an error of the given kind',
      responses: { 200: { description: 'Never' } },
      handle({ params }) {
        if (params.kind === 'foreign') throw new Error('secret detail from a driver');
        throw new Thrown(
          'TEST_FAILURE',
          params.kind as ErrorKind,
          `Cannot do the thing: it is ${params.kind}`,
          {
            fields: { serverId: SERVER_ID, size: 2n ** 64n },
          },
        );
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/exact',
      operationId: 'exact',
      summary: 'Exact values',
      responses: { 200: { description: 'Values' } },
      handle: () =>
        json({ big: 18446744073709551615n, bytes: Buffer.from([0, 1, 254, 255]), when: new Date(0) }),
    }),
  ];
}

interface Fixture {
  app: App;
  clock: ManualClock;
  logLines: () => Record<string, unknown>[];
  verify: ReturnType<typeof vi.fn>;
  keyA: string;
  keyB: string;
}

function fixture(options: { capacity?: number } = {}): Fixture {
  const a = generateApiKey();
  const b = generateApiKey();
  const principals = new Map<string, Principal>([
    [a.hash, { tenantId: 'tenant-a', keyId: 'key-a' }],
    [b.hash, { tenantId: 'tenant-b', keyId: 'key-b' }],
  ]);
  const verify = vi.fn((token: string) => Promise.resolve(principals.get(hashApiKey(token))));
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const clock = new ManualClock('2024-05-01T10:00:00Z');
  const app = createApp({
    routes: routes(),
    logger,
    middleware: [
      requestLog(logger),
      bearerAuth({ verifyApiKey: verify }),
      rateLimit(new TokenBuckets({ capacity: options.capacity ?? 1000, refillPerSecond: 1, clock })),
    ],
  });
  const logLines = (): Record<string, unknown>[] =>
    chunks
      .join('')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { app, clock, logLines, verify, keyA: a.key, keyB: b.key };
}

const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

const validSchedule = { server_id: SERVER_ID, cron: '0 3 * * *', tool: 'mydumper' };

describe('routing', () => {
  it('extracts, decodes and validates path parameters', async () => {
    const f = fixture();
    const res = await f.app.request('GET', `/api/v1/servers/${SERVER_ID.toUpperCase()}`, {
      headers: bearer(f.keyA),
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ id: SERVER_ID, tenant: 'tenant-a' });
    const named = await f.app.request('GET', '/api/v1/names/a%20b%2Fc', { headers: bearer(f.keyA) });
    expect(named.json).toEqual({ name: 'a b/c' });
    const bad = await f.app.request('GET', '/api/v1/servers/not-a-uuid', { headers: bearer(f.keyA) });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({
      error: { code: 'VALIDATION_FAILED', fields: { server_id: 'must be a UUID, got "not-a-uuid"' } },
    });
  });

  it('prefers literal segments over parameters and ignores a trailing slash', async () => {
    const f = fixture();
    const res = await f.app.request('GET', '/api/v1/servers/latest/', { headers: bearer(f.keyA) });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ latest: true });
  });

  it('answers 404 for unknown paths and 405 with Allow for known paths', async () => {
    const f = fixture();
    const missing = await f.app.request('GET', '/api/v1/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({
      error: {
        code: 'ROUTE_NOT_FOUND',
        message: 'Cannot route request: no route matches GET /api/v1/nothing-here',
        fields: { method: 'GET', path: '/api/v1/nothing-here' },
      },
    });
    expect((await f.app.request('GET', '/api/v1//servers')).status).toBe(404);
    const wrong = await f.app.request('PUT', `/api/v1/servers/${SERVER_ID}`, { headers: bearer(f.keyA) });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('DELETE, GET, HEAD');
    expect(wrong.json).toMatchObject({ error: { code: 'METHOD_NOT_ALLOWED' } });
  });

  it('serves HEAD from the GET route without a body', async () => {
    const f = fixture();
    const res = await f.app.request('HEAD', '/api/v1/health');
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(Number(res.headers['content-length'])).toBe(JSON.stringify({ ok: true }).length);
  });

  it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
    const f = fixture();
    const given = await f.app.request('GET', '/api/v1/health', { headers: { 'X-Request-Id': 'abc-123' } });
    expect(given.headers['x-request-id']).toBe('abc-123');
    const unsafe = await f.app.request('GET', '/api/v1/health', { headers: { 'x-request-id': 'a\nb' } });
    expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses inconsistent route tables', () => {
    const base = {
      operationId: 'x',
      summary: 'x',
      responses: { 200: { description: 'x' } },
      handle: () => empty(),
    } as const;
    expect(() =>
      createApp({
        routes: [
          route({ ...base, method: 'GET', path: '/a/{id}' }),
          route({ ...base, operationId: 'y', method: 'GET', path: '/a/{name}' }),
        ],
      }),
    ).toThrow(RouteTableError);
    expect(() =>
      createApp({ routes: [route({ ...base, method: 'GET', path: '/a/{id}', params: serverParams })] }),
    ).toThrow('Cannot register route GET /a/{id}: params schema declares server_id, the path has id');
    expect(() => createApp({ routes: [route({ ...base, method: 'GET', path: 'a' })] })).toThrow(
      'path must start with "/"',
    );
  });
});

describe('request bodies', () => {
  it('parses, validates and applies defaults', async () => {
    const f = fixture();
    const res = await f.app.request('POST', '/api/v1/schedules', {
      headers: bearer(f.keyA),
      body: validSchedule,
    });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ ...validSchedule, retention_days: 30, enabled: true, s3_prefix: null });
  });

  it('lists every invalid field at once', async () => {
    const f = fixture();
    const res = await f.app.request('POST', '/api/v1/schedules', {
      headers: bearer(f.keyA),
      body: { cron: '0 25 * * *', tool: 'pg_dump', retention_days: 400, enabled: 'yes', retention_day: 3 },
    });
    expect(res.status).toBe(400);
    const error = (res.json as { error: { code: string; message: string; fields: Record<string, string> } })
      .error;
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.fields).toEqual({
      server_id: 'is required',
      cron: 'hour must be 0-23, got 25',
      tool: 'must be one of "mydumper", "xtrabackup", got "pg_dump"',
      retention_days: 'must be a whole number from 1 to 365, got 400',
      enabled: 'must be true or false, got "yes"',
      retention_day: 'is not a known field',
    });
    expect(error.message).toBe(
      'Cannot accept request body: server_id is required; cron hour must be 0-23, got 25; tool must be one of "mydumper", "xtrabackup", got "pg_dump"; retention_days must be a whole number from 1 to 365, got 400; enabled must be true or false, got "yes"; and 1 more',
    );
  });

  it('accepts the range boundaries and refuses just outside them', async () => {
    const f = fixture();
    for (const [days, status] of [
      [1, 201],
      [365, 201],
      [0, 400],
      [366, 400],
      [1.5, 400],
    ] as const) {
      const res = await f.app.request('POST', '/api/v1/schedules', {
        headers: bearer(f.keyA),
        body: { ...validSchedule, retention_days: days },
      });
      expect(res.status, `retention_days ${days}`).toBe(status);
    }
  });

  it('answers 413 above the body limit', async () => {
    const f = fixture();
    const res = await f.app.request('POST', '/api/v1/small', {
      headers: bearer(f.keyA),
      body: { note: 'x'.repeat(100) },
    });
    expect(res.status).toBe(413);
    expect(res.json).toEqual({
      error: {
        code: 'BODY_TOO_LARGE',
        message: 'Cannot read request body: it is larger than the limit of 64 bytes',
        fields: { limit: 64 },
      },
    });
    const fits = await f.app.request('POST', '/api/v1/small', {
      headers: bearer(f.keyA),
      body: { note: 'hi' },
    });
    expect(fits.status).toBe(200);
  });

  it('answers 400 for malformed JSON, empty bodies and non-objects, 415 for other media types', async () => {
    const f = fixture();
    const send = (body: string, contentType?: string) =>
      f.app.request('POST', '/api/v1/schedules', {
        headers: { ...bearer(f.keyA), ...(contentType === undefined ? {} : { 'content-type': contentType }) },
        body,
      });
    const malformed = await send('{"cron": ', 'application/json');
    expect(malformed.status).toBe(400);
    expect(malformed.json).toMatchObject({ error: { code: 'BODY_INVALID_JSON' } });
    expect((malformed.json as { error: { message: string } }).error.message).toMatch(
      /^Cannot parse request body as JSON: /,
    );
    const notUtf8 = await f.app.request('POST', '/api/v1/schedules', {
      headers: { ...bearer(f.keyA), 'content-type': 'application/json' },
      body: new Uint8Array([0x22, 0xff, 0x22]),
    });
    expect(notUtf8.json).toMatchObject({
      error: {
        code: 'BODY_INVALID_JSON',
        message: 'Cannot parse request body as JSON: it is not valid UTF-8',
      },
    });
    const emptyBody = await send('', 'application/json');
    expect(emptyBody.status).toBe(400);
    expect(emptyBody.json).toMatchObject({ error: { code: 'BODY_REQUIRED' } });
    const list = await send('[1, 2]', 'application/json; charset=utf-8');
    expect(list.status).toBe(400);
    expect(list.json).toMatchObject({
      error: { code: 'VALIDATION_FAILED', fields: { body: 'must be an object, got an array' } },
    });
    const form = await send('a=1', 'application/x-www-form-urlencoded');
    expect(form.status).toBe(415);
    expect(form.json).toMatchObject({
      error: {
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message:
          'Cannot read request body: expected content type application/json, got "application/x-www-form-urlencoded"',
      },
    });
    expect((await send('{}')).status).toBe(415);
  });

  it('does not read bodies of unauthenticated requests', async () => {
    const f = fixture();
    const res = await f.app.request('POST', '/api/v1/schedules', { body: '{not json' });
    expect(res.status).toBe(401);
  });
});

describe('query parameters', () => {
  it('converts text to typed values with defaults', async () => {
    const f = fixture();
    const none = await f.app.request('GET', '/api/v1/backups', { headers: bearer(f.keyA) });
    expect(none.json).toEqual({ limit: 50 });
    const some = await f.app.request('GET', '/api/v1/backups?limit=5&status=failed&verbose=true', {
      headers: bearer(f.keyA),
    });
    expect(some.json).toEqual({ limit: 5, status: 'failed', verbose: true });
  });

  it('names bad and repeated parameters', async () => {
    const f = fixture();
    const bad = await f.app.request('GET', '/api/v1/backups?limit=abc&status=lost&extra=1', {
      headers: bearer(f.keyA),
    });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({
      error: {
        code: 'VALIDATION_FAILED',
        fields: {
          limit: 'must be a whole number from 1 to 1000, got "abc"',
          status: 'must be one of "queued", "running", "succeeded", "failed", got "lost"',
          extra: 'is not a known field',
        },
      },
    });
    const sneaky = await f.app.request('GET', '/api/v1/backups?__proto__=x&toString=1', {
      headers: bearer(f.keyA),
    });
    expect(sneaky.status).toBe(400);
    expect(sneaky.text).toContain(
      '"fields":{"__proto__":"is not a known field","toString":"is not a known field"}',
    );
    const twice = await f.app.request('GET', '/api/v1/backups?limit=1&limit=2', { headers: bearer(f.keyA) });
    expect(twice.status).toBe(400);
    expect(twice.json).toMatchObject({ error: { fields: { limit: 'must be given once' } } });
  });
});

describe('authentication', () => {
  it('answers 401 without a key, with another scheme, a malformed key or an unknown key', async () => {
    const f = fixture();
    const path = `/api/v1/servers/${SERVER_ID}`;
    const missing = await f.app.request('GET', path);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="dbtrail"');
    expect(missing.json).toMatchObject({ error: { code: 'AUTH_REQUIRED' } });

    const basic = await f.app.request('GET', path, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(basic.status).toBe(401);
    expect(basic.json).toMatchObject({
      error: {
        code: 'AUTH_INVALID',
        message: 'Cannot authenticate request: expected the Bearer scheme, got "Basic"',
      },
    });

    const malformed = await f.app.request('GET', path, { headers: bearer('bt_live_short') });
    expect(malformed.status).toBe(401);
    expect(malformed.headers['www-authenticate']).toBe('Bearer realm="dbtrail", error="invalid_token"');
    expect(f.verify).not.toHaveBeenCalled();

    const unknown = await f.app.request('GET', path, { headers: bearer(generateApiKey().key) });
    expect(unknown.status).toBe(401);
    expect(unknown.json).toMatchObject({
      error: {
        code: 'AUTH_INVALID',
        message: 'Cannot authenticate request: the API key is unknown or revoked',
      },
    });
    expect(f.verify).toHaveBeenCalledTimes(1);
  });

  it('accepts a valid key with any case of "Bearer" and scopes the request to its tenant', async () => {
    const f = fixture();
    const res = await f.app.request('GET', `/api/v1/servers/${SERVER_ID}`, {
      headers: { authorization: `bearer ${f.keyB}` },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ tenant: 'tenant-b' });
  });

  it('leaves public routes open', async () => {
    const f = fixture();
    expect((await f.app.request('GET', '/api/v1/health')).status).toBe(200);
  });
});

describe('rate limiting', () => {
  it('answers 429 with Retry-After once a key has spent its burst, per key', async () => {
    const f = fixture({ capacity: 3 });
    const get = (key: string) => f.app.request('GET', '/api/v1/backups', { headers: bearer(key) });
    for (let i = 0; i < 3; i++) expect((await get(f.keyA)).status).toBe(200);
    const limited = await get(f.keyA);
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');
    expect(limited.json).toMatchObject({ error: { code: 'RATE_LIMITED', fields: { retryAfterSeconds: 1 } } });
    // Another key has its own bucket.
    expect((await get(f.keyB)).status).toBe(200);
    f.clock.advance(1000);
    expect((await get(f.keyA)).status).toBe(200);
    expect((await get(f.keyA)).status).toBe(429);
  });
});

describe('error mapping', () => {
  it('maps every error kind to its status with code, message and fields', async () => {
    const f = fixture();
    for (const [kind, status] of Object.entries(STATUS_BY_KIND)) {
      const res = await f.app.request('GET', `/api/v1/fail/${kind}`, { headers: bearer(f.keyA) });
      expect(res.status, kind).toBe(status);
      if (kind === 'internal') continue;
      expect(res.json, kind).toEqual({
        error: {
          code: 'TEST_FAILURE',
          message: `Cannot do the thing: it is ${kind}`,
          fields: { serverId: SERVER_ID, size: '18446744073709551616' },
        },
      });
    }
    expect(STATUS_BY_KIND).toMatchObject({
      usage: 400,
      input: 400,
      auth: 401,
      not_found: 404,
      conflict: 409,
    });
  });

  it('hides internal errors behind a generic message with the request id, and logs them', async () => {
    const f = fixture();
    for (const kind of ['foreign', 'internal']) {
      const res = await f.app.request('GET', `/api/v1/fail/${kind}`, {
        headers: { ...bearer(f.keyA), 'x-request-id': `req-${kind}` },
      });
      expect(res.status).toBe(500);
      expect(res.json).toEqual({
        error: {
          code: 'INTERNAL',
          message: `Cannot handle request: internal error (request id req-${kind})`,
          fields: { request_id: `req-${kind}` },
        },
      });
      expect(res.text).not.toContain('secret detail');
    }
    const logged = f.logLines().filter((l) => l.msg === 'request failed with an internal error');
    expect(logged).toHaveLength(2);
    expect(JSON.stringify(logged[0])).toContain('secret detail from a driver');
  });

  it('encodes BIGINT as a decimal string and bytes as hex', async () => {
    const f = fixture();
    const res = await f.app.request('GET', '/api/v1/exact', { headers: bearer(f.keyA) });
    expect(res.text).toBe(
      '{"big":"18446744073709551615","bytes":{"hex":"0001feff"},"when":"1970-01-01T00:00:00.000Z"}',
    );
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('request log', () => {
  it('logs one line per request with the Authorization header redacted', async () => {
    const f = fixture();
    await f.app.request('GET', `/api/v1/servers/${SERVER_ID}?x=1`, {
      headers: { ...bearer(f.keyA), cookie: 'session=abc', 'user-agent': 'test' },
    });
    await f.app.request('GET', '/api/v1/nothing');
    const lines = f.logLines().filter((l) => l.msg === 'request');
    expect(lines).toHaveLength(2);
    const first = lines[0] as {
      req: { method: string; path: string; headers: Record<string, string> };
      res: { status: number };
      tenantId: string;
      keyId: string;
      durationMs: number;
      component: string;
    };
    expect(first.req.method).toBe('GET');
    expect(first.req.path).toBe(`/api/v1/servers/${SERVER_ID}?x=1`);
    expect(first.req.headers.authorization).toBe('[redacted]');
    expect(first.req.headers.cookie).toBe('[redacted]');
    expect(first.req.headers['user-agent']).toBe('test');
    expect(first.res.status).toBe(200);
    expect(first.tenantId).toBe('tenant-a');
    expect(first.keyId).toBe('key-a');
    expect(first.component).toBe('http');
    expect(first.durationMs).toBeGreaterThanOrEqual(0);
    expect((lines[1] as { res: { status: number } }).res.status).toBe(404);
    expect(
      f
        .logLines()
        .map((l) => JSON.stringify(l))
        .join('\n'),
    ).not.toContain(f.keyA);
  });
});

describe('over real HTTP', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves the same app on 127.0.0.1 with a free port', async () => {
    const f = fixture();
    server = await f.app.listen('127.0.0.1', 0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);

    const created = await fetch(`${server.url}/api/v1/schedules`, {
      method: 'POST',
      headers: { ...bearer(f.keyA), 'content-type': 'application/json' },
      body: JSON.stringify({ ...validSchedule, retention_days: 7 }),
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ retention_days: 7, enabled: true });
    expect(created.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    const invalid = await fetch(`${server.url}/api/v1/schedules`, {
      method: 'POST',
      headers: { ...bearer(f.keyA), 'content-type': 'application/json' },
      body: JSON.stringify({ ...validSchedule, retention_days: 0 }),
    });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({
      error: { fields: { retention_days: 'must be a whole number from 1 to 365, got 0' } },
    });

    const tooLarge = await fetch(`${server.url}/api/v1/small`, {
      method: 'POST',
      headers: { ...bearer(f.keyA), 'content-type': 'application/json' },
      body: JSON.stringify({ note: 'x'.repeat(200) }),
    });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get('connection')).toBe('close');

    const unauthenticated = await fetch(`${server.url}/api/v1/backups`);
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get('www-authenticate')).toBe('Bearer realm="dbtrail"');
  });

  it('reports an address in use as a ListenError', async () => {
    const f = fixture();
    server = await f.app.listen('127.0.0.1', 0);
    await expect(f.app.listen('127.0.0.1', server.port)).rejects.toMatchObject({
      code: 'SERVER_LISTEN_FAILED',
      kind: 'config',
    });
  });
});
