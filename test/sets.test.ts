// Address sets, service sets, group references, multi-document policies, PolicyIndex
// order and AWS import (SPEC §9): each checked against the reference matcher, and the
// compiled engine differential-tested against it on generated configs that use them.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createEngine, createFlowBatch, parseConfig, parseFlow, referenceClassify, safeParseConfig, SgfilterError } from '../src/index.js';
import type { Config, FlowInput, Issue } from '../src/index.js';
import { safeParseConfigDocuments } from '../src/config/parse.js';
import { ruleBoxes, ruleEntries, type PeerCache } from '../src/compile/box.js';
import { MAX_COMPILE_ENTRIES } from '../src/compile/index.js';
import { PolicyTransaction } from '../src/policy/transaction.js';
import { mulberry32, randomConfig, randomFlows, pick, type Rng } from './random.js';

const fixture = (f: string): unknown => JSON.parse(readFileSync(new URL(`./fixtures/tencent/${f}`, import.meta.url), 'utf8'));
const TEMPLATES = ['vpc-DescribeAddressTemplates.json', 'vpc-DescribeAddressTemplateGroups.json', 'vpc-DescribeServiceTemplates.json', 'vpc-DescribeServiceTemplateGroups.json'].map(fixture);
const issuesOf = (input: unknown): Issue[] => {
  const r = safeParseConfig(input);
  return r.success ? [] : r.issues;
};
const ok = (input: unknown): Config => {
  const r = safeParseConfig(input);
  if (!r.success) throw new Error(JSON.stringify(r.issues, null, 1));
  return r.config;
};

/** The engine and the reference agree on every flow; returns the verdicts. */
async function agree(config: Config, flows: FlowInput[]) {
  const engine = await createEngine(config);
  return flows.map((f) => {
    const want = referenceClassify(config, f);
    expect(engine.classify(f), JSON.stringify(f)).toEqual(want);
    return want;
  });
}

