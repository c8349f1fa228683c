/** `sgfilter eval`: classify JSON-lines flows, one verdict line per flow. */
import type { Command } from 'commander';
import { loadConfig, plural, verdictJson, writeLines } from './shared.js';
import { classifyAll, readFlows } from './flows.js';

async function evalCommand(configPath: string, flowsPath: string, opts: { summary?: boolean }): Promise<void> {
  const config = await loadConfig(configPath);
  const flows = await readFlows(flowsPath, config);
  const verdicts = await classifyAll(config, flows);
  writeLines(verdicts.map(verdictJson));
  if (opts.summary) {
    const accepted = verdicts.filter((v) => v.action === 'accept').length;
    const byDefault = verdicts.filter((v) => v.groupId === null).length;
    process.stderr.write(`${plural(verdicts.length, 'flow')}: ${accepted} accepted, ${verdicts.length - accepted} dropped (${byDefault} by the default drop)\n`);
  }
}

/** Adds the `eval` command to `program`. */
export function register(program: Command): void {
  program
    .command('eval')
    .description('classify flows (JSON lines, one flow per line, as docs/SEMANTICS.md "Flows" describes); prints one verdict JSON line per flow')
    .argument('<config>', 'config file (.json, .yaml, .yml)')
    .argument('<flows>', 'JSON-lines flow file, or - for stdin')
    .option('--summary', 'print accepted/dropped counts to stderr')
    .action(evalCommand);
}
