/**
 * SPEC §4: every malformed input is refused with an error that says where, what was
 * given and what is allowed; every error of a config is reported together; refusal
 * is total (a failed reload changes nothing).
 */
import { describe, expect, it } from 'vitest';
import {
  createEngine,
  createFlowBatch,
  IssueCodes,
  parseConfig,
  parseFlow,
  safeParseConfig,
  SgfilterError,
  type FlowInput,
  type Issue,
  type IssueCode,
  type Path,
} from '../src/index.js';

type Doc = Record<string, unknown>;
type Dir = 'inbound' | 'outbound';

/** Four valid rules per direction, so a bad rule lands at index 4. */
const GOOD_IN = [
  { type: 'Linux login', source: '0.0.0.0/0', action: 'Allow' },
  { type: 'HTTP (80)', source: '0.0.0.0/0', action: 'Allow' },
  { protocol: 'UDP', port: '53', source: '10.0.0.0/8', action: 'accept' },
  { protocol: 'TCP', port: '20 to 21', source: '2001:db8::/32', action: 'accept' },
];
const GOOD_OUT = [
  { protocol: 'TCP', port: '80,443', destination: '0.0.0.0/0', action: 'accept' },
  { protocol: 'UDP', port: 53, destination: '::/0', action: 'accept' },
  { protocol: 'ICMP', destination: '0.0.0.0/0', action: 'accept' },
  { protocol: 'ALL', destination: '192.0.2.0/24', action: 'drop' },
];

function baseDoc(): Doc {
  return {
    securityGroups: [
      { id: 'sg-ok', inbound: structuredClone(GOOD_IN), outbound: structuredClone(GOOD_OUT) },
      { id: 'sg-web', template: 'custom', inbound: structuredClone(GOOD_IN), outbound: structuredClone(GOOD_OUT) },
    ],
    instances: [{ id: 'ins-1', securityGroups: ['sg-web', 'sg-ok'] }],
  };
}

/** A valid config with `rule` appended as securityGroups[1].<dir>[4]. */
function withBadRule(rule: unknown, dir: Dir = 'inbound'): Doc {
  const doc = baseDoc();
  const groups = doc.securityGroups as { inbound: unknown[]; outbound: unknown[] }[];
  groups[1]![dir].push(rule);
  return doc;
}

const rulePath = (dir: Dir = 'inbound'): Path => ['securityGroups', 1, dir, 4];

function issuesOf(doc: unknown): Issue[] {
  const r = safeParseConfig(doc);
  expect(r.success).toBe(false);
  return r.success ? [] : r.issues;
}

