/**
 * Progress on a terminal for long CLI runs (eval, classbench, large compiles and
 * checks), drawn with cli-progress on stderr.
 *
 * Shown only when stderr is a terminal (and TERM is not "dumb"), never with
 * --no-progress, and for commands that stream data to stdout only when stdout is
 * not that terminal (verdicts scrolling past are progress enough, and a bar would
 * be torn by them). Off a terminal nothing at all is written for progress: logs and
 * CI output stay clean. The bar is redrawn at most every 100 ms however often it is
 * updated, does not touch the terminal's cursor or line-wrap settings (a Ctrl-C
 * leaves the terminal as it was), and is cleared when the run ends so only the
 * command's own report remains.
 */
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type cliProgressModule from 'cli-progress';

/**
 * cli-progress, loaded when a line is first drawn: most runs (output not a terminal,
 * --no-progress) draw none and need not pay for loading it at start-up.
 */
let loaded: typeof cliProgressModule | undefined;
const cliProgress = (): typeof cliProgressModule => (loaded ??= createRequire(import.meta.url)('cli-progress') as typeof cliProgressModule);

/** Redraws per second at most (100 ms apart). */
const FPS = 10;

export interface ProgressChoice {
  /** false with --no-progress. */
  progress?: boolean;
  /** The command writes its data to stdout as it goes (eval): no bar when stdout is the terminal. */
  streamsStdout?: boolean;
}

/** Whether a progress bar should be drawn, as the module comment says. */
export function progressWanted({ progress = true, streamsStdout = false }: ProgressChoice): boolean {
  if (!progress) return false;
  if (!process.stderr.isTTY || process.env.TERM === 'dumb') return false;
  if (streamsStdout && process.stdout.isTTY) return false;
  return true;
}

/** What one line of progress shows. */
export interface ProgressLine {
  /** What is being done: "checking flows", "compiling". */
  phase: string;
  /** Counts after the bar: "1,234,567 flows". */
  detail?: string;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/**
 * One progress line: a bar with percentage and ETA when the total is known (bytes
 * of a file, runs of a benchmark, phases of a compile), else the elapsed time.
 * Every method is a cheap no-op when progress is off.
 */
export class Progress {
  readonly #bar: cliProgressModule.SingleBar | null;
  readonly #label: string;
  #line: ProgressLine = { phase: '' };
  #known = true;

  private constructor(label: string, on: boolean) {
    this.#label = label;
    this.#bar = on
      ? new (cliProgress().SingleBar)({
        stream: process.stderr,
        fps: FPS,
        barsize: 20,
        clearOnComplete: true,
        hideCursor: false,
        // The line is cut to the terminal's width below, so wrapping never happens and
        // the terminal's wrap setting is left alone (cli-progress would turn it off).
        linewrap: true,
        // log() clears the line; the next draw must happen even if nothing changed.
        forceRedraw: true,
        format: (options, params) => this.#format(options, params),
      })
      : null;
  }

  /** Progress for `label` ("eval", "compile"), drawn only when `on` (see progressWanted). */
  static create(label: string, on: boolean): Progress {
    return new Progress(label, on);
  }

  get active(): boolean {
    return this.#bar !== null;
  }

  /** Starts (or restarts) the line: `total` units of work (undefined: unknown, no bar). */
  start(total: number | undefined, line: ProgressLine): void {
    if (!this.#bar) return;
    this.#line = line;
    this.#known = total !== undefined && total > 0;
    if (this.#bar.isActive) this.#bar.stop();
    this.#bar.start(this.#known ? total! : 1, 0);
  }

  /** Work done so far (same unit as the total); the line is redrawn at most every 100 ms. */
  update(done: number, line?: Partial<ProgressLine>): void {
    if (!this.#bar) return;
    if (line) this.#line = { ...this.#line, ...line };
    this.#bar.update(this.#known ? done : 0);
  }

  /** Moves to the next phase and draws it now (the work after it may hold the thread). */
  phase(done: number, phase: string, detail?: string): void {
    if (!this.#bar) return;
    this.#line = { phase, ...(detail !== undefined ? { detail } : {}) };
    this.#bar.update(this.#known ? done : 0);
    this.#bar.render();
  }

  /** Writes a line of text to stderr above the bar (without the bar, just writes it). */
  log(text: string): void {
    if (!this.#bar?.isActive) {
      process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
      return;
    }
    process.stderr.write(`\r\x1b[2K${text.endsWith('\n') ? text : `${text}\n`}`);
    this.#bar.render();
  }

  /** Clears the line; the command's report follows on a clean terminal. */
  stop(): void {
    if (this.#bar?.isActive) this.#bar.stop();
  }

  #format(options: cliProgressModule.Options, params: cliProgressModule.Params): string {
    const elapsed = (Date.now() - params.startTime) / 1000;
    const { phase, detail } = this.#line;
    let s = `${this.#label}: ${phase}`;
    if (this.#known) s += ` ${String(Math.floor(params.progress * 100)).padStart(3)}% [${cliProgress().Format.BarFormat(params.progress, options)}]`;
    if (detail) s += `  ${detail}`;
    s += this.#known && params.progress > 0 && params.progress < 1 && elapsed >= 1 ? `  ETA ${formatSeconds(params.eta)}` : `  ${formatSeconds(elapsed)}`;
    // One character short of the width: writing the last column would wrap on some terminals.
    const width = Math.max(10, (params.maxWidth || 80) - 1);
    return s.length > width ? `${s.slice(0, width - 1)}…` : s;
  }
}

const grouped = (n: number): string => n.toLocaleString('en-US');

/** Config files from this size on get a progress line for their phases (smaller ones are quick). */
export const PROGRESS_MIN_CONFIG_BYTES = 1 << 20;

/** Whether a config file at `path` is big enough for a progress line (false when it cannot be stat'ed: the read reports that). */
/** True when the config files together are big enough for a progress line. */
export async function bigConfigs(paths: readonly string[]): Promise<boolean> {
  let total = 0;
  for (const p of paths) {
    try {
      total += (await stat(p)).size;
    } catch {
      // unreadable: reading it says so
    }
  }
  return total >= PROGRESS_MIN_CONFIG_BYTES;
}

export async function bigConfig(path: string): Promise<boolean> {
  try {
    return (await stat(path)).size >= PROGRESS_MIN_CONFIG_BYTES;
  } catch {
    return false;
  }
}

/** "1,234,567 flows 812,000/s" (the rate once there is half a second to measure). */
export function rateText(n: number, unit: string, startedMs: number): string {
  const s = (performance.now() - startedMs) / 1000;
  return `${grouped(n)} ${unit}${s > 0.5 ? ` ${grouped(Math.round(n / s))}/s` : ''}`;
}
