import { messageOf } from '../lib/errors.js';
import type {
  BackupCatalog,
  BackupFacts,
  BackupRecord,
  BackupStatus,
  TransitionChanges,
} from '../store/catalog.js';
import type { JobKind, JobRecord } from '../store/jobs.js';
import type { ChangeIndex } from '../store/change-index.js';
import {
  checkpointFromJson,
  commitBatchToJson,
  commitResultFromJson,
  coordinatesToJson,
  statsFromJson,
  tableSchemaFromJson,
} from './capture-wire.js';
import { ControlPlaneError } from './errors.js';
import { JobScopedCatalog } from './job-catalog.js';
import { JobScopedChangeIndex } from './job-change-index.js';
import type { AgentIdentity, AgentLink, JobOutcome, ServerConnection, ServerFactsReport } from './link.js';
import { backupFromJson, jobFromJson } from './wire.js';

/**
 * A remote agent's link: the agent routes of a `dbtrail server` (/api/v1/agent/*), authenticated with a tenant's
 * API key. Errors keep the server's stable code (STORE_LEASE_LOST stays STORE_LEASE_LOST), so the worker reacts to
 * a lost lease the same way embedded and remote.
 */
export interface HttpAgentLinkOptions {
  /** The server's base URL, e.g. `https://dbtrail.example.com`. */
  readonly url: string;
  /** A `bt_live_` API key. Sent only in the Authorization header, never logged. */
  readonly key: string;
  /** Per request (default 30 s). */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

export class HttpAgentLink implements AgentLink {
  readonly #base: URL;
  readonly #key: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: HttpAgentLinkOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new ControlPlaneError(
        `Cannot use server URL "${options.url}": expected http://host:port or https://host`,
        {
          code: 'AGENT_SERVER_URL_INVALID',
          kind: 'input',
        },
      );
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new ControlPlaneError(`Cannot use server URL "${options.url}": expected http:// or https://`, {
        code: 'AGENT_SERVER_URL_INVALID',
        kind: 'input',
      });
    }
    this.#base = base;
    this.#key = options.key;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#fetch = options.fetch ?? fetch;
  }

  async claim(
    agent: AgentIdentity,
    kinds: readonly JobKind[],
    leaseMs: number,
  ): Promise<JobRecord | undefined> {
    const body = await this.#call('POST', 'claim', {
      agent_id: agent.agentId,
      labels: agent.labels,
      kinds,
      lease_ms: leaseMs,
    });
    const job = (body as { job?: unknown } | undefined)?.job;
    return job === null || job === undefined ? undefined : jobFromJson(job);
  }

  /** Records the agent with the control plane as it starts; fails fast on a wrong URL or key. */
  async register(
    agent: AgentIdentity,
    info: { readonly hostname: string; readonly version: string },
  ): Promise<void> {
    await this.#call('POST', 'register', {
      agent_id: agent.agentId,
      labels: agent.labels,
      hostname: info.hostname,
      version: info.version,
    });
  }

  async heartbeat(jobId: string, agentId: string, leaseMs: number): Promise<void> {
    await this.#call('POST', `jobs/${enc(jobId)}/heartbeat`, { agent_id: agentId, lease_ms: leaseMs });
  }

  async finish(jobId: string, agentId: string, outcome: JobOutcome): Promise<void> {
    await this.#call('POST', `jobs/${enc(jobId)}/finish`, {
      agent_id: agentId,
      status: outcome.status,
      ...(outcome.status === 'failed' ? { error: outcome.error } : {}),
    });
  }

  async connection(jobId: string, agentId: string): Promise<ServerConnection> {
    const o = (await this.#call('POST', `jobs/${enc(jobId)}/connection`, { agent_id: agentId })) as Record<
      string,
      unknown
    >;
    const s = (k: string): string => {
      const v = o[k];
      if (typeof v !== 'string') throw protocol(k);
      return v;
    };
    const port = o['port'];
    const password = o['password'];
    const defaults = o['defaults'];
    if (typeof port !== 'number') throw protocol('port');
    if (password !== null && typeof password !== 'string') throw protocol('password');
    return {
      serverId: s('server_id'),
      serverName: s('server_name'),
      tenantId: s('tenant_id'),
      tenantName: s('tenant_name'),
      host: s('host'),
      port,
      username: s('username'),
      password,
      defaults:
        typeof defaults === 'object' && defaults !== null
          ? (defaults as Readonly<Record<string, unknown>>)
          : {},
    };
  }

  catalogFor(jobId: string, agentId: string): BackupCatalog {
    const path = `jobs/${enc(jobId)}/backup`;
    return new JobScopedCatalog(jobId, {
      get: async () => backupFromJson(await this.#call('GET', `${path}?agent_id=${enc(agentId)}`)),
      transition: async (to: BackupStatus, changes: TransitionChanges): Promise<BackupRecord> =>
        backupFromJson(
          await this.#call('POST', `${path}/transition`, { agent_id: agentId, to, ...factsJson(changes) }),
        ),
      record: async (facts: BackupFacts): Promise<BackupRecord> =>
        backupFromJson(await this.#call('POST', `${path}/facts`, { agent_id: agentId, ...factsJson(facts) })),
    });
  }

  async reportFacts(jobId: string, agentId: string, facts: ServerFactsReport): Promise<void> {
    await this.#call('POST', `jobs/${enc(jobId)}/server-facts`, {
      agent_id: agentId,
      binlog_retention_seconds: facts.binlogRetentionSeconds,
      flavor: facts.flavor,
      version: facts.version,
    });
  }

  changeIndexFor(jobId: string, agentId: string, serverId: string): ChangeIndex {
    const path = `jobs/${enc(jobId)}/capture`;
    return new JobScopedChangeIndex(jobId, serverId, {
      checkpoint: async () =>
        checkpointFromJson(
          (
            (await this.#call('POST', `${path}/checkpoint`, { agent_id: agentId })) as {
              checkpoint?: unknown;
            }
          )?.checkpoint,
        ),
      commit: async (batch) =>
        commitResultFromJson(
          await this.#call('POST', `${path}/commit`, { agent_id: agentId, batch: commitBatchToJson(batch) }),
        ),
      tableSchemaAt: async (schema, table, at) => {
        const body = (await this.#call('POST', `${path}/table-schema`, {
          agent_id: agentId,
          schema,
          table,
          ...(at.seq !== undefined ? { seq: at.seq.toString() } : {}),
          ...(at.coordinates !== undefined ? { coordinates: coordinatesToJson(at.coordinates) } : {}),
        })) as { entry?: unknown } | undefined;
        const entry = body?.entry;
        return entry === null || entry === undefined ? undefined : tableSchemaFromJson(entry, 'entry');
      },
      stats: async () => statsFromJson(await this.#call('POST', `${path}/stats`, { agent_id: agentId })),
    });
  }

  async #call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const url = new URL(
      `api/v1/agent/${path}`,
      this.#base.href.endsWith('/') ? this.#base : `${this.#base.href}/`,
    );
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.#key}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new ControlPlaneError(
        `Cannot reach the control plane at ${this.#base.origin}: ${messageOf(err)}`,
        {
          cause: err,
          fields: { server: this.#base.origin },
        },
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      parsed = undefined;
    }
    if (response.ok) return parsed;
    const error = (parsed as { error?: { code?: unknown; message?: unknown; fields?: unknown } } | undefined)
      ?.error;
    const code = typeof error?.code === 'string' ? error.code : 'AGENT_CONTROL_PLANE_FAILED';
    const message =
      typeof error?.message === 'string'
        ? error.message
        : `Cannot use the control plane at ${this.#base.origin}: ${method} ${url.pathname} answered ${response.status}`;
    throw new ControlPlaneError(message, {
      code,
      kind: kindOf(response.status),
      status: response.status,
      fields:
        typeof error?.fields === 'object' && error.fields !== null
          ? (error.fields as Record<string, unknown>)
          : { status: response.status },
    });
  }
}

