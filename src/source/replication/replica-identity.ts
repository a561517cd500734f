import { randomInt, randomUUID } from 'node:crypto';
import { ReplicaIdError } from './errors.js';

/**
 * Who the client says it is when it registers as a replica. Two replicas with the same server id (or, on MySQL,
 * the same UUID) make the source kill the older dump thread, and a replica with the source's own server id is
 * refused, so by default each stream draws a fresh id from the top half of the 32-bit range, where DBAs rarely
 * number real servers.
 */
export const REPLICA_ID_MIN = 0x8000_0000;
export const REPLICA_ID_MAX = 0xffff_fffe;

/**
 * The replica server id to use: `requested` when given (checked), else a random one in the high range. Never the
 * source's own server_id.
 */
export function chooseReplicaServerId(
  sourceServerId: string | number,
  requested?: number,
  draw: () => number = () => randomInt(REPLICA_ID_MIN, REPLICA_ID_MAX + 1),
): number {
  const source = Number(sourceServerId);
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 1 || requested > 0xffff_ffff) {
      throw new ReplicaIdError(
        `Cannot use replica server id ${requested}: expected an integer 1-4294967295`,
        {
          fields: { serverId: requested },
        },
      );
    }
    if (requested === source) {
      throw new ReplicaIdError(
        `Cannot use replica server id ${requested}: it is the source's own server_id (choose another with --server-id)`,
        { fields: { serverId: requested } },
      );
    }
    return requested;
  }
  for (;;) {
    const id = draw();
    if (id !== source) return id;
  }
}

/** A fresh replica UUID (MySQL `@replica_uuid`). */
export function newReplicaUuid(): string {
  return randomUUID();
}
