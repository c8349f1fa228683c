/**
 * The config file's JSON Schema (schema/sgfilter-config.schema.json, shipped as
 * `sgfilter/schema.json`): current with src/config/fields.ts, valid JSON Schema,
 * and agreeing with the validator (src/config/parse.ts) on what it can say:
 * - every config in the repository (examples, README and docs/SEMANTICS.md blocks,
 *   the Tencent API examples when SGFILTER_DATA is set) validates;
 * - every generated config the validator accepts, in every spelling it accepts
 *   (words in any case and with whitespace around, labels with runs of spaces, ports
 *   as numbers and every text form, digit strings, Terraform strings, Tencent
 *   documents), validates: an editor never flags a config sgfilter accepts;
 * - a generated config with one unknown field, one misspelt word or one value of the
 *   wrong type is refused by both.
 * ajv compiles the schema in strict mode, with patterns as `u` regular expressions
 * (as editors compile them).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configJsonSchema, configJsonSchemaText, SCHEMA_FILE } from '../src/config/json-schema.js';
import { safeParseConfig } from '../src/index.js';
import { ACTION_WORDS, PRESETS, PROTOCOLS, TEMPLATES } from '../src/config/fields.js';
import { describeWithData } from './data.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SEED = 20_260_510;

// Strict, except for `required` inside anyOf/oneOf/not (which fields go together): those
// name the enclosing object's properties, as JSON Schema means them to.
const ajv = new Ajv({ strict: true, strictRequired: false, allErrors: true });
const validate = ajv.compile(configJsonSchema());
const schemaOk = (doc: unknown): boolean => validate(doc) === true;
const validatorOk = (doc: unknown): boolean => safeParseConfig(structuredClone(doc)).success;
const schemaErrors = (): string => ajv.errorsText(validate.errors, { separator: '\n' });

describe('the JSON Schema file', () => {
  it(`${SCHEMA_FILE} is what src/config/fields.ts declares (npm run schema)`, () => {
    expect(readFileSync(new URL(`../${SCHEMA_FILE}`, import.meta.url), 'utf8')).toBe(configJsonSchemaText());
    const check = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/schema.ts', '--check'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('carries the generated-file banner, and the package exports it as sgfilter/schema.json', () => {
    const schema = JSON.parse(readFileSync(new URL(`../${SCHEMA_FILE}`, import.meta.url), 'utf8')) as Record<string, unknown>;
    expect(schema.$comment).toMatch(/Generated from src\/config\/fields\.ts .*do not edit/);
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { exports: Record<string, unknown>; files: string[]; scripts: Record<string, string> };
    expect(pkg.exports['./schema.json']).toBe(`./${SCHEMA_FILE}`);
    expect(pkg.files).toContain('schema');
    expect(pkg.scripts.schema).toBeDefined();
  });

  it('is strict draft-07 that ajv compiles, with every pattern a valid `u` regular expression', () => {
    const patterns: string[] = [];
    JSON.stringify(configJsonSchema(), (k, v: unknown) => {
      if (k === 'pattern' && typeof v === 'string') patterns.push(v);
      return v;
    });
    expect(patterns.length).toBeGreaterThan(10);
    for (const p of patterns) expect(() => new RegExp(p, 'u')).not.toThrow();
  });
});

// ---------------------------------------------------------------- every config in the repository

/** ```yaml and ```json blocks of a Markdown file that are configs (they have securityGroups). */
function yamlConfigBlocks(file: string): { name: string; doc: unknown }[] {
  const text = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
  const out: { name: string; doc: unknown }[] = [];
  for (const m of text.matchAll(/```(?:ya?ml|json)\n([\s\S]*?)```/g)) {
    const doc: unknown = parseYaml(m[1]!);
    if (doc && typeof doc === 'object' && 'securityGroups' in doc) out.push({ name: `${file} block at offset ${m.index}`, doc });
  }
  return out;
}

