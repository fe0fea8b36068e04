"""Batches sized to a time: the size follows how long batches take, within bounds, at most a
doubling or a halving at a time, and shrinks under the monitor's pressure."""

from planrun.zdt.batch_size import LARGEST, SMALLEST, BatchSizer


def test_quick_batches_grow_by_at_most_double():
    sizer = BatchSizer(0.05, first=1000)
    assert sizer.next(0.001) == 2000  # 50x too quick: doubled, not 50x
    assert sizer.next(0.025) == 4000  # half the target: doubled
    assert sizer.next(0.04) == 5000  # 0.8 of the target: x1.25


def test_slow_batches_shrink_by_at_most_half():
    sizer = BatchSizer(0.05, first=8000)
    assert sizer.next(5.0) == 4000  # a checkpoint's slow batch does not collapse the size
    assert sizer.next(0.1) == 2000
    assert sizer.next(0.05) == 2000  # on target: unchanged


def test_pressure_divides_and_bounds_hold():
    sizer = BatchSizer(0.05, first=4000)
    assert sizer.next(0.05, pressure=4.0) == 1000
    for _ in range(20):
        sizer.next(0.0001)
    assert sizer.size == LARGEST
    for _ in range(20):
        sizer.next(10.0, pressure=8.0)
    assert sizer.size == SMALLEST