/** parseConfig throws CONFIG_INVALID carrying `issues`; createEngine rejects the same way. */
async function expectRefusedEverywhere(doc: unknown, issues: Issue[]): Promise<void> {
  let thrown: unknown;
  try {
    parseConfig(doc);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(SgfilterError);
  const err = thrown as SgfilterError;
  expect(err.code).toBe('CONFIG_INVALID');
  expect(err.issues).toEqual(issues);
  for (const i of issues) expect(err.message).toContain(i.message);

  let rejected: unknown;
  try {
    await createEngine(doc as never);
  } catch (e) {
    rejected = e;
  }
  expect(rejected).toBeInstanceOf(SgfilterError);
  expect((rejected as SgfilterError).code).toBe('CONFIG_INVALID');
  expect((rejected as SgfilterError).issues).toEqual(issues);
}

interface BadCase {
  name: string;
  doc: Doc;
  code: IssueCode;
  path: Path;
  /** Text the message must contain (the given value, and more). */
  mentions: string[];
  /** Only one issue is expected (a single bad field). Default true. */
  single?: boolean;
}

const bad = (name: string, rule: unknown, code: IssueCode, field: string | null, mentions: string[], dir: Dir = 'inbound'): BadCase => ({
  name,
  doc: withBadRule(rule, dir),
  code,
  path: field === null ? rulePath(dir) : [...rulePath(dir), field],
  mentions,
});

const SPEC_EXAMPLES: BadCase[] = [
  bad('port outside 0-65535 (number 70000)', { protocol: 'TCP', port: 70000, source: '0.0.0.0/0', action: 'accept' }, 'PORT_OUT_OF_RANGE', 'port', ['70000']),
  bad('port outside 0-65535 (string "70000")', { protocol: 'TCP', port: '70000', source: '0.0.0.0/0', action: 'accept' }, 'PORT_OUT_OF_RANGE', 'port', ['70000']),
  bad('port outside 0-65535 inside a list', { protocol: 'UDP', port: '80,65536', source: '0.0.0.0/0', action: 'accept' }, 'PORT_OUT_OF_RANGE', 'port', ['65536']),
  bad('port outside 0-65535 as a range end', { protocol: 'TCP', port: '3000-70000', source: '0.0.0.0/0', action: 'accept' }, 'PORT_OUT_OF_RANGE', 'port', ['70000']),
  bad('negative port', { protocol: 'TCP', port: -1, source: '0.0.0.0/0', action: 'accept' }, 'PORT_OUT_OF_RANGE', 'port', ['-1']),
  bad('reversed range 21-20', { protocol: 'TCP', port: '21-20', source: '0.0.0.0/0', action: 'accept' }, 'REVERSED_RANGE', 'port', ['21-20']),
  bad('reversed range "21 to 20"', { protocol: 'TCP', port: '21 to 20', source: '0.0.0.0/0', action: 'accept' }, 'REVERSED_RANGE', 'port', ['21']),
  bad('a port with ICMP', { protocol: 'ICMP', port: '22', source: '0.0.0.0/0', action: 'accept' }, 'PORT_NOT_ALLOWED', 'port', ['22', 'ICMP']),
  bad('a port with ICMP (outbound)', { protocol: 'icmp', port: 8080, destination: '0.0.0.0/0', action: 'accept' }, 'PORT_NOT_ALLOWED', 'port', ['8080'], 'outbound'),
  bad('a port with GRE', { protocol: 'GRE', port: '1723', source: '0.0.0.0/0', action: 'accept' }, 'PORT_NOT_ALLOWED', 'port', ['1723']),
  bad('a port with the Ping preset', { type: 'Ping', port: '7', source: '0.0.0.0/0', action: 'accept' }, 'PORT_NOT_ALLOWED', 'port', ['7']),
  bad('unknown protocol TCPP', { protocol: 'TCPP', port: 22, source: '0.0.0.0/0', action: 'accept' }, 'UNKNOWN_PROTOCOL', 'protocol', ['TCPP', 'TCP', 'UDP']),
  bad('protocol number past 255', { protocol: 256, source: '0.0.0.0/0', action: 'accept' }, 'UNKNOWN_PROTOCOL', 'protocol', ['256']),
  bad('unknown preset type', { type: 'Linux logon', source: '0.0.0.0/0', action: 'accept' }, 'UNKNOWN_PRESET', 'type', ['Linux logon', 'linux-login']),
  bad('CIDR with host bits set 10.0.0.1/8', { protocol: 'TCP', port: 22, source: '10.0.0.1/8', action: 'accept' }, 'HOST_BITS_SET', 'source', ['10.0.0.1/8', '10.0.0.0/8']),
  bad('IPv6 CIDR with host bits set', { protocol: 'TCP', port: 22, destination: '2001:db8::1/32', action: 'accept' }, 'HOST_BITS_SET', 'destination', ['2001:db8::1/32', '2001:db8::/32'], 'outbound'),
  bad('prefix length past 32', { protocol: 'TCP', port: 22, source: '10.0.0.0/33', action: 'accept' }, 'PREFIX_TOO_LONG', 'source', ['10.0.0.0/33', '32']),
  bad('prefix length past 128', { protocol: 'TCP', port: 22, source: '2001:db8::/129', action: 'accept' }, 'PREFIX_TOO_LONG', 'source', ['2001:db8::/129', '128']),
  bad('malformed address 10.0.0.256', { protocol: 'TCP', port: 22, source: '10.0.0.256', action: 'accept' }, 'INVALID_ADDRESS', 'source', ['10.0.0.256']),
  bad('malformed address hello', { protocol: 'TCP', port: 22, source: 'hello', action: 'accept' }, 'INVALID_ADDRESS', 'source', ['hello']),
  bad('malformed address (outbound peer)', { protocol: 'ALL', peer: '300.1.1.1/24', action: 'drop' }, 'INVALID_ADDRESS', 'peer', ['300.1.1.1'], 'outbound'),
  bad('an empty rule {}', {}, 'EMPTY_RULE', null, []),
];

describe('SPEC §4 bad-input examples are refused with a stable code and an exact path', () => {
  it.each(SPEC_EXAMPLES)('$name', async (c) => {
    const issues = issuesOf(c.doc);
    if (c.single !== false) expect(issues, JSON.stringify(issues, null, 1)).toHaveLength(1);
    const issue = issues.find((i) => i.code === c.code);
    expect(issue, `${c.code} in ${JSON.stringify(issues, null, 1)}`).toBeDefined();
    expect(issue!.path).toEqual(c.path);
    for (const m of c.mentions) expect(issue!.message).toContain(m);
    // the message says where: the group id and the direction
    expect(issue!.message).toContain('sg-web');
    expect(issue!.message).toContain(c.path[2] as string);
    expect(Object.keys(IssueCodes)).toContain(issue!.code);
    await expectRefusedEverywhere(c.doc, issues);
  });

  it('duplicate group ids', async () => {
    const doc = baseDoc();
    (doc.securityGroups as unknown[]).push({ id: 'sg-ok', inbound: [{ type: 'https', source: 'any', action: 'accept' }] });
    const issues = issuesOf(doc);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.code).toBe('DUPLICATE_GROUP');
    expect(issues[0]!.path).toEqual(['securityGroups', 2, 'id']);
    expect(issues[0]!.message).toContain('sg-ok');
    await expectRefusedEverywhere(doc, issues);
  });

  it('duplicate group ids without instances (the implicit instance) are still refused', async () => {
    const doc = { securityGroups: [{ id: 'sg-x' }, { id: 'sg-y' }, { id: 'sg-x' }] };
    const issues = issuesOf(doc);
    expect(issues.map((i) => [i.code, i.path])).toEqual([['DUPLICATE_GROUP', ['securityGroups', 2, 'id']]]);
    await expectRefusedEverywhere(doc, issues);
  });

  it('an instance naming an unknown group', async () => {
    const doc = baseDoc();
    doc.instances = [
      { id: 'ins-1', securityGroups: ['sg-web', 'sg-ok'] },
      { id: 'ins-2', securityGroups: ['sg-ok', 'sg-db'] },
    ];
    const issues = issuesOf(doc);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.code).toBe('UNKNOWN_GROUP');
    expect(issues[0]!.path).toEqual(['instances', 1, 'securityGroups', 1]);
    expect(issues[0]!.message).toContain('sg-db');
    expect(issues[0]!.message).toContain('ins-2');
    await expectRefusedEverywhere(doc, issues);
  });
});

