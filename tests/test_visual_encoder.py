"""The shared visual front end: masked BatchNorm, temporal modules and their length arithmetic, the backbone."""

import pytest
import torch
from transformers import ResNetConfig

from sign_translation.modeling.visual_encoder import (
    FrameBackbone,
    LocalTemporalModule,
    MaskedBatchNorm1d,
    TemporalConv,
    lengths_to_mask,
)


def test_masked_batchnorm_equals_batchnorm_on_the_unpadded_steps():
    torch.manual_seed(0)
    ours, reference = MaskedBatchNorm1d(6), torch.nn.BatchNorm1d(6)
    ours.train(), reference.train()
    x = torch.randn(3, 6, 9)
    padded = torch.cat([x, torch.full((3, 6, 4), 50.0)], dim=2)  # 4 padded steps per clip
    out = ours(padded, lengths_to_mask(torch.tensor([9, 9, 9]), 13))
    assert torch.allclose(out[..., :9], reference(x), atol=1e-5)
    assert torch.allclose(ours.running_mean, reference.running_mean, atol=1e-6)
    assert torch.allclose(ours.running_var, reference.running_var, atol=1e-5)
    ours.eval(), reference.eval()
    assert torch.allclose(ours(x), reference(x), atol=1e-5)


def test_masked_batchnorm_statistics_ignore_padding():
    torch.manual_seed(0)
    bn = MaskedBatchNorm1d(4, momentum=1.0)  # running stats = this batch's stats
    x = torch.randn(2, 4, 10)
    mask = lengths_to_mask(torch.tensor([10, 6]), 10)
    garbage = x.clone()
    garbage[1, :, 6:] = 1000.0  # whatever sits in padded steps must not matter
    out_a, out_b = bn(x, mask), MaskedBatchNorm1d(4, momentum=1.0)(garbage, mask)
    assert torch.allclose(out_a, out_b)
    valid = torch.cat([x[0], x[1, :, :6]], dim=1)  # (C, 16 valid steps)
    assert torch.allclose(bn.running_mean, valid.mean(1), atol=1e-6)
    assert torch.allclose(bn.running_var, valid.var(1, unbiased=True), atol=1e-5)
    assert (out_a[1, :, 6:] == 0).all()


@pytest.mark.parametrize("edge_padding", [False, True])
def test_temporal_conv_lengths_and_padding_invariance(edge_padding):
    torch.manual_seed(0)
    conv = TemporalConv(8, 6, kernel_size=5, edge_padding=edge_padding).eval()
    lengths = torch.tensor([40, 23, 17])
    x = torch.randn(3, 40, 8)
    mask = lengths_to_mask(lengths, 40)
    out, out_mask = conv(x, mask)
    expected = conv.output_lengths(lengths)
    if edge_padding:  # GFSLT: pad to ceil(T/4)*4+16 → ceil(T/4)+1 steps
        assert expected.tolist() == [((t + 3) // 4) + 1 for t in lengths.tolist()]
    else:
        assert expected.tolist() == [((t - 4) // 2 - 4) // 2 for t in lengths.tolist()]
    assert out_mask.sum(1).tolist() == expected.tolist()
    for i, t in enumerate(lengths.tolist()):  # each clip alone gives the same valid outputs as in the batch
        alone, alone_mask = conv(x[i : i + 1, :t], torch.ones(1, t, dtype=torch.long))
        n = int(expected[i])
        assert torch.allclose(out[i, :n], alone[0, :n], atol=1e-5)
        assert (out[i, n:] == 0).all()


def test_temporal_conv_refuses_clips_too_short_without_edge_padding():
    conv = TemporalConv(4, 4, edge_padding=False)
    with pytest.raises(ValueError, match="at least 16 frames"):
        conv(torch.randn(1, 12, 4), torch.ones(1, 12, dtype=torch.long))


def test_local_temporal_module_preserves_length_and_ignores_padding():
    torch.manual_seed(0)
    module = LocalTemporalModule(8, 5, kernel_size=5)
    x, mask = torch.randn(2, 12, 8), lengths_to_mask(torch.tensor([12, 7]), 12)
    module.train()
    out, out_mask = module(x, mask)
    assert out.shape == (2, 12, 5) and torch.equal(out_mask, mask) and (out[1, 7:] == 0).all()
    module.eval()
    batched, _ = module(x, mask)
    alone, _ = module(x[1:, :7], torch.ones(1, 7, dtype=torch.long))
    assert torch.allclose(batched[1, :7], alone[0], atol=1e-6)
    with pytest.raises(ValueError, match="odd"):
        LocalTemporalModule(4, 4, kernel_size=4)


def test_backbone_runs_on_real_frames_only():
    config = ResNetConfig(depths=[1, 1], hidden_sizes=[8, 16], layer_type="basic", embedding_size=8)
    backbone = FrameBackbone(config).eval()
    seen = []
    backbone.model.register_forward_hook(
        lambda module, args, kwargs, output: seen.append(kwargs["pixel_values"].shape[0]), with_kwargs=True
    )
    pixels = torch.randn(2, 5, 3, 16, 16)
    mask = lengths_to_mask(torch.tensor([5, 2]), 5)
    features = backbone(pixels, mask)
    assert seen == [7]  # 5 + 2 real frames, no padding
    assert features.shape == (2, 5, 16) and (features[1, 2:] == 0).all()
    alone = backbone(pixels[1:, :2], torch.ones(1, 2, dtype=torch.long))
    assert torch.allclose(features[1, :2], alone[0], atol=1e-6)
