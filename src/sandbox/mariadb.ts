import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { messageOf } from '../lib/errors.js';
import { SandboxError } from './errors.js';
import { freePort } from './free-port.js';

/**
 * A private MariaDB server in its own temporary datadir, on a free port and its own unix socket, with binlogs in
 * ROW format and FULL row image and metadata. Used by `dbtrail sandbox`/`demo` and by every integration test, so
 * those tests can enable binlogs, kill -9, restart and purge without touching the machine's shared server.
 *
 * The system tables are created once per machine into a template directory and copied for each instance:
 * `mariadb-install-db` takes seconds, a copy takes milliseconds.
 */
export interface MariaDbSandboxOptions {
  /** Replication server id; unique per instance (default: random in 2..2^31). */
  readonly serverId?: number;
  /** Extra mariadbd flags, e.g. `['--binlog-format=STATEMENT']`. Later flags override the defaults. */
  readonly extraArgs?: readonly string[];
  /** Parent directory for the instance's temp dir (default: os.tmpdir()). */
  readonly baseDir?: string;
  /** Keep the datadir on destroy (for the sandbox command, which reuses it). */
  readonly datadir?: string;
  /** Fixed port instead of a free one. */
  readonly port?: number;
  /** How long to wait for the server to accept connections. */
  readonly startTimeoutMs?: number;
}

export interface SqlRunner {
  /** Runs SQL as root over the socket; returns rows for SELECT-like statements. */
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

const MARIADBD_CANDIDATES = ['/usr/sbin/mariadbd', '/usr/bin/mariadbd', '/usr/sbin/mysqld'];

export function findMariadbd(): string {
  const found = MARIADBD_CANDIDATES.find((p) => existsSync(p));
  if (found === undefined) {
    throw new SandboxError(
      `Cannot start a sandbox MariaDB: mariadbd not found in ${MARIADBD_CANDIDATES.join(', ')} (install mariadb-server)`,
    );
  }
  return found;
}

export class MariaDbSandbox implements SqlRunner {
  readonly dir: string;
  readonly datadir: string;
  readonly socket: string;
  readonly port: number;
  readonly serverId: number;
  /** The application user every DSN uses (all privileges, TCP from 127.0.0.1). */
  readonly appUser = 'dbtrail';
  readonly appPassword: string;
  #child: ChildProcess | undefined;
  #baseArgs: readonly string[];
  #extraArgs: readonly string[];
  #pool: mysql.Pool | undefined;
  #ownsDir: boolean;
  #startTimeoutMs: number;

  private constructor(init: {
    dir: string;
    datadir: string;
    port: number;
    serverId: number;
    appPassword: string;
    extraArgs: readonly string[];
    ownsDir: boolean;
    startTimeoutMs: number;
  }) {
    this.dir = init.dir;
    this.datadir = init.datadir;
    this.socket = join(init.dir, 'mysqld.sock');
    this.port = init.port;
    this.serverId = init.serverId;
    this.appPassword = init.appPassword;
    this.#extraArgs = init.extraArgs;
    this.#ownsDir = init.ownsDir;
    this.#startTimeoutMs = init.startTimeoutMs;
    this.#baseArgs = [
      '--no-defaults',
      `--datadir=${this.datadir}`,
      `--socket=${this.socket}`,
      `--port=${this.port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${join(this.dir, 'mysqld.pid')}`,
      `--log-error=${join(this.dir, 'error.log')}`,
      '--user=root',
      '--skip-name-resolve',
      '--log-bin=binlog',
      '--binlog-format=ROW',
      '--binlog-row-image=FULL',
      '--binlog-row-metadata=FULL',
      `--server-id=${this.serverId}`,
      '--gtid-domain-id=0',
      '--innodb-buffer-pool-size=128M',
      '--innodb-log-file-size=64M',
      // A process kill keeps the OS page cache, so relaxed flushing loses nothing in these tests and saves seconds.
      '--innodb-flush-log-at-trx-commit=2',
      '--sync-binlog=0',
      '--max-connections=200',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_general_ci',
      '--skip-log-warnings',
    ];
  }

