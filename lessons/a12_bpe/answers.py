"""The instructor's reference rules of assignment 12 (never handed out: a handout's grader reads what
they give on the public cases from ``expected.npz``; see ``lessons.expected``)."""


def merge_reference(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if tuple(ids[i : i + 2]) == tuple(pair):
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train_reference(words, n_merges, first_id=256):
    words = dict(words)
    learned = []
    for step in range(n_merges):
        counts = {}
        for word, count in words.items():
            for pair in zip(word, word[1:]):
                counts[pair] = counts.get(pair, 0) + count
        if not counts:
            break
        best = max(counts.values())
        pair = min(p for p, c in counts.items() if c == best)  # ties: the smallest pair
        learned.append(pair)
        merged = {}
        for word, count in words.items():
            key = tuple(merge_reference(list(word), pair, first_id + step))
            merged[key] = merged.get(key, 0) + count
        words = merged
    return learned


def encode_reference(ids, ranks):
    ids = list(ids)
    while True:
        pairs = [p for p in zip(ids, ids[1:]) if p in ranks]
        if not pairs:
            return ids
        pair = min(pairs, key=ranks.get)  # the pair learned first
        ids = merge_reference(ids, pair, ranks[pair])
