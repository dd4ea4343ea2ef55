"""The synthetic sign language corpus: layout, determinism, grammar, rendering, pairs, resuming, validation, CLI."""

import doctest
import json
import re

import numpy as np
import pytest
from PIL import Image

from sign_translation import SignInputError
from sign_translation.cli import main
from sign_translation.data import make_synthetic_corpus, synthetic, synthetic_grammar, synthetic_render
from sign_translation.data.synthetic import write_synthetic_corpus
from sign_translation.data.synthetic_grammar import BUILTIN_SIGNS, REGIONS, sample_sentence
from sign_translation.data.synthetic_render import (
    hashed_sign_parameters,
    make_signer_profile,
    plan_clip,
    render_clip,
)

TINY = {"num_train": 4, "num_dev": 1, "num_test": 1, "image_size": 32}
METADATA_KEYS = ["file_name", "name", "text", "gloss", "num_frames", "fps", "signer", "descriptions", "sign_spans"]


def read_metadata(split_dir):
    return [json.loads(line) for line in (split_dir / "metadata.jsonl").read_text(encoding="utf-8").splitlines()]


def read_frame_folder(folder):
    files = sorted(folder.glob("images*.png"))
    return np.stack([np.asarray(Image.open(f)) for f in files])


@pytest.fixture(scope="module")
def mp4_corpus(tmp_path_factory):
    output = tmp_path_factory.mktemp("synthetic") / "corpus"
    write_synthetic_corpus(output, **TINY)
    return output


# --- layout and content ---------------------------------------------------------------------------------------------


def test_layout_and_metadata(mp4_corpus):
    corpus = json.loads((mp4_corpus / "corpus.json").read_text())
    assert corpus["settings"]["seed"] == 0 and corpus["settings"]["video_format"] == "mp4"
    assert corpus["counts"] == {"train": 4, "dev": 1, "test": 1}
    assert corpus["grammar"] == "weather-en"
    assert set(corpus["vocabulary"]) == set(BUILTIN_SIGNS)
    assert set(corpus["vocabulary"]["RAIN"]) >= {"right_handshape", "left_handshape", "location", "movement", "face"}
    for split, count in corpus["counts"].items():
        records = read_metadata(mp4_corpus / split)
        assert len(records) == count
        for i, record in enumerate(records):
            assert list(record) == METADATA_KEYS
            assert record["name"] == f"{split}-{i:05d}" and record["file_name"] == f"{split}-{i:05d}.mp4"
            assert (mp4_corpus / split / record["file_name"]).is_file()
            assert len(record["descriptions"]) == record["num_frames"]
            assert all(d.startswith("right hand: ") and "; face: " in d for d in record["descriptions"])
            glosses = record["gloss"].split()
            assert 2 <= len(glosses) <= 6 and set(glosses) <= set(BUILTIN_SIGNS)
            spans = record["sign_spans"]
            assert len(spans) == len(glosses)
            assert all(0 < s < e <= record["num_frames"] for s, e in spans)
            assert all(e1 <= s2 for (_, e1), (s2, _) in zip(spans, spans[1:]))
            assert record["fps"] == 25.0 and 0 <= record["signer"] < 8
    assert not list(mp4_corpus.rglob(".*tmp*")), "temporary files left behind"


def test_mp4_frames_match_descriptions(mp4_corpus):
    from torchcodec.decoders import VideoDecoder

    for record in read_metadata(mp4_corpus / "train")[:2]:
        decoder = VideoDecoder(str(mp4_corpus / "train" / record["file_name"]))
        frames = decoder[:]
        assert frames.shape == (record["num_frames"], 3, 32, 32)
        assert len(record["descriptions"]) == frames.shape[0]
        assert decoder.metadata.codec == "h264" and decoder.metadata.pixel_format == "yuv420p"
        assert decoder.metadata.average_fps == pytest.approx(25.0)


