/**
 * Worker-thread side of compileInWorker (src/node/workers.ts): validates, compiles
 * and snapshots configs off the classifying thread. One request at a time, in order;
 * the snapshot's buffer is transferred back, errors come back as plain data
 * (code, message, issues) and are rebuilt as SgfilterError by the caller.
 */
import { parentPort } from 'node:worker_threads';
import { parseConfig, isConfig } from '../config/parse.js';
import { compilePolicy, type CompileOptions } from '../compile/index.js';
import { encodeSnapshot } from '../snapshot.js';
import { loadConfigFile } from './config-file.js';
import { serializeError, type CompileRequest } from './worker-protocol.js';

if (!parentPort) throw new Error('compile-worker.js runs in a worker thread');
const port = parentPort;

async function handle(req: CompileRequest): Promise<void> {
  try {
    const config =
      req.path !== undefined ? await loadConfigFile(req.path) : isConfig(req.config) ? req.config : parseConfig(req.config);
    const compiled = compilePolicy(config, req.options as CompileOptions);
    const snapshot = encodeSnapshot(compiled, config, 1);
    port.postMessage({ id: req.id, ok: true, snapshot }, [snapshot.buffer as ArrayBuffer]);
  } catch (e) {
    port.postMessage({ id: req.id, ok: false, error: serializeError(e) });
  }
}

let queue: Promise<void> = Promise.resolve();
port.on('message', (req: CompileRequest) => {
  queue = queue.then(() => handle(req));
});
