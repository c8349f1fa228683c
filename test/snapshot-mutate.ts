/**
 * Mutations of compiled-policy snapshots for the untrusted-storage tests: bit flips,
 * byte writes, truncation, writes to the table's structure fields (offsets pointed at
 * other structures, huge counts, indexes past their arrays), metadata JSON edits, and
 * splices of two snapshots; each with the checksum recomputed, so the load-time checks
 * behind it are what gets tested.
 *
 * The field walker below reads a valid table with the layout constants, independently
 * of src/snapshot/table.ts, to find where the structure fields are.
 */
import fc from 'fast-check';
import * as L from '../assembly/layout.js';
import { snapshotChecksum, SNAPSHOT_SIGNED } from '../src/snapshot.js';

const HEADER = 32;
const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

export interface Parts {
  table: Uint8Array;
  meta: Uint8Array;
  version: number;
}

/** The parts of a snapshot whose header still frames them (null when it does not). */
export function split(snapshot: Uint8Array): Parts | null {
  if (snapshot.length < HEADER) return null;
  const v = view(snapshot);
  const tableBytes = v.getUint32(20, true);
  const metaBytes = v.getUint32(24, true);
  if (HEADER + tableBytes + metaBytes > snapshot.length || tableBytes % 8 !== 0) return null;
  return {
    table: snapshot.slice(HEADER, HEADER + tableBytes),
    meta: snapshot.slice(HEADER + tableBytes, HEADER + tableBytes + metaBytes),
    version: v.getUint32(12, true),
  };
}

/** An unsigned snapshot of these parts, header and checksum right. */
export function join(p: Parts): Uint8Array {
  const out = new Uint8Array(HEADER + p.table.length + p.meta.length);
  const v = view(out);
  v.setUint32(0, 0x53464753, true);
  v.setUint32(4, 2, true);
  v.setUint32(8, L.TABLE_ABI, true);
  v.setUint32(12, p.version, true);
  v.setUint32(20, p.table.length, true);
  v.setUint32(24, p.meta.length, true);
  out.set(p.table, HEADER);
  out.set(p.meta, HEADER + p.table.length);
  return reseal(out);
}

/** Recomputes the checksum in place (when the header is long enough to hold one). */
export function reseal(b: Uint8Array): Uint8Array {
  if (b.length >= HEADER) view(b).setUint32(16, snapshotChecksum(b), true);
  return b;
}

export const isSigned = (b: Uint8Array) => b.length >= HEADER && (view(b).getUint32(28, true) & SNAPSHOT_SIGNED) !== 0;

// ----------------------------------------------------------------- table fields

/** tableFields, or none when an earlier mutation broke the table too much to walk. */
function fieldsOf(table: Uint8Array): number[] {
  try {
    return tableFields(table).map((f) => f.at);
  } catch {
    return [];
  }
}

/** Most chains and classifiers tableFields walks (valid tables of the tests have a few dozen). */
const WALK_MAX = 256;

