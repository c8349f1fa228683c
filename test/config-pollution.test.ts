// A polluted Object.prototype must not change what a config means (issue 9, class 1,
// from outside: `Object.prototype.template = 'open-all'` opened every group). Every
// field name the config shapes know (src/config/fields.ts, Tencent, AWS, template
// lists, the validated Config's own fields, snapshot metadata), set on
// Object.prototype one at a time and several at once, with generated values,
// enumerable or not: parse results, reference verdicts, compiled verdicts, snapshots
// and edits are exactly what an unpolluted run gives. The prototype is restored
// after every case.
import { afterEach, describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { stringify as yamlStringify } from 'yaml';
import {
  compilePolicy, createEngine, decodeSnapshot, encodeSnapshot, parseConfig, parseConfigText, parseFlow, referenceClassify, safeParseConfig,
  type Config, type FlowInput,
} from '../src/index.js';
import { fieldNames, SHAPES, TENCENT_TEMPLATE_LISTS, type ObjectShape } from '../src/config/fields.js';
import { TENCENT_POLICY_FIELDS, TENCENT_SET_FIELDS } from '../src/config/tencent.js';
import { mulberry32, randomConfig, randomEdits, randomFlows, randomTencentDoc, randomTerraformConfig } from './random.js';
import { fuzzParams, fuzzSeed, fuzzTimeout } from './fuzz/settings.js';
import { expectNoPoisoning } from './fuzz/poisoning.js';
import { WASM } from './fuzz/session.js';

/** Every field name a document, a validated Config or snapshot metadata can have. */
const NAMES: readonly string[] = [...new Set([
  ...(Object.values(SHAPES) as unknown as { kind: string }[]).filter((s) => s.kind === 'object').flatMap((s) => fieldNames(s as unknown as ObjectShape)),
  ...TENCENT_POLICY_FIELDS, ...TENCENT_SET_FIELDS, ...TENCENT_TEMPLATE_LISTS,
  'Response', 'SecurityGroupPolicySet', 'SecurityGroups', 'ServiceId', 'ServiceGroupId', 'AddressId', 'AddressGroupId',
  // The validated Config and snapshot metadata.
  'implicitInstance', 'warnings', 'semantics', 'peer', 'peerGroup', 'peerSet', 'serviceSet', 'ports', 'ruleIndex', 'policyIndex', 'groupId',
  'direction', 'addresses', 'v4', 'v6', 'lo', 'hi', '$n', 'template', 'local', 'icmp', 'protocol', 'action', 'stats', 'config', 'instances',
  'sets', 'services', 'file', 'text', 'format', 'snapshot', 'key', 'op', 'rule', 'group', 'instance', 'at', 'index', 'from', 'to',
])].sort();

/** Values an attacker would set: words the validators know, lists of them, rules, numbers, objects. */
const valueArb = fc.oneof(
  fc.constantFrom('open-all', 'open-common', 'custom', 'accept', 'ALLOW', 'drop', 'ALL', 'TCP', 'any', '0.0.0.0/0', '::/0', 'ping', 'inbound', 'outbound', 'sg-0', 'x', ''),
  fc.constantFrom(['ACCEPT#0.0.0.0/0#ALL#ALL'], ['0.0.0.0/0'], [{ protocol: 'ALL', source: 'any', action: 'accept' }], [{ id: 'sg-evil', template: 'open-all' }], ['sg-0'], []),
  fc.constantFrom(0, 1, 22, -1, true, false, null, { a: 1 }, { Ingress: [{ Protocol: 'ALL', Action: 'ACCEPT', CidrBlock: '0.0.0.0/0' }] }),
);

const FLOWS = (config: Config): FlowInput[] => randomFlows(mulberry32(7), config, 24);

/**
 * What the test feeds a document besides itself (flows, edits): made once, before
 * any pollution, since the test's own generators read fields of their own objects.
 */
interface Inputs {
  flows: FlowInput[];
  edits: unknown[];
}
function inputsOf(doc: unknown): Inputs {
  const r = safeParseConfig(doc);
  return r.success ? { flows: FLOWS(r.config), edits: randomEdits(mulberry32(11), r.config) } : { flows: [], edits: [] };
}

/** What a document means, every way it can be read; JSON text, BigInts as strings. */
async function meaning(doc: unknown, inputs: Inputs): Promise<string> {
  const out: Record<string, unknown> = {};
  let r: ReturnType<typeof safeParseConfig>;
  try {
    r = safeParseConfig(doc);
  } catch (e) {
    return `safeParseConfig threw ${String((e as Error).stack).split('\n').slice(0, 3).join(' | ')}`;
  }
  out.object = r.success ? r.config : r.issues;
  const text = JSON.stringify(doc);
  for (const [how, read] of [['json', () => parseConfigText(text, 'c.json')], ['yaml', () => parseConfigText(yamlStringify(doc), 'c.yaml')]] as const) {
    try {
      out[how] = parseConfig(read());
    } catch (e) {
      out[how] = (e as Error).message;
    }
  }
  if (r.success) {
    const config = r.config;
    const { flows, edits } = inputs;
    const step = async (name: string, f: () => unknown) => {
      try {
        out[name] = await f();
      } catch (e) {
        out[name] = `threw ${(e as Error).message}`;
      }
    };
    await step('reference', () => flows.map((f) => referenceClassify(config, parseFlow(f))));
    const engine = await createEngine(config, { wasm: WASM } as never);
    await step('engine', () => flows.map((f) => engine.classify(f)));
    await step('snapshot', () => decodeSnapshot(encodeSnapshot(compilePolicy(config), config, 1)).config);
    await step('adopted', () => parseConfig(structuredClone(config)));
    await step('updated', async () => {
      await engine.update(edits as never);
      return [engine.config, flows.map((f) => engine.classify(f))];
    });
  }
  return JSON.stringify(out, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

/** A document of one of the formats: native (with templates, sets), Tencent, Terraform lite, AWS. */
function documentOf(seed: number, kind: number): unknown {
  const r = mulberry32(seed);
  switch (kind % 5) {
    case 0: return randomConfig(r, 5);
    case 1: return randomTencentDoc(r);
    case 2: return randomTerraformConfig(r);
    case 3: return {
      addressSets: [{ id: 'office', addresses: ['10.0.0.0/8', '2001:db8::/32'] }],
      serviceSets: [{ id: 'web', services: ['tcp:80,443'] }],
      securityGroups: [{ id: 'sg-0', inbound: [{ protocol: 'TCP', port: 22, source: 'office', action: 'accept' }, { service: 'web', source: 'sg-1', action: 'accept' }] }, { id: 'sg-1', description: 'peers' }],
      instances: [{ id: 'i-0', securityGroups: ['sg-0', 'sg-1'], addresses: ['10.1.2.3'] }],
    };
    default: return {
      SecurityGroups: [{
        GroupId: 'sg-0a', GroupName: 'web', Description: 'web',
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.0.0.0/8' }], Ipv6Ranges: [], UserIdGroupPairs: [], PrefixListIds: [] }],
        IpPermissionsEgress: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }],
    };
  }
}

/** Which ways of reading differ (and how the first begins), for the failure message. */
function differs(clean: string, polluted: string): string {
  if (!polluted.startsWith('{')) return polluted.slice(0, 300);
  const a = JSON.parse(clean) as Record<string, unknown>;
  const b = JSON.parse(polluted) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  const first = keys[0];
  if (first === undefined) return 'the same';
  const x = JSON.stringify(a[first]) ?? '';
  const y = JSON.stringify(b[first]) ?? '';
  let i = 0;
  while (i < x.length && x[i] === y[i]) i++;
  return `${keys.join(', ')} differ; ${first}: ${x.slice(Math.max(0, i - 60), i + 80)} became ${y.slice(Math.max(0, i - 60), i + 80)}`;
}

function pollute(entries: [string, unknown][], enumerable: boolean): () => void {
  const set: string[] = [];
  for (const [name, value] of entries) {
    if (Object.hasOwn(Object.prototype, name)) continue;
    Object.defineProperty(Object.prototype, name, { value, writable: true, configurable: true, enumerable });
    set.push(name);
  }
  return () => {
    for (const name of set) delete (Object.prototype as Record<string, unknown>)[name];
  };
}

afterEach(() => expectNoPoisoning());

describe('a polluted Object.prototype changes no config', () => {
  test.prop(
    [fc.nat(), fc.nat(), fc.array(fc.tuple(fc.constantFrom(...NAMES), valueArb), { minLength: 1, maxLength: 4 }), fc.boolean()],
    fuzzParams('config: Object.prototype pollution changes nothing', 50),
  )('every field name, alone or with others, any value: the same parse, verdicts, snapshot and edits', async (seed, kind, entries, enumerable) => {
    const doc = documentOf(seed, kind);
    const inputs = inputsOf(doc);
    const clean = await meaning(doc, inputs);
    const restore = pollute(entries, enumerable);
    let polluted: string;
    try {
      polluted = await meaning(doc, inputs);
    } finally {
      restore();
    }
    expect(polluted).toBe(clean);
  }, fuzzTimeout(120_000));

  it('each field name alone, in every format (assigned, as an attacker would), with generated values', async () => {
    const values = fc.sample(valueArb, { seed: fuzzSeed('config: each field name on Object.prototype'), numRuns: NAMES.length * 5 });
    const failures: string[] = [];
    for (let kind = 0; kind < 5; kind++) {
      const doc = documentOf(kind * 7919 + 1, kind);
      const inputs = inputsOf(doc);
    const clean = await meaning(doc, inputs);
      for (const [i, name] of NAMES.entries()) {
        const value = values[kind * NAMES.length + i];
        const restore = pollute([[name, value]], true);
        let polluted: string;
        try {
          polluted = await meaning(doc, inputs);
        } finally {
          restore();
        }
        if (polluted !== clean) failures.push(`document kind ${kind}: Object.prototype.${name} = ${JSON.stringify(value)}: ${differs(clean, polluted)}`);
      }
    }
    expect(failures).toEqual([]);
  }, fuzzTimeout(120_000));

  it('options not given read as their defaults, whatever Object.prototype holds (compile, engine)', async () => {
    const config = parseConfig(randomConfig(mulberry32(3), 8));
    const flows = FLOWS(config);
    const clean = (await createEngine(config, { wasm: WASM } as never)).snapshot();
    for (const [name, value] of [['maxTableBytes', 1], ['mergeMaxOrders', 0], ['partitionMinBytes', 0], ['expectedVersion', 99], ['windowFlows', 1]] as const) {
      const restore = pollute([[name, value]], true);
      try {
        const engine = await createEngine(config, { wasm: WASM } as never);
        expect(engine.snapshot(), name).toEqual(clean);
        expect(flows.map((f) => engine.classify(f).action)).toEqual(flows.map((f) => referenceClassify(config, parseFlow(f)).action));
        expect(compilePolicy(config).stats).toEqual(compilePolicy(config, {}).stats);
        expect(await engine.reload(config)).toBe(2);
      } finally {
        restore();
      }
    }
  });
});