def test_descriptions_follow_the_signs():
    vocabulary = {"NORTH": BUILTIN_SIGNS["NORTH"], "QUESTION": BUILTIN_SIGNS["QUESTION"]}
    plan = plan_clip(["NORTH", "QUESTION"], vocabulary, make_signer_profile(0, 0), np.random.default_rng(0))
    (s0, e0), (s1, e1) = plan.sign_spans
    assert plan.descriptions[0] == "right hand: resting at the side; left hand: resting at the side; face: neutral"
    assert plan.descriptions[s0].startswith("right hand: pointing index finger at the forehead, moving up;")
    assert "moving from the forehead to the space to the right" in plan.descriptions[e0]  # the transition
    assert plan.descriptions[(s1 + e1) // 2].endswith("face: eyebrows raised")


def test_same_seed_same_corpus_other_seed_differs(tmp_path):
    settings = dict(TINY, num_dev=0, num_test=0, video_format="frames")
    write_synthetic_corpus(tmp_path / "a", seed=3, **settings)
    write_synthetic_corpus(tmp_path / "b", seed=3, **settings)
    write_synthetic_corpus(tmp_path / "c", seed=4, **settings)
    meta = {k: (tmp_path / k / "train" / "metadata.jsonl").read_text() for k in "abc"}
    assert meta["a"] == meta["b"] and meta["a"] != meta["c"]
    for i in range(settings["num_train"]):
        clip = f"train-{i:05d}"
        a, b = (read_frame_folder(tmp_path / k / "train" / clip) for k in "ab")
        np.testing.assert_array_equal(a, b)  # PNG is lossless: these are the rendered frames
    first_a, first_c = (read_frame_folder(tmp_path / k / "train" / "train-00000") for k in "ac")
    assert first_a.shape != first_c.shape or not np.array_equal(first_a, first_c)


def test_rendering_is_deterministic_in_memory():
    profile = make_signer_profile(5, 2)
    plans = [plan_clip(["RAIN", "NOT"], BUILTIN_SIGNS, profile, np.random.default_rng(9)) for _ in range(2)]
    np.testing.assert_array_equal(render_clip(plans[0], 32), render_clip(plans[1], 32))
    assert plans[0].descriptions == plans[1].descriptions


def _sign_frames(gloss, seed):
    """The sign's own movement sampled at 6 evenly spaced phases, one sign rendered by a fixed signer (float, 0-255).

    `seed` changes the timing and the hands' jitter; background texture (drawn per video) and pixel noise are
    fixed so that the comparison is about the signing.
    """
    plan = plan_clip([gloss], BUILTIN_SIGNS, make_signer_profile(0, 1), np.random.default_rng(seed), noise=0.0)
    plan.render_seed = 0
    (start, end) = plan.sign_spans[0]
    phases = np.linspace(start, end - 1, 6).round().astype(int)
    return render_clip(plan, 32)[phases].astype(np.float32)


def test_different_glosses_render_differently():
    # pairs that share a lot: location (RISE/FALL, TODAY/NOW...), handshape (EAST/WEST) or movement (RAIN/SNOW)
    pairs = [("RAIN", "SNOW"), ("NORTH", "SOUTH"), ("EAST", "WEST"), ("RISE", "FALL"), ("TODAY", "WEEKEND"),
             ("NOW", "TEMPERATURE")]  # fmt: skip
    for a, b in pairs:
        same = np.abs(_sign_frames(a, 1) - _sign_frames(a, 2)).mean()  # same sign, other timing and jitter
        different = np.abs(_sign_frames(a, 1) - _sign_frames(b, 1)).mean()
        assert different > 3 * same, (a, b, same, different)


def test_builtin_signs_are_distinct_and_unknown_glosses_are_hashed():
    assert 25 <= len(BUILTIN_SIGNS) <= 40
    assert len({(p.location, p.movement) for p in BUILTIN_SIGNS.values()}) == len(BUILTIN_SIGNS)
    assert hashed_sign_parameters("WETTER") == hashed_sign_parameters("WETTER")
    hashed = {hashed_sign_parameters(g) for g in ["WETTER", "REGEN", "MORGEN", "NORD", "SONNE", "WOLKE"]}
    assert len(hashed) > 1


# --- the built-in grammar -------------------------------------------------------------------------------------------

WEATHER_WORDS = {"RAIN": "rain", "SNOW": "snow", "SUN": "sunny", "WIND": "wind", "CLOUD": "cloudy",
                 "STORM": "storm", "FOG": "foggy", "WARM": "warm", "COLD": "cold"}  # fmt: skip


def test_spoken_word_order_differs_from_sign_order():
    rng = np.random.default_rng(0)
    sentences = [sample_sentence(rng) for _ in range(300)]
    swapped = checked = 0
    for glosses, text in sentences:
        assert 2 <= len(glosses) <= 6
        assert text != " ".join(glosses).lower()
        region = next((g for g in glosses if g in REGIONS), None)
        weather = next((g for g in glosses if g in WEATHER_WORDS), None)
        if region and weather and region != "EVERYWHERE":
            assert glosses.index(region) < glosses.index(weather)  # sign order: REGION before WEATHER
            checked += 1
            swapped += text.index(REGIONS[region]) > text.index(WEATHER_WORDS[weather])
    assert checked > 100 and swapped / checked > 0.9  # English: the place phrase comes after the weather
    # inflection and function words that no sign carries
    texts = " ".join(t for _, t in sentences)
    for word in ("will", "was", "is", "there", "it", "but", "the", "in", "heavily", "rained"):
        assert re.search(rf"\b{word}\b", texts), word


def test_test_sentences_are_mostly_new_combinations():
    train = {" ".join(g) for g, _ in synthetic._sample_builtin(0, 0, 800)}
    test = [" ".join(g) for g, _ in synthetic._sample_builtin(0, 2, 100)]
    assert sum(t not in train for t in test) >= 70


# --- formats and pairs ----------------------------------------------------------------------------------------------


def test_frame_folder_output(tmp_path):
    write_synthetic_corpus(tmp_path, num_train=2, num_dev=0, num_test=0, image_size=32, video_format="frames")
    assert not (tmp_path / "dev").exists() and not (tmp_path / "test").exists()
    for record in read_metadata(tmp_path / "train"):
        folder = tmp_path / "train" / record["file_name"]
        assert record["file_name"] == record["name"] and folder.is_dir()
        names = sorted(p.name for p in folder.iterdir())
        assert names[0] == "images0001.png" and len(names) == record["num_frames"] == len(record["descriptions"])
        assert read_frame_folder(folder).shape == (record["num_frames"], 32, 32, 3)


def test_pairs_with_real_phoenix_sentences(shared_data, tmp_path):
    from sign_translation.data import load_phoenix14t

    dev = load_phoenix14t(shared_data / "annotations" / "phoenix14t", split="dev", on_missing_video="keep")
    pairs = [(row["gloss"], row["text"]) for row in dev.select(range(5))]
    write_synthetic_corpus(tmp_path / "list", pairs=pairs, num_train=3, num_dev=1, num_test=1, image_size=32)
    corpus = json.loads((tmp_path / "list" / "corpus.json").read_text())
    assert corpus["grammar"] == "pairs"
    assert set(corpus["vocabulary"]) == {g for glosses, _ in pairs for g in glosses.split()}
    written = [(r["gloss"], r["text"]) for s in ("train", "dev", "test") for r in read_metadata(tmp_path / "list" / s)]
    assert sorted(written) == sorted((" ".join(g.split()), t.strip()) for g, t in pairs)
    some = next(iter(corpus["vocabulary"]))
    assert corpus["vocabulary"][some] == hashed_sign_parameters(some).to_dict()

    # a dict fixes the splits; glosses may be lists; None takes all pairs of a split
    by_split = {"train": [(g.split(), t) for g, t in pairs[:4]], "test": [{"gloss": pairs[4][0], "text": pairs[4][1]}]}
    write_synthetic_corpus(
        tmp_path / "dict", pairs=by_split, num_train=None, num_dev=None, num_test=None, image_size=32
    )
    assert [r["text"] for r in read_metadata(tmp_path / "dict" / "train")] == [t.strip() for _, t in pairs[:4]]
    assert read_metadata(tmp_path / "dict" / "test")[0]["gloss"] == " ".join(pairs[4][0].split())


def test_pairs_errors(tmp_path):
    pairs = [("A B", "one"), ("C", "two")]
    with pytest.raises(SignInputError, match=r"pairs: 2 pairs given but num_train \+ num_dev \+ num_test = 3"):
        write_synthetic_corpus(tmp_path / "a", pairs=pairs, num_train=1, num_dev=1, num_test=1)
    with pytest.raises(SignInputError, match=r"pairs\[1\]: the gloss sequence is empty"):
        write_synthetic_corpus(tmp_path / "b", pairs=[("A", "x"), ("", "y")], num_train=2, num_dev=0, num_test=0)
    with pytest.raises(SignInputError, match=r"unknown split name\(s\) \['val'\]"):
        write_synthetic_corpus(tmp_path / "c", pairs={"val": pairs}, num_train=None, num_dev=None, num_test=None)
    with pytest.raises(SignInputError, match=r"pairs\['train'\]: num_train=5 clips requested but only 2"):
        write_synthetic_corpus(tmp_path / "d", pairs={"train": pairs}, num_train=5, num_dev=0, num_test=0)
    with pytest.raises(SignInputError, match=r"pairs\[0\]: the sentence must be a non-empty string"):
        write_synthetic_corpus(tmp_path / "e", pairs=[("A", "  ")], num_train=1, num_dev=0, num_test=0)


# --- resuming, settings, validation ---------------------------------------------------------------------------------


def test_resume_renders_only_missing_clips(tmp_path):
    write_synthetic_corpus(tmp_path, **TINY)
    clips = sorted(tmp_path.glob("*/*.mp4"))
    before = {p: p.stat().st_mtime_ns for p in clips}
    victim = tmp_path / "train" / "train-00002.mp4"
    original = victim.read_bytes()
    victim.unlink()
    (tmp_path / "train" / ".train-00003.tmp123.mp4").write_bytes(b"partial")  # left by an interrupted run
    summary = write_synthetic_corpus(tmp_path, **TINY)
    assert (summary.rendered, summary.reused) == (1, len(clips) - 1)
    assert victim.read_bytes() == original
    assert all(p.stat().st_mtime_ns == before[p] for p in clips if p != victim)
    assert not list(tmp_path.rglob(".*tmp*"))


def test_other_settings_need_overwrite(tmp_path):
    write_synthetic_corpus(tmp_path, seed=0, **TINY)
    with pytest.raises(SignInputError, match=r"other settings \(seed: 0 -> 1\)"):
        write_synthetic_corpus(tmp_path, seed=1, **TINY)
    summary = write_synthetic_corpus(tmp_path, seed=1, overwrite=True, **TINY)
    assert summary.rendered == 6
    assert json.loads((tmp_path / "corpus.json").read_text())["settings"]["seed"] == 1


def test_refuses_a_folder_that_is_not_a_corpus(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SignInputError, match="not empty and holds no corpus.json"):
        write_synthetic_corpus(tmp_path, **TINY)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"num_train": -1}, "num_train"),
        ({"num_dev": 1.5}, "num_dev"),
        ({"image_size": 33}, "image_size"),
        ({"image_size": 8}, "image_size"),
        ({"video_format": "avi"}, "video_format"),
        ({"fps": 0}, "fps"),
        ({"seed": -3}, "seed"),
        ({"noise": 2.0}, "noise"),
        ({"num_workers": -1}, "num_workers"),
        ({"frames_per_sign": 1}, "frames_per_sign"),
        ({"num_train": 0, "num_dev": 0, "num_test": 0}, "all are 0"),
        ({"pairs": "A B\tsentence"}, "pairs"),
    ],
)
def test_argument_validation(tmp_path, change, field):
    arguments = dict(TINY, **change)
    with pytest.raises(SignInputError, match=re.escape(field)):
        write_synthetic_corpus(tmp_path / "out", **arguments)
    assert not (tmp_path / "out" / "train").exists()


