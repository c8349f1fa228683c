// `sgfilter replay` as users run it (the built CLI, a child process), on the
// committed loopback captures (test/fixtures/captures, made by tcpdump and dumpcap)
// and on generated ones: every --verdicts line is checked against the independent
// model of SPEC §7–§8 (test/packet-model.ts, which classifies through the reference
// matcher, src/reference.ts), the --accepted and --dropped captures are read back
// and must be exactly the accepted and the dropped packets (bytes, lengths,
// timestamps, link types, in capture order), and the report's hits per rule and
// verdicts by reason must be the model's counts. Damaged captures and bad input
// must end with coded errors that say where.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfig, type Config } from '../src/index.js';
import { readCapture } from '../src/capture/reader.js';
import { cli, cliPath, requireBuild, type Run } from './cli-run.js';
import { spawnSync } from 'node:child_process';
import { encodePcap, encodePcapng, readAllSync, type ModelPacket, type NgBlock } from './capture-model.js';
import { PacketModel, hitKey, type ModelTimeouts, type ModelVerdict, type OwnRange } from './packet-model.js';
import { LOCAL_OPTION, buildPackets, ownRanges } from './packet-scenarios.js';
import { scenarioArb, type Scenario } from './packet-run.js';
import { LINK, TCP_FLAGS, ipv4, tcp, udp } from './packet-craft.js';

const CAPTURES = fileURLToPath(new URL('./fixtures/captures/', import.meta.url));
const FIXTURES = ['lo-micro.pcap', 'lo-nano.pcap', 'any-sll2.pcap', 'lo-micro-be.pcap', 'lo-nano.pcapng', 'lo-any.pcapng', 'two-sections.pcapng'];

const DEFAULTS: ModelTimeouts = { tcpEstablished: 432_000, tcpHandshake: 120, tcpClosing: 10, udpOneWay: 30, udpBothWays: 180, icmp: 30, other: 600, fragment: 30 };
const SHORT: ModelTimeouts = { tcpEstablished: 50, tcpHandshake: 20, tcpClosing: 5, udpOneWay: 10, udpBothWays: 30, icmp: 10, other: 40, fragment: 15 };

/** A policy for the loopback captures: some of their conversations accepted, some not, a drop rule, an outbound rule. */
const LOOPBACK_CONFIG = {
  securityGroups: [
    {
      id: 'sg-lo',
      inbound: [
        { protocol: 'TCP', port: 40001, source: 'any', action: 'accept', description: 'tcp v4' },
        { protocol: 'UDP', port: 40002, source: '127.0.0.0/8', action: 'accept' },
        { protocol: 'UDP', port: 40010, source: 'any', action: 'accept' },
        { protocol: 'ICMP', icmpType: 8, source: 'any', action: 'accept' },
        { protocol: 'TCP', port: 40003, source: '::/0', action: 'drop' },
      ],
      outbound: [{ protocol: 'ALL', destination: 'any', action: 'accept' }],
    },
    { id: 'sg-six', inbound: [{ protocol: 'ICMPv6', source: '::1', action: 'accept' }, { protocol: 'ALL', source: '::1', action: 'accept' }] },
  ],
  instances: [{ id: 'lo', securityGroups: ['sg-lo', 'sg-six'], addresses: ['127.0.0.1'] }],
};

interface Packet extends ModelPacket {
  time: number;
}

function packetsOf(bytes: Uint8Array): Packet[] {
  const r = readAllSync(readCapture(bytes));
  if (r.error) throw new Error(`test capture unreadable: ${r.error.message}`);
  return r.packets.map(({ recordOffset: _r, ...p }) => ({ ...p, time: p.timestampSeconds + p.timestampNanoseconds / 1e9 }));
}

/** The verdict line SPEC-shaped from a model verdict. */
function line(n: number, v: ModelVerdict): Record<string, unknown> {
  return v.reason === 'rule' ? { n, action: v.action, reason: v.reason, groupId: v.groupId, ruleIndex: v.ruleIndex } : { n, action: v.action, reason: v.reason };
}

/** Parses the verdict lines, checking each is exactly one JSON object of the issue's shape (keys in order). */
function parseVerdicts(text: string): Record<string, unknown>[] {
  expect(text.endsWith('\n') || text === '').toBe(true);
  return text.split('\n').slice(0, -1).map((l) => {
    const o = JSON.parse(l) as Record<string, unknown>;
    expect(Object.keys(o)).toEqual(o.reason === 'rule' ? ['n', 'action', 'reason', 'groupId', 'ruleIndex'] : ['n', 'action', 'reason']);
    return o;
  });
}

const strip = ({ interfaceId: _i, time: _t, ...p }: Packet) => ({ ...p, data: Buffer.from(p.data).toString('hex') });

/**
 * The report's "hits per rule" rows that decided packets, sorted:
 * "group|direction|index|earlier|packets|bytes" (earlier: a rule of an earlier policy).
 */
