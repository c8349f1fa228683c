// lintPolicy against the reference matcher: every witness classifies as its finding
// says, a rule lint calls shadowed decides no generated flow, and "removing this rule
// changes nothing" (shadowed, redundant, duplicate, never-matches) agrees with an
// exact diff of the policy without the rule.
import { describe, expect, it } from 'vitest';
import { fc } from '@fast-check/vitest';
import { diffPolicies, lintPolicy, parseClassBench, parseConfig, parseFlow, referenceClassify, SgfilterError, type Config, type ConfigInput, type LintFinding, type Rule } from '../src/index.js';
import { mismatch } from '../src/reference.js';
import { mulberry32, pick, randomConfig, randomFlows, type Rng } from './random.js';
import { classBenchConfig, configWithoutRule, randomClassBench, randomSetPolicy, randomTencentPolicy } from './analysis-policies.js';
import { onInstance, withoutRule } from './analysis-check.js';
import { fuzzSeed } from './fuzz/settings.js';

// One root seed for the suite (test/fuzz/settings.ts: SGFILTER_FUZZ_SEED, fixed by default so CI is reproducible).
const SEED = fuzzSeed('lint: against the reference');
const CONFIGS = 80;

const ruleAt = (config: Config, p: { groupId: string; direction: 'inbound' | 'outbound'; ruleIndex: number }): Rule =>
  config.securityGroups.find((g) => g.id === p.groupId)![p.direction][p.ruleIndex]!;

/** Every finding's witness: valid, and classified as the finding says. `without(rule)`: the policy without that rule. */
function checkWitness(config: Config, without: (rule: Rule) => Config, f: LintFinding, problems: string[]): void {
  if (!f.witness) {
    if (['shadowed', 'redundant', 'duplicate', 'exposure'].includes(f.kind)) problems.push(`${f.kind} without a witness: ${f.message}`);
    return;
  }
  const flow = parseFlow(f.witness);
  const got = referenceClassify(config, flow);
  const bad = (why: string) => problems.push(`${f.message}\n  witness ${JSON.stringify(f.witness)} → ${JSON.stringify(got)}: ${why}`);
  if (JSON.stringify(got) !== JSON.stringify(f.verdict)) bad(`the finding says ${JSON.stringify(f.verdict)}`);
  const rule = ruleAt(config, f.rule!);
  // The reference reads the rule's sets, groups and semantics from the config.
  const matches = mismatch(rule, flow, config) === null;
  switch (f.kind) {
    case 'shadowed':
      if (!matches) bad('the rule does not match its witness');
      if (!f.decidedBy!.some((d) => d!.groupId === got.groupId && d!.ruleIndex === got.ruleIndex)) bad('decided by a rule the finding does not name');
      break;
    case 'duplicate': {
      const twin = ruleAt(config, f.decidedBy![0]!);
      if (!matches || mismatch(twin, flow, config) !== null || twin.action !== rule.action) bad('the twins do not both match it with one action');
      break;
    }
    case 'redundant': {
      if (got.groupId !== rule.groupId || got.ruleIndex !== rule.ruleIndex) bad('the rule does not decide its witness');
      if (!rule.template) {
        const gone = referenceClassify(without(rule), flow);
        if (gone.action !== rule.action || f.withoutRule!.action !== rule.action) bad(`without the rule it gets ${JSON.stringify(gone)}`);
      }
      break;
    }
    case 'exposure':
      if (got.groupId !== rule.groupId || got.ruleIndex !== rule.ruleIndex || got.action !== 'accept') bad('the rule does not accept its witness');
      if (flow.protocol !== 6 || !f.ports!.some((p) => p.lo <= flow.port! && flow.port! <= p.hi)) bad('not TCP to an exposed port');
      break;
    case 'never-matches':
      if (matches) bad('the rule matches it');
      break;
    default:
      break;
  }
}

/**
 * Lints one policy and checks it against the reference: witnesses, "decides nothing"
 * against generated edge flows, and "removing it changes nothing" against an exact
 * diff of the policy without the rule (`without`). Counts finding kinds into `kinds`;
 * returns how many removals it diffed.
 */
