"""What the studio's page shows, without Gradio: the server-side :class:`Studio` (open project, weights, working size,
keyframe being painted), the editor's values, the page's texts and the videos and files it offers.

``page`` builds the Gradio page on these; everything it shows comes from here and the project folder, so a reloaded
page (or a second tab) finds the same project, scribbles and job.
"""

import html
import os
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from svcnet.errors import SvcnetError
from svcnet.infer.models import WeightOptions
from svcnet.studio import jobs
from svcnet.studio.preview import Previewer, overlay, weights_used
from svcnet.studio.project import Project

PALETTE = ["#e6194b", "#f58231", "#ffe119", "#3cb44b", "#1e90ff", "#911eb4", "#8b4513", "#ffffff", "#000000"]
INPUT_VIDEO = "input.mp4"


def offline_environment() -> None:
    """No request leaves the machine: Gradio's and huggingface_hub's telemetry off, localhost never proxied."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    for key in ("NO_PROXY", "no_proxy"):
        have = [h for h in os.environ.get(key, "").split(",") if h]
        os.environ[key] = ",".join(dict.fromkeys([*have, "127.0.0.1", "localhost"]))


@dataclass
class Studio:
    """The server-side state: the open project, the weights, the working size, the keyframe being painted."""

    opts: WeightOptions
    work_size: tuple[int, int] = (256, 448)
    project: Project | None = None
    current: int = 0
    _previewers: dict = field(default_factory=dict)

    def open(self, input_path: str, project_dir: str | None = None) -> Project:
        if not input_path:
            raise SvcnetError("give the path of a video file or a folder of frames to open")
        self.project = Project(input_path, project_dir or None)
        self.current = min(self.project.keyframes(), default=0)
        return self.project

    def need_project(self) -> Project:
        if self.project is None:
            raise SvcnetError("no clip is open: give a video file or a folder of frames and press Open")
        return self.project

    def previewer(self) -> Previewer:
        key = (self.opts, self.work_size)
        if key not in self._previewers:
            self._previewers = {key: Previewer(self.opts, self.work_size)}
        return self._previewers[key]


# ------------------------------------------------------------------------------------------------ editor values
def scribble_from_editor(value: dict | None, saved: np.ndarray) -> np.ndarray | None:
    """The keyframe's scribble after the strokes in the editor: ``saved`` with every painted pixel of the layers
    written over it (a black stroke removes scribble: black = none); None when nothing is painted.

    Layers are RGBA with alpha 0 (unpainted, or erased with the eraser) or 255 (painted in exactly the brush colour);
    later layers cover earlier ones.
    """
    if not value or not value.get("layers"):
        return None
    out = saved.copy()
    painted = False
    for layer in value["layers"]:
        layer = np.asarray(layer)
        if layer.ndim != 3 or layer.shape[:2] != saved.shape[:2]:
            continue
        mask = layer[:, :, 3] > 0 if layer.shape[2] == 4 else layer.any(axis=2)
        out[mask] = layer[:, :, :3][mask]
        painted = painted or bool(mask.any())
    return out if painted else None


def editor_value(frame: np.ndarray, scribble: np.ndarray) -> dict:
    """The editor's value for a keyframe: the frame in gray (what the networks see) with its saved scribble drawn on
    it as background, and no layer: new strokes go to a fresh layer that is merged into the saved scribble (Gradio
    does not give back a layer sent by the server reliably once it is edited)."""
    return {"background": overlay(gray(frame), scribble), "layers": [], "composite": None}


def gray(frame: np.ndarray) -> np.ndarray:
    """The frame's BT.601 gray as RGB."""
    import cv2

    return np.repeat(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)


# ------------------------------------------------------------------------------------------------------ texts
def describe_weights(opts: WeightOptions) -> str:
    lines = [f"- **{name}**: {text}" for name, text in weights_used(opts).items()]
    return "**Weights**\n\n" + "\n".join(lines)


def describe_project(p: Project | None) -> str:
    if p is None:
        return "No clip open."
    h, w = p.size
    return f"**{p.input}** — {len(p)} frames, {w}x{h}, {len(p.shots)} shot(s) · project folder **{p.folder}**"


