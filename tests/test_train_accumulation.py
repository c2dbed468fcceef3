"""Gradient accumulation and the batch plan: a step over 2 accumulated micro-batches of 1 is a step over a batch of
2 (same samples, same update), resumes exactly, and is recorded; the global batch is divided or refused."""

from __future__ import annotations

import json

import pytest
import torch
from test_train_loop import LinearStep, Samples, settings

from svcnet.errors import ConfigError
from svcnet.train.checkpoints import load_weights
from svcnet.train.logs import read_csv_log
from svcnet.train.loop import RUN_NAME, SUMMARY_NAME, TrainLoop
from svcnet.train.settings import StageSettings, batch_plan, to_iterations


def train(out, **kw) -> dict[str, torch.Tensor]:
    TrainLoop(LinearStep(), Samples(), settings(**kw), out).run(resume=True)
    if "stop_after" in kw:
        return {}
    return load_weights(out / "linear.pth")


def test_accumulated_micro_batches_make_the_batch(tmp_path):
    whole = train(tmp_path / "whole", batch_size=2)
    accumulated = train(tmp_path / "acc", batch_size=1, accumulation=2)
    for k in whole:
        torch.testing.assert_close(accumulated[k], whole[k], rtol=0, atol=1e-6)
    log_whole = read_csv_log(tmp_path / "whole" / "log.csv")
    log_acc = read_csv_log(tmp_path / "acc" / "log.csv")
    assert log_acc["iteration"] == [1, 2, 3, 4]
    assert log_acc["loss"] == pytest.approx(log_whole["loss"], abs=1e-6)  # the mean over the micro-batches
    batch = {"processes": 1, "batch_size": 1, "accumulation": 2, "global_batch": 2}
    for name in (RUN_NAME, SUMMARY_NAME):
        record = json.loads((tmp_path / "acc" / name).read_text())
        assert {k: record[k] for k in batch} == batch, name


def test_accumulation_resumes_exactly(tmp_path):
    whole = train(tmp_path / "a", batch_size=1, accumulation=2)
    train(tmp_path / "b", batch_size=1, accumulation=2, stop_after=3)
    resumed = train(tmp_path / "b", batch_size=1, accumulation=2)
    for k in whole:
        assert torch.equal(whole[k], resumed[k])


def test_batch_plan_divides_the_global_batch():
    paper_cpnet, paper_ssnet = StageSettings(batch_size=4, global_batch=32), StageSettings(batch_size=1, global_batch=8)
    assert [batch_plan("cpnet2", paper_cpnet, p).accumulation for p in (1, 2, 4, 8)] == [8, 4, 2, 1]
    assert [batch_plan("ssnet", paper_ssnet, p).accumulation for p in (1, 2, 8)] == [8, 4, 1]
    assert batch_plan("ssnet", paper_ssnet, 2).global_batch == 8
    plain = batch_plan("cpnet2", StageSettings(batch_size=4), 3)  # global_batch 0: one micro-batch per process
    assert (plain.accumulation, plain.global_batch) == (1, 12)
    with pytest.raises(ConfigError, match=r"train.cpnet2.global_batch is 32, not a multiple of batch_size 4 x 3"):
        batch_plan("cpnet2", paper_cpnet, 3)
    # an epoch is counted in optimiser steps of the global batch, whatever the number of processes
    epoch = StageSettings(unit="epoch", batch_size=4, global_batch=32)
    assert to_iterations(epoch, 2, n_items=100, global_batch=batch_plan("cpnet2", epoch, 2).global_batch) == 8
