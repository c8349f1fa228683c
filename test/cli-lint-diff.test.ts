// `sgfilter lint` and `sgfilter diff` as users run them: exit codes for CI, text and
// JSON, and every printed witness fed back to `sgfilter eval` gets the verdict the
// finding or change says.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowInput, LintReport, PolicyDiff, Verdict } from '../src/index.js';
import { cli, nonBlankLines, requireBuild } from './cli-run.js';

let dir: string;
let oldPath: string;
let newPath: string;
let quietPath: string;

const OLD = `securityGroups:
  - id: sg-web
    inbound:
      - { protocol: TCP, port: "80,443", source: 0.0.0.0/0, action: accept }
      - { protocol: TCP, port: 22, source: 10.0.0.0/8, action: accept }
      - { protocol: TCP, port: 22, source: 10.1.0.0/16, action: drop }
      - { protocol: TCP, port: 22, source: 10.0.0.0/8, action: accept }
    outbound:
      - { protocol: ALL, destination: 0.0.0.0/0, action: accept }
instances:
  - { id: ins-1, securityGroups: [sg-web] }
`;
const NEW = OLD.replace('- { protocol: TCP, port: 22, source: 10.0.0.0/8, action: accept }\n      - { protocol: TCP, port: 22, source: 10.1.0.0/16, action: drop }', '- { protocol: TCP, port: 22, source: 0.0.0.0/0, action: accept }\n      - { protocol: TCP, port: 22, source: 10.1.0.0/16, action: drop }').replace('"80,443"', '443');
const QUIET = `securityGroups:
  - id: sg
    inbound:
      - { protocol: TCP, port: 22, source: 10.0.0.0/8, action: accept }
      - { protocol: TCP, port: 22, source: 10.1.0.0/16, action: drop }
`;

beforeAll(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'sgfilter-lint-'));
  oldPath = join(dir, 'old.yaml');
  newPath = join(dir, 'new.yaml');
  quietPath = join(dir, 'quiet.yaml');
  writeFileSync(oldPath, OLD);
  writeFileSync(newPath, NEW);
  writeFileSync(quietPath, QUIET);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What `sgfilter eval` says of each flow (the config: one file, or the files that make one policy). */
function evalFlows(config: string | string[], flows: FlowInput[]): Verdict[] {
  const r = cli(['eval', ...[config].flat(), '-'], { input: flows.map((f) => JSON.stringify(f)).join('\n') + '\n' });
  expect(r.status, r.stderr).toBe(0);
  return nonBlankLines(r.stdout).map((l) => JSON.parse(l) as Verdict);
}