describe('all issues of a config are reported together', () => {
  it('errors in different groups, directions and instances are all reported', async () => {
    const doc: Doc = {
      securityGroups: [
        {
          id: 'sg-one',
          inbound: [
            { protocol: 'TCP', port: 22, source: '0.0.0.0/0', action: 'accept' },
            { protocol: 'TCP', port: 70000, source: '0.0.0.0/0', action: 'accept' },
          ],
        },
        {
          id: 'sg-two',
          inbound: [{ type: 'http', source: 'any', action: 'accept' }],
          outbound: [
            { protocol: 'ALL', destination: '0.0.0.0/0', action: 'accept' },
            { protocol: 'ALL', destination: '::/0', action: 'accept' },
            { protocol: 'TCP', port: '443', destination: 'hello', action: 'accept' },
          ],
        },
        {
          id: 'sg-three',
          inbound: [
            { protocol: 'TCPP', port: 22, source: '0.0.0.0/0', action: 'accept' },
            { protocol: 'ICMP', source: '10.0.0.1/8', action: 'accept' },
            { protocol: 'UDP', port: '21-20', source: '0.0.0.0/0', action: 'drop' },
            {},
          ],
        },
        { id: 'sg-one', outbound: [{ protocol: 'UDP', port: 53, destination: '2001:db8::/129', action: 'accept' }] },
      ],
      instances: [{ id: 'ins-1', securityGroups: ['sg-one', 'sg-missing', 'sg-three'] }],
    };
    const issues = issuesOf(doc);
    const got = issues.map((i) => [i.code, i.path]);
    const expected: [IssueCode, Path][] = [
      ['PORT_OUT_OF_RANGE', ['securityGroups', 0, 'inbound', 1, 'port']],
      ['INVALID_ADDRESS', ['securityGroups', 1, 'outbound', 2, 'destination']],
      ['UNKNOWN_PROTOCOL', ['securityGroups', 2, 'inbound', 0, 'protocol']],
      ['HOST_BITS_SET', ['securityGroups', 2, 'inbound', 1, 'source']],
      ['REVERSED_RANGE', ['securityGroups', 2, 'inbound', 2, 'port']],
      ['EMPTY_RULE', ['securityGroups', 2, 'inbound', 3]],
      ['DUPLICATE_GROUP', ['securityGroups', 3, 'id']],
      ['PREFIX_TOO_LONG', ['securityGroups', 3, 'outbound', 0, 'destination']],
      ['UNKNOWN_GROUP', ['instances', 0, 'securityGroups', 1]],
    ];
    expect(got).toHaveLength(expected.length);
    expect(got).toEqual(expect.arrayContaining(expected));
    await expectRefusedEverywhere(doc, issues);
    let err: SgfilterError | undefined;
    try {
      parseConfig(doc);
    } catch (e) {
      err = e as SgfilterError;
    }
    expect(err!.message).toContain(`${expected.length} issues`);
  });

  it('several bad fields of one rule are all reported', () => {
    const doc = withBadRule({ protocol: 'TCP', port: '99999', source: 'hello', action: 'maybe' });
    const issues = issuesOf(doc);
    expect(issues.map((i) => [i.code, i.path])).toEqual(
      expect.arrayContaining([
        ['PORT_OUT_OF_RANGE', [...rulePath(), 'port']],
        ['INVALID_ADDRESS', [...rulePath(), 'source']],
        ['INVALID_ACTION', [...rulePath(), 'action']],
      ]),
    );
    expect(issues).toHaveLength(3);
  });
});

