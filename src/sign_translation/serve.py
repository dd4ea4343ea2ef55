"""The web demo: a Gradio page that translates an uploaded or webcam-recorded sign language video.

    sign-translation serve --model demo_output/checkpoint            # http://127.0.0.1:7860
    sign-translation serve --model DIR --write-space my_space/        # a folder ready to upload as a HF Space
    sign-translation push DIR --repo-id you/sign-demo --space         # ... built and uploaded in one go

The page shows the translation, what it cost (decoding vs. inference time) and the sampled frames as a strip with,
under it, a heat map of where the model looked while writing each word (`pipeline(..., return_attention=True)`).
Bad uploads (not a video, too long, too large) get a message in the page; the server keeps running. The model is
loaded once; Gradio's queue serialises requests (one translation at a time by default, others wait in line).

This file and `plotting.py` are also copied into Space folders (`write_space`), where this package is not installed:
they import only gradio / transformers / torch / numpy / matplotlib and each other (relative import); the model,
processor and pipeline code then come from the checkpoint (`trust_remote_code=True`).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .plotting import frames_from_pixel_values, plot_attention

logger = logging.getLogger(__name__)

TASK = "sign-translation"
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v", ".mpg", ".mpeg", ".ogv")


@dataclass
class DemoLimits:
    """What the page accepts. Longer or larger uploads are refused with a message (decoding them would hold the
    queue for everyone)."""

    max_seconds: float = 60.0  # video duration
    max_megabytes: float = 50.0  # upload size; also Gradio's own upload limit
    max_queue: int = 16  # requests waiting in line before new ones are turned away

    def __post_init__(self):
        for name in ("max_seconds", "max_megabytes", "max_queue"):
            if not getattr(self, name) > 0:
                raise ValueError(f"DemoLimits.{name} must be positive, got {getattr(self, name)!r}")


class DemoInputError(ValueError):
    """An upload the demo refuses; its message is shown in the page."""


def _ffmpeg_reason(err: BaseException, path: str) -> str:
    """The useful end of a torchcodec error ("Invalid data found when processing input"), without source paths."""
    text = " ".join(str(err).split())
    if path in text:
        text = text.split(path, 1)[1].strip(" :,")
    return text or type(err).__name__


def _load_translator(model: str, device: str | None = None, trust_remote_code: bool | None = None, **kwargs):
    from transformers import pipeline

    if trust_remote_code is None:
        try:
            import sign_translation  # noqa: F401 - registers the task and the model classes
        except ImportError:  # a Space folder: the checkpoint brings its own code
            trust_remote_code = True
    return pipeline(TASK, model=model, device=device, trust_remote_code=trust_remote_code, **kwargs)


class SignTranslationDemo:
    """The model behind the page, loaded once, and the one function the page calls.

    Example:
    ```python
    from sign_translation.serve import SignTranslationDemo

    demo = SignTranslationDemo("demo_output/checkpoint")
    result = demo.translate_file("clip.mp4")     # {'translation_text', 'decode_seconds', 'inference_seconds', ...}
    demo.build().queue().launch()                # or: sign-translation serve --model demo_output/checkpoint
    ```
    """

    def __init__(self, model, limits: DemoLimits | None = None, examples: Sequence[str | os.PathLike] = (),
                 device: str | None = None, trust_remote_code: bool | None = None, title: str | None = None,
                 plot_dir: str | os.PathLike | None = None):
        self.limits = limits or DemoLimits()
        self.translator = model if hasattr(model, "preprocess") else _load_translator(
            str(model), device=device, trust_remote_code=trust_remote_code
        )
        name = str(getattr(self.translator.model, "name_or_path", "") or model)
        self.model_name = Path(name).name if os.path.isdir(name) else name  # a folder's name, not a local path
        self.examples = [str(Path(p).resolve()) for p in examples]
        missing = [p for p in self.examples if not Path(p).is_file()]
        if missing:
            raise FileNotFoundError(f"example video(s) not found: {', '.join(missing)}")
        self.title = title or "Sign language translation"
        self.plot_dir = Path(plot_dir) if plot_dir else Path(tempfile.mkdtemp(prefix="sign-translation-demo-"))

    # ------------------------------------------------------------------ checks and translation
    def check_upload(self, path: str | os.PathLike | None) -> str:
        """Refuse what the page cannot translate, with a message that names the file and the problem."""
        if path is None or str(path) == "":
            raise DemoInputError("No video yet: upload a video file, record one with the webcam, or pick an example.")
        path = str(path)
        name = Path(path).name
        if not os.path.isfile(path):
            raise DemoInputError(f"{name}: the uploaded file is gone (upload it again).")
        size_mb = os.path.getsize(path) / 2**20
        if size_mb > self.limits.max_megabytes:
            raise DemoInputError(
                f"{name} is too large: {size_mb:.1f} MB; this demo accepts videos up to {self.limits.max_megabytes:g} MB."
            )
        if size_mb == 0:
            raise DemoInputError(f"{name} is empty (0 bytes): expected a video file.")
        try:
            from torchcodec.decoders import VideoDecoder

            metadata = VideoDecoder(path, seek_mode="approximate").metadata
        except Exception as err:  # torchcodec raises ValueError/RuntimeError for anything FFmpeg cannot open
            raise DemoInputError(
                f"{name} is not a video that FFmpeg can read ({_ffmpeg_reason(err, path)}). Upload an mp4, webm, "
                "mov, mkv or avi file."
            ) from err
        duration = metadata.duration_seconds
        if duration is None and metadata.num_frames and metadata.average_fps:
            duration = metadata.num_frames / metadata.average_fps
        if duration is not None and duration > self.limits.max_seconds:
            raise DemoInputError(
                f"{name} is too long: {duration:.1f} s; this demo translates videos up to "
                f"{self.limits.max_seconds:g} s (one sentence is usually 2-10 s)."
            )
        return path

    def translate_file(self, path: str | os.PathLike, plot: bool = True) -> dict:
        """Translate one video the way `pipeline(path, return_attention=True)` does, timing decoding and inference
        separately. Returns the pipeline's result plus `decode_seconds`, `inference_seconds`, `num_frames` and, with
        `plot`, `plot_path` (the PNG of the frame strip and attention heat map)."""
        import torch

        path = self.check_upload(path)
        translator = self.translator
        preprocess_params, forward_params, postprocess_params = self._pipeline_parameters()
        start = time.perf_counter()
        try:
            inputs = translator.preprocess(path, **{**translator._preprocess_params, **preprocess_params})
        except Exception as err:  # the processor's SignInputError (or remote code's equivalent) names the problem
            raise DemoInputError(f"{Path(path).name}: {err}") from err
        decoded = time.perf_counter()
        with torch.inference_mode():
            outputs = translator.forward(inputs, **{**translator._forward_params, **forward_params})
        result = translator.postprocess(outputs, **{**translator._postprocess_params, **postprocess_params})
        finished = time.perf_counter()
        length = int(inputs["video_mask"][0].sum())
        result.update(decode_seconds=decoded - start, inference_seconds=finished - decoded, num_frames=length)
        result.setdefault("attention", [])
        if plot:
            video_processor = translator.processor.video_processor
            frames = frames_from_pixel_values(
                inputs["pixel_values_videos"][0, :length], video_processor.image_mean, video_processor.image_std
            )
            target = self.plot_dir / f"attention-{time.time_ns()}.png"
            result["plot_path"] = str(plot_attention(frames, result["attention"], target,
                                                     title=result["translation_text"] or "(empty translation)"))
        return result

    def _pipeline_parameters(self) -> tuple[dict, dict, dict]:
        """The pipeline's parameters with `return_attention=True`, or without it for a checkpoint whose shipped
        (remote) code predates attention output: then the page shows the translation and frames only."""
        translator = self.translator
        if hasattr(translator.model, "visual_attention"):
            try:
                return translator._sanitize_parameters(return_attention=True)
            except TypeError:
                pass
        logger.warning("this checkpoint's code has no attention output: the page shows no heat map")
        return translator._sanitize_parameters()

    def handle(self, video: str | None) -> tuple[str, str, str | None]:
        """The page's callback: (translation, status line, plot path). Never raises for a bad upload."""
        try:
            result = self.translate_file(video)
        except DemoInputError as err:
            logger.info("refused upload: %s", err)
            return "", f"**Error:** {err}", None
        except Exception as err:  # keep serving whatever happens with one request
            logger.exception("translation failed for %s", video)
            return "", f"**Error:** could not translate {Path(str(video)).name}: {type(err).__name__}: {err}", None
        status = (
            f"Decoded {result['num_frames']} sampled frames in {result['decode_seconds']:.2f} s · "
            f"inference (translation + attention) {result['inference_seconds']:.2f} s"
        )
        return result["translation_text"], status, result.get("plot_path")

    # ------------------------------------------------------------------ the page
    def build(self):
        """The Gradio Blocks page (not launched)."""
        import gradio as gr

        with gr.Blocks(title=self.title) as page:
            gr.Markdown(
                f"# {self.title}\nUpload a video of someone signing (or record one with your webcam), then press "
                f"**Translate**. Model: `{self.model_name}`. Videos up to {self.limits.max_seconds:g} s and "
                f"{self.limits.max_megabytes:g} MB."
            )
            with gr.Row():
                with gr.Column(scale=1):
                    video = gr.Video(label="Sign language video", sources=["upload", "webcam"], elem_id="video-input")
                    button = gr.Button("Translate", variant="primary", elem_id="translate-button")
                    if self.examples:
                        gr.Examples(examples=[[p] for p in self.examples], inputs=[video], label="Example videos")
                with gr.Column(scale=2):
                    translation = gr.Textbox(label="Translation", interactive=False, elem_id="translation")
                    status = gr.Markdown(elem_id="status")
                    plot = gr.Image(label="Sampled frames and where the model looked for each word", type="filepath",
                                    interactive=False, elem_id="attention-plot")
            button.click(self.handle, inputs=[video], outputs=[translation, status, plot], api_name="translate")
        page.queue(default_concurrency_limit=1, max_size=self.limits.max_queue)
        return page

    def launch(self, host: str = "127.0.0.1", port: int | None = 7860, block: bool = True, **launch_kwargs):
        """Build and start the page; `block=False` returns once it is serving (tests, notebooks)."""
        page = self.build()
        allowed = sorted({str(Path(p).parent) for p in self.examples} | {str(self.plot_dir)})
        page.launch(server_name=host, server_port=port, prevent_thread_lock=not block, show_error=True,
                    max_file_size=f"{self.limits.max_megabytes:g}mb", allowed_paths=allowed, **launch_kwargs)
        return page


