"""Pictures where people would rather look: the attention heat map over a video's frame strip, and training curves.

Everything draws with matplotlib's object API (`matplotlib.figure.Figure` + the Agg canvas), never `pyplot`: no
global state, no GUI backend, safe in a web server's worker threads.

```python
import sign_translation
from transformers import pipeline
from sign_translation.plotting import plot_attention, video_frame_strip

translator = pipeline("sign-translation", model="demo_output/checkpoint")
result = translator("clip.mp4", return_attention=True)
frames = video_frame_strip(translator.processor, "clip.mp4")          # (T,H,W,3) uint8, what the model saw
plot_attention(frames, result["attention"], "clip_attention.png", title=result["translation_text"])
```
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

MAX_STRIP_FRAMES = 24  # thumbnails drawn above the heat map; longer videos show every k-th sampled frame


def frames_from_pixel_values(pixel_values, image_mean, image_std) -> np.ndarray:
    """Undo the processor's normalisation: (T,C,H,W) float tensor/array → (T,H,W,3) uint8 (grayscale → RGB)."""
    pixels = np.asarray(pixel_values.detach().cpu() if hasattr(pixel_values, "detach") else pixel_values, np.float32)
    if pixels.ndim != 4:
        raise ValueError(f"pixel values must be (T,C,H,W), got shape {pixels.shape}")
    mean = np.asarray(image_mean, np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(image_std, np.float32).reshape(1, -1, 1, 1)
    frames = np.clip((pixels * std + mean) * 255.0, 0, 255).round().astype(np.uint8).transpose(0, 2, 3, 1)
    return np.repeat(frames, 3, axis=-1) if frames.shape[-1] == 1 else frames


def video_frame_strip(processor, video, **video_kwargs) -> np.ndarray:
    """The frames the model sees for `video` (same sampling, resize and crop as the pipeline): (T,H,W,3) uint8."""
    video_processor = getattr(processor, "video_processor", processor)
    batch = video_processor([video], do_augment=False, **video_kwargs)
    length = int(batch["video_mask"][0].sum())
    return frames_from_pixel_values(
        batch["pixel_values_videos"][0, :length], video_processor.image_mean, video_processor.image_std
    )


def _strip_image(frames: np.ndarray, max_frames: int = MAX_STRIP_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """Frames side by side (every k-th for long clips) and the time-step index each thumbnail shows."""
    shown = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), max_frames)).round().astype(int))
    return np.concatenate([frames[i] for i in shown], axis=1), shown


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def plot_attention(
    frames: np.ndarray,
    attention: Sequence[Mapping],
    path: str | os.PathLike,
    title: str | None = None,
) -> Path:
    """Draw the sampled frames as a strip with, under it, one heat-map row per generated word: the weight the model
    put on each time step while writing that word (`pipeline(..., return_attention=True)["attention"]`).

    Args:
        frames: (T,H,W,3) uint8, the T sampled frames (`video_frame_strip`).
        attention: `[{"word": str, "weights": [float] * T}, ...]`.
        path: the PNG to write (its folder is created).
        title: drawn above the strip, e.g. the translation.

    Returns:
        The path written.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T,H,W,3) uint8, got shape {frames.shape}")
    steps = len(frames)
    words = [str(item["word"]) for item in attention]
    weights = np.asarray([item["weights"] for item in attention], np.float32).reshape(len(words), -1)
    if words and weights.shape[1] != steps:
        raise ValueError(f"attention has {weights.shape[1]} time steps per word but there are {steps} frames")
    strip, shown = _strip_image(frames)
    rows = max(len(words), 1)
    width = 10.0
    strip_height = width * strip.shape[0] / strip.shape[1]
    figure = _new_figure(width + 1.6, strip_height + 0.28 * rows + 1.4)
    grid = figure.add_gridspec(2, 1, height_ratios=[strip_height, 0.28 * rows + 0.4], hspace=0.08,
                               left=0.12, right=0.9, top=0.9 if title else 0.97, bottom=0.12)
    top = figure.add_subplot(grid[0])
    top.imshow(strip, extent=(0, steps, 0, 1), aspect="auto", interpolation="nearest")
    top.set_xticks([])
    top.set_yticks([])
    top.set_xlim(0, steps)
    if title:
        top.set_title(title, fontsize=11)
    bottom = figure.add_subplot(grid[1], sharex=None)
    if words:
        image = bottom.imshow(weights, extent=(0, steps, rows, 0), aspect="auto", cmap="magma", vmin=0.0,
                              interpolation="nearest")
        bottom.set_yticks(np.arange(rows) + 0.5, labels=words, fontsize=9)
        figure.colorbar(image, ax=[top, bottom], fraction=0.02, pad=0.01, label="attention", format="%.2f")
    else:
        bottom.text(steps / 2, 0.5, "no words generated", ha="center", va="center")
        bottom.set_yticks([])
    bottom.set_xlim(0, steps)
    ticks = shown if len(shown) <= 12 else shown[:: int(np.ceil(len(shown) / 12))]
    bottom.set_xticks(ticks + 0.5, labels=[str(t) for t in ticks], fontsize=8)
    bottom.set_xlabel("sampled frame (time step)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def _series(log_history: Sequence[Mapping], suffix: str, exclude_prefix: str = "") -> dict[str, tuple[list, list]]:
    series: dict[str, tuple[list, list]] = {}
    for entry in log_history:
        step = entry.get("step")
        if step is None:
            continue
        for key, value in entry.items():
            if key.endswith(suffix) and isinstance(value, (int, float)) and not key.startswith(exclude_prefix or "\0"):
                steps, values = series.setdefault(key, ([], []))
                steps.append(step)
                values.append(float(value))
    return series


def _legend(key: str) -> str:
    """'loss' → train; 'eval_bleu4' → the evaluations during training (the Trainer's eval set, the dev split);
    'dev_bleu4' / 'test_bleu4' → the final evaluation of that split."""
    if key == "loss":
        return "train"
    prefix = key.rsplit("_", 1)[0]
    return "eval during training" if prefix == "eval" else f"{prefix} (final)"


def plot_training_curves(log_history: Sequence[Mapping], path: str | os.PathLike, title: str | None = None
                         ) -> Path | None:
    """Training loss (and eval losses) and BLEU-4 on the evaluated splits against the optimizer step, from a
    `Trainer`'s `state.log_history`, as one PNG. Returns the path, or None when the history holds no curve."""
    losses = {key: value for key, value in _series(log_history, "loss").items() if key != "train_loss"}
    bleu = _series(log_history, "bleu4")
    if not losses and not bleu:
        logger.info("no loss or BLEU-4 in the training log: no curves drawn")
        return None
    figure = _new_figure(10.0 if bleu else 6.0, 3.6)
    panels = [("loss", losses)] + ([("BLEU-4", bleu)] if bleu else [])
    for number, (label, series) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), number)
        for key, (steps, values) in sorted(series.items()):
            axes.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3, label=_legend(key))
        axes.set_xlabel("step")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


__all__ = ["frames_from_pixel_values", "plot_attention", "plot_training_curves", "video_frame_strip"]
