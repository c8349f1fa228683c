/** `sgfilter demo`: the seed scenarios: a verdict table and rule hits (what `npm start` runs). */
import type { Command } from 'commander';
import { join } from 'node:path';
import { CliError, decidedBy, displayPath, formatOption, loadConfig, packageRoot, plural, ruleText, table, writeLines, type ConfigFormat } from './shared.js';
import { classifyAll, flowText, readFlows } from './flows.js';

async function demoCommand(files: string[], opts: { format?: ConfigFormat }): Promise<void> {
  const root = packageRoot();
  // CONFIG... FLOWS: with two files or more, the last is the flows.
  const configPath = files.length === 0 ? [join(root, 'examples', 'seed-scenarios.yaml')] : files.length === 1 ? files : files.slice(0, -1);
  const flowsPath = files.length >= 2 ? files.at(-1)! : join(root, 'examples', 'flows.jsonl');
  const config = await loadConfig(configPath, opts.format);
  let flows: Awaited<ReturnType<typeof readFlows>>;
  try {
    flows = await readFlows(flowsPath, config);
  } catch (e) {
    // The example flows name the example config's instances and addresses: with a
    // config of the user's own they are mostly "unknown instance". Say that once.
    if (!(e instanceof CliError) || files.length !== 1) throw e;
    throw new CliError(
      `error: demo ${configPath.map(displayPath).join(' ')}: the example flows (${displayPath(flowsPath)}) are written for the example config ` +
        `(its instances and addresses), not for yours, so they do not fit it. Give flows of your own: ` +
        `sgfilter demo ${configPath.map(displayPath).join(' ')} FLOWS.jsonl (one JSON flow per line, docs/SEMANTICS.md "Flows"), ` +
        `or sgfilter eval / explain; sgfilter demo with no arguments runs the example.`,
    );
  }
  const verdicts = await classifyAll(config, flows);

  const out: string[] = [
    `sgfilter demo: ${plural(config.securityGroups.length, 'security group')}, ${plural(config.instances.length, 'instance')}, ${plural(flows.length, 'flow')}`,
    `  config: ${configPath.map((p) => displayPath(p)).join(' + ')}`,
    `  flows:  ${displayPath(flowsPath)}`,
    '',
  ];
  const rows = [['line', 'flow', 'verdict', 'decided by'], ...flows.map((f, i) => [
    String(f.line),
    flowText(f.raw, config),
    verdicts[i]!.action,
    decidedBy(verdicts[i]!, f.flow.direction),
  ])];
  const lines = table(rows, new Set([0]));
  out.push(lines[0]!, '-'.repeat(lines[0]!.length), ...lines.slice(1), '');

  // Hits per rule: every rule of every group, so unused rules show up as 0.
  const hits = new Map<string, number>();
  let defaultDrops = 0;
  flows.forEach((f, i) => {
    const v = verdicts[i]!;
    if (v.groupId === null) defaultDrops++;
    else {
      const key = `${v.groupId}\u0000${f.flow.direction}\u0000${v.ruleIndex}`;
      hits.set(key, (hits.get(key) ?? 0) + 1);
    }
  });
  const hitRows = [['group', 'direction', 'rule', 'action', 'description', 'hits']];
  for (const g of config.securityGroups) {
    for (const rule of [...g.inbound, ...g.outbound]) {
      const desc = rule.description ?? ruleText(rule);
      hitRows.push([g.id, rule.direction, String(rule.ruleIndex), rule.action, desc, String(hits.get(`${g.id}\u0000${rule.direction}\u0000${rule.ruleIndex}`) ?? 0)]);
    }
  }
  hitRows.push(['(none)', '', '', 'drop', 'default drop: no rule matched', String(defaultDrops)]);
  const hitLines = table(hitRows, new Set([2, 5]));
  out.push('rule hits:', hitLines[0]!, '-'.repeat(hitLines[0]!.length), ...hitLines.slice(1), '');

  const accepted = verdicts.filter((v) => v.action === 'accept').length;
  out.push(`totals: ${plural(flows.length, 'flow')}, ${accepted} accepted, ${flows.length - accepted} dropped (${defaultDrops} by the default drop)`);
  writeLines(out);
}

/** Adds the `demo` command to `program`. */
export function register(program: Command): void {
  program
    .command('demo')
    .description('classify flows and print a verdict table and per-rule hit counts (what `npm start` runs); without arguments, the example config and flows')
    .argument('[files...]', '[CONFIG... [FLOWS]]: the config file(s) (default: examples/seed-scenarios.yaml; several make one policy), then the JSON-lines flow file (default: examples/flows.jsonl, written for the example config: give your own with a config of your own)')
    .addOption(formatOption())
    .action(demoCommand);
}
