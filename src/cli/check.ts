/** `sgfilter check`: validate a config, compile it under the load limits, and print a summary. */
import type { Command } from 'commander';
import { formatPath } from '../errors.js';
import type { Rule } from '../types.js';
import { compilePolicy } from '../compile/index.js';
import { SgfilterError } from '../errors.js';
import { CliError, CONFIG_ARGUMENT, configName, formatIssue, formatOption, invalidConfigMessage, plural, readConfig, terminalText, writeLines, type ConfigFormat } from './shared.js';
import { bigConfigs, Progress, progressWanted } from './progress.js';

async function checkCommand(paths: string[], opts: { format?: ConfigFormat; progress?: boolean }): Promise<void> {
  // A big config takes seconds to parse and validate: say which phase it is in.
  const progress = Progress.create('check', progressWanted(opts) && (await bigConfigs(paths)));
  progress.start(undefined, { phase: 'reading' });
  let r;
  try {
    r = await readConfig(paths, opts.format, progress);
    // A valid config can still be one that loading refuses (TABLE_TOO_LARGE: too many
    // compile entries, table bytes or lookup steps). Compile it as createEngine would,
    // with the same limits (bounded: the limits refuse before the work), so `check`
    // says valid only for a policy that loads.
    if (r.success) {
      progress.phase(0, 'compiling');
      try {
        compilePolicy(r.config);
      } catch (e) {
        if (!(e instanceof SgfilterError) || e.code !== 'TABLE_TOO_LARGE') throw e;
        throw new CliError([`error: ${configName(paths)}: valid config, but too large to compile (TABLE_TOO_LARGE): createEngine, eval and compile refuse it`, ...(e.issues.length ? e.issues.map(formatIssue) : [`  ${e.message}`])].join('\n'));
      }
    }
  } finally {
    progress.stop();
  }
  if (!r.success) throw new CliError(invalidConfigMessage(paths, r.issues));
  const { config } = r;
  const out: string[] = [`${configName(paths)}: valid`, '', `${plural(config.securityGroups.length, 'security group')}:`];
  for (const g of config.securityGroups) {
    const count = (rules: Rule[]) => {
      const fromTemplate = rules.filter((x) => x.template).length;
      return `${plural(rules.length, 'rule')}${fromTemplate ? ` (${fromTemplate} from template ${g.template})` : ''}`;
    };
    const name = g.name ? ` "${terminalText(g.name)}"` : '';
    const template = g.template !== 'custom' ? ` [template ${g.template}]` : '';
    out.push(`  ${terminalText(g.id)}${name}${template}: inbound ${count(g.inbound)}, outbound ${count(g.outbound)}`);
  }
  out.push('');
  if (config.implicitInstance) {
    out.push(`1 instance (implicit): default, bound to all groups in file order: ${config.instances[0]!.securityGroups.map((g) => terminalText(g)).join(' > ') || '(none)'}`);
  } else {
    out.push(`${plural(config.instances.length, 'instance')} (groups in priority order, highest first):`);
    for (const inst of config.instances) out.push(`  ${terminalText(inst.id)}: ${inst.securityGroups.map((g) => terminalText(g)).join(' > ') || '(no groups: everything is dropped)'}`);
  }
  const sets = [[config.addressSets, 'address set'], [config.serviceSets, 'service set']] as const;
  for (const [list, word] of sets) {
    if (!list?.length) continue;
    out.push('', `${plural(list.length, word)}:`);
    for (const x of list) out.push(`  ${terminalText(x.id)}${x.name ? ` "${terminalText(x.name)}"` : ''}${x.sets ? ` = ${x.sets.map((m) => terminalText(m)).join(' + ')}` : ''}`);
  }
  out.push('');
  if (config.warnings.length === 0) out.push('no warnings');
  else {
    out.push(`${plural(config.warnings.length, 'warning')}:`);
    for (const w of config.warnings) out.push(`  ${w.file === undefined ? '' : `${w.file}: `}${formatPath(w.path)}: ${w.message}`);
  }
  writeLines(out);
}

/** Adds the `check` command to `program`. */
export function register(program: Command): void {
  program
    .command('check')
    .description('validate a config (JSON or YAML; Tencent Cloud and AWS API JSON too; several files make one policy), compile it under the limits loading applies (TABLE_TOO_LARGE: exit 1) and print a summary')
    .argument('<config...>', CONFIG_ARGUMENT)
    .addOption(formatOption())
    .option('--no-progress', 'no progress line (drawn on stderr for configs of 1 MiB or more, only when stderr is a terminal)')
    .action(checkCommand);
}
