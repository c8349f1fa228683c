/**
 * `sgfilter/edge` under Node (the "node" export condition): the edge API with the
 * matcher read from disk, since Node, unlike workerd, compiles WASM from bytes. Code
 * written for workers can run its tests in Node against this entry.
 */
import type { Engine } from '../engine.js';
import { createEngineFrom, type EngineSource } from '../create.js';
import { nodeWasmBytes } from '../wasm/node.js';
import { PolicySource, type PolicySourceOptions } from '../distribution/source.js';
import type { EdgeEngineOptions } from './surface.js';

/** As the edge entry's createEngine (src/edge/index.ts): no files, the matcher from this package. */
export async function createEngine(source: EngineSource, options: EdgeEngineOptions = {}): Promise<Engine> {
  return createEngineFrom(source, options, nodeWasmBytes, null);
}

/** As the edge entry's createPolicySource, with this entry's createEngine. */
export function createPolicySource(options: PolicySourceOptions): PolicySource {
  return new PolicySource(options, (source, engineOptions) => createEngine(source, engineOptions));
}

export * from './surface.js';
