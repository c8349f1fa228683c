/**
 * Imported formats give the same verdicts as the native form: Terraform lite rule
 * strings ("ACTION#PEER#PORT#PROTOCOL") and Tencent Cloud DescribeSecurityGroupPolicies
 * output (whole Response, SecurityGroupPolicySet wrapper, bare policy set, or a
 * policy set embedded in a native group). Also the real Tencent CLI examples in
 * shared/data/tencent, and how malformed imported rules are refused.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createEngine,
  createFlowBatch,
  loadConfigFile,
  parseConfig,
  parseFlow,
  referenceClassify,
  safeLoadConfigFile,
  safeParseConfig,
  SgfilterError,
  type Engine,
  type FlowInput,
  type Issue,
  type IssueCode,
  type Path,
  type Verdict,
} from '../src/index.js';
import { mulberry32 } from './random.js';
import { describeWithData } from './data.js';

const readJson = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));

type Doc = Record<string, unknown>;

// ---------------------------------------------------------------------------
// One policy, written as [ACTION, PEER, PORT, PROTOCOL] (the Terraform order)
// ---------------------------------------------------------------------------

type Canon = [action: 'ACCEPT' | 'DROP', peer: string, port: string, protocol: string];

const INBOUND: Canon[] = [
  ['ACCEPT', '192.168.1.0/24', '80,443', 'TCP'], // 0
  ['ACCEPT', '10.0.0.0/8', '3000-3100', 'TCP'], // 1
  ['DROP', '10.1.0.0/16', 'ALL', 'UDP'], // 2
  ['ACCEPT', '10.0.0.0/8', '53', 'UDP'], // 3
  ['ACCEPT', '0.0.0.0/0', 'ALL', 'ICMP'], // 4
  ['ACCEPT', '::/0', 'ALL', 'ICMPv6'], // 5
  ['ACCEPT', '2001:db8::/32', '22,80,8000-8080', 'TCP'], // 6
  ['DROP', '172.16.0.0/12', '22', 'TCP'], // 7
  ['ACCEPT', '172.16.0.0/12', 'ALL', 'ALL'], // 8
  ['ACCEPT', '2001:db8:1::/48', 'ALL', 'GRE'], // 9
  ['ACCEPT', '192.0.2.7', '0,65535', 'UDP'], // 10
  ['DROP', '0.0.0.0/0', 'ALL', 'ALL'], // 11
];
const OUTBOUND: Canon[] = [
  ['ACCEPT', '0.0.0.0/0', '80,443', 'TCP'], // 0
  ['ACCEPT', '2001:db8:1::/48', '3000-3100', 'UDP'], // 1
  ['DROP', '203.0.113.0/24', 'ALL', 'TCP'], // 2
  ['ACCEPT', '198.51.100.0/24', 'ALL', 'ALL'], // 3
  ['ACCEPT', '203.0.113.7', '53', 'UDP'], // 4
  ['DROP', '::/0', 'ALL', 'ALL'], // 5
  ['ACCEPT', '0.0.0.0/0', '65535', 'UDP'], // 6
  ['ACCEPT', '0.0.0.0/0', '0-1023', 'UDP'], // 7
];

const isV6 = (peer: string) => peer.includes(':');

function nativeRule([action, peer, port, protocol]: Canon, dir: 'inbound' | 'outbound', i: number): Doc {
  // vary the aliases the native form accepts
  const act = action === 'ACCEPT' ? (['accept', 'allow', 'Allow'] as const)[i % 3] : (['drop', 'reject', 'deny'] as const)[i % 3];
  const rule: Doc = { protocol: i % 2 ? protocol.toLowerCase() : protocol, action: act, description: `rule ${i}` };
  if (port !== 'ALL' || i % 2) rule.port = /^\d+$/.test(port) && i % 2 ? Number(port) : port;
  rule[dir === 'inbound' ? 'source' : 'destination'] = peer;
  return rule;
}

const terraformRule = ([action, peer, port, protocol]: Canon): string => `${action}#${peer}#${port}#${protocol}`;

function tencentPolicy([action, peer, port, protocol]: Canon, i: number): Doc {
  const v6 = isV6(peer);
  return {
    PolicyIndex: i + 1,
    Protocol: protocol.toLowerCase(),
    Port: port === 'ALL' && i % 2 ? 'all' : port,
    ServiceTemplate: i % 3 === 0 ? {} : { ServiceId: '', ServiceGroupId: '' },
    AddressTemplate: i % 3 === 1 ? {} : { AddressId: '', AddressGroupId: '' },
    SecurityGroupId: '',
    CidrBlock: v6 ? '' : peer,
    Ipv6CidrBlock: v6 ? peer : '',
    Action: action,
    PolicyDescription: i % 2 ? '' : `policy ${i + 1}`,
    ModifyTime: '2024-01-01 00:00:00',
  };
}

const policySet = (version: string | number): Doc => ({
  Version: version,
  Ingress: INBOUND.map(tencentPolicy),
  Egress: OUTBOUND.map(tencentPolicy),
});

const FORMS: Record<string, { doc: unknown; groupId: string }> = {
  native: {
    groupId: 'sg',
    doc: {
      securityGroups: [
        {
          id: 'sg',
          inbound: INBOUND.map((r, i) => nativeRule(r, 'inbound', i)),
          outbound: OUTBOUND.map((r, i) => nativeRule(r, 'outbound', i)),
        },
      ],
    },
  },
  terraform: {
    groupId: 'sg',
    doc: { securityGroups: [{ id: 'sg', inbound: INBOUND.map(terraformRule), outbound: OUTBOUND.map(terraformRule) }] },
  },
  'terraform and native mixed in one list': {
    groupId: 'sg',
    doc: {
      securityGroups: [
        {
          id: 'sg',
          inbound: INBOUND.map((r, i) => (i % 2 ? terraformRule(r) : nativeRule(r, 'inbound', i))),
          outbound: OUTBOUND.map((r, i) => (i % 2 ? nativeRule(r, 'outbound', i) : terraformRule(r))),
        },
      ],
    },
  },
  'tencent Response (Version "1")': {
    groupId: 'tencent',
    doc: { Response: { RequestId: '74883e1b-5901-46de-ae1e-d6e2cf591c5b', SecurityGroupPolicySet: policySet('1') } },
  },
  'tencent {SecurityGroupPolicySet} (Version 60)': {
    groupId: 'tencent',
    doc: { SecurityGroupPolicySet: policySet(60) },
  },
  'tencent bare policy set': {
    groupId: 'tencent',
    doc: policySet('7'),
  },
  'native group embedding a SecurityGroupPolicySet': {
    groupId: 'sg-imported',
    doc: {
      securityGroups: [{ id: 'sg-imported', name: 'from Tencent', SecurityGroupPolicySet: policySet(3) }],
      instances: [{ id: 'ins-1', securityGroups: ['sg-imported'] }],
    },
  },
};

// ---------------------------------------------------------------------------
// Flows: a few hundred, at the edges of the rules' ranges
// ---------------------------------------------------------------------------


const V4_EDGES = [
  '192.168.1.0', '192.168.1.255', '192.168.1.77', '192.168.0.255', '192.168.2.0',
  '10.0.0.0', '10.255.255.255', '9.255.255.255', '11.0.0.0', '10.0.255.255', '10.1.0.0', '10.1.255.255', '10.2.0.0', '10.200.3.4',
  '172.16.0.0', '172.31.255.255', '172.15.255.255', '172.32.0.0', '172.20.1.1',
  '203.0.113.0', '203.0.113.255', '203.0.113.7', '203.0.113.6', '203.0.113.8', '203.0.112.255', '203.0.114.0',
  '198.51.100.0', '198.51.100.255', '198.51.99.255', '198.51.101.0',
  '192.0.2.7', '192.0.2.6', '192.0.2.8',
  '0.0.0.0', '255.255.255.255', '8.8.8.8',
  '::ffff:192.168.1.5', '::ffff:10.1.2.3', '::ffff:172.16.0.1',
];
const V6_EDGES = [
  '2001:db8::', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db9::',
  '2001:db8:1::', '2001:db8:1:ffff:ffff:ffff:ffff:ffff', '2001:db8:0:ffff:ffff:ffff:ffff:ffff', '2001:db8:2::', '2001:db8:1::5',
  '::', '::1', 'fe80::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2a00:1450::200e',
];
const PORT_EDGES = [0, 1, 21, 22, 23, 52, 53, 54, 79, 80, 81, 442, 443, 444, 1022, 1023, 1024, 2999, 3000, 3001, 3099, 3100, 3101, 7999, 8000, 8080, 8081, 65534, 65535];
const PROTOCOLS = ['TCP', 'TCP', 'TCP', 'UDP', 'UDP', 'UDP', 'ICMP', 'ICMPv6', 'GRE', 50, 6, 'udp'] as const;

function generateFlows(n: number, seed: number): FlowInput[] {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const randomV4 = () => Array.from({ length: 4 }, () => Math.floor(rnd() * 256)).join('.');
  const randomV6 = () => ['2001:db8', ...Array.from({ length: 6 }, () => Math.floor(rnd() * 65536).toString(16))].join(':');
  const flows: FlowInput[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    const remote = r < 0.5 ? pick(V4_EDGES) : r < 0.75 ? pick(V6_EDGES) : r < 0.88 ? randomV4() : randomV6();
    const protocol = pick(PROTOCOLS);
    const flow: FlowInput = { direction: rnd() < 0.5 ? 'inbound' : 'outbound', protocol, remote };
    const p: string | number = typeof protocol === 'string' ? protocol.toUpperCase() : protocol;
    if (p === 'TCP' || p === 'UDP' || p === 6 || p === 17) flow.port = rnd() < 0.8 ? pick(PORT_EDGES) : Math.floor(rnd() * 65536);
    if ((p === 'ICMP' || p === 'ICMPV6') && rnd() < 0.5) flow.icmpType = pick([0, 8, 128, 129]);
    flows.push(flow);
  }
  return flows;
}

/** Targeted flows: one per rule that the rule decides (so every rule index is exercised). */
const TARGETED: FlowInput[] = [
  { direction: 'inbound', protocol: 'TCP', remote: '192.168.1.10', port: 443 },
  { direction: 'inbound', protocol: 'TCP', remote: '10.9.9.9', port: 3100 },
  { direction: 'inbound', protocol: 'UDP', remote: '10.1.0.1', port: 53 },
  { direction: 'inbound', protocol: 'UDP', remote: '10.2.0.1', port: 53 },
  { direction: 'inbound', protocol: 'ICMP', remote: '8.8.8.8', icmpType: 8 },
  { direction: 'inbound', protocol: 'ICMPv6', remote: '2001:db8::1', icmpType: 128 },
  { direction: 'inbound', protocol: 'TCP', remote: '2001:db8::1', port: 8080 },
  { direction: 'inbound', protocol: 'TCP', remote: '172.16.0.1', port: 22 },
  { direction: 'inbound', protocol: 'TCP', remote: '172.16.0.1', port: 23 },
  { direction: 'inbound', protocol: 'GRE', remote: '2001:db8:1::9' },
  { direction: 'inbound', protocol: 'UDP', remote: '192.0.2.7', port: 65535 },
  { direction: 'inbound', protocol: 'UDP', remote: '192.0.2.7', port: 0 },
  { direction: 'inbound', protocol: 'UDP', remote: '192.0.2.7', port: 1 },
  { direction: 'outbound', protocol: 'TCP', remote: '203.0.113.7', port: 80 },
  { direction: 'outbound', protocol: 'UDP', remote: '2001:db8:1::1', port: 3000 },
  { direction: 'outbound', protocol: 'TCP', remote: '203.0.113.7', port: 22 },
  { direction: 'outbound', protocol: 'TCP', remote: '198.51.100.1', port: 22 },
  { direction: 'outbound', protocol: 'UDP', remote: '203.0.113.7', port: 53 },
  { direction: 'outbound', protocol: 'UDP', remote: '2001:db8:1::1', port: 2999 },
  { direction: 'outbound', protocol: 'UDP', remote: '8.8.4.4', port: 65535 },
  { direction: 'outbound', protocol: 'UDP', remote: '8.8.4.4', port: 1023 },
  { direction: 'outbound', protocol: 'UDP', remote: '8.8.4.4', port: 1024 },
];

