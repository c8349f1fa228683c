// Outside review (at11): prototype pollution around owned configs. The library builds a
// Config root as an object literal and assigns optional fields (semantics, addressSets,
// serviceSets, name, file) onto it BEFORE ownConfig moves it onto PLAIN_PROTO: an
// accessor on Object.prototype sees (or swallows) those assignments.
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, parseClassBench, referenceClassify, parseFlow, SgfilterError } from '../../src/index.js';

// One ClassBench filter: protocol 58 (0x3a/0xFF) from 10.0.0.0/8 — under ClassBench
// semantics it matches an IPv4 flow of protocol 58; under security-group semantics
// (ICMPv6 speaks only for IPv6 peers) it does not.
const FILTERS = '@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x3a/0xFF\n';
const FLOW = { direction: 'inbound', protocol: 58, remote: '10.1.2.3', local: '192.0.2.1', icmpType: 128, icmpCode: 0 } as const;

const polluted: string[] = [];
function pollute(key: string, desc: PropertyDescriptor): void {
  Object.defineProperty(Object.prototype, key, { configurable: true, ...desc });
  polluted.push(key);
}
afterEach(() => {
  for (const k of polluted.splice(0)) delete (Object.prototype as Record<string, unknown>)[k];
});

describe('review at11: Object.prototype accessors during update / loadSnapshot', () => {
  it('baseline: the ClassBench filter accepts an IPv4 protocol-58 flow', async () => {
    const config = parseClassBench(FILTERS);
    const engine = await createEngine(config);
    expect(engine.classify(FLOW).action).toBe('accept');
    expect(referenceClassify(config, parseFlow(FLOW)).action).toBe('accept');
  });

  // FINDING of the outside review, fixed
  it('a no-op "semantics" setter on Object.prototype does not change the verdict after update()', async () => {
    const config = parseClassBench(FILTERS);
    const engine = await createEngine(config);
    expect(engine.classify(FLOW).action).toBe('accept');
    pollute('semantics', { set() { /* swallow */ }, get() { return undefined; } });
    let err: unknown;
    try {
      // An unrelated edit: add a rule at the end.
      await engine.update([{ op: 'addRule', groupId: 'classbench', direction: 'inbound', rule: { action: 'drop', protocol: 'tcp', port: '1', source: '192.0.2.9/32' } }]);
    } catch (e) { err = e; }
    // Either refused with a coded error, or the policy keeps its meaning.
    if (err !== undefined) expect(err).toBeInstanceOf(SgfilterError);
    else {
      // Observed: the verdict flips to drop (the rules were compiled with security-group
      // ICMP/ICMPv6 family pairing) and the config lost its semantics.
      expect(engine.classify(FLOW).action).toBe('accept');
      expect(engine.config.semantics).toBe('classbench');
    }
  });

  // FINDING of the outside review, fixed
  it('a no-op "semantics" setter on Object.prototype does not change the config loaded from a snapshot', async () => {
    const config = parseClassBench(FILTERS);
    const engine = await createEngine(config);
    const snap = engine.snapshot();
    pollute('semantics', { set() { /* swallow */ }, get() { return undefined; } });
    let err: unknown;
    let loaded: Awaited<ReturnType<typeof createEngine>> | undefined;
    try { loaded = await createEngine({ snapshot: snap }); } catch (e) { err = e; }
    if (err !== undefined) expect(err).toBeInstanceOf(SgfilterError);
    else {
      // The table decides accept (ClassBench semantics); the config it carries must say so too.
      expect(loaded!.classify(FLOW).action).toBe('accept');
      expect(loaded!.config.semantics).toBe('classbench');
      expect(referenceClassify(loaded!.config, parseFlow(FLOW)).action).toBe('accept');
    }
  });

  // FINDING of the outside review, fixed
  it('a throwing "semantics" setter: loadSnapshot fails only with a coded error', async () => {
    const config = parseClassBench(FILTERS);
    const engine = await createEngine(config);
    const snap = engine.snapshot();
    pollute('semantics', { set() { throw new TypeError('boom'); }, get() { return undefined; } });
    let err: unknown;
    try { await engine.loadSnapshot(snap); } catch (e) { err = e; }
    if (err !== undefined) expect(err, String(err)).toBeInstanceOf(SgfilterError);
  });

  // FINDING of the outside review, fixed
  it('a throwing "semantics" setter: update fails only with a coded error', async () => {
    const config = parseClassBench(FILTERS);
    const engine = await createEngine(config);
    pollute('semantics', { set() { throw new TypeError('boom'); }, get() { return undefined; } });
    let err: unknown;
    try { await engine.update([{ op: 'addRule', groupId: 'classbench', direction: 'inbound', rule: { action: 'drop', protocol: 'tcp', port: '1', source: '192.0.2.9/32' } }]); } catch (e) { err = e; }
    if (err !== undefined) expect(err, String(err)).toBeInstanceOf(SgfilterError);
  });
});