describe('Tencent parameter templates as Tencent returns them', () => {
  it('the real template outputs load beside a policy naming them; the host-bits address is its network, with a warning', async () => {
    const policy = {
      Response: {
        SecurityGroupPolicySet: {
          Version: '3',
          Ingress: [
            { PolicyIndex: 0, Protocol: '', Port: '', ServiceTemplate: { ServiceId: 'ppm-bu8cir16', ServiceGroupId: '' }, AddressTemplate: { AddressId: '', AddressGroupId: 'ipmg-ivrc58q8' }, CidrBlock: '', Ipv6CidrBlock: '', SecurityGroupId: '', Action: 'ACCEPT' },
            { PolicyIndex: 1, Protocol: 'ALL', Port: 'ALL', CidrBlock: '0.0.0.0/0', Action: 'DROP' },
          ],
          Egress: [],
        },
      },
    };
    const config = ok([policy, ...TEMPLATES]);
    const w = config.warnings.find((x) => x.message.includes('192.128.8.8/17'));
    expect(w?.message).toContain('192.128.0.0/17');
    expect(w?.file).toBe('documents[1]');
    expect(w?.path).toEqual(['Response', 'AddressTemplateSet', 0, 'AddressSet', 1]);
    // The service template group's member is in no document: a warning, and the group cannot be named.
    expect(config.warnings.some((x) => x.message.includes('ppm-529nwwj8'))).toBe(true);
    const flows: FlowInput[] = [
      { direction: 'inbound', protocol: 'tcp', port: 8080, remote: '192.168.4.4' },
      { direction: 'inbound', protocol: 'udp', port: 99, remote: '192.128.127.255' },
      { direction: 'inbound', protocol: 'udp', port: 99, remote: '192.128.128.0' },
      { direction: 'inbound', protocol: 'tcp', port: 8081, remote: '192.168.4.4' },
      { direction: 'inbound', protocol: 'udp', port: 8080, remote: '192.168.4.4' },
    ];
    const v = await agree(config, flows);
    expect(v.map((x) => `${x.action}:${x.ruleIndex}`)).toEqual(['accept:0', 'accept:0', 'drop:1', 'drop:1', 'drop:1']);
  });

  it('the real VPC policy still names templates no document defines: each is refused by id, with its path', () => {
    const issues = issuesOf([fixture('vpc-DescribeSecurityGroupPolicies.json'), ...TEMPLATES]);
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.every((i) => i.code === 'UNDEFINED_TEMPLATE' && i.file === 'documents[0]')).toBe(true);
    expect(issues[0]!.path).toEqual(['Response', 'SecurityGroupPolicySet', 'Ingress', 0, 'AddressTemplate', 'AddressGroupId']);
    expect(issues[0]!.message).toContain('ipmg-2uw6ujo6');
    expect(issues[0]!.message).toContain('DescribeAddressTemplateGroups');
  });

  it('a group whose member is missing cannot be named (the issue says which member)', () => {
    const policy = { Ingress: [{ Protocol: '', ServiceTemplate: { ServiceGroupId: 'ppmg-2klmrefu' }, CidrBlock: '10.0.0.0/8', Action: 'ACCEPT' }] };
    const issues = issuesOf([policy, ...TEMPLATES]);
    expect(issues.map((i) => i.code)).toEqual(['UNDEFINED_TEMPLATE']);
    expect(issues[0]!.message).toContain('ppm-529nwwj8');
    expect(issues[0]!.path).toEqual(['Ingress', 0, 'ServiceTemplate', 'ServiceGroupId']);
  });

  it('a template with a bad member is its own issue: rules naming it (or a group holding it) add no UNDEFINED_TEMPLATE', () => {
    const addr = { AddressTemplateSet: [{ AddressTemplateId: 'ipm-bad', AddressSet: ['10.0.0.9/33'] }, { AddressTemplateId: 'ipm-ok', AddressSet: ['10.0.0.0/8'] }] };
    const groups = { AddressTemplateGroupSet: [{ AddressTemplateGroupId: 'ipmg-1', AddressTemplateIdSet: ['ipm-bad', 'ipm-ok'] }] };
    const svc = { ServiceTemplateSet: [{ ServiceTemplateId: 'ppm-bad', ServiceSet: ['tcp:99999'] }] };
    const policy = {
      Ingress: [
        { Protocol: 'TCP', Port: '22', AddressTemplate: { AddressId: 'ipm-bad' }, Action: 'ACCEPT' },
        { Protocol: 'TCP', Port: '23', AddressTemplate: { AddressId: 'ipm-bad' }, Action: 'ACCEPT' },
        { Protocol: 'TCP', Port: '24', AddressTemplate: { AddressGroupId: 'ipmg-1' }, Action: 'ACCEPT' },
        { ServiceTemplate: { ServiceId: 'ppm-bad' }, CidrBlock: '10.0.0.0/8', Action: 'ACCEPT' },
        { Protocol: 'TCP', Port: '25', AddressTemplate: { AddressId: 'ipm-nowhere' }, Action: 'ACCEPT' },
      ],
    };
    const issues = issuesOf([policy, addr, groups, svc]);
    const codes = issues.map((i) => [i.code, i.file]);
    // One issue for each bad member, and the one template nobody defines; nothing for rules naming the bad ones.
    expect(codes.filter(([, f]) => f === 'documents[0]')).toEqual([['UNDEFINED_TEMPLATE', 'documents[0]']]);
    expect(issues.find((i) => i.file === 'documents[0]')!.message).toContain('ipm-nowhere');
    expect(codes.filter(([, f]) => f === 'documents[1]').length).toBe(1);
    expect(codes.filter(([, f]) => f === 'documents[3]').length).toBe(1);
  });

  it('a Tencent API error response is refused as one, quoting its Code and Message (not UNKNOWN_FIELD Response)', () => {
    const err = { Response: { Error: { Code: 'AuthFailure.SignatureExpire', Message: 'Signature expired' }, RequestId: 'x' } };
    for (const input of [err, [{ Ingress: [] }, err]]) {
      const issues = issuesOf(input);
      expect(issues.map((i) => [i.code, i.path])).toEqual([['API_ERROR_RESPONSE', ['Response', 'Error']]]);
      expect(issues[0]!.message).toContain('"AuthFailure.SignatureExpire"');
      expect(issues[0]!.message).toContain('"Signature expired"');
      expect(issues[0]!.message).toContain('API error response');
    }
  });

  it('a template output whose TotalCount exceeds what it lists warns that more pages exist', () => {
    const page = { Response: { TotalCount: 45, AddressTemplateSet: [{ AddressTemplateId: 'ipm-1', AddressSet: ['10.0.0.0/8'] }], RequestId: 'r' } };
    const config = ok([{ Ingress: [{ Protocol: 'TCP', Port: '22', AddressTemplate: { AddressId: 'ipm-1' }, Action: 'ACCEPT' }] }, page]);
    const w = config.warnings.filter((x) => x.path.join('.') === 'Response.TotalCount');
    expect(w).toHaveLength(1);
    expect(w[0]!.file).toBe('documents[1]');
    expect(w[0]!.message).toMatch(/TotalCount is 45 but this output lists 1: it is one page of several/);
    // A whole output (TotalCount = what it lists) says nothing.
    const whole = ok([{ Ingress: [] }, { Response: { ...page.Response, TotalCount: 1 } }]);
    expect(whole.warnings.filter((x) => x.path.join('.') === 'Response.TotalCount')).toEqual([]);
  });

  it('a template defined twice (two documents) is DUPLICATE_SET naming both', () => {
    const issues = issuesOf([{ Ingress: [] }, TEMPLATES[0], TEMPLATES[0]]);
    expect(issues.map((i) => [i.code, i.file, i.path])).toEqual([['DUPLICATE_SET', 'documents[2]', ['Response', 'AddressTemplateSet', 0, 'AddressTemplateId']]]);
    expect(issues[0]!.message).toContain('documents[1]');
  });

  it('a misspelt template field is refused, never read as an empty template', () => {
    const bad = { AddressTemplateSet: [{ AddressTemplateId: 'ipm-1', AdressSet: ['10.0.0.0/8'] }] };
    const codes = issuesOf([{ Ingress: [] }, bad]).map((i) => [i.code, i.path]);
    expect(codes).toContainEqual(['UNKNOWN_FIELD', ['AddressTemplateSet', 0, 'AdressSet']]);
  });
});

describe('PolicyIndex', () => {
  const p = (i: number, port: string, action: string) => ({ PolicyIndex: i, Protocol: 'TCP', Port: port, CidrBlock: '0.0.0.0/0', Action: action });
  it('orders a list; a warning says where the array order disagrees; verdicts number rules in that order and explain shows PolicyIndex', async () => {
    const doc = { Ingress: [p(2, '22', 'DROP'), p(1, '22', 'ACCEPT'), p(3, 'ALL', 'DROP')] };
    const config = ok(doc);
    expect(config.securityGroups[0]!.inbound.map((r) => r.policyIndex)).toEqual([1, 2, 3]);
    expect(config.warnings.map((w) => w.path)).toEqual([['Ingress', 1]]);
    expect(config.warnings[0]!.message).toContain('PolicyIndex 1');
    const [v] = await agree(config, [{ direction: 'inbound', protocol: 'tcp', port: 22, remote: '1.2.3.4' }]);
    expect(v).toMatchObject({ action: 'accept', ruleIndex: 0 });
  });
  it('in order: no warning; missing on some or shared: array order with a warning; not a number: INVALID_POLICY_INDEX', () => {
    expect(ok({ Ingress: [p(1, '22', 'DROP'), p(5, '22', 'ACCEPT')] }).warnings).toEqual([]);
    const partial = ok({ Ingress: [p(9, '22', 'DROP'), { ...p(0, '22', 'ACCEPT'), PolicyIndex: undefined }] });
    expect(partial.securityGroups[0]!.inbound.map((r) => r.action)).toEqual(['drop', 'accept']);
    expect(partial.warnings).toHaveLength(1);
    const shared = ok({ Ingress: [p(1, '22', 'DROP'), p(1, '22', 'ACCEPT'), p(0, '23', 'ACCEPT')] });
    expect(shared.securityGroups[0]!.inbound.map((r) => r.text.port)).toEqual(['23', '22', '22']);
    expect(shared.securityGroups[0]!.inbound.map((r) => r.action)).toEqual(['accept', 'drop', 'accept']);
    expect(issuesOf({ Ingress: [{ ...p(0, '22', 'DROP'), PolicyIndex: 'first' }] }).map((i) => [i.code, i.path])).toEqual([['INVALID_POLICY_INDEX', ['Ingress', 0, 'PolicyIndex']]]);
  });
});

