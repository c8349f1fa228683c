/** `sgfilter explain`: walk the rules for one flow, in plain words. */
import type { Command } from 'commander';
import { listOf, quote } from '../config/plain.js';
import { createEngine } from '../index.js';
import { validateFlow } from '../flow.js';
import { referenceExplain } from '../reference.js';
import type { Issue } from '../errors.js';
import { CliError, CONFIG_ARGUMENT, formatOption, loadConfig, ruleLabel, sameVerdict, verdictJson, writeLines, type ConfigFormat } from './shared.js';
import { flowText } from './flows.js';
import { parseJsonText } from '../config/text.js';

async function explainCommand(configPath: string[], opts: { flow: string; format?: ConfigFormat }): Promise<void> {
  const config = await loadConfig(configPath, opts.format);
  let raw: unknown;
  try {
    raw = parseJsonText(opts.flow, '--flow');
  } catch (e) {
    throw new CliError(`error: ${(e as Error).message}\n  example: --flow '{"direction":"inbound","protocol":"TCP","port":22,"remote":"198.51.100.7"}'`);
  }
  const issues: Issue[] = [];
  const flow = validateFlow(raw, [], issues);
  if (!flow) throw new CliError(`error: --flow is not a valid flow:\n${issues.map((i) => `  ${i.message}`).join('\n')}`);
  const instanceId = flow.instance ?? config.instances[0]!.id;
  const instance = config.instances.find((i) => i.id === instanceId);
  if (!instance) {
    throw new CliError(`error: unknown instance ${quote(instanceId)}; the config has: ${listOf(config.instances, (i) => quote(i.id))}`);
  }

  const { verdict, steps } = referenceExplain(config, flow);
  const out: string[] = [
    `flow: ${flowText(raw as Record<string, unknown>, config)}`,
    `instance ${instance.id}${flow.instance === null ? ' (the default instance)' : ''}: groups ${instance.securityGroups.join(' > ') || '(none)'} (highest priority first); ${flow.direction} rules considered`,
    '',
  ];
  for (const { rule, reason } of steps) {
    out.push(reason === null ? `${ruleLabel(rule)}: MATCH → ${rule.action}` : `${ruleLabel(rule)}: no match — ${reason}`);
  }
  if (steps.length === 0) out.push(`(no ${flow.direction} rules in any of the instance's groups)`);
  out.push('');
  if (verdict.groupId === null) {
    const closed = flow.direction === 'inbound' ? 'inbound is closed by default' : 'outbound is closed unless a rule opens it';
    out.push(`verdict: drop — no rule matched, the default applies (${closed})`);
  } else {
    out.push(`verdict: ${verdict.action} — decided by group ${verdict.groupId} ${flow.direction} rule ${verdict.ruleIndex}`);
  }
  writeLines(out);

  const engine = await createEngine(config);
  const fast = engine.classify(flow);
  if (!sameVerdict(fast, verdict)) {
    throw new CliError(
      `WARNING: ENGINE AND REFERENCE DISAGREE: the WASM engine says ${verdictJson(fast)}, the reference matcher says ${verdictJson(verdict)}. This is a bug in sgfilter; please report it with this config and flow.`,
    );
  }
}

/** Adds the `explain` command to `program`. */
export function register(program: Command): void {
  program
    .command('explain')
    .description('explain the verdict for one flow: each rule tried, why it did not match, and the one that decided')
    .argument('<config...>', CONFIG_ARGUMENT)
    .requiredOption('--flow <json>', 'the flow as JSON, e.g. \'{"direction":"inbound","protocol":"TCP","port":22,"remote":"198.51.100.7"}\'')
    .addOption(formatOption())
    .action(explainCommand);
}
