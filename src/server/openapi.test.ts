import { describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { bearerAuth } from './auth.js';
import { buildOpenApi, OPENAPI_PATH, withOpenApi } from './openapi.js';
import { empty, json } from './response.js';
import { route, type Route } from './router.js';
import { enumOf, integer, object, optional, string } from './schema.js';

const TABLE: Route[] = [
  route({
    method: 'POST',
    path: '/api/v1/schedules',
    operationId: 'createSchedule',
    summary: 'Create a schedule',
    tags: ['schedules'],
    body: object({
      server_id: string({ format: 'uuid' }),
      cron: string(),
      tool: enumOf(['mydumper', 'xtrabackup']),
      retention_days: optional(integer({ min: 1, max: 365 }), 30),
    }),
    responses: { 201: { description: 'Created', schema: object({ id: string({ format: 'uuid' }) }) } },
    handle: () => json({}, 201),
  }),
  route({
    method: 'GET',
    path: '/api/v1/schedules/{schedule_id}',
    operationId: 'getSchedule',
    summary: 'One schedule',
    params: object({ schedule_id: string({ format: 'uuid' }) }),
    responses: { 200: { description: 'The schedule' }, 404: { description: 'No such schedule' } },
    handle: () => json({}),
  }),
  route({
    method: 'DELETE',
    path: '/api/v1/schedules/{schedule_id}',
    operationId: 'deleteSchedule',
    summary: 'Delete a schedule',
    responses: { 204: { description: 'Deleted' } },
    handle: () => empty(),
  }),
  route({
    method: 'GET',
    path: '/api/v1/backups',
    operationId: 'listBackups',
    summary: 'List backups',
    query: object({ limit: optional(integer({ min: 1, max: 1000 }), 50), server_id: optional(string()) }),
    responses: { 200: { description: 'Backups' } },
    handle: () => json([]),
  }),
  route({
    method: 'GET',
    path: '/',
    operationId: 'dashboard',
    summary: 'Dashboard',
    auth: 'none',
    hidden: true,
    responses: { 200: { description: 'HTML', contentType: 'text/html' } },
    handle: () => empty(),
  }),
];

type Doc = {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
  security: unknown[];
};

describe('buildOpenApi', () => {
  const doc = JSON.parse(
    JSON.stringify(
      buildOpenApi(withOpenApi(TABLE, { title: 'dbtrail', version: '1.0.0' }), {
        title: 'dbtrail',
        version: '1.0.0',
      }),
    ),
  ) as Doc;

  it('lists every visible route of the table, and only those', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toEqual({ title: 'dbtrail', version: '1.0.0' });
    expect(Object.keys(doc.paths).sort()).toEqual(
      ['/api/v1/backups', OPENAPI_PATH, '/api/v1/schedules', '/api/v1/schedules/{schedule_id}'].sort(),
    );
    expect(Object.keys(doc.paths['/api/v1/schedules/{schedule_id}']!).sort()).toEqual(['delete', 'get']);
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('declares every path parameter of every template, and query parameters', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const op of Object.values(ops)) {
        const declared = ((op.parameters ?? []) as { name: string; in: string; required: boolean }[]).filter(
          (p) => p.in === 'path',
        );
        expect(declared.map((p) => p.name)).toEqual(names);
        expect(declared.every((p) => p.required)).toBe(true);
      }
    }
    expect(doc.paths['/api/v1/schedules/{schedule_id}']!.get!.parameters).toEqual([
      { name: 'schedule_id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
    ]);
    expect(doc.paths['/api/v1/schedules/{schedule_id}']!.delete!.parameters).toEqual([
      { name: 'schedule_id', in: 'path', required: true, schema: { type: 'string' } },
    ]);
    expect(doc.paths['/api/v1/backups']!.get!.parameters).toEqual([
      {
        name: 'limit',
        in: 'query',
        required: false,
        schema: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
      },
      { name: 'server_id', in: 'query', required: false, schema: { type: 'string' } },
    ]);
  });

  it('describes request bodies from the validation schema, and error responses', () => {
    const create = doc.paths['/api/v1/schedules']!.post!;
    expect(create.requestBody).toMatchObject({
      required: true,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['server_id', 'cron', 'tool'],
            additionalProperties: false,
            properties: {
              tool: { enum: ['mydumper', 'xtrabackup'] },
              retention_days: { minimum: 1, maximum: 365, default: 30 },
            },
          },
        },
      },
    });
    const responses = create.responses as Record<string, { content?: Record<string, { schema: unknown }> }>;
    expect(Object.keys(responses).sort()).toEqual(['201', '400', '401', '429', 'default']);
    expect(responses['201']!.content!['application/json']!.schema).toMatchObject({ required: ['id'] });
    expect(responses['400']!.content!['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/Error',
    });
    expect(doc.components.schemas.Error).toMatchObject({ required: ['error'] });
    expect(doc.security).toEqual([{ apiKey: [] }]);
    expect(doc.paths[OPENAPI_PATH]!.get!.security).toEqual([]);
  });

  it('resolves every $ref to a component', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map(
      (m) => m[1]!,
    );
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(doc.components.schemas[ref], ref).toBeDefined();
  });
});

describe('the OpenAPI route', () => {
  it('is served without a key from the same table that registers the routes', async () => {
    const info = { title: 'dbtrail', version: '0.1.0' };
    const app = createApp({
      routes: withOpenApi(TABLE, info),
      middleware: [bearerAuth({ verifyApiKey: () => Promise.resolve(undefined) })],
    });
    const res = await app.request('GET', OPENAPI_PATH);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const served = res.json as Doc;
    expect(served).toEqual(JSON.parse(JSON.stringify(buildOpenApi(app.routes, info))));
    for (const r of app.routes) {
      if (r.hidden === true) expect(served.paths[r.path]?.[r.method.toLowerCase()]).toBeUndefined();
      else expect(served.paths[r.path]?.[r.method.toLowerCase()], `${r.method} ${r.path}`).toBeDefined();
    }
  });
});
