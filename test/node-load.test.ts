// A mixed burst of real loopback connections through guarded servers: every outcome
// (echoed or closed with zero bytes) must be the one the reference matcher predicts,
// and the app must see exactly the accepted connections.
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, parseConfig, parseFlow, referenceClassify, type ConfigInput, type FlowInput } from '../src/index.js';
import { guardServer } from '../src/node/index.js';
import { mulberry32, pick } from './random.js';
import { Sockets, canListen, exchange, listen, pool } from './net-helpers.js';

const CONNECTIONS = 2_000;
const CONCURRENCY = 100;
const PEERS = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7', '127.0.0.8', '127.0.0.9', '127.0.1.1'];
const HAS_MAPPED = await canListen('::ffff:127.0.0.1');

const reg = new Sockets();
afterEach(() => reg.closeAll());

describe('guardServer under load', () => {
  it(`${CONNECTIONS} connections, ${CONCURRENCY} at a time, each as referenceClassify predicts`, async () => {
    const seen: string[] = [];
    const makeServer = () =>
      net.createServer((s) => {
        seen.push(`${s.remoteAddress?.replace(/^::ffff:/, '')}:${s.remotePort}`);
        s.on('error', () => {});
        s.once('data', (d) => s.end(d)); // echo, and the server closes first
      });
    const a = makeServer();
    const b = makeServer();
    const portA = await listen(reg, a, '127.0.0.1');
    const portB = await listen(reg, b, HAS_MAPPED ? '::ffff:127.0.0.1' : '127.0.0.1');

    // Peer 127.0.0.6 dials from fixed source ports, half inside a dropped sourcePort range.
    // The base moves per run so a quick rerun never reuses a 4-tuple, and stays below
    // Linux's ephemeral range (32768-60999).
    const rng = mulberry32(20_240_605);
    const base = 20_000 + 1_000 * Math.floor(Math.random() * 12);
    const config: ConfigInput = {
      securityGroups: [
        {
          id: 'sg-edge',
          inbound: [
            { protocol: 'TCP', port: 'ALL', source: '127.0.0.3', action: 'drop' },
            { protocol: 'TCP', port: portA, source: '127.0.0.4-127.0.0.5', action: 'accept' },
            { protocol: 'TCP', port: 'ALL', source: '127.0.0.6', sourcePort: `${base}-${base + 499}`, action: 'drop' },
          ],
        },
        {
          id: 'sg-app',
          inbound: [
            { protocol: 'TCP', port: portB, source: '127.0.0.0/29', action: 'accept' },
            { protocol: 'TCP', port: `${Math.min(portA, portB)}-${Math.max(portA, portB)}`, source: '127.0.0.8', action: 'accept' },
            { protocol: 'TCP', port: portA, source: '127.0.0.9', action: 'drop' },
            { protocol: 'TCP', port: 'ALL', localCidr: '127.0.0.1', source: '127.0.1.0/24', action: 'accept' },
          ],
        },
      ],
      instances: [{ id: 'edge-1', securityGroups: ['sg-edge', 'sg-app'] }],
    };
    const engine = await createEngine(config);
    const reference = parseConfig(config);
    const guardA = guardServer(a, engine, { instance: 'edge-1' });
    const guardB = guardServer(b, engine, { instance: 'edge-1' });

    let sixes = 0;
    const plan = Array.from({ length: CONNECTIONS }, (_, i) => {
      const peer = pick(rng, PEERS);
      const port = rng() < 0.5 ? portA : portB;
      const localPort = peer === '127.0.0.6' ? base + (sixes++ % 1_000) : undefined;
      return { i, peer, port, localPort };
    });
    expect(sixes).toBeLessThan(1_000);

    const t0 = Date.now();
    const results = await pool(
      plan.map((p) => () =>
        exchange(reg, { host: '127.0.0.1', port: p.port, localAddress: p.peer, ...(p.localPort ? { localPort: p.localPort } : {}), payload: `ping-${p.i}`, timeoutMs: 20_000 }),
      ),
      CONCURRENCY,
    );
    const elapsed = Date.now() - t0;

    const mismatches: string[] = [];
    let expectAccepted = 0;
    const expectedByRule = new Map<string, { accepted: number; dropped: number }>();
    plan.forEach((p, k) => {
      const r = results[k]!;
      const flow: FlowInput = { direction: 'inbound', protocol: 'TCP', remote: p.peer, port: p.port, local: '127.0.0.1', instance: 'edge-1' };
      const sourcePort = p.localPort ?? r.localPort;
      if (sourcePort !== undefined) flow.sourcePort = sourcePort;
      const verdict = referenceClassify(reference, parseFlow(flow));
      const key = verdict.groupId === null ? 'default' : `${verdict.groupId}#inbound#${verdict.ruleIndex}`;
      const counts = expectedByRule.get(key) ?? { accepted: 0, dropped: 0 };
      expectedByRule.set(key, counts);
      const accepted = verdict.action === 'accept';
      if (accepted) {
        expectAccepted++;
        counts.accepted++;
      } else counts.dropped++;
      const got = r.received === `ping-${p.i}` ? 'accept' : r.received === '' ? 'drop' : `garbled ${JSON.stringify(r.received)}`;
      if (got !== verdict.action || r.error?.code === 'ETIMEDOUT_TEST' || r.error?.code === 'EADDRINUSE') {
        mismatches.push(`#${p.i} ${p.peer}:${sourcePort ?? '?'} -> ${p.port}: got ${got} (${r.error?.code ?? 'no error'}), expected ${verdict.action} by ${key}`);
      }
    });
    expect(mismatches.slice(0, 10)).toEqual([]);

    // The app saw exactly the accepted connections; the guards counted every one.
    expect(seen).toHaveLength(expectAccepted);
    const sa = guardA.stats();
    const sb = guardB.stats();
    expect(sa.accepted + sb.accepted).toBe(expectAccepted);
    expect(sa.dropped + sb.dropped).toBe(CONNECTIONS - expectAccepted);
    const merged = new Map<string, { accepted: number; dropped: number }>();
    for (const s of [sa, sb]) {
      for (const [k, v] of s.byRule) {
        const m = merged.get(k) ?? { accepted: 0, dropped: 0 };
        merged.set(k, { accepted: m.accepted + v.accepted, dropped: m.dropped + v.dropped });
      }
    }
    expect(merged).toEqual(expectedByRule);
    // Both outcomes are well represented, and so is every rule of the mix.
    expect(expectAccepted).toBeGreaterThan(CONNECTIONS * 0.25);
    expect(expectAccepted).toBeLessThan(CONNECTIONS * 0.75);
    expect(merged.size).toBe(8);
    console.log(`${CONNECTIONS} guarded connections in ${elapsed} ms (${expectAccepted} accepted, ${CONNECTIONS - expectAccepted} dropped, ${merged.size} deciding rules)`);
  });
});