# --- workers, loading, CLI ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_worker_processes_render_the_same_clips(tmp_path, monkeypatch):
    monkeypatch.setattr(synthetic, "_MIN_JOBS_FOR_WORKERS", 1)
    settings = dict(TINY, video_format="frames")
    write_synthetic_corpus(tmp_path / "one", num_workers=1, **settings)
    write_synthetic_corpus(tmp_path / "two", num_workers=2, **settings)
    for name in ("train-00000", "train-00003"):
        a, b = (read_frame_folder(tmp_path / k / "train" / name) for k in ("one", "two"))
        np.testing.assert_array_equal(a, b)


def test_make_synthetic_corpus_returns_a_dataset_dict(mp4_corpus):
    import datasets

    ds = make_synthetic_corpus(mp4_corpus, **TINY)  # same settings: resumes, nothing to render
    assert isinstance(ds, datasets.DatasetDict) and list(ds) == ["train", "dev", "test"]
    assert {"name", "video", "text", "gloss", "descriptions", "sign_spans", "num_frames"} <= set(
        ds["train"].column_names
    )
    row = ds["train"][0]
    assert row["video"] == str(mp4_corpus / "train" / "train-00000.mp4")
    assert len(row["descriptions"]) == row["num_frames"]
    assert ds["train"].num_rows == 4 and ds["test"].num_rows == 1


