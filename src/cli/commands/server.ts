import { jobRunnerExtension, jobRunnerOf, type JobRunnerOptions } from '../../agent/extension.js';
import { openApp } from '../../app.js';
import { parseListen, serveControlPlane } from '../../server/control-plane.js';
import { dashboardExtension } from '../../server/dashboard/extension.js';
import type { ServerExtension } from '../../server/extensions.js';
import { flagBool, flagInt, flagList, flagString, type CommandSpec, type ParsedArgs } from '../command.js';
import { UsageError } from '../errors.js';

/**
 * What runs inside `dbtrail server` besides the REST API, in start order (stopped in reverse). Each extension
 * may mount routes and start a service (src/server/extensions.ts):
 * - the dashboard: its pages and assets;
 * - the job runner: the agent API and /metrics, the scheduler loop, and the embedded agent.
 * Add an extension here with one line.
 */
export const SERVER_EXTENSIONS: readonly ServerExtension[] = serverExtensions();

/** The extensions with the job runner's options (`--no-agent`, `--agent-labels`, `--tick` of `dbtrail server`). */
export function serverExtensions(jobRunner: JobRunnerOptions = {}): readonly ServerExtension[] {
  return [
    // The timeline's binlog retention horizon comes from what the job runner's agents reported about each server.
    dashboardExtension({
      binlogRetentionSeconds: (id, app) => jobRunnerOf(app)?.service.factsOf(id)?.binlogRetentionSeconds,
    }),
    jobRunnerExtension(jobRunner),
  ];
}

/** `dbtrail server [--listen HOST:PORT]`: serves the control plane until SIGINT or SIGTERM. */
export const serverCommand: CommandSpec = {
  path: ['server'],
  summary: 'Run the control plane: REST API, dashboard, scheduler and an embedded agent',
  flags: [
    {
      name: 'listen',
      type: 'string',
      value: 'HOST:PORT',
      config: 'server.listen',
      description: 'Address to listen on (default 127.0.0.1:8420; port 0 picks a free one)',
    },
    {
      name: 'no-agent',
      type: 'boolean',
      description: 'Run no embedded agent: remote agents (dbtrail agent) take every job and capture stream',
    },
    {
      name: 'agent-labels',
      type: 'list',
      value: 'A,B',
      description: 'Labels of the embedded agent (default none: it serves servers without labels)',
    },
    {
      name: 'tick',
      type: 'integer',
      value: 'SECONDS',
      min: 1,
      max: 300,
      description:
        "Scheduler loop period (default 15): a dead agent's capture stream moves within its lease plus this",
    },
  ],
  async run(ctx, args) {
    const text = flagString(args, 'listen') ?? ctx.config.server.listen;
    const address = parseListen(text);
    if (address === undefined) {
      throw new UsageError(
        `Cannot listen on "${text}": expected HOST:PORT such as 127.0.0.1:8420 or [::1]:8420, with a port up to 65535`,
        { listen: text },
      );
    }
    const app = await openApp(ctx.config, { longRunning: true });
    try {
      const running = await serveControlPlane(app, {
        ...address,
        logger: ctx.logger,
        extensions: serverExtensions(jobRunnerOptions(args)),
        binlogRetentionSeconds: (id, served) =>
          jobRunnerOf(served)?.service.factsOf(id)?.binlogRetentionSeconds,
      });
      try {
        if (!isLoopback(running.server.host)) {
          ctx.logger.warn(
            { host: running.server.host },
            'The API is reachable from other hosts over plain HTTP; put a TLS-terminating proxy in front of it',
          );
        }
        ctx.stdout.write(`dbtrail server listening on ${running.url}\n`);
        await new Promise<void>((resolve) => {
          if (ctx.signal.aborted) resolve();
          else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        ctx.stdout.write('dbtrail server stopping\n');
      } finally {
        await running.close();
      }
    } finally {
      await app.close();
    }
    return 0;
  },
};

function jobRunnerOptions(args: ParsedArgs): JobRunnerOptions {
  const labels = flagList(args, 'agent-labels');
  const tick = flagInt(args, 'tick');
  return {
    ...(flagBool(args, 'no-agent')
      ? { agent: false as const }
      : labels !== undefined
        ? { agent: { labels } }
        : {}),
    ...(tick !== undefined
      ? { scheduler: { tickMs: tick * 1000, captureEveryMs: Math.min(2_000, tick * 1000) } }
      : {}),
  };
}

function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.') || host === 'localhost';
}
