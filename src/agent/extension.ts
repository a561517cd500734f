import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { App as AppServices } from '../app.js';
import type { Logger } from '../log/logger.js';
import { openObjectStore } from '../objects/open.js';
import type { ObjectStore } from '../objects/store.js';
import { HealthMonitor } from '../scheduler/health-monitor.js';
import { Retention } from '../scheduler/retention.js';
import { Scheduler, type PeriodicTask } from '../scheduler/scheduler.js';
import { silentNotifier, WebhookNotifier, type Notifier } from '../scheduler/webhook.js';
import type { ExtensionContext, RunningService, ServerExtension } from '../server/extensions.js';
import { agentRoutes } from '../server/routes/agent.js';
import { agentCaptureRoutes } from '../server/routes/agent-capture.js';
import { agentsRoutes } from '../server/routes/agents.js';
import { metricsRoutes } from '../server/routes/metrics.js';
import { homeSigner } from '../backup/home-signer.js';
import { audit } from '../store/audit-log.js';
import { serverPasswordContext } from '../store/servers.js';
import { backupJobHandler } from './backup-job.js';
import { captureJobHandler } from './capture-job.js';
import { ensureCaptureStreams } from './capture-streams.js';
import { LocalAgentLink } from './local-link.js';
import { AgentService } from './service.js';
import { Worker } from './worker.js';

/**
 * The job runner inside `dbtrail server`: the agent API (/api/v1/agent/*) and /metrics as routes; the scheduler
 * loop (due schedules, lease expiry, retention, health and the webhook) and the embedded agent as services. One
 * AgentService per server process is shared by the routes (remote agents) and the embedded agent, so both paths
 * have the same lease checks and the same consequences of a job's end.
 */
export interface JobRunnerOptions {
  /** The embedded agent; `false` leaves all jobs to remote agents. */
  readonly agent?:
    | false
    | {
        readonly concurrency?: number;
        readonly leaseMs?: number;
        readonly heartbeatMs?: number;
        readonly pollMs?: number;
        /** Labels of the embedded agent (none by default: it serves servers without labels). */
        readonly labels?: readonly string[];
        /** Capture streams the embedded agent holds at once (default 16; 0 leaves capture to remote agents). */
        readonly captureStreams?: number;
      };
  /** The scheduler loop; `false` runs none (another process schedules). */
  readonly scheduler?:
    | false
    | {
        readonly tickMs?: number;
        /** How often retention runs (default hourly). */
        readonly retentionEveryMs?: number;
        /** How often schedule health is evaluated for the webhook (default every minute). */
        readonly healthEveryMs?: number;
        /** How often servers with capture switched on are checked for a queued or running stream (default 2 s). */
        readonly captureEveryMs?: number;
      };
  /** The object store backups go to and retention deletes from; the configured one by default. */
  readonly objects?: ObjectStore;
  /** Where events go; a webhook when `notify.webhookUrl` is configured, nowhere otherwise. */
  readonly notifier?: Notifier;
  readonly bins?: { readonly mydumper?: string; readonly physical?: string };
}

/** What a running job runner consists of, for tests and for the server's own wiring. */
export interface JobRunner {
  readonly service: AgentService;
  readonly scheduler: Scheduler;
  readonly retention: Retention;
  readonly health: HealthMonitor;
  readonly notifier: Notifier;
  readonly objects: ObjectStore;
  /** Undefined until the services start, or when the embedded agent is off. */
  worker: Worker | undefined;
}

const runners = new WeakMap<AppServices, JobRunner>();

/** The job runner of an app, once the extension has built it. */
export function jobRunnerOf(app: AppServices): JobRunner | undefined {
  return runners.get(app);
}