const NATIVE = {
  addressSets: [
    { id: 'office', addresses: ['10.1.0.0/16', '2001:db8:1::/48'] },
    { id: 'vpn', addresses: ['192.0.2.0/24', '10.1.5.0-10.2.0.3'] },
    { id: 'staff', sets: ['office', 'vpn'] },
  ],
  serviceSets: [
    { id: 'web', services: ['tcp:80,443', 'TCP:8000-8010'] },
    { id: 'diag', services: ['icmp', 'icmpv6', 'udp:33434-33534'] },
  ],
  securityGroups: [
    { id: 'sg-web', inbound: [
      { source: 'staff', serviceSet: 'web', action: 'accept' },
      { source: 'office', serviceSet: 'diag', action: 'accept' },
      { source: 'sg-db', protocol: 'tcp', port: 22, action: 'accept' },
      { source: 'any', protocol: 'all', action: 'drop' },
    ] },
    { id: 'sg-db', inbound: [{ source: 'sg-web', protocol: 'tcp', port: 5432, action: 'accept' }], outbound: [{ destination: 'sg-db', protocol: 'all', action: 'accept' }] },
  ],
  instances: [
    { id: 'web1', securityGroups: ['sg-web'], addresses: ['10.0.0.5', '2001:db8:9::5'] },
    { id: 'web2', securityGroups: ['sg-web'], addresses: ['10.0.0.6'] },
    { id: 'db1', securityGroups: ['sg-db'], addresses: ['10.0.1.7'] },
  ],
};

describe('native sets and group references', () => {
  it('classify as the SPEC says, the engine agreeing with the reference', async () => {
    const config = ok(NATIVE);
    const f = (instance: string, protocol: string, remote: string, port?: number): FlowInput => ({ instance, direction: 'inbound', protocol: protocol as never, remote, ...(port === undefined ? {} : { port }) });
    const v = await agree(config, [
      f('web1', 'tcp', '10.2.0.3', 8005), // vpn range end, web service
      f('web1', 'tcp', '10.2.0.4', 8005), // just past it
      f('web1', 'icmp', '10.1.9.9'), // office, diag
      f('web1', 'icmp', '2001:db8:1::9'), // ICMP with an IPv6 peer: no service matches
      f('web1', 'icmpv6', '2001:db8:1::9'),
      f('web1', 'tcp', '10.0.1.7', 22), // from db1: group reference
      f('web1', 'tcp', '10.0.1.8', 22),
      f('db1', 'tcp', '10.0.0.6', 5432), // web2 is in sg-web
      f('db1', 'tcp', '2001:db8:9::5', 5432), // web1's IPv6 address
      f('db1', 'tcp', '10.0.0.7', 5432),
    ]);
    expect(v.map((x) => `${x.action}:${x.groupId}:${x.ruleIndex}`)).toEqual([
      'accept:sg-web:0', 'drop:sg-web:3', 'accept:sg-web:1', 'drop:sg-web:3', 'accept:sg-web:1', 'accept:sg-web:2', 'drop:sg-web:3',
      'accept:sg-db:0', 'accept:sg-db:0', 'drop:null:null',
    ]);
    const refRule = config.securityGroups[1]!.inbound[0]!;
    expect(refRule.peerGroup).toBe('sg-web');
  });

  it('refuses undefined, duplicate, nested and ambiguous names with their paths', () => {
    const base = structuredClone(NATIVE);
    const cases: [unknown, string, (string | number)[]][] = [
      [{ ...base, addressSets: [...base.addressSets, { id: 'office', addresses: [] }] }, 'DUPLICATE_SET', ['addressSets', 3, 'id']],
      [{ ...base, addressSets: [...base.addressSets, { id: 'sg-db', addresses: [] }] }, 'AMBIGUOUS_SET_ID', ['addressSets', 3, 'id']],
      [{ ...base, addressSets: [...base.addressSets, { id: '10.0.0.1', addresses: [] }] }, 'AMBIGUOUS_SET_ID', ['addressSets', 3, 'id']],
      [{ ...base, addressSets: [...base.addressSets, { id: 'g2', sets: ['staff'] }] }, 'NESTED_SET', ['addressSets', 3, 'sets', 0]],
      [{ ...base, addressSets: [...base.addressSets, { id: 'g2', sets: ['nope'] }] }, 'UNKNOWN_SET', ['addressSets', 3, 'sets', 0]],
      [{ ...base, addressSets: [{ id: 'x', addresses: ['10.0.0.1/8'] }] }, 'HOST_BITS_SET', ['addressSets', 0, 'addresses', 0]],
      [{ ...base, serviceSets: [{ id: 'x', services: ['tcp:99999'] }] }, 'PORT_OUT_OF_RANGE', ['serviceSets', 0, 'services', 0]],
      [{ ...base, serviceSets: [{ id: 'x', services: ['icmp:8'] }] }, 'PORT_NOT_ALLOWED', ['serviceSets', 0, 'services', 0]],
      [{ ...base, serviceSets: [{ id: 'x', services: ['bogus:8'] }] }, 'UNKNOWN_PROTOCOL', ['serviceSets', 0, 'services', 0]],
      [{ securityGroups: [{ id: 'a', inbound: [{ source: 'nowhere', protocol: 'tcp', action: 'accept' }] }] }, 'INVALID_ADDRESS', ['securityGroups', 0, 'inbound', 0, 'source']],
      [{ securityGroups: [{ id: 'a', inbound: [{ source: 'any', serviceSet: 'nope', action: 'accept' }] }] }, 'UNKNOWN_SET', ['securityGroups', 0, 'inbound', 0, 'serviceSet']],
      [{ securityGroups: [{ id: 'a', inbound: [{ source: 'any', serviceSet: 'web', protocol: 'tcp', action: 'accept' }] }], serviceSets: [{ id: 'web', services: ['tcp:80'] }] }, 'CONFLICTING_FIELDS', ['securityGroups', 0, 'inbound', 0, 'serviceSet']],
    ];
    for (const [doc, code, path] of cases) {
      const issues = issuesOf(doc);
      expect(issues.map((i) => [i.code, i.path]), `${code} ${JSON.stringify(issues)}`).toContainEqual([code, path]);
    }
    expect(issuesOf({ securityGroups: [{ id: 'a', inbound: [{ source: 'nowhere', protocol: 'tcp', action: 'accept' }] }] })[0]!.message).toContain('nor an address set or security group');
  });

  it('a reference to a group no instance with addresses binds matches nothing, with a warning', async () => {
    const config = ok({ securityGroups: [{ id: 'a', inbound: [{ source: 'b', protocol: 'all', action: 'accept' }] }, { id: 'b' }], instances: [{ id: 'i', securityGroups: ['a'] }] });
    expect(config.warnings.map((w) => w.path)).toEqual([['securityGroups', 0, 'inbound', 0]]);
    const [v] = await agree(config, [{ instance: 'i', direction: 'inbound', protocol: 'tcp', port: 1, remote: '10.0.0.1' }]);
    expect(v!.action).toBe('drop');
  });
});

