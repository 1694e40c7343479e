/**
 * Bounded memory of the trades a market-feed instance has already taken in.
 * Upbit's sequential_id is unique but not ordered, so "newer than the last
 * one" cannot tell a duplicate; a set of recent ids can. The oldest ids are
 * forgotten first; JetStream's duplicate window (same Nats-Msg-Id) is the
 * second line behind this one.
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
  const set = new Set<string>();
  // Set iteration order is insertion order: the first entry is the oldest.
  return {
    add: (id) => {
      if (set.has(id)) return false;
      set.add(id);
      if (set.size > capacity) {
        const oldest = set.values().next().value as string;
        set.delete(oldest);
      }
      return true;
    },
    has: (id) => set.has(id),
    forget: (id) => {
      set.delete(id);
    },
    size: () => set.size,
  };
}
