"""A paper-shaped miniature of the SVCNet release, for the end-to-end tests of the `paper` profile.

:func:`build_release` writes, from the embedded demo clips (real DAVIS frames) and frames made from them, a tiny copy
of every release archive of the paper profile with the internal layout of docs/official.md §4.1, as zip files named as
the registry names them (``datasets/sources.yaml``):

- ``ILSVRC2012_train_256.zip`` → ``ILSVRC2012_train_256/<wnid>/<wnid>_<n>.JPEG`` (256×256) and
  ``ILSVRC2012_train_256_saliencymap.zip`` → ``ILSVRC2012_train_256_saliencymap/`` with the same relative paths
  (grayscale maps under the image's own name and extension); the val pair likewise, flat
  (``ILSVRC2012_val_256/ILSVRC2012_val_<8 digits>.JPEG``);
- ``DAVIS_videvo_train.zip`` → ``DAVIS_videvo_train/<video>/<%05d>.jpg``; ``DAVIS_videvo_train_lmdb.zip`` → an lmdb
  environment (``data.mdb``, ``lock.mdb`` at the top of the zip) whose keys are ``<video>/<%05d>.jpg`` and values the
  same JPEG bytes; ``DAVIS_videvo_fusion_saliency_maps_and_segmentations.zip`` →
  ``DAVIS_videvo_fusion_saliency_maps_and_segmentations/<video>/<%05d>.jpg`` (DAVIS masks for DAVIS clips, a
  saliency map for the Videvo clip);
- ``DAVIS_Videvo_val.zip`` → ``DAVIS/<video>/<%05d>.jpg`` and ``videvo/<video>/<%05d>.jpg`` at their own original
  sizes (not the working size);
- ``DAVIS_original.zip`` → ``DAVIS/JPEGImages/480p/<video>/<%05d>.jpg`` and
  ``DAVIS/Annotations/480p/<video>/<%05d>.png`` (palette masks, object index 1);

and the weight files under their registry names, as the state_dicts of the networks of ``svcnet.models`` with random
weights (seeded): cpnet, ssnet, pwcnet, warn, srnet, pfan (``{"model": state_dict}`` as the PFAN port saves it), the
DEVC zip (``vgg19_conv.pth``, ``video_moredata_l1/nonlocal_net_iter_76000.pth`` and two small stand-ins for the
files svcnet does not read), and of the torchvision files only the part svcnet reads (``features.*`` of VGG16 and
AlexNet; the official files also hold ``classifier.*``, which would add 700 MB).

:func:`write_registry` copies the repository's registry with each built file's sha256 and size filled in and the
direct sources' URLs pointing at a local HTTP server; :func:`serve` starts that server; :func:`install` puts the files
where a user would: direct ones through ``svcnet fetch``, share-page ones saved under their ``dest`` as the manual
step says, then ``svcnet fetch`` for every name (unpacks and verifies).
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import yaml
from http_server import LocalHTTPServer, Route

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "datasets" / "demo" / "davis"
BIN = Path(sys.executable).parent

# The miniature's clips: name -> (demo clip, mirrored?). Train clips use the first frames of a demo clip, validation
# clips later ones, so no frame is in both.
TRAIN_CLIPS = {"blackswan": ("blackswan", False), "car-shadow": ("car-shadow", False), "BarleyField": ("dog", False)}
DAVIS_TRAIN = ("blackswan", "car-shadow")  # seg targets: the DAVIS masks; the other train clips: saliency maps
VAL_CLIPS = {
    "DAVIS": {"car-shadow": ("car-shadow", False)},
    "videvo": {"WaterDrop": ("car-shadow", True)},
}
TRAIN_FRAMES = 8
VAL_FRAMES = 8
VAL_OFFSET = 20  # first demo frame of a validation clip
TRAIN_SIZE = (128, 224)  # H, W of the train release frames
VAL_SIZE = {"DAVIS": (120, 214), "videvo": (108, 192)}  # "original" sizes: 854x480 and 1920x1080, scaled down
IMAGENET_CLASSES = ("n01440764", "n01530575")
IMAGES_PER_CLASS = 3
IMAGENET_VAL = 4
JPEG_QUALITY = 95

# registry name -> the zip or weight file built for it (direct sources are served; the others are share pages)
ARCHIVES = {
    "svcnet_imagenet_train_jpg": "ILSVRC2012_train_256.zip",
    "svcnet_imagenet_train_saliency": "ILSVRC2012_train_256_saliencymap.zip",
    "svcnet_imagenet_val_jpg": "ILSVRC2012_val_256.zip",
    "svcnet_imagenet_val_saliency": "ILSVRC2012_val_256_saliencymap.zip",
    "svcnet_davis_videvo_train_jpg": "DAVIS_videvo_train.zip",
    "svcnet_davis_videvo_train_lmdb": "DAVIS_videvo_train_lmdb.zip",
    "svcnet_davis_videvo_train_seg_saliency": "DAVIS_videvo_fusion_saliency_maps_and_segmentations.zip",
    "svcnet_davis_videvo_val_jpg": "DAVIS_Videvo_val.zip",
    "svcnet_davis_original": "DAVIS_original.zip",
}
DERIVED = {  # registry entries taken out of another entry's archive: name -> (archive entry, member)
    "corrnet_vgg19": ("devc_checkpoints", "vgg19_conv.pth"),
    "corrnet_nonlocal": ("devc_checkpoints", "video_moredata_l1/nonlocal_net_iter_76000.pth"),
}


@dataclasses.dataclass(frozen=True)
class Release:
    """What :func:`build_release` made: registry name -> file, and the member files of archives (for their sha256)."""

    root: Path
    files: dict[str, Path]
    members: dict[str, Path]


# ------------------------------------------------------------------------------------------------------------ frames
def demo_frames(clip: str) -> list[Path]:
    return sorted((DEMO / clip / "frames").glob("*.jpg"))


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def resized(img: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return cv2.resize(img, (size[1], size[0]), interpolation=interp)


def jpeg_bytes(img: np.ndarray) -> bytes:
    """JPEG of an RGB (H×W×3) or gray (H×W) uint8 image."""
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    assert ok
    return buf.tobytes()


def saliency_map(rgb: np.ndarray) -> np.ndarray:
    """A deterministic stand-in for a PFAN map: blurred distance of each pixel's colour from the mean colour, 0..255."""
    diff = np.linalg.norm(rgb.astype(np.float32) - rgb.reshape(-1, 3).mean(0), axis=2)
    diff = cv2.GaussianBlur(diff, (0, 0), sigmaX=max(rgb.shape[:2]) / 32)
    return np.clip(255.0 * diff / max(float(diff.max()), 1e-6), 0, 255).astype(np.uint8)