function checkLint(r: Rng, config: Config, without: (rule: Rule) => Config, where: string, kinds: Map<string, number>): number {
  const problems: string[] = [];
  let removals = 0;
  const report = lintPolicy(config, { profile: 'none', adminPorts: '+80,443' });
  expect(report.complete).toBe(true);
  // "No effect" per instance: key instance|group|direction|index.
  const noEffect = new Set<string>();
  const shadowed = new Set<string>();
  const key = (inst: string, p: { groupId: string; direction: string; ruleIndex: number }) => `${inst}|${p.groupId}|${p.direction}|${p.ruleIndex}`;
  const heldByTwin = new Set<string>();
  for (const f of report.findings) {
    kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1);
    checkWitness(config, without, f, problems);
    if (!f.rule) continue;
    const insts = f.instances.length ? f.instances : config.instances.map((i) => i.id);
    for (const i of insts) {
      if (['shadowed', 'redundant', 'duplicate', 'never-matches'].includes(f.kind)) noEffect.add(key(i, f.rule));
      if (['shadowed', 'duplicate', 'never-matches'].includes(f.kind)) shadowed.add(key(i, f.rule));
      if (f.kind === 'duplicate') heldByTwin.add(key(i, f.decidedBy![0]!));
    }
  }
  // Rules that decide nothing decide no generated flow.
  const flows = [...randomFlows(r, config, 300), ...report.findings.flatMap((f) => (f.witness ? [f.witness] : []))];
  for (const f of flows) {
    const v = referenceClassify(config, f);
    const inst = f.instance ?? config.instances[0]!.id;
    if (v.groupId !== null && shadowed.has(key(inst, { groupId: v.groupId, direction: f.direction, ruleIndex: v.ruleIndex! }))) {
      problems.push(`flow ${JSON.stringify(f)} is decided by ${JSON.stringify(v)}, which lint says decides nothing`);
    }
  }
  // Removing a rule changes a verdict exactly when lint does not say it has no effect.
  const bound = new Set(config.instances.flatMap((i) => i.securityGroups));
  const written = config.securityGroups.flatMap((g) =>
    bound.has(g.id) ? (['inbound', 'outbound'] as const).flatMap((d) => g[d].filter((x) => !x.template)) : [],
  );
  for (let k = 0; k < 6 && written.length > 0; k++) {
    const rule = pick(r, written);
    removals++;
    const d = diffPolicies(config, without(rule));
    for (const inst of config.instances) {
      if (!inst.securityGroups.includes(rule.groupId)) continue;
      const k2 = key(inst.id, rule);
      if (heldByTwin.has(k2)) continue; // its later twin (refused by the cloud) would stand in
      const changed = d.changes.some((ch) => ch.instances.includes(inst.id));
      if (changed === noEffect.has(k2)) {
        problems.push(`removing ${k2}: diff ${changed ? 'changes verdicts' : 'changes nothing'}, lint says ${noEffect.has(k2) ? 'no effect' : 'it decides something'}`);
      }
    }
  }
  if (problems.length) problems.push(where);
  expect(problems, problems.join('\n\n')).toEqual([]);
  return removals;
}

/** The kinds a generator must reach, or the checks above check nothing. */
function expectKinds(kinds: Map<string, number>, want: string[]): void {
  for (const k of want) expect(kinds.get(k) ?? 0, k).toBeGreaterThan(0);
}

