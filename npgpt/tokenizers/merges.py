"""The BPE algorithms on lists of token ids, each in a readable form and a fast form.

Tokens are ints: the 256 byte values first, then merge k creates token ``first_id + k``
(256 + k), so a merge's new id is also its rank: lower ids were learned first and merge first.
``merges`` below is a dict ``(a, b) -> new id``.

Readable forms (``get_stats``, ``merge``, ``bpe_encode_simple``, ``train_simple``) are the
textbook loops. The fast forms (``bpe_encode`` with ``bpe_encode_heap``, ``bpe_encode_many``
with ``RankTable``, and ``train``) compute exactly the same thing; the tests hold each pair equal
on random inputs.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from itertools import chain

import numpy as np


def get_stats(ids, counts=None, weight=1):
    """Count adjacent pairs: [1, 2, 3, 1, 2] -> {(1, 2): 2, (2, 3): 1, (3, 1): 1}."""
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


def merge(ids, pair, new_id):
    """Replace every occurrence of ``pair`` in ``ids``, left to right, by ``new_id``.

    merge([1, 1, 1, 2], (1, 1), 9) -> [9, 1, 2]: occurrences do not overlap; the leftmost wins.
    """
    ### BEGIN SOLUTION 12.1
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    ### END SOLUTION 12.1


# --- encoding one chunk ----------------------------------------------------------------------


def bpe_encode_simple(ids, merges):
    """Apply learned merges to one chunk's byte tokens: repeatedly merge the pair learned first.

    Readable but O(n^2) in the chunk length n: each round rescans every pair.
    """
    ### BEGIN SOLUTION 12.3
    ids = list(ids)
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, float("inf")))
        if pair not in merges:
            break  # no adjacent pair was ever merged
        ids = merge(ids, pair, merges[pair])
    return ids
    ### END SOLUTION 12.3


SHORT = 64  # chunks up to this many bytes use the list loop; longer ones the heap
_NEVER = 1 << 62  # rank of a pair that was never merged
FEW = 16  # chunks of one length that bpe_encode_many still encodes one by one


def bpe_encode(ids, merges):
    """Same result as ``bpe_encode_simple``, fast: the encoder's path.

    Most chunks are short words: for them keep the rank of every adjacent pair in a list and, each
    round, merge where the list is smallest (``min`` and ``index`` run in C), then recompute just
    the two ranks beside the new token. Merging one occurrence at a time, leftmost first, gives the
    same tokens as merging all of them at once: the pairs a merge creates have higher ranks. Each
    round still scans the list, so long chunks (a run of 1000 spaces) go to ``bpe_encode_heap``.
    """
    if len(ids) > SHORT:
        return bpe_encode_heap(ids, merges)
    ids = list(ids)
    get = merges.get
    ranks = [get(p, _NEVER) for p in zip(ids, ids[1:])]  # ranks[i] is the pair (ids[i], ids[i + 1])
    while ranks:
        rank = min(ranks)
        if rank == _NEVER:
            break
        i = ranks.index(rank)
        ids[i : i + 2] = [rank]  # the merged token's id is its rank
        del ranks[i]
        if i > 0:
            ranks[i - 1] = get((ids[i - 1], rank), _NEVER)
        if i < len(ranks):
            ranks[i] = get((rank, ids[i + 1]), _NEVER)
    return ids


def bpe_encode_heap(ids, merges):
    """Same result as ``bpe_encode_simple`` in O(n log n), for long chunks.

    The chunk is a doubly linked list; a heap holds (rank, position) of every mergeable adjacent
    pair. Popping gives the lowest rank, and for equal ranks the leftmost position, which is the
    order the simple loop merges in. After a merge only the two pairs touching the new token
    change, so two pushes update the heap. Entries made stale by an earlier merge are skipped:
    their position died, or the pair there is no longer the one with that rank. A merge's pairs
    with neighbours always have higher ranks (their new token did not exist before), so all the
    merges of one rank still happen in one left-to-right sweep.
    """
    n = len(ids)
    if n < 2:
        return list(ids)
    tokens = list(ids)  # tokens[i] is None once position i was merged into its left neighbour
    nxt = list(range(1, n + 1))  # n marks the end
    prv = list(range(-1, n - 1))  # -1 marks the start
    heap = [(merges[p], i) for i, p in enumerate(zip(ids, ids[1:])) if p in merges]
    heapq.heapify(heap)
    while heap:
        rank, i = heapq.heappop(heap)
        j = nxt[i] if tokens[i] is not None else n
        if j >= n or merges.get((tokens[i], tokens[j])) != rank:
            continue  # stale entry
        tokens[i], tokens[j] = rank, None  # merge j into i; the new token's id is the rank
        k = nxt[j]
        nxt[i] = k
        if k < n:
            prv[k] = i
            r = merges.get((rank, tokens[k]))
            if r is not None:
                heapq.heappush(heap, (r, i))
        h = prv[i]
        if h >= 0:
            r = merges.get((tokens[h], rank))
            if r is not None:
                heapq.heappush(heap, (r, h))
    return [t for t in tokens if t is not None]


class RankTable:
    """``merges`` as NumPy arrays, to look up the ranks of many pairs in one call.

    Pairs of two bytes (ids below 256) are read from a dense 256 x 256 table. Other pairs live in
    a hash table with linear probing: the pair (a, b) is the int64 key ``a * base + b``, its home
    slot the top bits of key * (an odd 64-bit constant) (Fibonacci hashing); a key sits at its home
    slot or at the first free slot after it, so a lookup walks from the home slot until it finds
    the key or an empty slot (a never-merged pair: ``_NEVER``). With the table at most a quarter
    full a walk is one or two slots: a few NumPy passes instead of a binary search's sixteen reads.
    """

    _MULT = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio, odd

    def __init__(self, merges):
        self.merges = merges
        pairs = np.fromiter(chain.from_iterable(merges), np.int64, 2 * len(merges)).reshape(-1, 2)
        ranks = np.fromiter(merges.values(), np.int64, len(merges))
        self.base = int(max(pairs.max(initial=0), ranks.max(initial=0))) + 1
        self.byte_pairs = np.full((256, 256), _NEVER, dtype=np.int64)
        small = (pairs < 256).all(axis=1)
        self.byte_pairs[pairs[small, 0], pairs[small, 1]] = ranks[small]
        self.bits = max(4, (4 * len(ranks)).bit_length())
        self.keys = np.full(1 << self.bits, -1, dtype=np.int64)  # -1: an empty slot
        self.values = np.full(1 << self.bits, _NEVER, dtype=np.int64)
        keys = pairs[:, 0] * self.base + pairs[:, 1]
        home, mask = self._home(keys), (1 << self.bits) - 1
        waiting, step = np.arange(len(keys)), 0  # insert all keys at once, one probe step a round
        while len(waiting):
            slot = (home[waiting] + step) & mask
            free = self.keys[slot] == -1
            slot, first = np.unique(slot[free], return_index=True)  # one key per free slot
            placed = waiting[free][first]
            self.keys[slot], self.values[slot] = keys[placed], ranks[placed]
            waiting, step = np.setdiff1d(waiting, placed, assume_unique=True), step + 1

    def _home(self, keys):
        return ((keys.astype(np.uint64) * self._MULT) >> np.uint64(64 - self.bits)).astype(np.int64)

    def ranks(self, a, b):
        """Rank of each pair (a[i], b[i]) (arrays of the same shape), ``_NEVER`` if never merged."""
        if a.size and max(a.max(), b.max()) < 256:
            return self.byte_pairs[a, b]
        key = (a * self.base + b).ravel()
        out = np.full(key.shape, _NEVER, dtype=np.int64)
        slot, todo, mask = self._home(key), np.arange(key.size), (1 << self.bits) - 1
        while len(todo):
            found = self.keys[slot]
            hit = found == key[todo]
            out[todo[hit]] = self.values[slot[hit]]
            more = ~hit & (found != -1)  # an occupied slot holding another key: walk on
            todo, slot = todo[more], (slot[more] + 1) & mask
        return out.reshape(a.shape)


def bpe_encode_many(chunks, table):
    """``[bpe_encode(ids, merges) for ids in chunks]`` for many chunks at once, in NumPy.

    Chunks of the same length go through together as the rows of one array (``_merge_rows``);
    so the Python work is per round and per length, not per chunk: a text's thousands of new
    words cost a few hundred NumPy calls. ``table`` is the ``RankTable`` of the merges; a chunk
    may be a list of ids or ``bytes`` (ids below 256).
    """
    out = [None] * len(chunks)
    lengths = np.fromiter(map(len, chunks), np.int64, len(chunks))
    order = np.argsort(lengths, kind="stable")
    starts = np.flatnonzero(np.diff(lengths[order], prepend=-1))  # where each length begins in order
    for rows in np.split(order, starts[1:]):
        n = int(lengths[rows[0]])
        if n < 2 or n > SHORT or len(rows) < FEW:  # NumPy pays only for many rows, short ones
            for k in rows.tolist():
                out[k] = bpe_encode(chunks[k], table.merges)
            continue
        ids = np.fromiter(chain.from_iterable([chunks[k] for k in rows.tolist()]), np.int64, len(rows) * n)
        for where, final in _merge_rows(ids.reshape(-1, n), table):
            for k, row in zip(rows[where].tolist(), final.tolist()):
                out[k] = row
    return out


def _merge_rows(ids, table):
    """BPE on every row of ``ids`` (rows of one length); yields (row numbers, their final ids).

    Each round every row merges its lowest-ranked pair, leftmost on ties (``argmin``), as
    ``bpe_encode`` does, so every row loses one column and the array stays rectangular; then the
    two ranks beside the new token are looked up again. A row whose pairs were never merged is
    finished and leaves the array.
    """
    rows = np.arange(len(ids))
    ranks = table.ranks(ids[:, :-1], ids[:, 1:])  # ranks[r, i] is the pair (ids[r, i], ids[r, i + 1])
    while len(rows) and ids.shape[1] > 1:
        best = ranks.argmin(axis=1)
        rank = ranks[np.arange(len(rows)), best]
        done = rank == _NEVER
        if done.any():
            yield rows[done], ids[done]
            rows, ids, ranks, best, rank = rows[~done], ids[~done], ranks[~done], best[~done], rank[~done]
        r, width = np.arange(len(rows)), ids.shape[1]
        ids[r, best] = rank  # the merged token's id is its rank; its right half is dropped:
        j = np.arange(width - 1)
        ids = np.where(j <= best[:, None], ids[:, :-1], ids[:, 1:])  # column j takes j + 1 right of it
        ranks = np.where(j[:-1] < best[:, None], ranks[:, :-1], ranks[:, 1:])  # pair j, the same
        left = best > 0  # the pair (left neighbour, new token)
        ranks[r[left], best[left] - 1] = table.ranks(ids[r[left], best[left] - 1], rank[left])
        right = best < width - 2  # the pair (new token, right neighbour)
        ranks[r[right], best[right]] = table.ranks(rank[right], ids[r[right], best[right] + 1])
    if len(rows):
        yield rows, ids


# --- training ------------------------------------------------------------------------------


def _best(counts):
    """The most frequent pair; ties go to the smallest pair (a, b), so training is deterministic."""
    return min(counts, key=lambda p: (-counts[p], p))


def train_simple(words, n_merges, first_id=256):
    """Learn up to ``n_merges`` merges from ``words`` ({tuple of ids: count}); the textbook loop.

    Each round counts every adjacent pair in every word (weighted by its count), merges the
    most frequent everywhere, and records it. Stops early when no pair is left.
    """
    ### BEGIN SOLUTION 12.2
    words = {tuple(w): c for w, c in words.items()}
    merges = []
    for k in range(n_merges):
        counts = {}
        for w, c in words.items():
            get_stats(w, counts, c)
        if not counts:
            break
        pair = _best(counts)
        merges.append(pair)
        new_words = {}
        for w, c in words.items():
            w2 = tuple(merge(w, pair, first_id + k))
            new_words[w2] = new_words.get(w2, 0) + c
        words = new_words
    return merges
    ### END SOLUTION 12.2


def train(words, n_merges, first_id=256):
    """Same merges as ``train_simple``, with pair counts updated incrementally.

    Counting is done once. Each merge then only revisits the words that hold the pair (an index
    pair -> words), subtracts their old pairs and adds their new ones; a heap keyed by
    (-count, pair) finds the next best pair (entries whose count changed since are skipped).
    """
    word_list = [list(w) for w in words]
    freqs = list(words.values())
    counts = defaultdict(int)
    where = defaultdict(set)  # pair -> indices of the words that (may) hold it
    for wi, w in enumerate(word_list):
        for pair in zip(w, w[1:]):
            counts[pair] += freqs[wi]
            where[pair].add(wi)
    heap = [(-c, p) for p, c in counts.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < n_merges:
        while heap and counts.get(heap[0][1], 0) != -heap[0][0]:
            heapq.heappop(heap)  # stale: the pair's count changed after this entry was pushed
        if not heap:
            break
        _, pair = heapq.heappop(heap)
        new_id = first_id + len(merges)
        merges.append(pair)
        changed = set()
        for wi in where.pop(pair):
            w, f = word_list[wi], freqs[wi]
            for p in zip(w, w[1:]):
                counts[p] -= f
                changed.add(p)
            w = word_list[wi] = merge(w, pair, new_id)
            for p in zip(w, w[1:]):
                counts[p] += f
                where[p].add(wi)
                changed.add(p)
        for p in changed:
            if counts[p] > 0:
                heapq.heappush(heap, (-counts[p], p))
            else:
                del counts[p]
                where.pop(p, None)
    return merges