def clip_frames(demo: str, mirrored: bool, start: int, count: int, size: tuple[int, int]) -> list[np.ndarray]:
    """``count`` RGB frames of a demo clip from frame ``start``, resized to ``size`` (mirrored left-right if asked)."""
    paths = demo_frames(demo)[start : start + count]
    assert len(paths) == count, (demo, start, count)
    return [resized(read_rgb(p)[:, ::-1] if mirrored else read_rgb(p), size) for p in paths]


def clip_masks(demo: str, mirrored: bool, start: int, count: int, size: tuple[int, int]) -> list[np.ndarray]:
    """The demo clip's binary object masks (0/255) matching :func:`clip_frames`."""
    paths = sorted((DEMO / demo / "masks").glob("*.png"))[start : start + count]
    assert len(paths) == count, (demo, start, count)
    masks = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths]
    return [resized(m[:, ::-1] if mirrored else m, size, nearest=True) for m in masks]


# ---------------------------------------------------------------------------------------------------------- archives
def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    """A zip with the members in sorted order (stored, not deflated: JPEGs and weights do not compress)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=(2023, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, members[name])
    return path


def imagenet_members(top: str, saliency: bool, val: bool) -> dict[str, bytes]:
    """ImageNet-256 images (or their saliency maps under the same relative paths): 256×256 crops of demo frames."""
    sources = [p for clip in ("blackswan", "car-shadow", "dog") for p in demo_frames(clip)[::7]]
    names = (
        [f"ILSVRC2012_val_{i + 1:08d}.JPEG" for i in range(IMAGENET_VAL)]
        if val
        else [f"{c}/{c}_{100 + i}.JPEG" for c in IMAGENET_CLASSES for i in range(IMAGES_PER_CLASS)]
    )
    members = {}
    for k, name in enumerate(names):
        rgb = read_rgb(sources[(k * 5 + int(val)) % len(sources)])
        x0 = (k * 37) % (rgb.shape[1] - 256)
        crop = np.ascontiguousarray(rgb[:, x0 : x0 + 256])
        members[f"{top}/{name}"] = jpeg_bytes(saliency_map(crop) if saliency else crop)
    return members


def train_members() -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The DAVIS-Videvo train frames and their seg/saliency maps, keyed by the release's ``<video>/<%05d>.jpg``."""
    frames, maps = {}, {}
    for video, (demo, mirrored) in TRAIN_CLIPS.items():
        rgbs = clip_frames(demo, mirrored, 0, TRAIN_FRAMES, TRAIN_SIZE)
        if video in DAVIS_TRAIN:
            segs = clip_masks(demo, mirrored, 0, TRAIN_FRAMES, TRAIN_SIZE)
        else:
            segs = [saliency_map(rgb) for rgb in rgbs]
        for i, (rgb, seg) in enumerate(zip(rgbs, segs)):
            frames[f"{video}/{i:05d}.jpg"] = jpeg_bytes(rgb)
            maps[f"{video}/{i:05d}.jpg"] = jpeg_bytes(seg)
    return frames, maps


