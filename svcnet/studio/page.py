"""The studio's page (Gradio): its layout, its event handlers and the server.

Everything the page shows comes from the server-side :class:`Studio` and the project folder, so a reloaded page (or
a second tab) finds the same project, scribbles and job. Every handler returns the new values of its outputs
(``gr.skip()`` leaves one as it is); a user error (bad input, missing weights, a second job) becomes a toast and the
status line, and the server keeps serving. This is the only module that imports Gradio.
"""

import time
from pathlib import Path

import numpy as np

from svcnet.errors import SvcnetError
from svcnet.infer.models import WeightOptions
from svcnet.studio import jobs
from svcnet.studio.app import (
    PALETTE,
    WHOLE_CLIP,
    Studio,
    describe_keyframes,
    describe_project,
    describe_weights,
    downloads,
    gray,
    input_video,
    job_span,
    load_editor,
    offline_environment,
    progress_html,
    result_video,
    scribble_from_editor,
    shot_choices,
    shot_label,
    target_choices,
)
from svcnet.studio.preview import overlay, save_png, weights_used

offline_environment()  # before Gradio and huggingface_hub read their settings, when they are imported

import gradio as gr  # noqa: E402

# The components that a whole-page refresh (load, open) sets, in the order of its outputs.
PAGE = (
    "header",
    "weights_md",
    "shot",
    "frame",
    "editor",
    "keyframes",
    "carry_to",
    "in_video",
    "job_html",
    "out_video",
    "downloads",
    "shown",
    "target",
    "status",
)


def fail(exc: Exception) -> str:
    """A toast with the error, and the status line's text."""
    gr.Warning(str(exc))
    return f"⚠ {exc}"


