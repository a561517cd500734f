import { openApp } from '../../app.js';
import { homeSigner } from '../../backup/home-signer.js';
import type { ManifestSigner } from '../../backup/signing.js';
import type { CanonicalValue } from '../../lib/canonical-json.js';
import { messageOf } from '../../lib/errors.js';
import { audit, cliActor, type AuditOutcome } from '../../store/audit-log.js';
import type { CommandContext } from '../command.js';

export interface CliAuditEvent {
  readonly action: string;
  readonly target: string | null;
  readonly outcome: AuditOutcome;
  readonly details: { readonly [key: string]: CanonicalValue };
  /** `configured`: the configured tenant (default); `none`: an operation outside any tenant. */
  readonly tenant?: 'configured' | 'none';
}

/**
 * Records a CLI operation in the audit log as the OS user. Never fails the command: the operation already
 * happened; a state store that cannot be opened is logged as a warning.
 */
export async function auditCli(ctx: CommandContext, event: CliAuditEvent): Promise<void> {
  try {
    const app = await openApp(ctx.config);
    try {
      const tenantId =
        event.tenant === 'none' ? null : (await app.store.tenants.ensure(ctx.config.tenant)).id;
      await audit(
        app.store,
        {
          tenantId,
          actor: cliActor(),
          action: event.action,
          target: event.target,
          outcome: event.outcome,
          details: event.details,
        },
        ctx.logger,
      );
    } finally {
      await app.close();
    }
  } catch (err) {
    ctx.logger.warn({ action: event.action, error: messageOf(err) }, 'Cannot write audit log entry');
  }
}

/** A backup operation (`backup.verify`, `backup.upload`...) on a backup of the configured tenant. */
export function auditBackupOperation(
  ctx: CommandContext,
  op: {
    readonly action: string;
    readonly backupId: string | null;
    readonly outcome: AuditOutcome;
    readonly details: { readonly [key: string]: CanonicalValue };
  },
): Promise<void> {
  return auditCli(ctx, { action: op.action, target: op.backupId, outcome: op.outcome, details: op.details });
}

/** This home's manifest signer; creating it is recorded in the audit log. */
export function cliSigner(ctx: CommandContext): Promise<ManifestSigner> {
  return homeSigner(ctx.config, (signer, file) =>
    auditCli(ctx, {
      tenant: 'none',
      action: 'signing_key.create',
      target: signer.key.keyId,
      outcome: 'success',
      details: { public_key: signer.key.publicKey, file },
    }),
  );
}
