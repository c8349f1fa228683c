/**
 * Worker-thread side of compileInWorker (src/node/workers.ts): validates, compiles
 * and snapshots configs off the classifying thread, with the same functions the
 * calling thread would use (so every error is the one an in-thread compile throws).
 * One request at a time, in order; the snapshot's buffer is transferred back, errors
 * come back as plain data (code, message, issues) and are rebuilt as SgfilterError
 * by the caller. Every request is answered (src/node/worker-protocol.ts `reply`); a
 * request that cannot be read ends the thread, which fails whatever was pending.
 */
import { parentPort } from 'node:worker_threads';
import { parseConfig } from '../config/parse.js';
import { ownConfig } from '../config/owned.js';
import { textSourceDocument } from '../config/source.js';
import { compilePolicy, type CompileOptions } from '../compile/index.js';
import { SgfilterError } from '../errors.js';
import { encodeSnapshot } from '../snapshot.js';
import type { Config } from '../types.js';
import { loadConfigFileFor } from './config-file.js';
import { reply, serializeError, type CompileRequest } from './worker-protocol.js';

if (!parentPort) throw new Error('compile-worker.js runs in a worker thread');
const port = parentPort;

async function handle(req: CompileRequest): Promise<void> {
  try {
    let config: Config;
    if (typeof req.path === 'string') config = await loadConfigFileFor(req.file?.where ?? 'loadConfigFile', req.path, req.file?.format);
    else if (req.text) {
      const { where, ...text } = req.text;
      config = parseConfig(textSourceDocument({ kind: 'text', ...text }, where), text.fileName);
    }
    // validated: the calling thread's own frozen Config, cloned: plain data this thread owns now.
    else if (req.validated === true) config = ownConfig(req.config as Config);
    else config = parseConfig(req.config);
    const compiled = compilePolicy(config, req.options as CompileOptions);
    const snapshot = encodeSnapshot(compiled, config, 1);
    reply(port, { id: req.id, ok: true, snapshot }, [snapshot.buffer as ArrayBuffer]);
  } catch (e) {
    reply(port, { id: req.id, ok: false, error: serializeError(e) });
  }
}

let queue: Promise<void> = Promise.resolve();
port.on('message', (req: CompileRequest) => {
  queue = queue.then(() => handle(req));
});
port.on('messageerror', (e: Error) => {
  // A request that could not be read names no id: give up, so nothing waits on it.
  port.postMessage({ id: 0, ok: false, fatal: true, error: serializeError(new SgfilterError('WORKER_FAILED', `the compile worker could not read a request: ${e.message}`)) });
  process.exit(1);
});
