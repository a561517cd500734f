/**
 * Control-plane API benchmark: requests/s and latency of `GET /api/v1/backups` with a long backup history, and of
 * the accept path of `POST /api/v1/backup` (202), under concurrent keep-alive clients on 127.0.0.1.
 *
 *   npm run bench:api [-- HISTORY=100000 SECONDS=10 CONNECTIONS=32]
 *
 * Set-up, and why:
 * - The history is seeded through the state store (`catalog.create`, one short transaction each, a minute apart,
 *   over 20 servers; every tenth backup failed), by a store opened on its own clock, before the server starts.
 * - The server is the real control plane (`serveControlPlane`, SQLite state, API-key auth, request log at info
 *   level written to /dev/null), without the job runner: nothing executes the queued backups, so the
 *   benchmark measures the API and not mydumper. Because nothing ends them, every accepted backup leaves its
 *   server "busy" and a second POST for it would be a 409; the POST run therefore sends each request for a
 *   different server (as many registered servers as requests can be sent), and reports how many were not 202.
 * - The per-key rate limit (50/s by default) is raised for the run: it would otherwise answer 429 by design.
 * - Load comes from `wrk` (one thread, so the server keeps the other core) when installed, otherwise from
 *   bench/api-load.ts, a keep-alive closed-loop generator in its own process.
 * Targets (issue 7): p99 under 50 ms for both routes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { destination, pino } from 'pino';
import { openApp } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { ManualClock } from '../src/lib/clock.js';
import { generateApiKey } from '../src/server/api-keys.js';
import { serveControlPlane } from '../src/server/control-plane.js';
import { openSqliteStateStore } from '../src/store/sqlite/state-store.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.split('=');
    return [k ?? '', v ?? ''];
  }),
);
const HISTORY = Number(args.get('HISTORY') ?? 100_000);
const SECONDS = Number(args.get('SECONDS') ?? 10);
const CONNECTIONS = Number(args.get('CONNECTIONS') ?? 32);
const SERVERS = 20;
const TARGET_P99_MS = 50;

interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Responses other than the expected status. */
  readonly unexpected: number;
}

interface Row {
  readonly name: string;
  readonly result: LoadResult;
  readonly note: string;
  /** False for rows shown for context only (the target is for the default page and the accept path). */
  readonly target?: boolean;
}

const home = mkdtempSync(join(tmpdir(), 'dbtrail-bench-api-'));
const work = mkdtempSync(join(tmpdir(), 'dbtrail-bench-api-work-'));
const hasWrk = spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error === undefined;

