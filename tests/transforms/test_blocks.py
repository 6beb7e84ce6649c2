"""Cutting work into blocks: balanced, contiguous, nothing lost; run in turn in block order."""

from __future__ import annotations

from transforms.blocks import IN_TURN, InTurn, balanced_slices


def covered(slices: list[slice], n: int) -> list[int]:
    return [i for part in slices for i in range(n)[part]]


def test_equal_costs_cut_into_equal_slices():
    assert balanced_slices([1] * 8, 4) == [slice(0, 2), slice(2, 4), slice(4, 6), slice(6, 8)]


def test_one_heavy_item_is_a_block_of_its_own():
    assert balanced_slices([10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 2) == [slice(0, 1), slice(1, 11)]


def test_slices_cover_every_item_once_in_order_and_none_is_empty():
    costs = [5, 0, 0, 3, 9, 1, 0, 2, 7, 7, 1]
    for parts in range(1, 15):
        slices = balanced_slices(costs, parts)
        assert covered(slices, len(costs)) == list(range(len(costs)))
        assert all(part.stop > part.start for part in slices)
        assert len(slices) <= min(parts, len(costs))


def test_no_items_no_slices_and_no_cost_one_slice():
    assert balanced_slices([], 3) == []
    assert balanced_slices([0, 0, 0], 3) == [slice(0, 3)]


def test_in_turn_runs_each_block_in_order():
    seen: list[int] = []
    assert InTurn(width=3).map(lambda block: seen.append(block) or block * 2, [3, 1, 2]) == [6, 2, 4]
    assert seen == [3, 1, 2]
    assert IN_TURN.width == 1


def test_in_turn_hands_what_is_shared_to_every_block():
    shared = {"offset": 10}
    assert InTurn().map(lambda common, block: common["offset"] + block, [1, 2, 3], shared=shared) == [11, 12, 13]
