/**
 * Node only: reading a file that must be a file (a config, a snapshot key, a snapshot).
 *
 * `readFile` opens with a plain open(2), which blocks until the other end of a FIFO is
 * opened, and reads until EOF, which a device (/dev/zero, /dev/stdin at a terminal)
 * may never send. Each such open or read holds one of libuv's four threadpool threads
 * for good: createEngine never settles, a worker thread blocked in it cannot be
 * terminated (the process never exits), and after four of them dns.lookup and every
 * fs call of the process wait forever. So a file is opened with O_NONBLOCK (an open
 * that returns at once, whatever the path names), checked with fstat on that very
 * descriptor (no window for a rename between the check and the read) to be a regular
 * file, and read up to a size limit: anything else is refused before a byte is read.
 * (Flow files and captures are read as streams on purpose, `-` meaning stdin: they do
 * not come here.)
 */
import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * Largest config file read (bytes): 128 MiB. A 100,000-rule policy is about 10 MB of
 * JSON; the bound keeps a config text well inside what a JS string holds.
 */
export const MAX_CONFIG_FILE_BYTES = 128 * 1024 * 1024;

/** Why a file was not read: the errno code, or what it is instead of a regular file, or its size. */
export class FileRefusal extends Error {
  constructor(message: string, readonly reason: string) {
    super(message);
  }
}

/** What a non-regular file is, in words. */
function kind(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The bytes of the regular file at `path`, at most `maxBytes` of them. Throws
 * FileRefusal (message: why, in words; reason: an errno code such as ENOENT, or
 * NOT_A_FILE, or TOO_LARGE) without blocking on what the path names.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new FileRefusal(code, code);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new FileRefusal(st.isDirectory() ? 'it is a folder, not a file' : `it is ${kind(st)}, not a regular file`, 'NOT_A_FILE');
    const tooLarge = () => new FileRefusal(`it is larger than ${maxBytes.toLocaleString('en-US')} bytes, the most read for it`, 'TOO_LARGE');
    if (st.size > maxBytes) throw tooLarge();
    // Read to EOF (the file may have grown since fstat), never past maxBytes + 1.
    let buf = Buffer.allocUnsafe(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > maxBytes) throw tooLarge();
        const next = Buffer.allocUnsafe(Math.min(buf.length * 2, maxBytes + 1));
        buf.copy(next, 0, 0, n);
        buf = next;
      }
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > maxBytes) throw tooLarge();
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof FileRefusal) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new FileRefusal(code, code);
  } finally {
    await fh.close().catch(() => undefined);
  }
}