/** u32 fields (inside the table) that hold offsets, counts, indexes or trie bits, of a valid table, with what each is. */
export function tableFields(table: Uint8Array): { at: number; what: string }[] {
  const u32 = new Uint32Array(table.buffer, table.byteOffset, table.length >>> 2);
  const w = (at: number) => u32[at >>> 2]!;
  const out = new Map<number, string>();
  const add = (at: number, what: string) => out.has(at) || out.set(at, what);
  const some = (from: number, count: number, what: string, stride = 4, max = 6) => {
    for (let i = 0; i < Math.min(count, max); i++) add(from + i * stride, `${what}[${i}]`);
    if (count > max) add(from + (count - 1) * stride, `${what}[${count - 1}]`);
  };
  add(L.TABLE_BYTES_AT, 'table bytes');
  add(L.TABLE_CLASSIFIERS_AT, 'classifier count');
  add(L.TABLE_DIRECTORY_AT, 'directory offset');
  add(L.TABLE_CHAINS_AT, 'chains offset');
  const nCls = w(L.TABLE_CLASSIFIERS_AT);
  const dir = w(L.TABLE_DIRECTORY_AT);
  some(dir, nCls, 'directory');
  const chains = w(L.TABLE_CHAINS_AT);
  add(chains, 'chain count');
  const nChains = w(chains);
  some(chains + 4, nChains, 'chain offsets');
  // (Loops over counts read from the table are capped: after an earlier mutation a count
  // may be 2^32 - 1, and a walk of that many would run for minutes.)
  for (let c = 0; c < Math.min(nChains, WALK_MAX); c++) {
    const at = w(chains + 4 + 4 * c);
    add(at, `chain ${c} count`);
    some(at + 4, w(at), `chain ${c} links`);
  }
  const trie = (at: number, name: string) => {
    const header: [number, string][] = [[L.TRIE_NODES_AT, 'nodes'], [L.TRIE_LEAVES_AT, 'leaves'], [L.TRIE_NODECOUNT_AT, 'nodeCount'], [L.TRIE_LEAFCOUNT_AT, 'leafCount'], [L.TRIE_DIRECTBITS_AT, 'directBits'], [L.TRIE_DIRECT_AT, 'direct']];
    for (const [f, what] of header) add(at + f, `${name} ${what}`);
    const nodes = w(at + L.TRIE_NODES_AT);
    const n = w(at + L.TRIE_NODECOUNT_AT);
    for (let i = 0; i < Math.min(n, 12); i++) {
      const node = nodes + i * L.NODE_SIZE;
      const skip = (w(node + L.NODE_BASE0_AT) & L.NODE_SKIP_FLAG) !== 0;
      add(node + L.NODE_BASE0_AT, `${name} node ${i} base0`);
      add(node + L.NODE_BASE1_AT, `${name} node ${i} base1`);
      add(node + L.NODE_LEAFVEC_AT, `${name} node ${i} ${skip ? 'skip length' : 'leafvec lo'}`);
      add(node + L.NODE_LEAFVEC_AT + 4, `${name} node ${i} ${skip ? 'skip length hi' : 'leafvec hi'}`);
      add(node + L.NODE_VECTOR_AT, `${name} node ${i} ${skip ? 'skip pattern' : 'vector lo'}`);
      add(node + L.NODE_VECTOR_AT + 4, `${name} node ${i} ${skip ? 'skip pattern hi' : 'vector hi'}`);
    }
    some(w(at + L.TRIE_LEAVES_AT), w(at + L.TRIE_LEAFCOUNT_AT), `${name} leaves`);
    if (w(at + L.TRIE_DIRECTBITS_AT)) some(w(at + L.TRIE_DIRECT_AT), 1 << 16, `${name} direct`, 4 * 997, 12);
  };
  const classifier = (cls: number, c: string) => {
    const fields: [number, string][] = [[L.CLS_BOXES_AT, 'boxes'], [L.CLS_WORDS_AT, 'words'], [L.CLS_PARTS_AT, 'parts'], [L.CLS_DIMMASK_AT, 'dimMask'], [L.CLS_RULEIDS_AT, 'ruleIds'], [L.CLS_ACTIONS_AT, 'actions'], [L.CLS_DENSE_AT, 'dense']];
    for (const [f, what] of fields) add(cls + f, `${c} ${what}`);
    const boxes = w(cls + L.CLS_BOXES_AT);
    some(w(cls + L.CLS_RULEIDS_AT), boxes, `${c} ${c.includes('part') ? 'ranks' : 'rule ids'}`);
    const parts = w(cls + L.CLS_PARTS_AT);
    if (parts) {
      add(parts, `${c} part count`);
      some(parts + 4, w(parts), `${c} part offsets`);
      for (let p = 0; p < w(parts); p++) classifier(w(parts + 4 + 4 * p), `${c} part ${p}`);
    }
    const dense = w(cls + L.CLS_DENSE_AT);
    const mask = w(cls + L.CLS_DIMMASK_AT);
    for (let d = 0; d < L.DIM_COUNT; d++) {
      if (!((mask >>> d) & 1)) continue;
      const dim = cls + L.CLS_DIMS_AT + d * L.DIM_SIZE;
      const name = `${c} dim ${d}`;
      const kind = w(dim + L.DIM_KIND_AT);
      add(dim + L.DIM_KIND_AT, `${name} kind`);
      add(dim + L.DIM_CLASSES_AT, `${name} classes`);
      add(dim + L.DIM_BITMAPS_AT, `${name} bitmaps`);
      const classes = w(dim + L.DIM_CLASSES_AT);
      if (dense === L.CLS_FORM_FLAT) {
        // FLAT records: super bits, summary word 0 and 1, rank 0 and 1 of the first classes.
        add(dim + L.DIM_SUPERS_AT, `${name} flat records`);
        add(dim + L.DIM_SUMS_AT, `${name} sums`);
        const records = w(dim + L.DIM_SUPERS_AT);
        some(records, classes, `${name} flat super`, L.FLAT_SIZE);
        for (const s of [0, 1]) {
          some(records + L.FLAT_SUMMARIES_AT + 8 * s, classes, `${name} flat summary ${s}`, L.FLAT_SIZE);
          some(records + L.FLAT_RANKS_AT + 4 * s, classes, `${name} flat rank ${s}`, L.FLAT_SIZE);
        }
      } else if (!dense) {
        add(dim + L.DIM_SUPERS_AT, `${name} supers`);
        add(dim + L.DIM_SUMS_AT, `${name} sums`);
        some(w(dim + L.DIM_SUPERS_AT) + L.SUPER_FIRST_AT, classes, `${name} super first`, L.SUPER_SIZE);
        some(w(dim + L.DIM_SUMS_AT) + L.SUMMARY_RANK_AT, classes, `${name} summary rank`, L.SUMMARY_SIZE);
      }
      if (kind === L.DIM_KIND_ADDRESS) {
        add(dim + L.DIM_TRIE4_AT, `${name} trie4`);
        add(dim + L.DIM_TRIE6_AT, `${name} trie6`);
        add(dim + L.DIM_ABSENT_AT, `${name} absent`);
        trie(w(dim + L.DIM_TRIE4_AT), `${name} trie4`);
        trie(w(dim + L.DIM_TRIE6_AT), `${name} trie6`);
      } else if (kind === L.DIM_KIND_INTERVAL) {
        add(dim + L.DIM_COUNT_AT, `${name} count`);
        add(dim + L.DIM_BOUNDS_AT, `${name} bounds`);
        add(dim + L.DIM_CLASSOF_AT, `${name} classOf`);
        const n = w(dim + L.DIM_COUNT_AT);
        some(w(dim + L.DIM_BOUNDS_AT), n, `${name} bounds`);
        some(w(dim + L.DIM_CLASSOF_AT), n, `${name} classOf`);
      } else {
        add(dim + L.DIM_COUNT_AT, `${name} count`);
        add(dim + L.DIM_DIRECT_AT, `${name} direct`);
      }
    }
  };
  for (let i = 0; i < Math.min(nCls, WALK_MAX); i++) classifier(w(dir + 4 * i), `classifier ${i}`);
  return [...out].filter(([at]) => at + 4 <= table.length).map(([at, what]) => ({ at, what }));
}

