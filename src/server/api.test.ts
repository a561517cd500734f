import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../lib/clock.js';
import { generateApiKey } from './api-keys.js';
import { createApi } from './api.js';
import { principalOf } from './context.js';
import { createApp } from './app.js';
import { OPENAPI_PATH } from './openapi.js';
import { json } from './response.js';
import { route } from './router.js';

const whoami = route({
  method: 'GET',
  path: '/api/v1/whoami',
  operationId: 'whoami',
  summary: 'The caller',
  responses: { 200: { description: 'The tenant and key' } },
  handle: (_input, ctx) => json(principalOf(ctx)),
});

describe('createApi', () => {
  it('wires authentication, rate limiting and the OpenAPI document around the routes', async () => {
    const { key } = generateApiKey();
    const api = createApi({
      routes: [whoami],
      logger: pino({ level: 'silent' }),
      verifyApiKey: (token) => Promise.resolve(token === key ? { tenantId: 't1', keyId: 'k1' } : undefined),
      rateLimit: { capacity: 2, refillPerSecond: 1 },
      clock: new ManualClock(0),
    });
    const headers = { authorization: `Bearer ${key}` };
    expect((await api.request('GET', '/api/v1/whoami')).status).toBe(401);
    const me = await api.request('GET', '/api/v1/whoami', { headers });
    expect(me.json).toEqual({ tenantId: 't1', keyId: 'k1' });
    expect((await api.request('GET', '/api/v1/whoami', { headers })).status).toBe(200);
    expect((await api.request('GET', '/api/v1/whoami', { headers })).status).toBe(429);
    const doc = await api.request('GET', OPENAPI_PATH);
    expect(doc.status).toBe(200);
    expect(Object.keys((doc.json as { paths: object }).paths)).toEqual(['/api/v1/whoami', OPENAPI_PATH]);
  });

  it('fails loudly when an authenticated route runs without authentication', async () => {
    const app = createApp({ routes: [whoami] });
    const res = await app.request('GET', '/api/v1/whoami');
    expect(res.status).toBe(500);
    expect(res.json).toMatchObject({ error: { code: 'INTERNAL' } });
  });
});