/** The verdicts written out by hand for the targeted flows (in the native group "sg"). */
const TARGETED_EXPECTED: [Verdict['action'], number | null][] = [
  ['accept', 0], ['accept', 1], ['drop', 2], ['accept', 3], ['accept', 4], ['accept', 5], ['accept', 6],
  ['drop', 7], ['accept', 8], ['accept', 9], ['accept', 10], ['accept', 10], ['drop', 11],
  ['accept', 0], ['accept', 1], ['drop', 2], ['accept', 3], ['accept', 4], ['drop', 5], ['accept', 6], ['accept', 7], [
    'drop', null],
];

const FLOWS: FlowInput[] = [...TARGETED, ...generateFlows(500, 0x5eed)];

/** Classifies `flows` through classify, classifyBatch and the reference; asserts all three agree. */
function verdictsOf(engine: Engine, doc: unknown, flows: FlowInput[]): Verdict[] {
  const batch = createFlowBatch(flows);
  const out = engine.classifyBatch(batch);
  const cfg = parseConfig(doc);
  return flows.map((f, i) => {
    const v = batch.verdict(i);
    expect(out[i], `action byte of ${JSON.stringify(f)}`).toBe(v.action === 'accept' ? 1 : 0);
    expect(engine.classify(f), `classify ${JSON.stringify(f)}`).toEqual(v);
    expect(referenceClassify(cfg, parseFlow(f)), `reference ${JSON.stringify(f)}`).toEqual(v);
    return v;
  });
}

