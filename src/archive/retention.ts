import { compareCoordinates } from '../capture/coordinates.js';
import { messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import type { ObjectStore } from '../objects/store.js';
import type { BinlogArchiveRepository, BinlogSegment } from '../store/binlog-archive.js';
import { MAX_LIST_LIMIT, type BackupCatalog } from '../store/catalog.js';

/**
 * Retention of archive segments follows the backups they serve: a backup at coordinates C is restored by
 * replaying every transaction after C, i.e. the segments that end after C. A segment is deleted only when it ends
 * at or before the coordinates of the oldest successful backup the catalog still holds: then no kept backup can
 * replay it. Without any successful backup with coordinates, nothing is deleted. Pure.
 */
export function expiredSegments(
  segments: readonly BinlogSegment[],
  oldestKept: { readonly file: string; readonly position: number } | undefined,
): BinlogSegment[] {
  if (oldestKept === undefined) return [];
  return segments.filter(
    (s) => compareCoordinates({ file: s.file, position: s.endPosition }, oldestKept) <= 0,
  );
}

export interface SegmentRetentionResult {
  readonly deleted: number;
  readonly failed: number;
}

/**
 * Deletes the expired segments of one server: object first, then the catalog row, so that a failure half way
 * leaves a row pointing at what remains (retried on the next pass), never an object nobody knows about.
 */
export async function pruneSegments(input: {
  readonly tenantId: string;
  readonly serverId: string;
  readonly archive: Pick<BinlogArchiveRepository, 'list' | 'delete'>;
  readonly catalog: Pick<BackupCatalog, 'list'>;
  readonly objects: Pick<ObjectStore, 'delete'>;
  readonly logger: Logger;
}): Promise<SegmentRetentionResult> {
  const backups = await input.catalog.list({
    tenantId: input.tenantId,
    serverId: input.serverId,
    status: 'succeeded',
    limit: MAX_LIST_LIMIT,
  });
  let oldest: { file: string; position: number } | undefined;
  for (const b of backups) {
    if (b.coordinates === null) continue;
    if (oldest === undefined || compareCoordinates(b.coordinates, oldest) < 0) oldest = b.coordinates;
  }
  const expired = expiredSegments(await input.archive.list(input.serverId), oldest);
  let deleted = 0;
  let failed = 0;
  for (const s of expired) {
    try {
      await input.objects.delete(s.objectKey);
      const [result] = await input.archive.delete([s.id]);
      if (result !== undefined && !result.ok) throw result.error;
      deleted++;
    } catch (err) {
      failed++;
      input.logger.warn(
        { segmentId: s.id, objectKey: s.objectKey, error: messageOf(err) },
        'Cannot delete expired archive segment',
      );
    }
  }
  if (deleted > 0)
    input.logger.info({ serverId: input.serverId, deleted }, 'Expired archive segments deleted');
  return { deleted, failed };
}
