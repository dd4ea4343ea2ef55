"""What the model looked at: `output_attentions` through the models, `visual_attention` (per generated token, a weight
over the video's frames), the temporal conv's frame map, `pipeline(..., return_attention=True)` and the plots."""

import numpy as np
import pytest
import torch
from PIL import Image

from sign_translation import (
    FlaLlmConfig,
    FlaLlmForConditionalGeneration,
    FlaLlmForVisualInitialization,
    MMSLTConfig,
    MMSLTForConditionalGeneration,
)
from sign_translation.modeling.visual_encoder import TemporalConv

VIDEO = torch.Generator().manual_seed(0)


def _model(kind: str):
    torch.manual_seed(0)
    if kind.startswith("mmslt"):
        llm = "causal" if kind.endswith("causal") else "mbart"
        return MMSLTForConditionalGeneration(MMSLTConfig.tiny(vocab_size=99, llm=llm)).eval()
    if kind == "stage1":
        return FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=99)).eval()
    return FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=99, llm=kind)).eval()


def _batch(lengths=(13, 9)):
    frames = max(lengths)
    video = torch.randn(len(lengths), frames, 3, 16, 16, generator=VIDEO)
    mask = torch.tensor([[1] * n + [0] * (frames - n) for n in lengths])
    return video * mask[:, :, None, None, None], mask


@pytest.mark.parametrize("kind", ["mbart", "mt5", "causal", "mmslt", "mmslt_causal", "stage1"])
def test_visual_attention_sums_to_one_over_real_frames_and_ignores_batching(kind):
    model = _model(kind)
    video, mask = _batch()
    ids = model.generate(pixel_values_videos=video, video_mask=mask, max_new_tokens=6, num_beams=2, min_new_tokens=3)
    weights = model.visual_attention(ids, video, mask)
    assert weights.shape == (2, ids.shape[1], video.shape[1])
    assert (weights >= 0).all()
    generated = weights.sum(-1) > 0
    assert generated.sum(1).min() >= 3  # at least the min_new_tokens rows carry weight
    torch.testing.assert_close(weights.sum(-1)[generated], torch.ones(int(generated.sum())))
    assert weights[1, :, 9:].abs().max() == 0  # padded frames of the shorter clip get nothing
    if model.language_model.config.is_encoder_decoder:
        assert not generated[:, 0].any()  # the decoder start token was not generated
    # the same clip alone (no padding, other batch mates) gets the same weights
    alone = model.visual_attention(ids[1:], video[1:, :9], mask[1:, :9])
    torch.testing.assert_close(alone[0], weights[1, :, :9], atol=1e-5, rtol=1e-4)
    # and the weights are not uniform: they come from the model, not from the mask
    assert weights[generated].std(-1).max() > 1e-4


def test_attention_follows_the_frames_that_matter():
    """Cross-attention rows are the LM's own: editing the encoder input of one frame moves the weights."""
    model = _model("mbart")
    video, mask = _batch((8,))
    ids = model.generate(pixel_values_videos=video, video_mask=mask, max_new_tokens=4, num_beams=1, min_new_tokens=2)
    before = model.visual_attention(ids, video, mask)
    changed = video.clone()
    changed[0, 3] = changed[0, 3] * 5
    after = model.visual_attention(ids, changed, mask)
    assert not torch.allclose(before, after)


@pytest.mark.parametrize("kind", ["mbart", "causal"])
def test_forward_and_generate_honour_output_attentions(kind):
    model = _model(kind)
    video, mask = _batch()
    labels = torch.tensor([[5, 6, 7, 2], [8, 9, 2, -100]])
    out = model(pixel_values_videos=video, video_mask=mask, labels=labels, output_attentions=True)
    layers = model.language_model.config.num_hidden_layers
    if kind == "mbart":
        assert len(out.cross_attentions) == layers and out.cross_attentions[0].shape[-1] == video.shape[1]
        assert out.cross_attentions[0][1, :, :, 9:].abs().max() < 1e-6  # masked frames
    else:
        assert len(out.attentions) == layers
    plain = model(pixel_values_videos=video, video_mask=mask, labels=labels)
    torch.testing.assert_close(plain.logits, out.logits, atol=1e-5, rtol=1e-4)  # eager maps, same numbers
    assert model.language_model.config._attn_implementation == "sdpa"  # switched back
    generated = model.generate(pixel_values_videos=video, video_mask=mask, max_new_tokens=3, num_beams=1,
                               output_attentions=True, return_dict_in_generate=True)
    maps = generated.cross_attentions if kind == "mbart" else generated.attentions
    assert maps and maps[0][0].ndim == 4


def test_temporal_conv_frame_map_covers_receptive_fields():
    conv = TemporalConv(8, 8, kernel_size=5, edge_padding=True)
    lengths = torch.tensor([17, 6])
    steps = conv.output_lengths(lengths)
    frame_map = conv.frame_map(lengths, 17)
    assert frame_map.shape == (2, int(steps.max()), 17)
    torch.testing.assert_close(frame_map.sum(-1), (torch.arange(frame_map.shape[1])[None] < steps[:, None]).float())
    assert frame_map[1, :, 6:].abs().max() == 0
    # the output step j reads frames around 4j: its centre of mass moves forward by ~4 frames a step
    centres = (frame_map[0] * torch.arange(17.0)).sum(-1)[: int(steps[0])]
    assert (centres.diff() > 0).all() and 2.5 < float(centres.diff().mean()) <= 4.0
    # edge padding only: the same output without it covers exactly 16 consecutive frames
    plain = TemporalConv(8, 8, kernel_size=5, edge_padding=False).frame_map(torch.tensor([40]), 40)
    assert ((plain[0, 0] > 0).nonzero().flatten() == torch.arange(16)).all()


def test_plots(tmp_path):
    from sign_translation.plotting import frames_from_pixel_values, plot_attention, plot_training_curves

    frames = np.random.default_rng(0).integers(0, 255, (30, 16, 16, 3), dtype=np.uint8)
    weights = np.random.default_rng(1).random((3, 30))
    attention = [{"word": w, "weights": list(r / r.sum())} for w, r in zip(["it", "will", "rain"], weights)]
    png = plot_attention(frames, attention, tmp_path / "a" / "attention.png", title="it will rain")
    image = Image.open(png)
    assert image.format == "PNG" and image.width > 600
    with pytest.raises(ValueError, match="time steps"):
        plot_attention(frames[:10], attention, tmp_path / "bad.png")
    mean, std = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    pixels = (torch.as_tensor(frames).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.25
    np.testing.assert_array_equal(frames_from_pixel_values(pixels, mean, std), frames)
    history = [{"step": s, "loss": 3.0 / s, "learning_rate": 1e-3} for s in range(1, 11)]
    history += [{"step": 5, "eval_loss": 1.0, "eval_bleu4": 10.0}, {"step": 10, "eval_loss": 0.5, "eval_bleu4": 20.0}]
    curves = plot_training_curves(history, tmp_path / "curves.png")
    assert Image.open(curves).format == "PNG"
    assert plot_training_curves([{"step": 1, "learning_rate": 1.0}], tmp_path / "none.png") is None


def test_docstring_example_runs():
    import doctest

    from sign_translation.modeling import llm_bridge

    result = doctest.testmod(llm_bridge, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