try {
  const config = loadConfig({ env: { DBTRAIL_HOME: home } });
  // ---------------------------------------------------------------------------------------------------- seeding
  const seedStart = performance.now();
  const firstAt = Date.now() - HISTORY * 60_000;
  const seedClock = new ManualClock(new Date(firstAt).toISOString());
  const seed = await openSqliteStateStore({ path: join(home, 'dbtrail.db'), clock: seedClock });
  const tenant = await seed.tenants.create('acme');
  const loadTenant = await seed.tenants.create('load');
  const keyOf = async (tenantId: string): Promise<string> => {
    const k = generateApiKey();
    await seed.apiKeys.create({ tenantId, name: 'bench', prefix: k.prefix, keyHash: k.hash });
    return k.key;
  };
  const key = await keyOf(tenant.id);
  const loadKey = await keyOf(loadTenant.id);
  const servers = [];
  for (let i = 0; i < SERVERS; i++) {
    const name = `db-${String(i).padStart(2, '0')}`;
    servers.push(
      await seed.servers.create({ tenantId: tenant.id, name, host: '10.0.0.1', port: 3306, username: 'u' }),
    );
  }
  for (let i = 0; i < HISTORY; i++) {
    seedClock.advance(60_000);
    const server = servers[i % SERVERS]!;
    const b = await seed.catalog.create({
      tenantId: tenant.id,
      serverId: server.id,
      serverName: server.name,
      tool: 'mydumper',
      status: 'running',
    });
    if (i % 10 === 0) {
      await seed.catalog.transition(b.id, 'failed', {
        error: { code: 'DUMP_FAILED', message: 'Cannot dump: mydumper exited with status 2' },
      });
    }
  }
  // Enough idle servers that every POST in the run can be for a server without an active backup.
  const postServers = Math.max(20_000, Math.ceil(SECONDS * 4_000));
  const ids: string[] = [];
  for (let i = 0; i < postServers; i++) {
    const s = await seed.servers.create({
      tenantId: loadTenant.id,
      name: `load-${i}`,
      host: '10.0.0.2',
      port: 3306,
      username: 'u',
    });
    ids.push(s.id);
  }
  await seed.close();
  const seedSeconds = (performance.now() - seedStart) / 1000;
  console.log(
    `Seeded ${HISTORY.toLocaleString('en-US')} backups and ${(SERVERS + postServers).toLocaleString('en-US')} servers through the store in ${seedSeconds.toFixed(1)} s`,
  );

  // ----------------------------------------------------------------------------------------------------- server
  const app = await openApp(config, { longRunning: true });
  const running = await serveControlPlane(app, {
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'info' }, destination({ dest: '/dev/null', sync: false })),
    rateLimit: { capacity: 1_000_000_000, refillPerSecond: 1_000_000_000 },
    extensions: [],
  });
  const rows: Row[] = [];
  try {
    const get = (path: string, seconds = SECONDS) =>
      load({ url: `${running.url}${path}`, key, seconds, expect: 200 });
    await get('/api/v1/backups', 2); // warm-up: JIT, SQLite page cache
    rows.push({
      name: 'GET /api/v1/backups (default page, 50)',
      result: await get('/api/v1/backups'),
      note: 'newest first',
    });
    rows.push({
      name: 'GET /api/v1/backups?limit=1000',
      result: await get('/api/v1/backups?limit=1000'),
      note: 'largest page, 20x the default (context, no target)',
      target: false,
    });
    rows.push({
      name: 'GET /api/v1/backups?server_id&status=failed',
      result: await get(`/api/v1/backups?server_id=${servers[3]!.id}&status=failed`),
      note: 'filtered',
    });
    const tail = (await (
      await fetch(`${running.url}/api/v1/backups?limit=1000`, { headers: { authorization: `Bearer ${key}` } })
    ).json()) as { next_before: string };
    rows.push({
      name: 'GET /api/v1/backups?before=<page 2>',
      result: await get(`/api/v1/backups?before=${tail.next_before}`),
      note: 'keyset paging',
    });
    const idsFile = join(work, 'server-ids.txt');
    writeFileSync(idsFile, `${ids.join('\n')}\n`);
    rows.push({
      name: 'POST /api/v1/backup (accept, 202)',
      result: await load({
        url: `${running.url}/api/v1/backup`,
        key: loadKey,
        seconds: SECONDS,
        expect: 202,
        post: { idsFile, ids },
      }),
      note: 'one request per idle server',
    });
  } finally {
    await running.close();
    await app.close();
  }

  // ------------------------------------------------------------------------------------------------------ table
  const cores = cpus().length;
  console.log(
    `\nControl-plane API on 127.0.0.1 (${hasWrk ? 'wrk, 1 thread' : 'bench/api-load.ts'}, ${CONNECTIONS} keep-alive connections, ${SECONDS} s per row, ${cores} cores shared by client and server; ${HISTORY.toLocaleString('en-US')} backups in the history)`,
  );
  console.log(
    `${'route'.padEnd(46)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'target'.padStart(9)} ${'met'.padStart(4)} ${'other'.padStart(6)}  note`,
  );
  let failed = false;
  for (const { name, result, note, target = true } of rows) {
    const met = result.p99Ms < TARGET_P99_MS && result.unexpected === 0;
    if (target) failed ||= !met;
    console.log(
      `${name.padEnd(46)} ${Math.round(result.rps).toLocaleString('en-US').padStart(9)} ${result.p50Ms.toFixed(2).padStart(8)} ${result.p99Ms.toFixed(2).padStart(8)} ${(target ? `< ${TARGET_P99_MS}` : '-').padStart(9)} ${(target ? (met ? 'yes' : 'NO') : '-').padStart(4)} ${String(result.unexpected).padStart(6)}  ${note}`,
    );
  }
  console.log('"other": responses with another status than expected (200 for GET, 202 for POST).');
  if (failed) process.exitCode = 1;
} finally {
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}

