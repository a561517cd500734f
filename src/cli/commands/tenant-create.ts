import { openApp } from '../../app.js';
import { flagBool, type CommandSpec } from '../command.js';

/** `dbtrail tenant create NAME`: prints the new tenant's id, alone on stdout, for scripts. */
export const tenantCreateCommand: CommandSpec = {
  path: ['tenant', 'create'],
  summary: 'Create a tenant and print its id',
  flags: [{ name: 'json', type: 'boolean', description: 'Print the tenant as JSON' }],
  positionals: [
    {
      name: 'NAME',
      description: 'Tenant name: 1 to 63 letters, digits, ".", "_" or "-"; starts object paths',
      required: true,
    },
  ],
  async run(ctx, args) {
    const name = args.positionals[0]!;
    const app = await openApp(ctx.config);
    try {
      const tenant = await app.store.tenants.create(name);
      ctx.stdout.write(
        flagBool(args, 'json')
          ? `${JSON.stringify({ id: tenant.id, name: tenant.name, created_at: tenant.createdAt.toISOString() })}\n`
          : `${tenant.id}\n`,
      );
      return 0;
    } finally {
      await app.close();
    }
  },
};
