"""The benchmarks' timer: schedule, per-block records and summaries (fake clocks, no timing)."""

from __future__ import annotations

import pytest
import torch

from benchmarks.common.timing import Timing, TimingConfigError, speed_row, time_blocks


class FakeClock:
    """A clock that moves only when a timed function says how long it took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _recorders(costs: dict[str, list[float]], clock: FakeClock, log: list[str]):
    """Callables that log their name and advance the clock by their next cost."""

    def make(name):
        it = iter(costs[name])

        def fn():
            log.append(name)
            clock.now += next(it)

        return fn

    return {name: make(name) for name in costs}


def test_warmup_then_rotated_blocks_in_order():
    clock, log = FakeClock(), []
    fns = _recorders({n: [1.0] * 20 for n in "abc"}, clock, log)
    res = time_blocks(fns, blocks=4, per_block=2, warmup=1, clock=clock, cpu_clock=clock)
    warm, timed = log[:3], log[3:]
    assert warm == ["a", "b", "c"]
    blocks = [timed[6 * b : 6 * b + 6 : 2] for b in range(4)]
    assert blocks == [list("abc"), list("bca"), list("cab"), list("abc")]
    assert all(timed[i] == timed[i + 1] for i in range(0, len(timed), 2))  # per_block runs
    assert set(res) == set("abc")
    assert all(len(t.wall) == 4 and t.calls_per_block == 2 for t in res.values())


def test_fixed_order_without_rotation_and_no_warmup():
    clock, log = FakeClock(), []
    fns = _recorders({n: [1.0] * 3 for n in ("ours", "peer")}, clock, log)
    time_blocks(fns, blocks=3, warmup=0, rotate=False, clock=clock, cpu_clock=clock)
    assert log == ["ours", "peer"] * 3


def test_block_seconds_come_from_the_clocks():
    clock, cpu, log = FakeClock(), FakeClock(), []
    # warm-up cost 100 is not recorded; blocks of 2 calls cost 1+2, 3+4, 10+10
    fns = _recorders({"f": [100.0, 1, 2, 3, 4, 10, 10]}, clock, log)
    t = time_blocks(fns, blocks=3, per_block=2, warmup=1, clock=clock, cpu_clock=cpu)["f"]
    assert t.wall == (3.0, 7.0, 20.0)
    assert t.cpu == (0.0, 0.0, 0.0)
    assert t.median() == 7.0 and t.best() == 3.0 and t.total_s == 30.0
    assert t.rates() == [2 / 3, 2 / 7, 2 / 20]
    assert t.median_rate() == 2 / 7 and t.best_rate() == 2 / 3
    assert t.threads == torch.get_num_threads()


def test_summary_statistics():
    t = Timing(wall=(4.0, 1.0, 3.0, 2.0, 5.0), cpu=(1.0,) * 5, calls_per_block=10, threads=3)
    assert t.median() == 3.0
    assert t.iqr() == pytest.approx(2.0)  # inclusive quartiles 2 and 4
    assert t.iqr("cpu") == 0.0
    assert Timing((2.0,), (2.0,), 1, 1).iqr() == 0.0
    even = Timing(wall=(1.0, 3.0), cpu=(1.0, 3.0), calls_per_block=1, threads=1)
    assert even.median() == 2.0 and even.median_rate() == pytest.approx((1 + 1 / 3) / 2)
    assert t.summary() == {
        "median_s": 3.0,
        "best_s": 1.0,
        "iqr_s": pytest.approx(2.0),
        "blocks": 5,
        "calls_per_block": 10,
        "threads": 3,
    }
    with pytest.raises(TimingConfigError, match="kind"):
        t.median("gpu")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"blocks": 0}, "blocks"),
        ({"blocks": True}, "blocks"),
        ({"blocks": 2, "per_block": 0}, "per_block"),
        ({"blocks": 2, "warmup": -1}, "warmup"),
        ({"blocks": 2.5}, "blocks"),
    ],
)
def test_impossible_schedules_are_refused_before_any_call(kwargs, message):
    calls = []
    with pytest.raises(TimingConfigError, match=message):
        time_blocks({"f": lambda: calls.append(1)}, **kwargs)
    assert calls == []


def test_empty_or_uncallable_inputs_are_refused():
    with pytest.raises(TimingConfigError, match="empty"):
        time_blocks({}, blocks=1)
    with pytest.raises(TimingConfigError, match="'peer'"):
        time_blocks({"ours": lambda: None, "peer": 3}, blocks=1)


def test_speed_row_ratio_is_above_one_when_ours_is_faster():
    rate = speed_row("r", "steps/s", 20.0, "peer", 10.0, lower_is_better=False, batch=8)
    assert rate["ratio"] == 2.0 and rate["batch"] == 8
    assert list(rate)[:6] == ["name", "unit", "ours", "peer", "peer_value", "ratio"]
    time_row = speed_row("t", "ms", 5.0, "peer", 10.0, lower_is_better=True)
    assert time_row["ratio"] == 2.0
