import { ObjectNotFoundError } from '../objects/errors.js';
import type { ObjectStore } from '../objects/store.js';
import { backupKey, listPrefix } from './layout.js';
import { MANIFEST_FILE, type Manifest } from './manifest.js';
import { ManifestError } from './errors.js';
import { checkManifestSignature, type SignatureStatus, type TrustedKeys } from './signing.js';
import {
  DEFAULT_CONCURRENCY,
  hashObject,
  readRemoteManifest,
  runPool,
  type TransferProgress,
} from './transfer.js';

export interface VerifyOptions {
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: TransferProgress) => void;
  /** Keys whose manifest signatures are accepted (`loadTrustedKeys`); none when omitted. */
  readonly trustedKeys?: TrustedKeys;
  /** Treat an unsigned (version 1) manifest as a failure, not only a remark. */
  readonly requireSignature?: boolean;
}

export type FileVerifyStatus = 'ok' | 'missing' | 'corrupt';

export interface FileVerifyResult {
  readonly path: string;
  readonly status: FileVerifyStatus;
  readonly expectedSize: number;
  readonly expectedSha256: string;
  /** What the stored object holds; absent when it is missing. */
  readonly actualSize?: number;
  readonly actualSha256?: string;
}

export interface VerifyResult {
  /** True only when the manifest is present and valid and every file is present and intact, with no extras. */
  readonly ok: boolean;
  readonly location: string;
  readonly backupId: string | undefined;
  /** `missing`: the backup never finished uploading (the manifest is written last). */
  readonly manifest: 'ok' | 'missing' | 'invalid';
  readonly manifestProblem?: string;
  /**
   * The manifest signature (src/backup/signing.ts): `valid`, `unsigned` (a version 1 manifest, from before
   * signing: not a failure unless `requireSignature`, since its checksums still bind the files), `invalid` (the
   * manifest was modified after signing) or `unknown_key` (signed by a key not trusted here); `not_checked` when
   * the manifest could not be read. When the signature is `invalid` or `unknown_key` no file is read: sizes and
   * checksums from an untrusted manifest prove nothing.
   */
  readonly signature: SignatureStatus | 'not_checked';
  readonly signatureKeyId?: string;
  readonly signatureProblem?: string;
  readonly files: readonly FileVerifyResult[];
  /** Files the manifest lists whose object is absent. */
  readonly missing: readonly string[];
  /** Files whose object has another size or SHA-256 than the manifest records. */
  readonly corrupt: readonly string[];
  /** Objects under the backup's prefix that the manifest does not list. */
  readonly extra: readonly string[];
  readonly bytesRead: number;
}

/**
 * Re-reads every object of a backup and checks it against the manifest: size and SHA-256 of the stored bytes.
 * Reports problems by file name in the result rather than throwing; throws only when the store itself fails (an
 * unreachable endpoint, rejected credentials), because then nothing can be concluded.
 */