describe('several documents make one policy', () => {
  it('groups, instances and sets in different documents; every issue names its document', () => {
    const { addressSets, serviceSets, securityGroups, instances } = structuredClone(NATIVE);
    const r = safeParseConfigDocuments([
      { document: { securityGroups }, file: 'policies.json' },
      { document: { addressSets, serviceSets }, file: 'sets.json' },
      { document: { instances }, file: 'instances.json' },
    ]);
    expect(r.success).toBe(true);
    const dup = safeParseConfigDocuments([
      { document: { securityGroups }, file: 'policies.json' },
      { document: { addressSets, serviceSets, securityGroups: [{ id: 'sg-db' }] }, file: 'more.json' },
      { document: { instances }, file: 'instances.json' },
      { document: { instances: [{ id: 'web1', securityGroups: [] }] }, file: 'again.json' },
    ]);
    expect(dup.success).toBe(false);
    if (dup.success) return;
    expect(dup.issues.map((i) => [i.code, i.file, i.path])).toEqual([
      ['DUPLICATE_GROUP', 'more.json', ['securityGroups', 0, 'id']],
      ['DUPLICATE_INSTANCE', 'again.json', ['instances', 0, 'id']],
    ]);
    expect(dup.issues[0]!.message).toContain('policies.json');
    // The message of the thrown error names the file, too.
    try {
      parseConfig([{ securityGroups }, { securityGroups: [{ id: 'sg-db' }] }]);
      expect.unreachable();
    } catch (e) {
      expect((e as SgfilterError).message).toContain('documents[1]');
    }
  });
  it('an empty list and a set-only policy are refused', () => {
    expect(issuesOf([]).map((i) => i.code)).toEqual(['MISSING_FIELD']);
    expect(issuesOf([{ addressSets: [{ id: 'a', addresses: [] }] }]).map((i) => i.code)).toEqual(['MISSING_FIELD']);
  });
});

