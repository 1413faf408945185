"""The one stopping object: :class:`partialloading.stop.Deadline`."""

from __future__ import annotations

import time

import pytest

from partialloading.stop import NEVER, Deadline


def test_never_expires() -> None:
    assert not NEVER.limited and NEVER.remaining() is None and NEVER.seconds() is None
    assert not NEVER.expired() and not NEVER(10**9)
    assert NEVER.share(0.5) is NEVER
    capped = NEVER.capped(5.0)
    assert capped.limited and 4.0 < (capped.remaining() or 0.0) <= 5.0


def test_a_deadline_in_the_past_has_expired() -> None:
    gone = Deadline(time.perf_counter() - 1.0)
    assert gone.expired() and gone(0) and gone.remaining() == 0.0
    # A solver is never handed less than the floor (it may refuse to return even its start).
    assert gone.seconds() == pytest.approx(0.01)


def test_shares_and_caps_never_outlast_the_deadline() -> None:
    whole = Deadline.after(10.0)
    quarter = whole.share(0.25)
    assert quarter.end is not None and whole.end is not None and quarter.end <= whole.end
    assert 2.0 < (quarter.remaining() or 0.0) <= 2.5
    assert whole.capped(60.0).end == whole.end
    assert (whole.capped(1.0).remaining() or 0.0) <= 1.0
