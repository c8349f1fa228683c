/** `sgfilter eval`: classify JSON-lines flows, one verdict line per flow, streamed (see eval-stream.ts). */
import type { Command } from 'commander';
import { configsAndFlows, formatOption, loadConfig, type ConfigFormat } from './shared.js';
import { openFlowSource } from './flow-input.js';
import { evalStream } from './eval-stream.js';
import { Progress, progressWanted } from './progress.js';

interface EvalOptions {
  summary?: boolean;
  skipInvalid?: boolean;
  lineNumbers?: boolean;
  progress?: boolean;
  format?: ConfigFormat;
}

async function evalCommand(files: string[], opts: EvalOptions): Promise<void> {
  const { configs, flows: flowsPath } = configsAndFlows(files, 'eval');
  const config = await loadConfig(configs, opts.format);
  const source = await openFlowSource(flowsPath);
  const progress = Progress.create('eval', progressWanted({ progress: opts.progress, streamsStdout: true }));
  await evalStream(config, source, {
    skipInvalid: opts.skipInvalid === true,
    lineNumbers: opts.lineNumbers === true,
    summary: opts.summary === true,
    progress,
  });
}

/** Adds the `eval` command to `program`. */
export function register(program: Command): void {
  program
    .command('eval')
    .description(
      'classify flows (JSON lines, one flow per line, as docs/SEMANTICS.md "Flows" describes); prints one verdict JSON line per flow, ' +
        'in input order, as it goes (constant memory at any size). A bad line refuses the input: a file is checked whole before ' +
        'anything is printed; stdin stops at its first bad line (the message says how many verdicts were printed)',
    )
    .argument('<files...>', 'CONFIG... FLOWS: the config file(s) (several make one policy), then the JSON-lines flow file, or - for stdin')
    .option('--summary', 'print accepted/dropped counts to stderr')
    .option('--skip-invalid', 'classify the good lines and report each bad one on stderr by line number (exit 0)')
    .option('--line-numbers', 'add "line": N (1-based input line) to each verdict, to join verdicts to input lines')
    .option('--no-progress', 'no progress bar (one is drawn on stderr only when it is a terminal and stdout is not)')
    .addOption(formatOption())
    .action(evalCommand);
}
