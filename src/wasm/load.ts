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
 * Hard cap on the engine's WASM linear memory: 2 GiB − 64 KiB (32,767 pages). Every
 * address the arena hands out, and every end of a region, stays below 2^31, so an
 * address is a non-negative int32 wherever it goes: TypeScript indexes memory with
 * `address >>> 2` and WASM with usize, but a signed `>> 2`, `| 0` or an Int32Array
 * holding an address can never turn one negative (issue 9: at 2 GiB and above a signed
 * shift gave negative typed-array indexes, so writes were lost and reads came from the
 * end of memory). A lower limit: the engine option maxMemoryBytes.
 */
export const MAX_MEMORY_BYTES = 2 ** 31 - 65536;

/**
 * First-fit allocator over the linear memory above the WASM's static data. Only
 * TypeScript allocates (tables, flow windows, answers, trackers); WASM never does.
 * Grows memory on demand, never past `limit` bytes (at most MAX_MEMORY_BYTES): an
 * allocation that would is refused with MEMORY_LIMIT and changes nothing.
 */
export class Arena {
  private free: { at: number; size: number }[] = [];
  private top: number;
  readonly limit: number;
  constructor(private readonly memory: WebAssembly.Memory, base: number, limit = MAX_MEMORY_BYTES) {
    this.top = Math.ceil(base / 16) * 16;
    this.limit = Math.min(limit, MAX_MEMORY_BYTES);
    if (this.memory.buffer.byteLength > this.limit || this.top > this.limit) {
      throw new SgfilterError('MEMORY_LIMIT', `the WASM memory limit (maxMemoryBytes) is ${this.limit} bytes, but the matcher already uses ${Math.max(this.memory.buffer.byteLength, this.top)}`);
    }
  }

  alloc(bytes: number): number {
    // Checked before any bit arithmetic: sizes of 2 GiB and more are not int32.
    if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > this.limit) {
      throw new SgfilterError('MEMORY_LIMIT', `cannot allocate ${bytes} bytes of WASM memory: the limit (maxMemoryBytes) is ${this.limit} bytes`);
    }
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
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
    if (end > this.limit) {
      throw new SgfilterError('MEMORY_LIMIT', `cannot allocate ${bytes} bytes of WASM memory: no freed block is big enough and the free space above byte ${at} is ${this.limit - at} bytes, up to the limit (maxMemoryBytes) of ${this.limit} bytes`);
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / 65536);
      try {
        this.memory.grow(pages);
      } catch {
        throw new SgfilterError('MEMORY_LIMIT', `WASM memory cannot grow to ${end} bytes (the runtime refused ${pages} more pages)`);
      }
    }
    this.top = end;
    return at;
  }

  release(at: number, bytes: number): void {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    this.free.push({ at, size });
    this.free.sort((a, b) => a.at - b.at);
    const merged: { at: number; size: number }[] = [];
    for (const f of this.free) {
      const last = merged.at(-1);
      if (last && last.at + last.size === f.at) last.size += f.size;
      else merged.push({ ...f });
    }
    // A free block at the top goes back to the bump pointer.
    const tail = merged.at(-1);
    if (tail && tail.at + tail.size === this.top) {
      this.top = tail.at;
      merged.pop();
    }
    this.free = merged;
  }
}
