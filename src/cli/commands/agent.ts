import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { backupJobHandler } from '../../agent/backup-job.js';
import { homeSigner } from '../../backup/home-signer.js';
import { captureJobHandler } from '../../agent/capture-job.js';
import { AgentKeyError } from '../../agent/errors.js';
import { HttpAgentLink } from '../../agent/http-link.js';
import { Worker } from '../../agent/worker.js';
import { messageOf } from '../../lib/errors.js';
import { openObjectStore } from '../../objects/open.js';
import {
  flagInt,
  flagList,
  flagString,
  type CommandContext,
  type CommandSpec,
  type ParsedArgs,
} from '../command.js';
import { UsageError } from '../errors.js';

/**
 * `dbtrail agent --server URL`: the worker of `dbtrail server` on another host, near the databases it backs up.
 * It claims jobs over HTTP with a tenant's API key, connects to the job's server with the details the control
 * plane hands the lease holder, dumps, and uploads to its own object store (`objectsUrl`, normally the same S3
 * bucket as the server's). Runs until SIGINT/SIGTERM; running jobs then end `failed` ("agent is stopping").
 *
 * The key comes from DBTRAIL_AGENT_KEY or `--key-file`. `--key` is accepted because it is the obvious spelling,
 * with a warning: a value on the command line is visible to every user of the host in the process list.
 */
export const agentCommand: CommandSpec = {
  path: ['agent'],
  summary: 'Run an agent that takes backup jobs and capture streams from a dbtrail server over HTTP',
  flags: [
    {
      name: 'server',
      type: 'string',
      value: 'URL',
      required: true,
      description: 'Base URL of the dbtrail server',
    },
    {
      name: 'key-file',
      type: 'string',
      value: 'FILE',
      description: 'File whose first line is the API key (or set DBTRAIL_AGENT_KEY)',
    },
    {
      name: 'key',
      type: 'string',
      value: 'KEY',
      description: 'The API key (visible in the process list: prefer DBTRAIL_AGENT_KEY or --key-file)',
    },
    {
      name: 'labels',
      type: 'list',
      value: 'A,B',
      description: 'Labels of this agent: it serves the servers whose defaults.labels are all among them',
    },
    {
      name: 'label',
      type: 'list',
      value: 'KEY=VALUE',
      description: 'A label of this agent, e.g. env=prod (repeatable; same as --labels)',
    },
    {
      name: 'capture-streams',
      type: 'integer',
      value: 'N',
      min: 0,
      max: 1000,
      description: 'Capture streams held at once, apart from --concurrency (default 16; 0 takes none)',
    },
    {
      name: 'concurrency',
      type: 'integer',
      value: 'N',
      min: 1,
      max: 64,
      description: 'Jobs run at once (default 2)',
    },
    {
      name: 'lease',
      type: 'integer',
      value: 'SECONDS',
      min: 1,
      max: 3600,
      description:
        'Lease length: a job of a dead agent is failed this long after its last heartbeat (default 60)',
    },
    {
      name: 'poll',
      type: 'integer',
      value: 'MS',
      min: 50,
      max: 600_000,
      description: 'Idle poll interval (default 2000)',
    },
    {
      name: 'id',
      type: 'string',
      value: 'ID',
      description: 'Agent id (default: host name, pid and a random suffix)',
    },
  ],
  async run(ctx, args) {
    const key = await agentKey(ctx, args);
    const server = flagString(args, 'server') as string;
    const link = new HttpAgentLink({ url: server, key });
    const objects = openObjectStore(ctx.config.objectsUrl, ctx.config.s3);
    const leaseSeconds = flagInt(args, 'lease');
    const concurrency = flagInt(args, 'concurrency');
    const pollMs = flagInt(args, 'poll');
    const captureStreams = flagInt(args, 'capture-streams');
    const labels = [...new Set([...(flagList(args, 'labels') ?? []), ...(flagList(args, 'label') ?? [])])];
    const badLabel = labels.find((l) => !LABEL_PATTERN.test(l) || l.length > 100);
    if (badLabel !== undefined) {
      throw new UsageError(
        `Cannot use agent label "${badLabel}": expected up to 100 letters, digits, ".", "_", ":", "=", "/" or "-", such as env=prod`,
        { label: badLabel },
      );
    }
    const identity = {
      agentId: flagString(args, 'id') ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      labels,
    };
    // Fails fast (and for good: exit code of an auth or usage error) on a wrong URL or key.
    await link.register(identity, { hostname: hostname(), version: await dbtrailVersion() });
    const worker = new Worker({
      identity,
      link,
      handlers: {
        backup: backupJobHandler({
          objects,
          outDir: join(ctx.config.home, 'backups'),
          lockDir: join(ctx.config.home, 'locks'),
          // A remote agent signs with its own home's key: trust it on the control plane with dbtrail key trust.
          signer: () => homeSigner(ctx.config),
        }),
        ...(captureStreams === 0 ? {} : { capture: captureJobHandler() }),
      },
      logger: ctx.logger,
      ...(captureStreams !== undefined && captureStreams > 0 ? { captureStreams } : {}),
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(leaseSeconds !== undefined ? { leaseMs: leaseSeconds * 1000 } : {}),
      ...(pollMs !== undefined ? { pollMs } : {}),
    });
    try {
      worker.start();
      ctx.stdout.write(`dbtrail agent ${worker.agentId} working for ${new URL(server).origin}\n`);
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      ctx.stdout.write('dbtrail agent stopping\n');
    } finally {
      await worker.stop();
      objects.close();
    }
    return 0;
  },
};

/** What servers' `defaults.labels` allow (src/server/routes/servers.ts): a label with spaces could never match. */
const LABEL_PATTERN = /^[A-Za-z0-9._:=/-]+$/;

async function dbtrailVersion(): Promise<string> {
  try {
    const url = new URL('../../../package.json', import.meta.url);
    const pkg = JSON.parse(await readFile(url, 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

async function agentKey(ctx: CommandContext, args: ParsedArgs): Promise<string> {
  const fromFlag = flagString(args, 'key');
  const file = flagString(args, 'key-file');
  const fromEnv = ctx.env['DBTRAIL_AGENT_KEY'];
  const given = [fromFlag !== undefined, file !== undefined, fromEnv !== undefined && fromEnv !== ''].filter(
    Boolean,
  );
  if (given.length > 1) {
    throw new AgentKeyError(
      'Cannot choose the agent key: give exactly one of DBTRAIL_AGENT_KEY, --key-file or --key',
    );
  }
  let key: string | undefined;
  if (fromFlag !== undefined) {
    ctx.logger.warn(
      'The key in --key is visible in the process list; prefer DBTRAIL_AGENT_KEY or --key-file',
    );
    key = fromFlag;
  } else if (file !== undefined) {
    try {
      key = (await readFile(file, 'utf8')).split(/\r?\n/)[0]?.trim();
    } catch (err) {
      throw new AgentKeyError(`Cannot read agent key file ${file}: ${messageOf(err)}`, {
        cause: err,
        fields: { file },
      });
    }
  } else if (fromEnv !== undefined && fromEnv !== '') {
    key = fromEnv.trim();
  }
  if (key === undefined || key === '') {
    throw new AgentKeyError(
      'Cannot start the agent: no API key (set DBTRAIL_AGENT_KEY or use --key-file FILE; create one with dbtrail apikey create)',
    );
  }
  if (!key.startsWith('bt_live_')) {
    throw new AgentKeyError('Cannot use the agent key: expected a dbtrail API key starting with bt_live_');
  }
  return key;
}
