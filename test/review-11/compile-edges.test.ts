// Outside review (at11): compile speedups (shared prefix/interval values, sorted trie
// insertion, typed-array classes, flat form, partitions) against the reference matcher
// on adversarial policies: edge prefixes, IPv4-mapped IPv6, duplicates, overlaps,
// many rules sharing values, > 2,048 rules with partitionMinBytes 0.
import { describe, expect, it } from 'vitest';
import { createEngine, createFlowBatch, parseConfig, parseFlow, referenceClassify } from '../../src/index.js';
import { mulberry32 } from '../random.js';

const V4_EDGE = ['0.0.0.0/0', '0.0.0.0/1', '128.0.0.0/1', '255.255.255.255/32', '0.0.0.0/32', '10.0.0.0/8', '10.0.0.0/31', '10.0.0.1/32', '10.0.0.0/32', '192.168.1.0/24', '192.168.1.128/25', '192.168.1.255/32', '127.0.0.1', '100.64.0.0/10'];
const V6_EDGE = ['::/0', '::/1', '8000::/1', '::/128', '::1/128', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128', '::ffff:0:0/96', '::ffff:10.0.0.0/104', '::ffff:10.0.0.1/128', '::ffff:192.168.1.0/120', '64:ff9b::/96', '64:ff9b::10.0.0.0/104', '2001:db8::/32', '2001:db8::/64', '2001:db8::/127', '::10.0.0.1/128', 'fe80::/10'];
const PORTS = ['0', '1', '65535', '0-65535', '1-65535', '0-0', '22', '22-22', '21-23', '80,443', '1024-65535', '443', '8000-8080,80', '65534-65535', '0-1'];
const PROTOS = ['tcp', 'udp', 'icmp', 'icmpv6', 'all', '6', '17', '47', '0', '255'];

function flowsFor(r: () => number, n: number): object[] {
  const addr = () => {
    const k = r();
    if (k < 0.35) return [`10.0.0.${Math.floor(r() * 3)}`, '0.0.0.0', '255.255.255.255', '192.168.1.127', '192.168.1.128', '192.168.1.255', '127.0.0.1', '128.0.0.0', '127.255.255.255', '100.64.0.1'][Math.floor(r() * 10)]!;
    if (k < 0.7) return ['::', '::1', '::ffff:10.0.0.1', '::ffff:10.0.0.0', '::ffff:192.168.1.5', '64:ff9b::a00:1', '2001:db8::1', '2001:db8::', '2001:db8:0:1::', '8000::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::10.0.0.1', 'fe80::1', '::ffff:0.0.0.0', '::ffff:255.255.255.255'][Math.floor(r() * 15)]!;
    return `${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}`;
  };
  const out: object[] = [];
  for (let i = 0; i < n; i++) {
    const proto = [6, 17, 1, 58, 47, 0, 255][Math.floor(r() * 7)]!;
    const f: Record<string, unknown> = { direction: r() < 0.5 ? 'inbound' : 'outbound', protocol: proto, remote: addr() };
    if (r() < 0.7) f.local = addr();
    if (proto === 6 || proto === 17) {
      f.port = [0, 1, 22, 21, 23, 80, 443, 1023, 1024, 8080, 65534, 65535][Math.floor(r() * 12)]!;
      f.sourcePort = [0, 1, 443, 65535, 12345][Math.floor(r() * 5)]!;
    }
    if (proto === 1 || proto === 58) { f.icmpType = [0, 8, 128, 129, 3][Math.floor(r() * 5)]!; f.icmpCode = [0, 1, 255][Math.floor(r() * 3)]!; }
    // Families must agree for a flow with a local address: keep the local one only when they do.
    if (typeof f.local === 'string' && (String(f.local).includes(':') !== String(f.remote).includes(':'))) delete f.local;
    out.push(f);
  }
  return out;
}

function ruleFor(r: () => number, dir: 'inbound' | 'outbound', fam: 'any' | 'v4' | 'v6'): Record<string, unknown> {
  const peers = fam === 'v4' ? V4_EDGE : fam === 'v6' ? V6_EDGE : [...V4_EDGE, ...V6_EDGE];
  const proto = PROTOS[Math.floor(r() * PROTOS.length)]!;
  const rule: Record<string, unknown> = { action: r() < 0.5 ? 'accept' : 'drop', protocol: proto };
  rule[dir === 'inbound' ? 'source' : 'destination'] = peers[Math.floor(r() * peers.length)]!;
  if (proto === 'tcp' || proto === 'udp' || proto === '6' || proto === '17') {
    if (r() < 0.8) rule.port = PORTS[Math.floor(r() * PORTS.length)]!;
    if (r() < 0.3) rule.sourcePort = PORTS[Math.floor(r() * PORTS.length)]!;
  }
  if (r() < 0.4) {
    const p = peers[Math.floor(r() * peers.length)]!;
    if (p.includes(':') === String(rule[dir === 'inbound' ? 'source' : 'destination']).includes(':')) rule.localCidr = p;
  }
  return rule;
}

async function compare(doc: object, flows: object[], options: Record<string, number> = {}): Promise<string[]> {
  const config = parseConfig(doc);
  const engine = await createEngine(config, options);
  const batch = createFlowBatch(flows as never);
  engine.classifyBatch(batch);
  const bad: string[] = [];
  flows.forEach((f, i) => {
    const want = referenceClassify(config, parseFlow(f as never));
    const got = batch.verdict(i);
    if (JSON.stringify(want) !== JSON.stringify(got) && bad.length < 5) bad.push(`flow ${JSON.stringify(f)} want ${JSON.stringify(want)} got ${JSON.stringify(got)}`);
  });
  return bad;
}

describe('review at11: compile edges vs reference', () => {
  for (const [rules, opts] of [[30, {}], [300, {}], [2100, {}], [2100, { partitionMinBytes: 0 }], [5000, { partitionMinBytes: 0 }], [17000, {}]] as [number, Record<string, number>][]) {
    it(`${rules} edge rules ${JSON.stringify(opts)}`, async () => {
      const r = mulberry32(rules * 7 + Object.keys(opts).length);
      const inbound = Array.from({ length: rules }, () => ruleFor(r, 'inbound', r() < 0.3 ? 'v4' : r() < 0.5 ? 'v6' : 'any'));
      const outbound = Array.from({ length: Math.min(rules, 500) }, () => ruleFor(r, 'outbound', 'any'));
      const doc = { securityGroups: [{ id: 'sg-a', inbound, outbound }, { id: 'sg-b', inbound: inbound.slice(0, 50).reverse(), outbound: [] }], instances: [{ id: 'i1', securityGroups: ['sg-a', 'sg-b'] }, { id: 'i2', securityGroups: ['sg-b', 'sg-a'] }] };
      const flows = flowsFor(r, 3000).map((f, i) => ({ ...f, instance: i % 2 ? 'i1' : 'i2' }));
      expect(await compare(doc, flows, opts)).toEqual([]);
    }, 240_000);
  }
  it('many random host/prefix rules sharing values, partitioned', async () => {
    const r = mulberry32(99);
    const inbound: object[] = [];
    for (let i = 0; i < 4000; i++) {
      const len = [0, 1, 7, 8, 16, 23, 24, 25, 31, 32][Math.floor(r() * 10)]!;
      const a = Math.floor(r() * 4) === 0 ? 0x0a000000 + Math.floor(r() * 4) : Math.floor(r() * 2 ** 32);
      const masked = len === 0 ? 0 : (a & (~0 << (32 - len))) >>> 0;
      const ip = [masked >>> 24, (masked >>> 16) & 255, (masked >>> 8) & 255, masked & 255].join('.');
      const lp = Math.floor(r() * 65536);
      inbound.push({ action: i % 3 ? 'accept' : 'drop', protocol: 'tcp', port: `${lp}-${Math.min(65535, lp + Math.floor(r() * 3))}`, source: `${ip}/${len}` });
    }
    const doc = { securityGroups: [{ id: 'sg', inbound, outbound: [] }], instances: [{ id: 'i', securityGroups: ['sg'] }] };
    const flows = Array.from({ length: 4000 }, (_, i) => {
      const x = i % 2 ? (inbound[Math.floor(r() * inbound.length)] as { source: string }).source.split('/')[0]! : `10.0.0.${Math.floor(r() * 5)}`;
      return { instance: 'i', direction: 'inbound', protocol: 6, port: Math.floor(r() * 65536), remote: i % 5 === 0 ? `::ffff:${x}` : x };
    });
    expect(await compare(doc, flows, { partitionMinBytes: 0 })).toEqual([]);
    expect(await compare(doc, flows)).toEqual([]);
  }, 240_000);
});
