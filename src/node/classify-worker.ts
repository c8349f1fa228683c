/**
 * Worker-thread side of createClassifierPool (src/node/workers.ts): an engine
 * loaded from a snapshot (no compiling here), classifying the slices of flows the
 * pool sends. Requests run one at a time in arrival order, so a classify posted
 * before a publish's commit runs against the old policy and one posted after it
 * against the new one.
 *
 * A publish is two steps, so that it either reaches every thread or none: `prepare`
 * loads the new snapshot into a second engine beside the running one (the step that
 * can fail: memory, a bad table), and once every thread has prepared, `commit`
 * switches to it, which cannot fail. The thread reports the version the pool gave
 * it, not its engine's own count (a thread started later starts from the pool's
 * current version). A thread that cannot start tells the pool why and exits.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from '../engine.js';
import { SgfilterError } from '../errors.js';
import { batchFromPacked, batchState, createFlowBatch } from '../flow.js';
import { nodeWasmBytes } from '../wasm/node.js';
import { reply, serializeError, type PoolRequest, type PoolThreadData } from './worker-protocol.js';

if (!parentPort) throw new Error('classify-worker.js runs in a worker thread');
const port = parentPort;
const init = workerData as PoolThreadData;
const engineOptions = {
  ...(init.windowFlows !== undefined ? { windowFlows: init.windowFlows } : {}),
  ...(init.maxMemoryBytes !== undefined ? { maxMemoryBytes: init.maxMemoryBytes } : {}),
};

const wasm = nodeWasmBytes().then((bytes) => WebAssembly.compile(bytes));
let running: { engine: Engine; version: number } | undefined;
let prepared: Engine | undefined;

const fatal = (e: unknown): never => {
  port.postMessage({ id: 0, ok: false, fatal: true, error: serializeError(e) });
  process.exit(1);
};

const ready = wasm
  .then((module) => Engine.create(module, { snapshot: init.snapshot }, engineOptions))
  .then((engine) => {
    running = { engine, version: init.version };
  })
  .catch(fatal);


async function handle(req: PoolRequest): Promise<void> {
  try {
    await ready;
    const current = running!;
    switch (req.op) {
      case 'prepare':
        prepared = undefined;
        prepared = await Engine.create(await wasm, { snapshot: req.snapshot }, engineOptions);
        reply(port, { id: req.id, ok: true, version: current.version });
        return;
      case 'commit':
        if (!prepared) throw new SgfilterError('VERSION_CONFLICT', `commit of version ${req.version} without a prepared policy`);
        running = { engine: prepared, version: req.version };
        prepared = undefined;
        reply(port, { id: req.id, ok: true, version: req.version });
        return;
      case 'discard':
        prepared = undefined;
        reply(port, { id: req.id, ok: true, version: current.version });
        return;
      case 'classify': {
        // Packed arrays are checked row by row (batchFromPacked) before WASM reads them.
        const batch = req.packed ? batchFromPacked(req.packed) : createFlowBatch(req.flows as never[]);
        const actions = current.engine.classifyBatch(batch);
        // With plain flows the batch may have reordered them; ruleIds and actions are in
        // the caller's order either way (classifyBatch puts each answer at its flow's index).
        const ruleIds = batchState(batch).ruleIds;
        reply(port, { id: req.id, ok: true, version: current.version, actions, ruleIds }, [
          actions.buffer as ArrayBuffer, ruleIds.buffer as ArrayBuffer,
        ]);
        return;
      }
      default:
        throw new SgfilterError('INVALID_ARGUMENT', `unknown pool request ${JSON.stringify((req as { op?: unknown }).op)}`);
    }
  } catch (e) {
    reply(port, { id: req.id, ok: false, error: serializeError(e) });
  }
}

let queue: Promise<void> = Promise.resolve();
port.on('message', (req: PoolRequest) => {
  queue = queue.then(() => handle(req));
});
port.on('messageerror', (e: Error) => fatal(new SgfilterError('WORKER_FAILED', `a classifier pool thread could not read a request: ${e.message}`)));