describe('a failed reload changes nothing', () => {
  const good: Doc = {
    securityGroups: [
      { id: 'sg-a', inbound: [{ protocol: 'TCP', port: 22, source: '0.0.0.0/0', action: 'Reject' }] },
      {
        id: 'sg-b',
        template: 'open-common',
        inbound: [{ type: 'Linux login', source: '0.0.0.0/0', action: 'Allow' }],
        outbound: [{ protocol: 'ALL', destination: '192.0.2.66', action: 'drop' }],
      },
    ],
    instances: [
      { id: 'ins-1', securityGroups: ['sg-a', 'sg-b'] },
      { id: 'ins-2', securityGroups: ['sg-b'] },
    ],
  };
  const flows: FlowInput[] = [
    { direction: 'inbound', protocol: 'TCP', remote: '198.51.100.7', port: 22 },
    { direction: 'inbound', protocol: 'TCP', remote: '198.51.100.7', port: 22, instance: 'ins-2' },
    { direction: 'inbound', protocol: 'TCP', remote: '2001:db8::7', port: 443, instance: 'ins-2' },
    { direction: 'inbound', protocol: 'TCP', remote: '198.51.100.7', port: 8080, instance: 'ins-2' },
    { direction: 'inbound', protocol: 'ICMP', remote: '198.51.100.7' },
    { direction: 'outbound', protocol: 'UDP', remote: '192.0.2.66', port: 53 },
    { direction: 'outbound', protocol: 'UDP', remote: '192.0.2.67', port: 53, instance: 'ins-2' },
  ];

  const badConfigs: [string, unknown][] = [
    ['a bad port', { ...good, securityGroups: [{ id: 'sg-a', inbound: [{ protocol: 'TCP', port: 70000, source: '0.0.0.0/0', action: 'accept' }] }, (good.securityGroups as unknown[])[1]] }],
    ['an unknown group in an instance', { ...good, instances: [{ id: 'ins-1', securityGroups: ['sg-b', 'sg-zzz'] }] }],
    ['duplicate groups', { securityGroups: [{ id: 'sg-a' }, { id: 'sg-a' }] }],
    ['not a config at all', 42],
    ['a Tencent policy with undefined templates', { Response: { SecurityGroupPolicySet: { Version: 1, Ingress: [{ PolicyIndex: 0, ServiceTemplate: { ServiceId: 'ppm-x' }, AddressTemplate: { AddressGroupId: 'ipmg-y' }, Action: 'ACCEPT' }] } } }],
  ];

  it.each(badConfigs)('reload(%s) rejects with CONFIG_INVALID; verdicts and version unchanged', async (_name, badDoc) => {
    const engine = await createEngine(good as never);
    const before = flows.map((f) => engine.classify(f));
    const batch = createFlowBatch(flows);
    const beforeBatch = Array.from(engine.classifyBatch(batch));
    expect(before.map((v) => v.action)).toEqual(['drop', 'accept', 'accept', 'drop', 'accept', 'drop', 'accept']);
    expect(engine.version).toBe(1);
    const configBefore = engine.config;

    await expect(engine.reload(badDoc as never)).rejects.toBeInstanceOf(SgfilterError);
    await expect(engine.reload(badDoc as never)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    let err: SgfilterError | undefined;
    try {
      await engine.reload(badDoc as never);
    } catch (e) {
      err = e as SgfilterError;
    }
    expect(err!.issues.length).toBeGreaterThan(0);

    expect(engine.version).toBe(1);
    expect(engine.config).toBe(configBefore);
    expect(flows.map((f) => engine.classify(f))).toEqual(before);
    expect(Array.from(engine.classifyBatch(batch))).toEqual(beforeBatch);
    expect(flows.map((_, i) => batch.verdict(i))).toEqual(before);
    expect(batch.policyVersion).toBe(1);

    // a good reload afterwards gets the next version
    expect(await engine.reload(good as never)).toBe(2);
    expect(flows.map((f) => engine.classify(f))).toEqual(before);
  });
});

describe('more bad input', () => {
  it('an unknown field (typo "soruce") is UNKNOWN_FIELD with a "did you mean" hint', async () => {
    const doc = withBadRule({ protocol: 'TCP', port: 22, soruce: '0.0.0.0/0', action: 'accept' });
    const issues = issuesOf(doc);
    const issue = issues.find((i) => i.code === 'UNKNOWN_FIELD');
    expect(issue, JSON.stringify(issues)).toBeDefined();
    expect(issue!.path).toEqual([...rulePath(), 'soruce']);
    expect(issue!.message).toContain('soruce');
    expect(issue!.message).toMatch(/did you mean "source"/);
    await expectRefusedEverywhere(doc, issues);
  });

  it('unknown fields at group, instance and top level are reported too', () => {
    const doc = baseDoc();
    (doc.securityGroups as Doc[])[0]!.inbund = [];
    (doc.instances as Doc[])[0]!.securityGroup = ['sg-ok'];
    doc.instance = [];
    const issues = issuesOf(doc).filter((i) => i.code === 'UNKNOWN_FIELD');
    expect(issues.map((i) => i.path)).toEqual(
      expect.arrayContaining([['securityGroups', 0, 'inbund'], ['instances', 0, 'securityGroup'], ['instance']]),
    );
    expect(issues.find((i) => i.path[2] === 'inbund')!.message).toMatch(/did you mean "inbound"/);
  });

  it('action "maybe" is INVALID_ACTION', async () => {
    const doc = withBadRule({ protocol: 'TCP', port: 22, destination: '0.0.0.0/0', action: 'maybe' }, 'outbound');
    const issues = issuesOf(doc);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.code).toBe('INVALID_ACTION');
    expect(issues[0]!.path).toEqual([...rulePath('outbound'), 'action']);
    expect(issues[0]!.message).toContain('maybe');
    await expectRefusedEverywhere(doc, issues);
  });

  it('a missing action is MISSING_FIELD at the action path', () => {
    const issues = issuesOf(withBadRule({ protocol: 'TCP', port: 22, source: '0.0.0.0/0' }));
    expect(issues.map((i) => [i.code, i.path])).toEqual([['MISSING_FIELD', [...rulePath(), 'action']]]);
  });

  it('a reversed IPv4 range 10.0.0.50-10.0.0.1 is REVERSED_RANGE', async () => {
    const doc = withBadRule({ protocol: 'TCP', port: 22, source: '10.0.0.50-10.0.0.1', action: 'accept' });
    const issues = issuesOf(doc);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.code).toBe('REVERSED_RANGE');
    expect(issues[0]!.path).toEqual([...rulePath(), 'source']);
    expect(issues[0]!.message).toContain('10.0.0.50-10.0.0.1');
    await expectRefusedEverywhere(doc, issues);
  });

  it('a mixed-family range is MIXED_FAMILIES', async () => {
    const doc = withBadRule({ protocol: 'ALL', destination: '10.0.0.1-2001:db8::1', action: 'drop' }, 'outbound');
    const issues = issuesOf(doc);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.code).toBe('MIXED_FAMILIES');
    expect(issues[0]!.path).toEqual([...rulePath('outbound'), 'destination']);
    expect(issues[0]!.message).toContain('10.0.0.1-2001:db8::1');
    await expectRefusedEverywhere(doc, issues);
  });

  it('destination on an inbound rule is WRONG_DIRECTION_FIELD (and source on an outbound one)', async () => {
    const doc = withBadRule({ protocol: 'TCP', port: 22, destination: '0.0.0.0/0', action: 'accept' });
    const issues = issuesOf(doc);
    const issue = issues.find((i) => i.code === 'WRONG_DIRECTION_FIELD');
    expect(issue, JSON.stringify(issues)).toBeDefined();
    expect(issue!.path).toEqual([...rulePath(), 'destination']);
    expect(issue!.message).toContain('source');
    await expectRefusedEverywhere(doc, issues);

    const out = issuesOf(withBadRule({ protocol: 'TCP', port: 22, source: '0.0.0.0/0', action: 'accept' }, 'outbound'));
    expect(out.find((i) => i.code === 'WRONG_DIRECTION_FIELD')!.path).toEqual([...rulePath('outbound'), 'source']);
  });

  it('an unknown group template is UNKNOWN_TEMPLATE', () => {
    const doc = baseDoc();
    (doc.securityGroups as Doc[])[1]!.template = 'open-everything';
    const issues = issuesOf(doc);
    expect(issues.map((i) => [i.code, i.path])).toEqual([['UNKNOWN_TEMPLATE', ['securityGroups', 1, 'template']]]);
    expect(issues[0]!.message).toContain('open-everything');
  });

  it('icmpType with TCP and icmpType past 255 are INVALID_ICMP', () => {
    const a = issuesOf(withBadRule({ protocol: 'TCP', port: 22, icmpType: 8, source: '0.0.0.0/0', action: 'accept' }));
    expect(a.map((i) => [i.code, i.path])).toEqual([['INVALID_ICMP', [...rulePath(), 'icmpType']]]);
    const b = issuesOf(withBadRule({ protocol: 'ICMP', icmpType: 256, source: '0.0.0.0/0', action: 'accept' }));
    expect(b.map((i) => [i.code, i.path])).toEqual([['INVALID_ICMP', [...rulePath(), 'icmpType']]]);
    expect(b[0]!.message).toContain('256');
  });

  it('a config that is not an object, or has no securityGroups, is refused', () => {
    expect(issuesOf('hello')[0]!.code).toBe('INVALID_TYPE');
    expect(issuesOf(null)[0]!.code).toBe('INVALID_TYPE');
    expect(issuesOf({}).map((i) => [i.code, i.path])).toEqual([['MISSING_FIELD', ['securityGroups']]]);
    expect(issuesOf({ securityGroups: {} }).map((i) => [i.code, i.path])).toEqual([['INVALID_TYPE', ['securityGroups']]]);
  });
});

