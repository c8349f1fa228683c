// engine.update: transactional edits of the published policy (issue #4).
import { describe, expect, it } from 'vitest';
import {
  createEngine, parseFlow, referenceClassify, type Config, type ConfigInput, type Engine, type FlowInput,
  type PolicyChange, type PolicyTransaction, type SgfilterError,
} from '../src/index.js';
import { mulberry32, pick, randomConfig, randomFlows } from './random.js';

const ssh = (remote = '198.51.100.7', instance?: string): FlowInput => ({ direction: 'inbound', protocol: 'TCP', port: 22, remote, ...(instance ? { instance } : {}) });
const http = (instance?: string): FlowInput => ({ direction: 'inbound', protocol: 'TCP', port: 80, remote: '198.51.100.7', ...(instance ? { instance } : {}) });

const base = (): ConfigInput => ({
  securityGroups: [
    {
      id: 'sg-web',
      template: 'open-all',
      inbound: [
        { protocol: 'TCP', port: '80,443', source: '0.0.0.0/0', action: 'accept' },
        { protocol: 'TCP', port: 22, source: '203.0.113.0/24', action: 'accept' },
      ],
      outbound: [{ protocol: 'ALL', destination: '192.0.2.66', action: 'drop' }],
    },
    { id: 'sg-deny', inbound: [{ protocol: 'ALL', source: '203.0.113.7', action: 'drop' }] },
  ],
  instances: [{ id: 'web-1', securityGroups: ['sg-deny', 'sg-web'] }],
});

/** The engine agrees with the reference matcher on its own config, for these flows. */
function agrees(engine: Engine, flows: FlowInput[]): void {
  for (const f of flows) expect(engine.classify(f)).toEqual(referenceClassify(engine.config, parseFlow(f)));
}

const rulesOf = (c: Config, gid: string, dir: 'inbound' | 'outbound' = 'inbound') =>
  c.securityGroups.find((g) => g.id === gid)![dir].map((r) => ({ i: r.ruleIndex, port: r.text.port, peer: r.text.peer, action: r.action, template: r.template }));

async function refused(engine: Engine, p: Promise<unknown>): Promise<SgfilterError> {
  const version = engine.version;
  const config = engine.config;
  const err = (await p.catch((e) => e)) as SgfilterError;
  expect(err).toBeInstanceOf(Error);
  expect(engine.version).toBe(version);
  expect(engine.config).toBe(config);
  return err;
}