describe('AWS describe-security-groups', () => {
  const aws = {
    SecurityGroups: [
      {
        Description: 'My security group', GroupName: 'my-sg', OwnerId: '123456789012', GroupId: 'sg-903004f8', VpcId: 'vpc-1a2b3c4d', Tags: [],
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '203.0.113.0/24', Description: 'ssh' }], Ipv6Ranges: [], PrefixListIds: [], UserIdGroupPairs: [] },
          { IpProtocol: '-1', IpRanges: [], Ipv6Ranges: [], PrefixListIds: [], UserIdGroupPairs: [{ UserId: '123456789012', GroupId: 'sg-903004f8' }] },
          { IpProtocol: 'icmp', FromPort: 8, ToPort: -1, IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [{ CidrIpv6: '::/0' }], PrefixListIds: [], UserIdGroupPairs: [] },
        ],
        IpPermissionsEgress: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [], PrefixListIds: [], UserIdGroupPairs: [] }],
      },
      {
        GroupId: 'sg-a1', GroupName: 'db', Description: 'db',
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, UserIdGroupPairs: [{ GroupId: 'sg-903004f8' }] }],
        IpPermissionsEgress: [],
      },
    ],
  };
  it('groups become accept lists ending in the default drop; several groups on one instance are their union', async () => {
    const config = ok([aws, { instances: [{ id: 'i-web', securityGroups: ['sg-903004f8'], addresses: ['10.0.0.5'] }, { id: 'i-db', securityGroups: ['sg-a1', 'sg-903004f8'], addresses: ['10.0.0.9'] }] }]);
    const f = (instance: string, protocol: string, remote: string, extra: Partial<FlowInput> = {}): FlowInput => ({ instance, direction: 'inbound', protocol: protocol as never, remote, ...extra });
    const v = await agree(config, [
      f('i-web', 'tcp', '203.0.113.9', { port: 22 }),
      f('i-web', 'tcp', '203.0.114.9', { port: 22 }),
      f('i-web', 'udp', '10.0.0.9', { port: 53 }), // from i-db, which is in sg-903004f8: -1 from the group
      f('i-web', 'icmp', '8.8.8.8', { icmpType: 8, icmpCode: 0 }),
      f('i-web', 'icmp', '8.8.8.8', { icmpType: 0, icmpCode: 0 }),
      f('i-web', 'icmpv6', '2001:db8::1', { icmpType: 128, icmpCode: 0 }), // an icmp permission says nothing of ICMPv6 (AWS: use icmpv6)
      f('i-db', 'tcp', '10.0.0.5', { port: 5432 }),
      f('i-db', 'tcp', '203.0.113.9', { port: 22 }), // the union: sg-903004f8 on i-db too
      f('i-db', 'tcp', '203.0.113.9', { port: 5432 }),
    ]);
    expect(v.map((x) => x.action)).toEqual(['accept', 'drop', 'accept', 'accept', 'drop', 'drop', 'accept', 'accept', 'drop']);
    // …and the rule made of that IPv6 range is said to be unable to match, at its AWS path.
    expect(config.warnings.map((w) => w.path)).toContainEqual(['SecurityGroups', 0, 'IpPermissions', 2, 'Ipv6Ranges', 0]);
  });
  it('PrefixListIds are refused naming the prefix list; an unknown referenced group is UNKNOWN_GROUP; typos are UNKNOWN_FIELD', () => {
    const bad = structuredClone(aws) as any;
    bad.SecurityGroups[0].IpPermissions[0].PrefixListIds = [{ PrefixListId: 'pl-12345678' }];
    bad.SecurityGroups[1].IpPermissions[0].UserIdGroupPairs[0].GroupId = 'sg-gone';
    bad.SecurityGroups[1].IpPermissions.push({ IpProtocol: 'tcp', FromPort: 1, ToPort: 2, IpRange: [{ CidrIp: '1.2.3.4/32' }] });
    const issues = issuesOf(bad);
    expect(issues.map((i) => [i.code, i.path])).toEqual([
      ['UNSUPPORTED', ['SecurityGroups', 0, 'IpPermissions', 0, 'PrefixListIds', 0, 'PrefixListId']],
      ['UNKNOWN_GROUP', ['SecurityGroups', 1, 'IpPermissions', 0, 'UserIdGroupPairs', 0, 'GroupId']],
      ['UNKNOWN_FIELD', ['SecurityGroups', 1, 'IpPermissions', 1, 'IpRange']],
    ]);
    expect(issues[0]!.message).toContain('pl-12345678');
    const port = structuredClone(aws) as any;
    port.SecurityGroups[0].IpPermissions[0].FromPort = 70000;
    expect(issuesOf(port).map((i) => [i.code, i.path])).toContainEqual(['INVALID_PORT', ['SecurityGroups', 0, 'IpPermissions', 0, 'FromPort']]);
  });
  it('every problem of one permission is reported together, each once (SPEC §4)', () => {
    const perm = { IpProtocol: 'tcp', FromPort: 100, ToPort: 90, IpRanges: [{ CidrIp: '10.0.0.1/8' }, { CidrIp: '192.0.2.0/24' }], UserIdGroupPairs: [{ GroupId: 'sg-nope' }] };
    const doc = { SecurityGroups: [{ GroupId: 'sg-1', IpPermissions: [perm] }] };
    const p = ['SecurityGroups', 0, 'IpPermissions', 0];
    expect(issuesOf(doc).map((i) => [i.code, i.path])).toEqual([
      ['REVERSED_RANGE', [...p, 'FromPort']],
      ['UNKNOWN_GROUP', [...p, 'UserIdGroupPairs', 0, 'GroupId']],
      ['HOST_BITS_SET', [...p, 'IpRanges', 0, 'CidrIp']],
    ]);
    // An unknown group alone does not hide a bad CidrIp beside it.
    const two = structuredClone(doc) as any;
    two.SecurityGroups[0].IpPermissions[0].ToPort = 100;
    expect(issuesOf(two).map((i) => i.code)).toEqual(['UNKNOWN_GROUP', 'HOST_BITS_SET']);
  });
});

