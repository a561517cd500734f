/**
 * Agents known to the control plane: each `dbtrail agent` (and each embedded agent of a `dbtrail server`) is
 * recorded when it first calls in and its `lastSeenAt` moves on every claim and heartbeat, so every server replica
 * answers `GET /api/v1/agents` the same. A remote agent belongs to its API key's tenant; an embedded agent serves
 * every tenant and has no tenant (`tenantId` null). Agent ids are chosen by the agents, so they are unique per
 * tenant only: one tenant cannot overwrite another's record by choosing the same id.
 */
export interface AgentRecord {
  readonly id: string;
  /** Null for an embedded agent. */
  readonly tenantId: string | null;
  readonly labels: readonly string[];
  readonly hostname: string | null;
  /** The dbtrail version the agent runs. */
  readonly version: string | null;
  readonly registeredAt: Date;
  readonly lastSeenAt: Date;
}

export interface AgentSighting {
  readonly id: string;
  readonly tenantId: string | null;
  readonly labels: readonly string[];
  readonly hostname?: string | null;
  readonly version?: string | null;
}

export interface AgentRepository {
  /** Records the agent (created on first sight; labels, host and version replaced) as seen now. */
  seen(agent: AgentSighting): Promise<AgentRecord>;
  /** Most recently seen first. With `tenantId`, that tenant's agents and the embedded ones. */
  list(filter?: { readonly tenantId?: string; readonly limit?: number }): Promise<readonly AgentRecord[]>;
  /** Forgets agents not seen since `before` (ids are random per process, so old ones pile up); returns how many. */
  forget(before: Date): Promise<number>;
}