describe('configs in the repository validate', () => {
  const files = [
    ...readdirSync(new URL('../examples/', import.meta.url)).filter((f) => /\.ya?ml$/.test(f)).map((f) => `examples/${f}`),
    'examples/edge/policy.yaml',
  ];
  for (const file of files) {
    it(file, () => {
      const doc: unknown = parseYaml(readFileSync(new URL(`../${file}`, import.meta.url), 'utf8'));
      expect(validatorOk(doc)).toBe(true);
      expect(schemaOk(doc), schemaErrors()).toBe(true);
    });
  }
  it('the config blocks of README.md and docs/SEMANTICS.md', () => {
    const blocks = [...yamlConfigBlocks('README.md'), ...yamlConfigBlocks('docs/SEMANTICS.md')];
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    for (const { name, doc } of blocks) {
      expect(validatorOk(doc), name).toBe(true);
      expect(schemaOk(doc), `${name}: ${schemaErrors()}`).toBe(true);
    }
  });
});

describe('the documents of a policy validate one by one (SPEC §9)', () => {
  it('Tencent template outputs (real examples), a part of a native config, an AWS describe-security-groups output', () => {
    for (const f of ['vpc-DescribeAddressTemplates.json', 'vpc-DescribeAddressTemplateGroups.json', 'vpc-DescribeServiceTemplates.json', 'vpc-DescribeServiceTemplateGroups.json']) {
      const doc: unknown = JSON.parse(readFileSync(new URL(`./fixtures/tencent/${f}`, import.meta.url), 'utf8'));
      expect(schemaOk(doc), `${f}: ${schemaErrors()}`).toBe(true);
    }
    expect(schemaOk({ addressSets: [{ id: 'office', addresses: ['10.0.0.0/8'] }, { id: 'all', sets: ['office'] }], serviceSets: [{ id: 'web', services: ['tcp:80'] }] }), schemaErrors()).toBe(true);
    expect(schemaOk({ instances: [{ id: 'i', securityGroups: ['sg-1'], addresses: ['10.0.0.5'] }] }), schemaErrors()).toBe(true);
    const aws = { SecurityGroups: [{ GroupId: 'sg-1', GroupName: 'web', IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '203.0.113.0/24' }], UserIdGroupPairs: [{ GroupId: 'sg-1', UserId: '123' }] }], IpPermissionsEgress: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }] };
    expect(schemaOk(aws), schemaErrors()).toBe(true);
    expect(validatorOk(aws)).toBe(true);
    // Both refuse a set with addresses and sets, and a misspelt AWS field.
    expect(schemaOk({ addressSets: [{ id: 'x', addresses: [], sets: [] }] })).toBe(false);
    expect(schemaOk({ SecurityGroups: [{ GroupId: 'sg-1', IpPermission: [] }] })).toBe(false);
    expect(validatorOk({ SecurityGroups: [{ GroupId: 'sg-1', IpPermission: [] }] })).toBe(false);
  });
});

describeWithData('tencent', 'the Tencent Cloud API examples validate (loosely, as the API returns them)', (dir) => {
  for (const file of ['ecm-DescribeSecurityGroupPolicies.json', 'vpc-DescribeSecurityGroupPolicies.json']) {
    it(file, () => {
      const doc: unknown = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8'));
      expect(schemaOk(doc), schemaErrors()).toBe(true);
    });
  }
});

// ---------------------------------------------------------------- generated configs

/** A word in a spelling the validator accepts: any case per letter, maybe whitespace around. */
const spelled = (word: string, collapse = false): fc.Arbitrary<string> =>
  fc.tuple(fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }), fc.constantFrom('', ' ', '\t'), fc.constantFrom('', ' '), fc.constantFrom(' ', '  ', '\t'))
    .map(([upper, before, after, space]) => {
      let s = [...word].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join('');
      if (collapse) s = s.replace(/ /g, space);
      return before + s + after;
    });

const oneOfWords = (list: readonly string[], collapse = false): fc.Arbitrary<string> => fc.constantFrom(...list).chain((w) => spelled(w, collapse));

