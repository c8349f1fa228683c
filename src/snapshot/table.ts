/**
 * Structural check of a TABLE (assembly/layout.ts) from untrusted bytes, before WASM
 * ever reads it. The promise: a table that passes is read by assembly/*.ts only inside
 * its own bytes, and every lookup ends after a bounded number of steps, whatever the
 * bytes were. What the WASM reader dereferences, and what is checked for it:
 *
 *   header, directory, chains   every offset and count inside the table; every chain
 *                               link a classifier index; every record claimed once
 *   PARTS                       1..MAX_PARTS parts, only on a classifier with no dims
 *                               (mask 0, not dense); each part a CLASSIFIER checked like
 *                               any, without parts of its own, whose ranks (its "rule
 *                               ids") are ascending and < the classifier's boxes
 *   CLASSIFIER                  boxes ≤ MAX_BOXES; form 0..2; words = what the compiler
 *                               writes for that many boxes (dense: even, ≤ DENSE_MAX_WORDS;
 *                               flat: ≤ FLAT_MAX_WORDS); only
 *                               the DIM_COUNT dimension bits; rule ids and action bytes
 *                               (0 or 1) inside the table
 *   DIM                         the kind its dimension takes (addresses: ADDRESS; the
 *                               others INTERVAL or DIRECT); every class the lookup can
 *                               produce < classes (trie leaves and direct entries,
 *                               absent, interval and direct classes)
 *   dense bitmaps               classes × words u64 inside the table
 *   flat bit vectors            FLAT[classes] 64-byte aligned; summary s set exactly
 *                               where SUPER bit s is, s < the classifier's summary
 *                               words (≤ 4), ranks a running popcount class by class
 *   aggregated bit vectors      SUPER[classes]; each class's summaries follow the
 *                               previous class's (first = running popcount), each
 *                               summary's words likewise (rank = running popcount), so
 *                               every popcount-indexed load stays in its array
 *   any bitmap word             no bit for a box ≥ boxes (the box indexes rule ids and
 *                               actions)
 *   INTERVAL                    1 ≤ count ≤ domain; bounds ascending from 0, below the
 *                               domain (ports 65537 values with PORT_ABSENT, protocols
 *                               256, ICMP type/code 257 with ICMP_ABSENT)
 *   DIRECT                      exactly one u16 per value of the domain
 *   TRIE                        directBits 0 or TRIE_DIRECT_BITS; node and leaf arrays
 *                               inside the table; children, skip targets and direct
 *                               entries node indexes, children after their parent (no
 *                               cycle); skip lengths 1..64; popcount-indexed leaves
 *                               inside the leaf array (and never before base0); no node
 *                               entered past bit 32 (IPv4) or TRIE_MAX_BITS (IPv6)
 *
 * Every structure must start 8-byte aligned (16 for summaries, 64 for flat records, as
 * the compiler writes them) and no two may overlap: each is claimed once in a bitmap of 8-byte units. So
 * checking costs time linear in the table, and no index can reach into a neighbour.
 *
 * Lookup work. "Bounded" must also mean small: a chain that links one classifier a
 * million times is inside its bytes, yet each lookup would run it a million times
 * (32 ms per flow). So a chain may link a classifier only once and only one with
 * boxes (the compiler links neither twice nor empty ones), and its work is bounded:
 *
 *   work(classifier) = 1 + Σ over consulted dimensions (steps + words)
 *                        + Σ work(part) over its parts
 *     steps: ADDRESS  the longest walk of its IPv4 or IPv6 trie, in nodes visited
 *                     (plus one for the direct level), found in the node walk below
 *            INTERVAL ceil(log2(count)) + 1 (the binary search)
 *            DIRECT   1
 *     words: u64 words of a box bitmap (the scan reads at most that many per
 *            dimension, dense or aggregated)
 *   work(chain) = Σ work(classifier) over its links     ≤ MAX_LOOKUP_WORK
 *
 * which is what classifyBlock (assembly/classify.ts) and trieLookup do for one flow,
 * step for step, in the worst case. The compiler refuses a config whose table would
 * break the bound (TABLE_TOO_LARGE, issue LOOKUP_TOO_SLOW), so every table it writes
 * loads.
 * What needs the rules (rule ids in range, actions agreeing with them, chains matching
 * the instances' groups) is checked in ./consistency.ts.
 */
