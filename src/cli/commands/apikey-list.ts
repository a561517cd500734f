import { openApp } from '../../app.js';
import type { ApiKeyRecord } from '../../store/api-keys.js';
import { NotFoundError } from '../../store/errors.js';
import { flagBool, flagString, type CommandSpec } from '../command.js';

/** `dbtrail apikey list --tenant NAME`: ids, prefixes, labels and use of a tenant's keys; never the keys. */
export const apikeyListCommand: CommandSpec = {
  path: ['apikey', 'list'],
  summary: "List a tenant's API keys (prefixes only)",
  flags: [
    {
      name: 'tenant',
      type: 'string',
      value: 'NAME',
      required: true,
      description: 'Tenant whose keys to list',
    },
    { name: 'json', type: 'boolean', description: 'Print a JSON array' },
  ],
  async run(ctx, args) {
    const tenantName = flagString(args, 'tenant')!;
    const app = await openApp(ctx.config);
    let keys: readonly ApiKeyRecord[];
    try {
      const tenant = await app.store.tenants.findByName(tenantName);
      if (tenant === undefined) {
        throw new NotFoundError(`Cannot list API keys: no tenant named "${tenantName}"`, {
          fields: { tenant: tenantName },
        });
      }
      keys = await app.store.apiKeys.list(tenant.id);
    } finally {
      await app.close();
    }
    const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());
    if (flagBool(args, 'json')) {
      const rows = keys.map((k) => ({
        id: k.id,
        prefix: k.prefix,
        name: k.name,
        created_at: k.createdAt.toISOString(),
        last_used_at: iso(k.lastUsedAt),
        revoked_at: iso(k.revokedAt),
      }));
      ctx.stdout.write(`${JSON.stringify(rows)}\n`);
      return 0;
    }
    if (keys.length === 0) {
      ctx.stdout.write(`Tenant "${tenantName}" has no API keys\n`);
      return 0;
    }
    const table = [
      ['ID', 'PREFIX', 'NAME', 'CREATED', 'LAST USED', 'STATUS'],
      ...keys.map((k) => [
        k.id,
        `${k.prefix}...`,
        k.name ?? '-',
        minute(k.createdAt),
        k.lastUsedAt === null ? 'never' : minute(k.lastUsedAt),
        k.revokedAt === null ? 'active' : `revoked ${minute(k.revokedAt)}`,
      ]),
    ];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    for (const row of table) {
      ctx.stdout.write(
        `${row
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd()}\n`,
      );
    }
    return 0;
  },
};

function minute(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')}Z`;
}