describe(`lintPolicy against the reference matcher (seed ${SEED})`, () => {
  it(`${CONFIGS} random policies: witnesses, shadowed rules, and removal agree with diffPolicies`, () => {
    // One fast-check run per policy: a failure names the policy's seed (SGFILTER_SEED reproduces the run).
    const kinds = new Map<string, number>();
    let removals = 0;
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (c) => {
      const r = mulberry32(c);
      const doc = randomConfig(r, 10);
      const config = parseConfig(doc);
      const without = (rule: Rule) => parseConfig(withoutRule(doc, rule.groupId, rule.direction, rule.ruleIndex));
      removals += checkLint(r, config, without, `config ${c}: ${JSON.stringify(doc)}`, kinds);
    }), { seed: SEED, numRuns: CONFIGS });
    expectKinds(kinds, ['shadowed', 'redundant', 'duplicate', 'never-matches', 'exposure']);
    expect(removals).toBeGreaterThan(100);
  });

  it(`${CONFIGS} policies with address sets, service sets, set groups, empty sets, group references and instance addresses`, () => {
    const kinds = new Map<string, number>();
    let named = 0;
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (c) => {
      const r = mulberry32(c);
      const docs = randomSetPolicy(r);
      const config = parseConfig(docs as never);
      named += config.securityGroups.flatMap((g) => [...g.inbound, ...g.outbound]).filter((x) => x.peerSet || x.peerGroup || x.serviceSet).length;
      checkLint(r, config, (rule) => configWithoutRule(config, rule.groupId, rule.direction, rule.ruleIndex), `config ${c}: ${JSON.stringify(docs)}`, kinds);
    }), { seed: SEED, numRuns: CONFIGS });
    expectKinds(kinds, ['shadowed', 'redundant', 'duplicate', 'never-matches', 'exposure']);
    expect(named).toBeGreaterThan(CONFIGS * 5);
  });

  it(`${CONFIGS} Tencent policies: templates, template groups, SecurityGroupId references, PolicyIndex out of array order`, () => {
    const kinds = new Map<string, number>();
    let reordered = 0;
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (c) => {
      const r = mulberry32(c);
      const docs = randomTencentPolicy(r);
      const config = parseConfig(docs as never);
      reordered += config.warnings.filter((w) => /PolicyIndex/.test(w.message)).length;
      checkLint(r, config, (rule) => configWithoutRule(config, rule.groupId, rule.direction, rule.ruleIndex), `config ${c}: ${JSON.stringify(docs)}`, kinds);
    }), { seed: SEED, numRuns: CONFIGS });
    expectKinds(kinds, ['shadowed', 'redundant', 'never-matches', 'exposure']);
    expect(reordered).toBeGreaterThan(CONFIGS / 4);
  });

  it(`${CONFIGS} ClassBench filter sets (semantics 'classbench': ICMP and ICMPv6 not paired with a family)`, () => {
    const kinds = new Map<string, number>();
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (c) => {
      const r = mulberry32(c);
      const lines = randomClassBench(r);
      const config = classBenchConfig(lines);
      const without = (rule: Rule) => classBenchConfig(lines.filter((_, i) => i !== rule.ruleIndex));
      checkLint(r, config, without, `filters ${c}:\n${lines.join('\n')}`, kinds);
    }), { seed: SEED, numRuns: CONFIGS });
    expectKinds(kinds, ['shadowed', 'redundant']);
    // No ClassBench rule is "ICMPv6 with an IPv4 peer": the header's protocol number is all it asks.
    expect(kinds.get('never-matches') ?? 0).toBe(0);
  });
});

