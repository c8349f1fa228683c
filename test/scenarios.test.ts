/**
 * SPEC §5: every scenario of the seed, as one group in an otherwise empty config,
 * checked three ways — engine.classify, createFlowBatch + engine.classifyBatch, and
 * the reference matcher over parseConfig/parseFlow. Plus the multi-group priority
 * change (hot reload), IPv4-mapped remotes, and instance selection (SPEC §1, §3).
 */
import { describe, expect, it } from 'vitest';
import {
  createEngine,
  createFlowBatch,
  parseConfig,
  parseFlow,
  referenceClassify,
  SgfilterError,
  type Engine,
  type FlowInput,
  type Verdict,
} from '../src/index.js';

type Doc = Record<string, unknown>;

interface Case {
  flow: FlowInput;
  expect: Verdict;
  /** Free text shown when the case fails. */
  what?: string;
}

const accept = (groupId: string, ruleIndex: number): Verdict => ({ action: 'accept', groupId, ruleIndex });
const dropBy = (groupId: string, ruleIndex: number): Verdict => ({ action: 'drop', groupId, ruleIndex });
const DEFAULT_DROP: Verdict = { action: 'drop', groupId: null, ruleIndex: null };

const inTcp = (remote: string, port: number): FlowInput => ({ direction: 'inbound', protocol: 'TCP', remote, port });
const inUdp = (remote: string, port: number): FlowInput => ({ direction: 'inbound', protocol: 'UDP', remote, port });
const outTcp = (remote: string, port: number): FlowInput => ({ direction: 'outbound', protocol: 'TCP', remote, port });
const outUdp = (remote: string, port: number): FlowInput => ({ direction: 'outbound', protocol: 'UDP', remote, port });
const outAll = (remote: string): FlowInput[] => [
  outTcp(remote, 443),
  outTcp(remote, 1),
  outUdp(remote, 53),
  outUdp(remote, 65535),
  { direction: 'outbound', protocol: 'ICMP', remote, icmpType: 8, icmpCode: 0 },
  { direction: 'outbound', protocol: 'GRE', remote },
  { direction: 'outbound', protocol: 50, remote },
];

const label = (c: Case): string => c.what ?? JSON.stringify(c.flow);

/** Checks each case through the three paths; the engine is returned for further use. */
async function checkCases(config: Doc, cases: Case[], engine?: Engine): Promise<Engine> {
  const e = engine ?? (await createEngine(config as never));
  const parsed = parseConfig(config);
  // 1. one flow at a time
  for (const c of cases) {
    expect(e.classify(c.flow), `classify ${label(c)}`).toEqual(c.expect);
  }
  // 2. one batch
  const batch = createFlowBatch(cases.map((c) => c.flow));
  const out = e.classifyBatch(batch);
  expect(out.length).toBe(cases.length);
  cases.forEach((c, i) => {
    expect(out[i], `classifyBatch action byte ${label(c)}`).toBe(c.expect.action === 'accept' ? 1 : 0);
    expect(batch.verdict(i), `classifyBatch verdict ${label(c)}`).toEqual(c.expect);
  });
  expect(batch.policyVersion).toBe(e.version);
  // 3. the reference matcher
  for (const c of cases) {
    expect(referenceClassify(parsed, parseFlow(c.flow)), `referenceClassify ${label(c)}`).toEqual(c.expect);
  }
  return e;
}

/** One group, no instances: SPEC §5 "as a group in an otherwise empty config". */
const oneGroup = (group: Doc): Doc => ({ securityGroups: [group] });

const SOME_IPV4 = ['0.0.0.0', '1.2.3.4', '8.8.8.8', '203.0.113.9', '198.51.100.200', '10.11.12.13', '255.255.255.255'];

