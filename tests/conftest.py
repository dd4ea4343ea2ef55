"""Shared fixtures. Tests never touch the network: HF_HUB_OFFLINE=1 makes an accidental Hub call fail fast."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two pytest workers on a 2-core machine: one thread each (and in the fresh processes the tests
    # start, which inherit this), or torch's default of one thread per core oversubscribes the CPU ~2x.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

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


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A small rendered synthetic corpus (32 px) shared by the model and training tests."""
    from sign_translation.data import make_synthetic_corpus

    root = tmp_path_factory.mktemp("tiny_corpus")
    make_synthetic_corpus(root, num_train=24, num_dev=6, num_test=6, image_size=32, seed=0)
    return root


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_corpus):
    """An mBART tokenizer learnt from the tiny corpus's sentences (no Hub download)."""
    from sign_translation.data import load_sign_dataset
    from sign_translation.tokenization import train_mbart_tokenizer

    texts = load_sign_dataset(tiny_corpus)["train"]["text"]
    return train_mbart_tokenizer(texts, vocab_size=120)


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """The CLI sets torch's thread count from the machine's load (`--threads`' default): restore it after each test,
    so that tests comparing outputs with a fresh process (bit-equal) see the same thread count in both."""
    import torch

    threads = torch.get_num_threads()
    yield
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
