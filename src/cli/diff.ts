/**
 * `sgfilter diff`: every flow whose verdict changes between two policies (diffPolicies),
 * per instance and direction, as boxes with old and new verdicts and a witness each;
 * `--fail-on-open` for CI.
 */
import type { Command } from 'commander';
import { diffPolicies, type PolicyDiff, type VerdictChange } from '../analysis/diff.js';
import type { BoxText } from '../analysis/points.js';
import type { Config } from '../types.js';
import { addressesText } from '../analysis/points.js';
import { line } from '../analysis/space.js';
import { CliError, EXIT_INVALID, EXIT_USAGE, formatOption, grouped, loadConfig, plural, terminalText, writeLines, type ConfigFormat } from './shared.js';
import { analysisOptions, verdictWords, wholeNumber } from './analysis-options.js';

interface DiffCliOptions {
  /** --old FILE...: the policy now, as the files that together make it. */
  old?: string[];
  /** --new FILE...: the policy proposed, likewise. */
  new?: string[];
  json?: boolean;
  failOnOpen?: boolean;
  maxWork?: number;
  maxRegionBoxes?: number;
  format?: ConfigFormat;
}

/** Address lists longer than this are cut in text output (first few, then "… N more"); --json keeps them whole. */
export const TEXT_MAX_ADDRESSES = 8;
/** How many a cut list shows. */
const TEXT_SHOWN_ADDRESSES = 5;

/**
 * Address set ids by the text of their addresses (as BoxText writes them, joined with
 * ","), from the configs given (the first config's id wins a tie): a box whose peer is
 * exactly a named set is written as the set's name, not its ranges.
 */
export function setNames(...configs: Pick<Config, 'addressSets'>[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of configs) {
    for (const s of c.addressSets ?? []) {
      const key = addressesText(line(s.addresses.v4, s.addresses.v6)).join(',');
      if (!out.has(key)) out.set(key, s.id);
    }
  }
  return out;
}

/** An address list in words: a named set's name, a short list whole, a long one cut ("… N more"). */
function addressWords(list: readonly string[], sets: ReadonlyMap<string, string>): string {
  const named = sets.get(list.join(','));
  if (named !== undefined && list.length > 1) return `address set ${terminalText(named)} (${plural(list.length, 'range')})`;
  if (list.length <= TEXT_MAX_ADDRESSES) return list.join(', ');
  return `${list.slice(0, TEXT_SHOWN_ADDRESSES).join(', ')} … ${grouped(list.length - TEXT_SHOWN_ADDRESSES)} more (--json lists them all)`;
}

/** A box's flows in words: "TCP port 22 from 10.0.0.0/8"; fields that take every value are left out. */
export function flowsWords(b: BoxText, direction: string, sets: ReadonlyMap<string, string> = new Map()): string {
  const parts: string[] = [b.protocol === 'ALL' ? 'every protocol' : b.protocol];
  if (b.port !== 'ALL') parts.push(`port ${b.port}`);
  parts.push(`${direction === 'inbound' ? 'from' : 'to'} ${addressWords(b.remote, sets)}`);
  if (!(b.local.length === 1 && b.local[0] === 'ALL')) parts.push(`local ${addressWords(b.local, sets)}`);
  if (b.sourcePort !== 'ALL') parts.push(`source port ${b.sourcePort}`);
  if (b.icmpType !== 'ALL' && b.icmpType !== 'none') parts.push(`ICMP type ${b.icmpType}`);
  if (b.icmpCode !== 'ALL' && b.icmpCode !== 'none') parts.push(`ICMP code ${b.icmpCode}`);
  return parts.join(' ');
}

function whose(c: VerdictChange): string {
  if (c.unnamedInstance) return 'flows that name no instance (the default instance changed)';
  return `${c.instances.length === 1 ? 'instance' : 'instances'} ${c.instances.map((i) => terminalText(i)).join(', ')}`;
}

function textReport(oldPath: string, newPath: string, d: PolicyDiff, sets: ReadonlyMap<string, string>): string[] {
  const out: string[] = [`${oldPath} → ${newPath}: ${d.changes.length === 0 ? 'no flow changes verdict' : `${plural(d.changes.length, 'box', 'boxes')} of flows change verdict (${d.opened} opened, ${d.closed} closed)`}`];
  if (d.instancesAdded.length) out.push(`instances only in ${newPath}: ${d.instancesAdded.map((i) => terminalText(i)).join(', ')} (not compared)`);
  if (d.instancesRemoved.length) out.push(`instances only in ${oldPath}: ${d.instancesRemoved.map((i) => terminalText(i)).join(', ')} (not compared)`);
  if (d.defaultInstance) out.push(`the default instance (for flows that name none) moves from ${terminalText(d.defaultInstance.old ?? '(none)')} to ${terminalText(d.defaultInstance.new ?? '(none)')}`);
  let head = '';
  for (const c of d.changes) {
    const h = `${whose(c)}, ${c.direction}:`;
    if (h !== head) out.push('', h);
    head = h;
    const world = c.openToWorld ? ' — open to every address' : '';
    out.push(`  ${c.change.toUpperCase()}${world}: ${flowsWords(c.flows, c.direction, sets)}`);
    out.push(`    was ${verdictWords(c.old, c.direction)}, now ${verdictWords(c.new, c.direction)}`);
    out.push(`    witness: ${JSON.stringify(c.witness)}`);
  }
  return out;
}

