"""Grader of assignment 12 (byte-pair encoding): 12.1 merge, 12.2 the training loop, 12.3 encode.

    python -m lessons.grade --assignment a12
    pytest lessons/a12_bpe --task 12.2

Each task is compared with the grader's own copy of the rule. The training loop and the encoder
call ``merge``; their tests put the grader's ``merge`` in its place, so a mistake in 12.1 costs
12.1's points only.
"""

import random

import pytest

from npgpt.tokenizers import merges as M


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


@pytest.fixture
def grader_merge(monkeypatch):
    monkeypatch.setattr(M, "merge", merge_reference)


# ----------------------------------------------------------------------------- 12.1 merge
@pytest.mark.task("12.1", points=2)
@pytest.mark.parametrize(
    "ids,pair,want",
    [
        ([1, 1, 1, 2], (1, 1), [9, 1, 2]),  # no overlap: the leftmost occurrence wins
        ([1, 2, 3, 1, 2], (1, 2), [9, 3, 9]),
        ([3, 1], (1, 3), [3, 1]),  # the reversed pair is not the pair
        ([5, 1, 2], (1, 2), [5, 9]),  # at the end
        ([7], (7, 7), [7]),
        ([], (1, 2), []),
    ],
)
def test_merge_examples(ids, pair, want):
    before = list(ids)
    assert M.merge(ids, pair, 9) == want, f"merge({before}, {pair}, 9)"
    assert ids == before, "merge must return a new list and leave its input as it was"


@pytest.mark.task("12.1", points=1)
def test_merge_random_sequences():
    rng = random.Random(0)
    for _ in range(200):
        ids = [rng.randrange(4) for _ in range(rng.randrange(12))]
        pair = (rng.randrange(4), rng.randrange(4))
        assert M.merge(list(ids), pair, 99) == merge_reference(ids, pair, 99), f"merge({ids}, {pair}, 99)"


# ----------------------------------------------------------------------------- 12.2 training
def words_of(text):
    counts = {}
    for w in text.split():
        key = tuple(w.encode())
        counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.mark.task("12.2", points=2)
def test_training_on_a_small_corpus(grader_merge):
    words = words_of("low low low low lower lower newest newest newest widest widest the the hug pug")
    got = M.train_simple(words, 12)
    assert got == train_reference(words, 12), f"merges learned:\n got  {got}\n want {train_reference(words, 12)}"


@pytest.mark.task("12.2", points=2)
def test_word_counts_weigh_pairs_and_ties_go_to_the_smallest_pair(grader_merge):
    # (1, 2) appears once in a word seen 5 times; (3, 4) twice in a word seen once; (7, 8) ties (2, 9)
    words = {(1, 2): 5, (3, 4, 3, 4): 1, (7, 8): 3, (2, 9): 3}
    got = M.train_simple(words, 4, first_id=100)
    assert got[0] == (1, 2), f"the first merge must be (1, 2), counted 5 times; got {got[0]}"
    assert got == train_reference(words, 4, first_id=100), f"merges {got}"


@pytest.mark.task("12.2", points=1)
def test_training_stops_when_no_pair_is_left_and_numbers_new_ids(grader_merge):
    words = {(1, 2, 3): 1}
    got = M.train_simple(words, 10, first_id=50)
    assert got == [(1, 2), (50, 3)], f"two merges, the second using the first's new id 50; got {got}"


# ----------------------------------------------------------------------------- 12.3 encoding
@pytest.mark.task("12.3", points=2)
def test_encode_applies_the_earliest_learned_pair_first(grader_merge):
    # (2, 3) was learned before (1, 2): 1 2 3 -> 1 (2 3), not (1 2) 3
    ranks = {(2, 3): 256, (1, 2): 257, (1, 256): 258}
    assert M.bpe_encode_simple([1, 2, 3], ranks) == [258], "1 2 3 with (2,3) first, then (1, 256)"
    assert M.bpe_encode_simple([1, 2, 1, 2], ranks) == [257, 257]
    assert M.bpe_encode_simple([4, 5], ranks) == [4, 5], "no learned pair: the ids come back"
    assert M.bpe_encode_simple([7], ranks) == [7]


@pytest.mark.task("12.3", points=2)
def test_encode_matches_the_rule_on_learned_merges(grader_merge):
    words = words_of("low low low lower lower newest newest widest the the the hug pug thug")
    ranks = {pair: 256 + k for k, pair in enumerate(train_reference(words, 15))}
    rng = random.Random(1)
    for text in ["lowest", "thugs", "newer", "the low hug", "a" * 9, ""] + [
        "".join(rng.choice("lowenstihg ") for _ in range(12)) for _ in range(30)
    ]:
        ids = list(text.encode())
        assert M.bpe_encode_simple(ids, ranks) == encode_reference(ids, ranks), f"encoding {text!r}"