const port = fc.integer({ min: 0, max: 65535 });
const portRange = fc.tuple(port, port).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);
const portItem = fc.oneof(
  port.map(String),
  port.map((p) => `00${p}`),
  portRange.map(([a, b]) => `${a}-${b}`),
  portRange.map(([a, b]) => `${a} - ${b}`),
  fc.tuple(portRange, fc.constantFrom('to', 'TO', 'To')).map(([[a, b], to]) => `${a} ${to} ${b}`),
);
/** A port spec in any form parsePorts reads. */
const ports: fc.Arbitrary<string | number> = fc.oneof(
  port,
  spelled('ALL'),
  fc.array(portItem, { minLength: 1, maxLength: 4 }).chain((items) => fc.constantFrom(',', ', ', ' , ').map((sep) => items.join(sep))),
  portItem.map((p) => ` ${p} `),
);
const byteValue = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }).map(String), fc.integer({ min: 0, max: 99 }).map((n) => ` 0${n} `));
const peer = fc.constantFrom('0.0.0.0/0', '::/0', 'any', 'ANY', ' Any ', '10.0.0.0/8', '203.0.113.7', '2001:db8::/32', '10.0.0.1-10.0.0.50', ' 192.168.1.0/24 ', '::ffff:203.0.113.0/120');
const action = oneOfWords(ACTION_WORDS.map(([w]) => w));
const tcpUdp = fc.oneof(oneOfWords(['TCP', 'UDP']), fc.constantFrom(6, 17, '6', ' 17 '));
const icmp = oneOfWords(['ICMP', 'ICMPv6']);
const otherProtocol = fc.oneof(oneOfWords(['GRE', 'ALL']), fc.integer({ min: 0, max: 255 }).filter((n) => n !== 6 && n !== 17 && n !== 1 && n !== 58), fc.constant('47'));
const text = fc.string({ maxLength: 12 });

type Obj = Record<string, unknown>;

/** Optional fields: each present or not. */
const maybe = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
const compact = (o: Obj): Obj => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** A valid rule object of one direction (before its peer is placed). */
const ruleBody: fc.Arbitrary<Obj> = fc.oneof(
  fc.record({ protocol: tcpUdp, port: maybe(ports), sourcePort: maybe(ports) }).map(compact),
  fc.record({ protocol: icmp, port: maybe(spelled('ALL')), icmpType: maybe(byteValue) }).chain((r) =>
    r.icmpType === undefined ? fc.constant(compact(r)) : maybe(byteValue).map((icmpCode) => compact({ ...r, icmpCode }))),
  fc.record({ protocol: otherProtocol }),
  fc.record({ type: oneOfWords(PRESETS.filter((p) => p.name !== 'custom').flatMap((p) => (p.label ? [p.name, p.label] : [p.name])), true) }),
  fc.record({ type: spelled('custom'), protocol: tcpUdp, port: maybe(ports) }).map(compact),
);

const rule = (dir: 'inbound' | 'outbound'): fc.Arbitrary<unknown> =>
  fc.record({ body: ruleBody, action, peer, peerField: fc.constantFrom(dir === 'inbound' ? 'source' : 'destination', 'peer'), localCidr: maybe(peer), description: maybe(text) })
    .map(({ body, action, peer, peerField, localCidr, description }) => compact({ ...body, [peerField]: peer, action, localCidr, description }));

/** A Terraform lite rule string (whitespace around each part, any case). */
const terraform: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(action, peer, ports.map(String), tcpUdp.map(String)).map((p) => p.join('#')),
  fc.tuple(action, peer, spelled('ALL'), fc.oneof(icmp, otherProtocol.map(String))).map((p) => p.join('#')),
);

