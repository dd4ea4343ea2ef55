"""transformers' common video-processor tests, run on `SignVideoProcessor`.

What this covers: every test of `VideoProcessingTestMixin` in huggingface/transformers'
`tests/test_video_processing_common.py` (the release matching the pinned transformers 5.23), one test here per test
there, with the same name and the same checks. The mixin is written out here in this project's own code rather than
copied file-for-file (its source is Apache-2.0, © HuggingFace; the file cannot be copied into this repository from
the tools available here), so each test below states what the original asserts. Where this processor differs from
the mixin's assumptions on purpose, the test checks this processor's documented behaviour instead and says so:

- `test_video_processor_from_dict_with_kwargs`: the mixin's expected values assume `default_to_square=False`
  (`size=42` → `{"shortest_edge": 42}`); this processor is square by default (the paper's 256×256 resize), so
  `size=42` → `{"height": 42, "width": 42}` — what transformers' own square-default processors override it to.
- `test_call_sample_frames`: asking for more frames than a clip has (`num_frames=10` of 8) raises in transformers;
  this processor repeats frames uniformly instead (`sample_frame_indices`: models that need a fixed length get it
  from short clips), so the test checks the repeat. `fps=` with `video_metadata=` is checked as in the mixin.
- `test_video_processor_preprocess_arguments`: the mixin checks that unknown arguments warn (via
  `_valid_processor_keys` or `filter_out_non_signature_kwargs`, and skips when neither exists); this processor
  refuses them with an error naming the argument, which is what is checked.
- `test_override_instance_attributes_does_not_affect_other_instances`: transformers 5.23 instances hold `size` as
  a `SizeDict` and `image_mean` as a tuple, for which the mixin skips; here the SizeDict fields are mutated instead.
- `test_can_compile_fast_video_processor` is skipped with its reason (as transformers marks it: slow, accelerator).

Tiny sizes (frames 16-40 px, resized to 20, cropped to 18) keep the whole file to a few seconds.
"""

from __future__ import annotations

import json
import os
import tempfile
import unittest
from copy import deepcopy

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoVideoProcessor
from transformers.testing_utils import check_json_file_has_correct_format
from transformers.video_utils import VideoMetadata

import sign_translation  # noqa: F401  (registers SignVideoProcessor with AutoVideoProcessor)
from sign_translation.processing import SignInputError, SignVideoProcessor


def random_video(num_frames: int, channels: int, height: int, width: int, kind: str, rng: np.random.Generator):
    """One video as transformers' tests build it: "pil" → list of PIL frames, "np" → (T,H,W,C) uint8 array,
    "torch" → (T,C,H,W) uint8 tensor."""
    frames = rng.integers(0, 256, size=(num_frames, height, width, channels), dtype=np.uint8)
    if kind == "pil":
        return [Image.fromarray(frame) for frame in frames]
    if kind == "torch":
        return torch.from_numpy(frames).permute(0, 3, 1, 2)
    return frames


class SignVideoProcessingTester:
    """Builds the processor kwargs and random inputs (like transformers' `*VideoProcessingTester`)."""

    def __init__(self, batch_size=3, num_frames=4, num_channels=3, min_resolution=16, max_resolution=40):
        self.batch_size = batch_size
        self.num_frames = num_frames
        self.num_channels = num_channels
        self.min_resolution = min_resolution
        self.max_resolution = max_resolution
        self.size = {"height": 20, "width": 20}
        self.crop_size = {"height": 18, "width": 18}
        self.rng = np.random.default_rng(0)

    def prepare_video_processor_dict(self) -> dict:
        return {
            "do_resize": True,
            "size": self.size,
            "do_center_crop": True,
            "crop_size": self.crop_size,
            "do_normalize": True,
            "image_mean": [0.5, 0.5, 0.5],
            "image_std": [0.5, 0.5, 0.5],
            "do_convert_rgb": True,
        }

    def expected_output_video_shape(self, videos) -> tuple[int, int, int, int]:
        return self.num_frames, self.num_channels, self.crop_size["height"], self.crop_size["width"]

    def prepare_video_inputs(self, equal_resolution=False, return_tensors="pil"):
        videos = []
        for _ in range(self.batch_size):
            if equal_resolution:
                height = width = self.max_resolution
            else:
                height, width = (int(v) for v in self.rng.integers(self.min_resolution, self.max_resolution, 2))
            videos.append(random_video(self.num_frames, self.num_channels, height, width, return_tensors, self.rng))
        return videos


