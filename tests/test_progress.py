"""Progress output: tqdm bars on a terminal, periodic plain lines in a log."""

import io

import pytest
import torch
from tqdm.auto import tqdm

from manifold_fm import Euclidean
from manifold_fm.nn import TimeMLP
from manifold_fm.progress import LineProgress, progress
from manifold_fm.solvers import sample
from manifold_fm.train import TrainConfig, Trainer


class TerminalStream(io.StringIO):
    def isatty(self):
        return True


def test_terminal_stream_gets_a_tqdm_bar():
    out = TerminalStream()
    bar = progress(range(5), total=5, desc="work", stream=out)
    assert isinstance(bar, tqdm)
    assert list(bar) == [0, 1, 2, 3, 4]
    assert "\r" in out.getvalue()  # a bar redraws in place


def test_log_stream_gets_plain_lines_without_carriage_returns():
    out = io.StringIO()
    rep = progress(range(7), total=7, desc="work", stream=out, min_interval_s=0.0)
    assert isinstance(rep, LineProgress)
    assert list(rep) == list(range(7))
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0].startswith("work: 1/7 (14%)")
    assert lines[-1].startswith("work: 7/7 (100%)")


def test_log_lines_are_rate_limited_and_the_last_one_always_comes():
    out = io.StringIO()
    rep = progress(total=1000, desc="train", stream=out, min_interval_s=3600.0)
    for _ in range(1000):
        rep.update(1)
    rep.set_postfix(loss="0.1234")
    rep.close()
    rep.close()  # closing twice writes nothing more
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[0]]
    assert out.getvalue().startswith("train: 1000/1000 (100%)")
    assert "loss=0.1234" in out.getvalue()


def test_bad_interval_is_refused():
    with pytest.raises(ValueError, match="min_interval_s"):
        LineProgress(total=3, min_interval_s=-1.0)
    with pytest.raises(TypeError, match="nothing to iterate"):
        list(LineProgress(total=3))


def test_trainer_and_sampler_write_lines_to_a_non_terminal_stderr(capsys):
    space = Euclidean(2)
    model = TimeMLP.for_space(space, hidden=8, depth=1)
    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    cfg = TrainConfig(steps=5, batch_size=16, warmup_steps=1, log_every=5, progress=True)
    Trainer(space, model, data, cfg).fit()
    sample(model, space, 4, steps=3, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert any(
        line.startswith("train: 5/5 (100%)") and "loss=" in line for line in err.splitlines()
    )
    assert any(line.startswith("sampling: 3/3 (100%)") for line in err.splitlines())