# ---------------------------------------------------------------------------------------------- a Space folder
SPACE_README = """---
title: {title}
emoji: 🤟
colorFrom: indigo
colorTo: green
sdk: gradio
sdk_version: {gradio_version}
app_file: app.py
pinned: false
---

# {title}

Gloss-free sign language translation with `{model_name}` (package `sign-translation`). Upload a video of someone
signing or record one with the webcam; the page shows the translation, timings, and where the model looked for
each word. Videos up to {max_seconds:g} s / {max_megabytes:g} MB.

Made with `sign-translation serve --model {model_name} --write-space <folder>`.
"""

SPACE_APP = '''"""Hugging Face Space entry point, written by `sign-translation serve --write-space` (same code as `serve`)."""

import os

from sign_translation_demo.serve import DemoLimits, SignTranslationDemo

demo = SignTranslationDemo(
    os.environ.get("SIGN_TRANSLATION_MODEL", "model"),
    limits=DemoLimits(max_seconds={max_seconds!r}, max_megabytes={max_megabytes!r}),
    examples=sorted(str(p) for p in __import__("pathlib").Path("examples").glob("*") if p.is_file()),
    title={title!r},
)

if __name__ == "__main__":
    demo.launch(host="0.0.0.0", port=int(os.environ.get("PORT", 7860)))
'''

