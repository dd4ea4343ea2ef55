#!/usr/bin/env python
"""DIAGNOSTIC: does FLa-LLM's stage-1 translator learn to read frozen per-frame features, and how fast?

The frame backbone is frozen and its per-frame features are computed once for every PHOENIX-synth clip (every
4th frame, through the stage-1 checkpoint's own video processor: the recipe's 28-px centre crops); FLa-LLM stage 1's own temporal module, VL-adapter and Light-T (the
config of a stage-1 checkpoint, fresh weights) are trained on them. Every `--eval-every` steps it prints the dev
loss with each clip's own features and with another clip's (the batch rolled by one; the gap says how much the
translator reads the video) and greedy dev BLEU-4. Training on cached features costs only the translator, so it
shows how many epochs Light-T needs once the frames are encoded, apart from how fast the backbone learns.

    python benchmarks/phoenix_synth_translator_probe.py --stage1 CHECKPOINT \
        --backbone benchmarks/output/sign_backbone --steps 1500 --eval-every 500

`--backbone` is a transformers vision model folder (e.g. the sign probe's `--save-backbone` output, which was
trained with gloss labels: then this is not a gloss-free run) or `stage1` for the checkpoint's own backbone.
Features are cached under `--cache`, one file per backbone and stride.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def features(args, backbone, video_processor) -> dict:
    """Per-frame features of the frozen backbone for every train and dev clip, cached (atomic write). Each clip goes
    through the stage-1 checkpoint's own video processor (its resize, centre crop and normalisation; every
    `--stride`-th frame), so the features are what stage 1 sees at evaluation."""
    import torch

    tag = Path(args.backbone).name if args.backbone != "stage1" else "stage1-" + Path(args.stage1).name
    out = args.cache / f"features-{tag}-stride{args.stride}.pt"
    if out.is_file():
        return torch.load(out, weights_only=True)
    result = {}
    for split in ("train", "dev"):
        rows = [json.loads(line) for line in (args.corpus / split / "metadata.jsonl").read_text().splitlines() if line]
        clips = []
        with torch.no_grad():
            for row in rows:
                pixels = video_processor(str(args.corpus / split / row["file_name"]), frame_stride=args.stride,
                                         do_augment=False)["pixel_values_videos"][0]
                clips.append(backbone(pixel_values=pixels).pooler_output.flatten(1))
        result[split] = {"features": torch.cat(clips), "lengths": torch.tensor([len(c) for c in clips]),
                         "text": [row["text"] for row in rows]}
    args.cache.mkdir(parents=True, exist_ok=True)
    torch.save(result, out.with_suffix(".tmp"))
    out.with_suffix(".tmp").rename(out)
    return result


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage1", type=Path, required=True, help="a stage-1 checkpoint: its config and processor")
    parser.add_argument("--backbone", default="stage1", help="a vision model folder, or 'stage1'")
    parser.add_argument("--corpus", type=Path, default=REPO / "benchmarks" / "output" / "phoenix_synth_corpus")
    parser.add_argument("--cache", type=Path, default=REPO / "benchmarks" / "output" / "translator_probe")
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=None, help="JSON with the settings and the log")
    args = parser.parse_args(argv)

    import sacrebleu
    import torch
    from torch import nn
    from transformers import AutoModel

    from sign_translation import FlaLlmConfig, FlaLlmForVisualInitialization, SignTranslationProcessor

    torch.manual_seed(args.seed)
    processor = SignTranslationProcessor.from_pretrained(args.stage1)  # targets end with EOS, as in training
    config = FlaLlmConfig.from_pretrained(args.stage1)
    if args.backbone == "stage1":
        backbone = FlaLlmForVisualInitialization.from_pretrained(args.stage1).visual_encoder.backbone.model
    else:
        backbone = AutoModel.from_pretrained(args.backbone)
    data = features(args, backbone.eval(), processor.video_processor)

    class Precomputed(nn.Module):  # the frozen backbone's output, given in place of the pixels
        def forward(self, features, mask):
            return features

    model = FlaLlmForVisualInitialization(config)
    model.visual_encoder.backbone = Precomputed()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / args.warmup) * 0.5 * (
        1 + math.cos(math.pi * min(s, args.steps) / args.steps)))

    def batches(split, order, size):
        part = data[split]
        starts = (torch.cumsum(part["lengths"], 0) - part["lengths"]).tolist()
        lengths = part["lengths"].tolist()
        for i in range(0, len(order), size):
            ids = order[i:i + size]
            x = torch.zeros(len(ids), max(lengths[j] for j in ids), part["features"].shape[1])
            mask = torch.zeros(x.shape[:2], dtype=torch.long)
            for k, j in enumerate(ids):
                x[k, :lengths[j]] = part["features"][starts[j]:starts[j] + lengths[j]]
                mask[k, :lengths[j]] = 1
            texts = [part["text"][j] for j in ids]
            yield x, mask, processor.tokenize_targets(texts), texts

    def evaluate(step, seconds):
        model.eval()
        own = other = tokens = 0.0
        hypotheses, references = [], []
        with torch.no_grad():
            for x, mask, labels, texts in batches("dev", list(range(len(data["dev"]["text"]))), 64):
                n = int((labels != -100).sum())
                own += model(pixel_values_videos=x, video_mask=mask, labels=labels).loss.item() * n
                other += model(pixel_values_videos=x.roll(1, 0), video_mask=mask.roll(1, 0), labels=labels).loss.item() * n
                tokens += n
                out = model.generate(pixel_values_videos=x, video_mask=mask, num_beams=1, max_new_tokens=60)
                hypotheses += processor.tokenizer.batch_decode(out, skip_special_tokens=True)
                references += texts
        model.train()
        point = {"step": step, "train_seconds": round(seconds, 1), "dev_loss_own_video": round(own / tokens, 4),
                 "dev_loss_other_video": round(other / tokens, 4), "gap": round((other - own) / tokens, 4),
                 "dev_bleu4": round(sacrebleu.corpus_bleu(hypotheses, [references]).score, 2)}
        print(json.dumps(point), flush=True)
        return point

    log, step, seconds = [], 0, 0.0
    generator = torch.Generator().manual_seed(args.seed)
    model.train()
    while step < args.steps:
        order = torch.randperm(len(data["train"]["text"]), generator=generator).tolist()
        for x, mask, labels, _ in batches("train", order, args.batch):
            started = time.perf_counter()
            loss = model(pixel_values_videos=x, video_mask=mask, labels=labels).loss
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            seconds += time.perf_counter() - started
            step += 1
            if step % args.eval_every == 0 or step == args.steps:
                log.append(evaluate(step, seconds))
            if step >= args.steps:
                break
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({k: str(v) for k, v in vars(args).items()} | {"log": log}, indent=1))
    return log


if __name__ == "__main__":
    main()