const normalize = (v: Verdict, groupId: string) => {
  if (v.groupId !== null) expect(v.groupId).toBe(groupId);
  return { action: v.action, ruleIndex: v.ruleIndex, decided: v.groupId !== null };
};

describe('Terraform lite strings and Tencent Cloud JSON give the native verdicts', () => {
  let nativeVerdicts: ReturnType<typeof normalize>[];

  it('the native form classifies the flow set as written by hand, hitting every rule', async () => {
    const { doc, groupId } = FORMS.native!;
    const engine = await createEngine(doc as never);
    const verdicts = verdictsOf(engine, doc, FLOWS);
    nativeVerdicts = verdicts.map((v) => normalize(v, groupId));
    TARGETED_EXPECTED.forEach(([action, ruleIndex], i) => {
      expect(verdicts[i], JSON.stringify(TARGETED[i])).toEqual({ action, groupId: ruleIndex === null ? null : groupId, ruleIndex });
    });
    // the generated flows are not trivial
    const accepts = verdicts.filter((v) => v.action === 'accept').length;
    expect(accepts).toBeGreaterThan(50);
    expect(verdicts.length - accepts).toBeGreaterThan(50);
    expect(verdicts.filter((v) => v.groupId === null).length).toBeGreaterThan(10);
    expect(FLOWS.filter((f) => String(f.remote).includes(':') && !String(f.remote).startsWith('::ffff:')).length).toBeGreaterThan(100);
  });

  for (const [name, form] of Object.entries(FORMS)) {
    if (name === 'native') continue;
    it(`${name}: same action and ruleIndex as native on ${FLOWS.length} flows`, async () => {
      expect(nativeVerdicts).toBeDefined();
      const r = safeParseConfig(form.doc);
      expect(r.success, r.success ? '' : JSON.stringify(r.issues, null, 1)).toBe(true);
      const engine = await createEngine(form.doc as never);
      expect(engine.config.securityGroups.map((g) => g.id)).toEqual([form.groupId]);
      expect(engine.config.securityGroups[0]!.inbound).toHaveLength(INBOUND.length);
      expect(engine.config.securityGroups[0]!.outbound).toHaveLength(OUTBOUND.length);
      const verdicts = verdictsOf(engine, form.doc, FLOWS).map((v) => normalize(v, form.groupId));
      const diffs = verdicts.flatMap((v, i) => (JSON.stringify(v) === JSON.stringify(nativeVerdicts[i]) ? [] : [{ flow: FLOWS[i], native: nativeVerdicts[i], got: v }]));
      expect(diffs.slice(0, 5)).toEqual([]);
    });
  }

  it('a small flow window (windowFlows: 7) gives the same verdicts over the whole batch', async () => {
    const engine = await createEngine(FORMS.terraform!.doc as never, { windowFlows: 7 });
    const verdicts = verdictsOf(engine, FORMS.terraform!.doc, FLOWS).map((v) => normalize(v, 'sg'));
    expect(verdicts).toEqual(nativeVerdicts);
  });

  it('reloading between forms keeps the verdicts (native → Tencent → Terraform)', async () => {
    const engine = await createEngine(FORMS.native!.doc as never);
    await engine.reload(FORMS['tencent Response (Version "1")']!.doc as never);
    expect(engine.version).toBe(2);
    const a = verdictsOf(engine, FORMS['tencent Response (Version "1")']!.doc, FLOWS).map((v) => normalize(v, 'tencent'));
    expect(a).toEqual(nativeVerdicts);
    await engine.reload(FORMS.terraform!.doc as never);
    expect(engine.version).toBe(3);
    const b = verdictsOf(engine, FORMS.terraform!.doc, FLOWS).map((v) => normalize(v, 'sg'));
    expect(b).toEqual(nativeVerdicts);
  });
});

