"""TrainLoop's three parts on a tiny real network: setup, one iteration, finish (and run = their composition)."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from svcnet.errors import DiskFullError
from svcnet.train.checkpoints import latest_checkpoint, load_weights
from svcnet.train.logs import CSV_NAME, PLOT_NAME, read_csv_log
from svcnet.train.loop import (
    RUN_NAME,
    SUMMARY_NAME,
    LoopSettings,
    TrainingDiverged,
    TrainLoop,
    TrainResult,
    TrainStep,
)

torch.set_num_threads(1)


class Samples(Dataset):
    """Global sample n → a fixed input/target pair that depends only on n."""

    def __len__(self) -> int:
        return 1 << 20

    def __getitem__(self, n: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(n)
        x = torch.randn(4, generator=g)
        return {"x": x, "y": x.sum(0, keepdim=True) * 0.5}


class LinearStep(TrainStep):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.net = nn.Linear(4, 1)
        self.networks = {"linear": self.net}

    def param_groups(self):
        return [{"name": "linear", "params": list(self.net.parameters()), "lr": 0.01}]

    def forward(self, batch):
        return {"loss": (self.net(batch["x"]) - batch["y"]).abs().mean()}


def settings(**kw) -> LoopSettings:
    base = {"iterations": 4, "batch_size": 2, "save_every": 2, "progress": False, "lr_step": 2, "lr_gamma": 0.5}
    return LoopSettings(**{**base, **kw})


def loop(tmp_path, step=None, info=None, **kw) -> TrainLoop:
    return TrainLoop(step or LinearStep(), Samples(), settings(**kw), tmp_path / "run", info, meta={"data": "x"})


def batch(it: int, size: int = 2) -> dict[str, torch.Tensor]:
    items = [Samples()[it * size + j] for j in range(size)]
    return {k: torch.stack([i[k] for i in items]) for k in items[0]}


def by_parts(lp: TrainLoop, iterations: int) -> TrainResult:
    """setup, ``iterations`` iterations on the batches the loop's sampler would give, finish."""
    state = lp.setup()
    for it in range(iterations):
        lp.iteration(state, batch(it))
    state.close()
    return lp.finish(state)


def test_setup_writes_run_json_atomically_and_opens_the_logs(tmp_path):
    lp = loop(tmp_path, stop_after=3)
    state = lp.setup()
    try:
        assert (state.start, state.it, state.stop, state.checkpoint) == (0, 0, 3, None)
        assert state.model is lp.step and state.model.training and state.dtype is None
        run = json.loads((tmp_path / "run" / RUN_NAME).read_text())
        assert run["title"] == "LinearStep" and run["device"] == "cpu" and run["amp"] == "None"
        assert run["settings"]["iterations"] == 4 and run["settings"]["betas"] == [0.5, 0.999]
        assert run["meta"] == {"data": "x"}
        assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [CSV_NAME, RUN_NAME, "tensorboard"]
        assert (tmp_path / "run" / CSV_NAME).read_text() == "iteration,loss,lr_linear,it_per_s\n"
        assert [g["lr"] for g in state.opt.param_groups] == [0.01]
    finally:
        state.close()


def test_one_iteration_is_one_adam_step_on_that_batch_logged_and_checkpointed(tmp_path):
    lp = loop(tmp_path, save_every=1)
    reference = copy.deepcopy(lp.step.net)
    state = lp.setup()
    try:
        lp.iteration(state, batch(0))
        assert state.it == 1
        opt = torch.optim.Adam(reference.parameters(), lr=0.01, betas=(0.5, 0.999))
        loss = (reference(batch(0)["x"]) - batch(0)["y"]).abs().mean()
        loss.backward()
        opt.step()
        for ours, theirs in zip(lp.step.net.parameters(), reference.parameters()):
            assert torch.equal(ours.detach(), theirs.detach())
        assert len(state.history) == 1 and state.history[0]["loss"] == pytest.approx(float(loss.detach()), rel=1e-6)
        assert state.history[0]["lr_linear"] == 0.01
        assert state.checkpoint == latest_checkpoint(tmp_path / "run") and state.checkpoint.name == "iter_00000001"
        lp.iteration(state, batch(1))
        assert state.sched.get_last_lr() == [0.005]  # lr_step 2: halved after the second iteration
    finally:
        state.close()
    assert read_csv_log(tmp_path / "run" / CSV_NAME)["iteration"] == [1.0, 2.0]


def test_a_nan_loss_stops_the_iteration_before_any_weight_changes(tmp_path):
    lp = loop(tmp_path)
    before = copy.deepcopy(lp.step.net.state_dict())
    state = lp.setup()
    try:
        nan_batch = {"x": batch(0)["x"], "y": torch.full((2, 1), float("nan"))}
        with pytest.raises(TrainingDiverged, match="the loss is NaN/inf at iteration 1"):
            lp.iteration(state, nan_batch)
    finally:
        state.close()
    assert state.it == 0 and all(torch.equal(before[k], v) for k, v in lp.step.net.state_dict().items())