  static async start(options: MariaDbSandboxOptions = {}): Promise<MariaDbSandbox> {
    const base = options.baseDir ?? tmpdir();
    await mkdir(base, { recursive: true });
    let dir: string;
    let datadir: string;
    let ownsDir: boolean;
    let appPassword: string;
    let fresh = true;
    let persistedServerId: number | undefined;
    if (options.datadir !== undefined) {
      datadir = options.datadir;
      dir = join(datadir, '..');
      ownsDir = false;
      fresh = !existsSync(join(datadir, 'mysql'));
      const pwFile = join(dir, 'app-password');
      appPassword = existsSync(pwFile)
        ? (await readFile(pwFile, 'utf8')).trim()
        : randomBytes(12).toString('hex');
      // A persistent sandbox keeps its identity across runs: dbtrail checks server_id on every connect.
      const idFile = join(dir, 'server-id');
      if (options.serverId === undefined && existsSync(idFile)) {
        persistedServerId = Number((await readFile(idFile, 'utf8')).trim());
      }
    } else {
      dir = await mkdtemp(join(base, 'dbtrail-mdb-'));
      datadir = join(dir, 'data');
      ownsDir = true;
      appPassword = randomBytes(12).toString('hex');
    }
    if (fresh) await cp(await template(), datadir, { recursive: true });
    const sandbox = new MariaDbSandbox({
      dir,
      datadir,
      port: options.port ?? (await freePort()),
      serverId: options.serverId ?? persistedServerId ?? 2 + Math.floor(Math.random() * 2_000_000_000),
      appPassword,
      extraArgs: options.extraArgs ?? [],
      ownsDir,
      startTimeoutMs: options.startTimeoutMs ?? 30_000,
    });
    LIVE.add(sandbox);
    await sandbox.#launch();
    if (fresh) {
      await sandbox.query(`CREATE USER '${sandbox.appUser}'@'%' IDENTIFIED BY '${appPassword}'`);
      await sandbox.query(`GRANT ALL PRIVILEGES ON *.* TO '${sandbox.appUser}'@'%' WITH GRANT OPTION`);
      if (!ownsDir) {
        const { writeFile } = await import('node:fs/promises');
        await writeFile(join(dir, 'app-password'), appPassword, { mode: 0o600 });
        await writeFile(join(dir, 'server-id'), String(sandbox.serverId));
      }
    }
    return sandbox;
  }

  /** DSN for the app user over TCP (password included, for tests and the local sandbox only). */
  get dsn(): string {
    return `mysql://${this.appUser}:${this.appPassword}@127.0.0.1:${this.port}`;
  }

