#!/usr/bin/env python
"""MMSLT steps A and B, offline: describe every frame with an image MLLM, then encode each description with BERT.

    python train_scripts/generate_descriptions.py --dataset phoenix14t --data_dir /data/PHOENIX-2014-T \
        --output_dir runs/mmslt_descriptions
    # the synthetic corpus carries its own per-frame descriptions: no MLLM needed
    python train_scripts/generate_descriptions.py --dataset folder --data_dir synthetic_corpus \
        --from_corpus_descriptions true --output_dir runs/synthetic_descriptions

Writes `<output_dir>/descriptions` (step A: one row per video, a description per described frame) and
`<output_dir>/embeddings` (step B: the [CLS] vectors the MMSLT description mapper is trained against). Both are
resumable: re-running the same command skips finished videos. A video that cannot be read is reported (name and
reason) and the others are described; the script then exits with status 1 (`--fail_fast`: stop at the first).
`sign-translation describe` runs the same code (`sign_translation.describe`).
"""

from __future__ import annotations

import logging
import sys

from sign_translation.describe import DescribeArguments, load_splits, run  # noqa: F401 — the script's API
from sign_translation.training import parse_arguments


def main(argv: list[str] | None = None) -> dict:
    (args,) = parse_arguments((DescribeArguments,), argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    return run(args)


def script_main() -> None:
    """`python generate_descriptions.py ...`: exit status 1 when some videos could not be described."""
    summary = main()
    if summary["failures"]:  # each bad video was also logged by name with its reason as it happened
        print(f"{len(summary['failures'])} video(s) could not be described:", file=sys.stderr)
        for name, reason in summary["failures"]:
            print(f"  {name}: {reason}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    from sign_translation.validation import run_script

    run_script(script_main)
