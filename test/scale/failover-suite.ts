/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument -- response bodies are walked freely; the assertions check them. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import type { ChangeRecord } from '../../src/store/change-index.js';
import { cli, PROJECT_ROOT } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';
import { client, waitFor, type Reply } from '../control-plane/helpers.js';
import { freshPostgresDatabase } from './pg.js';
import { startReplica } from './replica.js';

/**
 * Many agents: two `dbtrail server` processes (replicas on one state database, `--no-agent`, a 1 s scheduler tick)
 * and two real `dbtrail agent` processes, each talking to a different replica, with three private MariaDB sources
 * under a steady write load. Capture is switched on per server; each stream is held by one agent. The agent
 * holding streams is killed with SIGKILL; the other takes them over once the lease runs out, and at the end the
 * index holds exactly the row changes of each source's binlog, counted per GTID and change type by
 * `mariadb-binlog` (no loss, no duplicates). Servers of another tenant and servers whose labels the agents lack
 * stay untouched throughout. Run on SQLite and on PostgreSQL (failover-*.test.ts).
 */
const LEASE_S = 3;
const home = mkdtempSync(join(tmpdir(), 'dbtrail-scale-'));
const agentHomes = [0, 1].map((i) => mkdtempSync(join(tmpdir(), `dbtrail-scale-agent${i}-`)));
const sources: MariaDbSandbox[] = [];
let app: App;
const replicas: { url: string; child: ChildProcess }[] = [];
const agents: (ChildProcess & { output: () => string; id: string })[] = [];
let key: string;
let otherKey: string;
let api: (method: string, path: string, body?: unknown) => Promise<Reply>;
const serverIds: string[] = [];
let stagingId: string;
let otherTenantServerId: string;
let env: Record<string, string>;
let dropDatabase: (() => Promise<void>) | undefined;