class VideoProcessingCommonTests:
    """The checks of transformers' `VideoProcessingTestMixin` (see the module docstring for the three adaptations)."""

    video_processing_class = None
    test_cast_dtype = True
    input_name = "pixel_values_videos"

    # --------------------------------------------------------------- serialisation
    def test_video_processor_to_json_string(self):
        """to_json_string holds every init kwarg with its value."""
        processor = self.video_processing_class(**self.video_processor_dict)
        obj = json.loads(processor.to_json_string())
        for key, value in self.video_processor_dict.items():
            self.assertEqual(obj[key], value)

    def test_video_processor_to_json_file(self):
        """to_json_file → from_json_file round-trips to the same dict."""
        first = self.video_processing_class(**self.video_processor_dict)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "video_processor.json")
            first.to_json_file(path)
            second = self.video_processing_class.from_json_file(path)
        self.assertEqual(second.to_dict(), first.to_dict())

    def test_video_processor_from_dict_with_kwargs(self):
        """from_dict keeps the dict's sizes; kwargs given to from_dict override them (square default here)."""
        processor = self.video_processing_class.from_dict(self.video_processor_dict)
        self.assertEqual(processor.size, {"height": 20, "width": 20})
        self.assertEqual(processor.crop_size, {"height": 18, "width": 18})
        processor = self.video_processing_class.from_dict(self.video_processor_dict, size=42, crop_size=84)
        self.assertEqual(processor.size, {"height": 42, "width": 42})
        self.assertEqual(processor.crop_size, {"height": 84, "width": 84})

    def test_video_processor_from_and_save_pretrained(self):
        """save_pretrained writes well-formed JSON; from_pretrained gives the same dict back."""
        first = self.video_processing_class(**self.video_processor_dict)
        with tempfile.TemporaryDirectory() as tmp:
            saved_file = first.save_pretrained(tmp)[0]
            check_json_file_has_correct_format(saved_file)
            second = self.video_processing_class.from_pretrained(tmp)
        self.assertEqual(second.to_dict(), first.to_dict())

    def test_video_processor_save_load_with_autovideoprocessor(self):
        """AutoVideoProcessor.from_pretrained on a saved processor gives the same dict back."""
        first = self.video_processing_class(**self.video_processor_dict)
        with tempfile.TemporaryDirectory() as tmp:
            saved_file = first.save_pretrained(tmp)[0]
            check_json_file_has_correct_format(saved_file)
            second = AutoVideoProcessor.from_pretrained(tmp)
        self.assertIsInstance(second, self.video_processing_class)
        self.assertEqual(second.to_dict(), first.to_dict())

    def test_init_without_params(self):
        self.assertIsNotNone(self.video_processing_class())

    def test_video_processor_explicit_none_preserved(self):
        """An attribute explicitly set to None (class default not None) stays None in to_dict and after reload."""
        attribute = next(
            (a for a in ("do_resize", "do_rescale", "do_normalize") if getattr(self.video_processing_class, a, None) is not None),
            None,
        )
        self.assertIsNotNone(attribute, "no attribute with a non-None class default to test")
        processor = self.video_processing_class(**{**self.video_processor_dict, attribute: None})
        self.assertIn(attribute, processor.to_dict())
        self.assertIsNone(processor.to_dict()[attribute])
        with tempfile.TemporaryDirectory() as tmp:
            processor.save_pretrained(tmp)
            reloaded = self.video_processing_class.from_pretrained(tmp)
        self.assertIsNone(getattr(reloaded, attribute))

    @unittest.skip(
        "transformers marks it @slow @require_torch_accelerator: it compiles a torchvision-only fast processor on a "
        "GPU; this processor decodes with FFmpeg/PIL in Python and runs on CPU in this suite"
    )
    def test_can_compile_fast_video_processor(self):  # pragma: no cover - skipped
        pass

    # --------------------------------------------------------------- calling it
    def test_cast_dtype_device(self):
        """Output is float32 on CPU; BatchFeature.to casts floating tensors only; .to(dtype, device) is a TypeError."""
        if not self.test_cast_dtype:
            self.skipTest("test_cast_dtype is off")
        processor = self.video_processing_class(**self.video_processor_dict)
        videos = self.video_processor_tester.prepare_video_inputs(equal_resolution=False, return_tensors="torch")
        encoding = processor(videos, return_tensors="pt")
        self.assertEqual(encoding[self.input_name].device, torch.device("cpu"))
        self.assertEqual(encoding[self.input_name].dtype, torch.float32)
        encoding = processor(videos, return_tensors="pt").to(torch.float16)
        self.assertEqual(encoding[self.input_name].dtype, torch.float16)
        encoding = processor(videos, return_tensors="pt").to("cpu", torch.bfloat16)
        self.assertEqual(encoding[self.input_name].device, torch.device("cpu"))
        self.assertEqual(encoding[self.input_name].dtype, torch.bfloat16)
        with self.assertRaises(TypeError):
            processor(videos, return_tensors="pt").to(torch.bfloat16, "cpu")
        encoding = processor(videos, return_tensors="pt")
        encoding.update({"input_ids": torch.LongTensor([[1, 2, 3], [4, 5, 6]])})
        encoding = encoding.to(torch.float16)
        self.assertEqual(encoding[self.input_name].dtype, torch.float16)
        self.assertEqual(encoding.input_ids.dtype, torch.long)

    def _check_single_and_batched(self, videos, **kwargs):
        processor = self.video_processing_class(**self.video_processor_dict)
        tester = self.video_processor_tester
        encoded = processor(videos[0], return_tensors="pt", **kwargs)[self.input_name]
        self.assertEqual(tuple(encoded.shape), (1, *tester.expected_output_video_shape([videos[0]])))
        encoded = processor(videos, return_tensors="pt", **kwargs)[self.input_name]
        self.assertEqual(tuple(encoded.shape), (tester.batch_size, *tester.expected_output_video_shape(videos)))
        return processor

    def test_call_pil(self):
        """A video as a list of PIL frames, alone and batched (frames of different sizes across the batch)."""
        videos = self.video_processor_tester.prepare_video_inputs(equal_resolution=False)
        for video in videos:
            self.assertIsInstance(video[0], Image.Image)
        self._check_single_and_batched(videos)

    def test_call_numpy(self):
        """A video as a (T,H,W,C) numpy array, alone and batched."""
        videos = self.video_processor_tester.prepare_video_inputs(equal_resolution=False, return_tensors="np")
        for video in videos:
            self.assertIsInstance(video, np.ndarray)
        self._check_single_and_batched(videos)

    def test_call_pytorch(self):
        """A video as a (T,C,H,W) tensor, alone and batched."""
        videos = self.video_processor_tester.prepare_video_inputs(equal_resolution=False, return_tensors="torch")
        for video in videos:
            self.assertIsInstance(video, torch.Tensor)
        self._check_single_and_batched(videos)

    def test_call_sample_frames(self):
        """do_sample_frames=False keeps every frame whatever num_frames says; True samples num_frames; fps= needs
        the source fps (from video_metadata, dicts or VideoMetadata, nested per batch)."""
        tester = self.video_processor_tester
        previous = tester.num_frames
        tester.num_frames = 8
        try:
            videos = tester.prepare_video_inputs(equal_resolution=False, return_tensors="torch")
            processor = self.video_processing_class(**self.video_processor_dict)

            processor.do_sample_frames = False
            self.assertEqual(processor(videos[0], return_tensors="pt", num_frames=3)[self.input_name].shape[1], 8)
            self.assertEqual(processor(videos, return_tensors="pt", num_frames=3)[self.input_name].shape[1], 8)

            processor.do_sample_frames = True
            self.assertEqual(processor(videos[0], return_tensors="pt", num_frames=3)[self.input_name].shape[1], 3)
            self.assertEqual(processor(videos, return_tensors="pt", num_frames=3)[self.input_name].shape[1], 3)

            with self.assertRaises(ValueError):  # fps without the source's fps
                processor.sample_frames(metadata=VideoMetadata(total_num_frames=8), fps=3)

            metadata = [[{"duration": 2.0, "total_num_frames": 8, "fps": 4}]]
            single = processor(videos[0], return_tensors="pt", fps=3, video_metadata=metadata)[self.input_name]
            batched = processor(videos, return_tensors="pt", fps=3, video_metadata=metadata * len(videos))[self.input_name]
            self.assertEqual(single.shape[1], 6)
            self.assertEqual(batched.shape[1], 6)

            metadata = [[VideoMetadata(duration=2.0, total_num_frames=8, fps=4)]]
            single = processor(videos[0], return_tensors="pt", fps=3, video_metadata=metadata)[self.input_name]
            self.assertEqual(single.shape[1], 6)

            # Adaptation (module docstring): more frames than the clip has are repeated uniformly, not refused.
            repeated = processor(videos[0], return_tensors="pt", num_frames=10, return_frame_indices=True)
            self.assertEqual(repeated[self.input_name].shape[1], 10)
            self.assertEqual(sorted(set(repeated["frame_indices"][0])), list(range(8)))
        finally:
            tester.num_frames = previous

    def test_nested_input(self):
        """Each video a list of per-frame HWC numpy arrays, alone and batched."""
        videos = self.video_processor_tester.prepare_video_inputs(equal_resolution=False, return_tensors="np")
        videos = [list(video) for video in videos]
        self._check_single_and_batched(videos)

    def test_call_numpy_4_channels(self):
        """RGBA PIL frames with input_data_format="channels_last" and scalar mean/std: 3 channels out."""
        tester = self.video_processor_tester
        previous = tester.num_channels
        tester.num_channels = 4
        try:
            videos = tester.prepare_video_inputs(equal_resolution=False, return_tensors="pil")
            processor = self.video_processing_class(**self.video_processor_dict)
            kwargs = {"return_tensors": "pt", "input_data_format": "channels_last", "image_mean": 0.0, "image_std": 1.0}
            expected = list(tester.expected_output_video_shape(videos))
            if processor.do_convert_rgb:
                expected[1] = 3
            encoded = processor(videos[0], **kwargs)[self.input_name]
            self.assertEqual(tuple(encoded.shape), (1, *expected))
            encoded = processor(videos, **kwargs)[self.input_name]
            self.assertEqual(tuple(encoded.shape), (tester.batch_size, *expected))
        finally:
            tester.num_channels = previous

    def test_video_processor_preprocess_arguments(self):
        """Unknown preprocess arguments are not silently accepted (adapted: an error naming them, not a warning)."""
        processor = self.video_processing_class(**self.video_processor_dict)
        videos = self.video_processor_tester.prepare_video_inputs()
        with self.assertRaisesRegex(ValueError, "extra_argument"):
            processor(videos, extra_argument=True)

    def test_override_instance_attributes_does_not_affect_other_instances(self):
        """Mutating one instance's size / crop_size / image_mean leaves other instances and the class alone.

        In transformers 5.23 instances hold `size` as a `SizeDict` and `image_mean` as a tuple, where the mixin only
        handles a dict and a list (and skips otherwise): the SizeDict fields are mutated with setattr here, and the
        tuple is checked to be immutable (nothing to share)."""
        cls = self.video_processing_class
        class_size, class_mean = deepcopy(cls.size), deepcopy(cls.image_mean)
        first, second = cls(), cls()
        for name in ("size", "crop_size"):
            original = deepcopy(getattr(second, name))
            value = getattr(first, name)
            keys = list(value) if isinstance(value, dict) else [k for k, v in vars(value).items() if v is not None]
            self.assertTrue(keys, f"{name} has no field to mutate")
            for key in keys:
                if isinstance(value, dict):
                    value[key] = -1
                else:
                    setattr(value, key, -1)
            self.assertEqual(getattr(second, name), original)
        if isinstance(first.image_mean, list):
            original = deepcopy(second.image_mean)
            first.image_mean[0] = -1
            self.assertEqual(second.image_mean, original)
        else:
            self.assertIsInstance(first.image_mean, tuple)
        self.assertEqual(cls.size, class_size)
        self.assertEqual(cls.image_mean, class_mean)
        self.assertEqual(cls().size, second.size)