describe('SPEC §5 seed scenarios (one group, default instance)', () => {
  it('scenario 1: Linux login, TCP 22 from 0.0.0.0/0', async () => {
    const g = 'sg-linux-login';
    const config = oneGroup({
      id: g,
      inbound: [{ type: 'Linux login', source: '0.0.0.0/0', action: 'Allow', description: 'SSH' }],
    });
    await checkCases(config, [
      ...SOME_IPV4.map((ip) => ({ flow: inTcp(ip, 22), expect: accept(g, 0) })),
      { flow: inTcp('1.2.3.4', 23), expect: DEFAULT_DROP },
      { flow: inTcp('1.2.3.4', 21), expect: DEFAULT_DROP },
      { flow: inUdp('1.2.3.4', 22), expect: DEFAULT_DROP },
      { flow: inTcp('2001:db8::1', 22), expect: DEFAULT_DROP, what: 'TCP 22 in from an IPv6 peer' },
      { flow: inTcp('::', 22), expect: DEFAULT_DROP, what: 'TCP 22 in from ::' },
      { flow: outTcp('1.2.3.4', 22), expect: DEFAULT_DROP, what: 'outbound TCP 22' },
    ]);
  });

  it('scenario 1 written with the seed\'s "Protocol Port" column as well (TCP: 22)', async () => {
    const g = 'sg-linux-login';
    const config = oneGroup({
      id: g,
      inbound: [{ type: 'Linux Login', protocol: 'tcp', port: '22', source: '0.0.0.0/0', action: 'allow' }],
    });
    await checkCases(config, [
      { flow: inTcp('192.0.2.1', 22), expect: accept(g, 0) },
      { flow: inTcp('192.0.2.1', 23), expect: DEFAULT_DROP },
      { flow: inTcp('2001:db8::5', 22), expect: DEFAULT_DROP },
    ]);
  });

  it('scenario 2: Windows login, TCP 3389 from 203.0.113.0/24', async () => {
    const g = 'sg-windows-login';
    const config = oneGroup({
      id: g,
      inbound: [{ type: 'Windows login', source: '203.0.113.0/24', action: 'Allow' }],
    });
    await checkCases(config, [
      { flow: inTcp('203.0.113.9', 3389), expect: accept(g, 0) },
      { flow: inTcp('203.0.113.0', 3389), expect: accept(g, 0) },
      { flow: inTcp('203.0.113.255', 3389), expect: accept(g, 0) },
      { flow: inTcp('198.51.100.1', 3389), expect: DEFAULT_DROP },
      { flow: inTcp('203.0.112.255', 3389), expect: DEFAULT_DROP },
      { flow: inTcp('203.0.114.0', 3389), expect: DEFAULT_DROP },
      { flow: inTcp('203.0.113.9', 3390), expect: DEFAULT_DROP },
      { flow: inTcp('203.0.113.9', 3388), expect: DEFAULT_DROP },
      { flow: inUdp('203.0.113.9', 3389), expect: DEFAULT_DROP },
      { flow: inTcp('2001:db8::1', 3389), expect: DEFAULT_DROP },
    ]);
  });

  it('scenario 3: Ping, ICMP from 0.0.0.0/0', async () => {
    const g = 'sg-ping';
    const config = oneGroup({ id: g, inbound: [{ type: 'Ping', source: '0.0.0.0/0', action: 'Allow' }] });
    await checkCases(config, [
      { flow: { direction: 'inbound', protocol: 'ICMP', remote: '8.8.8.8' }, expect: accept(g, 0) },
      { flow: { direction: 'inbound', protocol: 'icmp', remote: '1.2.3.4', icmpType: 8, icmpCode: 0 }, expect: accept(g, 0) },
      { flow: { direction: 'inbound', protocol: 1, remote: '255.255.255.255', icmpType: 0 }, expect: accept(g, 0) },
      { flow: inUdp('8.8.8.8', 53), expect: DEFAULT_DROP },
      { flow: inTcp('8.8.8.8', 80), expect: DEFAULT_DROP },
      { flow: { direction: 'inbound', protocol: 'GRE', remote: '8.8.8.8' }, expect: DEFAULT_DROP },
      // ping is ICMPv6 for IPv6 peers, but this rule's peer is IPv4 only
      { flow: { direction: 'inbound', protocol: 'ICMPv6', remote: '2001:db8::1', icmpType: 128 }, expect: DEFAULT_DROP },
      // ICMPv6 from an IPv4 peer is not ping
      { flow: { direction: 'inbound', protocol: 'ICMPv6', remote: '8.8.8.8' }, expect: DEFAULT_DROP },
      { flow: { direction: 'outbound', protocol: 'ICMP', remote: '8.8.8.8' }, expect: DEFAULT_DROP },
    ]);
  });

  it('scenario 3 with an `any` peer: ping means ICMP for IPv4 and ICMPv6 for IPv6 peers', async () => {
    const g = 'sg-ping-any';
    const config = oneGroup({ id: g, inbound: [{ type: 'ping', source: 'any', action: 'accept' }] });
    await checkCases(config, [
      { flow: { direction: 'inbound', protocol: 'ICMP', remote: '8.8.8.8' }, expect: accept(g, 0) },
      { flow: { direction: 'inbound', protocol: 'ICMPv6', remote: '2001:db8::1' }, expect: accept(g, 0) },
      { flow: { direction: 'inbound', protocol: 'ICMP', remote: '2001:db8::1' }, expect: DEFAULT_DROP },
      { flow: { direction: 'inbound', protocol: 'ICMPv6', remote: '8.8.8.8' }, expect: DEFAULT_DROP },
    ]);
  });

  it('scenario 4: Custom, TCP 23 from 0.0.0.0/0', async () => {
    const g = 'sg-telnet';
    const config = oneGroup({
      id: g,
      inbound: [{ type: 'Custom', protocol: 'TCP', port: 23, source: '0.0.0.0/0', action: 'Allow' }],
    });
    await checkCases(config, [
      { flow: inTcp('198.51.100.4', 23), expect: accept(g, 0) },
      { flow: inTcp('10.0.0.1', 23), expect: accept(g, 0) },
      { flow: inUdp('198.51.100.4', 23), expect: DEFAULT_DROP },
      { flow: inTcp('198.51.100.4', 22), expect: DEFAULT_DROP },
      { flow: inTcp('198.51.100.4', 24), expect: DEFAULT_DROP },
    ]);
  });

  it('scenario 5: HTTP (80) and HTTPS (443) from 0.0.0.0/0', async () => {
    const g = 'sg-web';
    const config = oneGroup({
      id: g,
      inbound: [
        { type: 'HTTP (80)', source: '0.0.0.0/0', action: 'Allow' },
        { type: 'HTTPS (443)', source: '0.0.0.0/0', action: 'Allow' },
      ],
    });
    await checkCases(config, [
      { flow: inTcp('198.51.100.1', 80), expect: accept(g, 0) },
      { flow: inTcp('198.51.100.1', 443), expect: accept(g, 1) },
      { flow: inTcp('0.0.0.0', 80), expect: accept(g, 0) },
      { flow: inTcp('198.51.100.1', 8080), expect: DEFAULT_DROP },
      { flow: inTcp('198.51.100.1', 81), expect: DEFAULT_DROP },
      { flow: inTcp('198.51.100.1', 444), expect: DEFAULT_DROP },
      { flow: inUdp('198.51.100.1', 443), expect: DEFAULT_DROP },
      // "any outbound": a custom group opens nothing outbound
      ...outAll('198.51.100.1').map((flow) => ({ flow, expect: DEFAULT_DROP })),
      { flow: outTcp('198.51.100.1', 80), expect: DEFAULT_DROP },
      { flow: outTcp('2001:db8::80', 80), expect: DEFAULT_DROP },
    ]);
  });

  it('scenario 6: Custom, TCP 1101 from 0.0.0.0/0', async () => {
    const g = 'sg-1101';
    const config = oneGroup({
      id: g,
      inbound: [{ type: 'Custom', protocol: 'TCP', port: '1101', source: '0.0.0.0/0', action: 'Allow' }],
    });
    await checkCases(config, [
      { flow: inTcp('192.0.2.50', 1101), expect: accept(g, 0) },
      { flow: inTcp('192.0.2.50', 1100), expect: DEFAULT_DROP },
      { flow: inTcp('192.0.2.50', 1102), expect: DEFAULT_DROP },
      { flow: inUdp('192.0.2.50', 1101), expect: DEFAULT_DROP },
    ]);
  });

  it('scenario 7: TCP 1102 Reject, then ALL from 0.0.0.0/0 Allow', async () => {
    const g = 'sg-1102';
    const config = oneGroup({
      id: g,
      inbound: [
        { type: 'Custom', protocol: 'TCP', port: 1102, source: '0.0.0.0/0', action: 'Reject' },
        { type: 'Custom', protocol: 'ALL', port: 'ALL', source: '0.0.0.0/0', action: 'Allow' },
      ],
    });
    await checkCases(config, [
      { flow: inTcp('192.0.2.50', 1103), expect: accept(g, 1) },
      { flow: inTcp('192.0.2.50', 1101), expect: accept(g, 1) },
      { flow: inUdp('192.0.2.50', 1102), expect: accept(g, 1) },
      { flow: { direction: 'inbound', protocol: 'ICMP', remote: '192.0.2.50' }, expect: accept(g, 1) },
      { flow: inTcp('192.0.2.50', 1102), expect: dropBy(g, 0) },
      { flow: inTcp('255.255.255.255', 1102), expect: dropBy(g, 0) },
      // both rules are IPv4 only
      { flow: inTcp('2001:db8::1', 1102), expect: DEFAULT_DROP },
      { flow: inTcp('2001:db8::1', 1103), expect: DEFAULT_DROP },
    ]);
  });

  it('scenario 8: out ALL to 192.0.2.10 Allow, then ALL to 0.0.0.0/0 Reject', async () => {
    const g = 'sg-only-one-peer';
    const config = oneGroup({
      id: g,
      outbound: [
        { type: 'Custom', protocol: 'ALL', port: 'ALL', destination: '192.0.2.10', action: 'Allow' },
        { type: 'Custom', protocol: 'ALL', port: 'ALL', destination: '0.0.0.0/0', action: 'Reject' },
      ],
    });
    await checkCases(config, [
      ...outAll('192.0.2.10').map((flow) => ({ flow, expect: accept(g, 0) })),
      ...outAll('192.0.2.11').map((flow) => ({ flow, expect: dropBy(g, 1) })),
      ...outAll('192.0.2.9').map((flow) => ({ flow, expect: dropBy(g, 1) })),
      ...outAll('8.8.8.8').map((flow) => ({ flow, expect: dropBy(g, 1) })),
      // no IPv6 rule: the default applies
      { flow: outTcp('2001:db8::10', 443), expect: DEFAULT_DROP },
      // inbound is untouched: default drop
      { flow: inTcp('192.0.2.10', 22), expect: DEFAULT_DROP },
    ]);
  });

  it('scenario 9: out ALL to 192.0.2.66 Reject in a group made from the open-all template', async () => {
    const g = 'sg-open-all';
    const config = oneGroup({
      id: g,
      template: 'open-all',
      outbound: [{ type: 'Custom', protocol: 'ALL', port: 'ALL', destination: '192.0.2.66', action: 'Reject' }],
    });
    const engine = await createEngine(config as never);
    const group = engine.config.securityGroups[0]!;
    expect(group.template).toBe('open-all');
    const written = 1;
    // The template's tail: the rules after the written one.
    const templateOut = group.outbound.slice(written);
    expect(templateOut.length).toBeGreaterThan(0);
    for (const r of templateOut) expect(r.template).toBe('open-all');
    const acceptedBy = (dir: 'inbound' | 'outbound', flow: FlowInput): Verdict => {
      // Whatever template rule decides, it must be an accept of this group after the written rules.
      const v = referenceClassify(parseConfig(config), parseFlow(flow));
      expect(v.action).toBe('accept');
      expect(v.groupId).toBe(g);
      const offset = dir === 'outbound' ? written : 0;
      expect(v.ruleIndex).toBeGreaterThanOrEqual(offset);
      const rule = (dir === 'outbound' ? group.outbound : group.inbound)[v.ruleIndex!]!;
      expect(rule.template).toBe('open-all');
      expect(rule.action).toBe('accept');
      return v;
    };
    const cases: Case[] = [
      ...outAll('192.0.2.67').map((flow) => ({ flow, expect: acceptedBy('outbound', flow) })),
      ...outAll('192.0.2.65').map((flow) => ({ flow, expect: acceptedBy('outbound', flow) })),
      ...outAll('2001:db8::66').map((flow) => ({ flow, expect: acceptedBy('outbound', flow) })),
      ...outAll('192.0.2.66').map((flow) => ({ flow, expect: dropBy(g, 0) })),
      // open-all opens inbound too (from 0.0.0.0/0 and ::/0)
      { flow: inTcp('192.0.2.66', 22), expect: acceptedBy('inbound', inTcp('192.0.2.66', 22)) },
      { flow: inUdp('2001:db8::1', 53), expect: acceptedBy('inbound', inUdp('2001:db8::1', 53)) },
    ];
    // The IPv4 outbound accept is the first template rule, right after the written one.
    expect(cases[0]!.expect.ruleIndex).toBe(written);
    await checkCases(config, cases, engine);
  });

  it('scenario 10: TCP "20 to 21" from 0.0.0.0/0', async () => {
    const g = 'sg-ftp';
    const config = oneGroup({
      id: g,
      inbound: [{ type: 'Custom', protocol: 'TCP', port: '20 to 21', source: '0.0.0.0/0', action: 'Allow', description: 'FTP' }],
    });
    await checkCases(config, [
      { flow: inTcp('198.51.100.77', 20), expect: accept(g, 0) },
      { flow: inTcp('198.51.100.77', 21), expect: accept(g, 0) },
      { flow: inTcp('198.51.100.77', 22), expect: DEFAULT_DROP },
      { flow: inTcp('198.51.100.77', 19), expect: DEFAULT_DROP },
      { flow: inUdp('198.51.100.77', 20), expect: DEFAULT_DROP },
    ]);
  });

  it('scenario 10 with the ftp preset gives the same verdicts', async () => {
    const g = 'sg-ftp';
    const config = oneGroup({ id: g, inbound: [{ type: 'FTP', source: '0.0.0.0/0', action: 'allow' }] });
    await checkCases(config, [
      { flow: inTcp('198.51.100.77', 20), expect: accept(g, 0) },
      { flow: inTcp('198.51.100.77', 21), expect: accept(g, 0) },
      { flow: inTcp('198.51.100.77', 22), expect: DEFAULT_DROP },
      { flow: inTcp('198.51.100.77', 19), expect: DEFAULT_DROP },
    ]);
  });

  it('an empty custom group drops everything by default, both directions', async () => {
    const config = oneGroup({ id: 'sg-empty' });
    await checkCases(config, [
      { flow: inTcp('1.2.3.4', 22), expect: DEFAULT_DROP },
      { flow: inTcp('2001:db8::1', 443), expect: DEFAULT_DROP },
      ...outAll('1.2.3.4').map((flow) => ({ flow, expect: DEFAULT_DROP })),
    ]);
  });
});