// ----------------------------------------------------------------- mutations

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'field'; field: number; choice: number; random: number }
  | { kind: 'meta'; pick: number; edit: number; random: number }
  | { kind: 'splice'; other: number; how: number; at: number }
  | { kind: 'pastLastBox'; classifier: number };

/** `at`, `pick`, ... are fractions in [0, 1) scaled to the snapshot at hand. */
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('byte' as const), at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) }),
  fc.record({ kind: fc.constant('field' as const), field: fc.nat(), choice: fc.nat(), random: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ kind: fc.constant('field' as const), field: fc.nat(), choice: fc.nat(), random: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ kind: fc.constant('meta' as const), pick: fc.nat(), edit: fc.nat(), random: fc.nat() }),
  fc.record({ kind: fc.constant('splice' as const), other: fc.nat(), how: fc.integer({ min: 0, max: 2 }), at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) }),
  fc.record({ kind: fc.constant('pastLastBox' as const), classifier: fc.nat() }),
);

/**
 * Sets the bit of the first box past the last in every class of every consulted
 * dimension of one dense classifier: the AND of a flow's classes then names a box that
 * does not exist (its rule id and action would be read past their arrays).
 */
function pastLastBox(table: Uint8Array, pick: number): void {
  const v = view(table);
  const n = v.getUint32(L.TABLE_CLASSIFIERS_AT, true);
  if (n === 0) return;
  const cls = v.getUint32(v.getUint32(L.TABLE_DIRECTORY_AT, true) + 4 * (pick % n), true);
  const boxes = v.getUint32(cls + L.CLS_BOXES_AT, true);
  const words = v.getUint32(cls + L.CLS_WORDS_AT, true);
  const mask = v.getUint32(cls + L.CLS_DIMMASK_AT, true);
  if (!v.getUint32(cls + L.CLS_DENSE_AT, true) || boxes >= words * 64) return;
  for (let d = 0; d < L.DIM_COUNT; d++) {
    if (!((mask >>> d) & 1)) continue;
    const dim = cls + L.CLS_DIMS_AT + d * L.DIM_SIZE;
    const bitmaps = v.getUint32(dim + L.DIM_BITMAPS_AT, true);
    // (Classes past the table's end are not written: after an earlier mutation the count may be 2^32 - 1.)
    const classes = Math.min(v.getUint32(dim + L.DIM_CLASSES_AT, true), Math.ceil(table.length / Math.max(1, words * 8)));
    for (let c = 0; c < classes; c++) table[bitmaps + c * words * 8 + (boxes >>> 3)]! |= 1 << (boxes & 7);
  }
}

