/**
 * Bounded memory of the trades a market-feed instance has already taken in.
 * Upbit's sequential_id is unique but not ordered, so "newer than the last
 * one" cannot tell a duplicate; a set of recent ids can. The oldest ids are
 * forgotten first; JetStream's duplicate window (same Nats-Msg-Id) is the
 * second line behind this one.
 *
 * Insertion order lives in a ring of ids, membership in a Map (id → the
 * insertion number of its live entry). Evicting "the first entry of a Set"
 * looked O(1) but is not in V8: deleted entries stay as holes at the front of
 * the hash table until it is rehashed, and `values().next()` walks over all
 * of them — at 50 000 ids per market that scan was a quarter of the feed's CPU.
 */
export interface SeenIds {
  /** Records `id`; false when it was already known. */
  readonly add: (id: string) => boolean;
  readonly has: (id: string) => boolean;
  /** Forgets `id` (a trade that was dropped before publishing, so backfill may bring it again). */
  readonly forget: (id: string) => void;
  readonly size: () => number;
}

export function createSeenIds(capacity: number): SeenIds {
  if (!(capacity >= 1)) throw new RangeError("capacity must be at least 1");
  const live = new Map<string, number>();
  // Ring of (id, insertion number), oldest at `head`. Entries of forgotten ids
  // stay until they reach the head (the Map no longer points at them), so the
  // ring holds at most `capacity` live entries plus the stale ones, which are
  // compacted away once there are more than max(capacity, 1024) of them.
  let ids: string[] = new Array(Math.min(capacity, 1024));
  let seqs: number[] = new Array(ids.length);
  let head = 0;
  let count = 0;
  let nextSeq = 0;
  // The greatest id ever added, ordered by (length, then text): an id above it
  // was never added, so the common case (ids mostly rising) skips the look-up
  // in a Map of `capacity` entries — a cache miss per trade at 50 000 ids.
  // A strict total order on strings, so "above" also means "not equal".
  let maxId = "";

  const grow = () => {
    const n = ids.length * 2;
    const nIds: string[] = new Array(n);
    const nSeqs: number[] = new Array(n);
    for (let i = 0; i < count; i++) {
      const j = (head + i) % ids.length;
      nIds[i] = ids[j] as string;
      nSeqs[i] = seqs[j] as number;
    }
    ids = nIds;
    seqs = nSeqs;
    head = 0;
  };

  /** Keeps only live entries (forgotten ids must not make the ring grow without bound). */
  const compact = () => {
    const n = ids.length;
    let w = 0;
    for (let i = 0; i < count; i++) {
      const j = (head + i) % n;
      const id = ids[j] as string;
      const seq = seqs[j] as number;
      if (live.get(id) !== seq) continue;
      const k = (head + w) % n;
      ids[k] = id;
      seqs[k] = seq;
      w++;
    }
    for (let i = w; i < count; i++) ids[(head + i) % n] = undefined as unknown as string;
    count = w;
  };

  /** Drops the oldest live id (and any stale entries in front of it). */
  const evictOldest = () => {
    if (count === live.size && count > 0) {
      // No forgotten ids in the ring: its head is live, one Map operation.
      const id = ids[head] as string;
      ids[head] = undefined as unknown as string;
      head = (head + 1) % ids.length;
      count--;
      live.delete(id);
      return;
    }
    while (count > 0) {
      const id = ids[head] as string;
      const seq = seqs[head] as number;
      ids[head] = undefined as unknown as string;
      head = (head + 1) % ids.length;
      count--;
      if (live.get(id) === seq) {
        live.delete(id);
        return;
      }
    }
  };

  return {
    add: (id) => {
      if (id.length > maxId.length || (id.length === maxId.length && id > maxId)) maxId = id;
      else if (live.has(id)) return false;
      if (live.size >= capacity) evictOldest();
      if (count - live.size > Math.max(capacity, 1024)) compact();
      if (count === ids.length) grow();
      const seq = nextSeq++;
      const at = (head + count) % ids.length;
      ids[at] = id;
      seqs[at] = seq;
      count++;
      live.set(id, seq);
      return true;
    },
    has: (id) => live.has(id),
    forget: (id) => {
      live.delete(id);
    },
    size: () => live.size,
  };
}
