/**
 * ClassBench filters keep ClassBench's own protocol semantics: `0xPP/0xMM` is a
 * value/mask match on the header's protocol number, on any header. Security groups
 * pair ICMP with IPv4 and ICMPv6 with IPv6 (docs/SEMANTICS.md "Rules"); that pairing
 * must not leak into ClassBench (a `0x3a/0xFF` filter matches an IPv4 header with
 * protocol 58), and ClassBench's reading must not leak into security groups.
 *
 * Every answer is compared with a first-match scan written here from ClassBench's
 * definition (address prefixes, inclusive port ranges, (proto & mask) == value),
 * which shares nothing with src/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createEngine, parseClassBench, parseClassBenchTrace, parseConfig, referenceClassify } from '../src/index.js';
import { mulberry32, type Rng } from './random.js';

interface Filter {
  src: [number, number];
  dst: [number, number];
  sport: [number, number];
  dport: [number, number];
  proto: number;
  mask: number;
  line: string;
}

const ip = (x: number) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.');
const prefix = (addr: number, len: number): [number, number] => {
  const host = len === 0 ? 0xffffffff : len === 32 ? 0 : 0xffffffff >>> len;
  const lo = (addr & ~host) >>> 0;
  return [lo, (lo | host) >>> 0];
};
const hex = (x: number) => `0x${x.toString(16).padStart(2, '0')}`;

function filter(src: number, sLen: number, dst: number, dLen: number, sport: [number, number], dport: [number, number], proto: number, mask: number): Filter {
  const s = prefix(src, sLen);
  const d = prefix(dst, dLen);
  return {
    src: s, dst: d, sport, dport, proto, mask,
    line: `@${ip(s[0])}/${sLen} ${ip(d[0])}/${dLen} ${sport[0]} : ${sport[1]} ${dport[0]} : ${dport[1]} ${hex(proto)}/${mask === 0xff ? '0xFF' : hex(mask)}`,
  };
}

/** ClassBench's first match, from its definition; 1-based, 0 for none. */
function firstMatch(filters: Filter[], h: number[]): number {
  const [src, dst, sp, dp, proto] = h as [number, number, number, number, number];
  for (let i = 0; i < filters.length; i++) {
    const f = filters[i]!;
    if (src < f.src[0] || src > f.src[1] || dst < f.dst[0] || dst > f.dst[1]) continue;
    if (sp < f.sport[0] || sp > f.sport[1] || dp < f.dport[0] || dp > f.dport[1]) continue;
    if ((proto & f.mask) !== (f.proto & f.mask)) continue;
    return i + 1;
  }
  return 0;
}

/** Runs headers through the engine (classifyBatch) and the reference; returns both 1-based answers. */
async function classify(filters: Filter[], headers: number[][]) {
  const config = parseClassBench(filters.map((f) => f.line).join('\n'));
  const { batch, flows } = parseClassBenchTrace(headers.map((h) => h.join(' ')).join('\n'));
  const engine = await createEngine(config);
  engine.classifyBatch(batch);
  const ids = batch.ruleIds;
  return {
    config,
    engine,
    engine1: Array.from(ids, (r) => r + 1),
    reference1: flows.map((f) => (referenceClassify(config, f).ruleIndex ?? -1) + 1),
  };
}

const PROTOS = [1, 58, 6, 17, 47, 0, 255];

function randomSet(r: Rng, n: number): { filters: Filter[]; headers: number[][] } {
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const nets = Array.from({ length: 6 }, () => int(0, 0xffffffff) >>> 0);
  const filters: Filter[] = [];
  for (let i = 0; i < n; i++) {
    const ports = (): [number, number] => {
      const k = r();
      if (k < 0.4) return [0, 65535];
      if (k < 0.7) { const p = int(0, 1030); return [p, p]; }
      const a = int(0, 65535);
      return [a, Math.min(65535, a + int(0, 5000))];
    };
    const any = r() < 0.25;
    filters.push(filter(nets[int(0, 5)]!, [0, 8, 16, 24, 30, 32][int(0, 5)]!, nets[int(0, 5)]!, [0, 8, 16, 24, 32][int(0, 4)]!, ports(), ports(), any ? 0 : PROTOS[int(0, PROTOS.length - 1)]!, any ? 0 : 0xff));
  }
  // Headers at corners and inside of filters, with every protocol of the pool.
  const headers: number[][] = [];
  for (let k = 0; k < 4 * n; k++) {
    const f = filters[int(0, n - 1)]!;
    const pick = (range: [number, number]) => (r() < 0.5 ? range[r() < 0.5 ? 0 : 1] : int(range[0], range[1]));
    const proto = r() < 0.7 ? PROTOS[int(0, PROTOS.length - 1)]! : f.proto;
    headers.push([pick(f.src) >>> 0, pick(f.dst) >>> 0, pick(f.sport), pick(f.dport), proto]);
  }
  return { filters, headers };
}

