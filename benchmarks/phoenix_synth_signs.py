#!/usr/bin/env python
"""Can PHOENIX-synth's frames be read at all? Isolated-sign recognition from the renderer's own sign spans.

The translation variants (c, d, e, f, g) must learn, without glosses, to read 1,073 signs from small rendered
frames. This probe asks the easier question first: given the frames of ONE sign (cut with the corpus's
`sign_spans`, which only the renderer knows), how well does the stage-1 recipe's frame backbone (the same ResNet,
from scratch, at the same crop) recognise the gloss and each of its sign parameters (hands, handshapes, location,
movement, face)? If it cannot, no translation model on these frames can; if it can, the translation models'
problem is learning to find the signs without glosses, not the pixels.

    python benchmarks/phoenix_synth_signs.py --epochs 3          # train on train-split signs, score dev-split signs
    python benchmarks/phoenix_synth_signs.py --corpus OTHER_CORPUS --crop-size 56

Top-1 accuracy on the dev split's signs per target, next to chance (the most frequent class of the train split).
Results are appended to `benchmarks/results/phoenix_synth_signs.json`. A diagnostic of the corpus, not one of the
issue's variants; it uses the glosses that the gloss-free methods never see.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO / "benchmarks" / "output" / "phoenix_synth_corpus"
DEFAULT_RESULTS = REPO / "benchmarks" / "results" / "phoenix_synth_signs.json"
STAGE1_RECIPE = REPO / "train_scripts" / "recipes" / "phoenix_synth_fla_stage1.json"
FACTORS = ("hands", "right_handshape", "location", "movement", "left_handshape", "face")


def sign_instances(corpus: Path, split: str, frames: int, crop: int, max_clips: int | None = None):
    """(uint8 frames [N, frames, 3, crop, crop], gloss per instance) for every signed gloss of a split: the
    frames of each sign span resampled to `frames` evenly spaced ones, centre-cropped like the processor."""
    import numpy as np
    import torch
    from torchcodec.decoders import VideoDecoder

    rows = [json.loads(line) for line in (corpus / split / "metadata.jsonl").read_text().splitlines() if line]
    rows = rows[:max_clips] if max_clips else rows
    clips, glosses = [], []
    for row in rows:
        spans, names = row.get("sign_spans") or [], row["gloss"].split()
        if not spans or len(spans) != len(names):
            continue  # a clip of a signer at rest (PHOENIX14T annotations without glosses)
        video = VideoDecoder(str(corpus / split / row["file_name"]))[:]  # [T, 3, H, W] uint8
        top = (video.shape[-2] - crop) // 2
        left = (video.shape[-1] - crop) // 2
        video = video[..., top:top + crop, left:left + crop]
        for (start, end), gloss in zip(spans, names):
            end = min(end, video.shape[0] - 1)
            picks = np.linspace(start, end, frames).round().astype(int)
            clips.append(video[picks])
            glosses.append(gloss)
    return torch.stack(clips), glosses


def build_model(vision_config: dict, frames: int, heads: dict[str, int]):
    import torch
    from torch import nn
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.for_model(**vision_config)

    class SignClassifier(nn.Module):
        """The stage-1 recipe's frame backbone, per frame; a temporal convolution over the sign's frames; one
        linear head per target."""

        def __init__(self):
            super().__init__()
            self.backbone = AutoModel.from_config(config)
            width = config.hidden_sizes[-1]
            self.temporal = nn.Sequential(nn.Conv1d(width, 256, 3, padding=1), nn.BatchNorm1d(256), nn.ReLU())
            self.heads = nn.ModuleDict({name: nn.Linear(256 * frames, n) for name, n in heads.items()})
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255)
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255)

        def forward(self, video):  # [B, F, 3, H, W] uint8
            b, f = video.shape[:2]
            x = (video.flatten(0, 1).float() - self.mean) / self.std
            x = self.backbone(pixel_values=x).pooler_output.flatten(1).view(b, f, -1)
            x = self.temporal(x.transpose(1, 2)).flatten(1)
            return {name: head(x) for name, head in self.heads.items()}

    return SignClassifier()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--crop-size", type=int, default=None, help="default: the stage-1 recipe's crop_size")
    parser.add_argument("--frames", type=int, default=4, help="frames per sign (evenly spaced over its span)")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--max-clips", type=int, default=None, help="clips per split (a smaller probe)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-backbone", type=Path, default=None,
                        help="save the trained frame backbone (a transformers folder) — for diagnostics only: it "
                             "was trained with glosses, which gloss-free methods must not use")
    args = parser.parse_args(argv)

    import torch
    from torch import nn

    recipe = json.loads(STAGE1_RECIPE.read_text())
    crop = args.crop_size or recipe["crop_size"]
    vocabulary = json.loads((args.corpus / "corpus.json").read_text())["vocabulary"]
    started = time.perf_counter()
    train_x, train_g = sign_instances(args.corpus, "train", args.frames, crop, args.max_clips)
    dev_x, dev_g = sign_instances(args.corpus, "dev", args.frames, crop, args.max_clips)
    decode_seconds = time.perf_counter() - started
    print(f"{len(train_g)} train / {len(dev_g)} dev signs, {tuple(train_x.shape[1:])} each, decoded in "
          f"{decode_seconds:.0f} s", flush=True)

    targets = {"gloss": sorted(vocabulary)}
    for factor in FACTORS:
        targets[factor] = sorted({str(spec.get(factor)) for spec in vocabulary.values()})
    index = {name: {v: i for i, v in enumerate(values)} for name, values in targets.items()}

    def labels(glosses):
        out = {"gloss": torch.tensor([index["gloss"][g] for g in glosses])}
        for factor in FACTORS:
            out[factor] = torch.tensor([index[factor][str(vocabulary[g].get(factor))] for g in glosses])
        return out

    train_y, dev_y = labels(train_g), labels(dev_g)
    torch.manual_seed(args.seed)
    model = build_model(recipe["config_overrides"]["vision_config"], args.frames,
                        {name: len(values) for name, values in targets.items()})
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps = int(args.epochs * len(train_g) / args.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=steps, pct_start=0.05)
    loss_fn = nn.CrossEntropyLoss()

    def evaluate() -> dict:
        model.eval()
        correct = Counter()
        with torch.no_grad():
            for s in range(0, len(dev_g), 512):
                out = model(dev_x[s:s + 512])
                for name in targets:
                    correct[name] += int((out[name].argmax(-1) == dev_y[name][s:s + 512]).sum())
        model.train()
        return {name: round(100 * correct[name] / len(dev_g), 2) for name in targets}

    train_started = time.perf_counter()
    curve = []
    for step in range(steps):
        batch = torch.randint(len(train_g), (args.batch_size,))
        out = model(train_x[batch])
        loss = sum(loss_fn(out[name], train_y[name][batch]) for name in targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if (step + 1) % max(1, steps // 6) == 0 or step + 1 == steps:
            accuracy = evaluate()
            curve.append({"step": step + 1, "seconds": round(time.perf_counter() - train_started, 1), **accuracy})
            print(json.dumps(curve[-1]), flush=True)
    if args.save_backbone:
        model.backbone.save_pretrained(args.save_backbone)
    chance = {name: round(100 * Counter(train_y[name].tolist()).most_common(1)[0][1] / len(train_g), 2)
              for name in targets}
    # how well the dev signs' chance level is matched by always answering the most frequent train class
    record = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "corpus": {"image_size": json.loads((args.corpus / "corpus.json").read_text())["settings"].get("image_size"),
                   "train_signs": len(train_g), "dev_signs": len(dev_g)},
        "settings": {"crop_size": crop, "frames_per_sign": args.frames, "epochs": args.epochs,
                     "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
                     "backbone": recipe["config_overrides"]["vision_config"]},
        "dev_accuracy": curve[-1] if curve else {},
        "chance_most_frequent_train_class": chance,
        "classes": {name: len(values) for name, values in targets.items()},
        "curve": curve,
        "decode_seconds": round(decode_seconds, 1),
        "train_seconds": round(time.perf_counter() - train_started, 1),
        "torch_threads": torch.get_num_threads(),
    }
    records = json.loads(args.results.read_text()) if args.results.is_file() else []
    records.append(record)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.results.with_suffix(".tmp")
    tmp.write_text(json.dumps(records, indent=1) + "\n")
    os.replace(tmp, args.results)
    print("dev top-1 % (chance):", ", ".join(f"{n} {record['dev_accuracy'].get(n)} ({chance[n]})" for n in targets))
    return record


if __name__ == "__main__":
    main()