describe('lintPolicy findings on a written policy', () => {
  const doc: ConfigInput = {
    securityGroups: [
      {
        id: 'sg-web',
        inbound: [
          { protocol: 'TCP', port: 22, source: '0.0.0.0/0', action: 'accept' },
          { protocol: 'TCP', port: '20-30', source: '10.0.0.0/8', action: 'accept' },
          { protocol: 'TCP', port: 22, source: '10.1.0.0/16', action: 'drop' },
          { protocol: 'TCP', port: 22, source: '0.0.0.0/0', action: 'accept' },
          { protocol: 'ICMP', source: '::/0', action: 'accept' },
          { protocol: 'TCP', port: '6000-6500', source: 'any', action: 'accept' },
        ],
        outbound: [{ protocol: 'ALL', destination: '0.0.0.0/0', action: 'accept' }],
      },
    ],
  };
  const report = lintPolicy(doc);
  const of = (kind: string, index: number) => report.findings.find((f) => f.kind === kind && f.rule?.ruleIndex === index);

  it('names what it finds, with the covering rules', () => {
    expect(of('shadowed', 2)?.decidedBy).toEqual([{ groupId: 'sg-web', direction: 'inbound', ruleIndex: 0 }]);
    expect(of('shadowed', 2)?.message).toMatch(/rule 2 is shadowed.*by rule 0; it would drop them, they accept them/);
    expect(of('duplicate', 3)?.decidedBy).toEqual([{ groupId: 'sg-web', direction: 'inbound', ruleIndex: 0 }]);
    expect(of('duplicate', 3)?.severity).toBe('error');
    expect(of('never-matches', 4)?.message).toMatch(/ICMP/);
    expect(of('exposure', 0)?.ports).toEqual([{ lo: 22, hi: 22 }]);
    expect(of('exposure', 5)?.ports).toEqual([{ lo: 6379, hi: 6379 }]);
    expect(of('exposure', 5)?.message).toMatch(/0\.0\.0\.0\/0 and ::\/0/);
    expect(of('exposure', 1)).toBeUndefined(); // 10.0.0.0/8 is not the world
  });

  it('takes a configurable port list', () => {
    const only = lintPolicy(doc, { adminPorts: '6000' });
    expect(only.findings.filter((f) => f.kind === 'exposure').map((f) => f.rule!.ruleIndex)).toEqual([5]);
    expect(lintPolicy(doc, { adminPorts: [8080] }).findings.some((f) => f.kind === 'exposure')).toBe(false);
    expect(lintPolicy(doc, { adminPorts: '+6001' }).findings.find((f) => f.kind === 'exposure' && f.rule!.ruleIndex === 5)!.ports).toEqual([
      { lo: 6001, hi: 6001 }, { lo: 6379, hi: 6379 },
    ]);
  });

  it('checks the cloud limits of a profile: Tencent 100 rules per direction, 5 groups per instance', () => {
    const many: ConfigInput = {
      securityGroups: [
        { id: 'sg-big', inbound: Array.from({ length: 101 }, (_, i) => ({ protocol: 'TCP' as const, port: 1000 + i, source: '10.0.0.0/8', action: 'accept' as const })) },
        ...Array.from({ length: 5 }, (_, i) => ({ id: `sg-${i}` })),
      ],
      instances: [{ id: 'ins-1', securityGroups: ['sg-big', 'sg-0', 'sg-1', 'sg-2', 'sg-3', 'sg-4'] }],
    };
    const t = lintPolicy(many);
    expect(t.findings.find((f) => f.kind === 'rule-limit')).toMatchObject({ groupId: 'sg-big', count: 101, limit: 100, rule: { ruleIndex: 100 } });
    expect(t.findings.find((f) => f.kind === 'group-limit')).toMatchObject({ instances: ['ins-1'], count: 6, limit: 5 });
    expect(lintPolicy(many, { profile: 'aws' }).findings.find((f) => f.kind === 'rule-limit')?.limit).toBe(60);
    const none = lintPolicy(many, { profile: 'none' });
    expect(none.findings.filter((f) => f.kind === 'rule-limit' || f.kind === 'group-limit')).toEqual([]);
    expect(lintPolicy(many, { profile: 'none', maxRulesPerDirection: 101, maxGroupsPerInstance: 3 }).findings.map((f) => f.kind)).toContain('group-limit');
  });

  it('refuses bad options with INVALID_ARGUMENT naming them', () => {
    for (const bad of [{ profile: 'azure' }, { adminPorts: '70000' }, { maxWork: 0 }, { profil: 'aws' }, { maxWork: 1.5 }]) {
      expect(() => lintPolicy(doc, bad as never), JSON.stringify(bad)).toThrow(SgfilterError);
      try {
        lintPolicy(doc, bad as never);
      } catch (e) {
        expect((e as SgfilterError).code).toBe('INVALID_ARGUMENT');
      }
    }
  });

  it('stops at its budget and says which rules it did not judge, never hangs', () => {
    const big: ConfigInput = {
      securityGroups: [{ id: 'sg', inbound: Array.from({ length: 400 }, (_, i) => ({ protocol: 'TCP' as const, port: `${i}-${i + 400}`, source: `10.${i % 256}.0.0/16`, action: (i % 2 ? 'accept' : 'drop') as 'accept' })) }],
    };
    const t0 = Date.now();
    const rep = lintPolicy(big, { maxWork: 20_000, profile: 'none' });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(rep.complete).toBe(false);
    const na = rep.findings.find((f) => f.kind === 'not-analyzed')!;
    expect(na.message).toMatch(/maxWork 20,000/);
    expect(na.count).toBeGreaterThan(0);
  });
});

describe('lintPolicy on a huge group', () => {
  it('40,000 rules, half of them duplicates: every rule test is spent from the budget, so it stops in seconds', () => {
    const n = 40_000;
    const doc = {
      securityGroups: [{ id: 'g', inbound: Array.from({ length: n }, (_, i) => ({ protocol: 'TCP', port: i % 2 ? 22 : 1000 + i, source: i % 2 ? '10.0.0.0/8' : `11.${(i >> 8) & 255}.${i & 255}.0/24`, action: 'accept' })) }],
    } as ConfigInput;
    const t0 = Date.now();
    const rep = lintPolicy(doc, { profile: 'none', maxWork: 1 << 20 });
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(rep.complete).toBe(false);
    expect(rep.stats.work).toBeLessThanOrEqual((1 << 20) + 4096);
    expect(rep.findings.filter((f) => f.kind === 'duplicate').length).toBe(n / 2 - 1);
  }, 30_000);
});

