// workerd / wrangler (and esbuild with a CompiledWasm rule) turn a `.wasm` import
// into a compiled WebAssembly.Module; Data modules (`.bin`) into an ArrayBuffer.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
