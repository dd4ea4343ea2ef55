#!/usr/bin/env python
"""What MMSLT's sign descriptions cost per frame, next to what replaces them at inference.

(a) step A: an image MLLM (random weights, LLaVA-OneVision architecture) describes each frame, greedy, through
    `SignDescriptionGenerator` — the code that fills the cache;
(b) inference: ResNet-18 (`FrameBackbone`, basic blocks 2-2-2-2, 64-128-256-512) + the description mapper
    `MLPAdapter(512, 1024, 768, "relu")` on the same frames at 224 px.

    .venv/bin/python benchmarks/description_cost.py --threads 1            # CPU: a mid-size LLaVA-OV, ~1 min
    .venv/bin/python benchmarks/description_cost.py --text qwen2-0.5b --vision siglip-so400m   # LLaVA-OV-0.5B shape
    .venv/bin/python benchmarks/description_cost.py --device cuda --text qwen2-7b --vision siglip-so400m  # paper's

Weights are random, so a description is always `max_new_tokens` long (real descriptions stop earlier at EOS);
the decode time per token is printed so other lengths can be read off. The MLLM's matmul FLOPs per frame are also
estimated for the paper's LLaVA-OneVision-Qwen2-7B shape (built on the meta device, never run). On a machine
whose cores are busy with other work, `--threads 1` gives steadier numbers than torch's default thread count.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TEXT_PRESETS = {  # Qwen2 shapes; "mid" is what a 2-core CPU finishes in a few minutes
    "mid": dict(hidden_size=512, intermediate_size=2816, num_hidden_layers=8, num_attention_heads=8,
                num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "qwen2-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                       num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "qwen2-7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                     num_key_value_heads=4, vocab_size=152128, tie_word_embeddings=False),
}  # fmt: skip
VISION_PRESETS = {  # SigLIP shapes (LLaVA-OneVision: so400m at 384 px, 26 layers used, anyres_max_9 tiling)
    "mid": dict(hidden_size=384, intermediate_size=1536, num_hidden_layers=6, num_attention_heads=6, image_size=224,
                patch_size=14),
    "siglip-so400m": dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=26, num_attention_heads=16,
                          image_size=384, patch_size=14),
}  # fmt: skip


def build_processor(tile: int):
    """A LLaVA-OneVision processor with a small byte-level BPE tokenizer (its chat tokens and the prompt)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import (
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
        Qwen2Tokenizer,
    )

    from sign_translation.processing import DEFAULT_DESCRIPTION_PROMPT

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(
        [DEFAULT_DESCRIPTION_PROMPT, "user assistant"] * 4,
        trainers.BpeTrainer(
            vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    merges = [
        tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in json.loads(bpe.to_str())["model"]["merges"]
    ]
    tokenizer = Qwen2Tokenizer(vocab=bpe.get_vocab(), merges=merges, additional_special_tokens=specials[1:])
    grid = [[tile * i, tile * j] for i in range(1, 7) for j in range(1, 7)]  # LLaVA-OV's 36 pinpoints, in tiles
    template = (  # llava-onevision-qwen2's chat template (images, then text, per turn)
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + ' ' }}"
        "{% for c in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}{% endfor %}"
        "{% for c in message['content'] | selectattr('type', 'equalto', 'text') %}{{ '\n' + c['text'] }}{% endfor %}"
        "{{ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    return LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size={"height": tile, "width": tile}, image_grid_pinpoints=grid),
        tokenizer=tokenizer,
        video_processor=LlavaOnevisionVideoProcessor(size={"height": tile, "width": tile}),
        num_image_tokens=(tile // 14) ** 2,
        vision_feature_select_strategy="full",
        chat_template=template,
    ), grid


def llava_config(text: str, vision: str, tokenizer, grid):
    from transformers import LlavaOnevisionConfig, Qwen2Config, SiglipVisionConfig

    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    return LlavaOnevisionConfig(
        vision_config=SiglipVisionConfig(**VISION_PRESETS[vision], vision_use_head=False),
        text_config=Qwen2Config(**TEXT_PRESETS[text], pad_token_id=tokenizer.pad_token_id, eos_token_id=im_end),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=grid,
        vision_feature_select_strategy="full",
        tie_word_embeddings=TEXT_PRESETS[text]["tie_word_embeddings"],
    )


def parameter_counts(model) -> dict[str, float]:
    vision = sum(p.numel() for p in model.model.vision_tower.parameters())
    embed = model.model.language_model.embed_tokens.weight.numel()
    text = sum(p.numel() for p in model.model.language_model.parameters()) - embed  # matmul weights per token
    return {"vision": vision, "text": text, "lm_head": model.lm_head.weight.numel()}


def estimate_flops(counts: dict, vision_tokens: int, prompt_tokens: int, new_tokens: int) -> float:
    """Matmul FLOPs per frame (2·params·tokens; attention scores and the projector left out: a lower bound)."""
    return 2 * (counts["vision"] * vision_tokens + counts["text"] * (prompt_tokens + new_tokens)
                + counts["lm_head"] * new_tokens)  # fmt: skip


def time_mllm(args, frames: np.ndarray) -> dict:
    from transformers import LlavaOnevisionForConditionalGeneration

    from sign_translation.processing import SignDescriptionGenerator

    tile = VISION_PRESETS[args.vision]["image_size"]
    processor, grid = build_processor(tile)
    config = llava_config(args.text, args.vision, processor.tokenizer, grid)
    torch.manual_seed(0)
    started = time.perf_counter()
    model = LlavaOnevisionForConditionalGeneration(config).to(args.device, getattr(torch, args.dtype)).eval()
    build_s = time.perf_counter() - started
    counts = parameter_counts(model)
    generator = SignDescriptionGenerator(
        model, processor, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size
    )
    inputs = processor(images=[[frames[0]]], text=[generator.chat_prompt()], return_tensors="pt")
    prompt_tokens = int(inputs["input_ids"].shape[1])
    image_tokens = int((inputs["input_ids"] == config.image_token_index).sum())
    vision_tokens = int(inputs["pixel_values"].shape[1]) * (tile // 14) ** 2  # tiles (incl. the base image) × patches
    generated = []
    original_generate = model.generate

    def counting_generate(**kwargs):
        out = original_generate(**kwargs)
        generated.append(out.shape[1] - kwargs["input_ids"].shape[1])
        return out

    model.generate = counting_generate
    generator.max_new_tokens = 1
    generator.describe_frames(frames[:1])  # warm-up
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    def timed(max_new_tokens: int) -> float:
        generator.max_new_tokens = max_new_tokens
        generated.clear()
        sync()
        started = time.perf_counter()
        generator.describe_frames(frames)
        sync()
        return (time.perf_counter() - started) / len(frames)

    prefill = timed(1)  # image encoding + prompt prefill + one token
    full = timed(args.max_new_tokens)
    tokens = sum(generated) / len(generated)
    return {
        "text": args.text, "vision": args.vision, "params": counts, "build_s": build_s,
        "prompt_tokens": prompt_tokens, "image_tokens": image_tokens, "vision_tokens": vision_tokens,
        "new_tokens": tokens, "prefill_s": prefill, "per_frame_s": full,
        "decode_per_token_s": (full - prefill) / max(tokens - 1, 1),
        "flops": estimate_flops(counts, vision_tokens, prompt_tokens, tokens),
    }  # fmt: skip


def time_resnet_mapper(args, frames: np.ndarray) -> dict:
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import ResNetConfig

    from sign_translation.modeling.visual_encoder import FrameBackbone, MLPAdapter

    torch.manual_seed(0)
    backbone = FrameBackbone(ResNetConfig(depths=[2, 2, 2, 2], hidden_sizes=[64, 128, 256, 512], layer_type="basic",
                                          embedding_size=64)).to(args.device).eval()  # fmt: skip
    mapper = MLPAdapter(512, 1024, 768, "relu").to(args.device).eval()  # MMSLT's description mapper
    mean = torch.tensor([0.485, 0.456, 0.406], device=args.device).view(1, 1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=args.device).view(1, 1, 3, 1, 1)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    @torch.inference_mode()
    def run(batch: np.ndarray) -> torch.Tensor:
        video = torch.from_numpy(batch).to(args.device).permute(0, 3, 1, 2)[None].float() / 255  # (1, T, 3, H, W)
        features = backbone((video - mean) / std, torch.ones(1, len(batch), dtype=torch.long, device=args.device))
        return mapper(features)  # (1, T, 768): the predicted description vectors

    run(frames)  # warm-up
    times = []
    for _ in range(args.repeats):
        sync()
        started = time.perf_counter()
        out = run(frames)
        sync()
        times.append((time.perf_counter() - started) / len(frames))
    assert out.shape == (1, len(frames), 768)
    with FlopCounterMode(display=False) as counter:
        run(frames[:1])
    return {"per_frame_s": float(np.median(times)), "flops": counter.get_total_flops(),
            "params": sum(p.numel() for p in backbone.parameters()) + sum(p.numel() for p in mapper.parameters())}  # fmt: skip


def paper_mllm_flops(image_size: int, max_new_tokens: int) -> dict:
    """The paper's LLaVA-OneVision-Qwen2-7B on one frame (matmul FLOPs, from its shape; nothing is run)."""
    from transformers import LlavaOnevisionForConditionalGeneration

    from sign_translation.processing import SignDescriptionGenerator

    processor, grid = build_processor(384)
    config = llava_config("qwen2-7b", "siglip-so400m", processor.tokenizer, grid)
    with torch.device("meta"):
        model = LlavaOnevisionForConditionalGeneration(config)
    counts = parameter_counts(model)
    prompt = SignDescriptionGenerator(model, processor).chat_prompt()
    frame = np.zeros((image_size, image_size, 3), np.uint8)
    inputs = processor(images=[[frame]], text=[prompt], return_tensors="pt")
    vision_tokens = int(inputs["pixel_values"].shape[1]) * (384 // 14) ** 2
    prompt_tokens = int(inputs["input_ids"].shape[1])
    return {"params": counts, "prompt_tokens": prompt_tokens, "vision_tokens": vision_tokens,
            "flops": estimate_flops(counts, vision_tokens, prompt_tokens, max_new_tokens)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text", choices=sorted(TEXT_PRESETS), default="mid", help="Qwen2 shape (default mid)")
    parser.add_argument("--vision", choices=sorted(VISION_PRESETS), default="mid", help="SigLIP shape (default mid)")
    parser.add_argument("--frames", type=int, default=8, help="frames timed (default 8: one paper batch)")
    parser.add_argument("--batch-size", type=int, default=8, help="frames per generate call (paper: 8)")
    parser.add_argument("--max-new-tokens", type=int, default=256, help="paper: 256")
    parser.add_argument("--image-size", type=int, default=224, help="frame size in pixels (default 224)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default=None, help="MLLM dtype (default float16 on CUDA, float32 on CPU)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of the ResNet path (median)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    args.dtype = args.dtype or ("float16" if args.device.startswith("cuda") else "float32")
    if args.threads:
        torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (args.frames, args.image_size, args.image_size, 3), dtype=np.uint8)
    print(f"device {args.device} ({torch.get_num_threads()} CPU threads), {args.frames} frames of "
          f"{args.image_size}x{args.image_size}, MLLM dtype {args.dtype}")  # fmt: skip
    resnet = time_resnet_mapper(args, frames)
    mllm = time_mllm(args, frames)
    paper = paper_mllm_flops(args.image_size, args.max_new_tokens)

    def billions(n: float) -> str:
        return f"{n / 1e9:.2f}B"

    p = mllm["params"]
    print(f"\n(a) MLLM description, LLaVA-OneVision shape text={args.text} vision={args.vision}: vision "
          f"{billions(p['vision'])}, LLM {billions(p['text'])} + lm_head {billions(p['lm_head'])} params")  # fmt: skip
    print(f"    per frame: {mllm['vision_tokens']} vision-tower tokens, {mllm['prompt_tokens']} prompt tokens "
          f"({mllm['image_tokens']} image), {mllm['new_tokens']:.0f} new tokens, batch {args.batch_size}")  # fmt: skip
    print(f"    {mllm['per_frame_s']:.3f} s/frame  (image + prefill {mllm['prefill_s']:.3f} s, decode "
          f"{1e3 * mllm['decode_per_token_s']:.2f} ms/token)  ~{mllm['flops'] / 1e9:.0f} GFLOP/frame")  # fmt: skip
    print(f"(b) ResNet-18 + description mapper: {resnet['params'] / 1e6:.1f}M params")
    print(f"    {1e3 * resnet['per_frame_s']:.2f} ms/frame  {resnet['flops'] / 1e9:.2f} GFLOP/frame (batch "
          f"{args.frames}, median of {args.repeats})")  # fmt: skip
    print(f"ratio (a)/(b): {mllm['per_frame_s'] / resnet['per_frame_s']:.0f}x in time, "
          f"{mllm['flops'] / resnet['flops']:.0f}x in FLOPs")  # fmt: skip
    q = paper["params"]
    print(f"\npaper's MLLM (LLaVA-OneVision-Qwen2-7B: vision {billions(q['vision'])}, LLM {billions(q['text'])} "
          f"+ lm_head {billions(q['lm_head'])}) on a {args.image_size}px frame: {paper['vision_tokens']} vision "
          f"tokens, {paper['prompt_tokens']} prompt tokens, {args.max_new_tokens} new tokens: "
          f"~{paper['flops'] / 1e12:.1f} TFLOP/frame = {paper['flops'] / resnet['flops']:.0f}x ResNet-18 + mapper; "
          f"PHOENIX14T's ~948k frames: ~{paper['flops'] * 948e3 / 1e18:.0f} EFLOP")  # fmt: skip


if __name__ == "__main__":
    main()