describe('update: rules', () => {
  it('adds a rule at the end of the written rules, before the template tail, and at a position', async () => {
    const engine = await createEngine(base());
    expect(await engine.update((tx) => tx.addRule('sg-web', 'inbound', { protocol: 'TCP', port: 8080, source: 'any', action: 'drop' }))).toBe(2);
    expect(rulesOf(engine.config, 'sg-web').map((r) => [r.i, r.port, r.template])).toEqual([
      [0, '80,443', undefined], [1, '22', undefined], [2, '8080', undefined], [3, 'ALL', 'open-all'], [4, 'ALL', 'open-all'],
    ]);
    // A Terraform lite string, at the top.
    await engine.update((tx) => tx.addRule('sg-web', 'inbound', 'DROP#198.51.100.0/24#22#TCP', 0));
    expect(rulesOf(engine.config, 'sg-web').map((r) => r.i)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rulesOf(engine.config, 'sg-web')[0]).toMatchObject({ port: '22', peer: '198.51.100.0/24', action: 'drop' });
    expect(engine.classify(ssh())).toEqual({ action: 'drop', groupId: 'sg-web', ruleIndex: 0 });
    expect(engine.classify({ direction: 'inbound', protocol: 'TCP', port: 8080, remote: '192.0.2.1' })).toEqual({ action: 'drop', groupId: 'sg-web', ruleIndex: 3 });
    expect(engine.classify({ direction: 'inbound', protocol: 'UDP', port: 53, remote: '192.0.2.1' })).toEqual({ action: 'accept', groupId: 'sg-web', ruleIndex: 4 });
    agrees(engine, [ssh(), ssh('203.0.113.9'), ssh('203.0.113.7'), http()]);
  });

  it('removes, replaces and moves rules, renumbering what follows', async () => {
    const engine = await createEngine(base());
    await engine.update((tx) => tx.removeRule('sg-web', 'inbound', 0));
    expect(rulesOf(engine.config, 'sg-web').map((r) => [r.i, r.port])).toEqual([[0, '22'], [1, 'ALL'], [2, 'ALL']]);
    await engine.update((tx) => tx.replaceRule('sg-web', 'inbound', 0, { type: 'linux-login', source: '0.0.0.0/0', action: 'drop' }));
    expect(engine.classify(ssh())).toEqual({ action: 'drop', groupId: 'sg-web', ruleIndex: 0 });
    await engine.update((tx) =>
      tx.addRule('sg-web', 'inbound', { type: 'http', source: 'any', action: 'drop' }).addRule('sg-web', 'inbound', { type: 'https', source: 'any', action: 'drop' }).moveRule('sg-web', 'inbound', 2, 0),
    );
    expect(rulesOf(engine.config, 'sg-web').map((r) => [r.i, r.port, r.template])).toEqual([
      [0, '443', undefined], [1, '22', undefined], [2, '80', undefined], [3, 'ALL', 'open-all'], [4, 'ALL', 'open-all'],
    ]);
    await engine.update((tx) => tx.moveRule('sg-web', 'inbound', 0, 2));
    expect(rulesOf(engine.config, 'sg-web').map((r) => r.port)).toEqual(['22', '80', '443', 'ALL', 'ALL']);
    expect(engine.classify(http())).toEqual({ action: 'drop', groupId: 'sg-web', ruleIndex: 1 });
    agrees(engine, [ssh(), http(), { direction: 'inbound', protocol: 'TCP', port: 443, remote: '2001:db8::1' }]);
  });

  it('edits outbound rules on their own', async () => {
    const engine = await createEngine(base());
    const out66: FlowInput = { direction: 'outbound', protocol: 'UDP', port: 53, remote: '192.0.2.66' };
    expect(engine.classify(out66)).toEqual({ action: 'drop', groupId: 'sg-web', ruleIndex: 0 });
    await engine.update((tx) => tx.addRule('sg-web', 'outbound', 'ACCEPT#192.0.2.66#53#UDP', 0));
    expect(engine.classify(out66)).toEqual({ action: 'accept', groupId: 'sg-web', ruleIndex: 0 });
    expect(rulesOf(engine.config, 'sg-web', 'outbound').map((r) => r.peer)).toEqual(['192.0.2.66', '192.0.2.66', '0.0.0.0/0', '::/0']);
    expect(rulesOf(engine.config, 'sg-web').length).toBe(4);
  });

  it('refuses edits of template rules and positions past the written rules', async () => {
    const engine = await createEngine(base());
    const err = await refused(engine, engine.update((tx) => tx.removeRule('sg-web', 'inbound', 2).addRule('sg-web', 'inbound', { protocol: 'GRE', source: 'any', action: 'drop' }, 3).moveRule('sg-web', 'inbound', 0, 9).replaceRule('sg-deny', 'inbound', -1, 'DROP#any#ALL#ALL')));
    expect(err.issues.map((i) => [i.code, i.path])).toEqual([
      ['TEMPLATE_RULE', ['update', 0, 'index']],
      ['TEMPLATE_RULE', ['update', 1, 'at']],
      ['INDEX_OUT_OF_RANGE', ['update', 2, 'to']],
      ['INDEX_OUT_OF_RANGE', ['update', 3, 'index']],
    ]);
    expect(err.issues[0]!.message).toContain('template open-all');
  });
});