import * as L from '../../assembly/layout.js';
import { DENSE_MAX_WORDS } from '../compile/index.js';
import { SgfilterError } from '../errors.js';

/**
 * Most lookup work (see the file comment) one flow may cost: steps summed over the
 * classifiers of its chain. 2^22 is far above what real policies need (a chain of
 * 10,000 one-group classifiers is about 200,000) and a few milliseconds of one core
 * at worst.
 */
export const MAX_LOOKUP_WORK = 1 << 22;

/** What the consistency check needs from a table that passed. */
export interface TableShape {
  classifiers: { ruleIds: Uint32Array; actions: Uint8Array; work: number }[];
  /** Per chain, its classifier indexes in priority order. */
  chains: Uint32Array[];
  /** Per chain, the lookup work of one flow (file comment). */
  work: number[];
}

const DIM_NAMES = ['remote', 'local', 'protocol', 'port', 'sourcePort', 'icmpType', 'icmpCode'];
/** Values a flow field can take per interval dimension (see layout.ts, BATCH). */
const DOMAIN: Record<number, number> = {
  [L.DIM_PROTO]: 256,
  [L.DIM_PORT]: L.PORT_ABSENT + 1,
  [L.DIM_SPORT]: L.PORT_ABSENT + 1,
  [L.DIM_ICMP_TYPE]: L.ICMP_ABSENT + 1,
  [L.DIM_ICMP_CODE]: L.ICMP_ABSENT + 1,
};

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

const invalid = (message: string) => new SgfilterError('SNAPSHOT_INVALID', `invalid snapshot: table: ${message}`);

class TableReader {
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  readonly length: number;
  /** One bit per 8-byte unit already claimed by a structure. */
  private readonly claimed: Uint32Array;

  constructor(table: Uint8Array) {
    if (table.byteOffset !== 0 || table.buffer.byteLength < table.length) throw new Error('TableReader needs a table at the start of its own buffer');
    this.u8 = table;
    this.length = table.length;
    this.u16 = new Uint16Array(table.buffer, 0, table.length >>> 1);
    this.u32 = new Uint32Array(table.buffer, 0, table.length >>> 2);
    this.claimed = new Uint32Array(Math.ceil(table.length / 8 / 32));
  }

