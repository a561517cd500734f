import { principalOf } from '../context.js';
import { json } from '../response.js';
import { route, type Route } from '../router.js';
import type { RouteDeps } from './common.js';

/**
 * `GET /api/v1/whoami`: the tenant and key behind the presented API key. A client signing in with a key (the
 * dashboard) calls it to check the key and to learn whose it is.
 */
export function sessionRoutes(deps: RouteDeps): Route[] {
  const { store } = deps;
  return [
    route({
      method: 'GET',
      path: '/api/v1/whoami',
      operationId: 'whoami',
      summary: 'The tenant and API key of this request',
      tags: ['session'],
      responses: {
        200: { description: '`{"tenant": {"id", "name"}, "api_key": {"id", "prefix", "name"}}`' },
      },
      async handle(_input, ctx) {
        const { tenantId, keyId } = principalOf(ctx);
        const [tenant, key] = await Promise.all([
          store.tenants.get(tenantId),
          store.apiKeys.get(keyId, { tenantId }),
        ]);
        return json({
          tenant: { id: tenant.id, name: tenant.name },
          api_key: { id: key.id, prefix: key.prefix, name: key.name },
        });
      },
    }),
  ];
}
