import { newId } from '../../store/ids.js';
import { SCHEDULE_TOOLS } from '../../store/schedules.js';
import { serverPasswordContext, type ServerPatch, type ServerRecord } from '../../store/servers.js';
import { principalOf } from '../context.js';
import { empty, json } from '../response.js';
import { route, type Route } from '../router.js';
import {
  array,
  boolean,
  enumOf,
  integer,
  nullable,
  object,
  optional,
  string,
  type Infer,
} from '../schema.js';
import { SERVER_NAME_PATTERN, SERVER_NAME_RULE, storeCall, type RouteDeps } from './common.js';
import { serverHealthJson, type ServerHealthJson } from './health.js';

/**
 * `/api/v1/servers`: the tracked MySQL/MariaDB servers of the caller's tenant. The password is sealed with the
 * install's secret box before it reaches the store and is never part of a response: responses say only
 * `has_password`.
 */
const name = string({
  pattern: SERVER_NAME_PATTERN,
  patternDescription: SERVER_NAME_RULE,
  description: 'Used in object paths; unique within the tenant',
});
const host = string({
  minLength: 1,
  maxLength: 255,
  pattern: /^[A-Za-z0-9._:%-]+$/,
  patternDescription: 'a host name or IP address',
});
const port = integer({ min: 1, max: 65535 });
// MariaDB allows user names of up to 80 characters, MySQL 32.
const user = string({ minLength: 1, maxLength: 80 });
const password = string({ maxLength: 1024, secret: true, description: 'Stored encrypted; never returned' });

/** Agents pass their labels as command-line flags; a label with spaces or quotes could never be matched there. */
const LABEL_PATTERN = /^[A-Za-z0-9._:=/-]+$/;
const TLS_MODES = ['off', 'preferred', 'required'] as const;

const defaults = object(
  {
    tool: optional(enumOf(SCHEDULE_TOOLS)),
    threads: optional(integer({ min: 1, max: 64, description: 'mydumper threads' })),
    databases: optional(array(string({ minLength: 1, maxLength: 64 }), { maxItems: 1000 })),
    labels: optional(
      array(
        string({
          minLength: 1,
          maxLength: 100,
          pattern: LABEL_PATTERN,
          patternDescription: 'letters, digits, ".", "_", ":", "=", "/" or "-", without spaces',
        }),
        {
          maxItems: 50,
          description:
            'Agents that may back this server up: only those carrying every one of these labels (any agent when empty)',
        },
      ),
    ),
    capture: optional(
      boolean({
        description:
          "Capture this server's binlog continuously into the change index: one stream, held by one eligible agent at a time",
      }),
    ),
    tls: optional(
      enumOf(TLS_MODES, {
        description: 'TLS to the server: off, preferred (the default: used when offered) or required',
      }),
    ),
  },
  { description: 'Defaults for backups of this server' },
);

const createBody = object({
  name,
  connection: object({
    host,
    port: optional(port, 3306),
    user,
    password: optional(password),
  }),
  defaults: optional(defaults),
});

const patchBody = object({
  name: optional(name),
  connection: optional(
    object({
      host: optional(host),
      port: optional(port),
      user: optional(user),
      password: optional(nullable(password)),
    }),
  ),
  defaults: optional(defaults),
});

export const serverParams = object({ server_id: string({ format: 'uuid' }) });

/** The public JSON form of a server. Never carries the password. */
export interface ServerJson {
  readonly id: string;
  readonly name: string;
  readonly connection: {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly has_password: boolean;
  };
  readonly defaults: Readonly<Record<string, unknown>>;
  /** The worst health of its schedules; `unprotected` without an enabled one: src/scheduler/health.ts. */
  readonly health: ServerHealthJson;
  readonly created_at: string;
  readonly updated_at: string;
}

export function serverToJson(s: ServerRecord, health: ServerHealthJson): ServerJson {
  return {
    id: s.id,
    name: s.name,
    connection: { host: s.host, port: s.port, user: s.username, has_password: s.hasPassword },
    defaults: s.defaults,
    health,
    created_at: s.createdAt.toISOString(),
    updated_at: s.updatedAt.toISOString(),
  };
}

