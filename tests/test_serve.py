"""The web demo (`sign-translation serve`): the page driven in a real headless browser (Debian's chromium through
playwright), the upload checks, the Space folder run without the package, and `pipeline(..., return_attention=True)`
on a trained checkpoint."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from test_pipeline_cli import _trained_checkpoint
from transformers import pipeline

from sign_translation.cli import main as cli

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("SIGN_TRANSLATION_TEST_ARTIFACTS", REPO / "test-artifacts"))
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """$SIGN_TRANSLATION_CHROMIUM, else a chromium/chrome on PATH (Debian: `apt-get install chromium`)."""
    explicit = os.environ.get("SIGN_TRANSLATION_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tiny_tokenizer) -> Path:
    return _trained_checkpoint(tmp_path_factory.mktemp("serve_checkpoint"), tiny_tokenizer)


@pytest.fixture(scope="module")
def translator(checkpoint):
    return pipeline("sign-translation", model=str(checkpoint))


@pytest.fixture(scope="module")
def expected(translator, real_videos) -> str:
    """What the pipeline says for SOUP.mp4: the page must show exactly this."""
    return translator(str(real_videos["SOUP.mp4"]))["translation_text"]


@pytest.fixture(scope="module")
def demo(translator, real_videos, tmp_path_factory):
    from sign_translation.serve import SignTranslationDemo

    return SignTranslationDemo(translator, examples=[real_videos["SOUP.mp4"]],
                               plot_dir=tmp_path_factory.mktemp("plots"))


def test_pipeline_return_attention_words_and_batching(translator, expected, real_videos):
    soup, football = str(real_videos["SOUP.mp4"]), str(real_videos["FOOTBALL.mp4"])
    result = translator(soup, return_attention=True)
    assert result["translation_text"] == expected
    words = [w["word"] for w in result["attention"]]
    assert " ".join(words) == result["translation_text"]
    frames = len(result["frame_indices"])
    assert frames == int(translator.processor(videos=[soup])["video_mask"].sum())
    assert result["frame_indices"] == sorted(result["frame_indices"])
    for word in result["attention"]:
        assert len(word["weights"]) == frames and abs(sum(word["weights"]) - 1) < 1e-5
    batched = translator([football, soup], batch_size=2, return_attention=True)
    assert batched[1]["frame_indices"] == result["frame_indices"]
    assert [w["word"] for w in batched[1]["attention"]] == words
    np.testing.assert_allclose([w["weights"] for w in batched[1]["attention"]],
                               [w["weights"] for w in result["attention"]], atol=1e-5)
    with pytest.raises(TypeError, match="unknown argument"):
        translator(soup, return_attentions=True)  # a typo is an error, not silently ignored


def test_cli_translate_plot(checkpoint, real_videos, tmp_path, capsys):
    from PIL import Image

    assert cli(["-q", "translate", "--model", str(checkpoint), str(real_videos["video.mp4"]),
                "--plot", str(tmp_path / "plots")]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["plot"] == str(tmp_path / "plots" / "video.mp4.attention.png")
    image = Image.open(record["plot"])
    assert image.format == "PNG" and image.width >= 1000


def test_demo_translates_like_the_pipeline_and_refuses_bad_uploads(demo, translator, expected, real_videos, tmp_path):
    from sign_translation.serve import DemoInputError, DemoLimits, SignTranslationDemo

    soup = str(real_videos["SOUP.mp4"])
    text, status, plot = demo.handle(soup)  # what the page's button calls
    assert text == expected and Path(plot).is_file() and Path(plot).parent == demo.plot_dir
    assert re.fullmatch(r"Decoded \d+ sampled frames in \d+\.\d\d s · inference \(translation \+ attention\) "
                        r"\d+\.\d\d s", status), status

    fake = tmp_path / "notes.mp4"
    fake.write_text("these are my notes, not a video\n")
    text, status, plot = demo.handle(str(fake))
    assert (text, plot) == ("", None) and "notes.mp4 is not a video" in status
    short = SignTranslationDemo(translator, limits=DemoLimits(max_seconds=1.0))
    with pytest.raises(DemoInputError, match=r"SOUP.mp4 is too long: \d+\.\d s; this demo translates videos up to 1 s"):
        short.check_upload(soup)
    small = SignTranslationDemo(translator, limits=DemoLimits(max_megabytes=0.01))
    with pytest.raises(DemoInputError, match=r"SOUP.mp4 is too large: 0\.1 MB; .* up to 0\.01 MB"):
        small.check_upload(soup)
    with pytest.raises(DemoInputError, match="No video yet"):
        demo.check_upload(None)
    with pytest.raises(ValueError, match="max_seconds must be positive"):
        DemoLimits(max_seconds=0)
    page = SignTranslationDemo(translator, limits=DemoLimits(max_queue=3)).build()  # one at a time, 3 waiting
    assert (page._queue.default_concurrency_limit, page._queue.max_size) == (1, 3)


def test_space_folder_runs_without_the_package(checkpoint, expected, real_videos, tmp_path, capsys):
    space = tmp_path / "space"
    assert cli(["serve", "--model", str(checkpoint), "--write-space", str(space),
                "--examples", str(real_videos["SOUP.mp4"])]) == 0
    assert {p.name for p in space.iterdir()} >= {"app.py", "README.md", "requirements.txt", "packages.txt", "model",
                                                 "examples", "sign_translation_demo"}
    readme = (space / "README.md").read_text()
    assert "sdk: gradio" in readme and "app_file: app.py" in readme
    code = (
        "import json, sys\n"
        "sys.modules['sign_translation'] = None  # not installed on a Space: only the folder's code\n"
        "import app\n"
        "result = app.demo.translate_file('examples/SOUP.mp4', plot=False)\n"
        "print(json.dumps({'text': result['translation_text'], 'module': type(app.demo.translator).__module__}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules"),
           "PYTHONPATH": str(space), "GRADIO_ANALYTICS_ENABLED": "False"}
    done = subprocess.run([sys.executable, "-c", code], cwd=space, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["text"] == expected
    assert not out["module"].startswith("sign_translation.")  # the checkpoint's own pipeline code ran


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(checkpoint, real_videos, tmp_path):
    """`sign-translation serve` in a subprocess on 127.0.0.1; stopped (and reaped) after the test."""
    port = _free_port()
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed below
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sign_translation.cli", "serve", "--model", str(checkpoint), "--port", str(port),
         "--examples", str(real_videos["SOUP.mp4"]), "--max-seconds", "30"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"serve exited with {process.returncode}: {(tmp_path / 'serve.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"serve did not answer on {url}: {(tmp_path / 'serve.log').read_text()[-3000:]}")
            time.sleep(1)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.slow
def test_demo_page_in_a_real_browser(server, expected, real_videos, tmp_path):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium found (apt-get install chromium, or set SIGN_TRANSLATION_CHROMIUM); .ci/run installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    url, process = server
    soup = real_videos["SOUP.mp4"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 820})
            page.goto(url)
            page.wait_for_selector("#translate-button", timeout=60_000)
            page.locator("#video-input input[type=file]").first.set_input_files(str(soup))
            page.wait_for_selector("#video-input video", timeout=60_000)
            page.click("#translate-button")
            page.wait_for_function(
                "() => { const e = document.querySelector('#translation textarea'); return e && e.value.length > 0 }",
                timeout=180_000,
            )
            assert page.input_value("#translation textarea") == expected
            assert page.inner_text("#status").startswith("Decoded")
            page.wait_for_selector("#attention-plot img", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "demo_page.png"), full_page=True)

            # a text file renamed .mp4: a message in the page, and the server keeps serving
            fake = tmp_path / "not_a_video.mp4"
            fake.write_text("this is a shopping list, not a video\n")
            page.goto(url)
            page.wait_for_selector("#translate-button", timeout=60_000)
            page.locator("#video-input input[type=file]").first.set_input_files(str(fake))
            page.click("#translate-button")
            page.wait_for_function(
                "() => { const e = document.querySelector('#status'); return e && e.innerText.includes('Error') }",
                timeout=120_000,
            )
            message = page.inner_text("#status")
            page.screenshot(path=str(ARTIFACTS / "demo_page_error.png"), full_page=True)
        finally:
            browser.close()
    assert "not_a_video.mp4 is not a video that FFmpeg can read" in message, message
    assert process.poll() is None
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
