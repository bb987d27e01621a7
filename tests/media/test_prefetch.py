"""Frames produced on a background thread reach the encoder in order, errors included, and the
producer never runs more than the queue's depth ahead."""

from __future__ import annotations

import threading

import pytest

from talkinghead.media import prefetch


def test_items_arrive_in_order():
    assert list(prefetch(iter(range(1000)), depth=3)) == list(range(1000))


def test_producer_stays_within_depth():
    produced = []

    def items():
        for i in range(100):
            produced.append(i)
            yield i

    consumed = 0
    for item in prefetch(items(), depth=4):
        consumed += 1
        # the producer may hold one item in hand beyond the full queue
        assert len(produced) - consumed <= 4 + 1, (len(produced), consumed)
    assert consumed == 100


def test_an_error_is_raised_at_the_item_it_replaced():
    def items():
        yield 0
        yield 1
        raise ValueError("frame 2 failed")

    got = []
    with pytest.raises(ValueError, match="frame 2 failed"):
        for item in prefetch(items()):
            got.append(item)
    assert got == [0, 1]


def test_closing_early_stops_the_producer():
    before = threading.active_count()

    def endless():
        i = 0
        while True:
            yield i
            i += 1

    stream = prefetch(endless(), depth=2)
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    stream.close()
    assert threading.active_count() == before
