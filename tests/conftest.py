"""Shared fixtures. Tests never touch the network: HF_HUB_OFFLINE=1 makes an accidental Hub call fail fast."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("SIGN_TRANSLATION_SHARED", REPO_ROOT.parent / "shared"))
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` (real annotation files); skipped with a reason in a user's clone, which has no ../shared."""
    path = SHARED_DIR / "data"
    if not path.is_dir():
        pytest.skip(f"real annotation files not available: {path} does not exist (only in the project's CI checkout)")
    return path


@pytest.fixture(scope="session")
def real_videos() -> dict[str, Path]:
    """The four MIT-licensed real sign videos copied into tests/data (see tests/data/ATTRIBUTION.md)."""
    names = ["FOOTBALL.mp4", "SOUP.mp4", "test_video.mp4", "video.mp4"]
    return {name: TEST_DATA / name for name in names}