interface LoadRequest {
  readonly url: string;
  readonly key: string;
  readonly seconds: number;
  readonly expect: number;
  /** A POST /backup run: one body per server id, each used once. */
  readonly post?: { readonly idsFile: string; readonly ids: readonly string[] };
}

function load(request: LoadRequest): Promise<LoadResult> {
  return hasWrk ? loadWithWrk(request) : loadWithNode(request);
}

async function loadWithWrk(request: LoadRequest): Promise<LoadResult> {
  // The API key goes to wrk in a file its script reads, never on its command line (visible to every user).
  const keyFile = join(work, 'api-key');
  writeFileSync(keyFile, `${request.key}\n`, { mode: 0o600 });
  const script = join(work, request.post === undefined ? 'get.lua' : 'post-backup.lua');
  writeFileSync(
    script,
    request.post === undefined
      ? `-- GET with the API key read from the file named by the first script argument.
local req
function init(args)
  local f = assert(io.open(args[1]))
  wrk.headers["Authorization"] = "Bearer " .. f:read("*l")
  f:close()
  req = wrk.format()
end
function request()
  return req
end
`
      : `-- One POST /api/v1/backup per registered idle server, each server once.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local ids = {}
local n = 0
function init(args)
  local f = assert(io.open(args[1]))
  wrk.headers["Authorization"] = "Bearer " .. f:read("*l")
  f:close()
  for line in io.lines(args[2]) do ids[#ids + 1] = line end
end
function request()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"server_id":"' .. ids[((n - 1) % #ids) + 1] .. '"}')
end
`,
  );
  const wrkArgs = ['-t1', `-c${CONNECTIONS}`, `-d${request.seconds}s`, '--latency', '-s', script];
  wrkArgs.push(request.url, '--', keyFile);
  if (request.post !== undefined) wrkArgs.push(request.post.idsFile);
  const out = await run('wrk', wrkArgs);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const nonOk = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors:.*/.exec(out)?.[0];
  if (errors !== undefined) console.log(`  ${request.url}: ${errors}`);
  return {
    requests,
    seconds: request.seconds,
    rps,
    p50Ms: wrkLatency(out, '50%'),
    p99Ms: wrkLatency(out, '99%'),
    // wrk counts 2xx as success: for POST, 200 would also pass, but the route only ever answers 202 or an error.
    unexpected: nonOk,
  };
}

function wrkLatency(out: string, quantile: string): number {
  const m = new RegExp(`${quantile.replace('%', '%')}\\s+([\\d.]+)(us|ms|s)\\b`).exec(out);
  if (m === null) throw new Error(`Cannot read the ${quantile} latency from wrk's output:\n${out}`);
  const scale = { us: 0.001, ms: 1, s: 1000 }[m[2] as 'us' | 'ms' | 's'];
  return Number(m[1]) * scale;
}

async function loadWithNode(request: LoadRequest): Promise<LoadResult> {
  const job = {
    url: request.url,
    method: request.post === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${request.key}`,
      ...(request.post === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(request.post === undefined
      ? {}
      : { bodies: request.post.ids.map((id) => JSON.stringify({ server_id: id })) }),
    connections: CONNECTIONS,
    seconds: request.seconds,
  };
  // The job (with the API key) goes through a private file, not the command line.
  const jobFile = join(work, 'load-job.json');
  writeFileSync(jobFile, JSON.stringify(job), { mode: 0o600 });
  const out = await run(process.execPath, [
    '--import',
    'tsx',
    fileURLToPath(new URL('./api-load.ts', import.meta.url)),
    jobFile,
  ]);
  const r = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as {
    requests: number;
    seconds: number;
    statuses: Record<string, number>;
    p50Ms: number;
    p99Ms: number;
  };
  const ok = r.statuses[String(request.expect)] ?? 0;
  return {
    requests: r.requests,
    seconds: r.seconds,
    rps: r.requests / r.seconds,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    unexpected: r.requests - ok,
  };
}

function run(cmd: string, argv: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with status ${code}: ${err}`)),
    );
  });
}
