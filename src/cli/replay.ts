/**
 * `sgfilter replay CONFIG CAPTURE`: a capture through a stateful packet filter
 * (SPEC §7–§8) with one instance's policy, as that instance's security groups would
 * have treated its packets.
 *
 * Streams in constant memory: the capture reader's batches (8,192 packets) go to one
 * tracker in capture order (replay-run.ts), and the accepted and dropped packets and
 * the verdict lines are written as each batch is done (replay-outputs.ts), with
 * backpressure. The capture's timestamps are the tracker's only clock. It ends with
 * the report of replay-report.ts.
 *
 * A capture that is damaged part-way (truncated, a corrupt record) is replayed up to
 * the damage, as tcpdump does: every packet before it is classified and written, the
 * report is printed, and the error (with its byte offset) ends the run with exit 1,
 * tcpdump's status for a truncated file. A file that is not a capture at all (or
 * cannot be read) is refused before any output is created.
 */
import { realpathSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CaptureBatch } from '../capture/batch.js';
import { CaptureError } from '../capture/errors.js';
import { readCapture, type CaptureReader } from '../capture/reader.js';
import { listOf, quote } from '../config/plain.js';
import { parseOwnAddresses } from '../config/parse.js';
import { createEngine } from '../index.js';
import { errnoCode, fileErrorText } from '../node/fs-errors.js';
import { openCaptureFile } from '../node/capture-file.js';
import type { ConnectionTimeouts } from '../packets/tracker.js';
import type { AddressRange, AddressSet, Config } from '../types.js';
import { Progress, progressWanted } from './progress.js';
import { collectLocal, collectPolicyChange, collectTimeout, parseCapacity, type PolicyChangeSpec } from './replay-options.js';
import { CaptureOutput, TextOutput, declaredLinkTypes } from './replay-outputs.js';
import { replayReport } from './replay-report.js';
import { ReplayRun, type PolicyChange } from './replay-run.js';
import { CliError, EXIT_USAGE, count, formatOption, grouped, loadConfig, writeError, writeLines, type ConfigFormat } from './shared.js';

/** Packets per batch from the reader (its default): one WASM call per batch. */
const BATCH = 8192;

interface ReplayOptions {
  instance?: string;
  local?: string[];
  accepted?: string;
  dropped?: string;
  verdicts?: string;
  recheck?: boolean;
  policyChange?: PolicyChangeSpec[];
  capacity?: number;
  timeout?: Partial<ConnectionTimeouts>;
  format?: ConfigFormat;
  progress?: boolean;
}