/** A Tencent policy of the Ingress or Egress list (its Direction, when it has one, says which). */
const tencentPolicy = (direction: 'INGRESS' | 'EGRESS'): fc.Arbitrary<Obj> => fc.record({
  service: fc.oneof(
    fc.record({ Protocol: tcpUdp, Port: fc.oneof(ports, fc.constant('')) }),
    fc.record({ Protocol: fc.oneof(icmp, oneOfWords(['GRE', 'ALL'])), Port: fc.constantFrom('', 'ALL', 'all') }),
  ),
  peer: fc.oneof(fc.record({ CidrBlock: fc.constantFrom('10.0.0.0/16', '0.0.0.0/0'), Ipv6CidrBlock: fc.constant('') }), fc.record({ CidrBlock: fc.constant(''), Ipv6CidrBlock: fc.constantFrom('::/0', '2001:db8::/48') })),
  Action: oneOfWords(['ACCEPT', 'DROP']),
  PolicyIndex: fc.nat(100),
  PolicyDescription: text,
  ModifyTime: fc.constant('2024-01-01 00:00:00'),
  extras: fc.boolean(),
}).map(({ service, peer, extras, ...rest }) => ({
  ...service, ...peer, ...rest,
  ...(extras ? { SecurityGroupId: '', AddressTemplate: { AddressId: '', AddressGroupId: '' }, ServiceTemplate: { ServiceId: '', ServiceGroupId: '' }, Direction: direction } : {}),
}));

const policySet: fc.Arbitrary<Obj> = fc.record({
  Version: maybe(fc.oneof(fc.constant('1'), fc.nat(50), fc.constant(null))),
  Ingress: fc.array(tencentPolicy('INGRESS'), { maxLength: 4 }),
  Egress: maybe(fc.array(tencentPolicy('EGRESS'), { maxLength: 3 })),
}).map(compact);

const group = (i: number): fc.Arbitrary<Obj> =>
  fc.record({
    name: maybe(text),
    description: maybe(text),
    template: maybe(oneOfWords(TEMPLATES.map((t) => t.name))),
    lists: fc.oneof(
      { weight: 5, arbitrary: fc.record({ inbound: maybe(fc.array(fc.oneof(rule('inbound'), terraform), { maxLength: 5 })), outbound: maybe(fc.array(fc.oneof(rule('outbound'), terraform), { maxLength: 4 })) }) },
      { weight: 1, arbitrary: fc.record({ SecurityGroupPolicySet: policySet }) },
    ),
  }).map(({ lists, ...g }) => compact({ id: `sg-${i}`, ...g, ...lists }));

/** A native config the validator accepts (every spelling class above). */
const nativeConfig: fc.Arbitrary<Obj> = fc.integer({ min: 1, max: 4 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => group(i))))
  .chain((groups) => fc.record({
    $schema: maybe(fc.constant('./node_modules/sgfilter/schema/sgfilter-config.schema.json')),
    version: maybe(fc.oneof(fc.constant('2024-05'), fc.nat(9))),
    description: maybe(text),
    instances: maybe(fc.array(
      fc.record({ order: fc.shuffledSubarray(groups.map((g) => g.id as string)), name: maybe(text), description: maybe(text) }),
      { maxLength: 3 },
    ).map((list) => list.map((x, i) => compact({ id: `ins-${i}`, securityGroups: x.order, name: x.name, description: x.description })))),
  }).map((top) => compact({ ...top, securityGroups: groups })));

/** A Tencent document in each of its three forms. */
const tencentDocument: fc.Arbitrary<Obj> = policySet.chain((set) => fc.constantFrom<Obj>(
  { Response: { SecurityGroupPolicySet: set, RequestId: 'f3f5-4c47' } },
  { SecurityGroupPolicySet: set },
  { ...set, Ingress: set.Ingress },
));

const anyConfig = fc.oneof({ weight: 4, arbitrary: nativeConfig }, { weight: 1, arbitrary: tencentDocument });

describe('the schema accepts every config the validator accepts', () => {
  it('generated configs in every accepted spelling: the validator accepts them, and so does the schema', () => {
    let accepted = 0;
    fc.assert(fc.property(anyConfig, (doc) => {
      const ok = validatorOk(doc);
      if (ok) accepted++;
      if (ok && !schemaOk(doc)) throw new Error(`the validator accepts, the schema refuses:\n${schemaErrors()}\n${JSON.stringify(doc, null, 1)}`);
    }), { seed: SEED, numRuns: 600 });
    // The generator aims at valid configs: nearly all must be (else it tests little).
    expect(accepted).toBeGreaterThan(540);
  });
});