  /** The u32 at `at` (a byte offset that must hold one, 4-aligned). */
  word(at: number, what: string): number {
    if (at % 4 !== 0 || at + 4 > this.length) throw invalid(`${what}: byte ${at} is ${at % 4 ? 'not 4-byte aligned' : `past the table's ${this.length} bytes`}`);
    return this.u32[at >>> 2]!;
  }

  /**
   * Takes [at, at+bytes) for one structure: aligned, inside the table, and touching no
   * byte (in 8-byte units) of a structure claimed before.
   */
  claim(at: number, bytes: number, what: string, align = 8): void {
    if (at % align !== 0) throw invalid(`${what} starts at byte ${at}, not ${align}-byte aligned`);
    if (!(at + bytes <= this.length)) throw invalid(`${what} (${bytes} bytes at byte ${at}) runs past the table's ${this.length} bytes`);
    const end = Math.ceil((at + bytes) / 8);
    for (let u = at / 8; u < end; u++) {
      const bit = 1 << (u & 31);
      if (this.claimed[u >>> 5]! & bit) throw invalid(`${what} (byte ${at}) overlaps another structure at byte ${u * 8}`);
      this.claimed[u >>> 5]! |= bit;
    }
  }
}

/**
 * Checks the TABLE in `table` (its own buffer, offset 0); throws SNAPSHOT_INVALID saying
 * where. A chain whose lookup work is past `maxWork` is refused too (the compiler
 * passes Infinity and judges the work itself, naming instances).
 */
export function validateTable(table: Uint8Array, maxWork = MAX_LOOKUP_WORK): TableShape {
  const len = table.length;
  if (len < L.TABLE_HEADER_SIZE || len % 8 !== 0) throw invalid(`${len} bytes is not a table (a multiple of 8, at least ${L.TABLE_HEADER_SIZE})`);
  const t = new TableReader(table);
  if (t.word(L.TABLE_MAGIC_AT, 'magic') !== L.TABLE_MAGIC) throw invalid('bad table magic');
  const abi = t.word(L.TABLE_ABI_AT, 'abi');
  if (abi !== L.TABLE_ABI) throw invalid(`table ABI ${abi}, this matcher reads ABI ${L.TABLE_ABI}`);
  const size = t.word(L.TABLE_BYTES_AT, 'size');
  if (size !== len) throw invalid(`the header says ${size} bytes, the table has ${len}`);
  t.claim(0, L.TABLE_HEADER_SIZE, 'the table header');

  const nCls = t.word(L.TABLE_CLASSIFIERS_AT, 'classifier count');
  const directory = t.word(L.TABLE_DIRECTORY_AT, 'classifier directory');
  t.claim(directory, nCls * 4, `the classifier directory (${nCls} classifiers)`);
  const classifiers: TableShape['classifiers'] = [];
  for (let i = 0; i < nCls; i++) classifiers.push(validateClassifier(t, t.u32[(directory >>> 2) + i]!, i));

  const chainDir = t.word(L.TABLE_CHAINS_AT, 'chain directory');
  const nChains = t.word(chainDir, 'chain count');
  t.claim(chainDir, 4 + nChains * 4, `the chain directory (${nChains} chains)`);
  const chains: Uint32Array[] = [];
  const work: number[] = [];
  /** Per classifier: 1 + the last chain that linked it (a repeat within a chain is refused). */
  const linkedBy = new Uint32Array(nCls);
  for (let c = 0; c < nChains; c++) {
    const at = t.u32[(chainDir >>> 2) + 1 + c]!;
    const count = t.word(at, `chain ${c}`);
    t.claim(at, 4 + count * 4, `chain ${c} (${count} classifiers)`);
    const links = t.u32.subarray((at >>> 2) + 1, (at >>> 2) + 1 + count);
    let sum = 0;
    for (let k = 0; k < count; k++) {
      const link = links[k]!;
      if (link >= nCls) throw invalid(`chain ${c}, link ${k}: classifier ${link} of ${nCls}`);
      if (linkedBy[link] === c + 1) throw invalid(`chain ${c}, link ${k}: classifier ${link} is linked twice; a chain tries each classifier once`);
      linkedBy[link] = c + 1;
      const cls = classifiers[link]!;
      if (cls.ruleIds.length === 0) throw invalid(`chain ${c}, link ${k}: classifier ${link} has no boxes; a chain links only classifiers that can match (compile the policy again if this table is from an older sgfilter)`);
      sum += cls.work;
      if (sum > maxWork) throw invalid(`chain ${c}: lookup work past ${maxWork.toLocaleString('en-US')} steps per flow at link ${k} of ${count}; a table may cost at most that (MAX_LOOKUP_WORK)`);
    }
    chains.push(links);
    work.push(sum);
  }
  return { classifiers, chains, work };
}

function validateClassifier(t: TableReader, at: number, index: number | string, partOf?: number): TableShape['classifiers'][number] {
  const where = typeof index === 'number' ? `classifier ${index}` : index;
  t.claim(at, L.CLS_SIZE, where);
  const u32 = t.u32;
  const field = (off: number) => u32[(at + off) >>> 2]!;
  const boxes = field(L.CLS_BOXES_AT);
  if (boxes > L.MAX_BOXES) throw invalid(`${where}: ${boxes} boxes, at most ${L.MAX_BOXES}`);
  const dense = field(L.CLS_DENSE_AT); // the form: CLS_FORM_*
  if (dense > L.CLS_FORM_FLAT) throw invalid(`${where}: form (dense flag) ${dense}, not ${L.CLS_FORM_AGGREGATED} (aggregated), ${L.CLS_FORM_DENSE} (dense) or ${L.CLS_FORM_FLAT} (flat)`);
  let want = Math.max(1, Math.ceil(boxes / 64));
  if (dense === L.CLS_FORM_DENSE) want += want % 2;
  const words = field(L.CLS_WORDS_AT);
  if (words !== want) throw invalid(`${where}: ${words} bitmap words for ${boxes} boxes; ${want} expected`);
  if (dense === L.CLS_FORM_DENSE && words > DENSE_MAX_WORDS) throw invalid(`${where}: dense with ${words} words, at most ${DENSE_MAX_WORDS}`);
  if (dense === L.CLS_FORM_FLAT && words > L.FLAT_MAX_WORDS) throw invalid(`${where}: flat with ${words} words, at most ${L.FLAT_MAX_WORDS}`);
  const mask = field(L.CLS_DIMMASK_AT);
  if (mask >>> L.DIM_COUNT !== 0) throw invalid(`${where}: dimension mask ${mask} names dimensions past ${L.DIM_COUNT - 1}`);

  const ruleIdsAt = field(L.CLS_RULEIDS_AT);
  t.claim(ruleIdsAt, boxes * 4, `${where}: rule ids`);
  const actionsAt = field(L.CLS_ACTIONS_AT);
  t.claim(actionsAt, boxes, `${where}: actions`);
  const actions = t.u8.subarray(actionsAt, actionsAt + boxes);
  const bad = actions.findIndex((a) => a > 1);
  if (bad >= 0) throw invalid(`${where}: box ${bad} has action byte ${actions[bad]}, not 0 (drop) or 1 (accept)`);

  const ruleIds = u32.subarray(ruleIdsAt >>> 2, (ruleIdsAt >>> 2) + boxes);
  if (partOf !== undefined) {
    // A part's "rule ids" are ranks in its classifier (they index its rule ids and actions).
    for (let b = 0; b < boxes; b++) {
      if (ruleIds[b]! >= partOf) throw invalid(`${where}: box ${b} has rank ${ruleIds[b]}, past its classifier's ${partOf} boxes`);
      if (b > 0 && ruleIds[b]! <= ruleIds[b - 1]!) throw invalid(`${where}: ranks not ascending at box ${b} (${ruleIds[b - 1]}, ${ruleIds[b]})`);
    }
  }

  const partsAt = field(L.CLS_PARTS_AT);
  if (partsAt !== 0) {
    if (partOf !== undefined) throw invalid(`${where}: a part has parts of its own (at byte ${partsAt}); parts do not nest`);
    if (mask !== 0 || dense !== 0) throw invalid(`${where}: has parts, so its dimension mask and dense flag must be 0 (they are ${mask}, ${dense})`);
  }
  let work = 1;
  for (let d = 0; d < L.DIM_COUNT; d++) {
    if ((mask >>> d) & 1) work += words + validateDim(t, at + L.CLS_DIMS_AT + d * L.DIM_SIZE, d, boxes, words, dense, `${where}, ${DIM_NAMES[d]} dimension`);
  }
  if (partsAt !== 0) {
    const count = t.word(partsAt, `${where}: part count`);
    if (count < 1 || count > L.MAX_PARTS) throw invalid(`${where}: ${count} parts; 1 to ${L.MAX_PARTS} expected`);
    t.claim(partsAt, 4 + count * 4, `${where}: part list (${count} parts)`);
    for (let p = 0; p < count; p++) {
      work += validateClassifier(t, u32[(partsAt >>> 2) + 1 + p]!, `${where}, part ${p}`, boxes).work;
    }
  }
  return { ruleIds, actions, work };
}

/** Checks one dimension; returns the most lookup steps a flow can take in it. */
function validateDim(t: TableReader, dim: number, d: number, boxes: number, words: number, form: number, where: string): number {
  const u32 = t.u32;
  const field = (off: number) => u32[(dim + off) >>> 2]!;
  const kind = field(L.DIM_KIND_AT);
  const classes = field(L.DIM_CLASSES_AT);
  const checkClass = (c: number, what: string) => {
    if (c >= classes) throw invalid(`${where}: ${what} is class ${c}, past its ${classes} classes`);
  };
  if (form === L.CLS_FORM_DENSE) validateDense(t, field(L.DIM_BITMAPS_AT), classes, words, boxes, where);
  else if (form === L.CLS_FORM_FLAT) validateFlat(t, dim, classes, words, boxes, where);
  else validateAggregated(t, dim, classes, boxes, where);

  if (d === L.DIM_REMOTE || d === L.DIM_LOCAL) {
    if (kind !== L.DIM_KIND_ADDRESS) throw invalid(`${where}: kind ${kind}; an address dimension is kind ${L.DIM_KIND_ADDRESS} (ADDRESS)`);
    const steps4 = validateTrie(t, field(L.DIM_TRIE4_AT), classes, 32, `${where}, IPv4 trie`);
    const steps6 = validateTrie(t, field(L.DIM_TRIE6_AT), classes, L.TRIE_MAX_BITS, `${where}, IPv6 trie`);
    checkClass(field(L.DIM_ABSENT_AT), 'the class of flows without an address');
    return Math.max(steps4, steps6);
  }
  const domain = DOMAIN[d]!;
  const count = field(L.DIM_COUNT_AT);
  if (kind === L.DIM_KIND_DIRECT) {
    if (count !== domain) throw invalid(`${where}: direct table of ${count} values; the domain has ${domain}`);
    const at = field(L.DIM_DIRECT_AT);
    t.claim(at, count * 2, `${where}: direct table`);
    const entries = t.u16.subarray(at >>> 1, (at >>> 1) + count);
    for (let v = 0; v < count; v++) if (entries[v]! >= classes) checkClass(entries[v]!, `value ${v}`);
    return 1;
  } else if (kind === L.DIM_KIND_INTERVAL) {
    if (count < 1 || count > domain) throw invalid(`${where}: ${count} intervals; 1 to ${domain} expected`);
    const boundsAt = field(L.DIM_BOUNDS_AT);
    const classOfAt = field(L.DIM_CLASSOF_AT);
    t.claim(boundsAt, count * 4, `${where}: interval bounds`);
    t.claim(classOfAt, count * 4, `${where}: interval classes`);
    const bounds = u32.subarray(boundsAt >>> 2, (boundsAt >>> 2) + count);
    const classOf = u32.subarray(classOfAt >>> 2, (classOfAt >>> 2) + count);
    if (bounds[0] !== 0) throw invalid(`${where}: the first interval starts at ${bounds[0]}, not 0`);
    for (let i = 0; i < count; i++) {
      if (i > 0 && bounds[i]! <= bounds[i - 1]!) throw invalid(`${where}: interval bounds not ascending at ${i} (${bounds[i - 1]}, ${bounds[i]})`);
      if (bounds[i]! >= domain) throw invalid(`${where}: interval ${i} starts at ${bounds[i]}, past the domain's last value ${domain - 1}`);
      checkClass(classOf[i]!, `interval ${i}`);
    }
    return Math.ceil(Math.log2(count)) + 1;
  }
  throw invalid(`${where}: kind ${kind}; a ${DIM_NAMES[d]} dimension is kind ${L.DIM_KIND_INTERVAL} (INTERVAL) or ${L.DIM_KIND_DIRECT} (DIRECT)`);
}

/** Bits of word `w` (of a class bitmap) that stand for boxes ≥ `boxes`: must be zero. */
/**
 * A stored (aggregated or flat) word: it must be at a bitmap word that holds a box. A
 * word wholly past the last box, even zero, would only be scanned for nothing: the
 * lookup-work bound charges `words` per dimension, and such words are not among them.
 */
function checkStoredWord(lo: number, hi: number, w: number, boxes: number, where: string): void {
  if (w * 64 >= boxes) throw invalid(`${where}: a stored bitmap word ${w} is past the last box (${boxes - 1})`);
  checkWord(lo, hi, w, boxes, where);
}

function checkWord(lo: number, hi: number, w: number, boxes: number, where: string): void {
  const first = w * 64;
  if (first + 64 <= boxes || (lo === 0 && hi === 0)) return;
  const keep = Math.max(0, boxes - first); // bits 0..keep-1 may be set
  const loMask = keep >= 32 ? 0 : ~((1 << keep) - 1) >>> 0;
  const hiMask = keep >= 64 ? 0 : keep <= 32 ? 0xffffffff : ~((1 << (keep - 32)) - 1) >>> 0;
  if ((lo & loMask) !== 0 || (hi & hiMask) !== 0) throw invalid(`${where}: bitmap word ${w} sets a box past the last (${boxes - 1})`);
}

function validateDense(t: TableReader, at: number, classes: number, words: number, boxes: number, where: string): void {
  t.claim(at, classes * words * 8, `${where}: bitmaps (${classes} classes × ${words} words)`);
  const base = at >>> 2;
  const firstLoose = Math.floor(boxes / 64); // words from here on may hold bits past the last box
  for (let c = 0; c < classes; c++) {
    for (let w = firstLoose; w < words; w++) {
      const k = base + 2 * (c * words + w);
      checkWord(t.u32[k]!, t.u32[k + 1]!, w, boxes, `${where}, class ${c}`);
    }
  }
}

/** Aggregated bit vectors (layout.ts, SUPER and SUMMARY), laid out class by class. */
function validateAggregated(t: TableReader, dim: number, classes: number, boxes: number, where: string): void {
  const u32 = t.u32;
  const supers = u32[(dim + L.DIM_SUPERS_AT) >>> 2]!;
  const sums = u32[(dim + L.DIM_SUMS_AT) >>> 2]!;
  const packed = u32[(dim + L.DIM_BITMAPS_AT) >>> 2]!;
  t.claim(supers, classes * L.SUPER_SIZE, `${where}: super words (${classes} classes)`);
  if (sums % L.SUMMARY_SIZE !== 0) throw invalid(`${where}: summaries start at byte ${sums}, not ${L.SUMMARY_SIZE}-byte aligned`);
  if (packed % 8 !== 0) throw invalid(`${where}: bitmap words start at byte ${packed}, not 8-byte aligned`);
  // Each class's summaries follow the previous class's: SUPER.first is a running count.
  let next = sums / L.SUMMARY_SIZE;
  for (let c = 0; c < classes; c++) {
    const s = (supers + c * L.SUPER_SIZE) >>> 2;
    const first = u32[s + (L.SUPER_FIRST_AT >>> 2)]!;
    if (first !== next) throw invalid(`${where}: class ${c}'s first summary is ${first}, ${next} expected (summaries follow class by class)`);
    next += popcount32(u32[s]!) + popcount32(u32[s + 1]!);
  }
  const summaries = next - sums / L.SUMMARY_SIZE;
  t.claim(sums, summaries * L.SUMMARY_SIZE, `${where}: summaries (${summaries})`, L.SUMMARY_SIZE);
  // Each summary's words follow the previous summary's: SUMMARY.rank is a running count.
  let rank = packed / 8;
  for (let k = 0; k < summaries; k++) {
    const s = (sums >>> 2) + k * (L.SUMMARY_SIZE >>> 2);
    const r = u32[s + (L.SUMMARY_RANK_AT >>> 2)]!;
    if (r !== rank) throw invalid(`${where}: summary ${k}'s first word is ${r}, ${rank} expected (words follow summary by summary)`);
    rank += popcount32(u32[s]!) + popcount32(u32[s + 1]!);
  }
  const nWords = rank - packed / 8;
  t.claim(packed, nWords * 8, `${where}: bitmap words (${nWords})`);
  // Which bitmap word each stored word is: walk classes → summaries → words in order.
  let k = sums >>> 2;
  let p = packed >>> 2;
  for (let c = 0; c < classes; c++) {
    const sp = (supers + c * L.SUPER_SIZE) >>> 2;
    for (let half = 0; half < 2; half++) {
      for (let sbits = u32[sp + half]!; sbits !== 0; sbits &= sbits - 1) {
        const s = half * 32 + (31 - Math.clz32(sbits & -sbits));
        for (let h = 0; h < 2; h++) {
          for (let jbits = u32[k + h]!; jbits !== 0; jbits &= jbits - 1) {
            const j = h * 32 + (31 - Math.clz32(jbits & -jbits));
            checkStoredWord(u32[p]!, u32[p + 1]!, s * 64 + j, boxes, `${where}, class ${c}`);
            p += 2;
          }
        }
        k += L.SUMMARY_SIZE >>> 2;
      }
    }
  }
}

/**
 * Flat aggregated bit vectors (layout.ts, FLAT): records 64-byte aligned; per class,
 * summary s non-zero exactly where SUPER bit s is set, and only for s < the summary
 * words of `words`; a clear bit's summary and rank 0; each set summary's words follow
 * the previous one's (rank = running popcount), class by class, so every
 * popcount-indexed load stays in the dimension's packed words.
 */
function validateFlat(t: TableReader, dim: number, classes: number, words: number, boxes: number, where: string): void {
  const u32 = t.u32;
  const records = u32[(dim + L.DIM_SUPERS_AT) >>> 2]!;
  const packed = u32[(dim + L.DIM_BITMAPS_AT) >>> 2]!;
  if (u32[(dim + L.DIM_SUMS_AT) >>> 2]! !== 0) throw invalid(`${where}: a flat dimension has no separate summaries (sums ${u32[(dim + L.DIM_SUMS_AT) >>> 2]}, 0 expected)`);
  t.claim(records, classes * L.FLAT_SIZE, `${where}: flat records (${classes} classes)`, L.FLAT_SIZE);
  if (packed % 8 !== 0) throw invalid(`${where}: bitmap words start at byte ${packed}, not 8-byte aligned`);
  const summaries = Math.ceil(words / 64); // ≤ FLAT_MAX_SUMMARIES (words checked by the classifier)
  let rank = packed / 8;
  for (let c = 0; c < classes; c++) {
    const r = (records + c * L.FLAT_SIZE) >>> 2;
    const sup = u32[r + 1]! !== 0 ? -1 : u32[r]!; // any bit in the high half is past FLAT_MAX_SUMMARIES
    if (sup < 0 || sup >>> summaries !== 0) throw invalid(`${where}, class ${c}: super bits 0x${(u32[r + 1]! * 2 ** 32 + u32[r]!).toString(16)} name summary words past the ${summaries} of ${words} bitmap words`);
    for (let s = 0; s < L.FLAT_MAX_SUMMARIES; s++) {
      const m = r + ((L.FLAT_SUMMARIES_AT + 8 * s) >>> 2);
      const k = r + ((L.FLAT_RANKS_AT + 4 * s) >>> 2);
      const set = ((sup >>> s) & 1) !== 0;
      const bits = popcount32(u32[m]!) + popcount32(u32[m + 1]!);
      if (!set) {
        if (bits !== 0 || u32[k]! !== 0) throw invalid(`${where}, class ${c}: summary ${s} is not in its super bits, yet its word or rank is not 0`);
        continue;
      }
      if (bits === 0) throw invalid(`${where}, class ${c}: summary ${s} is in its super bits but has no words`);
      if (u32[k]! !== rank) throw invalid(`${where}, class ${c}: summary ${s}'s first word is ${u32[k]}, ${rank} expected (words follow summary by summary)`);
      rank += bits;
    }
    if (u32[r + (56 >>> 2)]! !== 0 || u32[r + (60 >>> 2)]! !== 0) throw invalid(`${where}, class ${c}: the record's last 8 bytes are not 0`);
  }
  const nWords = rank - packed / 8;
  t.claim(packed, nWords * 8, `${where}: bitmap words (${nWords})`);
  // Which bitmap word each stored word is: walk classes → summaries → words in order.
  let p = packed >>> 2;
  for (let c = 0; c < classes; c++) {
    const r = (records + c * L.FLAT_SIZE) >>> 2;
    for (let s = 0; s < L.FLAT_MAX_SUMMARIES; s++) {
      const m = r + ((L.FLAT_SUMMARIES_AT + 8 * s) >>> 2);
      for (let h = 0; h < 2; h++) {
        for (let jbits = u32[m + h]!; jbits !== 0; jbits &= jbits - 1) {
          const j = h * 32 + (31 - Math.clz32(jbits & -jbits));
          checkStoredWord(u32[p]!, u32[p + 1]!, s * 64 + j, boxes, `${where}, class ${c}`);
          p += 2;
        }
      }
    }
  }
}

/**
 * A poptrie (layout.ts, TRIE and NODE) whose walks end inside it by bit `bits`.
 * Returns the longest walk, in nodes visited (the direct level counts one).
 */
function validateTrie(t: TableReader, at: number, classes: number, bits: number, where: string): number {
  t.claim(at, L.TRIE_SIZE, where);
  const u32 = t.u32;
  const field = (off: number) => u32[(at + off) >>> 2]!;
  const nodesAt = field(L.TRIE_NODES_AT);
  const leavesAt = field(L.TRIE_LEAVES_AT);
  const nodeCount = field(L.TRIE_NODECOUNT_AT);
  const leafCount = field(L.TRIE_LEAFCOUNT_AT);
  const directBits = field(L.TRIE_DIRECTBITS_AT);
  t.claim(nodesAt, nodeCount * L.NODE_SIZE, `${where}: nodes (${nodeCount})`);
  t.claim(leavesAt, leafCount * 4, `${where}: leaves (${leafCount})`);
  const leaves = u32.subarray(leavesAt >>> 2, (leavesAt >>> 2) + leafCount);
  for (let i = 0; i < leafCount; i++) {
    if (leaves[i]! >= classes) throw invalid(`${where}: leaf ${i} is class ${leaves[i]}, past its ${classes} classes`);
  }
  // Deepest bit offset each node is entered at (-1: not reachable), and the most
  // steps a walk takes to reach it (the node itself included).
  const entry = new Int32Array(nodeCount).fill(-1);
  const steps = new Int32Array(nodeCount);
  let longest = 0;
  const enter = (node: number, o: number, from: string, s: number) => {
    if (o > bits) throw invalid(`${where}: ${from} enters node ${node} at bit ${o}, past the address's ${bits} bits`);
    if (o > entry[node]!) entry[node] = o;
    if (s > steps[node]!) steps[node] = s;
  };
  if (directBits === L.TRIE_DIRECT_BITS) {
    const directAt = field(L.TRIE_DIRECT_AT);
    const n = 1 << directBits;
    t.claim(directAt, n * 4, `${where}: direct level`);
    const direct = u32.subarray(directAt >>> 2, (directAt >>> 2) + n);
    for (let i = 0; i < n; i++) {
      const e = direct[i]!;
      if (e & L.TRIE_LEAF_FLAG) {
        const c = (e & ~L.TRIE_LEAF_FLAG) >>> 0;
        if (c >= classes) throw invalid(`${where}: direct entry ${i} is class ${c}, past its ${classes} classes`);
      } else if (e >= nodeCount) {
        throw invalid(`${where}: direct entry ${i} points at node ${e} of ${nodeCount}`);
      } else enter(e, directBits, `direct entry ${i}`, 2);
    }
    longest = 1;
  } else if (directBits === 0) {
    if (nodeCount === 0) throw invalid(`${where}: no root node`);
    entry[0] = 0;
    steps[0] = 1;
  } else {
    throw invalid(`${where}: directBits ${directBits}, not 0 or ${L.TRIE_DIRECT_BITS}`);
  }
  const n0 = nodesAt >>> 2;
  const perNode = L.NODE_SIZE >>> 2;
  for (let i = 0; i < nodeCount; i++) {
    const w = n0 + i * perNode;
    const vLo = u32[w + (L.NODE_VECTOR_AT >>> 2)]!;
    const vHi = u32[w + (L.NODE_VECTOR_AT >>> 2) + 1]!;
    const lLo = u32[w + (L.NODE_LEAFVEC_AT >>> 2)]!;
    const lHi = u32[w + (L.NODE_LEAFVEC_AT >>> 2) + 1]!;
    const base1 = u32[w + (L.NODE_BASE1_AT >>> 2)]!;
    const base0 = u32[w + (L.NODE_BASE0_AT >>> 2)]!;
    const o = entry[i]!;
    const s = steps[i]!;
    if (s > longest) longest = s;
    const node = `node ${i}`;
    if (base0 & L.NODE_SKIP_FLAG) {
      if (lHi !== 0 || lLo < 1 || lLo > 64) throw invalid(`${where}: skip ${node} skips ${lHi ? `${lHi}·2^32+` : ''}${lLo} bits, not 1..64`);
      const leaf = (base0 & ~L.NODE_SKIP_FLAG) >>> 0;
      if (leaf >= leafCount) throw invalid(`${where}: skip ${node}'s leaf ${leaf} is past the ${leafCount} leaves`);
      if (base1 <= i || base1 >= nodeCount) throw invalid(`${where}: skip ${node} continues at node ${base1}; a later node of ${nodeCount} expected`);
      if (o >= 0) enter(base1, o + lLo, `skip ${node}`, s + 1);
      continue;
    }
    const children = popcount32(vLo) + popcount32(vHi);
    if (children > 0) {
      if (base1 <= i || base1 + children > nodeCount) throw invalid(`${where}: ${node}'s ${children} children start at node ${base1}; later nodes of ${nodeCount} expected`);
      if (o >= 0) for (let c = 0; c < children; c++) enter(base1 + c, o + L.TRIE_STRIDE, node, s + 1);
    }
    if (children < 64) {
      // The lowest slot that is a leaf needs a leaf-run bit at or below it (leaf index
      // base0 + popcount - 1 ≥ base0), and the last run must be inside the leaves.
      const lowLo = ~vLo >>> 0;
      const lowest = lowLo !== 0 ? 31 - Math.clz32(lowLo & -lowLo) : 32 + (31 - Math.clz32(~vHi & -~vHi));
      const upto = (x: number, n: number) => (n >= 31 ? x : x & ((2 << n) - 1)); // bits 0..n
      const covered = lowest < 32 ? upto(lLo, lowest) !== 0 : lLo !== 0 || upto(lHi, lowest - 32) !== 0;
      if (!covered) throw invalid(`${where}: ${node}'s slot ${lowest} is a leaf before any leaf run starts`);
      const runs = popcount32(lLo) + popcount32(lHi);
      if (base0 + runs > leafCount) throw invalid(`${where}: ${node}'s ${runs} leaf runs start at leaf ${base0}, past the ${leafCount} leaves`);
    }
  }
  return longest;
}
