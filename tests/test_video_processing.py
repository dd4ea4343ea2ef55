"""SignVideoProcessor and the decoding layer: real videos, containers, frame folders, arrays, sampling, errors."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sign_translation import SignInputError
from sign_translation.processing import SignVideoProcessor, read_video, sample_frame_indices, video_io

REAL_FRAME_COUNTS = {  # decodable frames (FOOTBALL's header claims 64, the stream holds 62)
    "FOOTBALL.mp4": (62, 360, 640),
    "SOUP.mp4": (41, 240, 320),
    "test_video.mp4": (58, 720, 540),  # portrait selfie, yuvj420p, ~29.92 fps
    "video.mp4": (9, 720, 1280),
}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *args], check=True)


def write_video(path: Path, frames: np.ndarray, fps: int = 10, codec_args: tuple = ("-c:v", "libx264")) -> Path:
    """Encode uint8 RGB frames (T,H,W,3) with the ffmpeg CLI (independent of the code under test)."""
    t, h, w, _ = frames.shape
    subprocess.run(
        ["ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
         "-r", str(fps), "-i", "-", *codec_args, str(path)],
        input=frames.tobytes(), check=True,
    )
    return path


def moving_square(t=12, h=48, w=64) -> np.ndarray:
    frames = np.full((t, h, w, 3), 40, np.uint8)
    for i in range(t):
        frames[i, 10:26, 2 + 4 * i : 18 + 4 * i] = (230, 60, 30)
    return frames


@pytest.fixture(scope="module")
def plain() -> SignVideoProcessor:
    """No resize/crop/normalise: raw RGB values as floats in [0, 1], to compare pixels."""
    return SignVideoProcessor(do_resize=False, do_center_crop=False, do_normalize=False)


# ---------------------------------------------------------------- real videos
@pytest.mark.parametrize("name", sorted(REAL_FRAME_COUNTS))
def test_real_videos_decode_with_paper_defaults(real_videos, name):
    frames, height, width = REAL_FRAME_COUNTS[name]
    info, _ = video_io.probe_video_file(real_videos[name])
    assert (info.num_frames, info.height, info.width) == (frames, height, width)
    batch = SignVideoProcessor()(str(real_videos[name]))
    assert batch["pixel_values_videos"].shape == (1, frames, 3, 224, 224)
    assert batch["video_mask"].tolist() == [[1] * frames]
    pixels = batch["pixel_values_videos"]
    assert torch.isfinite(pixels).all() and pixels.std() > 0.1  # ImageNet-normalised, real content


def test_portrait_video_keeps_orientation(real_videos, plain):
    pixels = plain(str(real_videos["test_video.mp4"]), max_frames=4)["pixel_values_videos"]
    assert pixels.shape == (1, 4, 3, 720, 540)  # height > width


def test_full_range_yuvj420p_matches_ffmpeg_rgb(real_videos, plain, tmp_path):
    """test_video.mp4 is full-range (yuvj420p): our frames must match FFmpeg's own RGB conversion."""
    ffmpeg("-i", str(real_videos["test_video.mp4"]), "-vf", r"select=eq(n\,10)", "-frames:v", "1",
           "-pix_fmt", "rgb24", str(tmp_path / "ref.png"))
    reference = np.asarray(Image.open(tmp_path / "ref.png").convert("RGB"), dtype=np.float32)
    ours = plain(str(real_videos["test_video.mp4"]), num_frames=1, frame_stride=1, do_sample_frames=False)
    frame = ours["pixel_values_videos"][0, 10].permute(1, 2, 0).numpy() * 255
    assert np.abs(frame - reference).mean() < 2.0


def test_full_range_gray_ramp_survives(tmp_path, plain):
    """A full-range gray ramp must come back unchanged; a limited-range misreading would stretch it."""
    ramp = np.tile(np.linspace(0, 255, 64).astype(np.uint8)[None, :, None], (32, 1, 3))
    frames = np.stack([ramp] * 4)
    path = write_video(tmp_path / "ramp.mkv", frames, codec_args=("-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuvj444p"))
    decoded = plain(str(path))["pixel_values_videos"][0, 0, 0].numpy() * 255
    assert np.abs(decoded - ramp[..., 0]).max() <= 3