describe('sgfilter lint', () => {
  it('prints findings with witnesses, and exits 1 on a finding at or above --fail-on', () => {
    expect(cli(['lint', oldPath]).status).toBe(0); // without --fail-on, findings alone never fail
    const r = cli(['lint', oldPath, '--fail-on', 'error']);
    expect(r.status).toBe(1); // rule 3 duplicates rule 1
    expect(r.stdout).toMatch(/error {3}duplicate: group "sg-web" inbound rule 3 duplicates rule 1/);
    expect(r.stdout).toMatch(/warning shadowed: group "sg-web" inbound rule 2 is shadowed: .* by rule 1/);
    expect(r.stdout).toMatch(/witness: \{"direction":"inbound","protocol":"TCP","port":22,"remote":"10\.1\.0\.0","instance":"ins-1"\} → accept \(sg-web inbound rule 1\)/);
    expect(r.stderr).toMatch(/at or above --fail-on error/);
    expect(cli(['lint', oldPath, '--fail-on', 'none']).status).toBe(0);
    const q = cli(['lint', quietPath, '--fail-on', 'error']);
    expect(q.status, q.stderr).toBe(0);
    expect(q.stdout).toMatch(/shadowed/);
    expect(cli(['lint', quietPath, '--fail-on', 'warning']).status).toBe(1);
    expect(cli(['lint', quietPath, '--fail-on', 'info']).status).toBe(1);
  });

  it('--json gives the LintReport, and every witness classifies as its finding says', () => {
    const r = cli(['lint', newPath, '--json', '--fail-on', 'none', '--admin-ports', '+443']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as LintReport;
    expect(report.findings.map((f) => f.kind)).toEqual(expect.arrayContaining(['exposure', 'shadowed']));
    expect(report.findings.find((f) => f.kind === 'exposure' && f.rule!.ruleIndex === 0)!.ports).toEqual([{ lo: 443, hi: 443 }]);
    const witnessed = report.findings.filter((f) => f.witness);
    expect(evalFlows(newPath, witnessed.map((f) => f.witness!))).toEqual(witnessed.map((f) => f.verdict));
  });

  it('checks the profile limits and refuses bad options', () => {
    const many = join(dir, 'many.json');
    writeFileSync(many, JSON.stringify({ securityGroups: [{ id: 'g', inbound: Array.from({ length: 61 }, (_, i) => ({ protocol: 'TCP', port: 1000 + i, source: '10.0.0.0/8', action: 'accept' })) }] }));
    expect(cli(['lint', many, '--fail-on', 'error']).status).toBe(0); // 61 ≤ 100 (Tencent)
    const aws = cli(['lint', many, '--profile', 'aws', '--fail-on', 'error']);
    expect(aws.status).toBe(1);
    expect(aws.stdout).toMatch(/rule-limit: group "g" has 61 IPv4 inbound rules; AWS allows 60/);
    expect(cli(['lint', many, '--max-rules', '50', '--fail-on', 'error']).status).toBe(1);
    expect(cli(['lint', many, '--max-rules', '50']).status).toBe(0);
    expect(cli(['lint', many, '--profile', 'azure']).status).toBe(2);
    expect(cli(['lint', many, '--max-work', '0']).status).toBe(2);
    // A bad --admin-ports value is a usage error (exit 2), like every other bad option value.
    for (const v of ['70000', '99999', '+', '', '8080-80', 'constructor', '22,,23']) {
      const bad = cli(['lint', many, '--admin-ports', v]);
      expect(bad.status, v).toBe(2);
      expect(bad.stderr, v).toContain(`--admin-ports takes a port list`);
      expect(bad.stdout, v).toBe('');
    }
    expect(cli(['lint', many, '--admin-ports', '+8080']).status).toBe(0);
  });
});

describe('sgfilter diff', () => {
  it('lists the changed flows with deciders and witnesses; --fail-on-open exits 1 when the world gets in', () => {
    const r = cli(['diff', oldPath, newPath]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/2 boxes of flows change verdict \(1 opened, 1 closed\)/);
    expect(r.stdout).toMatch(/OPENED — open to every address: TCP port 22 from 0\.0\.0\.0-9\.255\.255\.255, 11\.0\.0\.0-255\.255\.255\.255/);
    expect(r.stdout).toMatch(/was drop \(default\), now accept \(sg-web inbound rule 1\)/);
    expect(r.stdout).toMatch(/CLOSED: TCP port 80 from 0\.0\.0\.0\/0/);
    const f = cli(['diff', oldPath, newPath, '--fail-on-open']);
    expect(f.status).toBe(1);
    expect(f.stderr).toMatch(/1 box of flows from 0\.0\.0\.0\/0 or ::\/0 go from drop to accept/);
    expect(cli(['diff', newPath, oldPath, '--fail-on-open']).status).toBe(1); // the reverse opens TCP 80 to the world again
    expect(cli(['diff', oldPath, quietPath, '--fail-on-open']).status).toBe(0); // only closes
    const same = cli(['diff', oldPath, oldPath]);
    expect(same.status).toBe(0);
    expect(same.stdout).toMatch(/no flow changes verdict/);
  });

  it('--json gives the PolicyDiff, and each witness gets the old verdict from OLD and the new one from NEW', () => {
    const r = cli(['diff', oldPath, newPath, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as PolicyDiff;
    expect(d.changes).toHaveLength(2);
    const witnesses = d.changes.map((c) => c.witness);
    expect(evalFlows(oldPath, witnesses)).toEqual(d.changes.map((c) => c.old));
    expect(evalFlows(newPath, witnesses)).toEqual(d.changes.map((c) => c.new));
  });

  it('refuses past its limits with the coded error, and a bad config', () => {
    const r = cli(['diff', oldPath, newPath, '--max-work', '5']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/diffPolicies: the analysis needs more than 5 units/);
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'securityGroups:\n  - id: g\n    inbound:\n      - { protocol: TCP, port: 70000, source: any, action: accept }\n');
    expect(cli(['diff', oldPath, broken]).status).toBe(1);
  });
});

// A real-shaped Tencent policy (PolicyIndex out of array order, a rule naming a service
// template and an address template group) beside the four real template outputs Tencent
// documents; the next version closes SSH to the world and opens MySQL to it.
const T = 'test/fixtures/tencent';
const TEMPLATES = ['vpc-DescribeAddressTemplates.json', 'vpc-DescribeAddressTemplateGroups.json', 'vpc-DescribeServiceTemplates.json', 'vpc-DescribeServiceTemplateGroups.json'].map((f) => `${T}/${f}`);
const TENCENT = [`${T}/sg-web-policies.json`, ...TEMPLATES];
const TENCENT_NEXT = [`${T}/sg-web-policies-next.json`, ...TEMPLATES];

describe('sgfilter lint and diff on a Tencent policy with its template files', () => {
  it('lint reads the policy and its templates as one policy: the template rule shadows a later one, SSH is open to the world', () => {
    const r = cli(['lint', ...TENCENT, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as LintReport;
    // PolicyIndex order: rule 0 (templates), 1 (ssh), 2 (the lab drop on 8080), 3 (deny the rest).
    expect(report.findings.map((f) => [f.kind, f.rule?.ruleIndex])).toEqual([['exposure', 1], ['shadowed', 2], ['redundant', 3]]);
    expect(report.findings[1]!.decidedBy).toEqual([{ groupId: 'tencent', direction: 'inbound', ruleIndex: 0 }]);
    const witnessed = report.findings.filter((f) => f.witness);
    expect(evalFlows(TENCENT, witnessed.map((f) => f.witness!))).toEqual(witnessed.map((f) => f.verdict));
    expect(cli(['lint', ...TENCENT, '--fail-on', 'warning']).status).toBe(1);
    // Without the template files, the rule naming them is refused, by id.
    const alone = cli(['lint', TENCENT[0]!]);
    expect(alone.status).toBe(1);
    expect(alone.stderr).toMatch(/UNDEFINED_TEMPLATE.*ppm-bu8cir16/);
  });

  it('diff --old FILE... --new FILE...: each side several files; witnesses classify as the boxes say on each side', () => {
    const r = cli(['diff', '--old', ...TENCENT, '--new', ...TENCENT_NEXT, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as PolicyDiff;
    expect(d.changes.map((c) => [c.change, c.flows.protocol, c.flows.port, c.openToWorld])).toEqual([['closed', 'TCP', '22', false], ['opened', 'TCP', '3306', true]]);
    const witnesses = d.changes.map((c) => c.witness);
    expect(evalFlows(TENCENT, witnesses)).toEqual(d.changes.map((c) => c.old));
    expect(evalFlows(TENCENT_NEXT, witnesses)).toEqual(d.changes.map((c) => c.new));
    const text = cli(['diff', '--old', ...TENCENT, '--new', ...TENCENT_NEXT, '--fail-on-open']);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain(`${TENCENT.join(' + ')} → ${TENCENT_NEXT.join(' + ')}: 2 boxes`);
    expect(text.stdout).toMatch(/OPENED — open to every address: TCP port 3306 from 0\.0\.0\.0\/0/);
    // --new before --old, and a side of one file, read the same.
    const swapped = cli(['diff', '--new', ...TENCENT_NEXT, '--old', ...TENCENT, '--json']);
    expect(JSON.parse(swapped.stdout).changes).toEqual(d.changes);
    expect(cli(['diff', '--old', ...TENCENT, '--new', ...TENCENT]).stdout).toMatch(/no flow changes verdict/);
  });

  it('refuses a mix of OLD NEW and --old/--new, one side without the other, or one policy: usage errors (exit 2)', () => {
    for (const args of [[TENCENT[0]!, '--old', ...TENCENT, '--new', ...TENCENT_NEXT], ['--old', ...TENCENT], ['--new', ...TENCENT], [TENCENT[0]!], []]) {
      const r = cli(['diff', ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/give OLD NEW \(one file each\), or --old FILE\.\.\. --new FILE\.\.\./);
    }
  });
});

describe('sgfilter diff text output of set-heavy policies', () => {
  it('names a box peer that is exactly an address set, cuts other long address lists, and --json stays exact', () => {
    const addresses = Array.from({ length: 1000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/28`);
    const base = { addressSets: [{ id: 'block', addresses }], securityGroups: [{ id: 'g', inbound: [{ protocol: 'tcp', port: 22, source: '10.0.0.0/8', action: 'accept' }] }] };
    const next = structuredClone(base) as any;
    next.securityGroups[0].inbound.unshift({ protocol: 'tcp', port: 80, source: 'block', action: 'accept' });
    // Port 443 from the set except its first range: not the set, a long list.
    next.securityGroups[0].inbound.unshift({ protocol: 'tcp', port: 443, source: '10.0.0.0/28', action: 'drop' }, { protocol: 'tcp', port: 443, source: 'block', action: 'accept' });
    const o = join(dir, 'set-old.json');
    const n = join(dir, 'set-new.json');
    writeFileSync(o, JSON.stringify(base));
    writeFileSync(n, JSON.stringify(next));
    const text = cli(['diff', o, n]);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain('OPENED: TCP port 80 from address set block (1000 ranges)');
    expect(text.stdout).toMatch(/OPENED: TCP port 443 from 10\.0\.1\.0\/28, 10\.0\.2\.0\/28, 10\.0\.3\.0\/28, 10\.0\.4\.0\/28, 10\.0\.5\.0\/28 … 994 more \(--json lists them all\)/);
    expect(text.stdout.length).toBeLessThan(2000);
    const json = cli(['diff', o, n, '--json']);
    const d = JSON.parse(json.stdout) as PolicyDiff;
    const p80 = d.changes.find((c) => c.flows.port === '80')!;
    expect(p80.flows.remote).toEqual(addresses);
    expect(d.changes.find((c) => c.flows.port === '443')!.flows.remote).toEqual(addresses.slice(1));
  });
});