export async function verifyBackup(
  store: ObjectStore,
  prefix: string,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const location = prefix === '' ? store.url : `${store.url}/${prefix}`;
  const signal = options.signal;
  const listed = new Map<string, number>();
  const base = listPrefix(prefix);
  for await (const entry of store.list(base, signal !== undefined ? { signal } : {})) {
    listed.set(entry.key.slice(base.length), entry.size);
  }

  let remote: { manifest: Manifest; bytes: Buffer } | undefined;
  try {
    remote = await readRemoteManifest(store, prefix, signal);
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    return unreadable(location, 'invalid', err.message, listed);
  }
  if (remote === undefined) {
    return unreadable(
      location,
      'missing',
      `no ${MANIFEST_FILE} at ${location}: the upload never finished`,
      listed,
    );
  }
  const { manifest } = remote;

  const sig = checkManifestSignature(remote.bytes, options.trustedKeys ?? { keys: new Set() });
  const sigFields = {
    signature: sig.status,
    ...(sig.keyId !== undefined ? { signatureKeyId: sig.keyId } : {}),
    ...(sig.problem !== undefined ? { signatureProblem: sig.problem } : {}),
  };
  if (sig.status === 'invalid' || sig.status === 'unknown_key') {
    return {
      ok: false,
      location,
      backupId: manifest.backup_id,
      manifest: 'ok',
      ...sigFields,
      files: [],
      missing: [],
      corrupt: [],
      extra: [],
      bytesRead: 0,
    };
  }
  const signatureOk = sig.status === 'valid' || options.requireSignature !== true;

  const bytesTotal = manifest.files.filter((f) => listed.has(f.path)).reduce((s, f) => s + f.size, 0);
  let bytesRead = 0;
  options.onProgress?.({ bytesDone: 0, bytesTotal });
  const results = new Map<string, FileVerifyResult>();
  await runPool(
    manifest.files,
    options.concurrency ?? DEFAULT_CONCURRENCY,
    async (file) => {
      const expected = { path: file.path, expectedSize: file.size, expectedSha256: file.sha256 };
      if (!listed.has(file.path)) {
        results.set(file.path, { ...expected, status: 'missing' });
        return;
      }
      let actual: { size: number; sha256: string };
      try {
        actual = await hashObject(store, backupKey(prefix, file.path), {
          ...(signal !== undefined ? { signal } : {}),
          onBytes: (n) => {
            bytesRead += n;
            options.onProgress?.({ bytesDone: bytesRead, bytesTotal, path: file.path });
          },
        });
      } catch (err) {
        // Deleted between the listing and the read.
        if (err instanceof ObjectNotFoundError) {
          results.set(file.path, { ...expected, status: 'missing' });
          return;
        }
        throw err;
      }
      const intact = actual.size === file.size && actual.sha256 === file.sha256;
      results.set(file.path, {
        ...expected,
        status: intact ? 'ok' : 'corrupt',
        actualSize: actual.size,
        actualSha256: actual.sha256,
      });
    },
    signal,
  );

  const files = manifest.files.map((f) => results.get(f.path) as FileVerifyResult);
  const known = new Set([MANIFEST_FILE, ...manifest.files.map((f) => f.path)]);
  const missing = files.filter((f) => f.status === 'missing').map((f) => f.path);
  const corrupt = files.filter((f) => f.status === 'corrupt').map((f) => f.path);
  const extra = [...listed.keys()].filter((k) => !known.has(k)).sort();
  return {
    ok: signatureOk && missing.length === 0 && corrupt.length === 0 && extra.length === 0,
    location,
    backupId: manifest.backup_id,
    manifest: 'ok',
    ...sigFields,
    files,
    missing,
    corrupt,
    extra,
    bytesRead,
  };
}

function unreadable(
  location: string,
  manifest: 'missing' | 'invalid',
  problem: string,
  listed: ReadonlyMap<string, number>,
): VerifyResult {
  return {
    ok: false,
    location,
    backupId: undefined,
    manifest,
    manifestProblem: problem,
    signature: 'not_checked',
    files: [],
    missing: [],
    corrupt: [],
    // Without a manifest nothing is known to belong; every object is listed so the report shows what is there.
    extra: [...listed.keys()].filter((k) => k !== MANIFEST_FILE).sort(),
    bytesRead: 0,
  };
}

/** A one-line-per-problem description of a verify result, for messages and the CLI. */
export function describeVerifyProblems(result: VerifyResult): string[] {
  const lines: string[] = [];
  if (result.manifest !== 'ok')
    lines.push(`manifest ${result.manifest}: ${result.manifestProblem ?? ''}`.trim());
  if (result.signature === 'invalid' || result.signature === 'unknown_key')
    lines.push(`signature ${result.signature.replace('_', ' ')}: ${result.signatureProblem ?? ''}`.trim());
  for (const f of result.files) {
    if (f.status === 'missing') lines.push(`missing: ${f.path}`);
    if (f.status === 'corrupt') {
      const why =
        f.actualSize !== f.expectedSize
          ? `size is ${f.actualSize} bytes, expected ${f.expectedSize}`
          : `SHA-256 is ${f.actualSha256}, expected ${f.expectedSha256}`;
      lines.push(`corrupt: ${f.path} (${why})`);
    }
  }
  for (const path of result.extra) lines.push(`extra: ${path}`);
  return lines;
}
