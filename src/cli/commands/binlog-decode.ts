import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { readBinlogFile } from '../../binlog/file-reader.js';
import { renderNdjson, renderText } from '../../binlog/render.js';
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
    const render = flagString(args, 'format') === 'text' ? renderText : renderNdjson;
    const fromPos = flagInt(args, 'from-pos');
    const stopPos = flagInt(args, 'stop-pos');
    const files = args.positionals;
    const out = new BatchedWriter(ctx.stdout);
    try {
      for (let i = 0; i < files.length; i++) {
        const file = files[i] as string;
        const events = readBinlogFile(file, {
          signal: ctx.signal,
          ...(i === 0 && fromPos !== undefined ? { fromPos } : {}),
          ...(i === files.length - 1 && stopPos !== undefined ? { stopPos } : {}),
        });
        for await (const event of events) {
          await out.write(render(event));
        }
      }
    } finally {
      // Whatever decoded before an error is printed before the error line.
      await out.flush();
    }
    return 0;
  },
};

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

  async flush(): Promise<void> {
    if (this.#pending === '') return;
    const text = this.#pending;
    this.#pending = '';
    if (!this.#stream.write(text)) await once(this.#stream, 'drain');
  }
}
