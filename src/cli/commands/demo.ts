import { join } from 'node:path';
import { MariaDbSandbox } from '../../sandbox/mariadb.js';
import { parseDsn, resolvePassword } from '../../source/dsn.js';
import { runDoctor } from '../../source/run-doctor.js';
import { flagBool, type CommandSpec } from '../command.js';
import { renderDoctor } from '../render/doctor.js';

/**
 * The newcomer's first command: a private sandbox MariaDB (its own datadir under DBTRAIL_HOME/sandbox, binlogs on)
 * with sample data, checked by `doctor`. Later capabilities (capture, schedules, dashboard) join this command.
 */
export const demoCommand: CommandSpec = {
  path: ['demo'],
  summary: 'Start a sandbox MariaDB with sample data and check it with doctor (no database needed)',
  flags: [
    {
      name: 'keep-running',
      type: 'boolean',
      description: 'Keep the sandbox running until Ctrl-C and print its DSN',
    },
  ],
  async run(ctx, args) {
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
      const report = await runDoctor(resolvePassword(parseDsn(sandbox.dsn), {}));
      ctx.stdout.write(renderDoctor(report, ctx.stdout.isTTY === true));
      if (flagBool(args, 'keep-running')) {
        ctx.stdout.write(
          `\nSandbox DSN: ${sandbox.dsnWithoutPassword} (password in ${join(sandbox.dir, 'app-password')})\nPress Ctrl-C to stop.\n`,
        );
        await new Promise<void>((resolve) => {
          if (ctx.signal.aborted) resolve();
          ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
      return report.ok ? 0 : 1;
    } finally {
      await sandbox.stop();
      ctx.stdout.write('Sandbox stopped\n');
    }
  },
};