def test_rotation_metadata_is_applied_like_ffmpeg(tmp_path, plain):
    source = write_video(tmp_path / "flat.mp4", moving_square(t=4, h=32, w=64))
    rotated = tmp_path / "rotated.mp4"
    ffmpeg("-i", str(source), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
    ffmpeg("-i", str(rotated), "-frames:v", "1", "-pix_fmt", "rgb24", str(tmp_path / "ffmpeg_rotated.png"))
    reference = np.asarray(Image.open(tmp_path / "ffmpeg_rotated.png"), dtype=np.float32)
    ours = plain(str(rotated))["pixel_values_videos"][0, 0].permute(1, 2, 0).numpy() * 255
    assert ours.shape == reference.shape == (64, 32, 3)
    assert np.abs(ours - reference).mean() < 3.0


def test_odd_frame_rate_resampled_to_target_fps(real_videos):
    info, _ = video_io.probe_video_file(real_videos["test_video.mp4"])
    assert abs(info.fps - 29.9167) < 1e-3
    batch = SignVideoProcessor(size=32, crop_size=32)(str(real_videos["test_video.mp4"]), fps=10)
    expected = len(np.unique(np.floor(np.arange(0, 58, info.fps / 10))))
    assert batch["video_mask"].sum().item() == expected == 20


@pytest.mark.parametrize(
    "suffix,codec_args",
    [
        (".mp4", ("-c:v", "libx264", "-pix_fmt", "yuv420p")),
        (".webm", ("-c:v", "libvpx-vp9", "-b:v", "100k")),
        (".mkv", ("-c:v", "libx264")),
        (".mov", ("-c:v", "libx264")),
        (".avi", ("-c:v", "mpeg4", "-q:v", "2")),
    ],
)
def test_containers_decode_to_the_same_frames(tmp_path, plain, suffix, codec_args):
    frames = moving_square()
    path = write_video(tmp_path / f"clip{suffix}", frames, codec_args=codec_args)
    decoded = plain(str(path))["pixel_values_videos"][0]
    assert decoded.shape == (12, 3, 48, 64)
    assert np.abs(decoded.permute(0, 2, 3, 1).numpy() * 255 - frames).mean() < 12


def test_grayscale_video_and_arrays_become_rgb(tmp_path, plain):
    gray = np.repeat(moving_square()[..., :1], 3, axis=-1)
    path = write_video(tmp_path / "gray.mkv", gray, codec_args=("-c:v", "ffv1", "-pix_fmt", "gray"))
    decoded = plain(str(path))["pixel_values_videos"][0]
    assert decoded.shape[1] == 3 and torch.equal(decoded[:, 0], decoded[:, 2])
    one_channel = plain(gray[..., :1])["pixel_values_videos"][0]
    assert torch.equal(one_channel[:, 0], one_channel[:, 1]) and one_channel.shape[1] == 3


# ---------------------------------------------------------------- frame folders and arrays
def test_phoenix_style_frame_folder_in_natural_order(tmp_path, plain):
    folder = tmp_path / "11August_2010_Wednesday_tagesschau-2"
    folder.mkdir()
    for i in range(1, 13):  # images1.png … images12.png: lexicographic order would put 10 before 2
        Image.fromarray(np.full((20, 16, 3), i * 20, np.uint8)).save(folder / f"images{i}.png")
    pixels = plain(str(folder))["pixel_values_videos"][0]
    levels = (pixels[:, 0, 0, 0] * 255).round().int().tolist()
    assert levels == [i * 20 for i in range(1, 13)]


def test_csl_style_jpg_folder_and_grayscale_images(tmp_path):
    folder = tmp_path / "S000020_P0000_T00"
    folder.mkdir()
    for i in range(6):
        Image.fromarray(np.full((40, 40), 30 * i, np.uint8), mode="L").save(folder / f"{i:06d}.jpg")
    batch = SignVideoProcessor(size=32, crop_size=24)(str(folder))
    assert batch["pixel_values_videos"].shape == (1, 6, 3, 24, 24)


def test_arrays_in_both_layouts_and_tensors_give_identical_output():
    video = moving_square()
    processor = SignVideoProcessor(size=32, crop_size=28)
    thwc = processor(video)["pixel_values_videos"]
    tchw = processor(np.ascontiguousarray(video.transpose(0, 3, 1, 2)))["pixel_values_videos"]
    tensor = processor(torch.from_numpy(video))["pixel_values_videos"]
    assert torch.equal(thwc, tchw) and torch.equal(thwc, tensor)


def test_batch_of_different_lengths_is_padded_with_mask():
    processor = SignVideoProcessor(size=32, crop_size=28)
    batch = processor([moving_square(t=10), moving_square(t=4), moving_square(t=7)])
    assert batch["pixel_values_videos"].shape == (3, 10, 3, 28, 28)
    assert batch["video_mask"].sum(1).tolist() == [10, 4, 7]
    assert batch["pixel_values_videos"][1, 4:].abs().sum() == 0  # padding is zeros
    single = processor(moving_square(t=4))["pixel_values_videos"][0]
    assert torch.equal(batch["pixel_values_videos"][1, :4], single)


# ---------------------------------------------------------------- temporal sampling
def test_sample_frame_indices_rules():
    assert sample_frame_indices(10, frame_stride=4).tolist() == [0, 4, 8]
    assert sample_frame_indices(10, max_frames=4).tolist() == [0, 3, 6, 9]
    assert sample_frame_indices(5, max_frames=8).tolist() == [0, 1, 2, 3, 4]
    assert sample_frame_indices(3, num_frames=5).tolist() == [0, 0, 1, 2, 2]
    torch.manual_seed(0)
    for _ in range(20):
        random = sample_frame_indices(400, max_frames=300, random=True)
        assert len(random) == 300 and np.all(np.diff(random) > 0)  # in order, no repeats
        strided = sample_frame_indices(100, frame_stride=4, random=True)
        assert len(set(np.diff(strided))) == 1 and strided[0] in range(4)
    with pytest.raises(SignInputError, match="mutually exclusive"):
        sample_frame_indices(10, max_frames=3, num_frames=3)
    with pytest.raises(SignInputError, match="frame_stride"):
        sample_frame_indices(10, frame_stride=0)


def test_long_video_is_decoded_only_at_sampled_indices_in_chunks(tmp_path, monkeypatch):
    path = tmp_path / "long.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=25", "-t", "24", "-pix_fmt", "yuv420p", str(path))
    requested: list[list[int]] = []
    original = video_io.probe_video_file

    def spying_probe(p):
        info, decoder = original(p)

        class Spy:
            def get_frames_at(self, indices):
                requested.append(list(indices))
                return decoder.get_frames_at(indices=indices)

        return info, Spy()

    monkeypatch.setattr(video_io, "probe_video_file", spying_probe)
    batch = SignVideoProcessor(size=32, crop_size=32)(str(path), frame_stride=4, max_frames=100)
    assert batch["video_mask"].sum() == 100
    assert sum(len(r) for r in requested) == 100  # 600 frames in the file, 100 decoded
    assert max(len(r) for r in requested) <= video_io.DECODE_CHUNK_FRAMES
    flat = [i for r in requested for i in r]
    assert flat == sample_frame_indices(600, frame_stride=4, max_frames=100).tolist()


