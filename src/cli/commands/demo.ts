import { join } from 'node:path';
import { jobRunnerOf } from '../../agent/extension.js';
import { openApp } from '../../app.js';
import { parseTableFilter } from '../../capture/filter.js';
import { runStreamCapture } from '../../capture/stream.js';
import { messageOf } from '../../lib/errors.js';
import { MariaDbSandbox } from '../../sandbox/mariadb.js';
import { generateApiKey } from '../../server/api-keys.js';
import { parseListen, serveControlPlane } from '../../server/control-plane.js';
import { parseDsn, resolvePassword } from '../../source/dsn.js';
import { runDoctor } from '../../source/run-doctor.js';
import { flagBool, flagString, type CommandSpec } from '../command.js';
import { UsageError } from '../errors.js';
import { renderDoctor } from '../render/doctor.js';
import { SERVER_EXTENSIONS } from './server.js';

/**
 * The newcomer's first command: the whole product on one machine with no database at hand. A private sandbox MariaDB
 * (its own datadir under DBTRAIL_HOME/sandbox, binlogs on) with sample data and a trickle of traffic, checked by
 * doctor, registered through the REST API, captured continuously into the change index, backed up at once and every
 * five minutes, with the dashboard served. Ctrl-C stops everything it started. `--check` stops after doctor.
 */
export const demoCommand: CommandSpec = {
  path: ['demo'],
  summary:
    'Run the whole product against a sandbox MariaDB with sample data (no database needed); Ctrl-C stops it',
  flags: [
    { name: 'check', type: 'boolean', description: 'Only start the sandbox, check it with doctor and stop' },
    {
      name: 'listen',
      type: 'string',
      value: 'HOST:PORT',
      config: 'server.listen',
      description: 'Address of the API and dashboard (default 127.0.0.1:8420; port 0 picks a free one)',
    },
  ],
  async run(ctx, args) {
    const listenText = flagString(args, 'listen') ?? ctx.config.server.listen;
    const address = parseListen(listenText);
    if (address === undefined) {
      throw new UsageError(`Cannot listen on "${listenText}": expected HOST:PORT such as 127.0.0.1:8420`);
    }
    const datadir = join(ctx.config.home, 'sandbox', 'data');
    ctx.stdout.write(`Starting sandbox MariaDB in ${datadir}\n`);
    const sandbox = await MariaDbSandbox.start({ datadir, baseDir: join(ctx.config.home, 'sandbox') });
    try {
      await sandbox.query(
        `CREATE DATABASE IF NOT EXISTS shop;
         CREATE TABLE IF NOT EXISTS shop.customers (id BIGINT UNSIGNED PRIMARY KEY AUTO_INCREMENT, name VARCHAR(100) NOT NULL, email VARCHAR(200), balance DECIMAL(12,2) NOT NULL DEFAULT 0, created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6));
         INSERT INTO shop.customers (name, email, balance) SELECT 'Ada Lovelace', 'ada@example.com', 100.50 FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM shop.customers);`,
      );
      ctx.stdout.write(`Sandbox MariaDB is up on 127.0.0.1:${sandbox.port}\n\n`);
      const dsn = resolvePassword(parseDsn(sandbox.dsn), {});
      const report = await runDoctor(dsn);
      ctx.stdout.write(renderDoctor(report, ctx.stdout.isTTY === true));
      if (flagBool(args, 'check') || !report.ok) return report.ok ? 0 : 1;
      await runProduct(ctx, sandbox, address);
      return 0;
    } finally {
      await sandbox.stop();
      ctx.stdout.write('Sandbox stopped\n');
    }
  },
};

async function runProduct(
  ctx: Parameters<CommandSpec['run']>[0],
  sandbox: MariaDbSandbox,
  address: NonNullable<ReturnType<typeof parseListen>>,
): Promise<void> {
  const log = ctx.logger.child({ component: 'demo' });
  const app = await openApp(ctx.config, { longRunning: true });
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  let trickle: NodeJS.Timeout | undefined;
  let capture: Promise<unknown> | undefined;
  try {
    const tenant = await app.store.tenants.ensure(ctx.config.tenant);
    const key = generateApiKey();
    await app.store.apiKeys.create({
      tenantId: tenant.id,
      name: 'demo',
      prefix: key.prefix,
      keyHash: key.hash,
    });
    const running = await serveControlPlane(app, {
      ...address,
      logger: ctx.logger,
      extensions: SERVER_EXTENSIONS,
      binlogRetentionSeconds: (id, served) =>
        jobRunnerOf(served)?.service.factsOf(id)?.binlogRetentionSeconds,
    });
    try {
      // The demo drives its own REST API, as a user's scripts would.
      const api = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
        const res = await fetch(`${running.url}/api/v1${path}`, {
          method,
          headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
        const json = (await res.json()) as Record<string, unknown>;
        if (!res.ok) throw new Error(`Cannot ${method} ${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
        return json;
      };
      const servers = (await api('GET', '/servers')) as { servers?: { id: string; name: string }[] };
      const server =
        servers.servers?.find((s) => s.name === 'sandbox') ??
        ((await api('POST', '/servers', {
          name: 'sandbox',
          connection: {
            host: '127.0.0.1',
            port: sandbox.port,
            user: sandbox.appUser,
            password: sandbox.appPassword,
          },
        })) as { id: string });
      const schedules = (await api('GET', `/schedules?server_id=${server.id}`)) as { schedules?: unknown[] };
      if ((schedules.schedules ?? []).length === 0) {
        await api('POST', '/schedules', { server_id: server.id, cron: '*/5 * * * *', retention_days: 1 });
      }
      const first = (await api('POST', '/backup', { server_id: server.id })) as { backup_id: string };

      capture = runStreamCapture({
        dsn: resolvePassword(parseDsn(sandbox.dsn), {}),
        index: app.store.changes,
        serverId: server.id,
        serverName: 'sandbox',
        filter: parseTableFilter(undefined, undefined),
        stopAtEnd: false,
        acceptGap: true,
        signal: stop.signal,
        logger: log,
      }).catch((err: unknown) => log.error({ error: messageOf(err) }, 'Capture stopped'));

      let n = 0;
      trickle = setInterval(() => {
        n++;
        const sql =
          n % 3 === 0
            ? 'UPDATE shop.customers SET balance = balance + 1.25 ORDER BY RAND() LIMIT 1'
            : `INSERT INTO shop.customers (name, email, balance) VALUES ('Customer ${n}', 'c${n}@example.com', ${n % 500}.${String(n % 100).padStart(2, '0')})`;
        sandbox
          .query(sql)
          .catch((err: unknown) => log.warn({ error: messageOf(err) }, 'Sample traffic failed'));
      }, 2000);

      ctx.stdout.write(
        [
          '',
          `Dashboard:   ${running.url}/`,
          `API key:     ${key.key}   (sign in with it; shown only once)`,
          `First backup ${first.backup_id} is running; a schedule backs up every 5 minutes.`,
          'Capture is following the sandbox binlog; sample traffic writes to shop.customers every 2 s.',
          `Try:         dbtrail status   |   dbtrail query --server-name sandbox --schema shop --table customers --limit 5`,
          'Press Ctrl-C to stop everything.',
          '',
        ].join('\n'),
      );
      await new Promise<void>((resolve) => {
        if (stop.signal.aborted) resolve();
        else stop.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      ctx.stdout.write('Stopping the demo\n');
    } finally {
      stop.abort();
      if (trickle !== undefined) clearInterval(trickle);
      await capture;
      await running.close();
    }
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await app.close();
  }
}