// ---------------------------------------------------------------- one mistake: both refuse

type Mistake = 'unknown field' | 'misspelt word' | 'wrong type';

/** Paths to the objects of a native config where a field name is checked. */
function nativeObjects(doc: Obj): Obj[] {
  const out: Obj[] = [doc];
  for (const g of doc.securityGroups as Obj[]) {
    out.push(g);
    for (const dir of ['inbound', 'outbound']) for (const r of (g[dir] as unknown[] | undefined) ?? []) if (typeof r === 'object') out.push(r as Obj);
  }
  for (const i of (doc.instances as Obj[] | undefined) ?? []) out.push(i);
  return out;
}

/** Every (object, key) whose value is a word of one of fields.ts's lists. */
function wordSlots(doc: Obj): { at: Obj; key: string }[] {
  const out: { at: Obj; key: string }[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Obj)) {
        if (['protocol', 'Protocol', 'action', 'Action', 'type', 'template'].includes(k) && typeof x === 'string' && x.trim() !== '' && !/^\s*\d+\s*$/.test(x)) out.push({ at: v as Obj, key: k });
        else walk(x);
      }
    }
  };
  walk(doc);
  return out;
}

/** Every (object, key) of a native config whose value has a type the schema pins, with a value of another type. */
function typeSlots(doc: Obj): { at: Obj; key: string; wrong: unknown }[] {
  const out: { at: Obj; key: string; wrong: unknown }[] = [{ at: doc, key: 'securityGroups', wrong: { id: 'sg-0' } }];
  if (doc.instances !== undefined) out.push({ at: doc, key: 'instances', wrong: 'ins-0' });
  for (const f of ['$schema', 'description']) if (doc[f] !== undefined) out.push({ at: doc, key: f, wrong: 7 });
  if (doc.version !== undefined) out.push({ at: doc, key: 'version', wrong: [1] });
  for (const g of doc.securityGroups as Obj[]) {
    out.push({ at: g, key: 'id', wrong: 12 });
    for (const f of ['name', 'description', 'template']) if (g[f] !== undefined) out.push({ at: g, key: f, wrong: true });
    for (const dir of ['inbound', 'outbound']) {
      const list = g[dir] as unknown[] | undefined;
      if (list === undefined) continue;
      out.push({ at: g, key: dir, wrong: { 0: list[0] ?? 'x' } });
      for (const r of list) {
        if (typeof r !== 'object') continue;
        const o = r as Obj;
        for (const [k, wrong] of [['port', true], ['sourcePort', [22]], ['source', 10], ['destination', 10], ['peer', null], ['localCidr', 8], ['icmpType', 'eight'], ['icmpCode', -1], ['action', 1], ['description', {}], ['protocol', 256], ['type', 80]] as const) {
          if (o[k] !== undefined) out.push({ at: o, key: k, wrong });
        }
      }
    }
    const set = g.SecurityGroupPolicySet as Obj | undefined;
    if (set) for (const p of (set.Ingress as Obj[])) out.push({ at: p, key: 'Port', wrong: false });
  }
  for (const i of (doc.instances as Obj[] | undefined) ?? []) {
    out.push({ at: i, key: 'securityGroups', wrong: 'sg-0' }, { at: i, key: 'id', wrong: '   ' });
    for (const f of ['name', 'description']) if (i[f] !== undefined) out.push({ at: i, key: f, wrong: 3 });
  }
  return out;
}

/** A word no list has: `q` put inside it ("tqcp", "acceqpt"). */
const misspell = (w: string, at: number): string => {
  const core = w.trim();
  const k = 1 + (at % Math.max(1, core.length - 1));
  return `${core.slice(0, k)}q${core.slice(k)}`;
};