export function jobRunnerExtension(options: JobRunnerOptions = {}): ServerExtension {
  return {
    name: 'job-runner',
    routes(ctx) {
      const runner = ensure(ctx, options);
      return [
        ...agentRoutes(runner.service),
        ...agentCaptureRoutes(runner.service),
        ...agentsRoutes(runner.service, () => ctx.app.clock.now()),
        ...metricsRoutes(
          {
            catalog: ctx.app.store.catalog,
            servers: ctx.app.store.servers,
            schedules: ctx.app.store.schedules,
            jobs: ctx.app.store.jobs,
            binlogRetentionSeconds: (id) => runner.service.factsOf(id)?.binlogRetentionSeconds,
          },
          ctx.app.clock,
        ),
      ];
    },
    start(ctx) {
      const runner = ensure(ctx, options);
      const log = ctx.logger;
      const agent = options.agent;
      let worker: Worker | undefined;
      if (agent !== false) {
        const home = ctx.app.config.home;
        worker = new Worker({
          identity: {
            agentId: `embedded@${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
            labels: agent?.labels ?? [],
          },
          link: new LocalAgentLink(runner.service),
          handlers: {
            backup: backupJobHandler({
              objects: runner.objects,
              outDir: join(home, 'backups'),
              lockDir: join(home, 'locks'),
              signer: () =>
                homeSigner(ctx.app.config, async (signer, file) => {
                  await audit(
                    ctx.app.store,
                    {
                      tenantId: null,
                      actor: { kind: 'system', id: 'embedded-agent' },
                      action: 'signing_key.create',
                      target: signer.key.keyId,
                      outcome: 'success',
                      details: { public_key: signer.key.publicKey, file },
                    },
                    log,
                  );
                }),
              ...(options.bins !== undefined ? { bins: options.bins } : {}),
            }),
            ...(agent?.captureStreams === 0 ? {} : { capture: captureJobHandler() }),
          },
          ...(agent?.captureStreams !== undefined && agent.captureStreams > 0
            ? { captureStreams: agent.captureStreams }
            : {}),
          logger: log,
          ...(agent?.concurrency !== undefined ? { concurrency: agent.concurrency } : {}),
          ...(agent?.leaseMs !== undefined ? { leaseMs: agent.leaseMs } : {}),
          ...(agent?.heartbeatMs !== undefined ? { heartbeatMs: agent.heartbeatMs } : {}),
          pollMs: agent?.pollMs ?? 1_000,
        });
        runner.worker = worker;
        worker.start();
      }
      if (options.scheduler !== false) runner.scheduler.start();
      const service: RunningService = {
        async stop() {
          if (options.scheduler !== false) await runner.scheduler.stop();
          await worker?.stop();
          await runner.notifier.flush();
          if (options.objects === undefined) runner.objects.close();
          runners.delete(ctx.app);
        },
      };
      return Promise.resolve(service);
    },
  };
}

function ensure(ctx: ExtensionContext, options: JobRunnerOptions): JobRunner {
  const existing = runners.get(ctx.app);
  if (existing !== undefined) return existing;
  const { app } = ctx;
  const { store, clock, config } = app;
  const logger: Logger = ctx.logger;
  const notifier =
    options.notifier ??
    (config.notify.webhookUrl !== undefined
      ? new WebhookNotifier({ url: config.notify.webhookUrl, logger, now: () => clock.now() })
      : silentNotifier);
  const objects = options.objects ?? openObjectStore(config.objectsUrl, config.s3);
  const service = new AgentService({
    jobs: store.jobs,
    catalog: store.catalog,
    servers: store.servers,
    tenants: store.tenants,
    decryptPassword: (ciphertext, serverId) =>
      ctx.deps.secrets.openText(ciphertext, serverPasswordContext(serverId)),
    clock,
    logger,
    notifier,
    changes: store.changes,
    agents: store.agents,
    serverFacts: store.serverFacts,
  });
  // Every backup an agent finished (or that failed with its agent) goes into the audit log, under the agent.
  service.onJobEnd((job, backup) => {
    if (job.kind !== 'backup') return;
    void audit(
      store,
      {
        tenantId: job.tenantId,
        actor: { kind: 'agent', id: job.leaseOwner ?? 'unknown' },
        action: 'backup.run',
        target: job.backupId,
        outcome: job.status === 'succeeded' ? 'success' : 'failure',
        details: {
          server_id: job.serverId,
          server_name: backup?.serverName ?? null,
          schedule_id: job.scheduleId,
          location: backup?.location ?? null,
          ...(job.error !== null ? { error: job.error.message.slice(0, 500) } : {}),
        },
      },
      logger,
    );
  });
  const binlogRetentionSeconds = (id: string): number | null | undefined =>
    service.factsOf(id)?.binlogRetentionSeconds;
  const retention = new Retention({
    schedules: store.schedules,
    tenants: store.tenants,
    catalog: store.catalog,
    changes: store.changes,
    archive: store.binlogArchive,
    objects,
    localRoot: join(config.home, 'backups'),
    clock,
    logger,
  });
  const health = new HealthMonitor({
    schedules: store.schedules,
    tenants: store.tenants,
    catalog: store.catalog,
    binlogRetentionSeconds,
    notifier,
    logger,
  });
  const schedulerOptions = options.scheduler === false ? {} : (options.scheduler ?? {});
  const periodic: PeriodicTask[] = [
    {
      name: 'retention',
      everyMs: schedulerOptions.retentionEveryMs ?? 3_600_000,
      run: async () => {
        await retention.run();
      },
    },
    {
      name: 'health',
      everyMs: schedulerOptions.healthEveryMs ?? 60_000,
      run: async (now) => {
        await health.check(now);
      },
    },
    {
      name: 'capture-streams',
      everyMs: schedulerOptions.captureEveryMs ?? 2_000,
      run: async () => {
        const queued = await ensureCaptureStreams({
          tenants: store.tenants,
          servers: store.servers,
          jobs: store.jobs,
          clock,
          logger,
        });
        if (queued.length > 0) runner.worker?.wake();
      },
    },
    {
      name: 'forget-agents',
      everyMs: 3_600_000,
      run: async (now) => {
        // Agent ids are per process: records of agents gone for a week are history, not fleet.
        await store.agents.forget(new Date(now.getTime() - 7 * 86_400_000));
      },
    },
  ];
  const runner: JobRunner = {
    service,
    retention,
    health,
    notifier,
    objects,
    worker: undefined,
    scheduler: new Scheduler(
      {
        schedules: store.schedules,
        jobs: store.jobs,
        catalog: store.catalog,
        servers: store.servers,
        expireLeases: () => service.expireLeases(),
        clock,
        logger,
        onEnqueued: () => runner.worker?.wake(),
        periodic,
      },
      schedulerOptions.tickMs !== undefined ? { tickMs: schedulerOptions.tickMs } : {},
    ),
  };
  runners.set(app, runner);
  return runner;
}
