/** Writing the CLI's data: stdout with backpressure, and files with errors in words. */
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileErrorText } from '../node/fs-errors.js';
import { CliError } from './shared.js';

/**
 * Writes `text` to stdout; when its buffer is full, waits until it drains (or
 * closes, or fails: the wait never outlives the stream). On Linux stdout to a file,
 * pipe or terminal is written synchronously and this never waits; elsewhere a slow
 * reader holds the producer back instead of letting output pile up in memory.
 */
export async function writeOut(text: string): Promise<void> {
  const out = process.stdout;
  if (out.write(text)) return;
  if (out.destroyed || out.writableEnded) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      out.off('error', done);
      resolve();
    };
    out.once('drain', done);
    out.once('close', done);
    out.once('error', done);
  });
}

/**
 * Writes a file the user named (-o, --out); a failure is a CliError in words
 * ("snapshot: cannot write x: permission denied"). A regular file (or a new one) is
 * replaced whole: written beside it under a temporary name, then renamed over it, so
 * a reader (a deploy step, a watcher) never sees half a file and a failed write
 * leaves the old one. Anything else (/dev/stdout, a pipe) is written in place.
 */
export async function writeUserFile(path: string, data: string | Uint8Array, what: string): Promise<void> {
  let inPlace = false;
  try {
    inPlace = !(await stat(path)).isFile();
  } catch {
    inPlace = false; // a new file (or an unreachable one: the write says why)
  }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    if (inPlace) await writeFile(path, data);
    else {
      await writeFile(tmp, data, { flag: 'wx' });
      await rename(tmp, path);
    }
  } catch (e) {
    if (!inPlace) await rm(tmp, { force: true }).catch(() => undefined);
    throw new CliError(`error: ${what}: ${fileErrorText(e, path, 'write')}`);
  }
}