describe('update: groups and instances', () => {
  it('adds a group (with its template) and binds it at a priority position', async () => {
    const engine = await createEngine(base());
    await engine.update((tx) =>
      tx.addGroup({ id: 'sg-admin', template: 'open-common', inbound: [{ protocol: 'TCP', port: 22, source: '198.51.100.0/24', action: 'accept' }] }).bindGroup('web-1', 'sg-admin', 0),
    );
    expect(engine.config.instances).toEqual([{ id: 'web-1', securityGroups: ['sg-admin', 'sg-deny', 'sg-web'] }]);
    expect(rulesOf(engine.config, 'sg-admin').map((r) => [r.i, r.template])).toEqual([[0, undefined], [1, 'open-common'], [2, 'open-common'], [3, 'open-common']]);
    expect(engine.classify(ssh())).toEqual({ action: 'accept', groupId: 'sg-admin', ruleIndex: 0 });
    // open-common's TCP 22 accept comes after sg-admin's own rules but before sg-deny.
    expect(engine.classify(ssh('203.0.113.7'))).toEqual({ action: 'accept', groupId: 'sg-admin', ruleIndex: 1 });
    await engine.update((tx) => tx.unbindGroup('web-1', 'sg-admin').bindGroup('web-1', 'sg-admin'));
    expect(engine.config.instances[0]!.securityGroups).toEqual(['sg-deny', 'sg-web', 'sg-admin']);
    expect(engine.classify(ssh('203.0.113.7'))).toEqual({ action: 'drop', groupId: 'sg-deny', ruleIndex: 0 });
    agrees(engine, [ssh(), ssh('203.0.113.7'), ssh('203.0.113.9'), http()]);
  });

  it('refuses to remove a bound group unless it is unbound in the same update (either order)', async () => {
    const engine = await createEngine(base());
    const err = await refused(engine, engine.update((tx) => tx.removeGroup('sg-deny')));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.issues).toEqual([expect.objectContaining({ code: 'GROUP_IN_USE', path: ['update', 0, 'groupId'] })]);
    expect(err.issues[0]!.message).toContain('"web-1"');
    await engine.update((tx) => tx.removeGroup('sg-deny').unbindGroup('web-1', 'sg-deny'));
    expect(engine.config.securityGroups.map((g) => g.id)).toEqual(['sg-web']);
    expect(engine.classify(ssh('203.0.113.7'))).toEqual({ action: 'accept', groupId: 'sg-web', ruleIndex: 1 });
    await engine.update((tx) => tx.addGroup({ id: 'sg-x', inbound: ['DROP#any#ALL#ALL'] }, 0).bindGroup('web-1', 'sg-x', 0));
    await engine.update((tx) => tx.setGroupOrder('web-1', ['sg-web']).removeGroup('sg-x'));
    expect(engine.config.securityGroups.map((g) => g.id)).toEqual(['sg-web']);
    // Removing and re-adding a group of the same id replaces it, bindings kept.
    await engine.update((tx) => tx.removeGroup('sg-web').addGroup({ id: 'sg-web', inbound: [{ type: 'linux-login', source: 'any', action: 'drop' }] }));
    expect(engine.config.instances[0]!.securityGroups).toEqual(['sg-web']);
    expect(engine.classify(ssh())).toEqual({ action: 'drop', groupId: 'sg-web', ruleIndex: 0 });
  });

  it('adds and removes instances; the first instance stays the default', async () => {
    const engine = await createEngine(base());
    await engine.update((tx) => tx.addInstance({ id: 'web-2', securityGroups: ['sg-web'] }).addInstance({ id: 'bare', securityGroups: [] }, 0));
    expect(engine.config.instances.map((i) => i.id)).toEqual(['bare', 'web-1', 'web-2']);
    expect(engine.classify(ssh('203.0.113.7', 'web-2'))).toEqual({ action: 'accept', groupId: 'sg-web', ruleIndex: 1 });
    expect(engine.classify(ssh('203.0.113.7', 'web-1'))).toEqual({ action: 'drop', groupId: 'sg-deny', ruleIndex: 0 });
    expect(engine.classify(ssh('203.0.113.7'))).toEqual({ action: 'drop', groupId: null, ruleIndex: null });
    await engine.update((tx) => tx.removeInstance('bare'));
    expect(() => engine.classify(ssh('203.0.113.7', 'bare'))).toThrow(expect.objectContaining({ code: 'UNKNOWN_INSTANCE' }));
    expect(engine.classify(ssh('203.0.113.7'))).toEqual({ action: 'drop', groupId: 'sg-deny', ruleIndex: 0 });
    const err = await refused(engine, engine.update((tx) => tx.addInstance({ id: 'web-2', securityGroups: ['sg-web', 'sg-web', 'sg-nope'] }).removeInstance('ghost').bindGroup('web-1', 'sg-web')));
    expect(err.issues.map((i) => [i.code, i.path])).toEqual([
      ['DUPLICATE_BINDING', ['update', 0, 'instance', 'securityGroups', 1]],
      ['DUPLICATE_INSTANCE', ['update', 0, 'instance', 'id']],
      ['UNKNOWN_INSTANCE', ['update', 1, 'instanceId']],
      ['DUPLICATE_BINDING', ['update', 2, 'groupId']],
    ]);
  });

  it('checks group references on the final state, blaming the edit that bound them', async () => {
    const engine = await createEngine(base());
    const err = await refused(engine, engine.update((tx) => tx.bindGroup('web-1', 'sg-later').setGroupOrder('web-1', ['sg-web', 'sg-typo', 'sg-later']).addGroup({ id: 'sg-later' })));
    expect(err.issues).toEqual([expect.objectContaining({ code: 'UNKNOWN_GROUP', path: ['update', 1, 'securityGroups', 1], given: 'sg-typo' })]);
    // Binding a group before adding it, in one update, is fine.
    await engine.update((tx) => tx.bindGroup('web-1', 'sg-later', 0).addGroup({ id: 'sg-later', inbound: [{ type: 'ping', source: 'any', action: 'accept' }] }));
    expect(engine.classify({ direction: 'inbound', protocol: 'ICMP', remote: '203.0.113.7' })).toEqual({ action: 'accept', groupId: 'sg-later', ruleIndex: 0 });
  });

  it('keeps an implicit default instance bound to all groups until an instance edit makes it explicit', async () => {
    const engine = await createEngine({ securityGroups: [{ id: 'a', inbound: ['ACCEPT#any#22#TCP'] }] });
    expect(engine.config.implicitInstance).toBe(true);
    await engine.update((tx) => tx.addGroup({ id: 'z', inbound: ['DROP#any#ALL#ALL'] }, 0));
    expect(engine.config.instances).toEqual([{ id: 'default', securityGroups: ['z', 'a'] }]);
    expect(engine.classify(ssh())).toEqual({ action: 'drop', groupId: 'z', ruleIndex: 0 });
    await engine.update((tx) => tx.removeGroup('z')); // the implicit instance follows: not "in use"
    expect(engine.config.instances).toEqual([{ id: 'default', securityGroups: ['a'] }]);
    await engine.update((tx) => tx.addInstance({ id: 'other', securityGroups: [] }).addGroup({ id: 'b' }));
    expect(engine.config.implicitInstance).toBe(false);
    expect(engine.config.instances).toEqual([{ id: 'default', securityGroups: ['a'] }, { id: 'other', securityGroups: [] }]);
    expect(engine.classify(ssh())).toEqual({ action: 'accept', groupId: 'a', ruleIndex: 0 });
  });

  it('takes the edits as data too', async () => {
    const engine = await createEngine(base());
    await engine.update([
      { op: 'addRule', groupId: 'sg-deny', direction: 'inbound', rule: { type: 'linux-login', source: 'any', action: 'drop' } },
      { op: 'setGroupOrder', instanceId: 'web-1', securityGroups: ['sg-web', 'sg-deny'] },
    ]);
    expect(engine.classify(ssh('203.0.113.9'))).toEqual({ action: 'accept', groupId: 'sg-web', ruleIndex: 1 });
    expect(engine.classify(ssh())).toEqual({ action: 'accept', groupId: 'sg-web', ruleIndex: 2 }); // open-all tail
    expect(engine.config.securityGroups[1]!.inbound.map((r) => r.text.protocol)).toEqual(['ALL', 'linux-login']);
    const err = await refused(engine, engine.update([{ op: 'renameGroup' } as never, 'x' as never]));
    expect(err.issues.map((i) => [i.code, i.path])).toEqual([['UNKNOWN_EDIT', ['update', 0, 'op']], ['INVALID_TYPE', ['update', 1]]]);
  });
});