/** A rate in three figures: 950, 84.5 k, 3.38 M. */
function shortRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toPrecision(3)} M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toPrecision(3)} k`;
  return String(Math.round(perSecond));
}

/**
 * The progress line's counts: the rate first, so a narrow terminal cuts the count,
 * not the rate; from the first redraw on (≥ 0.1 s), as a replay of a million packets
 * may take well under a second.
 */
function progressDetail(packets: number, startedMs: number): string {
  const seconds = (performance.now() - startedMs) / 1000;
  return seconds >= 0.1 ? `${shortRate(packets / seconds)} packets/s, ${grouped(packets)} packets` : `${grouped(packets)} packets`;
}

/** The same file, by path (outputs that do not exist yet compare by absolute path). */
function samePath(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(a) === real(b);
}

/** Outputs: at most one on stdout, none the same file as another, the capture or a config. */
function checkOutputs(outputs: [string, string][], inputs: [string, string][]): void {
  const toStdout = outputs.filter(([, p]) => p === '-');
  if (toStdout.length > 1) throw new CliError(`error: ${toStdout.map(([o]) => o).join(' and ')} both name stdout (-); one output at most can go there`, EXIT_USAGE);
  const files = outputs.filter(([, p]) => p !== '-');
  files.forEach(([option, path], k) => {
    for (const [other, otherPath] of files.slice(k + 1)) {
      if (samePath(path, otherPath)) throw new CliError(`error: ${option} and ${other} name the same file (${path}); give each its own`, EXIT_USAGE);
    }
    for (const [what, input] of inputs) {
      if (input !== '-' && samePath(path, input)) throw new CliError(`error: ${option} ${path} is the ${what}: writing it would destroy what is being read`, EXIT_USAGE);
    }
  });
}

function mergeRanges(ranges: AddressRange[]): AddressRange[] {
  const sorted = [...ranges].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const out: AddressRange[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last && r.lo <= last.hi + 1n) {
      if (r.hi > last.hi) last.hi = r.hi;
    } else out.push({ lo: r.lo, hi: r.hi });
  }
  return out;
}

/** The instance's own addresses: its `addresses` in `config` and --local. */
function ownAddresses(config: Config, instance: string, local: AddressSet): { v4: AddressRange[]; v6: AddressRange[] } {
  const own = config.instances.find((i) => i.id === instance)?.addresses;
  return { v4: mergeRanges([...(own?.v4 ?? []), ...local.v4]), v6: mergeRanges([...(own?.v6 ?? []), ...local.v6]) };
}

/** The capture named `path` (`-`: stdin), checked to be readable before anything is created. */
async function openCapture(path: string): Promise<{ reader: CaptureReader; name: string; size: number | undefined }> {
  if (path === '-') {
    if (process.stdin.isTTY) throw new CliError('error: the capture is stdin (-), which is a terminal; pipe a capture in (tcpdump -w - | sgfilter replay CONFIG -)', EXIT_USAGE);
    return { reader: readCapture(process.stdin, { name: 'stdin', batchSize: BATCH }), name: 'stdin', size: undefined };
  }
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw new CliError(`error: capture: ${fileErrorText(e, path, 'read')}`);
  }
  if (info.isDirectory()) throw new CliError(`error: capture: ${path} is a folder, not a file`);
  return { reader: openCaptureFile(path, { name: path, batchSize: BATCH }), name: path, size: info.isFile() ? info.size : undefined };
}

/** A capture reading error in words: the CaptureError's own message (file, byte offset), or the file system's. */
function readErrorText(e: unknown, name: string): string | undefined {
  if (e instanceof CaptureError) return `${e.code}: ${e.message}`;
  if (errnoCode(e) !== undefined) return fileErrorText(e, name, 'read');
  return undefined;
}

async function replayCommand(configPath: string, capturePath: string, opts: ReplayOptions): Promise<void> {
  const outputs: [string, string][] = [];
  for (const [option, path] of [['--accepted', opts.accepted], ['--dropped', opts.dropped], ['--verdicts', opts.verdicts]] as const) {
    if (path !== undefined) outputs.push([option, path]);
  }
  const changeSpecs = opts.policyChange ?? [];
  checkOutputs(outputs, [['capture', capturePath], ['config', configPath], ...changeSpecs.map((c) => [`config of --policy-change ${c.text}`, c.path] as [string, string])]);

  // Policies: every config is read and checked before the capture is opened.
  const config = await loadConfig(configPath, opts.format);
  const changes: PolicyChange[] = [];
  for (const spec of changeSpecs) {
    let next: Config;
    try {
      next = await loadConfig(spec.path, opts.format);
    } catch (e) {
      if (e instanceof CliError) throw new CliError(`${e.message}\n  (the config of --policy-change ${spec.text})`, e.exitCode);
      throw e;
    }
    changes.push({ spec, config: next });
  }
  const instance = opts.instance ?? config.instances[0]?.id;
  if (instance === undefined || !config.instances.some((i) => i.id === instance)) {
    throw new CliError(`error: unknown instance ${quote(String(instance))}; ${configPath} has: ${listOf(config.instances, (i) => quote(i.id))}`);
  }
  for (const c of changes) {
    if (!c.config.instances.some((i) => i.id === instance)) {
      throw new CliError(`error: --policy-change ${c.spec.text}: ${c.spec.path} has no instance ${quote(instance)} (it has: ${listOf(c.config.instances, (i) => quote(i.id))}); the replayed instance must stay in the policy`);
    }
  }
  const local: AddressSet = { v4: [], v6: [] };
  if (opts.local?.length) {
    const issues: Parameters<typeof parseOwnAddresses>[3] = [];
    const set = parseOwnAddresses(opts.local, ['local'], '--local', issues);
    if (!set) throw new CliError(`error: ${issues.map((i) => i.message).join('; ')}`, EXIT_USAGE);
    local.v4.push(...set.v4);
    local.v6.push(...set.v6);
  }
  const addresses = ownAddresses(config, instance, local);
  if (addresses.v4.length + addresses.v6.length === 0) {
    throw new CliError(
      `error: instance ${quote(instance)} has no addresses, so no packet could be its: a packet is inbound when it is to one of the instance's addresses and outbound when it is from one.\n` +
        `  Give them with --local (e.g. --local 10.0.0.5 --local 2001:db8::5, CIDRs and ranges too) or as "addresses" on the instance in ${configPath}`,
    );
  }
  if (opts.recheck && changes.length === 0) {
    writeError('sgfilter replay: note: --recheck only acts at a policy change (--policy-change AT:CONFIG); with one policy there is nothing to re-check');
  }

  const engine = await createEngine(config);
  const tracker = engine.createTracker({
    instance,
    ...(opts.local?.length ? { local: opts.local } : {}),
    ...(opts.capacity !== undefined ? { capacity: opts.capacity } : {}),
    ...(opts.timeout ? { timeouts: opts.timeout } : {}),
    recheckOnPublish: opts.recheck === true,
  });
  const capture = await openCapture(capturePath);
  const reader = capture.reader;
  const toStdout = outputs.some(([, p]) => p === '-');
  const progress = Progress.create('replay', progressWanted({ progress: opts.progress, streamsStdout: toStdout }));
  const run = new ReplayRun({ engine, tracker, changes, verdictLines: opts.verdicts !== undefined, batchSize: BATCH });
  const iterator = reader[Symbol.asyncIterator]();
  let readError: unknown;
  const next = async (): Promise<CaptureBatch | undefined> => {
    try {
      const r = await iterator.next();
      return r.done ? undefined : r.value;
    } catch (e) {
      if (readErrorText(e, capture.name) === undefined) throw e;
      readError = e;
      return undefined;
    }
  };

  const started = performance.now();
  progress.start(capture.size, { phase: '', detail: '' }); // "replay:" says it: the room goes to the rate
  // The first batch before any output exists: a file that is not a capture (or
  // cannot be read) is refused without creating or truncating anything.
  let batch = await next();
  if (readError !== undefined && reader.format === undefined) {
    progress.stop();
    throw new CliError(`error: ${readErrorText(readError, capture.name)}`);
  }
  let accepted: CaptureOutput | undefined;
  let dropped: CaptureOutput | undefined;
  let verdicts: TextOutput | undefined;
  try {
    if (opts.accepted !== undefined) accepted = await CaptureOutput.open('--accepted', opts.accepted, reader);
    if (opts.dropped !== undefined) dropped = await CaptureOutput.open('--dropped', opts.dropped, reader);
    if (opts.verdicts !== undefined) verdicts = await TextOutput.open('--verdicts', opts.verdicts);
    while (batch !== undefined) {
      const { flags, lines } = await run.classify(batch);
      await Promise.all([accepted?.write(batch, flags.accepted), dropped?.write(batch, flags.dropped), verdicts?.write(lines, batch.count)]);
      // The detail's text only when a line is drawn: formatting it costs a locale lookup per batch.
      if (progress.active) progress.update(reader.bytesRead, { detail: progressDetail(run.packets, started) });
      batch = await next();
    }
    await Promise.all([accepted?.close(), dropped?.close(), verdicts?.close()]);
  } catch (e) {
    progress.stop();
    await Promise.allSettled([accepted?.close(), dropped?.close(), verdicts?.close()]);
    throw e;
  } finally {
    progress.stop();
  }
  const elapsedMs = performance.now() - started;

  const written: string[] = [];
  for (const o of [accepted, dropped]) {
    if (o) written.push(`${o.option} ${o.path === '-' ? '(stdout)' : o.path}: ${count(o.packetsWritten, 'packet')} (${o.format})`);
  }
  if (verdicts) written.push(`--verdicts ${verdicts.path === '-' ? '(stdout)' : verdicts.path}: ${count(verdicts.lines, 'line')}`);
  const report = replayReport({
    capture: { name: capture.name, format: reader.format, linkTypes: declaredLinkTypes(reader), // At a damaged record the reader may not have moved past the chunk it failed in:
    // the bytes before that record were read.
    bytesRead: readError instanceof CaptureError ? Math.max(reader.bytesRead, readError.recordOffset) : reader.bytesRead },
    configPath,
    config,
    changes,
    instance,
    addresses,
    fromLocalOption: (opts.local?.length ?? 0) > 0,
    recheck: opts.recheck === true,
    run,
    stats: tracker.stats(),
    hits: tracker.ruleHits(),
    elapsedMs,
    written,
    notes: [...(accepted?.notes ?? []), ...(dropped?.notes ?? [])],
  });
  tracker.close();
  // The report is data unless an output took stdout; then it goes with the messages.
  if (toStdout) writeError(report.join('\n'));
  else writeLines(report);

  if (readError !== undefined) {
    const e = readError;
    const at = e instanceof CaptureError ? ` at byte ${e.recordOffset}` : '';
    throw new CliError(
      `error: ${readErrorText(e, capture.name)}\n` +
        `  the capture was replayed up to there: ${run.packets === 1 ? 'the 1 packet before the damaged record' + at + ' was' : `the ${count(run.packets, 'packet')} before the damaged record${at} were`} classified and written, and ${run.packets === 1 ? 'is' : 'are'} counted above`,
    );
  }
}