SPACE_REQUIREMENTS = ("torch", "torchvision", "torchcodec", "transformers", "huggingface_hub", "numpy", "pillow",
                      "matplotlib", "sentencepiece", "tokenizers", "safetensors", "peft")


def _space_requirements() -> list[str]:
    """Installed versions of what the Space needs (gradio comes with the Space's sdk_version)."""
    from importlib.metadata import PackageNotFoundError, version

    lines = []
    for name in SPACE_REQUIREMENTS:
        try:
            lines.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return lines


def write_space(checkpoint: str | os.PathLike, folder: str | os.PathLike, examples: Sequence[str | os.PathLike] = (),
                limits: DemoLimits | None = None, title: str | None = None) -> Path:
    """Write a folder that runs this demo as a Hugging Face Space (Gradio SDK): `app.py`, this module and
    `plotting.py` as `sign_translation_demo/`, the checkpoint in `model/` (it carries its own code and pipeline),
    the example videos in `examples/`, `requirements.txt` (installed versions), `packages.txt` (Debian ffmpeg for
    torchcodec) and a README with the Space metadata. Upload it with `huggingface-cli upload --repo-type space`."""
    from importlib.metadata import PackageNotFoundError, version

    checkpoint, folder = Path(checkpoint), Path(folder)
    if not (checkpoint / "config.json").is_file():
        raise FileNotFoundError(f"{checkpoint}: not a checkpoint folder (no config.json)")
    limits = limits or DemoLimits()
    title = title or "Sign language translation"
    folder.mkdir(parents=True, exist_ok=True)
    code = folder / "sign_translation_demo"
    code.mkdir(exist_ok=True)
    (code / "__init__.py").write_text('"""The sign-translation web demo (copied from the package)."""\n')
    here = Path(__file__).resolve().parent
    for name in ("serve.py", "plotting.py"):
        shutil.copyfile(here / name, code / name)
    model_dir = folder / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    shutil.copytree(checkpoint, model_dir, ignore=shutil.ignore_patterns("checkpoint-*", "runs", "*.bin.tmp",
                                                                          "optimizer.pt", "scheduler.pt", "rng_state*"))
    from .hub import add_pipeline_files  # only where the package is installed (never inside a Space)

    add_pipeline_files(model_dir)  # the current pipeline code (attention output) even for an older checkpoint
    example_dir = folder / "examples"
    example_dir.mkdir(exist_ok=True)
    for example in examples:
        shutil.copyfile(example, example_dir / Path(example).name)
    try:
        gradio_version = version("gradio")
    except PackageNotFoundError:
        gradio_version = "6.31.0"
    (folder / "app.py").write_text(SPACE_APP.format(max_seconds=limits.max_seconds,
                                                    max_megabytes=limits.max_megabytes, title=title))
    (folder / "requirements.txt").write_text("\n".join(_space_requirements()) + "\n")
    (folder / "packages.txt").write_text("ffmpeg\n")
    (folder / "README.md").write_text(SPACE_README.format(
        title=title, gradio_version=gradio_version, model_name=checkpoint.name, max_seconds=limits.max_seconds,
        max_megabytes=limits.max_megabytes,
    ), encoding="utf-8")
    return folder


def push_space(checkpoint: str | os.PathLike, repo_id: str, examples: Sequence[str | os.PathLike] = (),
               limits: DemoLimits | None = None, token: str | None = None, private: bool = False,
               endpoint: str | None = None):
    """Build the Space folder (`write_space`) in a temporary directory and upload it as a Gradio Space `repo_id`.
    Returns the `CommitInfo` of the upload."""
    from huggingface_hub import HfApi

    with tempfile.TemporaryDirectory(prefix="sign-translation-space-") as tmp:
        folder = write_space(checkpoint, Path(tmp) / "space", examples=examples, limits=limits)
        api = HfApi(endpoint=endpoint, token=token)
        api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
        logger.info("uploading the demo Space %s", repo_id)
        return api.upload_folder(folder_path=folder, repo_id=repo_id, repo_type="space",
                                 commit_message=f"sign-translation demo for {Path(checkpoint).name}")


__all__ = ["DemoInputError", "DemoLimits", "SignTranslationDemo", "push_space", "write_space"]