  /** DSN without the password, for commands that take it from DBTRAIL_SOURCE_PASSWORD. */
  get dsnWithoutPassword(): string {
    return `mysql://${this.appUser}@127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async query<T = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    this.#pool ??= mysql.createPool({
      socketPath: this.socket,
      user: 'root',
      connectionLimit: 4,
      multipleStatements: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      timezone: 'Z',
    });
    const [rows] = await this.#pool.query(sql, params as unknown[]);
    return (Array.isArray(rows) ? rows : []) as T[];
  }

  /** A dedicated root connection, for tests that need session state (transactions, sql_log_bin=0). */
  async connection(): Promise<mysql.Connection> {
    return mysql.createConnection({
      socketPath: this.socket,
      user: 'root',
      multipleStatements: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
    });
  }

  async flushBinaryLogs(): Promise<void> {
    await this.query('FLUSH BINARY LOGS');
  }

  /** Binlog file names in order, from SHOW BINARY LOGS. */
  async binaryLogs(): Promise<{ name: string; size: number }[]> {
    const rows = await this.query<{ Log_name: string; File_size: string | number }>('SHOW BINARY LOGS');
    return rows.map((r) => ({ name: r.Log_name, size: Number(r.File_size) }));
  }

  /**
   * Purges every binlog before `file` (which stays). MariaDB keeps a file until its binlog checkpoint is
   * written (InnoDB has flushed the transactions in it), so retry briefly until the purge takes effect.
   */
  async purgeBinaryLogsTo(file: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      await this.query(`PURGE BINARY LOGS TO '${file.replace(/'/g, "''")}'`);
      const logs = await this.binaryLogs();
      if (logs[0]?.name === file || Date.now() > deadline) return;
      await sleep(100);
    }
  }

  binlogPath(file: string): string {
    return join(this.datadir, file);
  }

  async binlogFilesOnDisk(): Promise<string[]> {
    return (await readdir(this.datadir)).filter((f) => /^binlog\.\d+$/.test(f)).sort();
  }

  /** Current binlog coordinates: file, position and the GTID position. */
  async coordinates(): Promise<{ file: string; position: number; gtid: string }> {
    const [status] = await this.query<{ File: string; Position: string | number }>('SHOW MASTER STATUS');
    const [gtid] = await this.query<{ g: string }>('SELECT @@global.gtid_binlog_pos AS g');
    if (status === undefined) throw new SandboxError('Cannot read coordinates: binary logging is off');
    return { file: status.File, position: Number(status.Position), gtid: gtid?.g ?? '' };
  }

  /** Clean shutdown, then start again with the same datadir (optionally with other extra flags). */
  async restart(extraArgs?: readonly string[]): Promise<void> {
    await this.stop();
    if (extraArgs !== undefined) this.#extraArgs = extraArgs;
    await this.#launch();
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    await this.#closePool();
    const child = this.#child;
    if (child === undefined || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts a killed or stopped instance again. */
  async startAgain(): Promise<void> {
    if (this.running) return;
    await this.#launch();
  }

  async stop(): Promise<void> {
    await this.#closePool();
    const child = this.#child;
    if (child === undefined || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    // The timer must not keep the process alive once the server has exited.
    const timeout = sleep(30_000, 'timeout', { ref: false });
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** Stops the server and removes its directory (unless it was given a persistent datadir). */
  async destroy(): Promise<void> {
    await this.stop();
    LIVE.delete(this);
    if (this.#ownsDir) await rm(this.dir, { recursive: true, force: true });
  }

  async errorLog(): Promise<string> {
    try {
      return await readFile(join(this.dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async #closePool(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool !== undefined) await pool.end().catch(() => undefined);
  }

  async #launch(): Promise<void> {
    const child = spawn(findMariadbd(), [...this.#baseArgs, ...this.#extraArgs], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    this.#child = child;
    const deadline = Date.now() + this.#startTimeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const log = await this.errorLog();
        throw new SandboxError(
          `Cannot start sandbox MariaDB on port ${this.port}: mariadbd exited with ${child.exitCode ?? child.signalCode}: ${lastLines(stderr + log)}`,
        );
      }
      try {
        const conn = await mysql.createConnection({
          socketPath: this.socket,
          user: 'root',
          connectTimeout: 1000,
        });
        await conn.end();
        return;
      } catch (err) {
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          throw new SandboxError(
            `Cannot start sandbox MariaDB on port ${this.port}: not accepting connections after ${this.#startTimeoutMs} ms (${messageOf(err)}): ${lastLines(await this.errorLog())}`,
          );
        }
        await sleep(50);
      }
    }
  }

  /** Synchronous last-resort cleanup when the process exits with servers still running. */
  killSync(): void {
    if (this.running) this.#child?.kill('SIGKILL');
  }
}

const LIVE = new Set<MariaDbSandbox>();
process.once('exit', () => {
  for (const s of LIVE) s.killSync();
});

function lastLines(text: string, n = 8): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

let templatePromise: Promise<string> | undefined;

/** The initialised system tables, made once per machine and MariaDB version. */
function template(): Promise<string> {
  templatePromise ??= makeTemplate();
  return templatePromise;
}

async function makeTemplate(): Promise<string> {
  const version = spawnSync(findMariadbd(), ['--version'], { encoding: 'utf8' }).stdout.trim();
  const key = version.replace(/[^A-Za-z0-9.]+/g, '_').slice(0, 80);
  const dir = join(tmpdir(), `dbtrail-mariadb-template-${key}`);
  if (existsSync(join(dir, 'ready'))) return join(dir, 'data');
  const staging = await mkdtemp(join(tmpdir(), 'dbtrail-mariadb-template-staging-'));
  const result = spawnSync(
    'mariadb-install-db',
    [
      '--no-defaults',
      `--datadir=${join(staging, 'data')}`,
      '--user=root',
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--skip-name-resolve',
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) {
    await rm(staging, { recursive: true, force: true });
    throw new SandboxError(
      `Cannot initialise a MariaDB datadir: mariadb-install-db exited with ${result.status ?? result.error?.message}: ${lastLines(result.stderr ?? '')}`,
    );
  }
  const { writeFile, rename } = await import('node:fs/promises');
  await writeFile(join(staging, 'ready'), version);
  try {
    await rename(staging, dir);
  } catch {
    // Another process won the race; its template is as good as ours.
    await rm(staging, { recursive: true, force: true });
  }
  return join(dir, 'data');
}