describe('ClassBench protocol value/mask', () => {
  it('0x3a/0xFF matches an IPv4 header with protocol 58; 0x01/0xFF protocol 1; 0x00/0x00 anything', async () => {
    const filters = [
      filter(0x0a000000, 8, 0xc0000200, 24, [0, 65535], [0, 65535], 58, 0xff),
      filter(0x0a000000, 8, 0xc0000200, 24, [0, 65535], [0, 65535], 1, 0xff),
      filter(0, 0, 0, 0, [0, 65535], [80, 80], 0, 0),
    ];
    const headers = [
      [0x0a010203, 0xc0000207, 1000, 2000, 58],
      [0x0a010203, 0xc0000207, 1000, 2000, 1],
      [0x0a010203, 0xc0000207, 1000, 80, 6],
      [0x0b010203, 0xc0000207, 1000, 2000, 58],
    ];
    const { engine1, reference1 } = await classify(filters, headers);
    expect(headers.map((h) => firstMatch(filters, h))).toEqual([1, 2, 3, 0]);
    expect(engine1).toEqual([1, 2, 3, 0]);
    expect(reference1).toEqual([1, 2, 3, 0]);
  });

  it('agrees with the value/mask definition on random filter sets (small: dense bitmaps; large: aggregated)', async () => {
    for (const [seed, n] of [[1, 40], [2, 300], [3, 3000]] as const) {
      const { filters, headers } = randomSet(mulberry32(seed), n);
      const want = headers.map((h) => firstMatch(filters, h));
      const { engine1, reference1 } = await classify(filters, headers);
      const diff = want.map((w, i) => (w === engine1[i] && w === reference1[i] ? null : `header ${i} ${headers[i]!.join(' ')}: want ${w}, engine ${engine1[i]}, reference ${reference1[i]}`)).filter((x) => x !== null);
      expect(diff.slice(0, 5), `seed ${seed}`).toEqual([]);
      expect(want.filter((w) => w > 0 && filters[w - 1]!.proto === 58).length, 'protocol-58 filters do match').toBeGreaterThan(0);
    }
  });

  it('survives a snapshot and an update()', async () => {
    const filters = [filter(0x0a000000, 8, 0, 0, [0, 65535], [0, 65535], 58, 0xff)];
    const { engine, config } = await classify(filters, [[0x0a000001, 1, 1, 1, 58]]);
    expect(config.semantics).toBe('classbench');
    const copy = await createEngine({ snapshot: engine.snapshot() });
    expect(copy.config.semantics).toBe('classbench');
    const flow = { direction: 'inbound' as const, protocol: 58, remote: '10.0.0.1', local: '192.0.2.1', port: 1, sourcePort: 1 };
    expect(copy.classify(flow).ruleIndex).toBe(0);
    await copy.update((tx) => tx.addRule('classbench', 'inbound', { protocol: 'TCP', port: 22, source: 'any', action: 'drop' }, 0));
    expect(copy.config.semantics).toBe('classbench');
    expect(copy.config.warnings, 'no "ICMPv6 with an IPv4-only peer can never match" under ClassBench').toEqual([]);
    expect(copy.classify(flow).ruleIndex).toBe(1);
    expect(referenceClassify(copy.config, flow).ruleIndex).toBe(1);
  });

  it('security groups keep their pairing: an ICMPv6 rule never matches an IPv4 peer, ICMP never an IPv6 one', async () => {
    const config = parseConfig({
      securityGroups: [{
        id: 'sg',
        inbound: [
          { protocol: 'ICMPv6', source: 'any', action: 'drop' },
          { protocol: 'ICMP', source: 'any', action: 'drop' },
          { protocol: 'ALL', source: 'any', action: 'accept' },
        ],
      }],
    });
    expect(config.semantics).toBeUndefined();
    const engine = await createEngine(config);
    const flows = [
      { direction: 'inbound' as const, protocol: 58, remote: '10.0.0.1' },
      { direction: 'inbound' as const, protocol: 1, remote: '2001:db8::1' },
      { direction: 'inbound' as const, protocol: 58, remote: '2001:db8::1' },
      { direction: 'inbound' as const, protocol: 1, remote: '10.0.0.1' },
    ];
    const want = [2, 2, 0, 1];
    expect(flows.map((f) => engine.classify(f).ruleIndex)).toEqual(want);
    expect(flows.map((f) => referenceClassify(config, f).ruleIndex)).toEqual(want);
  });

  it('`sgfilter classbench` finds protocol 58 over IPv4 (0 mismatches)', () => {
    const cli = join(dirname(dirname(fileURLToPath(import.meta.url))), 'dist', 'src', 'cli.js');
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does it)`);
    const dir = mkdtempSync(join(tmpdir(), 'sgfilter-cb-proto-'));
    try {
      const filters = [filter(0x0a000000, 8, 0, 0, [0, 65535], [0, 65535], 58, 0xff), filter(0, 0, 0, 0, [0, 65535], [0, 65535], 0, 0)];
      writeFileSync(join(dir, 'f'), filters.map((f) => f.line).join('\n') + '\n');
      writeFileSync(join(dir, 't'), '167772161 1 1 1 58 1\n167772161 1 1 1 6 2\n');
      const r = spawnSync(process.execPath, [cli, 'classbench', join(dir, 'f'), join(dir, 't')], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('0 mismatches in 2 checked lines');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