describe('Tencent Cloud specifics', () => {
  const one = (policy: Doc, dir: 'Ingress' | 'Egress' = 'Ingress'): Doc => ({
    Response: { SecurityGroupPolicySet: { Version: '1', Ingress: [], Egress: [], [dir]: [policy] } },
  });
  const base: Doc = { PolicyIndex: 1, Protocol: 'tcp', Port: '80', CidrBlock: '10.0.0.0/16', Ipv6CidrBlock: '', SecurityGroupId: '', Action: 'ACCEPT', PolicyDescription: '' };
  const P = ['Response', 'SecurityGroupPolicySet', 'Ingress', 0];

  const issuesOf = (doc: unknown): Issue[] => {
    const r = safeParseConfig(doc);
    expect(r.success).toBe(false);
    return r.success ? [] : r.issues;
  };

  it('Protocol "all" and Port "all" (lowercase), Protocol "ALL" without Port', async () => {
    const doc = {
      SecurityGroupPolicySet: {
        Version: 2,
        Ingress: [
          { ...base, Protocol: 'all', Port: 'all', CidrBlock: '10.0.0.0/16' },
          { ...base, Protocol: 'ALL', Port: '', CidrBlock: '', Ipv6CidrBlock: '2001:db8::/32' },
        ],
        Egress: [{ ...base, Protocol: 'ALL', Port: 'ALL', CidrBlock: '0.0.0.0/0', Action: 'DROP' }],
      },
    };
    const engine = await createEngine(doc as never);
    expect(engine.classify({ direction: 'inbound', protocol: 'GRE', remote: '10.0.1.1' })).toEqual({ action: 'accept', groupId: 'tencent', ruleIndex: 0 });
    expect(engine.classify({ direction: 'inbound', protocol: 'UDP', remote: '2001:db8::9', port: 9 })).toEqual({ action: 'accept', groupId: 'tencent', ruleIndex: 1 });
    expect(engine.classify({ direction: 'inbound', protocol: 'UDP', remote: '10.1.0.0', port: 9 })).toEqual({ action: 'drop', groupId: null, ruleIndex: null });
    expect(engine.classify({ direction: 'outbound', protocol: 'TCP', remote: '1.1.1.1', port: 443 })).toEqual({ action: 'drop', groupId: 'tencent', ruleIndex: 0 });
    expect(engine.classify({ direction: 'outbound', protocol: 'TCP', remote: '2001:db8::1', port: 443 })).toEqual({ action: 'drop', groupId: null, ruleIndex: null });
  });

  it('an Ipv6CidrBlock rule with ICMP is valid but can never match, and is warned about (SPEC §2)', async () => {
    const doc = one({ ...base, Protocol: 'icmp', Port: '', CidrBlock: '', Ipv6CidrBlock: '::/0' });
    const r = safeParseConfig(doc);
    expect(r.success).toBe(true);
    if (!r.success) return;
    expect(r.config.warnings).toHaveLength(1);
    const engine = await createEngine(doc as never);
    expect(engine.classify({ direction: 'inbound', protocol: 'ICMPv6', remote: '2001:db8::1' }).action).toBe('drop');
    expect(engine.classify({ direction: 'inbound', protocol: 'ICMP', remote: '2001:db8::1' }).action).toBe('drop');
    // The warning says where, in the document the user gave (like issues do): from its root.
    expect(r.config.warnings[0]!.path).toEqual(P);
  });

  it('bad Tencent fields are refused with the Tencent field name in the path', () => {
    const cases: [Doc, IssueCode, Path, string][] = [
      [{ ...base, Port: '99999' }, 'PORT_OUT_OF_RANGE', [...P, 'Port'], '99999'],
      [{ ...base, Port: '3100-3000' }, 'REVERSED_RANGE', [...P, 'Port'], '3100-3000'],
      [{ ...base, Protocol: 'tcpp' }, 'UNKNOWN_PROTOCOL', [...P, 'Protocol'], 'tcpp'],
      [{ ...base, Protocol: 'icmp', Port: '8' }, 'PORT_NOT_ALLOWED', [...P, 'Port'], '8'],
      [{ ...base, CidrBlock: '10.0.0.1/8' }, 'HOST_BITS_SET', [...P, 'CidrBlock'], '10.0.0.0/8'],
      [{ ...base, CidrBlock: '', Ipv6CidrBlock: '2001:db8::/129' }, 'PREFIX_TOO_LONG', [...P, 'Ipv6CidrBlock'], '2001:db8::/129'],
      [{ ...base, CidrBlock: 'hello' }, 'INVALID_ADDRESS', [...P, 'CidrBlock'], 'hello'],
      [{ ...base, Action: 'MAYBE' }, 'INVALID_ACTION', [...P, 'Action'], 'MAYBE'],
      [{ ...base, CidrBlock: '10.0.0.0/16', Ipv6CidrBlock: '2001:db8::/32' }, 'CONFLICTING_FIELDS', [...P, 'Ipv6CidrBlock'], 'Ipv6CidrBlock'],
      // A group reference (SPEC §9) to a group the policy does not define; with a CidrBlock beside it, two peers.
      [{ ...base, CidrBlock: '', SecurityGroupId: 'sg-12345' }, 'UNKNOWN_GROUP', [...P, 'SecurityGroupId'], 'sg-12345'],
      [{ ...base, SecurityGroupId: 'sg-12345' }, 'CONFLICTING_FIELDS', [...P, 'SecurityGroupId'], 'mutually exclusive'],
      [{ ...base, CidrBlock: '', AddressTemplate: { AddressId: 'ipm-1234', AddressGroupId: '' } }, 'UNDEFINED_TEMPLATE', [...P, 'AddressTemplate', 'AddressId'], 'ipm-1234'],
    ];
    for (const [policy, code, p, mention] of cases) {
      const issues = issuesOf(one(policy));
      const issue = issues.find((i) => i.code === code);
      expect(issue, `${code}: ${JSON.stringify(issues)}`).toBeDefined();
      expect(issue!.path, code).toEqual(p);
      expect(issue!.message, code).toContain(mention);
    }
    // outbound policies: same, under Egress
    const e = issuesOf(one({ ...base, Port: '70000' }, 'Egress'));
    expect(e.map((i) => [i.code, i.path])).toEqual([['PORT_OUT_OF_RANGE', ['Response', 'SecurityGroupPolicySet', 'Egress', 0, 'Port']]]);
  });

  it('paths follow the shape given: bare set, {SecurityGroupPolicySet}, group-embedded', () => {
    const bad = { ...base, Port: '99999' };
    const set = { Version: '1', Ingress: [base, bad] };
    expect(issuesOf(set).map((i) => i.path)).toEqual([['Ingress', 1, 'Port']]);
    expect(issuesOf({ SecurityGroupPolicySet: set }).map((i) => i.path)).toEqual([['SecurityGroupPolicySet', 'Ingress', 1, 'Port']]);
    const embedded = { securityGroups: [{ id: 'sg-ok', inbound: [] }, { id: 'sg-t', SecurityGroupPolicySet: set }] };
    expect(issuesOf(embedded).map((i) => i.path)).toEqual([['securityGroups', 1, 'SecurityGroupPolicySet', 'Ingress', 1, 'Port']]);
  });

  it('several bad policies are all reported', () => {
    const doc = {
      Response: {
        SecurityGroupPolicySet: {
          Version: '1',
          Ingress: [base, { ...base, Port: '99999' }, { ...base, Protocol: 'tcpp' }],
          Egress: [{ ...base, CidrBlock: '10.0.0.1/8' }],
        },
      },
    };
    const issues = issuesOf(doc);
    expect(issues.map((i) => [i.code, i.path])).toEqual(
      expect.arrayContaining([
        ['PORT_OUT_OF_RANGE', ['Response', 'SecurityGroupPolicySet', 'Ingress', 1, 'Port']],
        ['UNKNOWN_PROTOCOL', ['Response', 'SecurityGroupPolicySet', 'Ingress', 2, 'Protocol']],
        ['HOST_BITS_SET', ['Response', 'SecurityGroupPolicySet', 'Egress', 0, 'CidrBlock']],
      ]),
    );
    expect(issues).toHaveLength(3);
  });
});