class Handlers:
    """The page's event handlers, bound to one :class:`Studio`."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.demo: gr.Blocks | None = None  # set once the page is built: files it may serve are added per project

    # -------------------------------------------------------------------------------------------- shared steps
    def allow(self, p) -> None:
        """Let Gradio serve the project's files (results, previews) and the input video."""
        for path in (str(p.folder), str(p.input)):
            if path not in self.demo.allowed_paths:
                self.demo.allowed_paths.append(path)

    def save_current(self, value) -> str:
        """Merge the editor's strokes into the current keyframe's scribble file."""
        p = self.studio.need_project()
        img = scribble_from_editor(value, p.scribble(self.studio.current))
        if img is None:
            return "nothing new painted on this frame"
        path = p.save_scribble(self.studio.current, img)
        if path is None:
            return f"frame {p.names[self.studio.current]} has no scribble (removed)"
        return f"saved {path.name} ({int(img.any(axis=2).sum())} scribbled pixels)"

    def refreshed(self, note: str):
        """The editor redrawn after its strokes were merged into the saved scribble (unchanged when none were)."""
        if note.startswith("nothing new"):
            return gr.skip()
        return load_editor(self.studio.project, self.studio.current)

    def whole_page(self, status_text: str) -> tuple:
        """Every component of :data:`PAGE` from the studio's state."""
        p, frame = self.studio.project, self.studio.current
        if p is None:
            st, n, shot = {"state": "none", "step": 0, "steps": 0}, 1, None
        else:
            self.allow(p)
            st, n, shot = jobs.status(p.folder), len(p), p.shots.index(p.shot_of(frame))
        done = st["state"] == "done"
        values = {
            "header": describe_project(p),
            "weights_md": describe_weights(self.studio.opts),
            "shot": gr.update(choices=shot_choices(p), value=shot),
            "frame": gr.update(minimum=0, maximum=max(n - 1, 1), value=frame, step=1),
            "editor": load_editor(p, frame) if p else None,
            "keyframes": describe_keyframes(p),
            "carry_to": gr.update(minimum=0, maximum=max(n - 1, 1), value=min(frame + 1, n - 1), step=1),
            "in_video": input_video(p, job_span(st)) if p else None,
            "job_html": progress_html(st),
            "out_video": result_video(p) if done else None,
            "downloads": downloads(p) if done else None,
            "shown": st.get("finished") if done else None,
            "target": gr.update(choices=target_choices(p), value=WHOLE_CLIP),
            "status": status_text,
        }
        return tuple(values[name] for name in PAGE)

    # ------------------------------------------------------------------------------------------------- events
    def on_load(self):
        return self.whole_page("Ready." if self.studio.project else "Open a video file or a folder of frames.")

    def on_open(self, input_path, project_dir):
        unchanged = [gr.skip()] * (len(PAGE) - 1)
        try:
            self.studio.open(input_path.strip(), project_dir.strip() or None)
        except SvcnetError as exc:
            return (*unchanged, fail(exc))
        except Exception as exc:  # unreadable files reach here as decoder errors
            return (*unchanged, fail(SvcnetError(f"cannot open {input_path}: {exc}")))
        return self.whole_page(f"Opened {self.studio.project.input}.")

    def on_frame(self, index, value):
        try:
            p = self.studio.need_project()
            index = int(index)
            if index == self.studio.current:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip()
            note = self.save_current(value)
            self.studio.current = index
            shot = p.shots.index(p.shot_of(index))
            previous = "" if note.startswith("nothing new") else f"; previous frame: {note}"
            text = f"frame {p.names[index]} (#{index}){previous}"
            return load_editor(p, index), describe_keyframes(p), gr.update(value=shot), text
        except SvcnetError as exc:
            return gr.skip(), gr.skip(), gr.skip(), fail(exc)

    def on_shot(self, shot):
        p = self.studio.project
        if p is None or shot is None:
            return gr.skip()
        s = p.shots[int(shot)]
        if s.start <= self.studio.current < s.end:
            return gr.skip()
        return gr.update(value=s.start)

    def on_save(self, value):
        try:
            note = self.save_current(value)
            p = self.studio.project
            return load_editor(p, self.studio.current), describe_keyframes(p), note
        except SvcnetError as exc:
            return gr.skip(), gr.skip(), fail(exc)

    def on_clear(self):
        try:
            p = self.studio.need_project()
            p.save_scribble(self.studio.current, np.zeros((*p.size, 3), np.uint8))
            return load_editor(p, self.studio.current), describe_keyframes(p), "scribble cleared"
        except SvcnetError as exc:
            return gr.skip(), gr.skip(), fail(exc)

    def on_preview(self, value):
        try:
            p, key = self.studio.need_project(), self.studio.current
            note = self.save_current(value)
            start = time.perf_counter()
            out = self.studio.previewer().colorize_keyframe(p.frame(key), p.scribble(key))
            path = save_png(p.preview_path("keyframe.png"), out)
            text = f"{note}; preview of frame {p.names[key]} in {time.perf_counter() - start:.2f} s"
            return self.refreshed(note), str(path), describe_keyframes(p), text
        except SvcnetError as exc:
            return gr.skip(), gr.skip(), gr.skip(), fail(exc)

    def on_carry(self, value, target):
        try:
            p = self.studio.need_project()
            note = self.save_current(value)
            target, key = int(target), self.studio.current
            if p.shot_of(target) != p.shot_of(key):
                raise SvcnetError(
                    f"frame {target} is in another shot than keyframe {key}; scribbles stay in their shot"
                )
            step = 1 if target >= key else -1
            order = list(range(key, target + step, step))
            carried = self.studio.previewer().carry(p.frames(order), p.scribble(key))[-1]
            path = save_png(p.preview_path("carried.png"), overlay(gray(p.frame(target)), carried))
            save_png(p.preview_path("carried_scribble.png"), carried)
            text = f"{note}; scribbles of frame {key} carried to frame {target} ({len(order) - 1} steps)"
            return self.refreshed(note), str(path), text
        except SvcnetError as exc:
            return gr.skip(), gr.skip(), fail(exc)

    def colorize_span(self, p, target) -> tuple[tuple[int, int] | None, str]:
        """The frames a colorize job runs on (None: the whole clip) and their label; an error when nothing to run."""
        missing = [t for t in weights_used(self.studio.opts).values() if t.startswith("missing")]
        if missing:
            raise SvcnetError(missing[0])
        if not p.keyframes():
            raise SvcnetError("no scribbles painted yet: paint at least one keyframe first")
        if target is None or int(target) == WHOLE_CLIP:
            return None, "whole clip"
        s, what = p.shots[int(target)], shot_label(p, int(target))
        if not any(s.start <= k < s.end for k in p.keyframes()):
            raise SvcnetError(f"{what} has no scribbles: paint a keyframe in it first")
        return (s.start, s.end), what

    def on_colorize(self, value, target):
        try:
            p = self.studio.need_project()
            note = self.save_current(value)
            span, what = self.colorize_span(p, target)
            st = jobs.start(p.folder, len(p), self.studio.opts, self.studio.work_size, span, what)
            return self.refreshed(note), progress_html(st), f"colorize job started ({what})"
        except SvcnetError as exc:
            return gr.skip(), gr.skip(), fail(exc)

    def on_tick(self, shown):
        """The job's progress, every second; the players and downloads once when a job is done."""
        p = self.studio.project
        if p is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), shown
        st = jobs.status(p.folder)
        if st["state"] == "done" and st.get("finished") != shown:
            return progress_html(st), input_video(p, job_span(st)), result_video(p), downloads(p), st["finished"]
        return progress_html(st), gr.skip(), gr.skip(), gr.skip(), shown

    def on_ckpt(self, cpnet, ssnet):
        opts = WeightOptions(
            weights_dir=self.studio.opts.weights_dir,
            cpnet=Path(cpnet.strip()) if cpnet.strip() else None,
            ssnet=Path(ssnet.strip()) if ssnet.strip() else None,
            pwcnet=self.studio.opts.pwcnet,
        )
        for name in ("cpnet", "ssnet"):
            path = getattr(opts, name)
            if path is not None and not path.is_file():
                return gr.skip(), fail(SvcnetError(f"{name} checkpoint not found: {path}"))
        self.studio.opts = opts
        return describe_weights(opts), "checkpoints set"

    def on_pick(self, ref, value, evt: gr.SelectData):
        if ref is None:
            return gr.skip(), gr.skip()
        x, y = evt.index[:2]
        r, g, b = (int(v) for v in np.asarray(ref)[int(y), int(x), :3])
        hexc = f"#{r:02x}{g:02x}{b:02x}"
        brush = gr.Brush(colors=[hexc, *PALETTE], default_color=hexc, color_mode="defaults", default_size=6)
        try:  # a new brush resets the editor's layers: save them first and send them back
            p = self.studio.need_project()
            note = self.save_current(value)
            frame = load_editor(p, self.studio.current)
        except SvcnetError as exc:
            return gr.update(brush=brush), fail(exc)
        return gr.update(value=frame, brush=brush), f"picked {hexc} from the reference image ({note})"


