/** `sgfilter check`: validate a config and print a summary. */
import type { Command } from 'commander';
import { formatPath } from '../errors.js';
import type { Rule } from '../types.js';
import { CliError, formatOption, invalidConfigMessage, plural, readConfig, terminalText, writeLines, type ConfigFormat } from './shared.js';
import { bigConfig, Progress, progressWanted } from './progress.js';

async function checkCommand(path: string, opts: { format?: ConfigFormat; progress?: boolean }): Promise<void> {
  // A big config takes seconds to parse and validate: say which phase it is in.
  const progress = Progress.create('check', progressWanted(opts) && (await bigConfig(path)));
  progress.start(undefined, { phase: 'reading' });
  let r;
  try {
    r = await readConfig(path, opts.format, progress);
  } finally {
    progress.stop();
  }
  if (!r.success) throw new CliError(invalidConfigMessage(path, r.issues));
  const { config } = r;
  const out: string[] = [`${path}: valid`, '', `${plural(config.securityGroups.length, 'security group')}:`];
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
  out.push('');
  if (config.warnings.length === 0) out.push('no warnings');
  else {
    out.push(`${plural(config.warnings.length, 'warning')}:`);
    for (const w of config.warnings) out.push(`  ${formatPath(w.path)}: ${w.message}`);
  }
  writeLines(out);
}

/** Adds the `check` command to `program`. */
export function register(program: Command): void {
  program
    .command('check')
    .description('validate a config file (JSON or YAML; Tencent Cloud API JSON too) and print a summary')
    .argument('<config>', 'config file (.json, .yaml, .yml)')
    .addOption(formatOption())
    .option('--no-progress', 'no progress line (drawn on stderr for configs of 1 MiB or more, only when stderr is a terminal)')
    .action(checkCommand);
}
