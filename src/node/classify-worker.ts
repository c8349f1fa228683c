/**
 * Worker-thread side of createClassifierPool (src/node/workers.ts): one engine,
 * loaded from a snapshot (no compiling here), classifying the slices of flows the
 * pool sends and loading each snapshot the pool publishes. Requests run one at a
 * time in arrival order, so a classify posted before a publish runs against the old
 * version and one posted after it against the new one. Answers (actions, rule ids)
 * go back as transferred typed arrays.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from '../engine.js';
import { batchFromPacked, batchState, createFlowBatch } from '../flow.js';
import { nodeWasmBytes } from '../wasm/node.js';
import { serializeError, type PoolRequest } from './worker-protocol.js';

if (!parentPort) throw new Error('classify-worker.js runs in a worker thread');
const port = parentPort;
const init = workerData as { snapshot: Uint8Array; windowFlows?: number };

const ready = nodeWasmBytes().then((wasm) => Engine.create(wasm, { snapshot: init.snapshot }, init.windowFlows ? { windowFlows: init.windowFlows } : {}));
// Report a failed start as the answer to every request (the pool rejects them).


async function handle(req: PoolRequest): Promise<void> {
  try {
    const engine = await ready;
    if (req.op === 'load') {
      await engine.loadSnapshot(req.snapshot);
      port.postMessage({ id: req.id, ok: true, version: engine.version });
      return;
    }
    // Packed arrays are checked row by row (batchFromPacked) before WASM reads them.
    const batch = req.packed ? batchFromPacked(req.packed) : createFlowBatch(req.flows as never[]);
    const actions = engine.classifyBatch(batch);
    // With plain flows the batch may have reordered them; ruleIds and actions are in
    // the caller's order either way (classifyBatch puts each answer at its flow's index).
    const ruleIds = batchState(batch).ruleIds;
    port.postMessage({ id: req.id, ok: true, version: batch.policyVersion, actions, ruleIds }, [
      actions.buffer as ArrayBuffer, ruleIds.buffer as ArrayBuffer,
    ]);
  } catch (e) {
    port.postMessage({ id: req.id, ok: false, error: serializeError(e) });
  }
}

let queue: Promise<void> = Promise.resolve();
port.on('message', (req: PoolRequest) => {
  queue = queue.then(() => handle(req));
});