export function failoverSuite(backend: 'sqlite' | 'postgres'): void {
  beforeAll(async () => {
    env = { DBTRAIL_HOME: home };
    if (backend === 'postgres') {
      const fresh = await freshPostgresDatabase();
      dropDatabase = fresh.drop;
      env['DBTRAIL_STATE_URL'] = fresh.url;
    }
    sources.push(...(await Promise.all([0, 1, 2].map(() => startMariaDb()))));
    await Promise.all(
      sources.map((db) =>
        db.query(`CREATE DATABASE wl;
        CREATE TABLE wl.t (id BIGINT UNSIGNED PRIMARY KEY, v DECIMAL(30,10), note VARCHAR(40));`),
      ),
    );
    for (const tenant of ['acme', 'other'])
      expect((await cli(['tenant', 'create', tenant], env)).code).toBe(0);
    const made = await cli(['apikey', 'create', '--tenant', 'acme', '--name', 'agents'], env);
    key = /bt_live_\S+/.exec(made.stdout)![0];
    const madeOther = await cli(['apikey', 'create', '--tenant', 'other', '--name', 'agents'], env);
    otherKey = /bt_live_\S+/.exec(madeOther.stdout)![0];
    // The test's own view of the shared state, for assertions.
    app = await openApp(loadConfig({ env }));
    replicas.push(...(await Promise.all([startReplica(env), startReplica(env)])));
    api = client(replicas[0]!.url, key);
  }, 240_000);

  afterAll(async () => {
    for (const a of agents) if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
    for (const r of replicas) {
      if (r.child.exitCode !== null) continue;
      const exited = new Promise((resolve) => r.child.once('exit', resolve));
      r.child.kill('SIGTERM');
      await exited;
    }
    await app?.close();
    await dropDatabase?.();
    for (const dir of [home, ...agentHomes]) rmSync(dir, { recursive: true, force: true });
  });

  function startAgent(i: number): (typeof agents)[number] {
    const id = `agent-${i}`;
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(PROJECT_ROOT, 'src', 'cli', 'main.ts'),
        'agent',
        '--server',
        replicas[i % replicas.length]!.url,
        '--label',
        'env=prod',
        '--label',
        'region=eu',
        '--id',
        id,
        '--lease',
        String(LEASE_S),
        '--poll',
        '100',
      ],
      {
        cwd: PROJECT_ROOT,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env['PATH'],
          HOME: process.env['HOME'],
          DBTRAIL_HOME: agentHomes[i]!,
          DBTRAIL_AGENT_KEY: key,
          DBTRAIL_LOG_LEVEL: 'info',
          DBTRAIL_LOG_FORMAT: 'json',
        },
      },
    );
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const agent = Object.assign(child, { output: () => out, id });
    agents.push(agent);
    return agent;
  }

  /** Capture jobs of acme by status, from the API of the second replica (the API is stateless). */
  async function captureJobs(): Promise<any[]> {
    const jobs = await app.store.jobs.list({ kind: 'capture', limit: 1000 });
    return jobs.map((j) => ({ ...j }));
  }

  /** A write load: small transactions of inserts, updates and deletes until stopped. */
  function writeLoad(db: MariaDbSandbox, seed: number): { stop: () => Promise<number> } {
    let stopping = false;
    let transactions = 0;
    const done = (async () => {
      const conn: mysql.Connection = await db.connection();
      let next = BigInt(seed) * 1_000_000_000n + 18_000_000_000_000_000_000n;
      try {
        while (!stopping) {
          await conn.query('BEGIN');
          const n = 1 + (transactions % 4);
          for (let k = 0; k < n; k++) {
            next++;
            await conn.query('INSERT INTO wl.t VALUES (?, ?, ?)', [
              next.toString(),
              `${next % 1000n}.${(next % 9973n).toString().padStart(10, '0')}`,
              `row ${transactions}`,
            ]);
          }
          if (transactions % 3 === 0) {
            await conn.query('UPDATE wl.t SET note = CONCAT(note, "+") WHERE id = ?', [next.toString()]);
          }
          if (transactions % 5 === 0) await conn.query('DELETE FROM wl.t WHERE id = ?', [next.toString()]);
          await conn.query('COMMIT');
          transactions++;
          await new Promise((r) => setTimeout(r, 5));
        }
      } finally {
        await conn.end();
      }
      return transactions;
    })();
    return {
      stop: async () => {
        stopping = true;
        return done;
      },
    };
  }

  /** Row changes per `gtid type` of schema `wl` in the source's binlog, decoded by mariadb-binlog. */
  async function binlogCounts(db: MariaDbSandbox): Promise<Map<string, number>> {
    const files = (await db.binaryLogs()).map((l) => db.binlogPath(l.name));
    const out = spawnSync('mariadb-binlog', ['--base64-output=decode-rows', '--verbose', ...files], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    });
    expect(out.status).toBe(0);
    const counts = new Map<string, number>();
    let gtid = '';
    for (const line of out.stdout.split('\n')) {
      const g = /\tGTID (\d+-\d+-\d+)/.exec(line);
      if (g !== null) {
        gtid = g[1]!;
        continue;
      }
      const row = /^### (INSERT INTO|UPDATE|DELETE FROM) `wl`\.`t`/.exec(line);
      if (row === null) continue;
      const type = row[1] === 'INSERT INTO' ? 'insert' : row[1] === 'UPDATE' ? 'update' : 'delete';
      const k = `${gtid} ${type}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    return counts;
  }

  /** The same counts from the change index, read page by page in seq order. */
  async function indexCounts(
    tenantId: string,
    serverId: string,
  ): Promise<{ counts: Map<string, number>; seqs: bigint[] }> {
    const counts = new Map<string, number>();
    const seqs: bigint[] = [];
    let after: bigint | undefined;
    for (;;) {
      const page: readonly ChangeRecord[] = await app.store.changes.query({
        tenantId,
        serverId,
        schema: 'wl',
        limit: 10_000,
        ...(after !== undefined ? { afterSeq: after } : {}),
      });
      for (const c of page) {
        const k = `${c.gtid} ${c.type}`;
        counts.set(k, (counts.get(k) ?? 0) + 1);
        seqs.push(c.seq);
      }
      if (page.length < 10_000) break;
      after = page[page.length - 1]!.seq;
    }
    return { counts, seqs };
  }

  describe(`capture streams as leased jobs (${backend})`, () => {
    let acmeId: string;

    it('registers servers with capture switched on and agents with labels', async () => {
      for (const [i, db] of sources.entries()) {
        const r = await api('POST', '/api/v1/servers', {
          name: `src${i}`,
          connection: { host: '127.0.0.1', port: db.port, user: db.appUser, password: db.appPassword },
          defaults: { capture: true, labels: ['env=prod'] },
        });
        expect(r.status).toBe(201);
        expect(r.json.defaults.capture).toBe(true);
        serverIds.push(r.json.id);
      }
      // Capture on, but for agents labelled env=staging: these agents must leave it alone.
      const staging = await api('POST', '/api/v1/servers', {
        name: 'staging',
        connection: {
          host: '127.0.0.1',
          port: sources[0]!.port,
          user: sources[0]!.appUser,
          password: sources[0]!.appPassword,
        },
        defaults: { capture: true, labels: ['env=staging'] },
      });
      expect(staging.status).toBe(201);
      stagingId = staging.json.id;
      // Another tenant's server without labels: any agent of that tenant may take it, no agent of acme.
      const other = await client(replicas[1]!.url, otherKey)('POST', '/api/v1/servers', {
        name: 'theirs',
        connection: {
          host: '127.0.0.1',
          port: sources[1]!.port,
          user: sources[1]!.appUser,
          password: sources[1]!.appPassword,
        },
        defaults: { capture: true },
      });
      expect(other.status).toBe(201);
      otherTenantServerId = other.json.id;
      const bad = await api('POST', '/api/v1/servers', {
        name: 'bad',
        connection: { host: '127.0.0.1', port: 3306, user: 'x' },
        defaults: { capture: 'yes' },
      });
      expect(bad.status).toBe(400);
      expect(bad.text).toContain('defaults.capture');

      startAgent(0);
      startAgent(1);
      const listed = await waitFor(
        'both agents to register',
        async () => {
          const r = await client(replicas[1]!.url, key)('GET', '/api/v1/agents');
          return r.json.agents.length === 2 ? r.json.agents : undefined;
        },
        60_000,
      );
      for (const a of listed) {
        expect(a.labels).toEqual(['env=prod', 'region=eu']);
        expect(a.embedded).toBe(false);
        expect(a.online).toBe(true);
        acmeId = a.tenant_id;
      }
      expect(listed.map((a: any) => a.id).sort()).toEqual(['agent-0', 'agent-1']);
      // Agents of acme are not another tenant's business.
      const theirs = await client(replicas[0]!.url, otherKey)('GET', '/api/v1/agents');
      expect(theirs.json.agents).toEqual([]);
    }, 120_000);

    it('runs one stream per server, fails it over on SIGKILL and ends with exactly the binlog row changes', async () => {
      // Each stream running, with its first checkpoint, before the load starts: capture begins at the binlog's end.
      const running = await waitFor(
        'three capture streams running',
        async () => {
          const jobs = (await captureJobs()).filter(
            (j) => j.status === 'running' && serverIds.includes(j.serverId),
          );
          if (jobs.length !== 3) return undefined;
          for (const id of serverIds)
            if ((await app.store.changes.checkpoint(id)) === undefined) return undefined;
          return jobs;
        },
        90_000,
      );
      expect(new Set(running.map((j) => j.serverId)).size).toBe(3);

      const loads = sources.map((db, i) => writeLoad(db, i + 1));
      await new Promise((r) => setTimeout(r, 3_000));

      // Kill the agent holding the most streams, in the middle of the load.
      const holders = new Map<string, number>();
      for (const j of running) holders.set(j.leaseOwner, (holders.get(j.leaseOwner) ?? 0) + 1);
      const victimId = [...holders.entries()].sort((a, b) => b[1] - a[1])[0]![0];
      const victim = agents.find((a) => a.id === victimId)!;
      const survivor = agents.find((a) => a.id !== victimId)!;
      const moved = running.filter((j) => j.leaseOwner === victimId).map((j) => j.serverId);
      const killedAt = Date.now();
      process.kill(-victim.pid!, 'SIGKILL');

      await waitFor(
        'the survivor to hold every stream',
        async () => {
          const jobs = (await captureJobs()).filter(
            (j) => j.status === 'running' && serverIds.includes(j.serverId),
          );
          return jobs.length === 3 && jobs.every((j) => j.leaseOwner === survivor.id) ? jobs : undefined;
        },
        60_000,
      );
      const takeoverMs = Date.now() - killedAt;
      // The lease runs out LEASE_S after the last heartbeat; expiry, requeue and claim add a few polls of 100-200 ms.
      expect(takeoverMs).toBeLessThan(LEASE_S * 1000 + 2_500);
      console.log(
        `capture failover: ${moved.length} streams moved to ${survivor.id} ${takeoverMs} ms after SIGKILL`,
      );
      const failed = (await captureJobs()).filter((j) => j.status === 'failed' && j.leaseOwner === victimId);
      expect(failed.length).toBe(moved.length);
      for (const j of failed) expect(j.error.code).toBe('JOB_LEASE_EXPIRED');

      // More load under the new holder, then stop and let capture catch up.
      await new Promise((r) => setTimeout(r, 3_000));
      const transactions = await Promise.all(loads.map((l) => l.stop()));
      for (const t of transactions) expect(t).toBeGreaterThan(50);
      for (const [i, db] of sources.entries()) {
        const end = await db.coordinates();
        await waitFor(
          `capture of src${i} to reach ${end.gtid}`,
          async () => {
            const cp = await app.store.changes.checkpoint(serverIds[i]!);
            return cp?.coordinates.gtidSet === end.gtid ? cp : undefined;
          },
          60_000,
        );
        const expected = await binlogCounts(db);
        const { counts, seqs } = await indexCounts(acmeId, serverIds[i]!);
        expect(new Set(seqs.map(String)).size).toBe(seqs.length);
        const total = [...expected.values()].reduce((a, b) => a + b, 0);
        expect(total).toBeGreaterThan(100);
        expect(seqs.length).toBe(total);
        expect(Object.fromEntries(counts)).toEqual(Object.fromEntries(expected));
      }
      expect(survivor.exitCode).toBeNull();

      // `dbtrail status` on any host sharing the store says who holds each stream.
      const tenantEnv = { ...env, DBTRAIL_TENANT: 'acme' };
      const status = await cli(['status'], tenantEnv);
      expect(status.code).toBe(0);
      for (let i = 0; i < 3; i++)
        expect(status.stdout).toMatch(new RegExp(`src${i}  held by ${survivor.id} \\(lease`));
      expect(status.stdout).toMatch(/staging {2}waiting for an agent whose labels match/);
      const listed = await cli(['status', '--agents', '--json'], tenantEnv);
      expect(listed.code).toBe(0);
      const byId = new Map<string, any>(JSON.parse(listed.stdout).map((a: any) => [a.id, a]));
      expect(byId.get(survivor.id).capture_streams.sort()).toEqual(['src0', 'src1', 'src2']);
      expect(byId.get(victimId).capture_streams).toEqual([]);
    }, 300_000);

    it("never hands another tenant's or a non-matching server's stream to these agents", async () => {
      const all = await app.store.jobs.list({ kind: 'capture', limit: 1000 });
      for (const id of [stagingId, otherTenantServerId]) {
        const jobs = all.filter((j) => j.serverId === id);
        expect(jobs).toHaveLength(1);
        expect(jobs[0]!.status).toBe('queued');
        expect(jobs[0]!.leaseOwner).toBeNull();
      }
      // One stream per server at a time, however many replicas queue them: never two active for one server.
      for (const id of serverIds) {
        expect(
          all.filter((j) => j.serverId === id && (j.status === 'running' || j.status === 'queued')),
        ).toHaveLength(1);
      }
    });

    it('stops a stream when capture is switched off, and does not queue it again', async () => {
      const id = serverIds[2]!;
      const r = await api('PATCH', `/api/v1/servers/${id}`, { defaults: { labels: ['env=prod'] } });
      expect(r.status).toBe(200);
      const ended = await waitFor(
        'the stream to end',
        async () => {
          const jobs = (await captureJobs()).filter((j) => j.serverId === id && j.status === 'running');
          return jobs.length === 0 ? true : undefined;
        },
        30_000,
      );
      expect(ended).toBe(true);
      await new Promise((r) => setTimeout(r, 1_000));
      const jobs = (await captureJobs()).filter((j) => j.serverId === id);
      expect(jobs.filter((j) => j.status === 'queued' || j.status === 'running')).toHaveLength(0);
      expect(jobs.some((j) => j.error?.code === 'AGENT_CAPTURE_SWITCHED_OFF')).toBe(true);
    }, 60_000);
  });
}
