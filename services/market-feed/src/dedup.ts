/**
 * Bounded memory of the trades a market-feed instance has already taken in.
 * Upbit's sequential_id is unique but not ordered, so "newer than the last
 * one" cannot tell a duplicate; a set of recent ids can. The oldest ids are
 * forgotten first; JetStream's duplicate window (same Nats-Msg-Id) is the
 * second line behind this one.
 *
 * Ids are ordered by (length, then text) — numeric order for digit strings
 * without leading zeros, and a strict total order on any strings. Almost every
 * id is above all ids seen before, so the set is kept in two parts:
 *
 * - `run`: a ring of the ids that were above every earlier id when added —
 *   in insertion order *and* sorted, so membership is a binary search and
 *   adding or evicting one is an array write, with no hashing. (A Map of
 *   50,000 string keys per market cost a hash and a cache miss per trade for
 *   the insert and again for the eviction.)
 * - `late`: a Map (id → insertion number) of the ids that arrived below the
 *   greatest one, with its own insertion-ordered ring for eviction.
 *
 * The oldest live id overall is the older of the two rings' heads (insertion
 * numbers are global). Forgotten ids leave a tombstone in `run` (a flag) or a
 * stale entry in `late`'s ring (the Map no longer points at it); both are
 * dropped when they reach the head, and compacted away when there are more
 * than max(capacity, 1024) of them, so the rings stay bounded.
 *
 * (Evicting "the first entry of a Set" looked O(1) but is not in V8: deleted
 * entries stay as holes at the front of the hash table until it is rehashed,
 * and `values().next()` walks over all of them.)
 */
export interface SeenIds {
  /** Records `id`; false when it was already known. */
  readonly add: (id: string) => boolean;
  readonly has: (id: string) => boolean;
  /** Forgets `id` (a trade that was dropped before publishing, so backfill may bring it again). */
  readonly forget: (id: string) => void;
  readonly size: () => number;
}

/** (length, then text) order: negative, zero or positive. */
const compareIds = (a: string, b: string): number =>
  a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;

/** A FIFO ring of (id, insertion number, dead flag). */
class Ring {
  ids: string[];
  seqs: number[];
  dead: Uint8Array;
  head = 0;
  count = 0;
  constructor(n: number) {
    this.ids = new Array(n);
    this.seqs = new Array(n);
    this.dead = new Uint8Array(n);
  }
  /** Physical slot of logical index k (0 = oldest). */
  at(k: number): number {
    const j = this.head + k;
    return j >= this.ids.length ? j - this.ids.length : j;
  }
  push(id: string, seq: number): void {
    if (this.count === this.ids.length) this.resize(this.ids.length * 2, () => true);
    const j = this.at(this.count);
    this.ids[j] = id;
    this.seqs[j] = seq;
    this.dead[j] = 0;
    this.count++;
  }
  shift(): void {
    const h = this.head;
    this.ids[h] = undefined as unknown as string;
    this.dead[h] = 0;
    this.head = h + 1 === this.ids.length ? 0 : h + 1;
    this.count--;
  }
  /** Copies the entries that `keep` accepts (in order) into a ring of `n` slots. */
  resize(n: number, keep: (id: string, seq: number, dead: boolean) => boolean): void {
    const ids: string[] = new Array(n);
    const seqs: number[] = new Array(n);
    const dead = new Uint8Array(n);
    let w = 0;
    for (let k = 0; k < this.count; k++) {
      const j = this.at(k);
      const id = this.ids[j] as string;
      const seq = this.seqs[j] as number;
      const d = this.dead[j] === 1;
      if (!keep(id, seq, d)) continue;
      ids[w] = id;
      seqs[w] = seq;
      dead[w] = d ? 1 : 0;
      w++;
    }
    this.ids = ids;
    this.seqs = seqs;
    this.dead = dead;
    this.head = 0;
    this.count = w;
  }
}

export function createSeenIds(capacity: number): SeenIds {
  if (!(capacity >= 1)) throw new RangeError("capacity must be at least 1");
  const initial = Math.min(capacity, 1024);
  const run = new Ring(initial);
  const late = new Ring(16);
  const lateLive = new Map<string, number>();
  let runLive = 0;
  let nextSeq = 0;
  // The greatest id ever added (the last entry of `run`, live or not).
  let maxId = "";
  const slack = Math.max(capacity, 1024);

  /** Logical index in `run` of `id`, or -1 (binary search: `run` is sorted). */
  const findInRun = (id: string): number => {
    let lo = 0;
    let hi = run.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareIds(run.ids[run.at(mid)] as string, id);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  };

  const has = (id: string): boolean => {
    if (compareIds(id, maxId) > 0) return false;
    if (lateLive.has(id)) return true;
    const k = findInRun(id);
    return k >= 0 && run.dead[run.at(k)] === 0;
  };

  /** Drops tombstones at `run`'s head and stale entries at `late`'s head. */
  const trimHeads = () => {
    while (run.count > 0 && run.dead[run.head] === 1) run.shift();
    while (late.count > 0 && lateLive.get(late.ids[late.head] as string) !== late.seqs[late.head])
      late.shift();
  };

  const evictOldest = () => {
    trimHeads();
    const fromRun =
      run.count > 0 &&
      (late.count === 0 || (run.seqs[run.head] as number) < (late.seqs[late.head] as number));
    if (fromRun) {
      run.shift();
      runLive--;
    } else if (late.count > 0) {
      lateLive.delete(late.ids[late.head] as string);
      late.shift();
    }
  };

  const compact = () => {
    if (run.count - runLive > slack)
      run.resize(Math.max(initial, runLive * 2), (_id, _seq, dead) => !dead);
    if (late.count - lateLive.size > slack)
      late.resize(Math.max(16, lateLive.size * 2), (id, seq) => lateLive.get(id) === seq);
  };

  return {
    add: (id) => {
      if (compareIds(id, maxId) > 0) {
        maxId = id;
        if (runLive + lateLive.size >= capacity) evictOldest();
        run.push(id, nextSeq++);
        runLive++;
      } else {
        if (has(id)) return false;
        if (runLive + lateLive.size >= capacity) evictOldest();
        const seq = nextSeq++;
        late.push(id, seq);
        lateLive.set(id, seq);
      }
      compact();
      return true;
    },
    has,
    forget: (id) => {
      if (lateLive.delete(id)) return;
      if (compareIds(id, maxId) > 0) return;
      const k = findInRun(id);
      if (k < 0) return;
      const j = run.at(k);
      if (run.dead[j] === 0) {
        run.dead[j] = 1;
        runLive--;
      }
    },
    size: () => runLive + lateLive.size,
  };
}
