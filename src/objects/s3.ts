import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type PutObjectCommandInput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { messageOf, type ErrorKind } from '../lib/errors.js';
import { DigestStream, sha256Hex } from './digest.js';
import { ObjectIntegrityError, ObjectNotFoundError, ObjectStoreError } from './errors.js';
import {
  isSha256Hex,
  joinKey,
  validateKey,
  validatePrefix,
  type GetOptions,
  type ObjectEntry,
  type ObjectHead,
  type ObjectStore,
  type PutOptions,
  type PutResult,
} from './store.js';

/** Settings of the S3 store; `Config['s3']` fits it. Credentials come from the standard AWS chain unless given. */
export interface S3StoreConfig {
  /** Endpoint URL of an S3-compatible store; undefined for AWS. */
  readonly endpoint?: string | undefined;
  readonly region: string;
  /** Path-style addressing (`http://host/bucket/key`), which most S3-compatible stores need. */
  readonly forcePathStyle: boolean;
  /** Server-side encryption: `AES256` (S3-managed keys) or `aws:kms`; undefined leaves it to the bucket policy. */
  readonly sse?: string | undefined;
  /** KMS key id for `aws:kms`; undefined uses the account's default S3 KMS key. */
  readonly sseKmsKeyId?: string | undefined;
  /** Explicit credentials, for tests and embedding; the CLI relies on the AWS chain (env, profile, IMDS, ...). */
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /** Multipart part size in bytes (S3 minimum 5 MiB). */
  readonly partSize?: number;
  /**
   * Bodies of a known size up to this many bytes go in one streamed PUT; larger ones in a multipart upload
   * (default 64 MiB, at most 5 GiB: S3's limit for one PUT).
   */
  readonly singlePutMaxBytes?: number;
  /** Parts uploaded in parallel per object. */
  readonly queueSize?: number;
  /** Attempts per request, with exponential backoff and jitter between them (the SDK's standard retry mode). */
  readonly maxAttempts?: number;
}

/** The object metadata entry (header `x-amz-meta-sha256`) holding the SHA-256 of the object's bytes. */
export const SHA256_METADATA = 'sha256';

export const DEFAULT_PART_SIZE = 16 * 1024 * 1024;
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const DEFAULT_SINGLE_PUT_MAX_BYTES = 64 * 1024 * 1024;
const MAX_SINGLE_PUT_BYTES = 5 * 1024 * 1024 * 1024;
/** SigV4's header for the SHA-256 of the payload, which the signer signs and S3 checks the body against. */
const PAYLOAD_HASH_HEADER = 'x-amz-content-sha256';
const DEFAULT_QUEUE_SIZE = 4;
const DEFAULT_MAX_ATTEMPTS = 5;

/**
 * An object store in an S3 bucket under a key prefix. S3 publishes an object only when its upload completes, and a
 * body whose size or SHA-256 differs from the expected one fails before completion. Two ways up:
 * - A body of known size up to `singlePutMaxBytes` streams in one PUT, without being buffered. When its SHA-256 is
 *   known (the manifest has it) it is sent as the signed payload hash, so S3 itself rejects any other bytes and
 *   neither the SDK nor we hash the body a second time; otherwise the payload is sent unsigned (as the SDK does
 *   for every stream) and our own digest check guards it. The SDK cannot retry a streamed body: callers retry.
 * - Larger bodies (and bodies of unknown size) go through lib-storage: a multipart upload with `queueSize` parts
 *   of `partSize` bytes in flight, each buffered, signed with its own SHA-256 and retried by the SDK.
 * The SDK's own CRC32 checksums are turned off (`WHEN_REQUIRED`): they would hash every byte once more, and S3
 *   already verifies each request's payload hash.
 */
export class S3ObjectStore implements ObjectStore {
  readonly url: string;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #config: Readonly<S3StoreConfig>;
  readonly #client: S3Client;

  constructor(bucket: string, prefix: string, config: S3StoreConfig) {
    this.#bucket = bucket;
    this.#prefix = joinKey(validatePrefix(prefix));
    this.#config = Object.freeze({ ...config });
    this.url = this.#prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${this.#prefix}`;
    const clientConfig: S3ClientConfig = {
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      maxAttempts: config.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      retryMode: 'standard',
      ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
      ...(config.credentials !== undefined ? { credentials: { ...config.credentials } } : {}),
      // The SDK's default CRC32 trailers use aws-chunked encoding, which many S3-compatible stores reject, and cost
      // one more pass over every byte; S3 verifies the signed payload hash of each PUT and part, and our own
      // SHA-256 covers integrity end to end (verify and fetch re-read it), so checksums go only where required.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // A streamed PUT that fails is not retried by the SDK, which then warns on the console when it has no
      // logger; the caller retries and reports it.
      logger: SILENT_LOGGER,
    };
    this.#client = new S3Client(clientConfig);
  }

