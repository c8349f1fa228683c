/**
 * Node defines many globals (TextEncoder, AbortController, CryptoKey, the web
 * streams...) as getters that replace themselves with their value when first read.
 * Read once here, before @fast-check/poisoning takes its picture of the globals, they
 * are values in the picture already, and the poisoning check can cover them too
 * instead of ignoring them (test/fuzz/poisoning.ts imports this module first).
 */
for (const name of Object.getOwnPropertyNames(globalThis)) {
  if (typeof Object.getOwnPropertyDescriptor(globalThis, name)?.get !== 'function') continue;
  try {
    void (globalThis as Record<string, unknown>)[name];
  } catch {
    // a getter that throws stays a getter: the poisoning check sees it unchanged
  }
}
export {};