def lmdb_members(frames: dict[str, bytes], tmp: Path) -> dict[str, bytes]:
    """An lmdb environment holding ``frames`` (key = utf-8 of the list entry), as the files of its folder."""
    import lmdb

    folder = tmp / "lmdb"
    env = lmdb.open(str(folder), map_size=64 << 20, subdir=True, meminit=False)
    with env.begin(write=True) as txn:
        for key in sorted(frames):
            txn.put(key.encode("utf-8"), frames[key])
    env.close()
    members = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    shutil.rmtree(folder)
    return members


def val_members() -> dict[str, bytes]:
    """The validation release: ``<tag>/<video>/<%05d>.jpg`` at each tag's original size."""
    members = {}
    for tag, clips in VAL_CLIPS.items():
        for video, (demo, mirrored) in clips.items():
            for i, rgb in enumerate(clip_frames(demo, mirrored, VAL_OFFSET, VAL_FRAMES, VAL_SIZE[tag])):
                members[f"{tag}/{video}/{i:05d}.jpg"] = jpeg_bytes(rgb)
    return members


def palette_png(mask: np.ndarray) -> bytes:
    """A DAVIS-style annotation: palette PNG, index 1 (dark red) for the object."""
    from PIL import Image

    img = Image.fromarray((mask > 127).astype(np.uint8), mode="P")
    img.putpalette([0, 0, 0, 128, 0, 0] + [0, 0, 0] * 254)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def davis_original_members() -> dict[str, bytes]:
    """The original DAVIS files of the DAVIS validation clips: JPEGImages/480p and Annotations/480p."""
    members = {}
    size = VAL_SIZE["DAVIS"]
    for video, (demo, mirrored) in VAL_CLIPS["DAVIS"].items():
        rgbs = clip_frames(demo, mirrored, VAL_OFFSET, VAL_FRAMES, size)
        masks = clip_masks(demo, mirrored, VAL_OFFSET, VAL_FRAMES, size)
        for i, (rgb, mask) in enumerate(zip(rgbs, masks)):
            members[f"DAVIS/JPEGImages/480p/{video}/{i:05d}.jpg"] = jpeg_bytes(rgb)
            members[f"DAVIS/Annotations/480p/{video}/{i:05d}.png"] = palette_png(mask)
    return members


def build_archives(out: Path) -> dict[str, Path]:
    """Every dataset archive of the release, under ``out``; registry name -> zip."""
    frames, maps = train_members()
    contents = {
        "svcnet_imagenet_train_jpg": imagenet_members("ILSVRC2012_train_256", saliency=False, val=False),
        "svcnet_imagenet_train_saliency": imagenet_members(
            "ILSVRC2012_train_256_saliencymap", saliency=True, val=False
        ),
        "svcnet_imagenet_val_jpg": imagenet_members("ILSVRC2012_val_256", saliency=False, val=True),
        "svcnet_imagenet_val_saliency": imagenet_members("ILSVRC2012_val_256_saliencymap", saliency=True, val=True),
        "svcnet_davis_videvo_train_jpg": {f"DAVIS_videvo_train/{k}": v for k, v in frames.items()},
        "svcnet_davis_videvo_train_lmdb": lmdb_members(frames, out),
        "svcnet_davis_videvo_train_seg_saliency": {
            f"DAVIS_videvo_fusion_saliency_maps_and_segmentations/{k}": v for k, v in maps.items()
        },
        "svcnet_davis_videvo_val_jpg": val_members(),
        "svcnet_davis_original": davis_original_members(),
    }
    return {name: write_zip(out / ARCHIVES[name], members) for name, members in contents.items()}


# ----------------------------------------------------------------------------------------------------------- weights
def state_dicts(seed: int = 0) -> dict[str, dict]:
    """Random-weight state_dicts in the official layouts, one per weight file (the DEVC files by member path)."""
    import torch
    from torchvision.models import alexnet

    from svcnet.models.corrnet import VGG19Features, WarpNet
    from svcnet.models.cpnet import CPNet
    from svcnet.models.pfan import PFAN
    from svcnet.models.pwcnet import PWCNet
    from svcnet.models.srnet import ColorEmbeddingSRNet
    from svcnet.models.ssnet import SSNet
    from svcnet.models.vgg import VGGFeaNet
    from svcnet.models.warn import WarpArtifactRemovalNet

    builders = {
        "cpnet": CPNet,
        "ssnet": SSNet,
        "pwcnet": PWCNet,
        "vgg16": VGGFeaNet,
        "warn": WarpArtifactRemovalNet,
        "srnet": ColorEmbeddingSRNet,
        "corrnet_vgg19": VGG19Features,
        "corrnet_nonlocal": WarpNet,
        "pfan": PFAN,
        "lpips_alexnet": lambda: alexnet(weights=None).features,
    }
    out = {}
    for name, build in builders.items():
        torch.manual_seed(seed)
        out[name] = dict(build().state_dict())  # CPNet's aliased VGG entries keep sharing their storage
    out["lpips_alexnet"] = {f"features.{k}": v for k, v in out["lpips_alexnet"].items()}
    out["pfan"] = {"model": out["pfan"]}
    return out


