import { openApp } from '../../app.js';
import { verifyAuditChain } from '../../store/audit-log.js';
import { flagBool, flagString, type CommandSpec } from '../command.js';
import { UsageError } from '../errors.js';
import { exitCodeFor } from '../exit-codes.js';

/**
 * `dbtrail audit verify [--anchor SEQ:HASH]`: walks the whole audit chain and names every edited, deleted or
 * reordered entry. Exits 9 (integrity) when anything is wrong. It prints the head (seq and hash): noting it, and
 * passing it later as `--anchor`, also catches deletion of the newest entries, which no chain can show by itself.
 */
export const auditVerifyCommand: CommandSpec = {
  path: ['audit', 'verify'],
  summary:
    'Check the hash chain of the audit log: finds edited, deleted and reordered entries; exits 9 if any',
  flags: [
    {
      name: 'anchor',
      type: 'string',
      value: 'SEQ:HASH',
      description:
        'An entry noted earlier (from a previous verify or a report) that must still be there unchanged',
    },
    { name: 'json', type: 'boolean', description: 'Print one JSON object' },
  ],
  async run(ctx, args) {
    const anchor = parseAnchor(flagString(args, 'anchor'));
    const app = await openApp(ctx.config);
    let result;
    try {
      result = await verifyAuditChain(app.store.audit, anchor !== undefined ? { anchor } : {});
    } finally {
      await app.close();
    }
    if (flagBool(args, 'json')) {
      ctx.stdout.write(
        `${JSON.stringify({ ok: result.ok, entries: result.entries, head: result.head ?? null, problems: result.problems })}\n`,
      );
    } else {
      const head = result.head === undefined ? 'empty' : `head ${result.head.seq}:${result.head.hash}`;
      ctx.stdout.write(
        result.ok
          ? `Audit log OK: ${result.entries} entries, ${head}\n`
          : `Audit log has ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'} (${result.entries} entries, ${head}):\n` +
              result.problems.map((p) => `  ${p.kind}: ${p.message}\n`).join(''),
      );
    }
    return result.ok ? 0 : exitCodeFor('integrity');
  },
};

function parseAnchor(text: string | undefined): { seq: number; hash: string } | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d{1,15}):([0-9a-f]{64})$/.exec(text);
  if (m === null || Number(m[1]) < 1) {
    throw new UsageError(
      `Cannot use --anchor "${text}": expected SEQ:HASH, an entry number and its 64 hex digit hash as audit verify prints them`,
      { anchor: text },
    );
  }
  return { seq: Number(m[1]), hash: m[2] as string };
}
