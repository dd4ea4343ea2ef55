"""Video and text processing for sign language translation (installed as `sign_translation.processing`).

The files here are flat and import each other only as `from .module import Name`, because transformers copies
them into saved checkpoints so that those load with `trust_remote_code=True` without this package.
"""

from .collator import SignPretrainingCollator, SignTranslationCollator, video_source
from .description_cache import DescriptionCache
from .errors import SignInputError
from .frame_buffers import frame_buffer_cache_info, set_frame_buffer_cache
from .processing_sign_translation import SignTranslationProcessor
from .sign_descriptions import (
    DEFAULT_DESCRIPTION_PROMPT,
    DescriptionEncoder,
    SignDescriptionGenerator,
    describe_dataset,
    descriptions_from_corpus,
    encode_descriptions,
)
from .video_io import VideoInfo, list_frame_files, read_video
from .video_processing_sign_translation import SignVideoProcessor, sample_frame_indices

__all__ = [
    "DEFAULT_DESCRIPTION_PROMPT",
    "DescriptionCache",
    "DescriptionEncoder",
    "SignDescriptionGenerator",
    "SignInputError",
    "SignPretrainingCollator",
    "SignTranslationCollator",
    "SignTranslationProcessor",
    "SignVideoProcessor",
    "VideoInfo",
    "describe_dataset",
    "descriptions_from_corpus",
    "encode_descriptions",
    "frame_buffer_cache_info",
    "list_frame_files",
    "read_video",
    "sample_frame_indices",
    "set_frame_buffer_cache",
    "video_source",
]