def describe_keyframes(p: Project | None) -> str:
    if p is None:
        return ""
    keys = sorted(p.keyframes())
    if not keys:
        return "Keyframes with scribbles: none yet"
    return "Keyframes with scribbles: " + ", ".join(f"{p.names[k]} (#{k})" for k in keys)


def progress_html(st: dict) -> str:
    if st["state"] == "none":
        return "<div id='job_state' data-state='none'>No colorize job yet.</div>"
    steps = max(st["steps"], 1)
    pct = round(100 * st["step"] / steps)
    text = {"running": "colorizing", "done": "done", "failed": "failed"}[st["state"]]
    what = html.escape((st.get("request") or {}).get("what", "whole clip"))
    msg = html.escape(st.get("message") or "")
    if st["state"] == "failed":
        msg = f"<div id='job_error'>⚠ colorize failed: {msg}</div>"
    elapsed = (st.get("finished") or time.time()) - st.get("started", time.time())
    return (
        f"<div id='job_state' data-state='{st['state']}' data-started='{st.get('started', 0.0):.3f}'>"
        f"<progress id='job_bar' value='{st['step']}' max='{steps}' style='width:100%'></progress>"
        f"<div>{text} ({what}): {st['step']} / {steps} steps ({pct} %), {elapsed:.1f} s. {msg}</div></div>"
    )


def shot_choices(p: Project | None) -> list[tuple[str, int]]:
    if p is None:
        return []
    return [(shot_label(p, i), i) for i in range(len(p.shots))]


def shot_label(p: Project, i: int) -> str:
    s = p.shots[i]
    return f"shot {i + 1}: frames {s.start}–{s.end - 1}"


WHOLE_CLIP = -1  # the colorize target for the whole clip (else a shot's number)


def target_choices(p: Project | None) -> list[tuple[str, int]]:
    """What Colorize runs on: the whole clip (the default) or one shot."""
    if p is None:
        return [("whole clip", WHOLE_CLIP)]
    return [(f"whole clip ({len(p)} frames)", WHOLE_CLIP), *shot_choices(p)]


# ------------------------------------------------------------------------------------------------------- media
def load_editor(p: Project, index: int) -> dict:
    """The editor's value for frame ``index`` (its saved scribble in the background, no strokes)."""
    return editor_value(p.frame(index), p.scribble(index))


def encoded(p: Project, path: Path, start: int, stop: int) -> str:
    """``path``: frames ``start`` … ``stop - 1`` encoded (once), with the input's sound when it has one."""
    if not path.is_file():
        from svcnet.data.video import encode_frames, parse_fps

        fps = parse_fps(p.clip.fps)
        audio = p.input if p.clip.is_video else None
        encode_frames(p.frames(range(start, stop)), path, fps, audio_from=audio, audio_skip=Fraction(start) / fps)
    return str(path)


def input_video(p: Project, span: list[int] | None = None) -> str:
    """The Input player's video: the input itself (a video) or its frames encoded once (a folder); after a job on one
    shot (``span``), that shot's frames alone, with a video's sound from the shot's start, as in the result."""
    if span is None or list(span) == [0, len(p)]:
        return str(p.input) if p.clip.is_video else encoded(p, p.preview_path(INPUT_VIDEO), 0, len(p))
    a, b = span
    return encoded(p, p.preview_path(f"input_{a:05d}_{b:05d}.mp4"), a, b)


def job_span(st: dict) -> list[int] | None:
    """The frame range of the job whose status is ``st`` (None: the whole clip)."""
    return (st.get("request") or {}).get("span")


def result_video(p: Project) -> str | None:
    path = jobs.job_dir(p.folder) / jobs.RESULT / "colorized.mp4"
    return str(path) if path.is_file() else None


def downloads(p: Project) -> list[str]:
    jd = jobs.job_dir(p.folder)
    return [str(f) for f in (jd / jobs.RESULT / "colorized.mp4", jd / jobs.ZIP) if f.is_file()]
