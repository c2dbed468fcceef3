"""Loading the inference networks from official checkpoints and choosing the device and the flow backend."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from svcnet.errors import SvcnetError
from svcnet.infer.flow import FlowBackend, dis_backend, pwc_backend
from svcnet.infer.streaming import Models

log = logging.getLogger(__name__)
FLOW_CHOICES = ("auto", "pwc", "dis")


@dataclass(frozen=True)
class WeightOptions:
    """Where the checkpoints are: a folder with the official file names and/or one path per file."""

    weights_dir: Path | None = None
    cpnet: Path | None = None
    ssnet: Path | None = None
    pwcnet: Path | None = None


def weight_path(name: str, opts: WeightOptions, required: bool = True) -> Path | None:
    """The checkpoint of registry entry ``name`` (``cpnet``, ``ssnet``, ``pwcnet``): an explicit path as given (it
    must exist; not checked against the registry's sha256, so trained checkpoints work), else the verified registry
    file under the weights folder; None when optional and absent. Missing required files raise CheckpointError
    naming the file, its sha256 and how to get it."""
    from svcnet.sources import get_source, resolve_weight

    explicit = getattr(opts, name)
    if explicit is not None:
        return resolve_weight(name, path=explicit, verify=False)
    if not required:
        folder = opts.weights_dir
        if folder is None:
            from svcnet.sources import default_weights_dir

            folder = default_weights_dir()
        if not (Path(folder) / get_source(name).file).is_file():
            return None
    return resolve_weight(name, weights_dir=opts.weights_dir)


def load_cpnet(path: Path | None, device: torch.device) -> torch.nn.Module:
    """CPNet from an official checkpoint (strict keys and shapes), or randomly initialised when ``path`` is None."""
    from svcnet.models.cpnet import CPNet

    net = CPNet()
    if path is not None:
        from svcnet.models.checkpoint import load_official

        load_official(net, path, what="CPNet")
    return net.to(device).eval()


def load_ssnet(path: Path | None, device: torch.device, sr_scales: tuple[int, ...] = (2,)) -> torch.nn.Module:
    """SSNet computing only the given SR branches (official checkpoint, strict), random when ``path`` is None."""
    from svcnet.models.ssnet import SSNet

    net = SSNet(sr_scales=sr_scales)
    if path is not None:
        from svcnet.models.checkpoint import load_official

        load_official(net, path, what="SSNet")
    return net.to(device).eval()


def load_pwcnet(path: Path | None, device: torch.device) -> torch.nn.Module:
    """PWC-Net from ``pwcNet-default.pytorch`` (plain or ``{'state_dict': …}``), random when ``path`` is None."""
    from svcnet.models.pwcnet import PWCNet

    net = PWCNet()
    if path is not None:
        from svcnet.models.checkpoint import load_official

        load_official(net, path, what="PWC-Net")
    return net.to(device).eval()


def choose_flow(flow: str, opts: WeightOptions, device: torch.device) -> tuple[FlowBackend, Path | None]:
    """PWC-Net when its weights are there (``auto``) or demanded (``pwc``), else OpenCV DIS."""
    if flow not in FLOW_CHOICES:
        raise SvcnetError(f"unknown flow backend {flow!r}; choose one of {', '.join(FLOW_CHOICES)}")
    if flow != "dis":
        path = weight_path("pwcnet", opts, required=(flow == "pwc"))
        if path is not None:
            log.info("flow: PWC-Net (%s), official neighbour-to-centre estimate", path)
            return pwc_backend(load_pwcnet(path, device)), path
        log.info(
            "flow: OpenCV DIS (no PWC-Net weights pwcNet-default.pytorch found; give --pwcnet or --weights "
            "to use the official flow)"
        )
    else:
        log.info("flow: OpenCV DIS (asked for)")
    return dis_backend(), None


def load_models(
    method: str, flow: str, opts: WeightOptions, device: torch.device, carry: bool
) -> tuple[Models, dict[str, Path]]:
    """Networks for ``method`` (svcnet | cpnet); a flow backend when SVCNet or scribble carrying needs one."""
    paths: dict[str, Path] = {"cpnet": weight_path("cpnet", opts)}
    ssnet = backend = None
    if method == "svcnet":
        paths["ssnet"] = weight_path("ssnet", opts)
    if method == "svcnet" or carry:
        backend, pwc = choose_flow(flow, opts, device)
        if pwc is not None:
            paths["pwcnet"] = pwc
    cpnet = load_cpnet(paths["cpnet"], device)
    if method == "svcnet":
        ssnet = load_ssnet(paths["ssnet"], device)
    return Models(cpnet=cpnet, ssnet=ssnet, flow=backend, device=device), paths
