// Differential test against express itself (express 5 and express 4): for generated
// `trust proxy` settings (booleans, hop counts, addresses/CIDRs/names as strings or
// lists, functions) and generated X-Forwarded-For chains (several header lines, odd
// spacing, empty entries, IPv6, IPv4-mapped, zones, ipaddr.js's lenient IPv4 forms,
// garbage) from loopback peers of both families, the address the guard classifies
// is express's `req.ip` on the same request. The guard gets the setting as its own
// option, compiled by the guard; express gets it through app.set('trust proxy').
//
// The same chain, written as a Forwarded header (RFC 7239) in the same request, must
// lead a guard in forwardedHeader: 'forwarded' mode to the same address whenever
// every entry is an address (Forwarded has no way to carry the other entries).
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import express from 'express';
import express4 from 'express4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import { readAddress } from '../src/config/address.js';
import { flowAddress } from '../src/node/stats.js';
import { createRequestGuard, expressGuard, type ExpressGuard, type RequestDecision, type RequestGuard, type TrustProxy } from '../src/http/index.js';
import { send } from './http-helpers.js';
import { canListen } from './net-helpers.js';

let open: Engine;
let mapped = false;
let v6 = false;
beforeAll(async () => {
  open = await createEngine({ securityGroups: [{ id: 'sg-open', template: 'open-all' }] });
  mapped = await canListen('::ffff:127.0.0.1');
  v6 = await canListen('::1');
});

const WORDS = new Uint32Array(4);
const isAddress = (s: string) => readAddress(s, WORDS, 0) >= 0;

const PEERS = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.9'];
/** Entries a chain is made of: proxies' and clients' addresses in every spelling express meets, and garbage. */
const ENTRIES = [
  '127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.9', '::1', '::ffff:127.0.0.3', '::ffff:7f00:4',
  '10.0.0.1', '10.9.8.7', '172.16.5.4', '192.168.1.1', '169.254.1.1', '203.0.113.7', '198.51.100.9',
  '2001:db8::1', 'fe80::1', 'fc00::5', 'FE80::1', '::ffff:203.0.113.7', '::203.0.113.7',
  'fe80::1%eth0', '0x7f.0.0.3', '127.3', '2130706435', '203.0.113.7:80', '[::1]', 'unknown', '_hidden', 'a\tb',
];
/** What a trust list is made of. */
const TRUST_ITEMS = [
  'loopback', 'linklocal', 'uniquelocal', '127.0.0.1', '127.0.0.2/31', '127.0.0.3', '127.0.0.4/32', '::1', '::ffff:127.0.0.3',
  '10.0.0.0/8', '10.0.0.0/255.0.0.0', '203.0.113.0/24', '2001:db8::/32', '::ffff:127.0.0.0/104', '0.0.0.0/1', '::/1',
];

/** A `trust proxy` setting and a label for messages. */
const trustSetting: fc.Arbitrary<{ label: string; value: TrustProxy }> = fc.oneof(
  fc.boolean().map((b) => ({ label: String(b), value: b })),
  fc.integer({ min: 0, max: 4 }).map((n) => ({ label: `${n} hops`, value: n })),
  fc.uniqueArray(fc.constantFrom(...TRUST_ITEMS), { minLength: 1, maxLength: 4 }).map((l) => ({ label: JSON.stringify(l), value: l })),
  fc.uniqueArray(fc.constantFrom(...TRUST_ITEMS), { minLength: 1, maxLength: 4 }).map((l) => ({ label: JSON.stringify(l.join(' ,')), value: l.join(' ,') })),
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom('127.0.0.9', '10.0.0.1', '::1')).map(([k, never]) => ({
    label: `(a, i) => i < ${k} + 1 && a !== ${never}`,
    value: (a: string, i: number) => i < k + 1 && a !== never,
  })),
);

const chain = fc.record({
  entries: fc.array(fc.constantFrom(...ENTRIES, ''), { maxLength: 6 }),
  cuts: fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 2 }),
  sep: fc.constantFrom(', ', ',', ' ,  ', ',,'),
  peer: fc.constantFrom(...PEERS),
});

/** X-Forwarded-For lines for `entries`, split at `cuts`. */
function lines(entries: string[], cuts: number[], sep: string): [string, string][] {
  if (entries.length === 0) return [];
  const out: string[][] = [[]];
  entries.forEach((e, i) => {
    if (i > 0 && cuts.includes(i)) out.push([]);
    out[out.length - 1]!.push(e);
  });
  return out.map((l) => ['X-Forwarded-For', l.join(sep)]);
}