/** Values a structure field gets: edges, neighbours, other structures' offsets, huge counts. */
function fieldValue(table: Uint8Array, fields: number[], at: number, choice: number, random: number): number {
  const v = view(table);
  const old = v.getUint32(at, true);
  const other = v.getUint32(fields[random % fields.length]!, true);
  const options = [
    0, 1, 2, 3, 7, 8, 16, 63, 64, 65, 128, 129, 255, 256, 65535, 65536, 65537,
    0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff,
    table.length, table.length - 4, table.length - 8, table.length + 8,
    old + 1, old - 1, old + 4, old - 4, old + 8, old - 8, old + 16, old * 2, old >>> 1, old ^ 0x80000000,
    other, other + 8, random,
  ];
  return options[choice % options.length]! >>> 0;
}

/** A JSON value of another shape, or a prototype trick. */
function strangeValue(k: number, random: number): unknown {
  const values: unknown[] = [
    null, 0, -1, 1.5, 1e300, 65536, 256, 2 ** 32, '', 'x', '__proto__', 'constructor', true, [], {}, [[]],
    { $n: 'ff' }, { $n: '-1' }, { $n: 'f'.repeat(40) }, { $n: 'zz' }, { $n: 'ff', x: 1 },
    JSON.parse('{"__proto__": {"polluted": true}}'), JSON.parse('{"constructor": {"prototype": {"polluted": true}}}'),
    'accept', 'drop', 'all', 'ping', 'inbound', 'outbound', 'open-all', random % 300, `sg-${random % 5}`, 'default',
  ];
  return values[k % values.length];
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every (parent, key) of a JSON document, depth first. */
function slots(doc: Json): [Json[] | { [k: string]: Json }, string | number][] {
  const out: [Json[] | { [k: string]: Json }, string | number][] = [];
  const walk = (v: Json) => {
    if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), walk(x)));
    else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) (out.push([v, k]), walk(v[k]!));
  };
  walk(doc);
  return out;
}