# ---------------------------------------------------------------------------------------------------- layout
def layout() -> tuple[gr.Blocks, dict]:
    """The page's components, by name (inside the returned Blocks)."""
    c = {}
    with gr.Blocks(title="svcnet studio", analytics_enabled=False) as demo:
        gr.Markdown("# svcnet studio — scribble-based video colorization")
        c["header"] = gr.Markdown(elem_id="project")
        with gr.Row():
            c["input_path"] = gr.Textbox(label="Video file or folder of frames", elem_id="input_path", scale=3)
            c["project_path"] = gr.Textbox(
                label="Project folder (default: <input>.studio)", elem_id="project_path", scale=3
            )
            c["open"] = gr.Button("Open", elem_id="open", scale=1)
        c["status"] = gr.Textbox(label="Status", elem_id="status", interactive=False)
        with gr.Accordion("Weights", open=False):
            c["weights_md"] = gr.Markdown(elem_id="weights")
            with gr.Row():
                c["cpnet_path"] = gr.Textbox(label="CPNet checkpoint (optional)", elem_id="cpnet_path")
                c["ssnet_path"] = gr.Textbox(label="SSNet checkpoint (optional)", elem_id="ssnet_path")
                c["use_ckpt"] = gr.Button("Use these checkpoints", elem_id="use_ckpt")
        with gr.Row():
            c["shot"] = gr.Dropdown(label="Shot", elem_id="shot", choices=[], scale=1)
            c["frame"] = gr.Slider(
                label="Frame (keyframe to paint)", elem_id="frame", minimum=0, maximum=1, step=1, scale=3
            )
        c["keyframes"] = gr.Markdown(elem_id="keyframes")
        with gr.Row():
            with gr.Column(scale=3):
                c["editor"] = gr.ImageEditor(
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
                    c["save"] = gr.Button("Save scribble", elem_id="save")
                    c["clear"] = gr.Button("Clear scribble", elem_id="clear")
                    c["preview"] = gr.Button("Preview keyframe", elem_id="preview", variant="primary")
            with gr.Column(scale=1):
                c["reference"] = gr.Image(
                    label="Reference image: click to pick a colour", elem_id="reference", type="numpy"
                )
        with gr.Row():
            c["out_img"] = gr.Image(
                label="Keyframe colorized by CPNet", elem_id="out_img", format="png", interactive=False
            )
            with gr.Column():
                c["carry_img"] = gr.Image(
                    label="Scribbles carried to frame", elem_id="carry_img", format="png", interactive=False
                )
                c["carry_to"] = gr.Slider(label="Carry to frame", elem_id="carry_to", minimum=0, maximum=1, step=1)
                c["carry"] = gr.Button("Show carried scribbles", elem_id="carry")
        gr.Markdown("## Colorize the clip or one shot")
        with gr.Row():
            c["target"] = gr.Dropdown(
                label="Colorize (a shot's result has only its frames; a video's sound is cut to them)",
                elem_id="target",
                choices=target_choices(None),
                value=WHOLE_CLIP,
                scale=3,
            )
            c["colorize"] = gr.Button("Colorize", elem_id="colorize", variant="primary", scale=1)
        c["job_html"] = gr.HTML(elem_id="job")
        with gr.Row():
            c["in_video"] = gr.Video(label="Input", elem_id="input_video", interactive=False)
            c["out_video"] = gr.Video(label="Result", elem_id="result_video", interactive=False)
        c["downloads"] = gr.File(
            label="Downloads: mp4 and PNG frames (zip)", elem_id="downloads", file_count="multiple"
        )
        c["shown"] = gr.State(None)  # the finish time of the job whose result the players show
        c["timer"] = gr.Timer(1.0)
    return demo, c


def wire(demo: gr.Blocks, c: dict, h: Handlers) -> None:
    """Connect the components' events to the handlers (inside ``demo``)."""

    def at(*names):
        return [c[n] for n in names]

    with demo:
        demo.load(h.on_load, outputs=at(*PAGE))
        c["open"].click(h.on_open, inputs=at("input_path", "project_path"), outputs=at(*PAGE))
        c["frame"].change(h.on_frame, inputs=at("frame", "editor"), outputs=at("editor", "keyframes", "shot", "status"))
        c["shot"].change(h.on_shot, inputs=at("shot"), outputs=at("frame"))
        c["save"].click(h.on_save, inputs=at("editor"), outputs=at("editor", "keyframes", "status"))
        c["clear"].click(h.on_clear, outputs=at("editor", "keyframes", "status"))
        c["preview"].click(h.on_preview, inputs=at("editor"), outputs=at("editor", "out_img", "keyframes", "status"))
        c["carry"].click(h.on_carry, inputs=at("editor", "carry_to"), outputs=at("editor", "carry_img", "status"))
        c["colorize"].click(h.on_colorize, inputs=at("editor", "target"), outputs=at("editor", "job_html", "status"))
        c["timer"].tick(
            h.on_tick, inputs=at("shown"), outputs=at("job_html", "in_video", "out_video", "downloads", "shown")
        )
        c["use_ckpt"].click(h.on_ckpt, inputs=at("cpnet_path", "ssnet_path"), outputs=at("weights_md", "status"))
        c["reference"].select(h.on_pick, inputs=at("reference", "editor"), outputs=at("editor", "status"))


def build_app(studio: Studio) -> gr.Blocks:
    """The studio's page, bound to ``studio``."""
    handlers = Handlers(studio)
    demo, components = layout()
    handlers.demo = demo
    wire(demo, components, handlers)
    return demo


def serve(studio: Studio, host: str = "127.0.0.1", port: int | None = None, block: bool = True):
    """Start the page on ``host:port`` (Gradio's default port when None); returns the URL when not blocking."""
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