describe('multi-group priority (seed "Multi-Scenario Configurations")', () => {
  const groups = [
    { id: 'sg-a', inbound: [{ type: 'Custom', protocol: 'TCP', port: 22, source: '0.0.0.0/0', action: 'Reject' }] },
    { id: 'sg-b', inbound: [{ type: 'Linux login', source: '0.0.0.0/0', action: 'Allow' }] },
  ];
  const withOrder = (order: string[]): Doc => ({ securityGroups: groups, instances: [{ id: 'ins-1', securityGroups: order }] });
  const ssh: FlowInput = { direction: 'inbound', protocol: 'TCP', remote: '198.51.100.7', port: 22, instance: 'ins-1' };
  const sshNoInstance = inTcp('203.0.113.200', 22);

  it('[sg-a, sg-b] drops TCP 22 by sg-a; after reload to [sg-b, sg-a] the same engine accepts it by sg-b', async () => {
    const engine = await checkCases(withOrder(['sg-a', 'sg-b']), [
      { flow: ssh, expect: dropBy('sg-a', 0) },
      { flow: sshNoInstance, expect: dropBy('sg-a', 0) },
      { flow: inTcp('198.51.100.7', 23), expect: DEFAULT_DROP },
    ]);
    expect(engine.version).toBe(1);
    // A batch built before the reload is classified against the new policy afterwards.
    const early = createFlowBatch([ssh, sshNoInstance]);
    expect(Array.from(engine.classifyBatch(early))).toEqual([0, 0]);
    expect(early.policyVersion).toBe(1);

    const returned = await engine.reload(withOrder(['sg-b', 'sg-a']) as never);
    expect(returned).toBe(2);
    expect(engine.version).toBe(2);
    await checkCases(
      withOrder(['sg-b', 'sg-a']),
      [
        { flow: ssh, expect: accept('sg-b', 0) },
        { flow: sshNoInstance, expect: accept('sg-b', 0) },
        { flow: inTcp('198.51.100.7', 23), expect: DEFAULT_DROP },
      ],
      engine,
    );
    expect(Array.from(engine.classifyBatch(early))).toEqual([1, 1]);
    expect(early.policyVersion).toBe(2);
    expect(early.verdict(0)).toEqual(accept('sg-b', 0));

    // and back again
    expect(await engine.reload(withOrder(['sg-a', 'sg-b']) as never)).toBe(3);
    expect(engine.classify(ssh)).toEqual(dropBy('sg-a', 0));
    expect(engine.version).toBe(3);
  });

  it('reload also accepts an already-validated Config', async () => {
    const engine = await createEngine(withOrder(['sg-a', 'sg-b']) as never);
    await engine.reload(parseConfig(withOrder(['sg-b', 'sg-a'])));
    expect(engine.version).toBe(2);
    expect(engine.classify(ssh)).toEqual(accept('sg-b', 0));
  });
});