/** The same chain as a Forwarded header; undefined when an entry is not an address (Forwarded cannot carry it). */
function forwardedFor(entries: string[]): string | undefined {
  const kept = entries.filter((e) => e !== '');
  if (!kept.every(isAddress)) return undefined;
  return kept.map((e) => (e.includes(':') ? `for="[${e}]"` : `for=${e}`)).join(', ');
}

interface Seen {
  ip: string | undefined;
  decision: RequestDecision;
  forwarded?: RequestDecision;
}

describe.each([
  ['express 5', express],
  ['express 4', express4],
] as const)('%s: the guard classifies req.ip', (_name, make) => {
  let current: ExpressGuard;
  let forwardedGuard: RequestGuard | undefined;
  const seen = new Map<string, Seen>();
  const servers: http.Server[] = [];
  const app = (make as typeof express)();
  const record = (d: RequestDecision) => {
    const req = d.request as express.Request;
    seen.set(req.get('x-case')!, { ip: req.ip, decision: d });
  };
  app.use((req, res, next) => current(req, res, next));
  app.use((req, res) => {
    res.end();
  });
  const targets: { host: string; port: number; peer: (p: string) => string }[] = [];

  beforeAll(async () => {
    const hosts = ['127.0.0.1', ...(mapped ? ['::ffff:127.0.0.1'] : []), ...(v6 ? ['::1'] : [])];
    for (const host of hosts) {
      const server = http.createServer(app);
      await new Promise<void>((r) => server.listen(0, host, r));
      servers.push(server);
      targets.push({ host, port: (server.address() as AddressInfo).port, peer: (p) => (host === '::1' ? '::1' : p) });
    }
  });
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  it('for generated trust settings and header chains, from IPv4, IPv4-mapped and IPv6 peers', async () => {
    let proxied = 0;
    let unreadable = 0;
    let forwardedChecked = 0;
    let n = 0;
    await fc.assert(
      fc.asyncProperty(trustSetting, chain, fc.nat({ max: 2 }), async (trust, c, t) => {
        const target = targets[t % targets.length]!;
        app.set('trust proxy', trust.value);
        const onDecision = (d: RequestDecision) => {
          record(d);
          const s = seen.get((d.request as express.Request).get('x-case')!)!;
          s.forwarded = forwardedGuard?.check(d.request as express.Request);
        };
        current = expressGuard(open, { trustProxy: trust.value, onAccept: onDecision, onDrop: onDecision });
        const f = forwardedFor(c.entries);
        forwardedGuard = f === undefined ? undefined : createRequestGuard(open, { trustProxy: trust.value, forwardedHeader: 'forwarded' });
        const id = String(n++);
        const headers: [string, string][] = [['X-Case', id], ...lines(c.entries, c.cuts, c.sep)];
        if (f !== undefined && f !== '') headers.push(['Forwarded', f]);
        const peer = target.peer(c.peer);
        const res = await send(target, peer, headers);
        const s = seen.get(id);
        const what = `${target.host} from ${peer}, trust proxy ${trust.label}, headers ${JSON.stringify(headers)}`;
        expect(s, what).toBeDefined();
        const d = s!.decision;
        expect(d.address, what).toBe(s!.ip);
        // Classifiable exactly when req.ip is the peer or an address a trusted hop wrote; the open policy accepts those.
        const readable = d.chain.length === 1 || isAddress(s!.ip!);
        expect(d.accepted, what).toBe(readable);
        expect(res.status, what).toBe(readable ? 200 : 403);
        if (readable) expect(d.flow!.remote, what).toBe(flowAddress(s!.ip!));
        if (d.chain.length > 1) proxied++;
        if (!readable) unreadable++;
        if (s!.forwarded) {
          expect(s!.forwarded.address, `Forwarded: ${what}`).toBe(s!.ip);
          forwardedChecked++;
        }
      }),
      { seed: 0xd1ff, numRuns: 160 },
    );
    // The generators reach every case: proxied requests, unreadable entries, Forwarded twins.
    expect(proxied).toBeGreaterThan(30);
    expect(unreadable).toBeGreaterThan(3);
    expect(forwardedChecked).toBeGreaterThan(30);
  });
});