def torch_bytes(obj: object) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def build_weights(out: Path, seed: int = 0) -> tuple[dict[str, Path], dict[str, Path]]:
    """The weight files (registry name -> file) and the DEVC zip's members as files (name -> file, for sha256)."""
    import torch

    from svcnet.sources import load_registry

    registry = load_registry(REPO / "datasets" / "sources.yaml")
    sds = state_dicts(seed)
    files, members = {}, {}
    for name in ("cpnet", "ssnet", "pwcnet", "vgg16", "warn", "srnet", "pfan", "lpips_alexnet"):
        path = out / registry[name].file
        path.write_bytes(torch_bytes(sds[name]))
        files[name] = path
    devc = {member: torch_bytes(sds[name]) for name, (_, member) in DERIVED.items()}
    devc["video_moredata_l1/colornet_iter_76000.pth"] = torch_bytes({"stand_in": torch.zeros(1)})
    devc["vgg19_gray.pth"] = torch_bytes({"stand_in": torch.zeros(1)})
    files["devc_checkpoints"] = write_zip(out / registry["devc_checkpoints"].file, devc)
    for name, (_, member) in DERIVED.items():
        path = out / "members" / registry[name].file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(devc[member])
        members[name] = path
    return files, members


def build_release(out: Path, seed: int = 0) -> Release:
    """Every archive and weight file of the miniature release under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    files = build_archives(out)
    weights, members = build_weights(out, seed)
    return Release(out, {**files, **weights}, members)


# ---------------------------------------------------------------------------------------------- registry and serving
def sha256(path: Path) -> str:
    from svcnet.sources import sha256_file

    return sha256_file(path)


def direct_names(release: Release) -> list[str]:
    """The built sources a user downloads with `svcnet fetch` (access direct with a URL)."""
    from svcnet.sources import load_registry

    registry = load_registry(REPO / "datasets" / "sources.yaml")
    return [n for n in release.files if registry[n].access == "direct" and registry[n].urls]


@contextmanager
def serve(release: Release, lifetime: float = 3600.0) -> Iterator[dict[str, str]]:
    """Serve the direct sources from 127.0.0.1; yields name -> URL."""
    with LocalHTTPServer(lifetime=lifetime) as srv:
        yield {
            name: srv.add(f"/{release.files[name].name}", Route(release.files[name].read_bytes()))
            for name in direct_names(release)
        }


def write_registry(release: Release, urls: dict[str, str], out: Path) -> Path:
    """The repository's registry with sha256/size of every built file and the direct URLs replaced by ``urls``."""
    data = yaml.safe_load((REPO / "datasets" / "sources.yaml").read_text(encoding="utf-8"))
    for name, path in {**release.files, **release.members}.items():
        entry = data["sources"][name]
        entry["sha256"] = sha256(path)
        entry["size"] = path.stat().st_size
        entry.pop("sha256_prefix", None)
        if name in urls:
            entry["urls"] = [urls[name]]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return out


def env_with(registry: Path) -> dict[str, str]:
    """The environment of a `svcnet` command that uses the test registry (one OpenMP thread)."""
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "OMP_NUM_THREADS": "1",
        "SVCNET_SOURCES": str(registry),
    }


def install(release: Release, registry: Path, dest: Path, skip: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Put the release under the fetch root ``dest`` as a user would: share-page files saved as their registry
    ``dest`` (the manual step), then ``svcnet fetch --dest DEST <every name>`` (downloads the direct ones from the
    local server, unpacks the archives, takes the CorrNet files out of the DEVC zip, verifies every sha256).
    Names in ``skip`` are left out."""
    from svcnet.sources import load_registry

    sources = load_registry(registry)
    names = [n for n in [*release.files, *release.members] if n not in skip]
    for name in names:
        if sources[name].access != "direct":
            target = sources[name].dest_path(dest)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(release.files[name], target)
    return subprocess.run(
        ["svcnet", "fetch", "--dest", str(dest), *names],
        env=env_with(registry),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
