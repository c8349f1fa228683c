// Outside review (at11): array-index fields on Object.prototype. Arrays in the engine
// (the verdict cache, holey by design) and in the parsers still read through
// Object.prototype past what they hold.
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, parseConfig, SgfilterError } from '../../src/index.js';

const P = Object.prototype as Record<string, unknown>;
afterEach(() => {
  for (const k of ['0', '1', '-1']) delete P[k];
});

const DOC = {
  securityGroups: [{ id: 'sg', inbound: [{ action: 'drop', protocol: 'tcp', port: '22', source: '10.0.0.0/8' }, { action: 'accept', protocol: 'all', source: '0.0.0.0/0' }], outbound: [] }],
  instances: [{ id: 'i', securityGroups: ['sg'] }],
};
const FLOW = { instance: 'i', direction: 'inbound', protocol: 6, port: 22, remote: '10.1.2.3' } as const;

describe('review at11: Object.prototype array indexes', () => {
  // FINDING of the outside review, fixed
  it('engine.classify returns the drop rule\'s verdict, not an object from Object.prototype', async () => {
    const engine = await createEngine(parseConfig(DOC));
    // Polluted after the engine was made, before the first classify of rule id 0.
    P['0'] = Object.freeze({ action: 'accept', groupId: 'sg', ruleIndex: 1 });
    const v = engine.classify(FLOW);
    // Observed: { action: 'accept', groupId: 'sg', ruleIndex: 1 } (the verdict cache is a
    // holey Array and cache[0] reads Object.prototype[0]).
    expect(v).toEqual({ action: 'drop', groupId: 'sg', ruleIndex: 0 });
  });

  // FINDING of the outside review, fixed
  it('parseConfig fails closed, with a coded error, when Object.prototype[0] is set', () => {
    // ipaddr.js (the config's second reader) then refuses every IPv6 address: a library
    // inside the same polluted process. Refused whole, coded, is what sgfilter can promise.
    const doc = { securityGroups: [{ id: 'sg', inbound: [{ action: 'accept', protocol: 'all', source: '2001:db8::/32' }], outbound: [] }], instances: [{ id: 'i', securityGroups: ['sg'] }] };
    P['0'] = { lo: 0n, hi: 0xffffffffn, words: [0], len: 0 };
    let err: unknown;
    try { parseConfig(doc); } catch (e) { err = e; }
    expect(err === undefined || (err instanceof SgfilterError && err.code === 'CONFIG_INVALID')).toBe(true);
  });

  // FINDING of the outside review, fixed
  it('parseConfig fails only with coded errors with Object.prototype[-1] set', () => {
    P['-1'] = 1;
    let err: unknown;
    try { parseConfig(DOC); } catch (e) { err = e; }
    // Observed: TypeError "Cannot create property 'size' on number '1'" (src/config/plain.ts finish()).
    if (err !== undefined) expect(err, String(err)).toBeInstanceOf(SgfilterError);
  });

  // FINDING of the outside review, fixed
  it('compile fails only with coded errors (internal plans read "parts" through Object.prototype)', async () => {
    const config = parseConfig(DOC);
    P['parts'] = 1;
    let err: unknown;
    try { await createEngine(config); } catch (e) { err = e; }
    delete P['parts'];
    // Observed: TypeError "c.parts.forEach is not a function" (src/compile/serialize.ts writeClassifier).
    if (err !== undefined) expect(err, String(err)).toBeInstanceOf(SgfilterError);
  });
});
