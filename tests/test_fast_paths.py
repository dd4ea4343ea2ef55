"""The faster code paths compute what the plain ones did: gradient checkpointing through the ResNet backbone (same
loss, gradients and BatchNorm statistics, less memory kept for backward), the one-pass normalisation into the
padded batch (in buffers the kernel may back with huge pages), and frame folders stacked as HWC arrays."""

import copy

import numpy as np
import pytest
import torch
from PIL import Image

from sign_translation import FlaLlmConfig, FlaLlmForVisualInitialization
from sign_translation.processing import SignVideoProcessor
from sign_translation.processing.video_io import read_video


def _saved_bytes(model, video, mask, labels) -> tuple[torch.Tensor, int]:
    saved = [0]

    def pack(tensor):
        saved[0] += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(pixel_values_videos=video, video_mask=mask, labels=labels).loss
    loss.backward()
    return loss.detach(), saved[0]


def test_gradient_checkpointing_reaches_the_backbone_with_identical_results():
    torch.manual_seed(0)
    plain = FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=99)).train()
    checkpointed = copy.deepcopy(plain)
    checkpointed.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    assert checkpointed.visual_encoder.backbone.gradient_checkpointing
    video, labels = torch.randn(2, 6, 3, 32, 32), torch.tensor([[5, 6, 2], [7, 2, -100]])
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])

    loss_a, saved_a = _saved_bytes(plain, video, mask, labels)
    loss_b, saved_b = _saved_bytes(checkpointed, video, mask, labels)
    assert torch.allclose(loss_a, loss_b, atol=1e-6)
    assert saved_b < 0.8 * saved_a, (saved_a, saved_b)  # the backbone's activations are no longer kept
    grads_a = {n: p.grad for n, p in plain.named_parameters() if p.grad is not None}
    grads_b = {n: p.grad for n, p in checkpointed.named_parameters() if p.grad is not None}
    assert grads_a.keys() == grads_b.keys()
    assert all(torch.allclose(grads_a[n], grads_b[n], atol=1e-5, rtol=1e-4) for n in grads_a)
    # BatchNorm running statistics moved once (recomputation restores them), exactly as without checkpointing
    buffers_a, buffers_b = dict(plain.named_buffers()), dict(checkpointed.named_buffers())
    assert any("running_mean" in n for n in buffers_a)
    assert all(torch.allclose(buffers_a[n].float(), buffers_b[n].float(), atol=1e-6) for n in buffers_a)
    assert all(torch.equal(buffers_a[n], buffers_b[n]) for n in buffers_a if "num_batches_tracked" in n)


def test_one_pass_normalisation_equals_the_plain_formula():
    rng = np.random.default_rng(0)
    clips = [rng.integers(0, 256, size=(t, 40, 36, 3), dtype=np.uint8) for t in (5, 3)]
    processor = SignVideoProcessor(size={"height": 32, "width": 32}, crop_size={"height": 28, "width": 28})
    batch = processor(clips)
    raw = processor(clips, do_rescale=False, do_normalize=False)["pixel_values_videos"]  # resized, cropped
    mean = torch.tensor(processor.image_mean)[:, None, None]
    std = torch.tensor(processor.image_std)[:, None, None]
    expected = (raw / 255 - mean) / std * batch["video_mask"][..., None, None, None]
    assert torch.allclose(batch["pixel_values_videos"], expected, atol=1e-5)
    assert batch["pixel_values_videos"].is_contiguous() and batch["pixel_values_videos"][1, 3:].abs().sum() == 0
    one = processor(clips[0])["pixel_values_videos"]
    assert torch.equal(one[0], batch["pixel_values_videos"][0])  # a single clip: no padding, same values


def test_frame_folder_is_read_exactly_like_a_pil_loop(tmp_path):
    rng = np.random.default_rng(1)
    arrays = rng.integers(0, 256, size=(40, 26, 21, 3), dtype=np.uint8)  # more than one 32-frame chunk
    for i, array in enumerate(arrays):
        Image.fromarray(array).save(tmp_path / f"images{i + 1:04d}.png")
    frames, indices, info = read_video(str(tmp_path))
    assert info.num_frames == 40 and indices.tolist() == list(range(40))
    assert torch.equal(frames, torch.from_numpy(arrays).permute(0, 3, 1, 2))


def test_huge_page_buffers_are_plain_tensors_and_padding_stays_zero():
    from sign_translation.processing import video_processing_sign_translation as module

    buffer = module.empty_frames((3, 3, 256, 256))  # 2.25 MiB: above the huge-page threshold
    assert buffer.shape == (3, 3, 256, 256) and buffer.dtype == torch.float32 and buffer.is_contiguous()
    buffer.fill_(1.5)
    assert float(buffer.sum()) == 1.5 * buffer.numel()
    assert module.empty_frames((2, 4), torch.uint8).dtype == torch.uint8  # small: no hint, still a tensor
    # large padded batch: values of each clip kept, the padding zero although the buffer starts uninitialised
    clips = [torch.full((n, 3, 128, 128), float(n)) for n in (9, 4)]
    batch = SignVideoProcessor.pad_videos(clips)
    values = batch["pixel_values_videos"]
    assert torch.equal(values[0], clips[0]) and torch.equal(values[1, :4], clips[1])
    assert values[1, 4:].abs().sum() == 0 and batch["video_mask"].sum(1).tolist() == [9, 4]


@pytest.mark.parametrize("route", ["deprecated_alias", "trainer_argument"])
def test_every_route_to_activation_checkpointing_reaches_the_backbone(route, tmp_path):
    """transformers 5 renamed `gradient_checkpointing_enable` to `activation_checkpointing_enable`; the old name
    (a FutureWarning until v6) and the Trainer's `activation_checkpointing=True` must reach the ResNet as well."""
    from transformers import Trainer, TrainingArguments

    torch.manual_seed(0)
    model = FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=99)).train()
    assert not model.visual_encoder.backbone.gradient_checkpointing
    if route == "deprecated_alias":
        with pytest.warns(FutureWarning, match="activation_checkpointing_enable"):
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        example = {"pixel_values_videos": torch.randn(4, 3, 32, 32), "video_mask": torch.ones(4, dtype=torch.long),
                   "labels": torch.tensor([5, 6, 2])}
        args = TrainingArguments(str(tmp_path), activation_checkpointing=True, max_steps=1, per_device_train_batch_size=2,
                                 report_to=[], use_cpu=True, save_strategy="no", disable_tqdm=True)
        Trainer(model=model, args=args, train_dataset=[example, example]).train()
    assert model.visual_encoder.backbone.gradient_checkpointing
    assert model.is_activation_checkpointing