describe('one mistake the schema can express: the schema and the validator both refuse it', () => {
  for (const mistake of ['unknown field', 'misspelt word', 'wrong type'] as Mistake[]) {
    it(mistake, () => {
      let tried = 0;
      fc.assert(fc.property(nativeConfig, fc.nat(), fc.constantFrom('colour', 'protcol', 'sourceport', 'Port', 'instance', 'rules', 'groupId'), (base, pick, name) => {
        if (!validatorOk(base)) return; // the base must be valid, so that the one mistake is what is refused
        const doc = structuredClone(base);
        if (mistake === 'unknown field') {
          const objects = nativeObjects(doc);
          const at = objects[pick % objects.length]!;
          if (Object.hasOwn(at, name)) return;
          at[name] = 'x';
        } else if (mistake === 'misspelt word') {
          const slots = wordSlots(doc);
          if (slots.length === 0) return;
          const { at, key } = slots[pick % slots.length]!;
          at[key] = misspell(at[key] as string, pick);
        } else {
          const slots = typeSlots(doc);
          const { at, key, wrong } = slots[pick % slots.length]!;
          at[key] = wrong;
        }
        tried++;
        const v = validatorOk(doc);
        const s = schemaOk(doc);
        if (v || s) throw new Error(`${mistake}: validator ${v ? 'accepts' : 'refuses'}, schema ${s ? 'accepts' : 'refuses'}\n${JSON.stringify(doc, null, 1)}`);
      }), { seed: SEED + mistake.length, numRuns: 300 });
      expect(tried).toBeGreaterThan(200);
    });
  }

  it('a misspelt word in a Tencent document (Protocol, Action)', () => {
    fc.assert(fc.property(tencentDocument.filter((d) => JSON.stringify(d).includes('"Action"')), fc.nat(), (base, pick) => {
      fc.pre(validatorOk(base));
      const doc = structuredClone(base);
      const slots = wordSlots(doc);
      fc.pre(slots.length > 0);
      const { at, key } = slots[pick % slots.length]!;
      at[key] = misspell(at[key] as string, pick);
      expect([validatorOk(doc), schemaOk(doc)]).toEqual([false, false]);
    }), { seed: SEED, numRuns: 200 });
  });
});

describe('the words of fields.ts, one by one', () => {
  const ruleWith = (extra: Obj): Obj => ({ securityGroups: [{ id: 'sg', inbound: [{ source: 'any', action: 'accept', ...extra }] }] });
  it('every protocol, preset, label, template and action is accepted by both in upper, lower and title case', () => {
    const cases: Obj[] = [];
    for (const p of [...PROTOCOLS.map((x) => x.name), 'ALL']) for (const s of [p, p.toLowerCase(), p.toUpperCase()]) cases.push(ruleWith({ protocol: s }));
    for (const p of PRESETS) for (const w of p.label ? [p.name, p.label] : [p.name]) for (const s of [w, w.toLowerCase(), w.toUpperCase()]) cases.push(ruleWith({ type: s, ...(p.name === 'custom' ? { protocol: 'TCP' } : {}) }));
    for (const [w] of ACTION_WORDS) for (const s of [w, w.toUpperCase(), ` ${w[0]!.toUpperCase()}${w.slice(1)} `]) cases.push({ securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', source: 'any', action: s }] }] });
    for (const t of TEMPLATES) for (const s of [t.name, t.name.toUpperCase()]) cases.push({ securityGroups: [{ id: 'sg', template: s }] });
    for (const doc of cases) {
      expect(validatorOk(doc), JSON.stringify(doc)).toBe(true);
      expect(schemaOk(doc), `${JSON.stringify(doc)}: ${schemaErrors()}`).toBe(true);
    }
  });

  it('typos the issue names are refused by both: TPC, alow, Linux-logn, open_all', () => {
    for (const doc of [ruleWith({ protocol: 'TPC' }), ruleWith({ protocol: 'TCP', action: 'alow' }), ruleWith({ type: 'Linux-logn' }), { securityGroups: [{ id: 'sg', template: 'open_all' }] }]) {
      expect([validatorOk(doc), schemaOk(doc)], JSON.stringify(doc)).toEqual([false, false]);
    }
  });
});
