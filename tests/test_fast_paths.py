"""The faster code paths compute what the plain ones did: gradient checkpointing through the ResNet backbone (same
loss, gradients and BatchNorm statistics, less memory kept for backward), the one-pass normalisation into the
padded batch (in buffers the kernel may back with huge pages, reused from freed clips), and frame folders stacked as
HWC arrays."""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sign_translation import FlaLlmConfig, FlaLlmForVisualInitialization
from sign_translation.processing import SignVideoProcessor
from sign_translation.processing.video_io import read_video

TEST_DATA = Path(__file__).resolve().parent / "data"


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


@pytest.fixture
def frame_cache():
    """The frame-buffer cache at its default limit, emptied before and after the test."""
    from sign_translation.processing import frame_buffers

    frame_buffers.set_frame_buffer_cache(0)
    frame_buffers.set_frame_buffer_cache(frame_buffers.DEFAULT_CACHE_BYTES)
    yield frame_buffers
    frame_buffers.set_frame_buffer_cache(0)
    frame_buffers.set_frame_buffer_cache(frame_buffers.DEFAULT_CACHE_BYTES)


CLIP = (8, 3, 224, 224)  # 4.6 MiB of float32: above the cache's 4 MiB floor


def test_a_freed_clip_buffer_is_reused_and_a_live_one_never(frame_cache):
    first = frame_cache.empty_frames(CLIP)
    address = first.data_ptr()
    view = first[2:]  # a view keeps the memory in use
    del first
    second = frame_cache.empty_frames(CLIP)
    assert second.data_ptr() != address and frame_cache.frame_buffer_cache_info()["hits"] == 0
    del view
    third = frame_cache.empty_frames(CLIP)  # the first buffer is free now: its memory is handed out again
    assert third.data_ptr() == address and frame_cache.frame_buffer_cache_info()["hits"] == 1
    array = third.numpy()  # so does a numpy array of it
    del third
    fourth = frame_cache.empty_frames(CLIP)
    assert fourth.data_ptr() != address
    array[:] = 7.0
    assert float(fourth.fill_(1.0).sum()) == fourth.numel()  # separate memory
    assert fourth.shape == CLIP and fourth.dtype == torch.float32 and fourth.is_contiguous() and fourth._base is None


def test_the_cache_serves_only_fitting_sizes_and_keeps_at_most_its_limit(frame_cache):
    def frames(count):
        return frame_cache.empty_frames((count, 3, 224, 224))  # 0.6 MB per frame; blocks rounded up to 2 MiB

    hits = frame_cache.frame_buffer_cache_info()["hits"]
    small, large = frames(8), frames(32)  # 6 MiB and 20 MiB blocks
    small_address, large_address = small.data_ptr(), large.data_ptr()
    del small, large
    assert frame_cache.frame_buffer_cache_info()["blocks"] == 2
    seven = frames(7)  # fits both: the smallest fitting block is taken
    assert seven.data_ptr() == small_address
    twelve = frames(12)  # 7.2 MB: more than the small block, and the large one is over 1.5x that: a new block
    assert twelve.data_ptr() != large_address
    thirty = frames(30)
    assert thirty.data_ptr() == large_address
    tiny = frames(2)  # 1.2 MB: below the 4 MiB floor, never cached
    del seven, twelve, thirty, tiny
    info = frame_cache.frame_buffer_cache_info()
    assert info["blocks"] == 3 and info["bytes"] == (6 + 8 + 20) * 2**20 and info["hits"] == hits + 2
    frame_cache.set_frame_buffer_cache(16 * 2**20)  # the oldest blocks dropped until the rest fits the limit
    info = frame_cache.frame_buffer_cache_info()
    assert info["bytes"] <= 16 * 2**20 and info["blocks"] == 0  # the 20 MiB block was the newest: alone too big
    twelve = frames(12)
    del twelve
    assert frame_cache.frame_buffer_cache_info()["bytes"] == 8 * 2**20
    frame_cache.set_frame_buffer_cache(0)
    assert frame_cache.frame_buffer_cache_info()["blocks"] == 0
    again = frames(8)
    del again
    assert frame_cache.frame_buffer_cache_info()["blocks"] == 0  # off: nothing is kept
    for bad in (-1, 1.5, "256", True):
        with pytest.raises(ValueError, match="max_bytes"):
            frame_cache.set_frame_buffer_cache(bad)