/**
 * The two policies' files: `diff OLD NEW` (one file each), or `--old FILE... --new
 * FILE...` where a side is several files that together make one policy (a Tencent
 * policy beside its template outputs). Mixing the two forms is a usage error: which
 * file belongs to which side would be a guess.
 */
export function diffSides(oldPath: string | undefined, newPath: string | undefined, opts: Pick<DiffCliOptions, 'old' | 'new'>): { old: string[]; new: string[] } {
  const usage = (why: string) => new CliError(`error: diff ${why}; give OLD NEW (one file each), or --old FILE... --new FILE... (several files that make one policy each)`, EXIT_USAGE);
  if (opts.old !== undefined || opts.new !== undefined) {
    if (oldPath !== undefined) throw usage(`takes files as OLD NEW or with --old/--new, not both (got ${[oldPath, newPath].filter((x) => x !== undefined).join(' ')} beside --old/--new)`);
    if (!opts.old?.length) throw usage('--new needs --old');
    if (!opts.new?.length) throw usage('--old needs --new');
    return { old: opts.old, new: opts.new };
  }
  if (oldPath === undefined || newPath === undefined) throw usage(`needs two policies (got ${oldPath === undefined ? 'none' : 'one'})`);
  return { old: [oldPath], new: [newPath] };
}

const load = (files: string[], format?: ConfigFormat) => loadConfig(files.length === 1 ? files[0]! : files, format);

async function diffCommand(oldPath: string | undefined, newPath: string | undefined, opts: DiffCliOptions): Promise<void> {
  const sides = diffSides(oldPath, newPath, opts);
  const before = await load(sides.old, opts.format);
  const after = await load(sides.new, opts.format);
  const d = diffPolicies(before, after, analysisOptions(opts));
  if (opts.json) writeLines([JSON.stringify(d, null, 2)]);
  else writeLines(textReport(sides.old.join(' + '), sides.new.join(' + '), d, setNames(after, before)));
  if (opts.failOnOpen && d.openToWorld) {
    const n = d.changes.filter((c) => c.openToWorld).length;
    throw new CliError(`diff: ${plural(n, 'box', 'boxes')} of flows from 0.0.0.0/0 or ::/0 go from drop to accept (--fail-on-open)`, EXIT_INVALID);
  }
}

/** Adds the `diff` command to `program`. */
export function register(program: Command): void {
  program
    .command('diff')
    .description(
      'list exactly the flows whose verdict (accept or drop) changes from OLD to NEW, per instance and direction, as boxes ' +
        '(protocol, ports, peers, the other fields) with the rules that decide them before and after and a witness flow each ' +
        '(a JSON line `sgfilter eval` reads); computed over the rule boxes, never by sampling',
    )
    .argument('[old]', 'the policy now (.json, .yaml, .yml); several files: --old')
    .argument('[new]', 'the policy proposed; several files: --new')
    .option('--old <files...>', 'the policy now as several files that together make one policy (policies beside their Tencent template outputs, instances, sets), instead of OLD')
    .option('--new <files...>', 'the policy proposed as several files, instead of NEW')
    .option('--json', 'print the diff as JSON (diffPolicies\' PolicyDiff)')
    .option('--fail-on-open', 'exit 1 when flows from a rule open to 0.0.0.0/0 or ::/0 go from drop to accept (inbound)')
    .option('--max-work <n>', 'most units of analysis work (default 2^25); past it the diff is refused (ANALYSIS_TOO_LARGE), never partial', wholeNumber('--max-work'))
    .option('--max-region-boxes <n>', 'most boxes one region may be cut into (default 16384)', wholeNumber('--max-region-boxes'))
    .addOption(formatOption())
    .addHelpText('after', '\nExamples:\n  sgfilter diff old.yaml new.yaml\n  sgfilter diff --old policies.json templates.json --new policies-next.json templates.json\n\nExit codes: 0 done (with or without changes), 1 --fail-on-open and a flow opened to every address, an invalid config, or the analysis limits reached, 2 usage error.')
    .action(diffCommand);
}