describe('bad flows', () => {
  const codeAndIssues = (fn: () => unknown): SgfilterError => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(SgfilterError);
      return e as SgfilterError;
    }
    throw new Error('expected a throw');
  };

  it('parseFlow on a TCP flow without port throws FLOW_INVALID', () => {
    const err = codeAndIssues(() => parseFlow({ direction: 'inbound', protocol: 'TCP', remote: '1.2.3.4' }));
    expect(err.code).toBe('FLOW_INVALID');
    expect(err.issues.map((i) => i.path)).toEqual([['port']]);
    expect(err.issues[0]!.code).toBe('INVALID_FLOW');
  });

  it('other malformed flows throw FLOW_INVALID naming the field', () => {
    const cases: [unknown, string][] = [
      [{ direction: 'sideways', protocol: 'TCP', remote: '1.2.3.4', port: 22 }, 'direction'],
      [{ direction: 'inbound', protocol: 'TCPP', remote: '1.2.3.4', port: 22 }, 'protocol'],
      [{ direction: 'inbound', protocol: 'ALL', remote: '1.2.3.4', port: 22 }, 'protocol'],
      [{ direction: 'inbound', protocol: 'TCP', remote: '1.2.3.256', port: 22 }, 'remote'],
      [{ direction: 'inbound', protocol: 'TCP', port: 22 }, 'remote'],
      [{ direction: 'inbound', protocol: 'UDP', remote: '1.2.3.4', port: 70000 }, 'port'],
      [{ direction: 'inbound', protocol: 'TCP', remote: '1.2.3.4', port: 22, icmpType: 8 }, 'icmpType'],
      [{ direction: 'inbound', protocol: 'TCP', remote: '1.2.3.4', port: 22, prot: 1 }, 'prot'],
    ];
    for (const [flow, field] of cases) {
      const err = codeAndIssues(() => parseFlow(flow));
      expect(err.code, JSON.stringify(flow)).toBe('FLOW_INVALID');
      expect(err.issues.map((i) => i.path[0]), JSON.stringify(flow)).toContain(field);
    }
  });

  it('createFlowBatch reports bad flows with their index', () => {
    const err = codeAndIssues(() =>
      createFlowBatch([
        { direction: 'inbound', protocol: 'TCP', remote: '1.2.3.4', port: 22 },
        { direction: 'inbound', protocol: 'UDP', remote: '1.2.3.4', port: 53 },
        { direction: 'inbound', protocol: 'TCP', remote: '1.2.3.4' },
      ]),
    );
    expect(err.code).toBe('FLOW_INVALID');
    expect(err.issues.map((i) => i.path)).toEqual([[2, 'port']]);
  });

  it('engine.classify of a malformed flow throws FLOW_INVALID', async () => {
    const engine = await createEngine(baseDoc() as never);
    const err = codeAndIssues(() => engine.classify({ direction: 'inbound', protocol: 'TCP', remote: 'hello', port: 22 }));
    expect(err.code).toBe('FLOW_INVALID');
  });
});
