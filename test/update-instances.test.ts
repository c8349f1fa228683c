// update() and config files mean the same thing for instances (issue 9): after any
// sequence of instance edits, the engine either refuses the update (nothing changes) or
// classifies exactly as a fresh engine made from the resulting config written as a
// file. No update leaves a policy without instances (which no file can say: a file
// without instances means the implicit `default` bound to every group): LAST_INSTANCE.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createEngine, parseConfig, parseConfigText, referenceClassify, SgfilterError, type Engine, type FlowInput, type PolicyEdit, type Verdict } from '../src/index.js';

const GROUPS = [
  { id: 'a', inbound: [{ protocol: 'TCP', port: 22, source: 'any', action: 'accept' }], outbound: [{ protocol: 'ALL', destination: 'any', action: 'accept' }] },
  { id: 'b', inbound: [{ protocol: 'TCP', port: '22,80', source: '10.0.0.0/8', action: 'drop' }] },
  { id: 'c', inbound: [{ protocol: 'ALL', source: 'any', action: 'accept' }] },
];
const IDS = ['default', 'i1', 'i2', 'x'];

const flows: FlowInput[] = [
  { direction: 'inbound', protocol: 'TCP', port: 22, remote: '10.0.0.1' },
  { direction: 'inbound', protocol: 'TCP', port: 80, remote: '203.0.113.9' },
  { direction: 'outbound', protocol: 'UDP', port: 53, remote: '2001:db8::1' },
];

const answer = (f: () => Verdict): string => {
  try {
    return JSON.stringify(f());
  } catch (e) {
    if (!(e instanceof SgfilterError)) throw e;
    return e.code;
  }
};

/** engine.config written back as a file: the groups as given, the instances only when explicit. */
function asFile(engine: Engine): string {
  const c = engine.config;
  const doc = c.implicitInstance
    ? { securityGroups: GROUPS.filter((g) => c.securityGroups.some((s) => s.id === g.id)) }
    : { securityGroups: GROUPS.filter((g) => c.securityGroups.some((s) => s.id === g.id)), instances: c.instances.map((i) => ({ id: i.id, securityGroups: [...i.securityGroups] })) };
  return JSON.stringify(doc);
}

const groupId = fc.constantFrom('a', 'b', 'c');
const instanceId = fc.constantFrom(...IDS);
const edit: fc.Arbitrary<PolicyEdit> = fc.oneof(
  fc.record({ op: fc.constant('removeInstance' as const), instanceId }),
  fc.record({ op: fc.constant('addInstance' as const), instance: fc.record({ id: instanceId, securityGroups: fc.uniqueArray(groupId, { maxLength: 3 }) }) }),
  fc.record({ op: fc.constant('bindGroup' as const), instanceId, groupId }),
  fc.record({ op: fc.constant('unbindGroup' as const), instanceId, groupId }),
);

describe('update() and files agree on instances', () => {
  it('removing the last instance is refused with LAST_INSTANCE and changes nothing; adding its replacement in the same update is fine', async () => {
    for (const start of [{ securityGroups: GROUPS, instances: [{ id: 'i1', securityGroups: ['a'] }] }, { securityGroups: GROUPS }]) {
      const e = await createEngine(start as never);
      const only = e.config.instances[0]!.id;
      const { version, config } = e;
      const err = (await e.update([{ op: 'removeInstance', instanceId: only }]).catch((x) => x)) as SgfilterError;
      expect(err).toBeInstanceOf(SgfilterError);
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.issues).toEqual([expect.objectContaining({ code: 'LAST_INSTANCE', path: ['update', 0, 'instanceId'], given: only })]);
      expect(e.version).toBe(version);
      expect(e.config).toBe(config);
      await e.update([{ op: 'removeInstance', instanceId: only }, { op: 'addInstance', instance: { id: 'new', securityGroups: ['b'] } }]);
      expect(e.config.instances.map((i) => i.id)).toEqual(['new']);
      expect(e.classify(flows[0]!)).toEqual({ action: 'drop', groupId: 'b', ruleIndex: 0 });
    }
  });

  it('after any instance edits, the engine classifies as the resulting config read as a file (generated)', async () => {
    let published = 0;
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(fc.array(edit, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }), async (implicit, updates) => {
        const e = await createEngine((implicit ? { securityGroups: GROUPS } : { securityGroups: GROUPS, instances: [{ id: 'i1', securityGroups: ['b', 'a'] }] }) as never);
        for (const edits of updates) {
          const { version, config } = e;
          try {
            await e.update(edits);
            published++;
          } catch (err) {
            expect(err).toBeInstanceOf(SgfilterError);
            expect((err as SgfilterError).code).toBe('CONFIG_INVALID');
            expect(e.version).toBe(version);
            expect(e.config).toBe(config);
          }
          // Never a policy no file can write.
          expect(e.config.instances.length).toBeGreaterThan(0);
          const file = parseConfig(parseConfigText(asFile(e)));
          const fresh = await createEngine(file);
          expect(file.instances.map((i) => [i.id, i.securityGroups])).toEqual(e.config.instances.map((i) => [i.id, i.securityGroups]));
          for (const inst of [undefined, ...IDS]) {
            for (const f0 of flows) {
              const f = inst === undefined ? f0 : { ...f0, instance: inst };
              const got = answer(() => e.classify(f));
              expect(got).toBe(answer(() => fresh.classify(f)));
              expect(got).toBe(answer(() => referenceClassify(file, f)));
            }
          }
        }
      }),
      { seed: 9, numRuns: 150 },
    );
    expect(published).toBeGreaterThan(30); // many updates are refused (unknown ids, duplicates): enough go through
  });
});