describe('sets, bindings and instance addresses in transactions', () => {
  it('republish every rule using them in one version; refuse removing what is in use', async () => {
    const engine = await createEngine(NATIVE as never);
    {
      const f = (instance: string, remote: string, port: number, protocol = 'tcp'): FlowInput => ({ instance, direction: 'inbound', protocol: protocol as never, remote, port });
      const check = (flow: FlowInput) => {
        const want = referenceClassify(engine.config, flow);
        expect(engine.classify(flow)).toEqual(want);
        return want.action;
      };
      expect(check(f('web1', '172.16.0.1', 443))).toBe('drop');
      await engine.update([{ op: 'replaceAddressSet', set: { id: 'office', addresses: ['172.16.0.0/12'] } }]);
      // 'staff' (a set group of office and vpn) and every rule naming office or staff follow.
      expect(check(f('web1', '172.16.0.1', 443))).toBe('accept');
      expect(check(f('web1', '10.1.0.1', 443))).toBe('drop');
      expect(engine.config.addressSets!.find((s) => s.id === 'staff')!.addresses.v4.length).toBeGreaterThan(0);
      // Instance addresses and bindings change group references.
      expect(check(f('db1', '10.9.9.9', 5432))).toBe('drop');
      await engine.update([{ op: 'setInstanceAddresses', instanceId: 'web2', addresses: ['10.9.9.9'] }]);
      expect(check(f('db1', '10.9.9.9', 5432))).toBe('accept');
      expect(check(f('db1', '10.0.0.6', 5432))).toBe('drop');
      await engine.update((tx) => tx.unbindGroup('web2', 'sg-web'));
      expect(check(f('db1', '10.9.9.9', 5432))).toBe('drop');
      await engine.update([{ op: 'replaceServiceSet', set: { id: 'web', services: ['tcp:444'] } }]);
      expect(check(f('web1', '172.16.0.1', 443))).toBe('drop');
      expect(check(f('web1', '172.16.0.1', 444))).toBe('accept');
      const before = engine.config;
      for (const [edits, code] of [
        [[{ op: 'removeAddressSet', setId: 'office' }], 'SET_IN_USE'],
        [[{ op: 'removeServiceSet', setId: 'web' }], 'SET_IN_USE'],
        [[{ op: 'removeGroup', groupId: 'sg-db' }, { op: 'removeInstance', instanceId: 'db1' }], 'GROUP_IN_USE'],
        [[{ op: 'addAddressSet', set: { id: 'vpn', addresses: [] } }], 'DUPLICATE_SET'],
        [[{ op: 'addAddressSet', set: { id: 'sg-web', addresses: [] } }], 'AMBIGUOUS_SET_ID'],
        [[{ op: 'replaceAddressSet', set: { id: 'nope', addresses: [] } }], 'UNKNOWN_SET'],
        [[{ op: 'addRule', groupId: 'sg-db', direction: 'inbound', rule: { source: 'nope', protocol: 'tcp', action: 'accept' } }], 'INVALID_ADDRESS'],
        [[{ op: 'setInstanceAddresses', instanceId: 'web1', addresses: ['any'] }], 'INVALID_ADDRESS'],
      ] as const) {
        await expect(engine.update(edits as never), code).rejects.toMatchObject({ code: 'CONFIG_INVALID', issues: expect.arrayContaining([expect.objectContaining({ code })]) });
        expect(engine.config).toBe(before);
      }
      // Adding a set and a rule naming it in one update works; so does removing a set with the rules naming it.
      await engine.update([
        { op: 'addAddressSet', set: { id: 'lab', addresses: ['198.51.100.0/24'] } },
        { op: 'addRule', groupId: 'sg-web', direction: 'inbound', at: 0, rule: { source: 'lab', protocol: 'tcp', port: 7, action: 'accept' } },
      ]);
      expect(check(f('web1', '198.51.100.7', 7))).toBe('accept');
      await engine.update([{ op: 'removeRule', groupId: 'sg-web', direction: 'inbound', index: 0 }, { op: 'removeAddressSet', setId: 'lab' }]);
      expect(check(f('web1', '198.51.100.7', 7))).toBe('drop');
    }
  });
  it('unchanged rules are reused; rules whose set changed are new objects', () => {
    const base = ok(NATIVE);
    const next = new PolicyTransaction(base).replaceAddressSet({ id: 'vpn', addresses: ['192.0.2.0/25'] }).commit().config;
    expect(next.securityGroups[1]).toBe(base.securityGroups[1]);
    expect(next.securityGroups[0]!.inbound[1]).toBe(base.securityGroups[0]!.inbound[1]); // office only
    expect(next.securityGroups[0]!.inbound[0]).not.toBe(base.securityGroups[0]!.inbound[0]); // staff includes vpn
  });
});

describe('a set is decomposed into prefixes once per compile, however many rules name it', () => {
  it('rules naming one set share its prefix list', () => {
    const rules = Array.from({ length: 50 }, (_, i) => ({ source: 'big', protocol: 'tcp', port: 1000 + i, action: 'accept' }));
    const config = ok({ addressSets: [{ id: 'big', addresses: Array.from({ length: 200 }, (_, i) => `10.${i}.3.0-10.${i}.5.17`) }], securityGroups: [{ id: 'a', inbound: rules }] });
    const cache: PeerCache = new Map();
    const boxes = config.securityGroups[0]!.inbound.flatMap((r, i) => ruleBoxes(r, i, true, cache));
    expect(cache.size).toBe(1);
    expect(new Set(boxes.map((b) => b.remote)).size).toBe(1);
  });
});

describe('a shared set is charged against MAX_COMPILE_ENTRIES once per classifier, not once per rule', () => {
  it('50 rules naming a 180,000-prefix set compile, and classify as the reference says', async () => {
    // 13,000 ranges x.y.z.1-x.y.z.254: 14 prefixes each.
    const addresses = Array.from({ length: 13000 }, (_, i) => `10.${i >> 8}.${i & 255}.1-10.${i >> 8}.${i & 255}.254`);
    const rules = Array.from({ length: 50 }, (_, i) => ({ source: 'big', protocol: 'tcp', port: 1000 + i, action: i % 2 ? 'drop' : 'accept' }));
    const config = ok({ addressSets: [{ id: 'big', addresses }], securityGroups: [{ id: 'a', inbound: [...rules, { source: '0.0.0.0/0', protocol: 'tcp', port: '1000-1100', action: 'accept' }] }] });
    const rule0 = config.securityGroups[0]!.inbound[0]!;
    // Counted per rule (as before), this policy was refused.
    expect(ruleEntries(rule0) * 50).toBeGreaterThan(MAX_COMPILE_ENTRIES);
    const e = await createEngine(config);
    for (const port of [1000, 1001, 1049, 1050]) {
      for (const remote of ['10.0.0.1', '10.0.0.0', '10.0.0.255', '10.50.199.254', '10.50.200.1', '10.51.0.7']) {
        const f: FlowInput = { direction: 'inbound', protocol: 'tcp', port, remote };
        expect(e.classify(f), JSON.stringify(f)).toEqual(referenceClassify(config, parseFlow(f)));
      }
    }
  }, 60_000);
});

// ---------------------------------------------------------------- generated policies

const SERVICES = ['tcp:80', 'udp:53,5353', 'tcp:8000-8010', 'icmp', 'ALL', 'icmpv6', 'TCP:22,1024-2000', 'gre', 'udp', 'tcp:0-65535'];
const SET_PEERS = ['10.1.0.0/16', '10.1.2.3', '192.0.2.0/24', '2001:db8:1::/48', '::1', '10.1.2.3-10.1.2.50', '0.0.0.0/1', '2001:db8::1-2001:db8::ffff', 'any'];

