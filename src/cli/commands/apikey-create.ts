import { openApp } from '../../app.js';
import { audit, cliActor } from '../../store/audit-log.js';
import { NotFoundError } from '../../store/errors.js';
import { generateApiKey } from '../../server/api-keys.js';
import { flagString, type CommandSpec } from '../command.js';

/**
 * `dbtrail apikey create --tenant NAME [--name LABEL]`: makes a key and prints it once, alone on stdout. Only its
 * SHA-256 and display prefix are stored, so it can never be shown again.
 */
export const apikeyCreateCommand: CommandSpec = {
  path: ['apikey', 'create'],
  summary: 'Create an API key for a tenant and print it once',
  flags: [
    { name: 'tenant', type: 'string', value: 'NAME', required: true, description: 'Tenant the key acts for' },
    { name: 'name', type: 'string', value: 'LABEL', description: 'A label to tell keys apart' },
  ],
  async run(ctx, args) {
    const tenantName = flagString(args, 'tenant')!;
    const label = flagString(args, 'name');
    const app = await openApp(ctx.config);
    try {
      const tenant = await app.store.tenants.findByName(tenantName);
      if (tenant === undefined) {
        throw new NotFoundError(
          `Cannot create API key: no tenant named "${tenantName}"; create it with dbtrail tenant create ${tenantName}`,
          { fields: { tenant: tenantName } },
        );
      }
      const key = generateApiKey();
      const record = await app.store.apiKeys.create({
        tenantId: tenant.id,
        name: label ?? null,
        prefix: key.prefix,
        keyHash: key.hash,
      });
      await audit(
        app.store,
        {
          tenantId: tenant.id,
          actor: cliActor(),
          action: 'apikey.create',
          target: record.id,
          outcome: 'success',
          details: { prefix: record.prefix, name: record.name },
        },
        ctx.logger,
      );
      ctx.stdout.write(`${key.key}\n`);
      ctx.stderr.write(
        `Created API key ${record.id} (${record.prefix}...) for tenant "${tenant.name}". It is shown only once: store it now.\n`,
      );
      return 0;
    } finally {
      await app.close();
    }
  },
};