describe('flows: IPv4-mapped remotes and instances (SPEC §1, §3)', () => {
  it('::ffff:203.0.113.9 behaves as 203.0.113.9', async () => {
    const g = 'sg-windows-login';
    const config = oneGroup({ id: g, inbound: [{ type: 'Windows login', source: '203.0.113.0/24', action: 'Allow' }] });
    const parsed = parseFlow(inTcp('::ffff:203.0.113.9', 3389));
    const plain = parseFlow(inTcp('203.0.113.9', 3389));
    expect(parsed.remote).toEqual(plain.remote);
    expect(parsed.remote.v6).toBe(false);
    await checkCases(config, [
      { flow: inTcp('::ffff:203.0.113.9', 3389), expect: accept(g, 0) },
      { flow: inTcp('::FFFF:203.0.113.9', 3389), expect: accept(g, 0) },
      { flow: inTcp('::ffff:cb00:7109', 3389), expect: accept(g, 0), what: '::ffff:cb00:7109 = 203.0.113.9 in hex' },
      { flow: inTcp('0:0:0:0:0:ffff:203.0.113.9', 3389), expect: accept(g, 0) },
      { flow: inTcp('::ffff:198.51.100.1', 3389), expect: DEFAULT_DROP },
      { flow: inTcp('::ffff:203.0.113.9', 3390), expect: DEFAULT_DROP },
    ]);
  });

  it('an IPv4-mapped address written as a rule peer is the IPv4 address too', async () => {
    const g = 'sg-mapped-peer';
    const config = oneGroup({
      id: g,
      inbound: [
        { protocol: 'TCP', port: 22, source: '::ffff:203.0.113.9', action: 'accept' },
        { protocol: 'TCP', port: 80, source: '::ffff:198.51.100.0/120', action: 'accept' },
      ],
    });
    await checkCases(config, [
      { flow: inTcp('203.0.113.9', 22), expect: accept(g, 0) },
      { flow: inTcp('::ffff:203.0.113.9', 22), expect: accept(g, 0) },
      { flow: inTcp('203.0.113.10', 22), expect: DEFAULT_DROP },
      { flow: inTcp('198.51.100.255', 80), expect: accept(g, 1) },
      { flow: inTcp('198.51.101.0', 80), expect: DEFAULT_DROP },
    ]);
  });

  it('an IPv4-mapped remote is not an IPv6 peer: ::/0 rules do not match it, 0.0.0.0/0 rules do', async () => {
    const config = {
      securityGroups: [
        { id: 'sg-v6', inbound: [{ protocol: 'ALL', source: '::/0', action: 'accept' }] },
        { id: 'sg-v4', inbound: [{ protocol: 'TCP', port: 'ALL', source: '0.0.0.0/0', action: 'accept' }] },
      ],
    };
    await checkCases(config, [
      { flow: inTcp('::ffff:203.0.113.9', 443), expect: accept('sg-v4', 0) },
      { flow: inUdp('::ffff:203.0.113.9', 443), expect: DEFAULT_DROP },
      { flow: inUdp('2001:db8::9', 443), expect: accept('sg-v6', 0) },
      { flow: outTcp('::ffff:203.0.113.9', 443), expect: DEFAULT_DROP },
    ]);
  });

  const twoInstances: Doc = {
    securityGroups: [
      { id: 'sg-open-ssh', inbound: [{ type: 'linux-login', source: '0.0.0.0/0', action: 'accept' }] },
      { id: 'sg-close-ssh', inbound: [{ protocol: 'TCP', port: 22, source: '0.0.0.0/0', action: 'drop' }] },
    ],
    instances: [
      { id: 'ins-first', securityGroups: ['sg-open-ssh'] },
      { id: 'ins-second', securityGroups: ['sg-close-ssh', 'sg-open-ssh'] },
    ],
  };

  it('a flow without instance uses the first instance of the config', async () => {
    await checkCases(twoInstances, [
      { flow: inTcp('1.2.3.4', 22), expect: accept('sg-open-ssh', 0), what: 'no instance → ins-first' },
      { flow: { ...inTcp('1.2.3.4', 22), instance: 'ins-first' }, expect: accept('sg-open-ssh', 0) },
      { flow: { ...inTcp('1.2.3.4', 22), instance: 'ins-second' }, expect: dropBy('sg-close-ssh', 0) },
      { flow: inTcp('1.2.3.4', 22), expect: accept('sg-open-ssh', 0), what: 'no instance after other instances in a batch' },
      { flow: { ...inTcp('1.2.3.4', 22), instance: 'ins-second' }, expect: dropBy('sg-close-ssh', 0) },
    ]);
  });

  it('an unknown instance throws SgfilterError UNKNOWN_INSTANCE (classify, classifyBatch, reference)', async () => {
    const engine = await createEngine(twoInstances as never);
    const bad: FlowInput = { ...inTcp('1.2.3.4', 22), instance: 'ins-nope' };
    const codeOf = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(SgfilterError);
        expect((e as Error).message).toContain('ins-nope');
        return (e as SgfilterError).code;
      }
      return undefined;
    };
    expect(codeOf(() => engine.classify(bad))).toBe('UNKNOWN_INSTANCE');
    expect(codeOf(() => engine.classifyBatch(createFlowBatch([inTcp('1.2.3.4', 22), bad])))).toBe('UNKNOWN_INSTANCE');
    expect(codeOf(() => referenceClassify(parseConfig(twoInstances), parseFlow(bad)))).toBe('UNKNOWN_INSTANCE');
    // the engine still works afterwards
    expect(engine.classify({ ...inTcp('1.2.3.4', 22), instance: 'ins-second' })).toEqual(dropBy('sg-close-ssh', 0));
    expect(engine.classify(inTcp('1.2.3.4', 22))).toEqual(accept('sg-open-ssh', 0));
  });

  it('a config without instances has the implicit instance `default`, bound to all groups in file order', async () => {
    const config = {
      securityGroups: [
        { id: 'sg-z-drop', inbound: [{ protocol: 'TCP', port: 22, source: '0.0.0.0/0', action: 'drop' }] },
        { id: 'sg-a-accept', inbound: [{ protocol: 'TCP', port: '1-65535', source: '0.0.0.0/0', action: 'accept' }] },
      ],
    };
    const parsed = parseConfig(config);
    expect(parsed.implicitInstance).toBe(true);
    expect(parsed.instances).toEqual([{ id: 'default', securityGroups: ['sg-z-drop', 'sg-a-accept'] }]);
    const engine = await checkCases(config, [
      { flow: inTcp('1.2.3.4', 22), expect: dropBy('sg-z-drop', 0) },
      { flow: { ...inTcp('1.2.3.4', 22), instance: 'default' }, expect: dropBy('sg-z-drop', 0) },
      { flow: { ...inTcp('1.2.3.4', 80), instance: 'default' }, expect: accept('sg-a-accept', 0) },
      { flow: inTcp('1.2.3.4', 0), expect: DEFAULT_DROP },
    ]);
    expect(engine.config.instances.map((i) => i.id)).toEqual(['default']);
    let code: string | undefined;
    try {
      engine.classify({ ...inTcp('1.2.3.4', 22), instance: 'ins-1' });
    } catch (e) {
      code = (e as SgfilterError).code;
    }
    expect(code).toBe('UNKNOWN_INSTANCE');
  });
});
