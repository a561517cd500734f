import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { ObjectStore } from '../objects/store.js';
import type { BinlogArchiveRepository } from '../store/binlog-archive.js';
import { BinlogArchiver } from './archiver.js';

/** `<tenant>/<server-name>`: where a server's objects live; its segments go under `<that>/binlogs/`. */
export function archiveBase(tenant: string, serverName: string): string {
  return `${tenant}/${serverName}`;
}

/** The local spool directory of a server's archive: `<home>/archive-spool/<server id>`. */
export function spoolDirOf(home: string, serverId: string): string {
  return join(home, 'archive-spool', serverId);
}

/** Opens the archive of one server with the settings of `config.archive` (validated by the config loader). */
export function openServerArchive(input: {
  readonly config: Pick<Config, 'home' | 'archive'>;
  readonly catalog: BinlogArchiveRepository;
  readonly objects: ObjectStore;
  readonly tenant: string;
  readonly serverName: string;
  readonly serverId: string;
  readonly logger: Logger;
}): Promise<BinlogArchiver> {
  const { config } = input;
  return BinlogArchiver.open({
    serverId: input.serverId,
    base: archiveBase(input.tenant, input.serverName),
    objects: input.objects,
    catalog: input.catalog,
    spoolDir: spoolDirOf(config.home, input.serverId),
    intervalMs: Math.round(Number(config.archive.intervalSeconds) * 1000),
    maxSegmentBytes: Math.round(Number(config.archive.maxSegmentMb) * 1024 * 1024),
    logger: input.logger,
  });
}
