"""The studio's page (Gradio): open a clip, paint keyframe scribbles, preview, colourise in the background, download.

Everything the page shows comes from the server-side :class:`Studio` and the project folder, so a reloaded page (or
a second tab) finds the same project, scribbles and job. User errors (bad input, missing weights, a second job)
become a message in the page's status box and a toast; the server keeps serving.
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
from svcnet.studio.preview import Previewer, overlay, save_png, weights_used
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


# ------------------------------------------------------------------------------------------------------- page
def build_app(studio: Studio):
    """The Gradio Blocks of the studio, bound to ``studio``."""
    import gradio as gr

    def fail(exc: Exception) -> str:
        gr.Warning(str(exc))
        return f"⚠ {exc}"

    def input_video(p: Project, span: list[int] | None = None) -> str | None:
        """The Input player's video: the input itself (a video) or its frames encoded once (a folder); after a job on
        one shot (``span``), that shot's frames alone, with a video's sound from the shot's start, as in the result."""
        if span is None or list(span) == [0, len(p)]:
            return str(p.input) if p.clip.is_video else encoded(p, p.preview_path(INPUT_VIDEO), 0, len(p))
        a, b = span
        return encoded(p, p.preview_path(f"input_{a:05d}_{b:05d}.mp4"), a, b)

    def encoded(p: Project, path: Path, start: int, stop: int) -> str:
        """``path``: frames ``start`` … ``stop - 1`` encoded (once), with the input's sound when it has one."""
        if not path.is_file():
            from svcnet.data.video import encode_frames, parse_fps

            fps = parse_fps(p.clip.fps)
            audio = p.input if p.clip.is_video else None
            encode_frames(p.frames(range(start, stop)), path, fps, audio_from=audio, audio_skip=Fraction(start) / fps)
        return str(path)

    def job_span(st: dict) -> list[int] | None:
        return (st.get("request") or {}).get("span")

    def allow(p: Project) -> None:
        """Let Gradio serve the project's files (results, previews) and the input video."""
        for path in (str(p.folder), str(p.input)):
            if path not in demo.allowed_paths:
                demo.allowed_paths.append(path)

    def load_editor(p: Project, index: int) -> dict:
        """The editor's value for frame ``index`` (its saved scribble in the background, no strokes)."""
        return editor_value(p.frame(index), p.scribble(index))

    def refreshed(note: str):
        """The editor redrawn after its strokes were merged into the saved scribble (unchanged when none were)."""
        if note.startswith("nothing new"):
            return gr.skip()
        return load_editor(studio.project, studio.current)

    def whole_page(status_text: str):
        p = studio.project
        if p is not None:
            allow(p)
        st = jobs.status(p.folder) if p else {"state": "none", "step": 0, "steps": 0}
        done = st["state"] == "done"
        n = len(p) if p else 1
        frame = studio.current
        return (
            describe_project(p),
            describe_weights(studio.opts),
            gr.update(choices=shot_choices(p), value=p.shots.index(p.shot_of(frame)) if p else None),
            gr.update(minimum=0, maximum=max(n - 1, 1), value=frame, step=1),
            load_editor(p, frame) if p else None,
            describe_keyframes(p),
            gr.update(minimum=0, maximum=max(n - 1, 1), value=min(frame + 1, n - 1), step=1),
            input_video(p, job_span(st)) if p else None,
            progress_html(st),
            _result_video(p, st) if done else None,
            _downloads(p) if done else None,
            st.get("finished") if done else None,
            gr.update(choices=target_choices(p), value=WHOLE_CLIP),
            status_text,
        )

    def _result_video(p: Project, st: dict) -> str | None:
        path = jobs.job_dir(p.folder) / jobs.RESULT / "colorized.mp4"
        return str(path) if path.is_file() else None

    def _downloads(p: Project) -> list[str]:
        jd = jobs.job_dir(p.folder)
        return [str(f) for f in (jd / jobs.RESULT / "colorized.mp4", jd / jobs.ZIP) if f.is_file()]

    def on_load():
        return whole_page("Ready." if studio.project else "Open a video file or a folder of frames.")

    def on_open(input_path, project_dir):
        try:
            studio.open(input_path.strip(), project_dir.strip() or None)
        except SvcnetError as exc:
            return (*[gr.skip()] * 13, fail(exc))
        except Exception as exc:  # unreadable files reach here as decoder errors
            return (*[gr.skip()] * 13, fail(SvcnetError(f"cannot open {input_path}: {exc}")))
        return whole_page(f"Opened {studio.project.input}.")

    def save_current(value) -> str:
        """Merge the editor's strokes into the current keyframe's scribble file."""
        p = studio.need_project()
        img = scribble_from_editor(value, p.scribble(studio.current))
        if img is None:
            return "nothing new painted on this frame"
        path = p.save_scribble(studio.current, img)
        if path is None:
            return f"frame {p.names[studio.current]} has no scribble (removed)"
        return f"saved {path.name} ({int(img.any(axis=2).sum())} scribbled pixels)"

    def on_frame(index, value):
        try:
            p = studio.need_project()
            index = int(index)
            if index == studio.current:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip()
            note = save_current(value)
            studio.current = index
            shot = p.shots.index(p.shot_of(index))
            return (
                load_editor(p, index),
                describe_keyframes(p),
                gr.update(value=shot),
                f"frame {p.names[index]} (#{index})"
                + ("" if note.startswith("nothing new") else f"; previous frame: {note}"),
            )
        except SvcnetError as exc:
            return gr.skip(), gr.skip(), gr.skip(), fail(exc)

    def on_shot(shot):
        p = studio.project
        if p is None or shot is None:
            return gr.skip()
        s = p.shots[int(shot)]
        if s.start <= studio.current < s.end:
            return gr.skip()
        return gr.update(value=s.start)

    def on_save(value):
        try:
            note = save_current(value)
            p = studio.project
            return load_editor(p, studio.current), describe_keyframes(p), note
        except SvcnetError as exc:
            return gr.skip(), gr.skip(), fail(exc)

    def on_clear():
        try:
            p = studio.need_project()
            p.save_scribble(studio.current, np.zeros((*p.size, 3), np.uint8))
            frame = studio.current
            return load_editor(p, frame), describe_keyframes(p), "scribble cleared"
        except SvcnetError as exc:
            return gr.skip(), gr.skip(), fail(exc)

    def on_preview(value):
        try:
            p = studio.need_project()
            note = save_current(value)
            start = time.perf_counter()
            out = studio.previewer().colorize_keyframe(p.frame(studio.current), p.scribble(studio.current))
            path = save_png(p.preview_path("keyframe.png"), out)
            took = time.perf_counter() - start
            text = f"{note}; preview of frame {p.names[studio.current]} in {took:.2f} s"
            return refreshed(note), str(path), describe_keyframes(p), text
        except SvcnetError as exc:
            return gr.skip(), gr.skip(), gr.skip(), fail(exc)

    def on_carry(value, target):
        try:
            p = studio.need_project()
            note = save_current(value)
            target, key = int(target), studio.current
            if p.shot_of(target) != p.shot_of(key):
                raise SvcnetError(
                    f"frame {target} is in another shot than keyframe {key}; scribbles stay in their shot"
                )
            step = 1 if target >= key else -1
            order = list(range(key, target + step, step))
            carried = studio.previewer().carry(p.frames(order), p.scribble(key))[-1]
            path = save_png(p.preview_path("carried.png"), overlay(gray(p.frame(target)), carried))
            save_png(p.preview_path("carried_scribble.png"), carried)
            text = f"{note}; scribbles of frame {key} carried to frame {target} ({len(order) - 1} steps)"
            return refreshed(note), str(path), text
        except SvcnetError as exc:
            return gr.skip(), gr.skip(), fail(exc)

    def on_colorize(value, target):
        try:
            p = studio.need_project()
            note = save_current(value)
            missing = [n for n, t in weights_used(studio.opts).items() if t.startswith("missing")]
            if missing:
                raise SvcnetError(weights_used(studio.opts)[missing[0]])
            if not p.keyframes():
                raise SvcnetError("no scribbles painted yet: paint at least one keyframe first")
            span, what = None, "whole clip"
            if target is not None and int(target) != WHOLE_CLIP:
                s, what = p.shots[int(target)], shot_label(p, int(target))
                if not any(s.start <= k < s.end for k in p.keyframes()):
                    raise SvcnetError(f"{what} has no scribbles: paint a keyframe in it first")
                span = (s.start, s.end)
            st = jobs.start(p.folder, len(p), studio.opts, studio.work_size, span, what)
            return refreshed(note), progress_html(st), f"colorize job started ({what})"
        except SvcnetError as exc:
            return gr.skip(), gr.skip(), fail(exc)

    def on_tick(shown):
        """The job's progress, every second."""
        p = studio.project
        if p is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), shown
        st = jobs.status(p.folder)
        if st["state"] == "done" and st.get("finished") != shown:
            return progress_html(st), input_video(p, job_span(st)), _result_video(p, st), _downloads(p), st["finished"]
        return progress_html(st), gr.skip(), gr.skip(), gr.skip(), shown

    def on_ckpt(cpnet, ssnet):
        opts = WeightOptions(
            weights_dir=studio.opts.weights_dir,
            cpnet=Path(cpnet.strip()) if cpnet.strip() else None,
            ssnet=Path(ssnet.strip()) if ssnet.strip() else None,
            pwcnet=studio.opts.pwcnet,
        )
        for name in ("cpnet", "ssnet"):
            path = getattr(opts, name)
            if path is not None and not path.is_file():
                return gr.skip(), fail(SvcnetError(f"{name} checkpoint not found: {path}"))
        studio.opts = opts
        return describe_weights(opts), "checkpoints set"

    def on_pick(ref, value, evt: gr.SelectData):
        if ref is None:
            return gr.skip(), gr.skip()
        x, y = evt.index[:2]
        r, g, b = (int(v) for v in np.asarray(ref)[int(y), int(x), :3])
        hexc = f"#{r:02x}{g:02x}{b:02x}"
        brush = gr.Brush(colors=[hexc, *PALETTE], default_color=hexc, color_mode="defaults", default_size=6)
        try:  # a new brush resets the editor's layers: save them first and send them back
            p = studio.need_project()
            note = save_current(value)
            frame = load_editor(p, studio.current)
        except SvcnetError as exc:
            return gr.update(brush=brush), fail(exc)
        return gr.update(value=frame, brush=brush), f"picked {hexc} from the reference image ({note})"

    with gr.Blocks(title="svcnet studio", analytics_enabled=False) as demo:
        gr.Markdown("# svcnet studio — scribble-based video colorization")
        header = gr.Markdown(elem_id="project")
        with gr.Row():
            input_path = gr.Textbox(label="Video file or folder of frames", elem_id="input_path", scale=3)
            project_path = gr.Textbox(label="Project folder (default: <input>.studio)", elem_id="project_path", scale=3)
            open_btn = gr.Button("Open", elem_id="open", scale=1)
        status = gr.Textbox(label="Status", elem_id="status", interactive=False)
        with gr.Accordion("Weights", open=False):
            weights_md = gr.Markdown(elem_id="weights")
            with gr.Row():
                cpnet_path = gr.Textbox(label="CPNet checkpoint (optional)", elem_id="cpnet_path")
                ssnet_path = gr.Textbox(label="SSNet checkpoint (optional)", elem_id="ssnet_path")
                ckpt_btn = gr.Button("Use these checkpoints", elem_id="use_ckpt")
        with gr.Row():
            shot = gr.Dropdown(label="Shot", elem_id="shot", choices=[], scale=1)
            frame = gr.Slider(label="Frame (keyframe to paint)", elem_id="frame", minimum=0, maximum=1, step=1, scale=3)
        keyframes = gr.Markdown(elem_id="keyframes")
        with gr.Row():
            with gr.Column(scale=3):
                editor = gr.ImageEditor(
                    label="Paint scribbles on the keyframe (black removes saved scribble; Save merges the strokes)",
                    elem_id="editor",
                    image_mode="RGBA",
                    type="numpy",
                    format="png",
                    sources=(),
                    layers=False,
                    transforms=(),
                    brush=gr.Brush(colors=PALETTE, default_color=PALETTE[4], color_mode="defaults", default_size=6),
                    eraser=gr.Eraser(default_size=10),
                )
                with gr.Row():
                    save_btn = gr.Button("Save scribble", elem_id="save")
                    clear_btn = gr.Button("Clear scribble", elem_id="clear")
                    preview_btn = gr.Button("Preview keyframe", elem_id="preview", variant="primary")
            with gr.Column(scale=1):
                reference = gr.Image(label="Reference image: click to pick a colour", elem_id="reference", type="numpy")
        with gr.Row():
            out_img = gr.Image(label="Keyframe colorized by CPNet", elem_id="out_img", format="png", interactive=False)
            with gr.Column():
                carry_img = gr.Image(
                    label="Scribbles carried to frame", elem_id="carry_img", format="png", interactive=False
                )
                carry_to = gr.Slider(label="Carry to frame", elem_id="carry_to", minimum=0, maximum=1, step=1)
                carry_btn = gr.Button("Show carried scribbles", elem_id="carry")
        gr.Markdown("## Colorize the clip or one shot")
        with gr.Row():
            target = gr.Dropdown(
                label="Colorize (a shot's result has only its frames; a video's sound is cut to them)",
                elem_id="target",
                choices=target_choices(None),
                value=WHOLE_CLIP,
                scale=3,
            )
            colorize_btn = gr.Button("Colorize", elem_id="colorize", variant="primary", scale=1)
        job_html = gr.HTML(elem_id="job")
        with gr.Row():
            in_video = gr.Video(label="Input", elem_id="input_video", interactive=False)
            out_video = gr.Video(label="Result", elem_id="result_video", interactive=False)
        downloads = gr.File(label="Downloads: mp4 and PNG frames (zip)", elem_id="downloads", file_count="multiple")
        shown = gr.State(None)
        timer = gr.Timer(1.0)

        page = [header, weights_md, shot, frame, editor, keyframes, carry_to, in_video, job_html, out_video, downloads]
        page += [shown, target, status]
        demo.load(on_load, outputs=page)
        open_btn.click(on_open, inputs=[input_path, project_path], outputs=page)
        frame.change(on_frame, inputs=[frame, editor], outputs=[editor, keyframes, shot, status])
        shot.change(on_shot, inputs=[shot], outputs=[frame])
        save_btn.click(on_save, inputs=[editor], outputs=[editor, keyframes, status])
        clear_btn.click(on_clear, outputs=[editor, keyframes, status])
        preview_btn.click(on_preview, inputs=[editor], outputs=[editor, out_img, keyframes, status])
        carry_btn.click(on_carry, inputs=[editor, carry_to], outputs=[editor, carry_img, status])
        colorize_btn.click(on_colorize, inputs=[editor, target], outputs=[editor, job_html, status])
        timer.tick(on_tick, inputs=[shown], outputs=[job_html, in_video, out_video, downloads, shown])
        ckpt_btn.click(on_ckpt, inputs=[cpnet_path, ssnet_path], outputs=[weights_md, status])
        reference.select(on_pick, inputs=[reference, editor], outputs=[editor, status])
    return demo


def serve(studio: Studio, host: str = "127.0.0.1", port: int | None = None, block: bool = True):
    """Start the page on ``host:port`` (Gradio's default port when None); returns the URL when not blocking."""
    offline_environment()
    demo = build_app(studio)
    demo.queue(default_concurrency_limit=1)
    _, url, _ = demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        ssr_mode=False,
        prevent_thread_lock=not block,
        quiet=False,
        footer_links=[],
        pwa=False,
    )
    return url
