"""The README's ```python blocks run (issue 12: runnable docs), on demo-sized data.

The blocks run in order, in one namespace — as a reader pastes them into one session — inside a folder that holds
what they name: `demo_output/checkpoint` (a tiny FLa-LLM checkpoint, random weights, exported like the demo's),
`demo_output/corpus` (a tiny rendered synthetic corpus), `clip.mp4` / `a.mp4` / `b.mp4` / `b.webm` (real sign videos
from tests/data), a PHOENIX-style frame folder `PHOENIX/features/fullFrame-210x260px/dev/some-name/` and
`runs/phoenix_stage2` (the same checkpoint). HTML comments right before a block steer it:

- `<!-- no-test: REASON -->` skips it (e.g. it needs a dataset release or a Hub download) with that reason;
- `<!-- test-replace: OLD => NEW | OLD2 => NEW2 -->` runs it with those text replacements (demo sizes);
- `<!-- test-setup: CODE -->` runs CODE first (names a fragment leaves to the reader).
"""

import re
import shutil
import traceback
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
TEST_DATA = Path(__file__).resolve().parent / "data"
MARKER = re.compile(r"<!--\s*(no-test|test-replace|test-setup):\s*(.*?)\s*-->", re.DOTALL)


def readme_blocks(text: str) -> list[dict]:
    """Every ```python block with its line number and the steering comments right before it."""
    blocks, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start = i + 1
            end = next(j for j in range(start, len(lines)) if lines[j].strip() == "```")
            markers = {}
            k = i - 1
            while k >= 0 and (lines[k].strip().startswith("<!--") or not lines[k].strip()):
                for kind, value in MARKER.findall(lines[k]):
                    markers[kind] = value
                if not lines[k].strip() and k < i - 1:
                    break
                k -= 1
            blocks.append({"line": start, "code": "\n".join(lines[start:end]), **markers})
            i = end
        i += 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


def _prepare(code: str, block: dict) -> str:
    for pair in filter(None, (p.strip() for p in block.get("test-replace", "").split("|"))):
        old, _, new = pair.partition("=>")
        old, new = old.strip(), new.strip()
        assert old in code, f"README line {block['line']}: test-replace {old!r} is not in the block"
        code = code.replace(old, new)
    return code


def _demo_world(root: Path) -> None:
    import torch

    from sign_translation import (
        FlaLlmConfig,
        FlaLlmForConditionalGeneration,
        SignTranslationProcessor,
        SignVideoProcessor,
    )
    from sign_translation.data import load_sign_dataset, make_synthetic_corpus
    from sign_translation.hub import export_checkpoint
    from sign_translation.tokenization import train_mbart_tokenizer

    corpus = root / "demo_output" / "corpus"
    make_synthetic_corpus(corpus, num_train=6, num_dev=2, num_test=3, image_size=32, seed=0, num_workers=1)
    tokenizer = train_mbart_tokenizer(load_sign_dataset(corpus)["train"]["text"], vocab_size=60)
    torch.manual_seed(0)
    model = FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=len(tokenizer))).eval()
    model.generation_config.max_new_tokens = 6
    processor = SignTranslationProcessor(SignVideoProcessor(size=32, crop_size=28, frame_stride=2), tokenizer)
    checkpoint = export_checkpoint(model, processor, root / "demo_output" / "checkpoint", dataset_name="synthetic")
    (root / "runs").mkdir()
    shutil.copytree(checkpoint, root / "runs" / "phoenix_stage2")
    for name, source in (("clip.mp4", "SOUP.mp4"), ("a.mp4", "video.mp4"), ("b.mp4", "test_video.mp4"),
                         ("b.webm", "test_video.mp4")):  # FFmpeg probes the content, not the file name
        shutil.copy(TEST_DATA / source, root / name)
    frames = root / "PHOENIX" / "features" / "fullFrame-210x260px" / "dev" / "some-name"
    frames.mkdir(parents=True)
    from PIL import Image

    for index in range(1, 9):  # PHOENIX names: images0001.png ...
        Image.new("RGB", (210, 260), (20 * index, 90, 160)).save(frames / f"images{index:04d}.png")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[int, str | None]:
    """Run every block once, in order; {line: None (ran) | 'skip: reason' | traceback}."""
    import os

    root = tmp_path_factory.mktemp("readme")
    _demo_world(root)
    results: dict[int, str | None] = {}
    namespace: dict = {"__name__": "__readme__"}
    cwd = os.getcwd()
    os.chdir(root)
    try:
        for block in BLOCKS:
            if "no-test" in block:
                results[block["line"]] = f"skip: {block['no-test']}"
                continue
            try:
                if block.get("test-setup"):
                    exec(compile(block["test-setup"], f"README.md:{block['line']} (test-setup)", "exec"), namespace)
                exec(compile(_prepare(block["code"], block), f"README.md:{block['line']}", "exec"), namespace)
                results[block["line"]] = None
            except Exception:
                results[block["line"]] = traceback.format_exc()
    finally:
        os.chdir(cwd)
    return results


