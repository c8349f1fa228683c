/**
 * Where a flow file's bytes come from: a file (read twice if need be: it has a
 * size and can be read again), or stdin / a pipe / a device (read once, as it
 * comes). Errors in opening it are sentences; a file that is clearly not text (a
 * snapshot, a capture, a gzip) is refused from its first bytes.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileErrorText } from '../node/fs-errors.js';
import { notTextFile } from '../node/config-bytes.js';
import { CliError } from './shared.js';

export interface FlowSource {
  /** The name in messages: the path as given, or "stdin". */
  readonly name: string;
  /** Size in bytes of a regular file (for progress), else undefined. */
  readonly size: number | undefined;
  /** A regular file: it can be read again from the start (two passes). */
  readonly rereadable: boolean;
  /** The bytes from the start; a rereadable source may be opened again. */
  open(): AsyncIterable<Buffer>;
}

/** The flow source named `path` ("-" for stdin). Throws CliError in words when it cannot be read. */
export async function openFlowSource(path: string): Promise<FlowSource> {
  if (path === '-') {
    let opened = false;
    return {
      name: 'stdin',
      size: undefined,
      rereadable: false,
      open() {
        if (opened) throw new Error('internal: stdin read twice');
        opened = true;
        return checked(process.stdin, 'stdin');
      },
    };
  }
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw new CliError(`error: flows: ${fileErrorText(e, path, 'read')}`);
  }
  if (info.isDirectory()) throw new CliError(`error: flows: ${path} is a folder, not a file`);
  const regular = info.isFile();
  return {
    name: path,
    size: regular ? info.size : undefined,
    rereadable: regular,
    open() {
      return checked(createReadStream(path, { highWaterMark: 1 << 16 }), path);
    },
  };
}

/** The chunks of `input`, after checking the first that the input is text; read errors become CliErrors. */
async function* checked(input: AsyncIterable<Buffer | string>, name: string): AsyncGenerator<Buffer> {
  let first = true;
  try {
    for await (const chunk of input) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (first) {
        first = false;
        const what = notTextFile(b, 'a flow file', false);
        if (what !== undefined) {
          throw new CliError(`error: ${name} is ${what}${what.includes(', not a flow file') ? ': flows are JSON lines, one flow object per line' : ''}`);
        }
      }
      yield b;
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`error: flows: ${fileErrorText(e, name, 'read')}`);
  }
}