describe('update: atomicity, versions and change events', () => {
  it('publishes all edits or none: one bad edit among several changes nothing and every issue is reported', async () => {
    const engine = await createEngine(base());
    const seen: PolicyChange[] = [];
    engine.on('change', (c) => seen.push(c));
    const before = structuredClone(engine.config);
    const err = await refused(
      engine,
      engine.update((tx) => {
        tx.addRule('sg-web', 'inbound', { protocol: 'TCP', port: 22, source: '0.0.0.0/0', action: 'drop' }, 0); // fine
        tx.setGroupOrder('web-1', ['sg-web', 'sg-deny']); // fine
        tx.addRule('sg-web', 'inbound', { protocol: 'ICMP', port: 22, source: '10.0.0.1/8', action: 'maybe' } as never); // bad
        tx.removeRule('sg-nope', 'inbound', 0); // unknown group
        tx.moveRule('sg-web', 'sideways' as 'inbound', 0, 1); // bad direction
        tx.addRule('sg-web', 'outbound', 'ACCEPT#any#80' as never); // bad Terraform string
        tx.removeRule('sg-deny', 'inbound', 1); // past the end
      }),
    );
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('nothing was changed');
    expect(err.issues.map((i) => [i.code, i.path])).toEqual([
      ['PORT_NOT_ALLOWED', ['update', 2, 'rule', 'port']],
      ['HOST_BITS_SET', ['update', 2, 'rule', 'source']],
      ['INVALID_ACTION', ['update', 2, 'rule', 'action']],
      ['UNKNOWN_GROUP', ['update', 3, 'groupId']],
      ['INVALID_DIRECTION', ['update', 4, 'direction']],
      ['INVALID_TERRAFORM_RULE', ['update', 5, 'rule']],
      ['INDEX_OUT_OF_RANGE', ['update', 6, 'index']],
    ]);
    expect(err.issues.find((i) => i.code === 'PORT_NOT_ALLOWED')!.message).toMatch(/^update\[2\] addRule, rule, port: /);
    expect(engine.config).toEqual(before); // the published config was not touched either
    expect(engine.classify(ssh('203.0.113.9'))).toEqual({ action: 'accept', groupId: 'sg-web', ruleIndex: 1 });
    expect(seen).toEqual([]);
  });

  it('a throwing edit function publishes nothing', async () => {
    const engine = await createEngine(base());
    await expect(
      engine.update((tx) => {
        tx.removeRule('sg-web', 'inbound', 0);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(engine.version).toBe(1);
    expect(engine.config.securityGroups[0]!.inbound.length).toBe(4);
  });

  it('never mutates the published config (old versions stay valid for readers)', async () => {
    const engine = await createEngine(base());
    const v1 = engine.config;
    const snapshot = structuredClone(v1);
    await engine.update((tx) => tx.addRule('sg-web', 'inbound', 'DROP#any#22#TCP', 0).moveRule('sg-web', 'inbound', 2, 0).removeGroup('sg-deny').unbindGroup('web-1', 'sg-deny'));
    expect(v1).toEqual(snapshot);
    expect(engine.config.securityGroups[0]!.inbound.map((r) => r.ruleIndex)).toEqual([0, 1, 2, 3, 4]);
    // Untouched groups are shared, not copied.
    const v2 = engine.config;
    await engine.update((tx) => tx.addGroup({ id: 'sg-new' }));
    expect(engine.config.securityGroups[0]).toBe(v2.securityGroups[0]);
  });

  it('refuses a stale expectedVersion, and an update whose function awaited while another write published', async () => {
    const engine = await createEngine(base());
    expect(await engine.update((tx) => tx.removeRule('sg-web', 'inbound', 0), { expectedVersion: 1 })).toBe(2);
    const stale = await refused(engine, engine.update((tx) => tx.removeRule('sg-web', 'inbound', 0), { expectedVersion: 1 }));
    expect(stale.code).toBe('VERSION_CONFLICT');
    expect(stale.message).toContain('version 2');
    const slow = engine.update(async (tx) => {
      await new Promise((r) => setTimeout(r, 10));
      tx.removeRule('sg-web', 'inbound', 0);
    });
    await engine.update((tx) => tx.addRule('sg-web', 'inbound', 'DROP#any#22#TCP', 0));
    const moved = (await slow.catch((e) => e)) as SgfilterError;
    expect(moved.code).toBe('VERSION_CONFLICT');
    expect(engine.version).toBe(3);
    expect(rulesOf(engine.config, 'sg-web')[0]!.action).toBe('drop');
    // An async function with no interference commits.
    expect(await engine.update(async (tx) => void tx.removeRule('sg-web', 'inbound', 0), { expectedVersion: 3 })).toBe(4);
  });

  it('an empty update publishes nothing', async () => {
    const engine = await createEngine(base());
    let events = 0;
    engine.on('change', () => events++);
    expect(await engine.update(() => {})).toBe(1);
    expect(await engine.update([])).toBe(1);
    expect(events).toBe(0);
  });

  it('one change event per update, listing what changed', async () => {
    const engine = await createEngine(base());
    const seen: PolicyChange[] = [];
    engine.on('change', (c) => seen.push(c));
    await engine.update((tx) =>
      tx
        .addGroup({ id: 'sg-admin', inbound: ['ACCEPT#198.51.100.0/24#22#TCP'] }, 1)
        .bindGroup('web-1', 'sg-admin', 0)
        .addRule('sg-web', 'inbound', { type: 'https', source: '::/0', action: 'drop' })
        .moveRule('sg-web', 'inbound', 2, 0)
        .replaceRule('sg-web', 'inbound', 1, 'ACCEPT#0.0.0.0/0#80#TCP')
        .removeRule('sg-web', 'inbound', 2)
        .addInstance({ id: 'web-2', securityGroups: ['sg-web'] })
        .unbindGroup('web-1', 'sg-deny')
        .removeGroup('sg-deny')
        .setGroupOrder('web-2', ['sg-admin', 'sg-web'])
        .removeInstance('web-2'),
    );
    await engine.reload(base());
    expect(seen).toEqual([
      {
        version: 2, previousVersion: 1, reason: 'update',
        changes: [
          { op: 'addGroup', groupId: 'sg-admin', at: 1 },
          { op: 'bindGroup', instanceId: 'web-1', groupId: 'sg-admin', at: 0, securityGroups: ['sg-admin', 'sg-deny', 'sg-web'] },
          { op: 'addRule', groupId: 'sg-web', direction: 'inbound', index: 2 },
          { op: 'moveRule', groupId: 'sg-web', direction: 'inbound', from: 2, to: 0 },
          { op: 'replaceRule', groupId: 'sg-web', direction: 'inbound', index: 1 },
          { op: 'removeRule', groupId: 'sg-web', direction: 'inbound', index: 2 },
          { op: 'addInstance', instanceId: 'web-2', at: 1, securityGroups: ['sg-web'] },
          { op: 'unbindGroup', instanceId: 'web-1', groupId: 'sg-deny', securityGroups: ['sg-admin', 'sg-web'] },
          { op: 'removeGroup', groupId: 'sg-deny' },
          { op: 'setGroupOrder', instanceId: 'web-2', securityGroups: ['sg-admin', 'sg-web'] },
          { op: 'removeInstance', instanceId: 'web-2' },
        ],
      },
      { version: 3, previousVersion: 2, reason: 'reload' },
    ]);
    expect(seen[1]).not.toHaveProperty('changes');
  });

  it('SPEC §5 multi-group: reordering [sg-a, sg-b] to [sg-b, sg-a] flips TCP 22 with no restart', async () => {
    const engine = await createEngine({
      securityGroups: [
        { id: 'sg-a', inbound: [{ protocol: 'TCP', port: 22, source: '0.0.0.0/0', action: 'drop' }] },
        { id: 'sg-b', inbound: [{ protocol: 'TCP', port: 22, source: '0.0.0.0/0', action: 'accept' }] },
      ],
      instances: [{ id: 'ins-multi', securityGroups: ['sg-a', 'sg-b'] }],
    });
    const flow = ssh('198.51.100.7', 'ins-multi');
    expect(engine.classify(flow)).toEqual({ action: 'drop', groupId: 'sg-a', ruleIndex: 0 });
    const changes: PolicyChange[] = [];
    engine.on('change', (c) => changes.push(c));
    expect(await engine.update((tx) => tx.setGroupOrder('ins-multi', ['sg-b', 'sg-a']), { expectedVersion: 1 })).toBe(2);
    expect(engine.classify(flow)).toEqual({ action: 'accept', groupId: 'sg-b', ruleIndex: 0 });
    expect(changes[0]!.changes).toEqual([{ op: 'setGroupOrder', instanceId: 'ins-multi', securityGroups: ['sg-b', 'sg-a'] }]);
    // And back, as an unbind + bind at the top.
    await engine.update((tx) => tx.unbindGroup('ins-multi', 'sg-a').bindGroup('ins-multi', 'sg-a', 0));
    expect(engine.config.instances[0]!.securityGroups).toEqual(['sg-a', 'sg-b']);
    expect(engine.classify(flow)).toEqual({ action: 'drop', groupId: 'sg-a', ruleIndex: 0 });
  });

  it('refuses using a transaction after it was committed', async () => {
    const engine = await createEngine(base());
    let kept: PolicyTransaction | undefined;
    await engine.update((tx) => {
      kept = tx;
      tx.removeRule('sg-web', 'inbound', 0);
    });
    expect(() => kept!.removeRule('sg-web', 'inbound', 0)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('recomputes "can never match" warnings in the new config\'s positions', async () => {
    const engine = await createEngine(base());
    await engine.update((tx) => tx.addRule('sg-deny', 'inbound', { protocol: 'ICMP', source: '2001:db8::/32', action: 'accept' }, 0));
    expect(engine.config.warnings).toEqual([{ path: ['securityGroups', 1, 'inbound', 0], message: expect.stringContaining('can never match') }]);
  });
});

describe('update: random edits agree with the reference matcher', () => {
  it('200 random transactions over random configs', async () => {
    const r = mulberry32(4242);
    let mismatches = 0;
    let refusedCount = 0;
    for (let round = 0; round < 20; round++) {
      const doc = randomConfig(r, 8);
      const engine = await createEngine(doc);
      const donor = randomConfig(r, 8);
      for (let t = 0; t < 10; t++) {
        const cfg = engine.config;
        const ok = await engine
          .update((tx) => {
            const k = 1 + Math.floor(r() * 4);
            for (let j = 0; j < k; j++) {
              const g = pick(r, cfg.securityGroups);
              const dir = pick(r, ['inbound', 'outbound'] as const);
              const n = g[dir].filter((x) => !x.template).length;
              const donorGroup = pick(r, donor.securityGroups);
              const donorRules = donorGroup[dir] ?? [];
              const x = r();
              if (x < 0.3 && donorRules.length) tx.addRule(g.id, dir, pick(r, donorRules), Math.floor(r() * (n + 1)));
              else if (x < 0.45 && n) tx.removeRule(g.id, dir, Math.floor(r() * n));
              else if (x < 0.6 && n && donorRules.length) tx.replaceRule(g.id, dir, Math.floor(r() * n), pick(r, donorRules));
              else if (x < 0.75 && n) tx.moveRule(g.id, dir, Math.floor(r() * n), Math.floor(r() * n));
              else if (!cfg.implicitInstance) {
                const inst = pick(r, cfg.instances);
                const order = [...inst.securityGroups].sort(() => r() - 0.5);
                tx.setGroupOrder(inst.id, order);
              }
            }
          })
          .then(() => true, (e: SgfilterError) => {
            if (e.code !== 'CONFIG_INVALID') throw e;
            return false;
          });
        if (!ok) {
          refusedCount++;
          expect(engine.config).toBe(cfg); // edits relative to the base can go past the end: refused whole
        }
        const config = engine.config;
        for (const f of randomFlows(r, config, 100)) {
          const got = engine.classify(f);
          const want = referenceClassify(config, parseFlow(f));
          if (got.action !== want.action || got.groupId !== want.groupId || got.ruleIndex !== want.ruleIndex) mismatches++;
        }
        for (const g of config.securityGroups) {
          for (const dir of ['inbound', 'outbound'] as const) expect(g[dir].map((x) => x.ruleIndex)).toEqual(g[dir].map((_, i) => i));
        }
      }
    }
    expect(mismatches).toBe(0);
    expect(refusedCount).toBeLessThan(50);
  });
});