def test_finish_of_a_complete_run_writes_weights_plot_and_summary(tmp_path):
    lp = loop(tmp_path, iterations=2)
    result = by_parts(lp, 2)
    out = tmp_path / "run"
    assert result.completed and (result.start_iteration, result.iteration) == (0, 2)
    assert result.weights == {"linear": out / "linear.pth"} and result.checkpoint == latest_checkpoint(out)
    saved = load_weights(out / "linear.pth")
    assert all(torch.equal(saved[k], v) for k, v in lp.step.net.state_dict().items())
    assert (out / "linear.pth").samefile(result.checkpoint / "linear.pth")  # a link to the last checkpoint's file
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert summary["iterations"] == 2 and summary["iterations_this_run"] == 2
    assert summary["weights"] == {"linear": str(out / "linear.pth")} and summary["meta"] == {"data": "x"}
    assert (out / PLOT_NAME).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries of the atomic writes


def test_finish_of_a_stopped_run_writes_no_weights(tmp_path):
    result = by_parts(loop(tmp_path, stop_after=1), 1)
    assert not result.completed and result.iteration == 1 and result.weights == {} and result.checkpoint is None
    assert not (tmp_path / "run" / SUMMARY_NAME).exists() and not (tmp_path / "run" / "linear.pth").exists()


def test_run_is_setup_iterations_and_finish_and_resumes_exactly(tmp_path):
    assert loop(tmp_path / "a").run().completed
    assert by_parts(loop(tmp_path / "b"), 4).completed
    first = loop(tmp_path / "c", stop_after=2).run()
    assert (first.iteration, first.completed) == (2, False)
    resumed = loop(tmp_path / "c", step=LinearStep())
    state = resumed.setup(resume=True)
    state.close()
    assert (state.start, state.it, state.checkpoint.name) == (2, 2, "iter_00000002")
    second = loop(tmp_path / "c", step=LinearStep()).run(resume=True)
    assert (second.start_iteration, second.iteration, second.completed) == (2, 4, True)
    for name in ("a", "b", "c"):
        w = load_weights(tmp_path / name / "run" / "linear.pth")
        ref = load_weights(tmp_path / "a" / "run" / "linear.pth")
        assert all(torch.equal(w[k], ref[k]) for k in ref)
    losses = read_csv_log(tmp_path / "c" / "run" / CSV_NAME)["loss"]
    assert losses == read_csv_log(tmp_path / "a" / "run" / CSV_NAME)["loss"] and all(map(math.isfinite, losses))


@pytest.mark.gpu
def test_the_parts_on_cuda_with_fp16_autocast(tmp_path):
    from svcnet.train.distributed import DistInfo

    lp = loop(tmp_path, info=DistInfo(device=torch.device("cuda", 0)), amp="fp16")
    result = by_parts(lp, 4)
    assert result.completed and json.loads((tmp_path / "run" / RUN_NAME).read_text())["amp"] == "torch.float16"
    assert json.loads((tmp_path / "run" / SUMMARY_NAME).read_text())["peak_memory"] == "CUDA max allocated"
    assert all(torch.isfinite(v).all() for v in load_weights(tmp_path / "run" / "linear.pth").values())


class WideStep(LinearStep):
    """LinearStep with a 512×512 layer in front: 1 MiB of weights and 2 MiB of Adam moments per checkpoint."""

    def __init__(self) -> None:
        super().__init__()
        self.wide = nn.Linear(512, 512, bias=False)
        self.networks = {"linear": self.net, "wide": self.wide}

    def param_groups(self):
        return [{"params": [*self.net.parameters(), *self.wide.parameters()], "lr": 0.01}]


def test_a_disk_too_small_for_the_checkpoints_is_a_warning_at_the_start_then_one_error(small_disk, tmp_path, caplog):
    roomy = TrainLoop(WideStep(), Samples(), settings(), tmp_path / "run")
    state = roomy.setup()
    state.close()
    assert roomy.checkpoint_bytes(state.opt) == 3 * 512 * 512 * 4 + 3 * 5 * 4  # weights, then two Adam moments
    assert "will be on disk at once" not in caplog.text
    cramped = TrainLoop(WideStep(), Samples(), settings(), small_disk / "run")
    with pytest.raises(DiskFullError, match=r"no space left on the disk holding .*iter_00000002"):
        cramped.run()
    warning = f"2 checkpoint(s) of about 3 MiB each will be on disk at once, and {small_disk / 'run'} has 1 MiB free"
    assert warning in caplog.text
    assert (
        latest_checkpoint(small_disk / "run") is None
        and not (small_disk / "run" / "checkpoints" / "iter_00000002").exists()
    )
