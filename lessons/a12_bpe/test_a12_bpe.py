"""Grader of assignment 12 (byte-pair encoding): 12.1 merge, 12.2 the training loop, 12.3 encode.

    python -m lessons.grade --assignment a12
    pytest lessons/a12_bpe --task 12.2

Each task is compared with what the instructor's copy of the rule gives on the same case (recorded
in ``expected.npz`` for a handout: ``lessons.expected``). The training loop and the encoder call
``merge``; their tests put the reference's merges (as recorded, for the sequences the reference
merges) in its place, so a mistake in 12.1 costs 12.1's points only.
"""

import random

import pytest

from lessons.expected import Expected
from npgpt.tokenizers import merges as M

expected = Expected(__file__)


@pytest.fixture
def grader_merge(monkeypatch):
    monkeypatch.setattr(M, "merge", lambda ids, pair, new_id: expected("merge_reference", ids, pair, new_id))


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
        assert M.merge(list(ids), pair, 99) == expected("merge_reference", ids, pair, 99), f"merge({ids}, {pair}, 99)"


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
    want = expected("train_reference", words, 12)
    assert got == want, f"merges learned:\n got  {got}\n want {want}"


@pytest.mark.task("12.2", points=2)
def test_word_counts_weigh_pairs_and_ties_go_to_the_smallest_pair(grader_merge):
    # (1, 2) appears once in a word seen 5 times; (3, 4) twice in a word seen once; (7, 8) ties (2, 9)
    words = {(1, 2): 5, (3, 4, 3, 4): 1, (7, 8): 3, (2, 9): 3}
    got = M.train_simple(words, 4, first_id=100)
    assert got[0] == (1, 2), f"the first merge must be (1, 2), counted 5 times; got {got[0]}"
    assert got == expected("train_reference", words, 4, 100), f"merges {got}"


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
    ranks = {pair: 256 + k for k, pair in enumerate(expected("train_reference", words, 15))}
    rng = random.Random(1)
    for text in ["lowest", "thugs", "newer", "the low hug", "a" * 9, ""] + [
        "".join(rng.choice("lowenstihg ") for _ in range(12)) for _ in range(30)
    ]:
        ids = list(text.encode())
        assert M.bpe_encode_simple(ids, ranks) == expected("encode_reference", ids, ranks), f"encoding {text!r}"
