import { json } from './response.js';
import { route, type Route } from './router.js';
import type { JsonSchema } from './schema.js';

/**
 * The OpenAPI 3.1 document, generated from the same route table that registers the routes, so that it cannot
 * describe a route that does not exist or miss one that does.
 */
export interface OpenApiInfo {
  readonly title: string;
  readonly version: string;
  readonly description?: string;
}

export const OPENAPI_PATH = '/api/v1/openapi.json';

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'fields'],
      properties: {
        code: { type: 'string', description: 'Stable error code, e.g. VALIDATION_FAILED' },
        message: { type: 'string' },
        fields: {
          type: 'object',
          description: 'Structured details; for VALIDATION_FAILED, one message per invalid field path',
          additionalProperties: true,
        },
      },
    },
  },
};

const ERROR_REF = { $ref: '#/components/schemas/Error' };

export function buildOpenApi(routes: readonly Route[], info: OpenApiInfo): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (r.hidden === true) continue;
    (paths[r.path] ??= {})[r.method.toLowerCase()] = operation(r);
  }
  return {
    openapi: '3.1.0',
    info: { ...info },
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'bt_live_ followed by 43 base62 characters',
        },
      },
      schemas: { Error: ERROR_SCHEMA },
    },
    security: [{ apiKey: [] }],
  };
}

function operation(r: Route): Record<string, unknown> {
  const parameters: Record<string, unknown>[] = [];
  for (const name of templateParams(r.path)) {
    const field = r.params?.shape[name];
    parameters.push({
      name,
      in: 'path',
      required: true,
      schema: field?.toJsonSchema() ?? { type: 'string' },
    });
  }
  for (const [name, field] of Object.entries(r.query?.shape ?? {})) {
    const required = field.optional !== true && !('hasDefault' in field);
    parameters.push({ name, in: 'query', required, schema: field.toJsonSchema() });
  }

  const responses: Record<string, unknown> = {};
  for (const [status, spec] of Object.entries(r.responses)) {
    const contentType = spec.contentType ?? 'application/json';
    responses[status] = {
      description: spec.description,
      ...(spec.schema !== undefined || spec.contentType !== undefined
        ? {
            content: {
              [contentType]: spec.schema === undefined ? {} : { schema: spec.schema.toJsonSchema() },
            },
          }
        : {}),
    };
  }
  const errorResponse = (description: string): Record<string, unknown> => ({
    description,
    content: { 'application/json': { schema: ERROR_REF } },
  });
  const hasInput = r.body !== undefined || r.query !== undefined || r.params !== undefined;
  if (hasInput) responses['400'] ??= errorResponse('Invalid input; `fields` names each invalid field');
  if (r.auth !== 'none') {
    responses['401'] ??= errorResponse('Missing, malformed, unknown or revoked API key');
    responses['429'] ??= errorResponse('Rate limit exceeded; see Retry-After');
  }
  responses.default = errorResponse('Error');

  return {
    operationId: r.operationId,
    summary: r.summary,
    ...(r.description === undefined ? {} : { description: r.description }),
    ...(r.tags === undefined ? {} : { tags: [...r.tags] }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(r.body === undefined
      ? {}
      : {
          requestBody: {
            required: r.body.optional !== true,
            content: { 'application/json': { schema: r.body.toJsonSchema() } },
          },
        }),
    responses,
    ...(r.auth === 'none' ? { security: [] } : {}),
  };
}

function templateParams(path: string): string[] {
  return [...path.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!);
}

/**
 * The routes plus `GET /api/v1/openapi.json` describing all of them (itself included). The document is built
 * once, on first request.
 */
export function withOpenApi(routes: readonly Route[], info: OpenApiInfo, path = OPENAPI_PATH): Route[] {
  let document: Record<string, unknown> | undefined;
  const all: Route[] = [...routes];
  all.push(
    route({
      method: 'GET',
      path,
      operationId: 'getOpenApiDocument',
      summary: 'This OpenAPI document',
      tags: ['meta'],
      auth: 'none',
      responses: { 200: { description: 'The OpenAPI 3.1 document' } },
      handle() {
        document ??= buildOpenApi(all, info);
        return json(document);
      },
    }),
  );
  return all;
}
