import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { readBinlogFile, readBinlogFileNdjson } from '../../binlog/file-reader.js';
import { renderText } from '../../binlog/render.js';
import { flagInt, flagString, type CommandSpec } from '../command.js';

/** Output is batched into writes of about this size; each write waits for 'drain' when the stream is full. */
const BATCH_BYTES = 64 * 1024;

export const binlogDecodeCommand: CommandSpec = {
  path: ['binlog', 'decode'],
  summary: 'Decode binlog files into one JSON object per event (or text), verifying checksums',
  flags: [
    {
      name: 'format',
      type: 'string',
      value: 'FORMAT',
      choices: ['ndjson', 'text'],
      description: 'Output format: ndjson (default) or text',
    },
    {
      name: 'from-pos',
      type: 'integer',
      value: 'N',
      min: 4,
      description: 'Start at this byte offset of the first file',
    },
    {
      name: 'stop-pos',
      type: 'integer',
      value: 'N',
      min: 4,
      description: 'Stop before this byte offset of the last file',
    },
  ],
  positionals: [
    { name: 'FILE', description: 'Binlog files, decoded in the order given', required: true, variadic: true },
  ],
  async run(ctx, args) {
    const text = flagString(args, 'format') === 'text';
    const fromPos = flagInt(args, 'from-pos');
    const stopPos = flagInt(args, 'stop-pos');
    const files = args.positionals;
    const out = new BatchedWriter(ctx.stdout);
    try {
      for (let i = 0; i < files.length; i++) {
        const file = files[i] as string;
        const options = {
          signal: ctx.signal,
          ...(i === 0 && fromPos !== undefined ? { fromPos } : {}),
          ...(i === files.length - 1 && stopPos !== undefined ? { stopPos } : {}),
        };
        if (text) {
          for await (const event of readBinlogFile(file, options)) await out.write(renderText(event));
        } else {
          // NDJSON comes from the decoder in large buffers, written without building row objects.
          // Each buffer is written (and the write completed) before the next is asked for, so the decoder may
          // write the next output over it.
          const ndjson = readBinlogFileNdjson(file, { ...options, reuseBuffers: true });
          for await (const chunk of ndjson) await out.writeBytes(chunk);
        }
      }
    } finally {
      // Whatever decoded before an error is printed before the error line.
      await out.flush();
    }
    return 0;
  },
};

/** Batches output into writes of about BATCH_BYTES, waiting for 'drain' whenever the stream is full. */
class BatchedWriter {
  #pending = '';
  readonly #stream: Writable;

  constructor(stream: Writable) {
    this.#stream = stream;
  }

  async write(text: string): Promise<void> {
    this.#pending += text;
    if (this.#pending.length >= BATCH_BYTES) await this.flush();
  }

  /** Writes a buffer as it is (after any pending text); resolves once the stream is done with its bytes. */
  async writeBytes(chunk: Buffer): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve, reject) => {
      this.#stream.write(chunk, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
  }

  async flush(): Promise<void> {
    if (this.#pending === '') return;
    const text = this.#pending;
    this.#pending = '';
    if (!this.#stream.write(text)) await once(this.#stream, 'drain');
  }
}
