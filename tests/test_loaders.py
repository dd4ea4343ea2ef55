"""Dataset loaders: the real annotation files, the original release formats, the generic loader, pickle safety."""

import csv
import doctest
import gzip
import json
import logging
import os
import pickle
import re

import datasets
import pytest

from sign_translation import SignInputError
from sign_translation.data import (
    generic,
    load_csl_daily,
    load_how2sign,
    load_phoenix14t,
    load_pickle,
    load_sign_dataset,
    loaders,
    read_label_file,
    safe_pickle,
)


def write_gzip_pickle(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        pickle.dump(obj, f)
    return path


def touch(path, data=b"\x00"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_frame_folder(path):
    touch(path / "images0001.png")
    return path


# ----------------------------------------------------------------------------------------------------------------
# Real annotation files (../shared/data/annotations)
# ----------------------------------------------------------------------------------------------------------------

REAL_SIZES = {
    "phoenix14t": (load_phoenix14t, {"train": 7096, "dev": 519, "test": 642}),
    "csl_daily": (load_csl_daily, {"train": 18401, "dev": 1077, "test": 1176}),
    "how2sign": (load_how2sign, {"train": 31086, "test": 2349}),
}


@pytest.mark.parametrize("dataset", list(REAL_SIZES))
def test_real_label_files_split_sizes(shared_data, dataset):
    load, sizes = REAL_SIZES[dataset]
    loaded = load(shared_data / "annotations" / dataset, on_missing_video="keep")
    assert isinstance(loaded, datasets.DatasetDict)
    assert {name: len(ds) for name, ds in loaded.items()} == sizes
    for ds in loaded.values():
        assert ds.column_names[:4] == ["name", "video", "text", "gloss"]
        assert all(ds.features[c] == datasets.Value("string") for c in ("name", "video", "text", "gloss"))
        assert all(os.path.isabs(video) for video in ds["video"][:50])
        assert all(text for text in ds["text"])


def test_real_phoenix_entry(shared_data):
    root = shared_data / "annotations" / "phoenix14t"
    dev = load_phoenix14t(root, split="dev", on_missing_video="keep")
    assert isinstance(dev, datasets.Dataset) and dev.split == "dev"
    assert dev.features["length"] == datasets.Value("int32")
    row = dev[dev["name"].index("11August_2010_Wednesday_tagesschau-2")]
    assert row["gloss"] == "DRUCK TIEF KOMMEN"
    assert row["text"] == "tiefer luftdruck bestimmt in den nächsten tagen unser wetter"
    assert row["length"] == 42
    assert row["video"] == str(root / "dev" / "11August_2010_Wednesday_tagesschau-2")
    # "val" / "validation" mean "dev"
    assert len(load_phoenix14t(root, split="validation", on_missing_video="keep")) == 519


def test_real_csl_daily_entry(shared_data):
    root = shared_data / "annotations" / "csl_daily"
    dev = load_csl_daily(root, split="val", on_missing_video="keep")
    row = dev[dev["name"].index("S000020_P0000_T00")]
    assert row["text"] == "他今年四岁。"
    assert row["gloss"] == "他 今天 年龄 4"
    assert row["video"] == str(root / "S000020_P0000_T00.mp4")


def test_real_how2sign_entry(shared_data):
    root = shared_data / "annotations" / "how2sign"
    test = load_how2sign(root, split="test", on_missing_video="keep")
    row = test[test["name"].index("-fZc293MpJk_0-1-rgb_front")]
    assert row["text"] == "Hi!"
    assert row["gloss"] == ""
    assert (row["video_id"], row["sentence_id"]) == ("-fZc293MpJk", "-fZc293MpJk_0")
    assert row["video"] == str(root / "-fZc293MpJk_0-1-rgb_front.mp4")
    with pytest.raises(SignInputError, match="split 'dev' is not present.*available splits: train, test"):
        load_how2sign(root, split="dev", on_missing_video="keep")


def test_real_keep_does_not_touch_the_file_system(shared_data, monkeypatch):
    """`keep` must not stat every entry: count os.stat calls while loading the 31k How2Sign train entries."""
    calls = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda *args, **kwargs: calls.append(args[0]) or real_stat(*args, **kwargs))
    train = load_how2sign(shared_data / "annotations" / "how2sign", split="train", on_missing_video="keep")
    assert len(train) == 31086
    assert len(calls) < 100, calls[:20]


def test_real_phoenix_missing_video_policies(shared_data, tmp_path, caplog):
    root = shared_data / "annotations" / "phoenix14t"
    names = ["11August_2010_Wednesday_tagesschau-2", "11August_2010_Wednesday_tagesschau-3"]
    for name in names:
        make_frame_folder(tmp_path / "dev" / name)

    with pytest.raises(SignInputError) as error:
        load_phoenix14t(root, split="dev", video_root=tmp_path)
    message = str(error.value)
    assert "517 of 519 entries" in message and str(tmp_path) in message and "labels.dev" in message
    assert str(tmp_path / "dev" / "25October_2010_Monday_tagesschau-22") in message  # one of the first missing

    with caplog.at_level(logging.WARNING):
        dev = load_phoenix14t(root, split="dev", on_missing_video="skip", video_root=tmp_path)
    assert sorted(dev["name"]) == names
    assert dev["video"][0] == str(tmp_path / "dev" / dev["name"][0])
    assert "skipping 517 of 519" in caplog.text

    assert len(load_phoenix14t(root, split="dev", on_missing_video="keep", video_root=tmp_path)) == 519


def test_real_csl_daily_and_how2sign_missing_video_policies(shared_data, tmp_path):
    annotations = shared_data / "annotations"
    touch(tmp_path / "csl" / "S000020_P0004_T00.mp4")
    test = load_csl_daily(
        annotations / "csl_daily", split="test", on_missing_video="skip", video_root=tmp_path / "csl"
    )
    assert test["name"] == ["S000020_P0004_T00"]
    with pytest.raises(SignInputError, match=r"1175 of 1176 entries of split 'test' have no video"):
        load_csl_daily(annotations / "csl_daily", split="test", video_root=tmp_path / "csl")

    # a "{split}" placeholder in video_root becomes the release's split name
    touch(tmp_path / "test_rgb_front_clips" / "-fZc293MpJk_0-1-rgb_front.mp4")
    how2sign = load_how2sign(
        annotations / "how2sign", on_missing_video="skip", video_root=tmp_path / "{split}_rgb_front_clips"
    )
    assert len(how2sign["train"]) == 0
    assert how2sign["test"]["name"] == ["-fZc293MpJk_0-1-rgb_front"]


# ----------------------------------------------------------------------------------------------------------------
# Original release formats, written into tmp_path
# ----------------------------------------------------------------------------------------------------------------

PHOENIX_ROWS = {
    "train": [
        ("01April_2010_Thursday_heute-6694", "Signer04", "REGEN SCHNEE", "regen und schnee"),
        ("01April_2010_Thursday_heute-6695", "Signer04", "SONNE", "morgen scheint die sonne"),
    ],
    "dev": [("11August_2010_Wednesday_tagesschau-2", "Signer08", "DRUCK TIEF KOMMEN", "tiefer luftdruck")],
    "test": [("25October_2010_Monday_tagesschau-17", "Signer01", "REGEN", "regen")],
}


def write_phoenix_release(root, frames=True):
    manual = root / "annotations" / "manual"
    manual.mkdir(parents=True)
    for split, rows in PHOENIX_ROWS.items():
        lines = ["name|video|start|end|speaker|orth|translation"]
        lines += [f"{name}|{name}/1/*.png|-1|-1|{speaker}|{orth}|{text}" for name, speaker, orth, text in rows]
        (manual / f"PHOENIX-2014-T.{split}.corpus.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if frames:
            for name, *_ in rows:
                make_frame_folder(root / "features" / "fullFrame-210x260px" / split / name)
    return root


def test_phoenix_original_release(tmp_path):
    root = write_phoenix_release(tmp_path / "PHOENIX-2014-T")
    loaded = load_phoenix14t(root)
    assert {name: len(ds) for name, ds in loaded.items()} == {"train": 2, "dev": 1, "test": 1}
    dev = loaded["dev"]
    assert dev.features == datasets.Features(
        {
            "name": datasets.Value("string"),
            "video": datasets.Value("string"),
            "text": datasets.Value("string"),
            "gloss": datasets.Value("string"),
            "speaker": datasets.Value("string"),
            "start": datasets.Value("int32"),
            "end": datasets.Value("int32"),
        }
    )
    assert dev[0] == {
        "name": "11August_2010_Wednesday_tagesschau-2",
        "video": str(root / "features" / "fullFrame-210x260px" / "dev" / "11August_2010_Wednesday_tagesschau-2"),
        "text": "tiefer luftdruck",
        "gloss": "DRUCK TIEF KOMMEN",
        "speaker": "Signer08",
        "start": -1,
        "end": -1,
    }
    # the annotations/manual folder itself also works, with the same default frame folders
    manual = load_phoenix14t(root / "annotations" / "manual", split="dev")
    assert manual["video"] == dev["video"]


def test_phoenix_original_release_missing_frames(tmp_path):
    root = write_phoenix_release(tmp_path / "release", frames=False)
    make_frame_folder(root / "features" / "fullFrame-210x260px" / "train" / "01April_2010_Thursday_heute-6694")
    with pytest.raises(SignInputError, match="1 of 2 entries of split 'train'.*01April_2010_Thursday_heute-6695"):
        load_phoenix14t(root, split="train")
    assert load_phoenix14t(root, split="train", on_missing_video="skip")["name"] == [
        "01April_2010_Thursday_heute-6694"
    ]


def test_phoenix_corrupt_corpus_csv(tmp_path):
    manual = tmp_path / "annotations" / "manual"
    manual.mkdir(parents=True)
    path = manual / "PHOENIX-2014-T.train.corpus.csv"
    path.write_text("name|video|start|end|speaker|orth|translation\na|a/1/*.png|-1|-1\n", encoding="utf-8")
    with pytest.raises(SignInputError, match=r"PHOENIX-2014-T.train.corpus.csv, line 2: 4 '\|'-separated fields"):
        load_phoenix14t(tmp_path, on_missing_video="keep")
    path.write_text("name,translation\na,b\n", encoding="utf-8")
    with pytest.raises(SignInputError, match="lacks column"):
        load_phoenix14t(tmp_path, on_missing_video="keep")


CSL_INFO = [
    {
        "name": "S000000_P0000_T00",
        "length": 120,
        "label_gloss": ["你们", "好"],
        "label_char": ["你", "们", "好", "！"],
        "label_word": ["你们", "好", "！"],
        "label_postag": ["r", "a", "w"],
        "signer": 0,
        "time": 0,
    },
    {
        "name": "S000020_P0000_T00",
        "length": 88,
        "label_gloss": ["他", "今天", "年龄", "4"],
        "label_char": ["他", "今", "年", "四", "岁", "。"],
        "label_word": ["他", "今年", "四", "岁", "。"],
        "label_postag": ["r", "t", "m", "q", "w"],
        "signer": 3,
        "time": 1,
    },
    {
        "name": "S000020_P0004_T00",
        "length": 95,
        "label_gloss": ["他", "今天", "年龄", "4"],
        "label_char": ["他", "今", "年", "四", "岁"],  # differs from label_word: a warning, text from label_word
        "label_word": ["他", "今年", "四", "岁", "。"],
        "label_postag": ["r", "t", "m", "q", "w"],
        "signer": 4,
        "time": 2,
    },
]
CSL_SPLITS = {"S000000_P0000_T00": "train", "S000020_P0000_T00": "dev", "S000020_P0004_T00": "test"}


def write_csl_release(root):
    label_dir = root / "sentence_label"
    label_dir.mkdir(parents=True)
    with open(label_dir / "csl2020ct_v2.pkl", "wb") as f:  # the release's pickle is not compressed
        pickle.dump({"info": CSL_INFO, "gloss_map": ["你们", "好"], "char_map": [], "word_map": []}, f)
    lines = ["name|split"] + [f"{name}|{split}" for name, split in CSL_SPLITS.items()]
    (label_dir / "split_1.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name in CSL_SPLITS:
        touch(root / "sentence" / "frames_512x512" / name / "000000.jpg")
    return root


def test_csl_daily_original_release(tmp_path, caplog):
    root = write_csl_release(tmp_path / "CSL-Daily")
    with caplog.at_level(logging.WARNING):
        loaded = load_csl_daily(root)
    assert {name: len(ds) for name, ds in loaded.items()} == {"train": 1, "dev": 1, "test": 1}
    assert "label_word differs from the joined label_char" in caplog.text and "S000020_P0004_T00" in caplog.text
    dev = loaded["dev"][0]
    assert dev == {
        "name": "S000020_P0000_T00",
        "video": str(root / "sentence" / "frames_512x512" / "S000020_P0000_T00"),
        "text": "他今年四岁。",
        "gloss": "他 今天 年龄 4",
        "signer": 3,
        "length": 88,
    }
    assert loaded["dev"].features["length"] == datasets.Value("int32")
    assert loaded["test"][0]["text"] == "他今年四岁。"
    # the sentence_label folder itself works too
    assert load_csl_daily(root / "sentence_label", split="train")["video"] == loaded["train"]["video"]


def test_csl_daily_release_needs_split_file(tmp_path):
    root = write_csl_release(tmp_path)
    (root / "sentence_label" / "split_1.txt").unlink()
    with pytest.raises(SignInputError, match="split_1.txt does not exist"):
        load_csl_daily(root)


def test_csl_daily_release_wrong_structure(tmp_path):
    root = write_csl_release(tmp_path)
    with open(root / "sentence_label" / "csl2020ct_v2.pkl", "wb") as f:
        pickle.dump({"entries": []}, f)
    with pytest.raises(SignInputError, match=r"csl2020ct_v2.pkl: expected a dict with an 'info' list"):
        load_csl_daily(root)


def write_how2sign_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ["VIDEO_ID", "VIDEO_NAME", "SENTENCE_ID", "SENTENCE_NAME", "START_REALIGNED", "END_REALIGNED", "SENTENCE"]
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t")  # quotes like pandas' to_csv(sep="\t")
        writer.writerow(header)
        for video_id, index, camera, start, end, sentence in rows:
            sentence_id = f"{video_id}_{index}"
            writer.writerow(
                [
                    video_id,
                    f"{video_id}-{camera}-rgb_front",
                    sentence_id,
                    f"{sentence_id}-{camera}-rgb_front",
                    start,
                    end,
                    sentence,
                ]
            )


def test_how2sign_realigned_release(tmp_path):
    root = tmp_path / "How2Sign"
    write_how2sign_csv(
        root / "how2sign_realigned_train.csv",
        [
            ("--7E2sU6zP4", 10, 5, 129.06, 142.48, "And I call them decorative elements."),
            ("--7E2sU6zP4", 11, 5, 142.5, 150.0, '"Aahh", good, then we have our victim.'),
        ],
    )
    write_how2sign_csv(root / "how2sign_realigned_val.csv", [("-d5dN54tH2E", 0, 1, 0.0, 2.5, "Hello.")])
    # the official download script's layout for the test split
    write_how2sign_csv(
        root / "sentence_level" / "test" / "text" / "en" / "raw_text" / "re_aligned" / "how2sign_realigned_test.csv",
        [("-fZc293MpJk", 0, 1, 1.0, 2.0, "Hi!")],
    )
    touch(root / "train_rgb_front_clips" / "raw_videos" / "--7E2sU6zP4_10-5-rgb_front.mp4")
    touch(root / "train_rgb_front_clips" / "raw_videos" / "--7E2sU6zP4_11-5-rgb_front.mp4")
    touch(root / "val_rgb_front_clips" / "raw_videos" / "-d5dN54tH2E_0-1-rgb_front.mp4")
    touch(root / "sentence_level" / "test" / "rgb_front" / "raw_videos" / "-fZc293MpJk_0-1-rgb_front.mp4")

    loaded = load_how2sign(root)
    assert {name: len(ds) for name, ds in loaded.items()} == {"train": 2, "dev": 1, "test": 1}
    train = loaded["train"]
    assert train.features["start"] == datasets.Value("float32")
    assert train["text"][1] == '"Aahh", good, then we have our victim.'
    assert train[0]["video"] == str(root / "train_rgb_front_clips" / "raw_videos" / "--7E2sU6zP4_10-5-rgb_front.mp4")
    assert train[0]["start"] == pytest.approx(129.06, abs=1e-4) and train[0]["end"] == pytest.approx(142.48, abs=1e-4)
    assert (train[0]["video_id"], train[0]["sentence_id"]) == ("--7E2sU6zP4", "--7E2sU6zP4_10")
    assert loaded["dev"][0]["name"] == "-d5dN54tH2E_0-1-rgb_front"
    assert loaded["test"][0]["video"].endswith(
        "sentence_level/test/rgb_front/raw_videos/-fZc293MpJk_0-1-rgb_front.mp4"
    )
    assert len(load_how2sign(root, split="val")) == 1


# ----------------------------------------------------------------------------------------------------------------
# Generic loader
# ----------------------------------------------------------------------------------------------------------------


def test_generic_csv_autodetect(tmp_path, caplog):
    touch(tmp_path / "clips" / "a.mp4")
    absolute = touch(tmp_path / "elsewhere" / "b.mp4")
    (tmp_path / "data.csv").write_text(
        f'video_path,sentence,signer,score,code\nclips/a.mp4,hello there,1,0.5,007\n{absolute},"bye, bye",2,1,010\n',
        encoding="utf-8",
    )
    loaded = load_sign_dataset(tmp_path / "data.csv")
    assert list(loaded) == ["train"]
    ds = loaded["train"]
    assert ds["video"] == [str(tmp_path / "clips" / "a.mp4"), str(absolute)]
    assert ds["name"] == ["a", "b"]  # the video's file stem
    assert ds["text"] == ["hello there", "bye, bye"]
    assert ds["gloss"] == ["", ""]
    assert ds.features["signer"] == datasets.Value("int64")
    assert ds.features["score"] == datasets.Value("float32")
    assert ds.features["code"] == datasets.Value("string") and ds["code"] == ["007", "010"]  # ids keep their zeros


def test_generic_tsv_explicit_columns(tmp_path):
    touch(tmp_path / "v" / "x.mp4")
    (tmp_path / "data.tsv").write_text(
        "clip\tgerman\tglosses_here\tuid\ttext\nv/x.mp4\tguten tag\tGUT TAG\tid-1\tnot the target\n", encoding="utf-8"
    )
    with pytest.raises(SignInputError, match="no video column; looked for video, video_path, file_name"):
        load_sign_dataset(tmp_path / "data.tsv")
    with pytest.raises(SignInputError, match=r"gloss_column='gloss' is not a column; the columns are clip, german"):
        load_sign_dataset(tmp_path / "data.tsv", video_column="clip", gloss_column="gloss")
    ds = load_sign_dataset(
        tmp_path / "data.tsv",
        split="train",
        video_column="clip",
        text_column="german",
        gloss_column="glosses_here",
        name_column="uid",
    )
    assert ds[0] == {"name": "id-1", "video": str(tmp_path / "v" / "x.mp4"), "text": "guten tag", "gloss": "GUT TAG"}


def test_generic_jsonl_with_split_column(tmp_path):
    rows = [
        {"file_name": "a.mp4", "text": "one", "gloss": ["A", "B"], "split": "train"},
        {"file_name": "b.mp4", "text": "two", "split": "val"},
        {"file_name": "c.mp4", "text": "three", "split": "test"},
        {"file_name": "d.mp4", "text": "four", "split": "train"},
    ]
    (tmp_path / "clips.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    loaded = load_sign_dataset(tmp_path / "clips.jsonl", on_missing_video="keep")
    assert {name: len(ds) for name, ds in loaded.items()} == {"train": 2, "dev": 1, "test": 1}
    assert loaded["train"]["gloss"] == ["A B", ""]
    assert "split" not in loaded["train"].column_names
    dev = load_sign_dataset(tmp_path / "clips.jsonl", split="validation", on_missing_video="keep")
    assert dev["name"] == ["b"]
    with pytest.raises(SignInputError, match="unknown split 'extra'; available splits: train, dev, test"):
        load_sign_dataset(tmp_path / "clips.jsonl", split="extra", on_missing_video="keep")
    with pytest.raises(SignInputError, match=r"clips.jsonl: 2 of 2 entries of split 'train' have no video"):
        load_sign_dataset(tmp_path / "clips.jsonl")


def test_generic_videofolder_without_split_folders(tmp_path):
    touch(tmp_path / "x.mp4")
    (tmp_path / "metadata.csv").write_text("file_name,text\nx.mp4,hello\nmissing.mp4,gone\n", encoding="utf-8")
    loaded = load_sign_dataset(tmp_path, on_missing_video="skip")
    assert list(loaded) == ["train"] and loaded["train"]["video"] == [str(tmp_path / "x.mp4")]


def test_generic_synthetic_corpus_layout(tmp_path):
    """The layout `make_synthetic_corpus` writes: corpus.json + <split>/metadata.jsonl, videos or frame folders."""
    (tmp_path / "corpus.json").write_text(json.dumps({"num_signs": 3}), encoding="utf-8")
    for split in ("train", "dev", "test"):
        rows = []
        for index in range(2):
            stem = f"{split}-{index:05d}"
            frame_folder = index == 1
            if frame_folder:
                touch(tmp_path / split / stem / "frame_00000.png")
            else:
                touch(tmp_path / split / f"{stem}.mp4")
            rows.append(
                {
                    "file_name": stem if frame_folder else f"{stem}.mp4",
                    "name": stem,
                    "text": "the sun shines",
                    "gloss": "SUN SHINE",
                    "num_frames": 3,
                    "fps": 25.0,
                    "signer": index,
                    "descriptions": ["rest", "right hand at the chin", "rest"],
                    "sign_spans": [[0, 1], [1, 3]],
                }
            )
        (tmp_path / split / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    loaded = load_sign_dataset(tmp_path)
    assert {name: len(ds) for name, ds in loaded.items()} == {"train": 2, "dev": 2, "test": 2}
    assert loaded["dev"].features == datasets.Features(
        {
            "name": datasets.Value("string"),
            "video": datasets.Value("string"),
            "text": datasets.Value("string"),
            "gloss": datasets.Value("string"),
            "num_frames": datasets.Value("int64"),
            "fps": datasets.Value("float32"),
            "signer": datasets.Value("int64"),
            "descriptions": datasets.List(datasets.Value("string")),
            "sign_spans": datasets.List(datasets.List(datasets.Value("int64"))),
        }
    )
    row = loaded["test"][1]
    assert row["video"] == str(tmp_path / "test" / "test-00001")
    assert row["sign_spans"] == [[0, 1], [1, 3]] and row["descriptions"][1] == "right hand at the chin"
    assert load_sign_dataset(tmp_path, split="val")["video"][0] == str(tmp_path / "dev" / "dev-00000.mp4")


def test_generic_bad_inputs(tmp_path):
    with pytest.raises(SignInputError, match="does not exist"):
        load_sign_dataset(tmp_path / "nope.csv")
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(SignInputError, match=r"empty_folder holds no metadata.jsonl or metadata.csv"):
        load_sign_dataset(tmp_path / "empty_folder")
    (tmp_path / "data.parquet").write_bytes(b"PAR1")
    with pytest.raises(SignInputError, match=r"data.parquet: unsupported file type '.parquet'"):
        load_sign_dataset(tmp_path / "data.parquet")
    (tmp_path / "bad.jsonl").write_text('{"video": "a.mp4", "text": "x"}\n{"video": \n', encoding="utf-8")
    with pytest.raises(SignInputError, match=r"bad.jsonl, line 2: invalid JSON"):
        load_sign_dataset(tmp_path / "bad.jsonl")
    (tmp_path / "notext.jsonl").write_text('{"video": "a.mp4", "text": null}\n', encoding="utf-8")
    with pytest.raises(SignInputError, match=r"notext.jsonl, line 1: column 'text' is None"):
        load_sign_dataset(tmp_path / "notext.jsonl", on_missing_video="keep")
    with pytest.raises(SignInputError, match="on_missing_video: expected one of"):
        load_sign_dataset(tmp_path / "notext.jsonl", on_missing_video="ignore")


# ----------------------------------------------------------------------------------------------------------------
# Pickle safety and broken label files
# ----------------------------------------------------------------------------------------------------------------


class _ShellPayload:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return os.system, (f"touch {self.target}",)


class _ExecPayload:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return exec, (f"open({str(self.target)!r}, 'w').write('pwned')",)


def test_exec_payload_really_runs_with_plain_pickle(tmp_path):
    """Control: the payload used below does create its file under an ordinary `pickle.loads`."""
    target = tmp_path / "created_by_plain_pickle"
    pickle.loads(pickle.dumps({"a": {"text": _ExecPayload(target)}}))
    assert target.exists()


@pytest.mark.parametrize("payload", [_ShellPayload, _ExecPayload])
def test_tampered_label_file_is_refused_and_runs_nothing(tmp_path, payload):
    target = tmp_path / "pwned"
    root = tmp_path / "labels"
    path = write_gzip_pickle(root / "labels.train", {"train/a": {"name": "train/a", "text": payload(target)}})
    with pytest.raises(SignInputError) as error:
        load_phoenix14t(root, on_missing_video="keep")
    message = str(error.value)
    assert str(path) in message and "disallowed global" in message
    assert ("system" in message) if payload is _ShellPayload else ("builtins.exec" in message)
    assert not target.exists()


def test_tampered_plain_pickle_is_refused(tmp_path):
    target = tmp_path / "pwned"
    label_dir = tmp_path / "sentence_label"
    label_dir.mkdir()
    (label_dir / "csl2020ct_v2.pkl").write_bytes(pickle.dumps({"info": [_ExecPayload(target)]}))
    (label_dir / "split_1.txt").write_text("name|split\na|train\n", encoding="utf-8")
    with pytest.raises(
        SignInputError, match=r"csl2020ct_v2.pkl: the pickle contains a disallowed global 'builtins.exec'"
    ):
        load_csl_daily(tmp_path, on_missing_video="keep")
    assert not target.exists()


def test_corrupt_and_truncated_label_files(tmp_path):
    good = gzip.compress(pickle.dumps({"a": {"text": "hello " * 200}}))
    cases = {
        "truncated_gzip": good[: len(good) // 2],
        "corrupt_gzip": good[:10] + b"\xff" * 40,
        "truncated_pickle": pickle.dumps({"a": {"text": "hello"}})[:-5],
        "not_a_pickle": b"name|split\na|train\n",
        "empty": b"",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(SignInputError, match=re.escape(str(path))):
            load_pickle(path)
    with pytest.raises(SignInputError, match="file not found"):
        load_pickle(tmp_path / "absent")
    root = tmp_path / "root"
    root.mkdir()
    (root / "labels.dev").write_bytes(cases["truncated_gzip"])
    with pytest.raises(SignInputError, match=r"labels.dev: could not be read as a gzip-compressed pickle"):
        load_how2sign(root, on_missing_video="keep")


def test_label_files_with_wrong_structure(tmp_path):
    path = write_gzip_pickle(tmp_path / "list" / "labels.train", [{"text": "x"}])
    with pytest.raises(SignInputError, match=re.escape(f"{path}: holds a list; expected a dict")):
        read_label_file(path)
    path = write_gzip_pickle(tmp_path / "notext" / "labels.test", {"S1": {"name": "S1", "gloss": ["A"]}})
    with pytest.raises(SignInputError, match=re.escape(f"{path}: entry 'S1' has no field 'text'")):
        load_csl_daily(path.parent, on_missing_video="keep")
    path = write_gzip_pickle(tmp_path / "badgloss" / "labels.test", {"S1": {"text": "x", "gloss": 3}})
    with pytest.raises(SignInputError, match=re.escape(f"{path}: entry 'S1' has field 'gloss' of type int")):
        load_csl_daily(path.parent, on_missing_video="keep")


def test_missing_root_unknown_split_and_empty_root(tmp_path):
    with pytest.raises(SignInputError, match=re.escape(f"PHOENIX14T root {tmp_path / 'absent'} does not exist")):
        load_phoenix14t(tmp_path / "absent")
    with pytest.raises(SignInputError, match=re.escape(f"CSL-Daily root {tmp_path} holds no annotations: looked for")):
        load_csl_daily(tmp_path)
    with pytest.raises(SignInputError, match=r"how2sign_realigned_\{train,val,test\}.csv"):
        load_how2sign(tmp_path)
    write_gzip_pickle(tmp_path / "labels.train", {"train/a": {"text": "x"}})
    with pytest.raises(
        SignInputError, match=re.escape(f"{tmp_path}: unknown split 'training'; available splits: train")
    ):
        load_phoenix14t(tmp_path, split="training", on_missing_video="keep")
    with pytest.raises(SignInputError, match=r"on_missing_video: expected one of 'error', 'skip', 'keep'"):
        load_phoenix14t(tmp_path, on_missing_video="drop")


def test_docstring_examples_run():
    for module in (safe_pickle, loaders, generic):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
