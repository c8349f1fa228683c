// Types for the untyped npm matchers used as baselines by bench/blocklist.bench.ts.
declare module 'cidr-matcher' {
  export default class CidrMatcher {
    constructor(cidrs?: string[]);
    addNetworkClass(cidr: string): void;
    contains(addr: string): boolean;
  }
}
declare module 'arkime-iptrie' {
  export class IPTrie {
    add(addr: string, prefixLength: number, value: unknown): void;
    del(addr: string, prefixLength: number): boolean;
    /** The value of the longest matching prefix, or undefined. */
    find(addr: string): unknown;
  }
  const _default: { IPTrie: typeof IPTrie };
  export default _default;
}
