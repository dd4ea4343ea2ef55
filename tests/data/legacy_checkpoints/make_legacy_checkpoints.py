"""Regenerate the tiny legacy checkpoints and their expected outputs (issue 12, backward compatibility).

The checkpoints in this folder were saved by the modeling code as it was BEFORE the issue-12 refactor (commit
a100c71 on main): one folder per model class (and per LLM family where the state-dict layout differs), each with
`config.json`, `model.safetensors`, the fixed inputs (`inputs.safetensors`) and the outputs that code produced
(`expected.safetensors`). `tests/test_legacy_checkpoints.py` loads them with the current code and requires the
same outputs, so a renamed parameter or a changed forward cannot slip through.

Every weight is perturbed with seeded noise before saving (LoRA `lora_B` included, which is zero after init) and the
BatchNorm running statistics are moved by a few training-mode forwards, so every saved tensor affects the output.

Run it only to add a case, and only with the code whose outputs the case should pin:
    .venv/bin/python tests/data/legacy_checkpoints/make_legacy_checkpoints.py [--only NAME]
Re-running it with newer code overwrites the reference; the committed files are the reference.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent


def _video_inputs(seed: int, frames: int = 10) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    video = torch.randn(2, frames, 3, 16, 16, generator=g)
    mask = torch.ones(2, frames, dtype=torch.long)
    mask[1, frames - 3 :] = 0
    return {"pixel_values_videos": video, "video_mask": mask}


def _perturb(model: torch.nn.Module, seed: int) -> None:
    """Seeded noise on every parameter, and BatchNorm statistics moved off their init, so each tensor matters."""
    g = torch.Generator().manual_seed(seed)
    fixed = {id(p) for m in model.modules() if "Sinusoidal" in type(m).__name__ for p in m.parameters()}
    with torch.no_grad():
        for _, param in sorted(model.named_parameters()):
            if id(param) not in fixed:  # sinusoidal positions are not saved: rebuilt from the config on load
                param.add_(0.05 * torch.randn(param.shape, generator=g))


def _move_batchnorm_stats(model: torch.nn.Module, inputs: dict) -> None:
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(**inputs)
    model.eval()


def cases():
    from sign_translation import (
        FlaLlmConfig,
        FlaLlmForConditionalGeneration,
        FlaLlmForVisualInitialization,
        MMSLTConfig,
        MMSLTForConditionalGeneration,
        MMSLTForPretraining,
    )

    labels = torch.tensor([[5, 6, 7, 2], [8, 9, 2, -100]])
    text = {"input_ids": torch.tensor([[5, 6, 7, 2], [8, 9, 2, 1]]),
            "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])}
    return {
        "fla_llm_stage1": (lambda: FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=40)),
                           {**_video_inputs(1), "labels": labels}),
        "fla_llm_stage2": (lambda: FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=40)),
                           {**_video_inputs(2), "labels": labels}),
        "fla_llm_stage2_causal": (
            lambda: FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=40, llm="causal")),
            {**_video_inputs(3), "labels": labels}),
        "mmslt_pretraining": (
            lambda: MMSLTForPretraining(MMSLTConfig.tiny(vocab_size=40, description_size=8)),
            {**_video_inputs(4), **text, "description_embeds": torch.randn(2, 10, 8, generator=torch.Generator().manual_seed(40))}),
        "mmslt_pretraining_causal": (
            lambda: MMSLTForPretraining(MMSLTConfig.tiny(vocab_size=40, description_size=8, llm="causal")),
            {**_video_inputs(5), **text, "description_embeds": torch.randn(2, 10, 8, generator=torch.Generator().manual_seed(50))}),
        "mmslt_translation": (
            lambda: MMSLTForConditionalGeneration(MMSLTConfig.tiny(vocab_size=40, description_size=8)),
            {**_video_inputs(6), "labels": labels}),
        "mmslt_translation_causal": (
            lambda: MMSLTForConditionalGeneration(MMSLTConfig.tiny(vocab_size=40, description_size=8, llm="causal")),
            {**_video_inputs(7), "labels": labels}),
        "mmslt_translation_full": (
            lambda: MMSLTForConditionalGeneration(MMSLTConfig.tiny(vocab_size=40, description_size=8,
                                                                   llm_finetuning="full")),
            {**_video_inputs(8), "labels": labels}),
    }


OUTPUT_FIELDS = ("loss", "logits", "contrastive_loss", "description_loss", "logits_per_video", "video_embeds",
                 "text_embeds")


def outputs_of(model, inputs: dict) -> dict[str, torch.Tensor]:
    """The tensors a case pins: every float output field, plus greedy generation for translation models."""
    model.eval()
    with torch.no_grad():
        out = model(**inputs)
        result = {k: getattr(out, k).detach().clone().contiguous() for k in OUTPUT_FIELDS
                  if getattr(out, k, None) is not None}
        if hasattr(model, "generate") and "labels" in inputs:
            result["generated"] = model.generate(pixel_values_videos=inputs["pixel_values_videos"],
                                                 video_mask=inputs["video_mask"], num_beams=1, do_sample=False,
                                                 max_new_tokens=5).contiguous()
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="regenerate one case")
    args = parser.parse_args(argv)
    for index, (name, (build, inputs)) in enumerate(sorted(cases().items())):
        if args.only and name != args.only:
            continue
        torch.manual_seed(index)
        model = build()
        _perturb(model, seed=100 + index)
        _move_batchnorm_stats(model, inputs)
        expected = outputs_of(model, inputs)
        folder = HERE / name
        tmp = HERE / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        for path in tmp.iterdir():  # remote-code copies: the test loads with the installed package
            if path.suffix == ".py":
                path.unlink()
        save_file({k: v.contiguous() for k, v in inputs.items()}, tmp / "inputs.safetensors")
        save_file(expected, tmp / "expected.safetensors")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(f"{name}: {type(model).__name__}, {size / 1024:.0f} KiB, outputs {sorted(expected)}")


if __name__ == "__main__":
    main()