def test_cli_synth(tmp_path, capsys):
    out = tmp_path / "cli"
    assert (
        main(["synth", str(out), "--num-train", "3", "--num-dev", "1", "--num-test", "1", "--image-size", "32"]) == 0
    )
    printed = capsys.readouterr().out
    assert "train 3, dev 1, test 1" in printed and "vocabulary: 31 glosses" in printed and "example:" in printed
    assert len(read_metadata(out / "train")) == 3

    assert main(["synth", str(out), "--num-train", "3", "--image-size", "30"]) == 2  # other settings
    assert "error: output_dir" in capsys.readouterr().err

    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        "gloss\ttext\nREGEN NORD\tim norden regnet es\nSONNE\tdie sonne scheint\nWIND STARK\tstarker wind\n"
    )
    assert main(["synth", str(tmp_path / "p"), "--pairs", str(pairs), "--num-dev", "1", "--num-test", "0", "--image-size", "32",
                 "--format", "frames"]) == 0  # fmt: skip
    texts = [r["text"] for s in ("train", "dev") for r in read_metadata(tmp_path / "p" / s)]
    assert sorted(texts) == ["die sonne scheint", "im norden regnet es", "starker wind"]

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"gloss": "A", "text": "a", "split": "train"}\n{"gloss": "B"}\n')
    assert main(["synth", str(tmp_path / "q"), "--pairs", str(bad)]) == 2
    assert "line 2: expected a JSON object with keys 'gloss' and 'text'" in capsys.readouterr().err


@pytest.mark.parametrize("module", [synthetic, synthetic_grammar, synthetic_render])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