function kindOf(status: number): 'auth' | 'conflict' | 'not_found' | 'input' | 'internal' | 'connection' {
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 429 || status === 503) return 'connection';
  if (status >= 400 && status < 500) return 'input';
  return 'internal';
}

function enc(part: string): string {
  return encodeURIComponent(part);
}

function protocol(field: string): ControlPlaneError {
  return new ControlPlaneError(
    `Cannot read the server connection from the control plane: field "${field}" is missing or of the wrong type`,
    { code: 'AGENT_PROTOCOL_INVALID', kind: 'internal', fields: { field } },
  );
}

/** Backup facts and transition changes in the protocol's snake_case. */
export function factsJson(c: TransitionChanges): Record<string, unknown> {
  return {
    ...(c.tool !== undefined ? { tool: c.tool } : {}),
    ...(c.toolVersion !== undefined ? { tool_version: c.toolVersion } : {}),
    ...(c.coordinates !== undefined
      ? {
          coordinates: {
            file: c.coordinates.file,
            position: c.coordinates.position,
            gtid: c.coordinates.gtid,
          },
        }
      : {}),
    ...(c.sizeBytes !== undefined ? { size_bytes: c.sizeBytes } : {}),
    ...(c.location !== undefined ? { location: c.location } : {}),
    ...(c.localDir !== undefined ? { local_dir: c.localDir } : {}),
    ...(c.error !== undefined ? { error: { code: c.error.code, message: c.error.message } } : {}),
  };
}
