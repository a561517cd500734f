import { loadTrustedKeys, signingPaths } from '../../backup/signing.js';
import { describeVerifyProblems, verifyBackup, type VerifyResult } from '../../backup/verify.js';
import { formatBytes } from '../../lib/progress.js';
import { flagBool, type CommandSpec } from '../command.js';
import { EXIT_INTERRUPTED, exitCodeFor } from '../exit-codes.js';
import { auditBackupOperation } from './audit-helpers.js';
import { openBackupArg, runTransfer } from './shared.js';

/**
 * Exit codes: 0 intact; 9 (integrity) when the manifest signature does not hold (modified after signing, or
 * signed by a key not trusted here: then no file is read, since the manifest's checksums prove nothing); 1 for
 * missing, corrupt or extra files. An unsigned (version 1) manifest, written before manifests were signed, is
 * reported as "unsigned" and passes on its checksums alone, so that existing backups stay restorable; with
 * --require-signature it fails with 9, which is the setting for audits (a stripped signature downgrades a
 * manifest to version 1).
 */
export const backupVerifyCommand: CommandSpec = {
  path: ['backup', 'verify'],
  summary:
    'Re-read every object of a backup and check it against the signed manifest; exits 9 on a bad signature, 1 on bad files',
  positionals: [
    {
      name: 'BACKUP',
      description:
        'A backup id from dbtrail backup list, or the backup location: s3://bucket/prefix/<tenant>/<server>/<date>/<time>, its file:// URL or a path',
      required: true,
    },
  ],
  flags: [
    {
      name: 'concurrency',
      type: 'integer',
      value: 'N',
      min: 1,
      max: 64,
      description: 'Objects read at the same time (default 4)',
    },
    {
      name: 'require-signature',
      type: 'boolean',
      description: 'Fail (exit 9) on an unsigned manifest too, not only on a bad signature',
    },
    { name: 'json', type: 'boolean', description: 'Print the result as one JSON object' },
  ],
  async run(ctx, args) {
    const requireSignature = flagBool(args, 'require-signature');
    const trustedKeys = await loadTrustedKeys(signingPaths(ctx.config));
    const { store, prefix } = await openBackupArg(ctx, args.positionals[0] as string);
    let result: VerifyResult | undefined;
    try {
      result = await runTransfer(ctx, args, { label: 'verify', interrupted: 'verify interrupted' }, (o) =>
        verifyBackup(store, prefix, { ...o, trustedKeys, requireSignature }),
      );
    } finally {
      store.close();
    }
    if (result === undefined) return EXIT_INTERRUPTED;
    await auditBackupOperation(ctx, {
      action: 'backup.verify',
      backupId: result.backupId ?? null,
      outcome: result.ok ? 'success' : 'failure',
      details: {
        location: result.location,
        signature: result.signature,
        ...(result.signatureKeyId !== undefined ? { signature_key_id: result.signatureKeyId } : {}),
        missing: result.missing.length,
        corrupt: result.corrupt.length,
        extra: result.extra.length,
      },
    });
    const signatureFailed =
      result.signature === 'invalid' ||
      result.signature === 'unknown_key' ||
      (requireSignature && result.signature === 'unsigned');
    if (flagBool(args, 'json')) {
      ctx.stdout.write(`${JSON.stringify(result)}\n`);
    } else if (result.ok) {
      const signature =
        result.signature === 'valid'
          ? `manifest signed by trusted key ${result.signatureKeyId ?? '?'}`
          : 'manifest UNSIGNED (version 1, written before signing): checked against its checksums only';
      ctx.stdout.write(
        `Backup ${result.backupId} at ${result.location}: OK (${result.files.length} files, ${formatBytes(result.bytesRead)} read; ${signature})\n`,
      );
    } else {
      const problems = describeVerifyProblems(result);
      if (requireSignature && result.signature === 'unsigned') {
        problems.unshift(`signature missing: ${result.signatureProblem ?? 'the manifest is unsigned'}`);
      }
      const name = result.backupId === undefined ? 'Backup' : `Backup ${result.backupId}`;
      ctx.stdout.write(
        `${name} at ${result.location}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n` +
          problems.map((p) => `  ${p}\n`).join(''),
      );
    }
    if (signatureFailed) return exitCodeFor('integrity');
    return result.ok ? 0 : 1;
  },
};
