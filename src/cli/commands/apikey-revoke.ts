import { openApp } from '../../app.js';
import { audit, cliActor } from '../../store/audit-log.js';
import type { CommandSpec } from '../command.js';

/** `dbtrail apikey revoke ID|PREFIX`: the key stops authenticating at once, on every server sharing the store. */
export const apikeyRevokeCommand: CommandSpec = {
  path: ['apikey', 'revoke'],
  summary: 'Revoke an API key by its id, a unique start of its id, or its prefix (bt_live_...)',
  flags: [],
  positionals: [{ name: 'KEY', description: 'Key id, id prefix, or display prefix', required: true }],
  async run(ctx, args) {
    const which = args.positionals[0]!;
    const app = await openApp(ctx.config);
    try {
      const key = await app.store.apiKeys.resolve(which);
      const tenant = await app.store.tenants.get(key.tenantId);
      const revoked = await app.store.apiKeys.revoke(key.id);
      const already = key.revokedAt !== null;
      if (!already) {
        await audit(
          app.store,
          {
            tenantId: tenant.id,
            actor: cliActor(),
            action: 'apikey.revoke',
            target: revoked.id,
            outcome: 'success',
            details: { prefix: revoked.prefix },
          },
          ctx.logger,
        );
      }
      ctx.stdout.write(
        `${already ? 'Already revoked' : 'Revoked'}: API key ${revoked.id} (${revoked.prefix}...) of tenant "${tenant.name}"\n`,
      );
      return 0;
    } finally {
      await app.close();
    }
  },
};