def test_processor_output_is_the_same_whatever_a_reused_buffer_held(frame_cache):
    """Freed buffers full of NaN are handed to the next clips and batches: every element is written (frames and
    padding alike), so the output equals the one computed with the cache off."""
    videos = [str(TEST_DATA / "SOUP.mp4"), str(TEST_DATA / "video.mp4")]
    processor = SignVideoProcessor(frame_stride=2)
    frame_cache.set_frame_buffer_cache(0)
    expected = processor(videos)["pixel_values_videos"]
    expected_one = processor(videos[0])["pixel_values_videos"]
    frame_cache.set_frame_buffer_cache(frame_cache.DEFAULT_CACHE_BYTES)
    for _ in range(2):
        poisoned = [frame_cache.empty_frames(expected.shape).fill_(float("nan")),
                    frame_cache.empty_frames(expected[0].shape).fill_(float("nan")),
                    frame_cache.empty_frames(expected[1].shape).fill_(float("nan"))]
        del poisoned
        assert frame_cache.frame_buffer_cache_info()["blocks"] >= 3
        batch = processor(videos)["pixel_values_videos"]
        one = processor(videos[0])["pixel_values_videos"]
        assert torch.equal(batch, expected) and torch.equal(one, expected_one)
        del batch, one
    assert frame_cache.frame_buffer_cache_info()["hits"] >= 3


def test_clips_kept_by_threads_stay_intact_while_freed_ones_are_reused(frame_cache):
    """Three threads process clips and batches at once, each keeping a random few and dropping the rest: every output
    still equals the cache-off one when it is dropped or at the end, while freed buffers were handed out again."""
    import random
    import threading

    processor = SignVideoProcessor(size=128, crop_size=112)  # 0.15 MB per frame: 30+ frames pass the 4 MiB floor
    rng = np.random.default_rng(0)
    videos = [rng.integers(0, 256, (n, 60, 80, 3), dtype=np.uint8) for n in (30, 34, 40)]
    inputs = [*videos, videos[:2]]  # three clips and one padded batch
    frame_cache.set_frame_buffer_cache(0)
    expected = [processor(x)["pixel_values_videos"] for x in inputs]
    frame_cache.set_frame_buffer_cache(frame_cache.DEFAULT_CACHE_BYTES)
    hits = frame_cache.frame_buffer_cache_info()["hits"]
    wrong = []

    def work(seed):
        choose, kept = random.Random(seed), []
        for _ in range(12):
            which = choose.randrange(len(inputs))
            kept.append((processor(inputs[which])["pixel_values_videos"], which))
            while len(kept) > choose.randrange(1, 4):
                output, which = kept.pop(choose.randrange(len(kept)))
                wrong.extend([which] if not torch.equal(output, expected[which]) else [])
        wrong.extend(which for output, which in kept if not torch.equal(output, expected[which]))

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == [] and frame_cache.frame_buffer_cache_info()["hits"] > hits


def test_a_dataloader_worker_starts_with_an_empty_cache(frame_cache):
    """DataLoader workers are forked: each starts with an empty cache of its own (the parent's blocks are
    copy-on-write pages there), and its buffers still work and travel back to the parent intact."""
    from torch.utils.data import DataLoader

    kept = frame_cache.empty_frames(CLIP)
    del kept
    assert frame_cache.frame_buffer_cache_info()["blocks"] == 1
    loader = DataLoader(_CacheProbe(), batch_size=None, num_workers=1, multiprocessing_context="fork")
    (blocks_in_worker, buffer), = list(loader)
    assert blocks_in_worker == 0 and torch.equal(buffer, torch.full(CLIP, 2.0))
    assert frame_cache.frame_buffer_cache_info()["blocks"] == 1


class _CacheProbe(torch.utils.data.Dataset):
    def __len__(self):
        return 1

    def __getitem__(self, index):
        from sign_translation.processing import frame_buffers

        blocks = frame_buffers.frame_buffer_cache_info()["blocks"]
        return blocks, frame_buffers.empty_frames(CLIP).fill_(2.0)


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
