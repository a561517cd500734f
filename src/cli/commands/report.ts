import { writeFile } from 'node:fs/promises';
import { openApp } from '../../app.js';
import { loadSigner, signingPaths } from '../../backup/signing.js';
import { renderReportHtml } from '../../compliance/report-html.js';
import { buildReport } from '../../compliance/report.js';
import { messageOf } from '../../lib/errors.js';
import { flagString, type CommandSpec } from '../command.js';
import { UsageError } from '../errors.js';
import { parseTimeArg, resolveServer } from './change-args.js';

/**
 * `dbtrail report --server-name NAME --from T --to T [--format html|json] [--output FILE]`: the auditor's report
 * for one server over [from, to). HTML by default: one self-contained printable file.
 */
export const reportCommand: CommandSpec = {
  path: ['report'],
  summary:
    'Write the compliance report of a server over a period: backups and verifications, drills, drift, gaps, recoverable window',
  flags: [
    { name: 'server-name', type: 'string', value: 'NAME', required: true, description: 'The server' },
    {
      name: 'from',
      type: 'string',
      value: 'TIME',
      required: true,
      description: 'Start of the period (ISO 8601, or YYYY-MM-DD[ HH:MM:SS] in --tz)',
    },
    {
      name: 'to',
      type: 'string',
      value: 'TIME',
      required: true,
      description: 'End of the period (exclusive)',
    },
    {
      name: 'tz',
      type: 'string',
      value: 'ZONE',
      description: 'Zone of times given without one (default UTC)',
    },
    {
      name: 'format',
      type: 'string',
      value: 'FORMAT',
      choices: ['html', 'json'],
      description: 'html (default) or json',
    },
    {
      name: 'output',
      type: 'string',
      value: 'FILE',
      description: 'Write to FILE (never overwritten) instead of stdout',
    },
  ],
  async run(ctx, args) {
    const tz = flagString(args, 'tz') ?? 'UTC';
    const from = parseInstant(flagString(args, 'from'), '--from', tz) as Date;
    const to = parseInstant(flagString(args, 'to'), '--to', tz) as Date;
    if (to <= from) {
      throw new UsageError(
        `Cannot write report: --to (${to.toISOString()}) must be after --from (${from.toISOString()})`,
      );
    }
    let signingKey;
    try {
      signingKey = (await loadSigner(signingPaths(ctx.config).signingKeyFile)).key;
    } catch {
      // No key yet (no signed backup in this home): the report says so.
    }
    const app = await openApp(ctx.config);
    let text: string;
    try {
      const { tenant, server } = await resolveServer(app, flagString(args, 'server-name') as string);
      const report = await buildReport(app.store, {
        tenant,
        server,
        from,
        to,
        now: app.clock.now(),
        ...(signingKey !== undefined ? { signingKey } : {}),
      });
      text =
        flagString(args, 'format') === 'json'
          ? `${JSON.stringify(report, null, 2)}\n`
          : renderReportHtml(report);
    } finally {
      await app.close();
    }
    const output = flagString(args, 'output');
    if (output === undefined) {
      ctx.stdout.write(text);
      return 0;
    }
    try {
      await writeFile(output, text, { flag: 'wx', mode: 0o644 });
    } catch (err) {
      const exists = (err as NodeJS.ErrnoException).code === 'EEXIST';
      throw new UsageError(
        `Cannot write report to ${output}: ${exists ? 'the file exists (reports are never overwritten)' : messageOf(err)}`,
        { output },
      );
    }
    ctx.stderr.write(`Report written to ${output}\n`);
    return 0;
  },
};

/** A time flag as a Date (millisecond precision is enough for report periods); undefined when not given. */
export function parseInstant(text: string | undefined, flag: string, tz = 'UTC'): Date | undefined {
  if (text === undefined) return undefined;
  const us = parseTimeArg(flag.replace(/^--/, ''), text, tz);
  return new Date(Number(us / 1000n));
}