describeWithData('tencent', 'the real Tencent CLI examples ($SGFILTER_DATA/tencent)', (TENCENT_DATA) => {
  const ECM_FILE = path.join(TENCENT_DATA, 'ecm-DescribeSecurityGroupPolicies.json');
  const VPC_FILE = path.join(TENCENT_DATA, 'vpc-DescribeSecurityGroupPolicies.json');

  it('ecm-DescribeSecurityGroupPolicies.json is accepted and classifies as its rules say', async () => {
    const doc = readJson(ECM_FILE);
    const r = safeParseConfig(doc);
    expect(r.success, r.success ? '' : JSON.stringify(r.issues, null, 1)).toBe(true);
    const expectations: [FlowInput, Verdict][] = [
      [{ direction: 'inbound', protocol: 'TCP', remote: '10.0.5.5', port: 8080 }, { action: 'accept', groupId: 'tencent', ruleIndex: 0 }],
      [{ direction: 'inbound', protocol: 'TCP', remote: '10.0.255.255', port: 8080 }, { action: 'accept', groupId: 'tencent', ruleIndex: 0 }],
      [{ direction: 'inbound', protocol: 'TCP', remote: '10.1.0.0', port: 8080 }, { action: 'drop', groupId: null, ruleIndex: null }],
      [{ direction: 'inbound', protocol: 'TCP', remote: '10.0.5.5', port: 8081 }, { action: 'drop', groupId: null, ruleIndex: null }],
      [{ direction: 'inbound', protocol: 'UDP', remote: '10.0.5.5', port: 8080 }, { action: 'drop', groupId: null, ruleIndex: null }],
      [{ direction: 'outbound', protocol: 'TCP', remote: '20.0.1.1', port: 80 }, { action: 'accept', groupId: 'tencent', ruleIndex: 0 }],
      [{ direction: 'outbound', protocol: 'TCP', remote: '20.0.1.1', port: 81 }, { action: 'drop', groupId: null, ruleIndex: null }],
      [{ direction: 'outbound', protocol: 'TCP', remote: '20.1.0.0', port: 80 }, { action: 'drop', groupId: null, ruleIndex: null }],
      [{ direction: 'outbound', protocol: 'TCP', remote: '2001:db8::1', port: 80 }, { action: 'drop', groupId: null, ruleIndex: null }],
    ];
    const viaDoc = await createEngine(doc as never);
    const viaPath = await createEngine({ file: ECM_FILE });
    const loaded = await loadConfigFile(ECM_FILE);
    for (const [flow, expected] of expectations) {
      expect(viaDoc.classify(flow), JSON.stringify(flow)).toEqual(expected);
      expect(viaPath.classify(flow), JSON.stringify(flow)).toEqual(expected);
      expect(referenceClassify(loaded, parseFlow(flow)), JSON.stringify(flow)).toEqual(expected);
    }
    const g = viaDoc.config.securityGroups[0]!;
    expect(g.id).toBe('tencent');
    expect(g.inbound[0]!.description).toBe('test-2');
    expect(g.outbound[0]!.description).toBe('test1');
  });

  it('vpc-DescribeSecurityGroupPolicies.json is refused: it references templates it does not define', async () => {
    const doc = readJson(VPC_FILE);
    const r = safeParseConfig(doc);
    expect(r.success).toBe(false);
    if (r.success) return;
    expect(r.issues.length).toBeGreaterThan(0);
    for (const i of r.issues) {
      expect(i.code).toBe('UNDEFINED_TEMPLATE');
      expect(i.message).toMatch(/ipmg-2uw6ujo6|ppm-f5n1f8da/);
    }
    const first = r.issues.find((i) => i.path[2] === 'Ingress' && i.path[3] === 0);
    expect(first, JSON.stringify(r.issues, null, 1)).toBeDefined();
    expect(first!.path.slice(0, 4)).toEqual(['Response', 'SecurityGroupPolicySet', 'Ingress', 0]);
    // every policy of the file is named, not only the first
    const policies = new Set(r.issues.map((i) => `${i.path[2]}[${i.path[3]}]`));
    expect([...policies].sort()).toEqual(['Egress[0]', 'Ingress[0]', 'Ingress[1]']);
    // both kinds of template are named
    expect(r.issues.some((i) => i.message.includes('ipmg-2uw6ujo6'))).toBe(true);
    expect(r.issues.some((i) => i.message.includes('ppm-f5n1f8da'))).toBe(true);

    for (const attempt of [() => createEngine(doc as never), () => createEngine({ file: VPC_FILE }), () => loadConfigFile(VPC_FILE)]) {
      let err: unknown;
      try {
        await attempt();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SgfilterError);
      expect((err as SgfilterError).code).toBe('CONFIG_INVALID');
      expect((err as SgfilterError).issues.map((i) => i.code)).toContain('UNDEFINED_TEMPLATE');
    }
    const safe = await safeLoadConfigFile(VPC_FILE);
    expect(safe.success).toBe(false);
  });
});

