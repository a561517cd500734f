import type { ServerRecord, ServerRepository } from '../store/servers.js';
import type { TenantRepository } from '../store/tenants.js';
import { UnknownServerError } from './errors.js';

/**
 * The server record capture writes under. `stream` registers a server the first time it captures it (host, port
 * and user from the DSN; never the password); `index` without a DSN only uses a registered one.
 */
export interface RegisterFrom {
  readonly host: string;
  readonly port: number;
  readonly username: string;
}

export async function captureServer(
  store: { readonly tenants: TenantRepository; readonly servers: ServerRepository },
  tenantName: string,
  name: string,
  register: RegisterFrom | undefined,
): Promise<ServerRecord> {
  if (register === undefined) {
    const tenant = await store.tenants.findByName(tenantName);
    const found = tenant === undefined ? undefined : await store.servers.findByName(tenant.id, name);
    if (found === undefined) {
      throw new UnknownServerError(
        `Cannot find server "${name}" in tenant "${tenantName}": it was never captured (start it with dbtrail stream --dsn URL --server-name ${name}, or give --dsn here)`,
        { fields: { server: name, tenant: tenantName } },
      );
    }
    return found;
  }
  const tenant = await store.tenants.ensure(tenantName);
  const found = await store.servers.findByName(tenant.id, name);
  if (found !== undefined) return found;
  try {
    return await store.servers.create({ tenantId: tenant.id, name, ...register });
  } catch (err) {
    // Another process registered it in the meantime.
    const again = await store.servers.findByName(tenant.id, name);
    if (again !== undefined) return again;
    throw err;
  }
}