def test_frame_indices_returned_on_request(real_videos):
    batch = SignVideoProcessor(size=32, crop_size=32)(
        [str(real_videos["SOUP.mp4"]), str(real_videos["video.mp4"])], frame_stride=4, return_frame_indices=True
    )
    assert batch["frame_indices"] == [list(range(0, 41, 4)), [0, 4, 8]]


# ---------------------------------------------------------------- augmentation
def test_augmentation_uses_one_parameter_set_per_clip():
    still = np.repeat(moving_square(t=1), 8, axis=0)  # 8 identical frames
    processor = SignVideoProcessor(size=48, crop_size=40)
    torch.manual_seed(1)
    augmented = processor(still, do_augment=True, augment_probability=1.0)["pixel_values_videos"][0]
    eval_frames = processor(still)["pixel_values_videos"][0]
    assert all(torch.equal(augmented[0], frame) for frame in augmented[1:])  # same transform for every frame
    assert not torch.equal(augmented[0], eval_frames[0])


def test_eval_is_deterministic_and_training_crop_is_random():
    video = moving_square(t=6)
    processor = SignVideoProcessor(size=48, crop_size=32)
    assert torch.equal(processor(video)["pixel_values_videos"], processor(video)["pixel_values_videos"])
    torch.manual_seed(0)
    crops = {
        processor(video, do_augment=True, augment_probability=0.0)["pixel_values_videos"].sum().item()
        for _ in range(6)
    }
    assert len(crops) > 1


# ---------------------------------------------------------------- bad input → SignInputError naming the file
def test_missing_file(tmp_path):
    with pytest.raises(SignInputError, match=r"nothere\.mp4.*not found"):
        SignVideoProcessor()(str(tmp_path / "nothere.mp4"))


def test_empty_file(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(SignInputError, match=r"empty\.mp4.*empty"):
        SignVideoProcessor()(str(tmp_path / "empty.mp4"))


def test_not_a_video(tmp_path):
    (tmp_path / "notes.mp4").write_text("these are notes, not a video")
    with pytest.raises(SignInputError, match=r"notes\.mp4.*cannot open"):
        SignVideoProcessor()(str(tmp_path / "notes.mp4"))


def test_no_video_stream(tmp_path):
    path = tmp_path / "audio_only.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", str(path))
    with pytest.raises(SignInputError, match=r"audio_only\.m4a.*no video stream"):
        SignVideoProcessor()(str(path))