/** Adds the `replay` command to `program`. */
export function register(program: Command): void {
  program
    .command('replay')
    .description(
      'replay a capture (pcap or pcapng) through a stateful packet filter with one instance\'s policy: each packet is ' +
        'inbound when it is to one of the instance\'s addresses, outbound when from one; replies to accepted connections ' +
        'and ICMP errors about them pass (established, related), everything else is classified by the rules. ' +
        'Streams in constant memory; ends with hits per rule, verdicts by reason and state counts',
    )
    .argument('<config>', 'config file (.json, .yaml, .yml)')
    .argument('<capture>', 'capture file (pcap or pcapng, as tcpdump -w or dumpcap write them), or - for stdin')
    .option('--instance <id>', 'instance whose policy and addresses apply (default: the config\'s first)')
    .option('--local <cidr>', 'an address, CIDR or range of the instance, beside its "addresses" in the config (repeat it, or give a comma list)', collectLocal)
    .option('--accepted <file>', 'write the accepted packets (pcap; pcapng when the name ends .pcapng or the capture has several link types; - for stdout)')
    .option('--dropped <file>', 'write the dropped packets (as --accepted)')
    .option('--verdicts <file>', 'write one JSON line per packet, in capture order: {"n", "action", "reason"[, "groupId", "ruleIndex"]} (- for stdout)')
    .option('--policy-change <at:config>', 'publish CONFIG before packet number AT (1-based) or at capture time @SECONDS (repeatable)', collectPolicyChange)
    .option('--recheck', 'at a policy change, remove tracked connections whose opening flow the new policy drops (default: keep them, as AWS does)')
    .option('--capacity <n>', 'connections tracked at most (default 65,536); past it, packets that would open one are dropped as table-full', parseCapacity)
    .option('--timeout <name=seconds>', 'an idle timeout: tcpEstablished, tcpHandshake, tcpClosing, udpOneWay, udpBothWays, icmp, other, fragment (repeatable)', collectTimeout)
    .option('--no-progress', 'no progress bar (one is drawn on stderr only when it is a terminal)')
    .addOption(formatOption())
    .action(replayCommand);
}
