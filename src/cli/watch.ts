/** `sgfilter watch`: publish each valid save of a config; report refused ones. */
import type { Command } from 'commander';
import { createEngine } from '../index.js';
import { createFlowBatch } from '../flow.js';
import { watchConfig } from '../node/watch.js';
import { SgfilterError, issueCount } from '../errors.js';
import type { Config } from '../types.js';
import { CliError, CONFIG_ARGUMENT, configName, EXIT_USAGE, formatIssue, formatOption, loadConfig, plural, terminalText, verdictJson, writeError, type ConfigFormat } from './shared.js';
import { readFlows } from './flows.js';

/**
 * Loads CONFIG, then publishes every valid save of it until SIGINT/SIGTERM: one line
 * per publish (with --flows, the flows' verdict counts and how many changed), and
 * for a refused save every issue with its path (stderr); the running policy stays.
 */
async function watchCommand(configPath: string[], opts: { flows?: string; debounce?: string; format?: ConfigFormat }): Promise<void> {
  const debounceMs = opts.debounce === undefined ? 200 : Number(opts.debounce);
  if (!Number.isFinite(debounceMs) || debounceMs < 0) throw new CliError(`error: --debounce must be milliseconds >= 0, got "${opts.debounce}"`, EXIT_USAGE);
  const config = await loadConfig(configPath, opts.format);
  const flows = opts.flows === undefined ? undefined : await readFlows(opts.flows, config);
  const engine = await createEngine(config);
  const time = () => new Date().toTimeString().slice(0, 8);
  const shape = (c: Config) => `${plural(c.securityGroups.length, 'security group')}, ${plural(c.instances.length, 'instance')}`;
  const batch = flows && createFlowBatch(flows.map((f) => f.flow));
  let last: string[] | undefined;
  const flowSummary = (): string => {
    if (!batch) return '';
    try {
      const actions = engine.classifyBatch(batch);
      const accepted = actions.reduce((n, a) => n + a, 0);
      const now = Array.from({ length: batch.length }, (_, i) => verdictJson(batch.verdict(i)));
      const delta = last ? `, ${plural(now.filter((v, i) => v !== last![i]).length, 'verdict')} changed` : '';
      last = now;
      return `; ${plural(batch.length, 'flow')}: ${accepted} accepted, ${batch.length - accepted} dropped${delta}`;
    } catch (e) {
      last = undefined;
      return `; flows not classified: ${terminalText((e as Error).message)}`;
    }
  };
  process.stdout.write(`${time()} watching ${terminalText(configName(configPath))}: version ${engine.version} (${shape(engine.config)})${flowSummary()}\n`);
  const watcher = watchConfig(configPath, engine, {
    debounceMs,
    ...(opts.format !== undefined ? { format: opts.format } : {}),
    onReload: ({ version }) => {
      process.stdout.write(`${time()} version ${version} published (${shape(engine.config)})${flowSummary()}\n`);
    },
    onError: (e) => {
      const issues = e instanceof SgfilterError ? e.issues : [];
      const head = `${time()} edit refused, version ${engine.version} stays`;
      if (e instanceof SgfilterError && e.code === 'CONFIG_INVALID') {
        writeError([`${head}: ${plural(issueCount(issues), 'issue')}`, ...issues.map(formatIssue)].join('\n'));
      } else {
        writeError(`${head}: ${e.message}`);
      }
    },
  });
  await new Promise<void>((resolveStop) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      watcher.close();
      process.stdout.write(`${time()} stopped at version ${engine.version}\n`);
      resolveStop();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Adds the `watch` command to `program`. */
export function register(program: Command): void {
  program
    .command('watch')
    .description(
      'load a config, then publish each valid save of it (one line per publish); a save with issues is refused with ' +
        'every issue and its path, and the running policy stays. Runs until Ctrl-C',
    )
    .argument('<config...>', CONFIG_ARGUMENT)
    .option('--flows <file>', 'JSON-lines flows to classify after each publish (verdict counts and how many changed)')
    .option('--debounce <ms>', 'quiet time after the last file event before the file is read (default 200)')
    .addOption(formatOption())
    .action(watchCommand);
}
