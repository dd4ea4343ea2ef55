#!/usr/bin/env python
"""Where a video's translation time goes in `pipeline("sign-translation")`, batch 1 vs batched, beam vs greedy,
and torch thread counts — side by side in one run (ratios; medians of interleaved repeats).

    python benchmarks/pipeline_latency.py                 # FLa-LLM stage 2, ResNet-18 at 224 px, reduced mBART
    python benchmarks/pipeline_latency.py --threads 1 2 4 --repeats 5

The model is FLa-LLM stage 2 with random weights: the paper's ResNet-18 visual encoder at 224 px and frame_stride 4,
and an mBART of d_model 256 with 2+2 layers instead of mBART-large-cc25 (a 610M-parameter random LLM does not fit
this benchmark's time on a shared CPU; the generate share below is therefore a lower bound). Every generation is
forced to the same length (min_new_tokens = max_new_tokens) so random weights do not change the work. Inputs: the
four real sign videos in tests/data.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def build(tokens: int):
    from sign_translation import FlaLlmConfig, FlaLlmForConditionalGeneration
    from sign_translation.processing import SignTranslationProcessor, SignVideoProcessor
    from sign_translation.tokenization import train_mbart_tokenizer

    sentences = ["it will rain in the north", "tomorrow sun in the south", "wind from the west at night"] * 50
    tokenizer = train_mbart_tokenizer(sentences, vocab_size=200)
    text = {"model_type": "mbart", "vocab_size": len(tokenizer), "d_model": 256, "encoder_layers": 2,
            "decoder_layers": 2, "encoder_attention_heads": 4, "decoder_attention_heads": 4,
            "encoder_ffn_dim": 1024, "decoder_ffn_dim": 1024, "max_position_embeddings": 1024}
    torch.manual_seed(0)
    model = FlaLlmForConditionalGeneration(FlaLlmConfig(text_config=text, pad_token_id=1, bos_token_id=0,
                                                        eos_token_id=2, decoder_start_token_id=2)).eval()
    model.generation_config.update(max_new_tokens=tokens, min_new_tokens=tokens, num_beams=1)
    processor = SignTranslationProcessor(SignVideoProcessor(frame_stride=4), tokenizer)  # paper input
    return model, processor


def median_of(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=24, help="generated tokens per video (default 24)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="thread counts compared in the last block (default 1 2); the first is used above")
    args = parser.parse_args()
    from transformers import pipeline

    import sign_translation  # noqa: F401 - registers the task

    default_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads[0])
    model, processor = build(args.tokens)
    videos = [str(p) for p in sorted((REPO / "tests" / "data").glob("*.mp4"))]
    translator = pipeline("sign-translation", model=model, processor=processor)
    print(f"torch threads {torch.get_num_threads()} (torch's default here: {default_threads}; see the threads "
          f"block); {len(videos)} videos; {args.tokens} tokens each; medians of {args.repeats} repeats; the machine "
          "may be shared: read the ratios")

    # split of one video's latency, batch 1
    parts = {"decode + preprocess": 0.0, "visual encoder": 0.0, "generate (greedy)": 0.0, "generate (beam 5)": 0.0}
    with torch.no_grad():
        for video in videos:
            inputs = {}

            def decode(video=video, inputs=inputs):
                inputs.update(processor(videos=video))

            parts["decode + preprocess"] += median_of(decode, args.repeats)
            features = {}

            def encode(inputs=inputs, features=features):
                features["x"], features["mask"] = model.extract_visual_features(inputs["pixel_values_videos"],
                                                                                inputs["video_mask"])

            parts["visual encoder"] += median_of(encode, args.repeats)
            for beams, key in ((1, "generate (greedy)"), (5, "generate (beam 5)")):
                parts[key] += median_of(lambda beams=beams, features=features: model.generate(
                    visual_features=features["x"], video_mask=features["mask"], num_beams=beams), args.repeats)
    greedy_total = parts["decode + preprocess"] + parts["visual encoder"] + parts["generate (greedy)"]
    beam_total = greedy_total - parts["generate (greedy)"] + parts["generate (beam 5)"]
    print("\nper-video latency split (batch 1, summed over the videos)")
    for name, seconds in parts.items():
        total = beam_total if "beam" in name else greedy_total
        print(f"  {name:22} {seconds / len(videos):7.3f} s/video  {100 * seconds / total:5.1f} % of a "
              f"{'beam-5' if 'beam' in name else 'greedy'} translation")
    print(f"  beam 5 ÷ greedy (whole video): {beam_total / greedy_total:.2f}x")

    print("\npipeline throughput, greedy (whole pipeline: decode, encode, generate, detokenise)")
    rows = {}
    for batch in (1, len(videos)):
        rows[batch] = median_of(lambda batch=batch: translator(videos, batch_size=batch), args.repeats)
    for batch, seconds in rows.items():
        print(f"  batch_size {batch}: {len(videos) / seconds:6.2f} videos/s  {rows[1] / seconds:5.2f}x batch 1")

    print("\nthreads (whole pipeline, batch 1, greedy; interleaved)")
    times = {n: [] for n in args.threads}
    for _ in range(args.repeats):
        for n in args.threads:
            torch.set_num_threads(n)
            start = time.perf_counter()
            translator(videos, batch_size=1)
            times[n].append(time.perf_counter() - start)
    base = statistics.median(times[args.threads[0]])
    for n, values in times.items():
        seconds = statistics.median(values)
        print(f"  {n:2} thread(s): {len(videos) / seconds:6.2f} videos/s  {base / seconds:5.2f}x {args.threads[0]} thread(s)")


if __name__ == "__main__":
    main()
