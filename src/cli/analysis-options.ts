/** What `sgfilter lint` and `sgfilter diff` share: the analysis limits as options, verdicts in words. */
import { InvalidArgumentError } from 'commander';
import type { AnalysisOptions } from '../analysis/options.js';
import type { Direction, Verdict } from '../types.js';
import { terminalText } from './shared.js';

/** A commander parser for a whole number ≥ 1 (the library checks the range again). */
export const wholeNumber = (flag: string) => (v: string): number => {
  if (!/^\d{1,16}$/.test(v.trim()) || Number(v) < 1) throw new InvalidArgumentError(`${flag} takes a whole number ≥ 1, got ${JSON.stringify(v)}`);
  return Number(v);
};

/** The limits given on the command line, as lintPolicy and diffPolicies take them. */
export function analysisOptions(o: { maxWork?: number; maxRegionBoxes?: number }): AnalysisOptions {
  return { ...(o.maxWork !== undefined ? { maxWork: o.maxWork } : {}), ...(o.maxRegionBoxes !== undefined ? { maxRegionBoxes: o.maxRegionBoxes } : {}) };
}

/** "accept (sg-web inbound rule 2)", "drop (default)". */
export function verdictWords(v: Verdict, direction: Direction): string {
  return v.groupId === null ? `${v.action} (default)` : `${v.action} (${terminalText(v.groupId)} ${direction} rule ${v.ruleIndex})`;
}