/** A random config (random.ts) whose rules also name address sets, set groups, service sets and groups, with instance addresses. */
function randomSetConfig(r: Rng): Record<string, unknown> {
  const doc = randomConfig(r, 10) as Record<string, any>;
  const n = 1 + Math.floor(r() * 4);
  const addressSets: any[] = Array.from({ length: n }, (_, i) => ({ id: `as-${i}`, addresses: Array.from({ length: Math.floor(r() * 4) }, () => pick(r, SET_PEERS)) }));
  addressSets.push({ id: 'as-group', sets: addressSets.filter(() => r() < 0.5).map((s) => s.id) });
  const serviceSets: any[] = Array.from({ length: 3 }, (_, i) => ({ id: `ss-${i}`, services: Array.from({ length: Math.floor(r() * 4) }, () => pick(r, SERVICES)) }));
  serviceSets.push({ id: 'ss-group', sets: ['ss-0', 'ss-2'] });
  const groupIds = doc.securityGroups.map((g: any) => g.id);
  for (const g of doc.securityGroups) {
    for (const dir of ['inbound', 'outbound'] as const) {
      g[dir] = (g[dir] ?? []).map((rule: any) => {
        if (typeof rule === 'string' || rule.peer !== undefined) return rule;
        const out = { ...rule };
        const field = dir === 'inbound' ? 'source' : 'destination';
        const x = r();
        if (x < 0.25) out[field] = pick(r, addressSets).id;
        else if (x < 0.45) out[field] = pick(r, groupIds);
        if (r() < 0.35) {
          for (const k of ['type', 'protocol', 'port', 'icmpType', 'icmpCode', 'sourcePort']) delete out[k];
          out.serviceSet = pick(r, serviceSets).id;
        }
        return out;
      });
    }
  }
  const ids = groupIds as string[];
  doc.instances = Array.from({ length: 1 + Math.floor(r() * 3) }, (_, i) => ({
    id: `ins-${i}`,
    securityGroups: ids.filter(() => r() < 0.7),
    ...(r() < 0.8 ? { addresses: Array.from({ length: 1 + Math.floor(r() * 2) }, () => pick(r, ['10.1.2.3', '10.1.2.0/30', '192.0.2.77', '2001:db8:1::9', '203.0.113.5-203.0.113.9'])) } : {}),
  }));
  doc.addressSets = addressSets;
  doc.serviceSets = serviceSets;
  return doc;
}

const SEED = Number(process.env.SGFILTER_SEED ?? Date.now() % 1e9);
describe(`differential on generated policies with sets and references (seed ${SEED})`, () => {
  it('the engine agrees with the reference matcher, in one document and split in three', async () => {
    const r = mulberry32(SEED);
    let engine: Awaited<ReturnType<typeof createEngine>> | undefined;
    const bad: string[] = [];
    let used = 0;
    for (let c = 0; c < 120; c++) {
      const doc = randomSetConfig(r);
      const { addressSets, serviceSets, instances, ...rest } = doc;
      const parsed = safeParseConfig(c % 2 ? doc : [rest, { addressSets, serviceSets }, { instances }]);
      if (!parsed.success) throw new Error(`seed ${SEED} config ${c}: ${JSON.stringify(parsed.issues.slice(0, 3))}`);
      const config = parsed.config;
      used += config.securityGroups.flatMap((g) => [...g.inbound, ...g.outbound]).filter((x) => x.peerSet || x.peerGroup || x.serviceSet).length;
      if (!engine) engine = await createEngine(config);
      else await engine.reload(config);
      const flows = randomFlows(r, config, 400);
      const batch = createFlowBatch(flows);
      engine.classifyBatch(batch);
      flows.forEach((f, i) => {
        const want = referenceClassify(config, parseFlow(f));
        if (JSON.stringify(want) !== JSON.stringify(batch.verdict(i)) && bad.length < 3) bad.push(`config ${c} flow ${JSON.stringify(f)} want ${JSON.stringify(want)} got ${JSON.stringify(batch.verdict(i))}`);
      });
    }
    expect(bad, bad.join('\n')).toEqual([]);
    expect(used).toBeGreaterThan(200);
  }, 120_000);
});

describe('snapshots carry sets, references, services and PolicyIndex', () => {
  it('a snapshot loads back to the same config and verdicts; metadata that names a set it does not hold is refused', async () => {
    const config = ok([NATIVE, { Response: { SecurityGroupPolicySet: { Ingress: [{ PolicyIndex: 4, Protocol: 'TCP', Port: '1', SecurityGroupId: 'sg-web', Action: 'ACCEPT' }] } } }]);
    const engine = await createEngine(config);
    const bytes = engine.snapshot() as Uint8Array;
    const loaded = await createEngine({ snapshot: bytes });
    expect(loaded.config).toEqual(config);
    expect(loaded.config.securityGroups.find((g) => g.id === 'tencent')!.inbound[0]!.policyIndex).toBe(4);
    const flows = randomFlows(mulberry32(7), config, 300);
    for (const f of flows) expect(loaded.classify(f)).toEqual(referenceClassify(config, f));
    // The metadata is read strictly: a rule claiming a set the config lacks is SNAPSHOT_INVALID.
    const { decodeMeta, encodeMeta } = await import('../src/snapshot/meta.js');
    const { compilePolicy } = await import('../src/compile/index.js');
    const compiled = compilePolicy(config);
    const json = JSON.parse(new TextDecoder().decode(encodeMeta(compiled, config)));
    expect(decodeMeta(new TextEncoder().encode(JSON.stringify(json))).config).toEqual(config);
    json.config.securityGroups[0].inbound[0].peerSet = 'vpn';
    expect(() => decodeMeta(new TextEncoder().encode(JSON.stringify(json)))).toThrow(/peer/);
    json.config.securityGroups[0].inbound[0].peerSet = 'staff';
    json.config.securityGroups[1].inbound[0].peer.v4 = [];
    expect(() => decodeMeta(new TextEncoder().encode(JSON.stringify(json)))).toThrow(/instances bound to group/);
  });
});