describe('malformed Terraform lite strings', () => {
  const doc = (inbound: unknown[], outbound: unknown[] = []): Doc => ({ securityGroups: [{ id: 'sg-tf', inbound, outbound }] });
  const issuesOf = (d: unknown): Issue[] => {
    const r = safeParseConfig(d);
    expect(r.success).toBe(false);
    return r.success ? [] : r.issues;
  };

  it('"ACCEPT#1.2.3.4#80" (three parts) is INVALID_TERRAFORM_RULE', async () => {
    const d = doc(['ACCEPT#10.0.0.0/8#22#TCP', 'ACCEPT#1.2.3.4#80']);
    const issues = issuesOf(d);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.code).toBe('INVALID_TERRAFORM_RULE');
    expect(issues[0]!.path).toEqual(['securityGroups', 0, 'inbound', 1]);
    expect(issues[0]!.message).toContain('ACCEPT#1.2.3.4#80');
    let err: unknown;
    try {
      await createEngine(d as never);
    } catch (e) {
      err = e;
    }
    expect((err as SgfilterError).code).toBe('CONFIG_INVALID');
  });

  it('"ACCEPT#1.2.3.4#99999#TCP" is PORT_OUT_OF_RANGE at the rule\'s path', () => {
    const issues = issuesOf(doc([], ['DROP#0.0.0.0/0#ALL#ALL', 'ACCEPT#1.2.3.4#80#TCP', 'ACCEPT#1.2.3.4#99999#TCP']));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.code).toBe('PORT_OUT_OF_RANGE');
    expect(issues[0]!.path).toEqual(['securityGroups', 0, 'outbound', 2]);
    expect(issues[0]!.message).toContain('99999');
  });

  it('each part is validated like a rule field; all bad strings are reported together', () => {
    const issues = issuesOf(
      doc([
        'ACCEPT#10.0.0.1/8#80#TCP', // 0 host bits
        'MAYBE#1.2.3.4#80#TCP', // 1 action
        'ACCEPT#1.2.3.4#80#ICMP', // 2 port with ICMP
        'ACCEPT#1.2.3.4#21-20#TCP', // 3 reversed
        'ACCEPT#1.2.3.4#80#TCPP', // 4 protocol
        'ACCEPT#hello#80#TCP', // 5 address
        'ACCEPT#1.2.3.4#80#TCP#extra', // 6 five parts
        '', // 7 empty
        'ACCEPT#192.168.1.0/24#80#TCP', // 8 fine
      ]),
    );
    const P = (i: number): Path => ['securityGroups', 0, 'inbound', i];
    expect(issues.map((i) => [i.code, i.path])).toEqual([
      ['HOST_BITS_SET', P(0)],
      ['INVALID_ACTION', P(1)],
      ['PORT_NOT_ALLOWED', P(2)],
      ['REVERSED_RANGE', P(3)],
      ['UNKNOWN_PROTOCOL', P(4)],
      ['INVALID_ADDRESS', P(5)],
      ['INVALID_TERRAFORM_RULE', P(6)],
      ['INVALID_TERRAFORM_RULE', P(7)],
    ]);
    expect(issues[0]!.message).toContain('10.0.0.0/8');
    expect(issues[1]!.message).toContain('MAYBE');
  });
});
