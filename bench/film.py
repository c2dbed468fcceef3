"""Benchmark: shots on the multi-shot test film (tests/film.py). Measured, not asserted; prints tables.

(a) Cut detection precision / recall (a found cut counts only at its exact frame) of svcnet's detector
    (svcnet.data.shots: its default and a threshold sweep) and, when PySceneDetect is importable, of its detectors
    with their defaults (content, adaptive, histogram, hash; ``pip install --no-deps scenedetect``: its wheel requires a
    second OpenCV wheel, which would break the project's). Films: the test film as its H.264 video (grayscale) and as
    its colour ground truth; with ``--realdata DIR`` (default ../shared/realdata when present) also the 12 DAVIS 2016
    sequences there concatenated (11 cuts; colour and grayscale; similar scenes placed next to each other) and the
    legacy film clip (grayscale, one real cut at frame 292, found by looking at the frames).
(b) With ``--weights DIR``: ``svcnet colorize`` of the grayscale test film with one keyframe scribble per shot (its
    first frame), with shot handling (``--shots auto`` and the known shot list) against the film as one clip
    (``--shots none``): per-shot PSNR / SSIM against the colour ground truth, the same on the first ``--after`` frames
    after each cut (they must not inherit the previous shot's colours), and the warping error inside each shot
    (svcnet.evaluate.scoring; pairs across a cut are left out for every run). Without ``--shots`` in the CLI (older
    code) only the one-clip run is made, with today's scribble folder (the keyframes plus black images elsewhere).

    python bench/film.py [--realdata DIR | --no-realdata] [--weights DIR [--size 128x224] [--frames-per-shot N]
                          [--method svcnet|cpnet] [--work DIR]]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from film import SHOTS, Film, build_film  # noqa: E402

from svcnet.data.frames import iter_video_frames, list_frames, read_rgb  # noqa: E402
from svcnet.data.shots import DetectorSettings, iter_cut_scores, iter_cuts  # noqa: E402

DAVIS_ORDER = (  # similar scenes next to each other: two car clips, two drift clips, three animals in fields
    "car-shadow",
    "car-roundabout",
    "drift-chicane",
    "drift-straight",
    "bmx-trees",
    "breakdance",
    "dance-twirl",
    "camel",
    "cows",
    "goat",
    "dog",
    "blackswan",
)
LEGACY_CUTS = [292]  # frames/37958.jpg starts the second shot
SCORE_WIDTH = 256  # every detector sees frames at this width (PySceneDetect's own default downscale is similar)
SWEEP = (0.05, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4)


def small(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    if w <= SCORE_WIDTH:
        return img
    return cv2.resize(img, (SCORE_WIDTH, round(h * SCORE_WIDTH / w)), interpolation=cv2.INTER_AREA)


def gray(img: np.ndarray) -> np.ndarray:
    return np.repeat(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)


def concat(parts: Iterable[list[np.ndarray]]) -> tuple[list[np.ndarray], list[int]]:
    frames: list[np.ndarray] = []
    cuts: list[int] = []
    for part in parts:
        if frames:
            cuts.append(len(frames))
        frames += part
    return frames, cuts


def films(film: Film, realdata: Path | None) -> dict[str, tuple[list[np.ndarray], list[int], float]]:
    """name -> (frames at the scoring width, true cuts, fps)."""
    out = {
        "test film, H.264 gray": ([small(f) for f in iter_video_frames(film.video)], film.cuts, float(film.fps)),
        "test film, colour GT": ([small(read_rgb(p)) for p in list_frames(film.gt)], film.cuts, float(film.fps)),
    }
    if realdata is None:
        return out
    davis = realdata / "davis2016"
    if davis.is_dir():
        frames, cuts = concat([small(read_rgb(p)) for p in list_frames(davis / n / "frames")] for n in DAVIS_ORDER)
        out[f"DAVIS x{len(DAVIS_ORDER)}, colour"] = (frames, cuts, 24.0)
        out[f"DAVIS x{len(DAVIS_ORDER)}, gray"] = ([gray(f) for f in frames], cuts, 24.0)
    legacy = realdata / "legacy_film" / "frames"
    if legacy.is_dir():
        out["legacy film, gray"] = ([small(read_rgb(p)) for p in list_frames(legacy)], LEGACY_CUTS, 24.0)
    return out


def precision_recall(found: Sequence[int], truth: Sequence[int]) -> tuple[float, float]:
    hits = len(set(found) & set(truth))
    return (hits / len(found) if found else 1.0), (hits / len(truth) if truth else 1.0)


def svcnet_detector(settings: DetectorSettings) -> Callable[[list[np.ndarray], float], list[int]]:
    return lambda frames, fps: list(iter_cuts(frames, fps, settings))


def scenedetect_detectors() -> dict[str, Callable[[list[np.ndarray], float], list[int]]]:
    """PySceneDetect's detectors with their defaults (empty when it is not installed)."""
    try:
        import scenedetect
        from scenedetect import AdaptiveDetector, ContentDetector, HashDetector, HistogramDetector
        from scenedetect.frame_timecode import FrameTimecode
    except ImportError:
        return {}

    def run(make):
        def detect(frames, fps):
            det, cuts = make(), []
            for i, f in enumerate(frames):
                cuts += det.process_frame(FrameTimecode(i, fps), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
            cuts += det.post_process(FrameTimecode(len(frames), fps))
            return sorted({int(getattr(c, "frame_num", c)) for c in cuts})

        return detect

    v = scenedetect.__version__
    return {
        f"PySceneDetect {v} content (27)": run(ContentDetector),
        f"PySceneDetect {v} content luma (27)": run(lambda: ContentDetector(luma_only=True)),
        f"PySceneDetect {v} adaptive (3, 15)": run(AdaptiveDetector),
        f"PySceneDetect {v} adaptive luma (3, 15)": run(lambda: AdaptiveDetector(luma_only=True)),
        f"PySceneDetect {v} histogram (0.05)": run(HistogramDetector),
        f"PySceneDetect {v} hash (0.395)": run(HashDetector),
    }


def detection_table(data: dict[str, tuple[list[np.ndarray], list[int], float]]) -> None:
    default = DetectorSettings()
    detectors = {f"svcnet default (threshold {default.threshold}, {default.bins} bins)": svcnet_detector(default)}
    for t in SWEEP:
        if t != default.threshold:
            detectors[f"svcnet threshold {t}"] = svcnet_detector(DetectorSettings(threshold=t))
    detectors["svcnet 256 bins, threshold 0.16"] = svcnet_detector(DetectorSettings(bins=256))
    detectors.update(scenedetect_detectors())
    names = list(data)
    print("\n(a) cut detection: precision / recall (exact frame), wrong cuts listed")
    print("| detector | " + " | ".join(f"{n} ({len(data[n][1])} cuts, {len(data[n][0])} frames)" for n in names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for label, detect in detectors.items():
        cells = []
        for n in names:
            frames, truth, fps = data[n]
            found = detect(frames, fps)
            p, r = precision_recall(found, truth)
            extra = sorted(set(found) - set(truth))
            missed = sorted(set(truth) - set(found))
            note = (f" +{extra}" if extra else "") + (f" -{missed}" if missed else "")
            cells.append(f"{p:.2f} / {r:.2f}{note}")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    print("\nsvcnet score (1 - luma histogram correlation): lowest at a true cut / highest elsewhere (frame)")
    for n in names:
        frames, truth, _ = data[n]
        s = np.array(list(iter_cut_scores(frames, DetectorSettings())))
        rest = [i for i in range(1, len(s)) if i not in truth]
        worst = rest[int(np.argmax(s[rest]))]
        print(f"  {n}: {s[truth].min():.3f} / {s[worst]:.3f} (frame {worst})")


# ---- (b) colorize with and without shot handling ----


def cli_has_shots() -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "svcnet", "colorize", "--help"], capture_output=True, text=True, env=_env(), check=True
    )
    return "--shots" in out.stdout


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def dense_scribbles(film: Film, dest: Path) -> Path:
    """Today's per-frame scribble folder: the keyframe images, black for every other frame."""
    dest.mkdir(parents=True, exist_ok=True)
    keys = {int(p.stem): p for p in film.scribbles.glob("*.png")}
    black = np.zeros_like(read_rgb(next(iter(keys.values()))))
    for i in range(film.n_frames):
        img = read_rgb(keys[i]) if i in keys else black
        cv2.imwrite(str(dest / f"{i:05d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return dest


def colorize(film: Film, scribbles: Path, out: Path, args, shots: str | None) -> float:
    cmd = [sys.executable, "-m", "svcnet", "colorize", str(film.frames), "--scribbles", str(scribbles)]
    cmd += ["--out", str(out), "--size", args.size, "--weights", str(args.weights), "--method", args.method]
    cmd += ["--flow", args.flow, "--device", args.device, "--no-video", "--quiet", "--fps", str(float(film.fps))]
    if shots is not None:
        cmd += ["--shots", shots]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=_env())
    return time.perf_counter() - t


def isolated_run(film: Film, scribbles: Path | None, work: Path, args) -> tuple[np.ndarray, float]:
    """Every shot colorized alone as its own clip (today's CLI), concatenated in film order. ``scribbles``: a
    per-frame folder to take each shot's files from; None: each shot's keyframe image as its one first-frame image."""
    parts, seconds = [], 0.0
    frames = list_frames(film.frames)
    for k, shot in enumerate(film.shots):
        clip = work / f"shot{k}"
        (clip / "frames").mkdir(parents=True, exist_ok=True)
        for p in frames[shot.start : shot.end]:
            if not (clip / "frames" / p.name).exists():
                (clip / "frames" / p.name).symlink_to(p.resolve())
        if scribbles is None:
            shot_scribbles = film.scribbles / f"{shot.start:05d}.png"
        else:
            shot_scribbles = clip / "scribbles"
            shot_scribbles.mkdir(exist_ok=True)
            for p in frames[shot.start : shot.end]:
                if not (shot_scribbles / p.name).exists():
                    (shot_scribbles / p.name).symlink_to((scribbles / p.name).resolve())
        seconds += colorize(Film(clip, film.fps, len(shot), [], []), shot_scribbles, clip / "out", args, None)
        parts.append(read_frames(clip / "out" / "frames"))
    return np.concatenate(parts), seconds


def shot_scores(pred: np.ndarray, gt: np.ndarray, film: Film, after: int) -> list[dict]:
    import torch

    from svcnet.evaluate.scoring import score_video

    rows = []
    for k, shot in enumerate(film.shots):
        s = score_video(
            pred[shot.start : shot.end], gt[shot.start : shot.end], torch.device("cpu"), exclude_first=False
        )
        s.per_frame.setdefault("ssim", np.zeros(0))
        rows.append(
            {
                "shot": k,
                "frames": f"{shot.start}-{shot.end - 1}",
                "psnr": float(s.per_frame["psnr"].mean()),
                "ssim": float(s.per_frame["ssim"].mean()),
                "psnr_after": float(s.per_frame["psnr"][:after].mean()),
                "ssim_after": float(s.per_frame["ssim"][:after].mean()),
                "warp": s.warp_error,
            }
        )
    return rows


def read_frames(folder: Path) -> np.ndarray:
    return np.stack([read_rgb(p) for p in list_frames(folder)])


def colorize_table(film: Film, args) -> None:
    from svcnet.sources import sha256_file

    weights = Path(args.weights)
    print(
        f"\n(b) svcnet colorize, method {args.method}, size {args.size}, flow {args.flow}, weights {weights.resolve()}:"
    )
    for name in ("cpnet_epoch1000_batchsize32.pth", "ssnet_epoch2000_bs8.pth", "pwcNet-default.pytorch"):
        if (weights / name).is_file():
            print(f"    {name} sha256 {sha256_file(weights / name)[:16]}")
    if args.weights_note:
        print(f"    ({args.weights_note})")
    work = Path(args.work)
    runs: dict[str, tuple[Path, str | None, Path]] = {}
    if cli_has_shots():
        runs["shots auto"] = (work / "out_auto", "auto", film.scribbles)
        runs["shot list"] = (work / "out_list", str(film.shot_list), film.scribbles)
        runs["one clip (--shots none)"] = (work / "out_none", "none", film.scribbles)
    else:
        print("    this CLI has no --shots: only the one-clip run (per-frame folder: keyframes, black elsewhere)")
        runs["one clip (today's CLI)"] = (work / "out_today", None, dense_scribbles(film, work / "scribbles_dense"))
    gt = read_frames(film.gt)
    results, preds = {}, {}
    for label, (out, shots, scribbles) in runs.items():
        seconds = colorize(film, scribbles, out, args, shots)
        preds[label] = read_frames(out / "frames")
        results[label] = shot_scores(preds[label], gt, film, args.after)
        print(f"    {label}: {seconds:.0f} s", flush=True)
    dense = None if cli_has_shots() else work / "scribbles_dense"
    alone, seconds = isolated_run(film, dense, work / "alone", args)
    results["each shot alone"] = shot_scores(alone, gt, film, args.after)
    print(f"    each shot alone: {seconds:.0f} s", flush=True)
    inheritance_table(preds, alone, film, args.after)
    labels = list(results)
    heads = ["PSNR", "SSIM", f"PSNR first {args.after}", f"SSIM first {args.after}", "warping error"]
    keys = ["psnr", "ssim", "psnr_after", "ssim_after", "warp"]
    print("\n| shot | frames | " + " | ".join(f"{h} ({lb})" for h in heads for lb in labels) + " |")
    print("|---" * (2 + len(heads) * len(labels)) + "|")
    for k in range(len(film.shots)):
        row = results[labels[0]][k]
        cells = [_fmt(key, results[lb][k][key]) for key in keys for lb in labels]
        print(f"| {k} | {row['frames']} | " + " | ".join(cells) + " |")
    for name, pick in (("all shots", slice(None)), ("shots after a cut", slice(1, None))):
        cells = [_fmt(key, np.mean([r[key] for r in results[lb][pick]])) for key in keys for lb in labels]
        print(f"| {name} (mean) | | " + " | ".join(cells) + " |")


def inheritance_table(preds: dict[str, np.ndarray], alone: np.ndarray, film: Film, after: int) -> None:
    """How far each run's frames are from the same shot colorized alone: PSNR of run against alone (inf: identical).
    Needs no trained weights: a run that treats each shot as its own clip gives the shot-alone frames."""
    import torch

    from svcnet.metrics import psnr

    def db(a: np.ndarray, b: np.ndarray) -> str:
        ta, tb = (torch.from_numpy(x).permute(0, 3, 1, 2).double() for x in (a, b))
        values = psnr(ta, tb).numpy()
        mse = np.mean(255.0**2 / 10 ** (values / 10))  # the frames' mean squared error, pooled
        same = int(np.sum(np.isinf(values)))
        return ("inf" if mse == 0 else f"{10 * np.log10(255.0**2 / mse):.2f}") + f" ({same}/{len(values)} same)"

    labels = list(preds)
    print("\nPSNR (dB, pooled) of each run against each shot colorized alone, and how many frames are identical:")
    print(f"all frames of the shot / its first {after}")
    print("| shot | " + " | ".join(labels) + " |")
    print("|---" * (1 + len(labels)) + "|")
    for k, shot in enumerate(film.shots):
        a, b = slice(shot.start, shot.end), slice(shot.start, min(shot.end, shot.start + after))
        cells = [f"{db(preds[lb][a], alone[a])} / {db(preds[lb][b], alone[b])}" for lb in labels]
        print(f"| {k} | " + " | ".join(cells) + " |")


def _fmt(key: str, value: float) -> str:
    return f"{value:.6f}" if key == "warp" else (f"{value:.4f}" if key.startswith("ssim") else f"{value:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--realdata", type=Path, default=REPO.parent / "shared" / "realdata")
    ap.add_argument("--no-realdata", action="store_true")
    ap.add_argument("--weights", type=Path, help="checkpoint folder for part (b); without it only (a) runs")
    ap.add_argument("--weights-note", default="", help="what the weights are, printed with the table")
    ap.add_argument("--size", default="128x224", help="working size of part (b)")
    ap.add_argument("--frames-per-shot", type=int, default=None, help="shorten every shot of the test film")
    ap.add_argument("--method", default="svcnet")
    ap.add_argument("--flow", default="auto", help="auto | pwc | dis (dis for weights whose PWC-Net is not trained)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--after", type=int, default=3, help="frames after each cut scored separately")
    ap.add_argument("--work", default=None, help="folder for the film and the runs (default: a temporary one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="svcnet-film-") as tmp:
        args.work = args.work or tmp
        film = build_film(Path(args.work) / "film", frames_per_shot=args.frames_per_shot)
        print(f"test film: {film.n_frames} frames at {film.fps} fps, shots {[(s.start, s.end) for s in film.shots]}")
        print(f"  made from {', '.join(f'{c}[{a}:{b}]' for c, a, b in SHOTS)}")
        realdata = None if args.no_realdata or not args.realdata.is_dir() else args.realdata
        detection_table(films(film, realdata))
        if args.weights is not None:
            colorize_table(film, args)


if __name__ == "__main__":
    main()