describe('lintPolicy input', () => {
  it('refuses an invalid config with CONFIG_INVALID', () => {
    expect(() => lintPolicy({ securityGroups: [{ id: 'a', inbound: [{ protocol: 'TCP', port: 70000, source: 'any', action: 'accept' }] }] } as never)).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });
  it('lints the witness instance: flows of a later instance name it', () => {
    const doc: ConfigInput = {
      securityGroups: [{ id: 'a', inbound: [{ protocol: 'TCP', port: 22, source: 'any', action: 'drop' }] }, { id: 'b', inbound: [{ protocol: 'TCP', port: 22, source: '10.0.0.0/8', action: 'accept' }] }],
      instances: [{ id: 'i1', securityGroups: ['b'] }, { id: 'i2', securityGroups: ['a', 'b'] }],
    };
    const f = lintPolicy(doc).findings.find((x) => x.kind === 'shadowed')!;
    expect(f.instances).toEqual(['i2']);
    expect(f.witness!.instance).toBe('i2');
    expect(referenceClassify(parseConfig(doc), onInstance(f.witness!, 'i1')).action).toBe('accept');
  });
});

describe('lintPolicy on sets, group references and ClassBench filters', () => {
  it('ClassBench: an ICMPv6 filter over IPv4 prefixes matches (the header number only), and its twin is a duplicate', () => {
    const filters = '@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x3a/0xFF\n@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x3A/0xFF\n';
    const config = parseClassBench(filters);
    const report = lintPolicy(config, { profile: 'none' });
    expect(report.findings.map((f) => [f.kind, f.rule?.ruleIndex])).toEqual([['duplicate', 1]]);
    const w = report.findings[0]!.witness!;
    expect(w).toMatchObject({ protocol: 'ICMPv6', remote: '10.0.0.0' });
    expect(referenceClassify(config, w)).toEqual({ action: 'accept', groupId: 'classbench', ruleIndex: 0 });
  });

  it('a service-set rule matching the flows of an earlier rule is its duplicate, however its services overlap or are ordered', () => {
    const report = lintPolicy({
      serviceSets: [{ id: 'a', services: ['udp:53', 'udp', 'tcp:80', 'icmp'] }, { id: 'b', services: ['icmp', 'tcp:80', 'udp', 'udp:0-10'] }, { id: 'c', services: ['udp'] }],
      securityGroups: [{ id: 'sg', inbound: [
        { serviceSet: 'a', source: '10.0.0.0/8', action: 'accept' },
        { serviceSet: 'b', source: '10.0.0.0/8', action: 'accept' },
        { protocol: 'UDP', source: '192.0.2.0/24', action: 'drop' },
        { serviceSet: 'c', source: '192.0.2.0/24', action: 'drop' },
      ] }],
    } as never, { profile: 'none' });
    expect(report.findings.filter((f) => f.kind === 'duplicate').map((f) => [f.rule!.ruleIndex, f.decidedBy![0]!.ruleIndex])).toEqual([[1, 0], [3, 2]]);
  });

  it('an empty address set, an empty service set and a group whose instances have no addresses can never match', () => {
    const config = parseConfig({
      addressSets: [{ id: 'nobody', addresses: [] }],
      serviceSets: [{ id: 'nothing', services: [] }, { id: 'web', services: ['tcp:80', 'tcp:0-65535', 'icmpv6'] }],
      securityGroups: [
        { id: 'sg-app', inbound: [
          { protocol: 'TCP', port: 22, source: 'nobody', action: 'accept' },
          { serviceSet: 'nothing', source: '10.0.0.0/8', action: 'accept' },
          { protocol: 'TCP', port: 5432, source: 'sg-db', action: 'accept' },
          { serviceSet: 'web', source: '10.0.0.0/8', action: 'accept' },
        ] },
        { id: 'sg-db' },
      ],
      instances: [{ id: 'app-1', securityGroups: ['sg-app'], addresses: ['10.0.0.5'] }, { id: 'db-1', securityGroups: ['sg-db'] }],
    } as never);
    const report = lintPolicy(config, { profile: 'none' });
    const never = report.findings.filter((f) => f.kind === 'never-matches');
    expect(never.map((f) => f.rule!.ruleIndex)).toEqual([0, 1, 2]);
    expect(never.map((f) => f.witness)).toEqual([undefined, undefined, undefined]);
    expect(never[0]!.message).toMatch(/address set "nobody" is empty/);
    expect(never[1]!.message).toMatch(/service set "nothing" is empty/);
    expect(never[2]!.message).toMatch(/no instance bound to group "sg-db" has addresses/);
    // The service set's ICMPv6 speaks for IPv6 peers only: over 10.0.0.0/8 the rule still matches TCP.
    expect(report.findings.some((f) => f.rule?.ruleIndex === 3)).toBe(false);
  });
});