describe('order does not matter where the cloud does not order', () => {
  it('a set group listed before its members loads, compiles and round-trips through a snapshot; so does one added by an edit', async () => {
    const doc = {
      addressSets: [{ id: 'all', sets: ['a', 'b'] }, { id: 'a', addresses: ['10.0.0.0/24'] }, { id: 'b', addresses: ['10.0.1.0/24'] }],
      serviceSets: [{ id: 'svc', sets: ['s1'] }, { id: 's1', services: ['tcp:22'] }],
      securityGroups: [{ id: 'g', inbound: [{ source: 'all', serviceSet: 'svc', action: 'accept' }] }],
    };
    const config = ok(doc);
    const engine = await createEngine(config);
    const f: FlowInput = { direction: 'inbound', protocol: 'tcp', port: 22, remote: '10.0.1.9' };
    expect(engine.classify(f).action).toBe('accept');
    const loaded = await createEngine({ snapshot: engine.snapshot() as Uint8Array });
    expect(loaded.config).toEqual(config);
    await engine.update([
      { op: 'addAddressSet', set: { id: 'later', sets: ['c'] } },
      { op: 'addAddressSet', set: { id: 'c', addresses: ['192.0.2.0/24'] } },
      { op: 'addGroup', group: { id: 'self', inbound: [{ source: 'self', protocol: 'all', action: 'accept' }, { source: 'later', protocol: 'tcp', action: 'accept' }] } },
      { op: 'addInstance', instance: { id: 'i', securityGroups: ['self', 'g'], addresses: ['198.51.100.1'] } },
    ]);
    const g = (remote: string, port = 22): FlowInput => ({ instance: 'i', direction: 'inbound', protocol: 'tcp', port, remote });
    for (const [flow, action] of [[g('198.51.100.1', 9), 'accept'], [g('192.0.2.5', 9), 'accept'], [g('10.0.0.1'), 'accept'], [g('10.0.2.1'), 'drop']] as const) {
      expect(engine.classify(flow)).toEqual(referenceClassify(engine.config, flow));
      expect(engine.classify(flow).action).toBe(action);
    }
    const again = await createEngine({ snapshot: engine.snapshot() as Uint8Array });
    expect(again.config).toEqual(engine.config);
  });
});

describe('a Config from outside (a clone) must hold what its rules name', () => {
  it('a structured clone is adopted; one whose set, reference or services disagree with its rules is refused', () => {
    const config = ok(NATIVE);
    expect(ok(structuredClone(config))).toEqual(config);
    const badSet = structuredClone(config) as any;
    badSet.securityGroups[0].inbound[0].peer = { v4: [{ lo: 0n, hi: 0xffffffffn }], v6: [] };
    expect(issuesOf(badSet)[0]!.message).toContain('address set "staff"');
    const badRef = structuredClone(config) as any;
    badRef.instances[0].addresses = { v4: [{ lo: 1n, hi: 1n }], v6: [] };
    expect(issuesOf(badRef)[0]!.message).toContain('instances bound to group "sg-web"');
    const badServices = structuredClone(config) as any;
    // (structuredClone keeps shared objects shared: replace the rule's list, not an object both hold)
    badServices.securityGroups[0].inbound[0].services = [{ ...badServices.securityGroups[0].inbound[0].services[0], ports: null }];
    expect(issuesOf(badServices)[0]!.message).toContain('service set "web"');
    const badGroup = structuredClone(config) as any;
    badGroup.addressSets[2].addresses = { v4: [], v6: [] };
    expect(issuesOf(badGroup)[0]!.message).toContain('union');
  });
});

describe('two bare Tencent policy outputs', () => {
  it('collide as group "tencent", and the issue says how to name them', () => {
    const issues = issuesOf([{ Ingress: [] }, { Response: { SecurityGroupPolicySet: { Ingress: [] } } }]);
    expect(issues.map((i) => [i.code, i.file, i.path])).toEqual([['DUPLICATE_GROUP', 'documents[1]', ['Response', 'SecurityGroupPolicySet']]]);
    expect(issues[0]!.message).toContain('SecurityGroupPolicySet');
  });
});

describe(`differential after random edits of sets, bindings and instance addresses (seed ${SEED})`, () => {
  it('the engine (rules re-resolved by the transaction) agrees with the reference (reading the sets and instances)', async () => {
    const r = mulberry32(SEED ^ 0x5e75);
    const bad: string[] = [];
    for (let c = 0; c < 25; c++) {
      const doc = randomSetConfig(r) as any;
      const engine = await createEngine(doc);
      for (let step = 0; step < 6; step++) {
        const edits: any[] = [];
        const x = r();
        const cfg = engine.config;
        const plain = (cfg.addressSets ?? []).filter((s) => !s.sets);
        const inst = pick(r, cfg.instances);
        if (x < 0.3 && plain.length) edits.push({ op: 'replaceAddressSet', set: { id: pick(r, plain).id, addresses: Array.from({ length: Math.floor(r() * 3) }, () => pick(r, SET_PEERS)) } });
        else if (x < 0.5) edits.push({ op: 'replaceServiceSet', set: { id: pick(r, ['ss-0', 'ss-1', 'ss-2']), services: Array.from({ length: Math.floor(r() * 3) }, () => pick(r, SERVICES)) } });
        else if (x < 0.7) edits.push({ op: 'setInstanceAddresses', instanceId: inst.id, addresses: r() < 0.2 ? null : [pick(r, ['10.1.2.3', '192.0.2.0/28', '2001:db8:1::1', '10.200.0.1'])] });
        else if (x < 0.85) {
          const g = pick(r, cfg.securityGroups).id;
          edits.push(inst.securityGroups.includes(g) ? { op: 'unbindGroup', instanceId: inst.id, groupId: g } : { op: 'bindGroup', instanceId: inst.id, groupId: g });
        } else edits.push({ op: 'replaceAddressSet', set: { id: 'as-group', sets: plain.filter(() => r() < 0.5).map((s) => s.id) } });
        await engine.update(edits);
        const config = engine.config;
        for (const f of randomFlows(r, config, 150)) {
          const want = referenceClassify(config, f);
          const got = engine.classify(f);
          if (JSON.stringify(want) !== JSON.stringify(got) && bad.length < 3) bad.push(`config ${c} step ${step} ${JSON.stringify(edits)} flow ${JSON.stringify(f)} want ${JSON.stringify(want)} got ${JSON.stringify(got)}`);
        }
      }
    }
    expect(bad, bad.join('\n')).toEqual([]);
  }, 120_000);
});
