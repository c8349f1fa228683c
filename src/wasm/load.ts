/**
 * The one WASM loader, shared by Node and edge builds: it accepts a compiled
 * WebAssembly.Module (what edge runtimes give you when you import the .wasm) or the
 * raw bytes (Node). No `node:` imports here.
 */
import { SgfilterError } from '../errors.js';
import { TABLE_ABI } from '../../assembly/layout.js';

export interface MatcherExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  abiVersion(): number;
  classifyBatch(table: number, batch: number): void;
}

export type WasmSource = WebAssembly.Module | BufferSource;

export async function instantiateMatcher(source: WasmSource): Promise<MatcherExports> {
  let instance: WebAssembly.Instance;
  try {
    if (source instanceof WebAssembly.Module) instance = await WebAssembly.instantiate(source, {});
    else instance = (await WebAssembly.instantiate(source, {})).instance;
  } catch (e) {
    throw new SgfilterError('WASM_LOAD', `could not instantiate the sgfilter matcher: ${(e as Error).message}`);
  }
  const x = instance.exports as unknown as MatcherExports;
  if (typeof x.classifyBatch !== 'function' || !(x.memory instanceof WebAssembly.Memory)) {
    throw new SgfilterError('WASM_LOAD', 'the WASM module is not an sgfilter matcher (missing exports)');
  }
  if (x.abiVersion() !== TABLE_ABI) {
    throw new SgfilterError('WASM_LOAD', `the WASM matcher reads table ABI ${x.abiVersion()}, this library writes ABI ${TABLE_ABI}; rebuild (npm run build:wasm)`);
  }
  return x;
}

/**
 * First-fit allocator over the linear memory above the WASM's static data. Only
 * TypeScript allocates (tables, flow windows); WASM never does. Grows memory on demand.
 */
export class Arena {
  private free: { at: number; size: number }[] = [];
  private top: number;
  constructor(private readonly memory: WebAssembly.Memory, base: number) {
    this.top = (base + 15) & ~15;
  }

  alloc(bytes: number): number {
    const size = Math.max(16, (bytes + 15) & ~15);
    for (let i = 0; i < this.free.length; i++) {
      const f = this.free[i]!;
      if (f.size >= size) {
        const at = f.at;
        if (f.size === size) this.free.splice(i, 1);
        else {
          f.at += size;
          f.size -= size;
        }
        return at;
      }
    }
    const at = this.top;
    const end = at + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / 65536);
      try {
        this.memory.grow(pages);
      } catch {
        throw new SgfilterError('TABLE_TOO_LARGE', `WASM memory cannot grow to ${end} bytes`);
      }
    }
    this.top = end;
    return at;
  }

  release(at: number, bytes: number): void {
    const size = Math.max(16, (bytes + 15) & ~15);
    this.free.push({ at, size });
    this.free.sort((a, b) => a.at - b.at);
    const merged: { at: number; size: number }[] = [];
    for (const f of this.free) {
      const last = merged[merged.length - 1];
      if (last && last.at + last.size === f.at) last.size += f.size;
      else merged.push({ ...f });
    }
    // A free block at the top goes back to the bump pointer.
    const tail = merged[merged.length - 1];
    if (tail && tail.at + tail.size === this.top) {
      this.top = tail.at;
      merged.pop();
    }
    this.free = merged;
  }
}