function mutateMeta(meta: Uint8Array, pick: number, edit: number, random: number): Uint8Array | null {
  let doc: Json;
  try {
    doc = JSON.parse(new TextDecoder().decode(meta)) as Json;
  } catch {
    return null; // already broken by an earlier mutation
  }
  const all = slots(doc);
  if (all.length === 0) return meta;
  const [parent, key] = all[pick % all.length]!;
  const p = parent as Record<string | number, unknown>;
  switch (edit % 6) {
    case 0:
    case 1:
      p[key] = strangeValue(random, edit);
      break;
    case 2: // drop the field / element
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete p[key];
      break;
    case 3: // an extra own field, possibly named like a prototype slot
      if (!Array.isArray(parent)) Object.defineProperty(parent, ['__proto__', 'constructor', 'extra', 'toString'][random % 4]!, { value: strangeValue(edit, random), enumerable: true, configurable: true, writable: true });
      else parent.push(strangeValue(edit, random) as Json);
      break;
    case 4: // a value from elsewhere in the document (a copy: an ancestor put inside itself would be a cycle)
      p[key] = structuredClone(all[random % all.length]![0][all[random % all.length]![1] as never]);
      break;
    default: // swap two elements of a list
      if (Array.isArray(parent) && parent.length > 1) {
        const j = random % parent.length;
        [parent[key as number], parent[j]] = [parent[j]!, parent[key as number]!];
      } else p[key] = strangeValue(random + edit, random);
  }
  return new TextEncoder().encode(JSON.stringify(doc));
}

/**
 * Applies `m` to `snapshot` (an unsigned or signed snapshot; the result is resealed
 * unless `reseal` is false). `others` are snapshots of other configs for splices.
 */
export function mutate(snapshot: Uint8Array, m: Mutation, others: Uint8Array[], resealIt = true): Uint8Array {
  let out: Uint8Array = snapshot.slice();
  const at = (f: number) => Math.floor(f * out.length);
  switch (m.kind) {
    case 'flip':
      out[at(m.at)]! ^= 1 << m.bit;
      break;
    case 'byte':
      out[at(m.at)] = m.value;
      break;
    case 'truncate':
      out = out.slice(0, at(m.at));
      break;
    case 'field': {
      const p = split(out);
      const fields = p ? fieldsOf(p.table) : [];
      if (!p || fields.length === 0) {
        out[Math.floor((m.random / 2 ** 32) * out.length)]! ^= 0x10;
        break;
      }
      const f = fields[m.field % fields.length]!;
      view(p.table).setUint32(f, fieldValue(p.table, fields, f, m.choice, m.random), true);
      out.set(p.table, HEADER);
      break;
    }
    case 'meta': {
      const p = split(out);
      const meta = p && mutateMeta(p.meta, m.pick, m.edit, m.random);
      if (p && meta) out = join({ ...p, meta });
      break;
    }
    case 'splice': {
      const other = others[m.other % others.length]!;
      const a = split(out);
      const b = split(other);
      if (m.how === 0 && a && b) out = join({ ...a, meta: b.meta }); // this table, the other's metadata
      else if (m.how === 1 && a && b) out = join({ ...b, meta: a.meta }); // the other's table, this metadata
      else {
        // Raw bytes: this snapshot up to a cut, the other's from there on.
        const cut = at(m.at);
        const mixed = new Uint8Array(Math.max(cut, other.length));
        mixed.set(out.subarray(0, cut));
        if (other.length > cut) mixed.set(other.subarray(cut), cut);
        out = mixed;
      }
      break;
    }
    case 'pastLastBox': {
      const p = split(out);
      if (!p) break;
      try {
        pastLastBox(p.table, m.classifier);
      } catch {
        break; // an earlier mutation broke the table too much to walk
      }
      out.set(p.table, HEADER);
      break;
    }
  }
  return resealIt ? reseal(out) : out;
}
