"""The visual front end shared by FLa-LLM and MMSLT (both descend from GFSLT-VLP).

    pixel_values_videos (B,T,C,H,W) + video_mask (B,T)
        │  FrameBackbone: AutoModel.from_config(vision_config) (ResNet-18) on the REAL frames only
        ▼
    frame features (B,T,512), zeros at padding
        │  FLa-LLM: LocalTemporalModule  Conv1D(k)-BN-ReLU, length preserving
        │  MMSLT:   TemporalConv         K5-P2-K5-P2, T → ((T-4)//2-4)//2 (after GFSLT edge padding)
        ▼
    visual features (B,T',D) + mask (B,T')

Every module takes and returns a mask and computes its own output lengths; padded positions are zeros and never
reach a BatchNorm statistic (`MaskedBatchNorm1d`), so a clip's features do not depend on what it is batched with.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_outputs import BaseModelOutput


@dataclass
class VisualTokensOutput(BaseModelOutput):
    """What a method's front end (`FlaLlmModel`, `MMSLTModel`) returns: the visual tokens, no head.

    last_hidden_state: (B,T',D) the visual tokens (zeros at padded steps).
    hidden_states: with `output_hidden_states`, the output of each front-end stage, from the per-frame backbone
        features (B,T,D_frame) to the visual tokens (the last entry equals `last_hidden_state`).
    attentions: always None: the front ends (a CNN and temporal convolutions) have no attention layers.
    attention_mask: (B,T') which of the T' steps are real: the `attention_mask` a language model reads them with.
    mapped_descriptions: MMSLT only, (B,T,D_desc) the description mapper's output d̂ when the mapper is on.
    """

    attention_mask: torch.Tensor | None = None
    mapped_descriptions: torch.Tensor | None = None


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm over (B, C, T) whose training statistics come from the valid (unpadded) positions only.

    With no mask, or an all-ones mask, it is exactly `nn.BatchNorm1d` (same parameters, buffers and state-dict
    keys). The published GFSLT/MMSLT code normalises over padded positions too; padding then shifts the statistics.
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:  # x (B,C,T), mask (B,T)
        if mask is None or not self.training or bool(mask.all()):
            return super().forward(x)
        valid = mask[:, None, :].to(x.dtype)  # (B,1,T)
        count = valid.sum()
        mean = (x * valid).sum(dim=(0, 2)) / count  # (C,)
        var = ((x - mean[None, :, None]) ** 2 * valid).sum(dim=(0, 2)) / count  # biased, as BatchNorm normalises
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                unbiased = var * count / torch.clamp(count - 1, min=1)
                self.running_mean.mul_(1 - momentum).add_(momentum * mean)
                self.running_var.mul_(1 - momentum).add_(momentum * unbiased)
        y = (x - mean[None, :, None]) * torch.rsqrt(var[None, :, None] + self.eps)
        if self.affine:
            y = y * self.weight[None, :, None] + self.bias[None, :, None]
        return y * valid


def lengths_to_mask(lengths: torch.Tensor, max_length: int | None = None) -> torch.Tensor:
    """(B,) lengths → (B, max_length) long mask with ones on the first `length` positions."""
    max_length = int(lengths.max().item()) if max_length is None else max_length
    positions = torch.arange(max_length, device=lengths.device)
    return (positions[None, :] < lengths[:, None]).long()


def check_video_inputs(video_mask: torch.Tensor, pixel_values_videos: torch.Tensor | None = None,
                       visual_features: torch.Tensor | None = None) -> None:
    """One clear error for inputs whose shapes disagree, before any indexing fails deep inside: pixel values
    (B,T,C,H,W) or cached features (B,T,D), and a mask (B,T) over the same batch and frames."""
    if video_mask.dim() != 2:
        raise ValueError(f"video_mask must be (batch, frames), got shape {tuple(video_mask.shape)}")
    if pixel_values_videos is not None:
        name, values, rank = "pixel_values_videos", pixel_values_videos, "(batch, frames, channels, height, width)"
        expected_dims = 5
    else:
        name, values, rank = "visual_features", visual_features, "(batch, frames, hidden)"
        expected_dims = 3
    if values.dim() != expected_dims:
        raise ValueError(f"{name} must be {rank}, got shape {tuple(values.shape)}")
    if tuple(values.shape[:2]) != tuple(video_mask.shape):
        raise ValueError(f"video_mask {tuple(video_mask.shape)} does not match {name} {tuple(values.shape)}: the "
                         "mask needs one entry per (clip, frame)")


class FrameBackbone(nn.Module):
    """Per-frame image backbone built from a config (`AutoModel.from_config`), run on real frames only.

    All real frames of the batch go through the backbone as one image batch; padded frames never do. Any vision
    `AutoModel` with a pooled output works (ResNet: `pooler_output` (N, D, 1, 1); ViT-like: (N, D)).
    """

    def __init__(self, vision_config):
        super().__init__()
        self.model = AutoModel.from_config(vision_config)
        # Set by `model.activation_checkpointing_enable()` or its deprecated alias `gradient_checkpointing_enable()`
        # (transformers sets every module's `gradient_checkpointing`).
        # ResNet has no checkpointing of its own, and its activations over all frames of a batch are most of a
        # stage-1 step's memory, so the stages are checkpointed here.
        self.gradient_checkpointing = False

    def forward(self, pixel_values_videos: torch.Tensor, video_mask: torch.Tensor) -> torch.Tensor:
        check_video_inputs(video_mask, pixel_values_videos)
        batch, frames = video_mask.shape
        mask = video_mask.bool()
        real = pixel_values_videos[mask]  # (N_real, C, H, W)
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled() and _has_stages(self.model):
            pooled = self._checkpointed_stages(real)
        else:
            outputs = self.model(pixel_values=real)
            pooled = getattr(outputs, "pooler_output", None)
            if pooled is None:
                pooled = outputs.last_hidden_state[:, 0]
        pooled = pooled.flatten(1)  # (N_real, D)
        features = pooled.new_zeros(batch, frames, pooled.shape[-1])
        features[mask] = pooled
        return features  # (B, T, D), zeros at padding


    def _checkpointed_stages(self, pixels: torch.Tensor) -> torch.Tensor:
        """ResNet forward checkpointed block by block: the stem (7×7 conv, BN, ReLU, max-pool) and every residual
        layer of every stage is one segment, so only the segment boundaries are kept for backward and, during
        backward, one segment's activations at a time. The stem and the first stage hold most of a ResNet's
        activation memory (large feature maps): checkpointing whole stages only, or leaving the stem out, saved
        little (measured: peak -11 % at 16 frames; benchmarks/memory_and_speed.py)."""
        from torch.utils.checkpoint import checkpoint

        segments = [self.model.embedder]
        for stage in self.model.encoder.stages:
            segments.extend(stage.layers if isinstance(getattr(stage, "layers", None), nn.Sequential) else [stage])
        hidden = pixels
        for segment in segments:
            hidden = checkpoint(_StatsOnce(segment), hidden, use_reentrant=False)
        return self.model.pooler(hidden)


def _has_stages(model: nn.Module) -> bool:
    """A ResNet-like backbone: embedder → encoder.stages → pooler (transformers' ResNetModel and relatives)."""
    encoder = getattr(model, "encoder", None)
    return hasattr(model, "embedder") and hasattr(model, "pooler") and isinstance(
        getattr(encoder, "stages", None), nn.ModuleList
    )


class _StatsOnce:
    """Runs a module; on every call after the first (the recomputation of a checkpointed forward) it restores the
    BatchNorm running statistics afterwards, so they are updated once per training step, as without
    checkpointing. The recomputation itself normalises with the same batch statistics, so outputs are identical."""

    def __init__(self, module: nn.Module):
        self.module = module
        self.calls = 0

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 1:
            return self.module(hidden)
        norms = [m for m in self.module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        saved = [[b.clone() for b in (m.running_mean, m.running_var, m.num_batches_tracked) if b is not None]
                 for m in norms]
        try:
            return self.module(hidden)
        finally:  # also when torch stops the recomputation early (it raises out of the forward once it has enough)
            with torch.no_grad():
                for m, buffers in zip(norms, saved):
                    live = [b for b in (m.running_mean, m.running_var, m.num_batches_tracked) if b is not None]
                    for target, value in zip(live, buffers):
                        target.copy_(value)


class LocalTemporalModule(nn.Module):
    """FLa-LLM's local temporal module: Conv1D(k, same padding) → BN → ReLU; T is preserved."""

    def __init__(self, input_size: int, hidden_size: int, kernel_size: int = 5):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"temporal_kernel_size must be odd to preserve the length, got {kernel_size}")
        self.conv = nn.Conv1d(input_size, hidden_size, kernel_size, padding=kernel_size // 2)
        self.norm = MaskedBatchNorm1d(hidden_size)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        valid = mask[:, None, :].to(features.dtype)  # (B,1,T)
        x = self.conv(features.transpose(1, 2) * valid)  # zeros at padding = the conv's own zero padding
        x = torch.relu(self.norm(x, mask)) * valid
        return x.transpose(1, 2), mask  # (B, T, D)


class TemporalConv(nn.Module):
    """GFSLT's "K5-P2-K5-P2": Conv1d(k) → BN → ReLU → MaxPool(2) → Conv1d(k) → BN → ReLU → MaxPool(2).

    Output length ((T-(k-1))//2-(k-1))//2. With `edge_padding` (GFSLT's data loader does this on frames; we do it
    on features, which is equivalent because everything before is per-frame) each clip is padded with 2(k-1)
    copies of its first frame in front and copies of its last frame behind, to length ceil(T/4)*4 + 4(k-1), so
    the output has ceil(T/4)+1 steps and even short clips keep at least two.
    """

    def __init__(self, input_size: int, hidden_size: int, kernel_size: int = 5, edge_padding: bool = True):
        super().__init__()
        self.kernel_size = kernel_size
        self.edge_padding = edge_padding
        self.conv1 = nn.Conv1d(input_size, hidden_size, kernel_size)
        self.norm1 = MaskedBatchNorm1d(hidden_size)
        self.conv2 = nn.Conv1d(hidden_size, hidden_size, kernel_size)
        self.norm2 = MaskedBatchNorm1d(hidden_size)

    def padded_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        if not self.edge_padding:
            return lengths
        return torch.div(lengths + 3, 4, rounding_mode="floor") * 4 + 4 * (self.kernel_size - 1)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Valid output steps for input lengths (B,), edge padding included."""
        shrink = self.kernel_size - 1
        lengths = self.padded_lengths(lengths)
        return torch.clamp(torch.div(torch.div(lengths - shrink, 2, rounding_mode="floor") - shrink, 2, rounding_mode="floor"), min=0)

    def frame_map(self, lengths: torch.Tensor, num_frames: int, num_steps: int | None = None) -> torch.Tensor:
        """(B, T', T): each valid output step spread evenly over the input frames of its receptive field.

        Output step j reads (edge-padded) input positions 4j … 4j+3(k-1)+3 (two convs of width k, two pools of 2);
        with edge padding, position p is frame clamp(p - 2(k-1), 0, length-1), so a clip's first and last frames
        weigh more where they were replicated. Rows of valid steps sum to one; padding rows/columns are zero. Used to
        show which frames an attention over the T' steps points at."""
        out_lengths = self.output_lengths(lengths)
        num_steps = int(out_lengths.max()) if num_steps is None else num_steps
        span = 3 * (self.kernel_size - 1) + 4
        front = 2 * (self.kernel_size - 1) if self.edge_padding else 0
        steps = torch.arange(num_steps, device=lengths.device)
        positions = 4 * steps[:, None] + torch.arange(span, device=lengths.device)[None, :]  # (T', span)
        frames = (positions[None] - front).clamp(min=0)
        frames = torch.minimum(frames, (lengths - 1).clamp(min=0)[:, None, None])  # (B, T', span)
        weights = torch.zeros(len(lengths), num_steps, max(num_frames, 1), device=lengths.device)
        weights.scatter_add_(2, frames.clamp(max=num_frames - 1), torch.full(frames.shape, 1.0 / span, device=lengths.device))
        valid = lengths_to_mask(out_lengths, num_steps)[..., None].to(weights.dtype)  # (B, T', 1)
        return weights[..., :num_frames] * valid

    def pad_edges(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Replicate first/last valid step: (B,T,D) → (B, max padded length, D)."""
        front = 2 * (self.kernel_size - 1)
        new_lengths = self.padded_lengths(lengths)
        positions = torch.arange(int(new_lengths.max()), device=features.device)
        source = (positions[None, :] - front).clamp(min=0)
        source = torch.minimum(source, (lengths - 1).clamp(min=0)[:, None])  # (B, T_pad)
        padded = torch.gather(features, 1, source[..., None].expand(-1, -1, features.shape[-1]))
        padded = padded * lengths_to_mask(new_lengths, padded.shape[1])[..., None].to(padded.dtype)
        return padded, new_lengths

    def _block(self, x, lengths, conv, norm):  # x (B,C,T)
        shrink = self.kernel_size - 1
        lengths = torch.clamp(lengths - shrink, min=0)
        x = conv(x)
        mask = lengths_to_mask(lengths, x.shape[-1])
        x = torch.relu(norm(x, mask)) * mask[:, None, :].to(x.dtype)
        x = nn.functional.max_pool1d(x, 2)
        lengths = torch.div(lengths, 2, rounding_mode="floor")
        return x, lengths

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = mask.sum(1)
        if bool((self.output_lengths(lengths) < 1).any()):
            raise ValueError(
                f"TemporalConv: clips of {lengths.tolist()} frames leave no output step without edge padding; each "
                f"needs at least {3 * (self.kernel_size - 1) + 4} frames, or enable edge_padding"
            )
        if self.edge_padding:
            features, lengths = self.pad_edges(features, lengths)
        x = features.transpose(1, 2) * lengths_to_mask(lengths, features.shape[1])[:, None, :].to(features.dtype)
        x, lengths = self._block(x, lengths, self.conv1, self.norm1)
        x, lengths = self._block(x, lengths, self.conv2, self.norm2)
        out_mask = lengths_to_mask(lengths, x.shape[-1])
        return x.transpose(1, 2) * out_mask[..., None].to(x.dtype), out_mask  # (B, T', D), (B, T')


class MLPAdapter(nn.Module):
    """Linear → activation → Linear: the VL-/LLM-adapters of FLa-LLM and MMSLT's description mapper and MLP.

    Initialised variance-preserving (Xavier), not with transformers' N(0, 0.02): its output is added to the
    language model's position embeddings, and a 30x smaller visual signal leaves training on the "language model
    only" plateau for hundreds of steps (measured on the synthetic corpus).
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, activation: str = "gelu", dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.act = ACT2FN[activation]
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden_size, output_size)
        for layer in (self.fc1, self.fc2):
            layer._xavier_init = True  # read by init_sign_modules (transformers initialises module by module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(self.act(self.fc1(x))))


class VLAdapter(MLPAdapter):
    """FLa-LLM stage 1's VL-adapter: visual features (B,T,512) → Light-T's width (B,T,d_model).
    Parameter names as `MLPAdapter` (`fc1`, `fc2`)."""


class LLMAdapter(MLPAdapter):
    """FLa-LLM stage 2's LLM-adapter: frozen visual features (B,T,512) → the LLM's width (B,T,1024 for mBART).
    Parameter names as `MLPAdapter`."""


class DescriptionMapper(MLPAdapter):
    """MMSLT's description mapper (DM): per-frame visual features (B,T,512) → the predicted sign-description
    embedding (B,T,768), Linear(512, 1024)-ReLU-Linear(1024, 768); trained with MSE against the MLLM
    descriptions' BERT [CLS] vectors in MMLP, frozen in translation. Parameter names as `MLPAdapter`."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, activation: str = "relu"):
        super().__init__(input_size, hidden_size, output_size, activation)


def init_sign_modules(module: nn.Module) -> bool:
    """Initialisation of this file's modules that differs from transformers' default; True if handled.
    Call it first in a model's `_init_weights`."""
    if isinstance(module, nn.Linear) and getattr(module, "_xavier_init", False):
        init.xavier_uniform_(module.weight)
        init.zeros_(module.bias)
        return True
    return False


__all__ = [
    "DescriptionMapper",
    "FrameBackbone",
    "LLMAdapter",
    "LocalTemporalModule",
    "MLPAdapter",
    "MaskedBatchNorm1d",
    "TemporalConv",
    "VLAdapter",
    "VisualTokensOutput",
    "init_sign_modules",
    "lengths_to_mask",
]