def test_readme_has_python_blocks_and_markers_parse():
    assert len(BLOCKS) >= 8
    example = readme_blocks("<!-- no-test: needs X -->\n```python\nx = 1\n```\n\n```python\ny = 2\n```\n")
    assert example[0]["no-test"] == "needs X" and "no-test" not in example[1]
    replaced = readme_blocks("<!-- test-replace: 800 => 8 | n => m -->\n```python\nn = 800\n```\n")[0]
    assert _prepare(replaced["code"], replaced) == "m = 8"


@pytest.mark.slow
@pytest.mark.parametrize("line", [b["line"] for b in BLOCKS], ids=[f"line{b['line']}" for b in BLOCKS])
def test_readme_block_runs(outcomes, line):
    outcome = outcomes[line]
    if outcome and outcome.startswith("skip: "):
        pytest.skip(f"README.md line {line}: {outcome.removeprefix('skip: ')}")
    assert outcome is None, f"README.md line {line} fails:\n{outcome}"


# ---------------------------------------------------------------------------------------------- "## Architecture"
def architecture_rows(text: str) -> list[tuple[str, list[str], list[str]]]:
    """(concept, files, names) for each row of the README's "## Architecture" table."""
    section = text.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("Paper concept", "---") or set(cells[1]) <= {"-"}:
            continue
        rows.append((cells[0], re.findall(r"`([^`]+)`", cells[1]), re.findall(r"`([^`]+)`", cells[2])))
    return rows


def _defined(path: Path, name: str) -> bool:
    """`name` (or `Class.attribute`) is defined at the top level of the file (class, def, assignment, import)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    owner, _, attribute = name.partition(".")

    def names_in(body) -> set[str]:
        found = set()
        for node in body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                found.add(node.name)
            elif isinstance(node, ast.Assign):
                found |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                found.add(node.target.id)
        return found

    if not attribute:
        return owner in names_in(tree.body)
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == owner]
    return any(attribute in names_in(c.body) for c in classes)


ARCHITECTURE = architecture_rows(README.read_text(encoding="utf-8"))


def test_architecture_table_parses():
    assert len(ARCHITECTURE) >= 20
    concepts = " ".join(row[0] for row in ARCHITECTURE)
    for concept in ("description mapper", "VL-adapter", "LLM-adapter", "Light-T", "MMLP loss"):
        assert concept in concepts


@pytest.mark.parametrize("concept,files,names", ARCHITECTURE, ids=[row[0][:40] for row in ARCHITECTURE])
def test_architecture_names_live_where_the_readme_says(concept, files, names):
    paths = [REPO / f for f in files]
    missing_files = [str(p) for p in paths if not p.is_file()]
    assert not missing_files, f"README Architecture, {concept!r}: no such file {missing_files}"
    for name in names:
        if not any(_defined(path, name) for path in paths):
            pytest.fail(f"README Architecture, {concept!r}: {name} is not defined in {', '.join(files)}")
