/**
 * The `sgfilter` CLI, run as users run it: `node dist/src/cli.js ...` (built by the
 * pretest script), checked for exit codes, stdout and stderr.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, parseConfigText, safeParseConfig } from '../src/config/parse.js';
import { formatPath } from '../src/errors.js';
import { parseFlow } from '../src/flow.js';
import { referenceClassify } from '../src/reference.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cliPath = join(root, 'dist', 'src', 'cli.js');
const seedConfig = join(root, 'examples', 'seed-scenarios.yaml');
const seedFlows = join(root, 'examples', 'flows.jsonl');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], input?: string): Run {
  const r = spawnSync(process.execPath, [cliPath, ...args], { cwd: root, input, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tmp: string;
const tmpFile = (name: string, text: string): string => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

const nonBlankLines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');

beforeAll(() => {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (npm test does it)`);
  tmp = mkdtempSync(join(tmpdir(), 'sgfilter-cli-'));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('sgfilter check', () => {
  it('summarizes a valid config and exits 0', () => {
    const r = cli(['check', 'examples/seed-scenarios.yaml']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('valid');
    expect(r.stdout).toContain('12 security groups');
    expect(r.stdout).toMatch(/sg-5-web .*inbound 2 rules, outbound 0 rules/);
    expect(r.stdout).toMatch(/sg-9-open-all .*inbound 2 rules \(2 from template open-all\), outbound 3 rules \(2 from template open-all\)/);
    expect(r.stdout).toContain('ins-multi: sg-a > sg-b');
    expect(r.stdout).toContain('ins-multi-swapped: sg-b > sg-a');
    expect(r.stdout).toContain('no warnings');
  });

  it('prints warnings of a valid config', () => {
    const path = tmpFile('warn.yaml', 'securityGroups:\n  - id: sg-w\n    inbound:\n      - { protocol: ICMP, source: "::/0", action: accept }\n');
    const r = cli(['check', path]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('1 instance (implicit): default');
    expect(r.stdout).toMatch(/1 warning:\n {2}securityGroups\[0\]\.inbound\[0\]: .*can never match/);
  });

  it('reports every issue of an invalid config with code and path, exit 1', () => {
    const text = [
      'securityGroups:',
      '  - id: sg-bad',
      '    inbound:',
      '      - { protocol: TCP, port: 22, source: 0.0.0.0/0, action: accept }',
      '      - { protocol: TCP, port: 70000, source: 0.0.0.0/0, action: accept }',
      '      - { protocol: TCP, port: "21-20", source: 0.0.0.0/0, action: accept }',
      '      - { protocol: ICMP, port: 22, source: 0.0.0.0/0, action: accept }',
      '      - { protocol: TCP, port: 22, source: 10.0.0.1/8, action: accept }',
      '      - {}',
      '      - { protocol: FOO, source: 0.0.0.0/0, action: accept }',
      '  - id: sg-bad',
      'instances:',
      '  - { id: ins-1, securityGroups: [sg-nope] }',
      '',
    ].join('\n');
    const path = tmpFile('bad.yaml', text);
    const r = cli(['check', path]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const expected: [string, string][] = [
      ['PORT_OUT_OF_RANGE', 'securityGroups[0].inbound[1].port'],
      ['REVERSED_RANGE', 'securityGroups[0].inbound[2].port'],
      ['PORT_NOT_ALLOWED', 'securityGroups[0].inbound[3].port'],
      ['HOST_BITS_SET', 'securityGroups[0].inbound[4].source'],
      ['EMPTY_RULE', 'securityGroups[0].inbound[5]'],
      ['UNKNOWN_PROTOCOL', 'securityGroups[0].inbound[6].protocol'],
      ['DUPLICATE_GROUP', 'securityGroups[1].id'],
      ['UNKNOWN_GROUP', 'instances[0].securityGroups[0]'],
    ];
    for (const [code, p] of expected) expect(r.stderr).toContain(`${code} at ${p}:`);
    // And every issue the library finds, with its message.
    const result = safeParseConfig(parseConfigText(text, 'bad.yaml'));
    expect(result.success).toBe(false);
    if (!result.success) {
      expect(r.stderr).toContain(`${result.issues.length} issues`);
      for (const issue of result.issues) expect(r.stderr).toContain(`${issue.code} at ${formatPath(issue.path)}: ${issue.message}`);
    }
    expect(r.stderr).toContain('10.0.0.0/8'); // says which network was meant
  });

  it('exits 1 with a clear message on an unreadable or unparsable file', () => {
    const missing = cli(['check', join(tmp, 'does-not-exist.yaml')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^error: .*does-not-exist\.yaml does not exist\n$/);
    const broken = cli(['check', tmpFile('broken.json', '{"securityGroups": [')]);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toMatch(/broken\.json: not valid JSON/);
  });
});

describe('sgfilter eval', () => {
  const config = parseConfig(parseConfigText(readFileSync(seedConfig, 'utf8'), seedConfig));
  const flowLines = nonBlankLines(readFileSync(seedFlows, 'utf8'));
  const expected = flowLines.map((l) => referenceClassify(config, parseFlow(JSON.parse(l))));

  it('prints one verdict per flow, equal to the reference matcher', () => {
    const r = cli(['eval', 'examples/seed-scenarios.yaml', 'examples/flows.jsonl']);
    expect(r.status).toBe(0);
    const out = nonBlankLines(r.stdout);
    expect(out).toHaveLength(flowLines.length);
    expect(out.map((l) => JSON.parse(l))).toEqual(expected);
    expect(out[0]).toBe('{"action":"accept","groupId":"sg-1-linux-login","ruleIndex":0}');
  });

  it('gives the SPEC §5 verdicts for the seed scenarios', () => {
    // A = accepted, D = dropped, line by line in examples/flows.jsonl.
    const want = 'AADD AD ADD AD AADDD AD AAD AAD AAADD AAD DA'.replace(/ /g, '');
    const r = cli(['eval', 'examples/seed-scenarios.yaml', 'examples/flows.jsonl']);
    const got = nonBlankLines(r.stdout).map((l) => ((JSON.parse(l) as { action: string }).action === 'accept' ? 'A' : 'D')).join('');
    expect(got).toBe(want);
  });

  it('reads flows from stdin with -, and --summary counts to stderr', () => {
    const input = flowLines.slice(0, 4).join('\n') + '\n\n';
    const r = cli(['eval', 'examples/seed-scenarios.yaml', '-', '--summary'], input);
    expect(r.status).toBe(0);
    expect(nonBlankLines(r.stdout).map((l) => JSON.parse(l))).toEqual(expected.slice(0, 4));
    expect(r.stderr).toContain('4 flows: 2 accepted, 2 dropped');
  });

  it('refuses a malformed line 3 without printing any verdict', () => {
    const lines = [flowLines[0], flowLines[1], '{"direction":"inbound","protocol":"TCP","port":', flowLines[2]];
    const path = tmpFile('bad-json.jsonl', lines.join('\n') + '\n');
    const r = cli(['eval', 'examples/seed-scenarios.yaml', path]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/bad-json\.jsonl line 3, column 48: not valid JSON: value expected/);
  });

  it('refuses an invalid flow, naming its line and field', () => {
    const lines = [flowLines[0], '', '{"direction":"inbound","protocol":"TCP","port":70000,"remote":"10.0.0.1"}'];
    const r = cli(['eval', 'examples/seed-scenarios.yaml', tmpFile('bad-flow.jsonl', lines.join('\n'))]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/line 3: .*port.*70000/);
  });

  it('refuses an unknown instance, naming its line', () => {
    const lines = [flowLines[0], '{"instance":"ins-nope","direction":"inbound","protocol":"TCP","port":22,"remote":"10.0.0.1"}'];
    const r = cli(['eval', 'examples/seed-scenarios.yaml', tmpFile('bad-instance.jsonl', lines.join('\n'))]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/line 2: unknown instance "ins-nope"/);
  });

  it('exits 1 on an invalid config', () => {
    const path = tmpFile('bad-eval.yaml', 'securityGroups:\n  - id: sg\n    inbound:\n      - { protocol: TCP, port: 99999, source: 0.0.0.0/0, action: accept }\n');
    const r = cli(['eval', path, 'examples/flows.jsonl']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('securityGroups[0].inbound[0].port');
  });
});

describe('sgfilter explain', () => {
  it('names the deciding rule and why earlier rules did not match', () => {
    const flow = '{"instance":"ins-7","direction":"inbound","protocol":"TCP","port":1103,"remote":"192.0.2.71"}';
    const r = cli(['explain', 'examples/seed-scenarios.yaml', '--flow', flow]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('instance ins-7');
    expect(r.stdout).toMatch(/group sg-7-drop-1102 inbound rule 0 \(TCP port 1102 from 0\.0\.0\.0\/0\).*: no match — port: 1103/);
    expect(r.stdout).toMatch(/group sg-7-drop-1102 inbound rule 1 .*MATCH → accept/);
    expect(r.stdout).toContain('verdict: accept — decided by group sg-7-drop-1102 inbound rule 1');
    expect(r.stderr).toBe('');
  });

  it('says when no rule matched and the default drop applies', () => {
    const flow = '{"instance":"ins-5","direction":"outbound","protocol":"TCP","port":443,"remote":"192.0.2.50"}';
    const r = cli(['explain', 'examples/seed-scenarios.yaml', '--flow', flow]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/verdict: drop — no rule matched/);
  });

  it('shows group priority: the first group decides', () => {
    const flow = '{"instance":"ins-multi","direction":"inbound","protocol":"TCP","port":22,"remote":"198.51.100.99"}';
    const r = cli(['explain', 'examples/seed-scenarios.yaml', '--flow', flow]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('sg-a > sg-b');
    expect(r.stdout).toContain('verdict: drop — decided by group sg-a inbound rule 0');
  });

  it('exits 1 on invalid --flow JSON or flow, 2 without --flow', () => {
    const badJson = cli(['explain', 'examples/seed-scenarios.yaml', '--flow', '{nope']);
    expect(badJson.status).toBe(1);
    expect(badJson.stderr).toContain('--flow: not valid JSON');
    const badFlow = cli(['explain', 'examples/seed-scenarios.yaml', '--flow', '{"direction":"sideways","protocol":"TCP","port":1,"remote":"10.0.0.1"}']);
    expect(badFlow.status).toBe(1);
    expect(badFlow.stderr).toContain('direction');
    const unknown = cli(['explain', 'examples/seed-scenarios.yaml', '--flow', '{"instance":"x","direction":"inbound","protocol":"ICMP","remote":"10.0.0.1"}']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('unknown instance "x"');
    const missing = cli(['explain', 'examples/seed-scenarios.yaml']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('--flow');
  });
});

describe('several files make one policy (SPEC §9)', () => {
  const T = 'test/fixtures/tencent';
  it('check, eval and explain take the policy beside its template outputs; issues name their file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sgfilter-sets-'));
    const policy = join(dir, 'policies.json');
    writeFileSync(policy, JSON.stringify({ Response: { SecurityGroupPolicySet: { Ingress: [
      { PolicyIndex: 1, Protocol: 'ALL', CidrBlock: '0.0.0.0/0', Action: 'DROP' },
      { PolicyIndex: 0, ServiceTemplate: { ServiceId: 'ppm-bu8cir16' }, AddressTemplate: { AddressGroupId: 'ipmg-ivrc58q8' }, Action: 'ACCEPT' },
    ], Egress: [] } } }));
    const templates = ['vpc-DescribeAddressTemplates.json', 'vpc-DescribeAddressTemplateGroups.json', 'vpc-DescribeServiceTemplates.json'].map((f) => `${T}/${f}`);
    const check = cli(['check', policy, ...templates]);
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toContain('2 address sets');
    expect(check.stdout).toContain('192.128.0.0/17');
    expect(check.stdout).toContain('disagrees with PolicyIndex');
    const flows = join(dir, 'flows.jsonl');
    writeFileSync(flows, '{"direction":"inbound","protocol":"tcp","port":8080,"remote":"192.168.1.1"}\n{"direction":"inbound","protocol":"tcp","port":8081,"remote":"192.168.1.1"}\n');
    const ev = cli(['eval', policy, ...templates, flows]);
    expect(ev.status, ev.stderr).toBe(0);
    expect(ev.stdout.trim().split('\n').map((l) => JSON.parse(l).action)).toEqual(['accept', 'drop']);
    const ex = cli(['explain', policy, ...templates, '--flow', '{"direction":"inbound","protocol":"udp","port":99,"remote":"192.168.1.1"}']);
    expect(ex.status, ex.stderr).toBe(0);
    expect(ex.stdout).toContain('PolicyIndex 0');
    const missing = cli(['check', policy, templates[0]!]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`UNDEFINED_TEMPLATE at ${policy}: Response.SecurityGroupPolicySet.Ingress[1].AddressTemplate.AddressGroupId`);
    const twice = cli(['check', policy, ...templates, templates[0]!]);
    expect(twice.status).toBe(1);
    expect(twice.stderr).toContain('DUPLICATE_SET');
  });
});

describe('usage errors', () => {
  it.each([
    [['frobnicate']],
    [['check']],
    [['explain']],
    [['eval', 'examples/seed-scenarios.yaml']],
    [['eval', '--no-such-option', 'a', 'b']],
    [[]],
  ])('sgfilter %j exits 2', (args) => {
    const r = cli(args);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toBe('');
  });

  it('--help and --version exit 0', () => {
    const help = cli(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('explain');
    const version = cli(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('sgfilter demo', () => {
  it('prints the verdict table, per-rule hit counts and totals', () => {
    const r = spawnSync(process.execPath, [cliPath, 'demo'], { cwd: tmpdir(), encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/ins-7 inbound TCP 1102 from 192\.0\.2\.71 +drop +sg-7-drop-1102 inbound #0/);
    expect(r.stdout).toMatch(/ins-multi-swapped inbound TCP 22 from 198\.51\.100\.99 +accept +sg-b inbound #0/);
    expect(r.stdout).toContain('rule hits:');
    expect(r.stdout).toMatch(/sg-7-drop-1102 +inbound +1 +accept +everything else from IPv4 +2/);
    expect(r.stdout).toMatch(/sg-9-open-all +inbound +1 +accept +open-all: all IPv6 +0/);
    expect(r.stdout).toMatch(/default drop: no rule matched +11/);
    expect(r.stdout).toContain('totals: 34 flows, 18 accepted, 16 dropped');
  });
});

describe('sgfilter compile', () => {
  it('writes the compiled-policy snapshot, which loads and classifies as the config does', async () => {
    const out = join(tmp, 'policy.bin');
    const r = cli(['compile', seedConfig, '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/policy\.bin: [\d,]+ bytes \(snapshot format 2, unsigned, table [\d,]+ bytes\), 12 security groups, 12 instances, compiled in [\d.]+ ms/);
    const { createEngine } = await import('../src/index.js');
    const engine = await createEngine({ snapshot: readFileSync(out) });
    const config = parseConfig(parseConfigText(readFileSync(seedConfig, 'utf8'), seedConfig));
    expect(engine.config).toEqual(config);
    for (const line of nonBlankLines(readFileSync(seedFlows, 'utf8'))) {
      const flow = parseFlow(JSON.parse(line));
      expect(engine.classify(flow)).toEqual(referenceClassify(config, flow));
    }
  });

  it('exits 1 on an invalid config without writing anything, 2 without -o', () => {
    const out = join(tmp, 'never.bin');
    const bad = tmpFile('bad-compile.yaml', 'securityGroups:\n  - id: sg\n    inbound:\n      - { protocol: TCP, port: 70000, source: any, action: accept }\n');
    const r = cli(['compile', bad, '-o', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/PORT_OUT_OF_RANGE at securityGroups\[0\]\.inbound\[0\]\.port/);
    expect(existsSync(out)).toBe(false);
    expect(cli(['compile', seedConfig]).status).toBe(2);
  });
});