function reportHits(stdout: string): string[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith('hits per rule'));
  expect(start).toBeGreaterThan(0);
  const out: string[] = [];
  for (const l of lines.slice(start + 3)) {
    if (l.trim() === '') break;
    const cells = l.trim().split(/\s+/);
    if (cells[0] === '(none)') continue;
    const num = (s: string) => Number(s.replaceAll(',', ''));
    const [packets, bytes] = [num(cells.at(-2)!), num(cells.at(-1)!)];
    const earlier = l.includes('(a rule of policy version') ? 'earlier' : '';
    if (packets > 0) out.push(`${cells[0]}|${cells[1]}|${cells[2]}|${earlier}|${packets}|${bytes}`);
  }
  return out.sort();
}

/** The model's rule hits as reportHits gives them: a hit of a rule no longer published as it was is "earlier". */
function modelHits(m: PacketModel): string[] {
  return [...m.hits].map(([key, h]) => {
    const [g, d, i] = key.split('|') as [string, 'inbound' | 'outbound', string];
    let current = false;
    try {
      current = hitKey(m.config, g, d, Number(i)) === key;
    } catch {
      current = false; // the group or position is gone
    }
    return `${g}|${d}|${i}|${current ? '' : 'earlier'}|${h.packets}|${h.bytes}`;
  }).sort();
}

/** The report's "verdicts by reason" rows: "action reason" → packets. */
function reportReasons(stdout: string): Map<string, number> {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith('verdicts by reason'));
  const out = new Map<string, number>();
  for (const l of lines.slice(start + 3)) {
    const cells = l.trim().split(/\s+/);
    if (cells[0] === 'total') break;
    out.set(`${cells[0]} ${cells[1]}`, Number(cells[2]!.replaceAll(',', '')));
  }
  return out;
}

interface Expectation {
  config: Config;
  own: OwnRange[];
  timeouts: ModelTimeouts;
  capacity: number;
  recheck: boolean;
  /** Publish `config` (its instance's `own`) before the packet of this 0-based index. */
  change?: { before: number; config: Config; own: OwnRange[] };
}

/** Runs the model over `packets` as the CLI should; returns the verdicts and the model (for its counters). */
function model(packets: Packet[], x: Expectation): { verdicts: ModelVerdict[]; m: PacketModel } {
  const m = new PacketModel({ config: x.config, instance: x.config.instances[0]!.id, own: x.own, capacity: x.capacity, fragments: 4096, timeouts: x.timeouts, recheckOnPublish: x.recheck });
  const verdicts = packets.map((p, i) => {
    if (x.change && x.change.before === i) m.publish(x.change.config, x.change.own);
    return m.packet(p.data, p.linkType, p.time, p.originalLength);
  });
  return { verdicts, m };
}

/** Checks a finished run: verdict lines, accepted and dropped captures, report counts. */
function checkRun(run: Run, dir: string, packets: Packet[], x: Expectation): void {
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const { verdicts, m } = model(packets, x);
  const lines = parseVerdicts(readFileSync(join(dir, 'v.jsonl'), 'utf8'));
  expect(lines.length).toBe(packets.length);
  lines.forEach((l, i) => {
    const want = line(i + 1, verdicts[i]!);
    if (JSON.stringify(l) !== JSON.stringify(want)) {
      throw new Error(`packet ${i + 1} (link ${packets[i]!.linkType}, t=${packets[i]!.time}): ${Buffer.from(packets[i]!.data).toString('hex')}\nwant ${JSON.stringify(want)}\ngot  ${JSON.stringify(l)}`);
    }
  });
  const accepted = packetsOf(readFileSync(join(dir, 'a.pcapng')));
  const dropped = packetsOf(readFileSync(join(dir, 'd.pcap')));
  expect(accepted.map(strip)).toEqual(packets.filter((_, i) => verdicts[i]!.action === 'accept').map(strip));
  expect(dropped.map(strip)).toEqual(packets.filter((_, i) => verdicts[i]!.action === 'drop').map(strip));
  expect(reportHits(run.stdout)).toEqual(modelHits(m));
  const reasons = new Map<string, number>();
  for (const v of verdicts) reasons.set(`${v.action} ${v.reason}`, (reasons.get(`${v.action} ${v.reason}`) ?? 0) + 1);
  for (const [k, n] of reportReasons(run.stdout)) expect([k, n]).toEqual([k, reasons.get(k) ?? 0]);
  expect(run.stdout).toContain(`${m.opened.toLocaleString('en-US')} opened, ${m.expired.toLocaleString('en-US')} expired`);
}

const tmp = () => mkdtempSync(join(tmpdir(), 'sgfilter-replay-'));
const outputs = (dir: string) => ['--verdicts', join(dir, 'v.jsonl'), '--accepted', join(dir, 'a.pcapng'), '--dropped', join(dir, 'd.pcap'), '--no-progress'];