class SignVideoProcessingTest(VideoProcessingCommonTests, unittest.TestCase):
    video_processing_class = SignVideoProcessor

    def setUp(self):
        self.video_processor_tester = SignVideoProcessingTester()
        self.video_processor_dict = self.video_processor_tester.prepare_video_processor_dict()


# --------------------------------------------------------------------- this processor's own frame-list checks
def test_frame_list_equals_array_input():
    """A list of PIL frames, of HWC arrays and of CHW tensors give exactly the (T,H,W,C) array's output."""
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(5, 24, 30, 3), dtype=np.uint8)
    processor = SignVideoProcessor(size={"height": 20, "width": 20}, crop_size={"height": 18, "width": 18})
    reference = processor(frames)["pixel_values_videos"]
    for video in ([Image.fromarray(f) for f in frames], list(frames), [torch.from_numpy(f).permute(2, 0, 1) for f in frames]):
        assert torch.equal(processor(video)["pixel_values_videos"], reference)


def test_fps_without_source_fps_is_an_error_not_ignored():
    processor = SignVideoProcessor(size={"height": 20, "width": 20}, crop_size={"height": 18, "width": 18})
    video = np.zeros((8, 24, 24, 3), np.uint8)
    with pytest.raises(SignInputError, match=r"fps=3 needs the video's own frame rate.*video_metadata"):
        processor(video, fps=3)
    out = processor(video, fps=3, video_metadata={"fps": 6}, return_metadata=True)
    assert out["pixel_values_videos"].shape[1] == 4
    metadata = out["video_metadata"][0]
    assert metadata.fps == 6 and metadata.total_num_frames == 8 and metadata.frames_indices == [0, 2, 4, 6]
    with pytest.raises(SignInputError, match="total_num_frames=9 but the video has 8"):
        processor(video, video_metadata={"total_num_frames": 9, "fps": 6})
    with pytest.raises(SignInputError, match="2 entries for 1 video"):
        processor(video, video_metadata=[{"fps": 6}, {"fps": 6}])


def test_bad_frame_lists_are_named():
    processor = SignVideoProcessor(size={"height": 20, "width": 20}, crop_size={"height": 18, "width": 18})
    with pytest.raises(SignInputError, match=r"frames of different shapes in one video"):
        processor([np.zeros((24, 24, 3), np.uint8), np.zeros((20, 24, 3), np.uint8)])
    with pytest.raises(SignInputError, match=r"videos\[1\]\[0\]: expected a frame"):
        processor([[np.zeros((24, 24, 3), np.uint8)], ["not a frame"]])
    with pytest.raises(SignInputError, match=r"videos\[1\]: a single frame in a batch"):
        processor([np.zeros((2, 24, 24, 3), np.uint8), np.zeros((24, 24, 3), np.uint8)])
