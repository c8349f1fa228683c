// The slice of the WebAssembly JS API sgfilter uses. TypeScript ships these types
// only in lib.dom / lib.webworker, which would bring browser globals into a library
// that runs in Node and in edge workers; this declares just what is needed.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: BufferSource);
  }
  class Instance {
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number });
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  interface WebAssemblyInstantiatedSource {
    instance: Instance;
    module: Module;
  }
  function instantiate(bytes: BufferSource, imports?: Record<string, unknown>): Promise<WebAssemblyInstantiatedSource>;
  function instantiate(module: Module, imports?: Record<string, unknown>): Promise<Instance>;
  function compile(bytes: BufferSource): Promise<Module>;
  function validate(bytes: BufferSource): boolean;
}
type BufferSource = ArrayBufferView | ArrayBuffer;
