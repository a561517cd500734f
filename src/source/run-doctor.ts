import { connectSource } from './connect.js';
import type { ResolvedDsn } from './dsn.js';
import { evaluateDoctor, type DoctorReport } from './doctor.js';
import { probeServer } from './server-facts.js';

/** Connects, probes and evaluates: the service behind `dbtrail doctor`. */
export async function runDoctor(dsn: ResolvedDsn): Promise<DoctorReport> {
  const conn = await connectSource(dsn);
  try {
    return evaluateDoctor(await probeServer(conn));
  } finally {
    await conn.close();
  }
}