  get #singlePutMax(): number {
    return Math.min(this.#config.singlePutMaxBytes ?? DEFAULT_SINGLE_PUT_MAX_BYTES, MAX_SINGLE_PUT_BYTES);
  }

  get bucket(): string {
    return this.#bucket;
  }

  get prefix(): string {
    return this.#prefix;
  }

  async put(key: string, body: Readable | Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    validateKey(key);
    // The checksum goes into the object's metadata, which S3 takes before the body: use the caller's, or compute
    // it when the whole body is at hand. A streamed body without one is stored without a recorded checksum.
    let sha256 = options.sha256;
    if (sha256 === undefined && !(body instanceof Readable)) sha256 = sha256Hex(body);
    const digest = new DigestStream({
      subject: `object "${key}"`,
      ...(options.onBytes !== undefined ? { onBytes: options.onBytes } : {}),
      ...(options.size !== undefined ? { size: options.size } : {}),
      ...(sha256 !== undefined ? { sha256 } : {}),
    });
    const source =
      body instanceof Readable
        ? body
        : Readable.from([Buffer.from(body.buffer, body.byteOffset, body.byteLength)]);
    // The first stream failure is the real cause: lib-storage may replace it with a failure to abort the multipart
    // upload (which some S3-compatible stores do not implement).
    let streamError: unknown;
    const abortController = new AbortController();
    digest.on('error', (err) => {
      streamError ??= err;
      // The SDK pipes a streamed body into the request, and a pipe does not pass errors on: without this the
      // request would wait for the rest of its Content-Length forever.
      abortController.abort();
    });
    source.on('error', (err) => digest.destroy(err));
    source.pipe(digest);

    const params: PutObjectCommandInput = {
      Bucket: this.#bucket,
      Key: this.#key(key),
      Body: digest,
      ...(options.size !== undefined ? { ContentLength: options.size } : {}),
      ...(options.contentType !== undefined ? { ContentType: options.contentType } : {}),
      ...(sha256 !== undefined && isSha256Hex(sha256) ? { Metadata: { [SHA256_METADATA]: sha256 } } : {}),
      ...this.#sseParams(),
    };
    const onAbort = (): void => abortController.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const size = options.size ?? (body instanceof Readable ? undefined : body.byteLength);
    try {
      if (options.signal?.aborted === true) throw options.signal.reason;
      // An empty body goes through lib-storage, which reads the whole (empty) stream before sending anything: a
      // PUT with Content-Length 0 could complete before the digest check of a stream that is not empty after all.
      if (size !== undefined && size > 0 && size <= this.#singlePutMax) {
        const command = new PutObjectCommand({ ...params, ContentLength: size });
        if (sha256 !== undefined && isSha256Hex(sha256)) {
          const hash = sha256;
          command.middlewareStack.add(
            (next) => (args) => {
              const request = args.request as { headers?: Record<string, string> };
              if (request.headers !== undefined) request.headers[PAYLOAD_HASH_HEADER] = hash;
              return next(args);
            },
            { step: 'build', name: 'dbtrailPayloadHash' },
          );
        }
        await this.#client.send(command, { abortSignal: abortController.signal });
        // The request may finish as soon as the server has Content-Length bytes; the digest is settled only
        // when the source has ended, so wait for that before reporting success.
        await settled(digest);
      } else {
        const upload = new Upload({
          client: this.#client,
          params,
          partSize: this.#config.partSize ?? DEFAULT_PART_SIZE,
          queueSize: this.#config.queueSize ?? DEFAULT_QUEUE_SIZE,
          leavePartsOnError: false,
          abortController,
        });
        await upload.done();
      }
    } catch (err) {
      source.unpipe(digest);
      source.destroy();
      if (streamError instanceof ObjectIntegrityError) throw streamError;
      if (err instanceof ObjectIntegrityError) throw err;
      if (options.signal?.aborted === true) throw options.signal.reason ?? err;
      throw this.#failure('write', key, streamError ?? err);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    return { size: digest.size, sha256: digest.sha256 };
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    validateKey(key);
    try {
      const out = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }),
        signalOption(options),
      );
      if (!(out.Body instanceof Readable)) {
        throw new ObjectStoreError(
          `Cannot read object "${key}" from ${this.url}: the response has no body stream`,
          'internal',
        );
      }
      return out.Body;
    } catch (err) {
      throw this.#failure('read', key, err);
    }
  }

  async head(key: string, options: GetOptions = {}): Promise<ObjectHead | undefined> {
    validateKey(key);
    try {
      const out = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }),
        signalOption(options),
      );
      const sha256 = out.Metadata?.[SHA256_METADATA];
      return {
        size: out.ContentLength ?? 0,
        ...(sha256 !== undefined && isSha256Hex(sha256) ? { sha256 } : {}),
      };
    } catch (err) {
      const failure = this.#failure('inspect', key, err);
      // A missing key is an answer here; a missing bucket is still an error.
      if (failure instanceof ObjectNotFoundError && !isNoSuchBucket(err)) return undefined;
      throw failure;
    }
  }

  async *list(prefix: string, options: GetOptions = {}): AsyncIterable<ObjectEntry> {
    validatePrefix(prefix);
    const full = this.#prefix === '' ? prefix : `${this.#prefix}/${prefix}`;
    const strip = this.#prefix === '' ? 0 : this.#prefix.length + 1;
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: full,
            ...(token !== undefined ? { ContinuationToken: token } : {}),
          }),
          signalOption(options),
        );
      } catch (err) {
        throw this.#failure('list', prefix, err);
      }
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined) continue;
        yield { key: item.Key.slice(strip), size: item.Size ?? 0 };
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async delete(key: string, options: GetOptions = {}): Promise<void> {
    validateKey(key);
    try {
      await this.#client.send(
        new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }),
        signalOption(options),
      );
    } catch (err) {
      const failure = this.#failure('delete', key, err);
      if (failure instanceof ObjectNotFoundError && !isNoSuchBucket(err)) return;
      throw failure;
    }
  }

  /** Releases the client's sockets. */
  close(): void {
    this.#client.destroy();
  }

  #key(key: string): string {
    return this.#prefix === '' ? key : `${this.#prefix}/${key}`;
  }

  #sseParams(): Pick<PutObjectCommandInput, 'ServerSideEncryption' | 'SSEKMSKeyId'> {
    const { sse, sseKmsKeyId } = this.#config;
    if (sse === 'AES256') return { ServerSideEncryption: 'AES256' };
    if (sse === 'aws:kms') {
      return {
        ServerSideEncryption: 'aws:kms',
        ...(sseKmsKeyId !== undefined ? { SSEKMSKeyId: sseKmsKeyId } : {}),
      };
    }
    return {};
  }

  #failure(action: string, key: string, err: unknown): ObjectStoreError | ObjectNotFoundError {
    if (err instanceof ObjectStoreError || err instanceof ObjectNotFoundError) return err;
    const e = (err ?? {}) as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: unknown } };
    const status = e.$metadata?.httpStatusCode;
    const name = typeof e.name === 'string' ? e.name : '';
    const where = `${this.url}`;
    if (isNoSuchBucket(err)) {
      return new ObjectNotFoundError(
        `Cannot ${action} object "${key}" in ${where}: bucket "${this.#bucket}" does not exist`,
        key,
        err,
      );
    }
    if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
      return new ObjectNotFoundError(
        `Cannot ${action} object "${key}" in ${where}: no such object`,
        key,
        err,
      );
    }
    const kind: ErrorKind = AUTH_ERRORS.has(name) || status === 403 || status === 401 ? 'auth' : 'connection';
    return new ObjectStoreError(`Cannot ${action} object "${key}" in ${where}: ${describe(err)}`, kind, {
      cause: err,
      fields: { key, url: this.url, ...(typeof status === 'number' ? { status } : {}) },
    });
  }
}

const AUTH_ERRORS = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'CredentialsProviderError',
]);

const SILENT_LOGGER = {
  trace: (): void => undefined,
  debug: (): void => undefined,
  info: (): void => undefined,
  warn: (): void => undefined,
  error: (): void => undefined,
};

/** Resolves once the stream's input has ended and been checked; rejects with its error. */
function settled(digest: DigestStream): Promise<void> {
  if (digest.verified || digest.writableFinished) return Promise.resolve();
  return new Promise((resolve, reject) => {
    digest.once('finish', resolve);
    digest.once('error', reject);
  });
}

function isNoSuchBucket(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === 'NoSuchBucket';
}

function describe(err: unknown): string {
  const e = err as { name?: unknown; code?: unknown } | null;
  const message = messageOf(err);
  const code =
    typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' && e.name !== 'Error' ? e.name : '';
  if (message === '' || message === 'UnknownError') return code === '' ? 'unknown error' : code;
  return code !== '' && !message.includes(code) ? `${message} (${code})` : message;
}

function signalOption(options: GetOptions): { abortSignal?: AbortSignal } {
  return options.signal !== undefined ? { abortSignal: options.signal } : {};
}
