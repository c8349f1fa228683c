/**
 * `sgfilter lint`: what in a policy does nothing, does it twice, opens too much, or
 * will not fit the cloud (lintPolicy), in words or JSON, with an exit status for CI.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { LINT_KINDS, LINT_PROFILES, LINT_SEVERITIES, lintPolicy, type LintFinding, type LintReport, type LintSeverity } from '../analysis/lint.js';
import type { Config, Direction } from '../types.js';
import { CliError, CONFIG_ARGUMENT, count, EXIT_INVALID, formatOption, loadConfig, plural, writeLines, type ConfigFormat } from './shared.js';
import { analysisOptions, verdictWords, wholeNumber } from './analysis-options.js';
import { portList } from '../analysis/options.js';

interface LintCliOptions {
  json?: boolean;
  failOn: LintSeverity | 'none';
  profile: 'tencent' | 'aws' | 'none';
  adminPorts?: string;
  maxRules?: number;
  maxGroups?: number;
  maxWork?: number;
  maxRegionBoxes?: number;
  format?: ConfigFormat;
}

/** The policy the files make: one file, or several that together make one policy (templates and groups beside the policies). */
async function loadPolicy(paths: string[], format?: ConfigFormat): Promise<Config> {
  return loadConfig(paths.length === 1 ? paths[0]! : paths, format);
}

const rank = (s: LintSeverity): number => LINT_SEVERITIES.indexOf(s);

/** The findings at or above `failOn`. */
export function failing(report: LintReport, failOn: LintSeverity | 'none'): LintFinding[] {
  return failOn === 'none' ? [] : report.findings.filter((f) => rank(f.severity) <= rank(failOn));
}

function textReport(path: string, report: LintReport): string[] {
  const by = (s: LintSeverity) => report.findings.filter((f) => f.severity === s).length;
  const out: string[] = [
    `${path}: ${plural(report.findings.length, 'finding')} (${by('error')} error, ${plural(by('warning'), 'warning')}, ${by('info')} info); ` +
      `${count(report.stats.rules, 'rule')} in ${plural(report.stats.chains, 'group order')} × direction analysed, profile ${report.profile}`,
  ];
  for (const f of report.findings) {
    out.push('', `${f.severity.padEnd(7)} ${f.kind}: ${f.message}`);
    if (f.instances.length > 0) out.push(`        instances: ${f.instances.join(', ')}`);
    if (f.witness) {
      const dir = f.witness.direction.toLowerCase() as Direction;
      const v = f.verdict ? ` → ${verdictWords(f.verdict, dir)}` : '';
      const w = f.withoutRule ? `; without the rule: ${verdictWords(f.withoutRule, dir)}` : '';
      out.push(`        witness: ${JSON.stringify(f.witness)}${v}${w}`);
    }
  }
  if (!report.complete) out.push('', 'the analysis limits stopped it before every rule was judged (see not-analyzed; raise --max-work or --max-region-boxes)');
  return out;
}

async function lintCommand(paths: string[], opts: LintCliOptions): Promise<void> {
  const config = await loadPolicy(paths, opts.format);
  const report = lintPolicy(config, {
    profile: opts.profile,
    ...(opts.adminPorts !== undefined ? { adminPorts: opts.adminPorts } : {}),
    ...(opts.maxRules !== undefined ? { maxRulesPerDirection: opts.maxRules } : {}),
    ...(opts.maxGroups !== undefined ? { maxGroupsPerInstance: opts.maxGroups } : {}),
    ...analysisOptions(opts),
  });
  if (opts.json) writeLines([JSON.stringify(report, null, 2)]);
  else writeLines(textReport(paths.join(' + '), report));
  const bad = failing(report, opts.failOn);
  if (bad.length > 0) throw new CliError(`lint: ${plural(bad.length, 'finding')} at or above --fail-on ${opts.failOn}`, EXIT_INVALID);
}

/**
 * --admin-ports checked when the command line is read (the reader lintPolicy uses), so
 * a bad value is a usage error (exit 2) like every other bad option value.
 */
function adminPortsArgument(v: string): string {
  const r = portList(v);
  if (!r.ok) throw new InvalidArgumentError(`--admin-ports takes ${r.allowed}, got ${JSON.stringify(v)}`);
  return v;
}

/** Adds the `lint` command to `program`. */
export function register(program: Command): void {
  const kinds = Object.entries(LINT_KINDS).map(([k, v]) => `  ${k} (${v.severity}): ${v.meaning}`).join('\n');
  program
    .command('lint')
    .description(
      'find rules that can never decide anything (shadowed, duplicate, never-matches), redundant rules, administration and database ports ' +
        'open to every address, and rule and group counts past the cloud\'s limits; exact, over the rule boxes of every instance and ' +
        'direction. Each finding about flows carries a witness flow (a JSON line `sgfilter eval` reads) that shows it',
    )
    .argument('<config...>', CONFIG_ARGUMENT)
    .option('--json', 'print the report as JSON (lintPolicy\'s LintReport)')
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a finding is at or above this severity (CI); default none: findings alone never fail the run').choices([...LINT_SEVERITIES, 'none']).default('none'))
    .addOption(new Option('--profile <cloud>', 'whose limits to check: tencent (100 rules per group and direction, 5 groups per instance), aws (60 per family, 5), none').choices([...LINT_PROFILES.keys()]).default('tencent'))
    .option('--admin-ports <ports>', 'ports that must not be open to 0.0.0.0/0 or ::/0, e.g. "22,8000-8100"; a leading + adds to the defaults 22,3389,3306,5432,6379,27017', adminPortsArgument)
    .option('--max-rules <n>', 'rules allowed per group and direction (overrides the profile)', wholeNumber('--max-rules'))
    .option('--max-groups <n>', 'groups allowed per instance (overrides the profile)', wholeNumber('--max-groups'))
    .option('--max-work <n>', 'most units of analysis work (default 2^25); past it the rules left are reported as not-analyzed', wholeNumber('--max-work'))
    .option('--max-region-boxes <n>', 'most boxes one rule\'s flows may be cut into (default 16384)', wholeNumber('--max-region-boxes'))
    .addOption(formatOption())
    .addHelpText('after', `\nFinding kinds:\n${kinds}\n\nExit codes: 0 done (no finding at or above --fail-on), 1 findings at or above --fail-on, an invalid config or option, 2 usage error.`)
    .action(lintCommand);
}