describe('sgfilter replay on the loopback captures', () => {
  requireBuild();
  for (const name of FIXTURES) {
    it(`${name}: verdicts as the model gives them, the outputs exactly the accepted and dropped packets`, () => {
      const dir = tmp();
      try {
        const cfg = join(dir, 'policy.yaml');
        writeFileSync(cfg, stringify(LOOPBACK_CONFIG));
        const capture = join(CAPTURES, name);
        const run = cli(['replay', cfg, capture, '--local', '::1', ...outputs(dir)]);
        const config = parseConfig(LOOPBACK_CONFIG);
        const own: OwnRange[] = [{ v6: false, lo: 0x7f000001n, hi: 0x7f000001n }, { v6: true, lo: 1n, hi: 1n }];
        checkRun(run, dir, packetsOf(readFileSync(capture)), { config, own, timeouts: DEFAULTS, capacity: 65_536, recheck: false });
        // The run must have seen every kind the capture offers: rules, state and defaults.
        const reasons = new Set(parseVerdicts(readFileSync(join(dir, 'v.jsonl'), 'utf8')).map((l) => l.reason));
        expect([...reasons].sort()).toEqual(['default', 'established', 'related', 'rule']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('a classic pcap output keeps the capture\'s link type and timestamp precision; stdout takes one output and the report moves to stderr', () => {
    const dir = tmp();
    try {
      const cfg = join(dir, 'policy.yaml');
      writeFileSync(cfg, stringify(LOOPBACK_CONFIG));
      const run = spawnSync(process.execPath, [cliPath, 'replay', cfg, join(CAPTURES, 'lo-nano.pcap'), '--accepted', '-', '--no-progress'], { timeout: 60_000 });
      expect(run.status).toBe(0);
      expect(run.stderr.toString()).toContain('hits per rule');
      const bytes = run.stdout;
      expect(packetsOf(bytes).length).toBe(packetsOf(readFileSync(join(CAPTURES, 'lo-nano.pcap'))).filter((_, i) => i >= 0).length - Number(/(\d+) dropped/.exec(run.stderr.toString())![1]));
      // Nanosecond pcap magic, little-endian, link type 1 (Ethernet).
      expect([...bytes.subarray(0, 4)]).toEqual([0x4d, 0x3c, 0xb2, 0xa1]);
      expect(bytes.readUInt32LE(20)).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A generated scenario as a capture: pcapng with one interface per link type, nanosecond timestamps. */
function scenarioCapture(s: Scenario): Uint8Array {
  const built = buildPackets(s.specs);
  const links = [...new Set(built.map((p) => p.linkType))];
  const blocks: NgBlock[] = links.map((linkType) => ({ kind: 'idb', iface: { linkType, snaplen: 262_144, tsresol: 9 } }));
  let t = 1_700_000_000n * 1_000_000_000n;
  for (const p of built) {
    t += BigInt(Math.round(p.dt * 1e9));
    blocks.push({ kind: 'epb', interfaceId: links.indexOf(p.linkType), timestamp: t, data: p.data, originalLength: p.data.length });
  }
  return encodePcapng([{ le: true, blocks }]).bytes;
}

const timeoutArgs = (t: ModelTimeouts) => Object.entries(t).flatMap(([k, v]) => ['--timeout', `${k}=${v}`]);

describe('sgfilter replay from stdin', () => {
  it('a capture piped in (-) gives the verdicts the same file gives', () => {
    requireBuild();
    const dir = tmp();
    try {
      const cfg = join(dir, 'policy.yaml');
      writeFileSync(cfg, stringify(LOOPBACK_CONFIG));
      const capture = join(CAPTURES, 'two-sections.pcapng');
      const fromFile = cli(['replay', cfg, capture, '--local', '::1', '--verdicts', '-']);
      const fromStdin = cli(['replay', cfg, '-', '--local', '::1', '--verdicts', '-'], { input: readFileSync(capture) });
      expect(fromStdin.status).toBe(0);
      expect(fromStdin.stdout).toBe(fromFile.stdout);
      expect(parseVerdicts(fromStdin.stdout).length).toBe(90);
      expect(fromStdin.stderr).toContain('capture:  stdin (pcapng');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sgfilter replay on generated captures, against the model', () => {
  it('handshakes, replies, closes, timeouts, fragments, ICMP errors, a small table and a policy change mid-stream', async () => {
    requireBuild();
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        const dir = tmp();
        try {
          const bytes = scenarioCapture(s);
          const packets = packetsOf(bytes);
          const capture = join(dir, 'gen.pcapng');
          writeFileSync(capture, bytes);
          const cfg = join(dir, 'policy.json');
          writeFileSync(cfg, JSON.stringify(s.policy.config));
          const args = ['replay', cfg, capture, ...LOCAL_OPTION.flatMap((l) => ['--local', l]), '--capacity', String(s.capacity), ...outputs(dir)];
          const timeouts = s.short ? SHORT : DEFAULTS;
          if (s.short) args.push(...timeoutArgs(SHORT));
          const x: Expectation = { config: parseConfig(s.policy.config), own: ownRanges(s.policy.addresses), timeouts, capacity: s.capacity, recheck: s.recheck };
          if (s.recheck) args.push('--recheck');
          if (s.policy2 && packets.length > 0) {
            const before = s.changeAt % packets.length;
            const cfg2 = join(dir, 'policy2.json');
            writeFileSync(cfg2, JSON.stringify(s.policy2.config));
            args.push('--policy-change', `${before + 1}:${cfg2}`);
            x.change = { before, config: parseConfig(s.policy2.config), own: ownRanges(s.policy2.addresses) };
          }
          const run = cli(args);
          if (s.recheck && !s.policy2) {
            // --recheck without a policy change is a note on stderr, nothing else.
            expect(run.stderr).toContain('--recheck only acts at a policy change');
            run.stderr = '';
          }
          checkRun(run, dir, packets, x);
          for (const l of parseVerdicts(readFileSync(join(dir, 'v.jsonl'), 'utf8'))) seen.add(`${l.action} ${l.reason}`);
          if (x.change) seen.add('policy change');
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { seed: 1213, numRuns: Number(process.env.SGFILTER_REPLAY_RUNS ?? 12) },
    );
    // The runs together met every verdict (so the comparison above had each to compare).
    expect([...seen].sort()).toEqual([
      'accept established', 'accept related', 'accept rule', 'drop default', 'drop fragment', 'drop malformed', 'drop not-ip', 'drop not-local', 'drop rule', 'drop table-full', 'policy change',
    ]);
  }, 240_000);
});

/** A pcap of `n` packets: the loopback capture's packets over and over, 1 ms apart. */
function repeatedCapture(n: number): Uint8Array {
  const source = readAllSync(readCapture(new Uint8Array(readFileSync(join(CAPTURES, 'lo-micro.pcap'))))).packets;
  let size = 24;
  for (let k = 0; k < n; k++) size += 16 + source[k % source.length]!.data.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xa1b2c3d4, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  view.setUint32(16, 262_144, true);
  view.setUint32(20, 1, true);
  let at = 24;
  for (let k = 0; k < n; k++) {
    const p = source[k % source.length]!;
    view.setUint32(at, 1_700_000_000 + Math.floor(k / 1000), true);
    view.setUint32(at + 4, (k % 1000) * 1000, true);
    view.setUint32(at + 8, p.data.length, true);
    view.setUint32(at + 12, p.data.length, true);
    out.set(p.data, at + 16);
    at += 16 + p.data.length;
  }
  return out;
}

describe('sgfilter replay streams', () => {
  it('a capture of 1,200,000 packets (120 MB, every output written) peaks below the small run plus the capture\'s own size', () => {
    // Measured: 4,000 packets peak at ~90 MB, 400,000 at ~110 MB, 1.6M and 3.2M at ~133 MB
    // (the heap's own growth levels off); holding the capture, its outputs or the
    // verdict lines would cost at least the capture's size.
    requireBuild();
    const dir = tmp();
    try {
      const cfg = join(dir, 'policy.yaml');
      writeFileSync(cfg, stringify(LOOPBACK_CONFIG));
      const peaks: number[] = [];
      let bigMB = 0;
      for (const n of [4_000, 1_200_000]) {
        const capture = join(dir, `rep-${n}.pcap`);
        const bytes = repeatedCapture(n);
        writeFileSync(capture, bytes);
        bigMB = bytes.length / 2 ** 20;
        const run = cli(['replay', cfg, capture, '--local', '::1', ...outputs(dir)], { rss: true, timeout: 150_000 });
        expect(run.status).toBe(0);
        expect(run.stdout).toContain(`sgfilter replay: ${n.toLocaleString('en-US')} packets`);
        expect(readFileSync(join(dir, 'v.jsonl'), 'utf8').split('\n').length - 1).toBe(n);
        peaks.push(run.peakMB!);
        rmSync(capture);
      }
      expect(bigMB).toBeGreaterThan(100);
      expect(peaks[1]!).toBeLessThan(peaks[0]! + bigMB);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

describe('sgfilter replay on a terminal', () => {
  // util-linux `script` gives the CLI a pseudo-terminal, as in test/cli-progress.test.ts.
  it.skipIf(!hasScript)(`draws a progress bar with packets per second on stderr and clears it; --no-progress draws none${hasScript ? '' : ' [skipped: util-linux script is not installed]'}`, () => {
    requireBuild();
    const dir = tmp();
    try {
      const cfg = join(dir, 'policy.yaml');
      writeFileSync(cfg, stringify(LOOPBACK_CONFIG));
      const capture = join(dir, 'big.pcap');
      writeFileSync(capture, repeatedCapture(1_500_000));
      const onTty = (extra: string[]) => {
        const cmd = [process.execPath, cliPath, 'replay', cfg, capture, '--local', '::1', '--verdicts', join(dir, 'v.jsonl'), ...extra].map(shellQuote).join(' ');
        const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 26, env: { ...process.env, TERM: 'xterm' } });
        expect(r.status).toBe(0);
        return r.stdout;
      };
      const screen = onTty([]);
      const shown = JSON.stringify(screen.slice(0, 3000));
      expect(screen, shown).toMatch(/replay: +\d+% \[[=-]+\]/);
      expect(screen, shown).toMatch(/\[[=-]+\]  [\d.]+(?: [kM])? packets\/s, [\d,]+ packets/);
      expect(screen, shown).toMatch(/\x1b\[2Ksgfilter replay: 1,500,000 packets/);
      const quiet = onTty(['--no-progress']);
      expect(quiet).toContain('sgfilter replay: 1,500,000 packets');
      expect(quiet).not.toMatch(/replay: +\d+%/);
      expect(quiet).not.toContain('\x1b[');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

describe('a policy change at a capture time', () => {
  it('--policy-change @SECONDS publishes before the first packet at or after that time, as the model does; --recheck removes what the new policy drops', () => {
    requireBuild();
    const dir = tmp();
    try {
      const cfg = join(dir, 'policy.yaml');
      writeFileSync(cfg, stringify(LOOPBACK_CONFIG));
      // The new policy accepts only ICMP echo: the TCP and UDP connections tracked so far are re-checked away.
      const next = { ...LOOPBACK_CONFIG, securityGroups: [{ id: 'sg-lo', inbound: [{ protocol: 'ICMP', icmpType: 8, source: 'any', action: 'accept' }] }], instances: [{ id: 'lo', securityGroups: ['sg-lo'], addresses: ['127.0.0.1'] }] };
      const cfg2 = join(dir, 'next.yaml');
      writeFileSync(cfg2, stringify(next));
      const capture = join(CAPTURES, 'lo-nano.pcap');
      const packets = packetsOf(readFileSync(capture));
      const at = 4; // 0-based: before the fifth packet, in the middle of the first TCP connection
      const p = packets[at]!;
      const seconds = `${p.timestampSeconds}.${String(p.timestampNanoseconds).padStart(9, '0')}`;
      const own: OwnRange[] = [{ v6: false, lo: 0x7f000001n, hi: 0x7f000001n }, { v6: true, lo: 1n, hi: 1n }];
      for (const recheck of [false, true]) {
        const run = cli(['replay', cfg, capture, '--local', '::1', '--policy-change', `@${seconds}:${cfg2}`, ...(recheck ? ['--recheck'] : []), ...outputs(dir)]);
        checkRun(run, dir, packets, { config: parseConfig(LOOPBACK_CONFIG), own, timeouts: DEFAULTS, capacity: 65_536, recheck, change: { before: at, config: parseConfig(next), own } });
        expect(run.stdout).toContain(`published before packet ${at + 1} (policy version 2)`);
        const v = parseVerdicts(readFileSync(join(dir, 'v.jsonl'), 'utf8'));
        // Kept, the connection's next packet is established; re-checked away, the new policy drops it.
        expect(v[at]).toEqual(recheck ? { n: at + 1, action: 'drop', reason: 'default' } : { n: at + 1, action: 'accept', reason: 'established' });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hits per rule across a policy change', () => {
  it('a packet is credited to the rule that decided it, never to the rule a change put at its index; unchanged rules keep their counts', () => {
    requireBuild();
    const dir = tmp();
    try {
      const L = '10.0.0.1';
      const R = '192.0.2.9';
      const rules = [
        { protocol: 'TCP', port: 22, source: 'any', action: 'accept', description: 'ssh' },
        { protocol: 'UDP', port: 53, source: 'any', action: 'accept', description: 'dns' },
        { protocol: 'TCP', port: 80, source: 'any', action: 'accept', description: 'web' },
      ];
      const policy = (inbound: object[]) => ({ securityGroups: [{ id: 'sg', inbound }], instances: [{ id: 'i1', securityGroups: ['sg'], addresses: [L] }] });
      const cfg = join(dir, 'p1.json');
      const cfg2 = join(dir, 'p2.json');
      writeFileSync(cfg, JSON.stringify(policy(rules)));
      // The change removes the ssh rule: dns moves to index 0, web to index 1.
      writeFileSync(cfg2, JSON.stringify(policy([rules[1], rules[2]])));
      const data = [
        ipv4({ src: R, dst: L, proto: 6, payload: tcp({ sport: 1, dport: 22, flags: TCP_FLAGS.SYN }) }), // ssh (policy 1)
        ipv4({ src: R, dst: L, proto: 17, payload: udp({ sport: 1, dport: 53, payload: [1, 2, 3] }) }), // dns (policy 1)
        ipv4({ src: R, dst: L, proto: 6, payload: tcp({ sport: 2, dport: 80, flags: TCP_FLAGS.SYN }) }), // web (policy 1)
        ipv4({ src: R, dst: L, proto: 6, payload: tcp({ sport: 3, dport: 80, flags: TCP_FLAGS.SYN }) }), // web (policy 2, index 1)
      ];
      const capture = join(dir, 'c.pcap');
      writeFileSync(capture, encodePcap({ le: true, nanos: false, snaplen: 65_535, linkType: LINK.RAW, packets: data.map((d, k) => ({ data: d, originalLength: d.length, seconds: 1 + k, frac: 0 })) }).bytes);
      const run = cli(['replay', cfg, capture, '--policy-change', `4:${cfg2}`, '--no-progress']);
      expect(run.status).toBe(0);
      const lines = run.stdout.split('\n');
      const start = lines.findIndex((l) => l.startsWith('hits per rule'));
      const rows = lines.slice(start + 3, lines.indexOf('', start)).map((l) => l.trim().split(/\s{2,}/));
      expect(rows).toEqual([
        // The published rules: dns and web moved, so they count from the change.
        ['sg', 'inbound', '0', 'accept', 'dns', '0', '0'],
        ['sg', 'inbound', '1', 'accept', 'web', '1', '40'],
        // The rules of policy 1 that decided packets, each with its own description.
        ['sg', 'inbound', '0', 'accept', 'ssh (a rule of policy version 1, since edited, moved or removed)', '1', '40'],
        ['sg', 'inbound', '1', 'accept', 'dns (a rule of policy version 1, since edited, moved or removed)', '1', '31'],
        ['sg', 'inbound', '2', 'accept', 'web (a rule of policy version 1, since edited, moved or removed)', '1', '40'],
        ['(none)', 'drop', 'default drop: no rule matched', '0', '0'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('records that claim fewer bytes on the wire than they hold', () => {
  it('pcap (original length 0, 1 of 40 captured) and pcapng (40 of 10): each such packet is dropped malformed, as tcpdump refuses it, and the replay reads on', () => {
    requireBuild();
    const dir = tmp();
    try {
      const L = '10.0.0.1';
      const R = '192.0.2.9';
      const cfg = join(dir, 'p.json');
      writeFileSync(cfg, JSON.stringify({ securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 22, source: 'any', action: 'accept' }] }], instances: [{ id: 'i1', securityGroups: ['sg'], addresses: [L] }] }));
      const d = ipv4({ src: R, dst: L, proto: 6, payload: tcp({ sport: 1, dport: 22, flags: TCP_FLAGS.SYN }) });
      const pcap = join(dir, 'c.pcap');
      writeFileSync(pcap, encodePcap({ le: true, nanos: false, snaplen: 65_535, linkType: LINK.RAW, packets: [0, 1, 40].map((len, k) => ({ data: d, originalLength: len, seconds: 1 + k, frac: 0 })) }).bytes);
      const ng = join(dir, 'c.pcapng');
      const blocks: NgBlock[] = [{ kind: 'idb', iface: { linkType: LINK.RAW, snaplen: 0 } }, { kind: 'epb', interfaceId: 0, timestamp: 1_000_000n, data: d, originalLength: 10 }, { kind: 'epb', interfaceId: 0, timestamp: 2_000_000n, data: d, originalLength: 40 }];
      writeFileSync(ng, encodePcapng([{ le: true, blocks }]).bytes);
      for (const [capture, want] of [[pcap, ['malformed', 'malformed', 'rule']], [ng, ['malformed', 'rule']]] as const) {
        const run = cli(['replay', cfg, capture, '--verdicts', join(dir, 'v.jsonl'), '--no-progress']);
        expect(run.status).toBe(0);
        expect(parseVerdicts(readFileSync(join(dir, 'v.jsonl'), 'utf8')).map((v) => v.reason)).toEqual(want);
        // Bytes count what was captured when the record claims less (40 each here).
        expect(run.stdout).toContain(`(${want.length * 40} bytes on the wire)`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the summary at a damaged pcapng block', () => {
  it('counts the bytes before the damaged block as read, and says "the 1 packet … was"', () => {
    requireBuild();
    const dir = tmp();
    try {
      const cfg = join(dir, 'p.json');
      writeFileSync(cfg, JSON.stringify({ securityGroups: [{ id: 'sg', inbound: [] }], instances: [{ id: 'i1', securityGroups: ['sg'], addresses: ['10.0.0.1'] }] }));
      const d = ipv4({ src: '192.0.2.9', dst: '10.0.0.1', proto: 6, payload: tcp({ sport: 1, dport: 22, flags: TCP_FLAGS.SYN }) });
      const blocks: NgBlock[] = [{ kind: 'idb', iface: { linkType: LINK.RAW, snaplen: 0 } }, { kind: 'epb', interfaceId: 0, timestamp: 1n, data: d, originalLength: d.length }, { kind: 'epb', interfaceId: 5, timestamp: 2n, data: d, originalLength: d.length }];
      const { bytes, blockOffsets } = encodePcapng([{ le: true, blocks }]);
      const capture = join(dir, 'bad.pcapng');
      writeFileSync(capture, bytes);
      const run = cli(['replay', cfg, capture, '--no-progress']);
      expect(run.status).not.toBe(0);
      expect(run.stdout).toContain(`; ${blockOffsets[3]} bytes read)`);
      expect(run.stderr).toContain(`the 1 packet before the damaged record at byte ${blockOffsets[3]} was classified and written, and is counted above`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('several link types', () => {
  it('an interface of another link type declared after 8,192 packets: a .pcap output is rewritten as pcapng, every packet kept in order; stdout cannot be', () => {
    requireBuild();
    const dir = tmp();
    try {
      const cfg = join(dir, 'policy.yaml');
      writeFileSync(cfg, stringify(LOOPBACK_CONFIG));
      const source = packetsOf(readFileSync(join(CAPTURES, 'lo-micro.pcap')));
      const blocks: NgBlock[] = [{ kind: 'idb', iface: { linkType: 1, snaplen: 262_144, tsresol: 9 } }];
      let t = 1_700_000_000n * 1_000_000_000n;
      for (let k = 0; k < 9_000; k++) blocks.push({ kind: 'epb', interfaceId: 0, timestamp: (t += 1_000_000n), data: source[k % 30]!.data, originalLength: source[k % 30]!.data.length });
      // Then raw IP: the same packets without their 14-byte Ethernet header.
      blocks.push({ kind: 'idb', iface: { linkType: 101, snaplen: 262_144, tsresol: 9 } });
      for (let k = 0; k < 30; k++) blocks.push({ kind: 'epb', interfaceId: 1, timestamp: (t += 1_000_000n), data: source[k]!.data.subarray(14), originalLength: source[k]!.data.length - 14 });
      const capture = join(dir, 'mixed.pcapng');
      const bytes = encodePcapng([{ le: true, blocks }]).bytes;
      writeFileSync(capture, bytes);
      const packets = packetsOf(bytes);
      const run = cli(['replay', cfg, capture, '--local', '::1', '--accepted', join(dir, 'a.pcap'), '--dropped', join(dir, 'd.pcap'), '--verdicts', join(dir, 'v.jsonl')]);
      expect(run.status).toBe(0);
      expect(run.stdout).toContain(`note: --accepted ${join(dir, 'a.pcap')}: rewritten as pcapng`);
      const verdicts = parseVerdicts(readFileSync(join(dir, 'v.jsonl'), 'utf8'));
      expect(verdicts.length).toBe(9_030);
      const accepted = packetsOf(readFileSync(join(dir, 'a.pcap')));
      expect(readFileSync(join(dir, 'a.pcap')).readUInt32LE(0)).toBe(0x0a0d0d0a); // pcapng now
      expect(accepted.map(strip)).toEqual(packets.filter((_, i) => verdicts[i]!.action === 'accept').map(strip));
      expect(accepted.filter((p) => p.linkType === 101).length).toBeGreaterThan(0);
      expect(packetsOf(readFileSync(join(dir, 'd.pcap'))).map(strip)).toEqual(packets.filter((_, i) => verdicts[i]!.action === 'drop').map(strip));

      const piped = spawnSync(process.execPath, [cliPath, 'replay', cfg, capture, '--local', '::1', '--accepted', '-'], { timeout: 60_000, maxBuffer: 1 << 26 });
      expect(piped.status).toBe(1);
      expect(piped.stderr.toString()).toContain('stdout cannot be rewritten as pcapng: write to a file named .pcapng instead');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('damaged captures and bad input', () => {
  const cfgText = stringify(LOOPBACK_CONFIG);

  it('a truncated capture: the packets before the cut are classified, written and reported; the error names the code, file and byte offset', () => {
    const dir = tmp();
    try {
      const cfg = join(dir, 'policy.yaml');
      writeFileSync(cfg, cfgText);
      const whole = new Uint8Array(readFileSync(join(CAPTURES, 'lo-micro.pcap')));
      const all = readAllSync(readCapture(whole)).packets;
      const cutRecord = all[17]!.recordOffset;
      const cut = cutRecord + 20; // inside packet 18's record
      const capture = join(dir, 'cut.pcap');
      writeFileSync(capture, whole.subarray(0, cut));
      const run = cli(['replay', cfg, capture, '--local', '::1', ...outputs(dir)]);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`CAPTURE_TRUNCATED: ${capture}: byte ${cut}:`);
      expect(run.stderr).toContain(`the 17 packets before the damaged record at byte ${cutRecord}`);
      expect(run.stdout).toContain('sgfilter replay: 17 packets');
      const packets = packetsOf(whole).slice(0, 17);
      const { verdicts } = model(packets, { config: parseConfig(LOOPBACK_CONFIG), own: [{ v6: false, lo: 0x7f000001n, hi: 0x7f000001n }, { v6: true, lo: 1n, hi: 1n }], timeouts: DEFAULTS, capacity: 65_536, recheck: false });
      expect(parseVerdicts(readFileSync(join(dir, 'v.jsonl'), 'utf8'))).toEqual(verdicts.map((v, i) => line(i + 1, v)));
      expect(packetsOf(readFileSync(join(dir, 'a.pcapng'))).map(strip)).toEqual(packets.filter((_, i) => verdicts[i]!.action === 'accept').map(strip));
      expect(packetsOf(readFileSync(join(dir, 'd.pcap'))).map(strip)).toEqual(packets.filter((_, i) => verdicts[i]!.action === 'drop').map(strip));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a corrupt record part-way (an impossible length): CAPTURE_INVALID with its byte offset, the packets before it kept', () => {
    const dir = tmp();
    try {
      const cfg = join(dir, 'policy.yaml');
      writeFileSync(cfg, cfgText);
      const packets = Array.from({ length: 5 }, (_, k) => ({ data: new Uint8Array(60).fill(k), originalLength: 60, seconds: 1_700_000_000 + k, frac: 0 }));
      const { bytes, recordOffsets } = encodePcap({ le: true, nanos: false, snaplen: 65_535, linkType: 1, packets });
      const view = new DataView(bytes.buffer);
      view.setUint32(recordOffsets[3]! + 8, 0x7fffffff, true); // incl_len of record 4
      const capture = join(dir, 'bad.pcap');
      writeFileSync(capture, bytes);
      const run = cli(['replay', cfg, capture, ...outputs(dir)]);
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(new RegExp(`CAPTURE_INVALID: .*bad\\.pcap: byte ${recordOffsets[3]! + 8}`));
      expect(run.stderr).toContain(`the 3 packets before the damaged record at byte ${recordOffsets[3]}`);
      // Ethernet frames of zeros, ones...: not IP, each dropped as not-ip and written to --dropped.
      expect(parseVerdicts(readFileSync(join(dir, 'v.jsonl'), 'utf8'))).toEqual([1, 2, 3].map((n) => ({ n, action: 'drop', reason: 'not-ip' })));
      expect(packetsOf(readFileSync(join(dir, 'd.pcap'))).length).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a file that is not a capture is refused before any output is created', () => {
    const dir = tmp();
    try {
      const cfg = join(dir, 'policy.yaml');
      writeFileSync(cfg, cfgText);
      const capture = join(dir, 'notes.txt');
      writeFileSync(capture, 'these are not packets\n');
      const run = cli(['replay', cfg, capture, ...outputs(dir)]);
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/^error: CAPTURE_INVALID: .*notes\.txt: byte 0: not a pcap or pcapng file/);
      for (const f of ['v.jsonl', 'a.pcapng', 'd.pcap']) expect(existsSync(join(dir, f))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad arguments: unknown instance, no addresses, a bad --local, an output over the capture, a bad config — each says what and where', () => {
    const dir = tmp();
    try {
      const cfg = join(dir, 'policy.yaml');
      writeFileSync(cfg, cfgText);
      const capture = join(CAPTURES, 'lo-micro.pcap');
      let run = cli(['replay', cfg, capture, '--instance', 'web-9']);
      expect([run.status, run.stderr]).toEqual([1, `error: unknown instance "web-9"; ${cfg} has: "lo"\n`]);

      const noAddr = join(dir, 'noaddr.yaml');
      writeFileSync(noAddr, stringify({ ...LOOPBACK_CONFIG, instances: [{ id: 'lo', securityGroups: ['sg-lo'] }] }));
      run = cli(['replay', noAddr, capture]);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('instance "lo" has no addresses');

      run = cli(['replay', cfg, capture, '--local', '10.0.0.0/33']);
      expect(run.status).toBe(2);
      expect(run.stderr).toContain('prefix length 33 is past 32');

      run = cli(['replay', cfg, capture, '--accepted', capture]);
      expect(run.status).toBe(2);
      expect(run.stderr).toContain('is the capture: writing it would destroy what is being read');

      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, 'securityGroups: [{id: a, inbound: [{protocol: TCP, port: 99999, source: any, action: accept}]}]\ninstances: [{id: i, securityGroups: [a]}]\n');
      run = cli(['replay', bad, capture, '--local', '127.0.0.1']);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('PORT_OUT_OF_RANGE at securityGroups[0].inbound[0].port');

      run = cli(['replay', cfg, join(dir, 'missing.pcap')]);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('missing.pcap does not exist');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