@pytest.mark.parametrize("faststart", [False, True])
def test_truncated_mp4(real_videos, tmp_path, faststart):
    source = real_videos["SOUP.mp4"]
    if faststart:  # index at the front: the file opens, the frames are missing
        source = tmp_path / "faststart.mp4"
        ffmpeg("-i", str(real_videos["SOUP.mp4"]), "-c", "copy", "-movflags", "+faststart", str(source))
    data = Path(source).read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(SignInputError, match=r"truncated\.mp4.*(truncated|cannot open)"):
        SignVideoProcessor()(str(truncated))


def test_truncated_mkv_detected_from_container_duration(tmp_path):
    path = write_video(tmp_path / "full.mkv", moving_square(t=40))
    data = path.read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) // 3])
    with pytest.raises(SignInputError, match=r"cut\.mkv.*truncated"):
        SignVideoProcessor()(str(tmp_path / "cut.mkv"))


def test_zero_decodable_frames(tmp_path):
    path = tmp_path / "noframes.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=32x32:rate=10", "-frames:v", "0", "-c:v", "libx264", str(path))
    with pytest.raises(SignInputError, match=r"noframes\.mkv.*(no decodable frame|no video stream|cannot open)"):
        SignVideoProcessor()(str(path))


def test_unreadable_image_in_frame_folder(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(1, 4):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / f"images{i:04d}.png")
    (folder / "images0004.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(SignInputError, match=r"images0004\.png.*unreadable image"):
        SignVideoProcessor(size=8, crop_size=8)(str(folder))


def test_empty_frame_folder(tmp_path):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(SignInputError, match=r"nothing.*no image file"):
        SignVideoProcessor()(str(tmp_path / "nothing"))


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.zeros((4, 8, 8, 3), np.float32), "uint8"),
        (np.zeros((8, 8, 3), np.uint8), "single 3-D frame"),
        (np.zeros((4, 8, 8, 7), np.uint8), "channel axis"),
        (np.zeros((0, 8, 8, 3), np.uint8), "zero frames"),
        (12, "expected a path"),
    ],
)
def test_bad_arrays(bad, match):
    with pytest.raises(SignInputError, match=match):
        SignVideoProcessor(size=8, crop_size=8)(bad)


def test_unknown_argument_is_named():
    with pytest.raises(SignInputError, match="frame_strde"):
        SignVideoProcessor()(np.zeros((2, 8, 8, 3), np.uint8), frame_strde=2)


def test_read_video_returns_indices_and_info(real_videos):
    frames, indices, info = read_video(str(real_videos["video.mp4"]), lambda i: [0, 4, 8])
    assert frames.shape == (3, 3, 720, 1280) and indices.tolist() == [0, 4, 8] and info.fps == 24


# ---------------------------------------------------------------- save / load
def test_video_processor_round_trip(tmp_path):
    processor = SignVideoProcessor(size=40, crop_size=32, frame_stride=4, max_frames=300, augment_translate=3.0)
    processor.save_pretrained(tmp_path)
    loaded = SignVideoProcessor.from_pretrained(tmp_path)
    assert loaded.to_dict() == processor.to_dict()
    assert (loaded.frame_stride, loaded.max_frames, loaded.augment_translate) == (4, 300, 3.0)
    video = moving_square()
    assert torch.equal(loaded(video)["pixel_values_videos"], processor(video)["pixel_values_videos"])


