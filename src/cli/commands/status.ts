import { openApp } from '../../app.js';
import { loadServerCoverage } from '../../compliance/coverage.js';
import type { ServerRecord } from '../../store/servers.js';
import { coveredWindows } from '../../store/windows.js';
import { flagBool, flagString, type CommandSpec } from '../command.js';
import { exactJson } from '../render/json.js';
import { renderStatus, statusJson, type ServerStatus } from '../render/status.js';
import { agentStatus, captureStreams, renderStreams, type CaptureStream } from './status-agents.js';
import { resolveServer } from './change-args.js';

export const statusCommand: CommandSpec = {
  path: ['status'],
  summary:
    'Show per server: checkpoint, lag, changes, gaps, covered and recoverable windows, binlog retention, dump warnings',
  flags: [
    {
      name: 'server-name',
      type: 'string',
      value: 'NAME',
      description: 'Only this server (default: every server of the tenant)',
    },
    { name: 'json', type: 'boolean', description: 'Print a JSON array, one object per server' },
    {
      name: 'agents',
      type: 'boolean',
      description: 'Show the agents instead: labels, last seen and the capture streams each holds',
    },
  ],
  async run(ctx, args) {
    const serverName = flagString(args, 'server-name');
    if (flagBool(args, 'agents')) return agentStatus(ctx, flagBool(args, 'json'));
    const app = await openApp(ctx.config);
    const statuses: ServerStatus[] = [];
    let tenantName: string;
    let streams: readonly CaptureStream[] = [];
    try {
      let servers: readonly ServerRecord[];
      if (serverName === undefined) {
        const tenant = await app.store.tenants.ensure(ctx.config.tenant);
        tenantName = tenant.name;
        servers = await app.store.servers.list(tenant.id);
      } else {
        const { tenant, server } = await resolveServer(app, serverName);
        tenantName = tenant.name;
        servers = [server];
      }
      const nowUs = BigInt(app.clock.now().getTime()) * 1000n;
      for (const server of servers) {
        const changes = app.store.changes;
        const [checkpoint, stats, gaps, coverage] = await Promise.all([
          changes.checkpoint(server.id),
          changes.stats(server.id),
          changes.gaps(server.id),
          changes.coverage(server.id),
        ]);
        statuses.push({
          name: server.name,
          id: server.id,
          checkpoint,
          lastCommitUs: coverage.endUs,
          lagUs: checkpoint === undefined || coverage.endUs === null ? null : nowUs - coverage.endUs,
          stats,
          gaps,
          windows: coveredWindows(coverage),
          coverage: await loadServerCoverage(app.store, server, app.clock.now()),
        });
      }
      streams = await captureStreams(app, servers);
    } finally {
      await app.close();
    }
    if (flagBool(args, 'json')) {
      ctx.stdout.write(`${exactJson(statuses.map(statusJson), 2)}\n`);
    } else if (statuses.length === 0) {
      ctx.stdout.write(`Tenant "${tenantName}" has no servers\n`);
    } else {
      ctx.stdout.write(renderStatus(statuses));
      if (streams.length > 0) ctx.stdout.write(renderStreams(streams, app.clock.now()));
    }
    return 0;
  },
};