export function serverRoutes(deps: RouteDeps): Route[] {
  const { store, secrets } = deps;
  const tags = ['servers'];

  /** The servers' JSON with their health, from the tenant's schedules (read once for the whole list). */
  const render = async (tenantId: string, servers: readonly ServerRecord[]): Promise<ServerJson[]> => {
    const schedules =
      servers.length === 1
        ? await store.schedules.list({ tenantId, serverId: servers[0]!.id })
        : await store.schedules.list({ tenantId });
    const health = await serverHealthJson(
      deps,
      servers.map((s) => s.id),
      schedules,
    );
    return servers.map((s) => serverToJson(s, health.get(s.id)!));
  };
  const renderOne = async (server: ServerRecord): Promise<ServerJson> =>
    (await render(server.tenantId, [server]))[0]!;

  return [
    route({
      method: 'POST',
      path: '/api/v1/servers',
      operationId: 'createServer',
      summary: 'Register a server',
      tags,
      body: createBody,
      responses: { 201: { description: 'The registered server' } },
      async handle({ body }, ctx) {
        const { tenantId } = principalOf(ctx);
        const id = newId();
        const c = body.connection;
        const record = await storeCall(`server "${body.name}"`, () =>
          store.servers.create({
            id,
            tenantId,
            name: body.name,
            host: c.host,
            port: c.port,
            username: c.user,
            passwordCiphertext:
              c.password === undefined ? null : secrets.seal(c.password, serverPasswordContext(id)),
            defaults: body.defaults ?? {},
          }),
        );
        return json(await renderOne(record), 201, { location: `/api/v1/servers/${record.id}` });
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/servers',
      operationId: 'listServers',
      summary: "The tenant's servers, by name",
      tags,
      responses: { 200: { description: '`{"servers": [...]}`' } },
      async handle(_input, ctx) {
        const { tenantId } = principalOf(ctx);
        const servers = await store.servers.list(tenantId);
        return json({ servers: await render(tenantId, servers) });
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/servers/{server_id}',
      operationId: 'getServer',
      summary: 'One server',
      tags,
      params: serverParams,
      responses: { 200: { description: 'The server' } },
      async handle({ params }, ctx) {
        const { tenantId } = principalOf(ctx);
        const record = await storeCall(`server ${params.server_id}`, () =>
          store.servers.get(params.server_id, { tenantId }),
        );
        return json(await renderOne(record));
      },
    }),
    route({
      method: 'PATCH',
      path: '/api/v1/servers/{server_id}',
      operationId: 'updateServer',
      summary: 'Change a server: fields given are replaced, others stay; a null password removes it',
      tags,
      params: serverParams,
      body: patchBody,
      responses: { 200: { description: 'The server as it is now' } },
      async handle({ params, body }, ctx) {
        const { tenantId } = principalOf(ctx);
        const id = params.server_id;
        const record = await storeCall(`server ${id}`, () =>
          store.servers.update(
            id,
            patchOf(body, (p) => secrets.seal(p, serverPasswordContext(id))),
            {
              tenantId,
            },
          ),
        );
        return json(await renderOne(record));
      },
    }),
    route({
      method: 'DELETE',
      path: '/api/v1/servers/{server_id}',
      operationId: 'deleteServer',
      summary: 'Remove a server with its schedules; its backups stay in the history',
      tags,
      params: serverParams,
      responses: { 204: { description: 'Removed' }, 409: { description: 'A job of the server is active' } },
      async handle({ params }, ctx) {
        const { tenantId } = principalOf(ctx);
        await storeCall(`server ${params.server_id}`, () =>
          store.servers.delete(params.server_id, { tenantId }),
        );
        return empty();
      },
    }),
  ];
}

function patchOf(body: Infer<typeof patchBody>, seal: (password: string) => Uint8Array): ServerPatch {
  const c = body.connection;
  return {
    ...(body.name === undefined ? {} : { name: body.name }),
    ...(c?.host === undefined ? {} : { host: c.host }),
    ...(c?.port === undefined ? {} : { port: c.port }),
    ...(c?.user === undefined ? {} : { username: c.user }),
    ...(c?.password === undefined
      ? {}
      : { passwordCiphertext: c.password === null ? null : seal(c.password) }),
    ...(body.defaults === undefined ? {} : { defaults: body.defaults }),
  };
}