# ---------------------------------------------------------------- chunked, prefetched preparation = the plain computation
def _reference(processor: SignVideoProcessor, source, **kwargs) -> torch.Tensor:
    """The processor's result computed the plain way: read every sampled frame, then resize, crop, augment and
    normalise the whole clip with transformers' `rescale_and_normalize` (what it did before chunked preparation)."""
    opts = processor._standardize_kwargs(**{**{k: getattr(processor, k, None)
                                               for k in processor.valid_kwargs.__annotations__}, **kwargs})
    frames, _, _ = read_video(source, lambda info: processor.sample_frames(info.num_frames, **kwargs), prefetch=False)
    frames = processor.resize(frames, size=opts["size"], resample=opts["resample"])
    if opts.get("do_augment"):
        frames = processor._augment_clip(processor._random_crop(frames, opts["crop_size"]), opts)
    else:
        frames = processor.center_crop(frames, opts["crop_size"])
    return processor.rescale_and_normalize(frames, True, opts["rescale_factor"], True, opts["image_mean"],
                                           opts["image_std"]).float()


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_frame_folder_decoded_on_several_threads_gives_the_frames_in_order(tmp_path, monkeypatch, threads):
    """Frame folders decode the next chunks on `image_threads` threads: the frames, their order (repeated and
    skipped indices included) and the order the per-chunk transform sees them in are those of plain decoding."""
    monkeypatch.setattr(video_io, "PREFETCH_CHUNK_FRAMES", 2)
    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(11):
        Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(folder / f"images{i + 1:04d}.png")
    wanted = [0, 0, 2, 3, 5, 6, 6, 9, 10]
    plain, _, _ = read_video(str(folder), lambda info: wanted, prefetch=False)
    seen = []

    def transform(chunk):
        seen.append(chunk[:, 0, 0, 0].tolist())
        return chunk

    frames, indices, _ = read_video(str(folder), lambda info: wanted, transform=transform, prefetch=True,
                                    image_threads=threads)
    assert indices.tolist() == wanted and torch.equal(frames, plain)
    assert sum(seen, []) == plain[:, 0, 0, 0].tolist() and len(seen) == 5
    with pytest.raises(ValueError, match="image_threads"):
        read_video(str(folder), image_threads=0)


def test_file_decoder_runs_ahead_within_a_memory_budget():
    """A video file's decoder queues up to 3 chunks while they hold at most 32 MiB of decoded frames."""
    from sign_translation.processing.video_io import VideoInfo, file_chunks_ahead

    assert file_chunks_ahead(8, VideoInfo("a.mp4", 100, 25.0, 240, 320)) == 3
    assert file_chunks_ahead(8, VideoInfo("a.mp4", 100, 25.0, 720, 1280)) == 1
    assert file_chunks_ahead(8, VideoInfo("a.mp4", 100, 25.0, 2160, 3840)) == 1
    assert file_chunks_ahead(8, VideoInfo("a.mp4", 100, 25.0, 480, 640)) == 3
    assert file_chunks_ahead(32, VideoInfo("a.mp4", 100, 25.0, 480, 640)) == 1
    assert file_chunks_ahead(8, VideoInfo("a.mp4", 100, 25.0, None, None)) == 1


def test_frame_folder_bad_image_on_a_decoding_thread_names_the_file(tmp_path, monkeypatch):
    """A corrupt image met by one of several decoding threads is raised as the SignInputError naming it, and no
    thread is left running."""
    import threading

    monkeypatch.setattr(video_io, "PREFETCH_CHUNK_FRAMES", 2)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(9):
        Image.fromarray(np.full((8, 8, 3), i, dtype=np.uint8)).save(folder / f"images{i + 1:04d}.png")
    (folder / "images0006.png").write_bytes(b"not a png")
    with pytest.raises(SignInputError, match=r"images0006\.png.*unreadable image"):
        read_video(str(folder), prefetch=True, image_threads=2)
    assert not [t for t in threading.enumerate() if t.name.startswith("sign-video-decode")]


@pytest.mark.parametrize("prefetch", [True, False])
@pytest.mark.parametrize("augment", [False, True])
def test_chunked_preparation_equals_the_plain_computation(tmp_path, monkeypatch, prefetch, augment):
    """Decoding in chunks of 3 frames (prefetched in a thread or not) and preparing each chunk as it arrives gives
    the plain whole-clip result: float32 rounding only (≤ 1e-5 after ImageNet normalisation), same random crop and
    affine parameters for the whole clip. Tolerance documented in the README processor section."""
    monkeypatch.setattr(video_io, "PREFETCH_CHUNK_FRAMES", 3)
    monkeypatch.setattr(video_io, "DECODE_CHUNK_FRAMES", 3)
    monkeypatch.setattr(video_io, "default_prefetch", lambda: prefetch)
    path = write_video(tmp_path / "clip.mp4", moving_square(t=14, h=40, w=52))
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(moving_square(t=10, h=40, w=52)):
        Image.fromarray(frame).save(folder / f"images{i + 1:04d}.png")
    processor = SignVideoProcessor(size={"height": 36, "width": 36}, crop_size={"height": 28, "width": 28})
    options = {"do_augment": augment, "augment_probability": 1.0} if augment else {}
    for source in (str(path), str(folder)):
        torch.manual_seed(3)
        ours = processor(source, frame_stride=1, **options)["pixel_values_videos"][0]
        torch.manual_seed(3)
        expected = _reference(processor, source, **options)
        assert ours.shape == expected.shape and ours.dtype == torch.float32
        torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)
