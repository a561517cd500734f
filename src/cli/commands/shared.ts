import type { ResolvedDsn } from '../../source/dsn.js';
import type { CommandContext } from '../command.js';

/** A password typed into --dsn is visible to every user of the host in the process list; say so once. */
export function warnPasswordOnArgv(ctx: CommandContext, dsn: ResolvedDsn, flagDsn: string | undefined): void {
  if (dsn.passwordOrigin === 'dsn' && flagDsn !== undefined) {
    ctx.logger.warn(
      'The password in --dsn is visible in the process list; prefer DBTRAIL_SOURCE_PASSWORD or source.passwordFile',
    );
  }
}
