"""MMSLT steps A/B: frame descriptions with an image MLLM, their text embeddings, and the resumable cache.

The MLLM is a tiny random LLaVA-OneVision (SigLIP 2 layers / hidden 32, 16-px tiles; Qwen2 2 layers / hidden 32)
with a byte-level BPE tokenizer trained here, and the text encoder a tiny random BERT with a WordPiece vocabulary
built here; both are saved to a temp folder and loaded back through the real `from_pretrained` path, offline.
"""

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from sign_translation.processing import (
    DEFAULT_DESCRIPTION_PROMPT,
    DescriptionCache,
    DescriptionEncoder,
    SignDescriptionGenerator,
    SignInputError,
    describe_dataset,
    descriptions_from_corpus,
    encode_descriptions,
)
from sign_translation.processing.description_cache import row_checksum

CHAT_TEMPLATE = (  # the llava-onevision-qwen2 template, shortened
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + ' ' }}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ '\n' + content['text'] }}"
    "{% endfor %}{{ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny models are dispatch-bound: extra threads only spin against other work on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from sign_translation.data import load_sign_dataset, make_synthetic_corpus

    root = tmp_path_factory.mktemp("describe_corpus")
    make_synthetic_corpus(
        root, num_train=4, num_dev=1, num_test=0, image_size=32, seed=1, frames_per_sign=3, transition_frames=2,
        rest_frames=1,
    )  # fmt: skip
    return root, load_sign_dataset(root)


@pytest.fixture(scope="module")
def mllm_dir(tmp_path_factory):
    """A tiny random LLaVA-OneVision + processor + tokenizer, saved like a Hub checkpoint."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
        Qwen2Config,
        Qwen2Tokenizer,
        SiglipVisionConfig,
    )

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(
        [DEFAULT_DESCRIPTION_PROMPT, "the right hand moves up to the chin; face: raised brows"] * 4, trainer
    )
    merges = [
        tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in json.loads(bpe.to_str())["model"]["merges"]
    ]
    tokenizer = Qwen2Tokenizer(vocab=bpe.get_vocab(), merges=merges, additional_special_tokens=specials[1:])
    grid = [[16, 16], [16, 32], [32, 16], [32, 32]]
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size={"height": 16, "width": 16}, image_grid_pinpoints=grid),
        tokenizer=tokenizer,
        video_processor=LlavaOnevisionVideoProcessor(size={"height": 16, "width": 16}),
        num_image_tokens=4,  # (16 px / 8 px patches)²
        vision_feature_select_strategy="full",
        chat_template=CHAT_TEMPLATE,
    )
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = LlavaOnevisionConfig(
        vision_config=SiglipVisionConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=16,
            patch_size=8, vision_use_head=False,
        ),
        text_config=Qwen2Config(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=im_end,
        ),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=grid,
        vision_feature_select_strategy="full",
    )  # fmt: skip
    torch.manual_seed(0)
    model = LlavaOnevisionForConditionalGeneration(config)
    model.generation_config.pad_token_id, model.generation_config.eos_token_id = tokenizer.pad_token_id, im_end
    path = tmp_path_factory.mktemp("tiny_llava_onevision")
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory, corpus):
    from transformers import BertConfig, BertModel, BertTokenizer

    texts = [t for row in corpus[1]["train"]["descriptions"] for t in row]
    words = sorted({w for t in texts for w in t.replace(";", " ").replace(":", " ").replace(",", " ").split()})
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ";", ":", ","] + words)}
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=False)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_bert")
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def generator(mllm_dir):
    return SignDescriptionGenerator.from_pretrained(mllm_dir, max_new_tokens=3, batch_size=4, device="cpu")


@pytest.fixture(scope="module")
def encoder(bert_dir):
    return DescriptionEncoder.from_pretrained(bert_dir, max_length=64, batch_size=16, device="cpu")


def all_names(dataset) -> list[str]:
    return [n for split in dataset.values() for n in split["name"]]


def frames_of(dataset) -> dict[str, int]:
    return {
        r["name"]: r["num_frames"] for split in dataset.values() for r in split.select_columns(["name", "num_frames"])
    }


# --------------------------------------------------------------------------------------------------- step A
def test_generator_batches_greedy_chat_prompts_and_decodes_only_new_tokens(generator, monkeypatch):
    assert generator.processor.tokenizer.padding_side == "left"
    prompt = generator.chat_prompt()
    assert "<image>" in prompt and DEFAULT_DESCRIPTION_PROMPT in prompt and prompt.endswith("assistant\n")
    calls = []
    original = generator.model.generate

    def recording_generate(**kwargs):
        calls.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(generator.model, "generate", recording_generate)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (5, 24, 32, 3), dtype=np.uint8)  # one video array (T, H, W, C)
    descriptions = generator.describe_frames(frames)
    assert len(descriptions) == 5 and all(isinstance(d, str) for d in descriptions)
    assert [c["input_ids"].shape[0] for c in calls] == [4, 1]  # batch_size frames per generate call
    assert all(c["do_sample"] is False and c["max_new_tokens"] == 3 for c in calls)
    # greedy and batch-independent: frame by frame (as PIL images / CHW tensors) gives the same texts
    from PIL import Image

    singles = [generator.describe_frames([Image.fromarray(f)])[0] for f in frames[:2]]
    singles += [generator.describe_frames([torch.from_numpy(f).permute(2, 0, 1)])[0] for f in frames[2:]]
    assert singles == descriptions
    # only the new tokens are decoded: the prompt never leaks into a description
    new_ids = original(**calls[-1])[:, calls[-1]["input_ids"].shape[1] :]
    assert generator.processor.batch_decode(new_ids, skip_special_tokens=True)[0].strip() == descriptions[-1]
    assert all("Describe" not in d and "assistant" not in d for d in descriptions)


def test_generator_rejects_bad_frames_and_settings(generator):
    with pytest.raises(SignInputError, match=r"frames\[0\]"):
        generator.describe_frames([np.zeros((8, 8), np.uint8)])
    with pytest.raises(SignInputError, match="uint8"):
        generator.describe_frames(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(SignInputError, match="prompt"):
        SignDescriptionGenerator(generator.model, generator.processor, prompt=" ")
    custom = SignDescriptionGenerator(generator.model, generator.processor, prompt="Describe the hands.")
    assert custom.settings["prompt"] == "Describe the hands." and "Describe the hands." in custom.chat_prompt()


def test_describe_dataset_describes_every_frame_once(generator, corpus, tmp_path):
    _, dataset = corpus
    cache = describe_dataset(generator, dataset, tmp_path / "desc", videos_per_shard=2, disable_progress=True)
    num_frames = frames_of(dataset)
    assert sorted(cache.names) == sorted(all_names(dataset))  # one row per video, train and dev in one cache
    for name, n in num_frames.items():
        entry = cache.get(name)
        assert entry["num_frames"] == n
        assert entry["frame_indices"].tolist() == list(range(n))
        assert len(entry["descriptions"]) == n and all(isinstance(t, str) for t in entry["descriptions"])
    assert len(cache.shard_files()) == 3  # 5 videos, 2 per shard
    assert cache.dataset.num_rows == 5
    info = json.loads((tmp_path / "desc" / "cache_info.json").read_text())
    assert info["kind"] == "descriptions"
    assert info["settings"] == {
        "source": "mllm", "model": generator.name_or_path, "prompt": DEFAULT_DESCRIPTION_PROMPT,
        "max_new_tokens": 3, "frame_stride": 1,
    }  # fmt: skip
    # the stored text is what the generator says for those frames
    from sign_translation.processing import read_video

    name = dataset["dev"][0]["name"]
    frames, _, _ = read_video(dataset["dev"][0]["video"])
    assert cache.get(name)["descriptions"][:4] == generator.describe_frames(frames[:4])


def test_frame_stride_and_nearest_frame_lookup(generator, corpus, tmp_path):
    _, dataset = corpus
    cache = describe_dataset(generator, dataset["dev"], tmp_path / "desc", frame_stride=3, disable_progress=True)
    name = dataset["dev"][0]["name"]
    n = dataset["dev"][0]["num_frames"]
    entry = cache.get(name)
    assert entry["frame_indices"].tolist() == list(range(0, n, 3))
    assert cache.rows_for(name, [0, 1, 2, 3, 4, 5, n - 1]).tolist()[:6] == [0, 0, 1, 1, 1, 2]  # 1.5 → earlier
    texts = cache.descriptions_for(name, [4, 3])
    assert texts == [entry["descriptions"][1]] * 2


def _dataset_with_a_broken_video(corpus, tmp_path):
    """The dev video, a corrupt file, a missing file and a train video, as a plain name/video table."""
    import datasets

    _, dataset = corpus
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    paths = [dataset["dev"][0]["video"], str(broken), str(tmp_path / "gone.mp4"), dataset["train"][0]["video"]]
    paths = [p["path"] if isinstance(p, dict) else p for p in paths]
    return datasets.Dataset.from_dict({"name": ["good-a", "broken", "gone", "good-b"], "video": paths})


def test_describe_keeps_good_videos_and_reports_each_bad_one(generator, corpus, tmp_path):
    table = _dataset_with_a_broken_video(corpus, tmp_path)
    failures = []
    cache = describe_dataset(generator, table, tmp_path / "desc", disable_progress=True, failures=failures)
    assert sorted(cache.names) == ["good-a", "good-b"]
    assert [name for name, _ in failures] == ["broken", "gone"]
    assert "FFmpeg cannot open this file" in failures[0][1] and "not found" in failures[1][1]
    # without a failures list: the same work is done, then one error lists the bad videos
    with pytest.raises(SignInputError, match=r"2 video\(s\) could not be described .*broken: .*gone: "):
        describe_dataset(generator, table, tmp_path / "desc2", disable_progress=True)
    assert sorted(DescriptionCache.load(tmp_path / "desc2").names) == ["good-a", "good-b"]


def test_describe_fail_fast_keeps_what_was_done(generator, corpus, tmp_path):
    table = _dataset_with_a_broken_video(corpus, tmp_path)
    failures = []
    cache = describe_dataset(generator, table, tmp_path / "desc", disable_progress=True, failures=failures,
                             fail_fast=True)
    assert cache.names == ["good-a"] and [name for name, _ in failures] == ["broken"]


def test_describe_command_reports_bad_videos_and_exits_1(mllm_dir, bert_dir, corpus, tmp_path, capsys):
    """`sign-translation describe` over a table with a corrupt video: the good rows are described and encoded, the
    bad one is named with its reason on stderr, exit status 1; --fail-fast stops at it (what was done is kept)."""
    import csv

    from sign_translation.cli import main

    _, dataset = corpus
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    videos = [dataset["dev"][0]["video"], str(broken), dataset["train"][0]["video"]]
    table = tmp_path / "table.csv"
    with open(table, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "video", "text", "split"])
        for i, video in enumerate(videos):
            writer.writerow([f"clip{i}", video["path"] if isinstance(video, dict) else video, "a b", "train"])
    common = ["--mllm", mllm_dir, "--encoder", bert_dir, "--splits", "train", "--max-new-tokens", "2", "--device", "cpu"]

    assert main(["-q", "describe", str(table), str(tmp_path / "fast"), *common, "--fail-fast", "--skip-encoding"]) == 1
    err = capsys.readouterr().err
    assert "1 of 2 video(s) could not be described (stopped at the first one: --fail-fast)" in err
    assert DescriptionCache.load(tmp_path / "fast" / "descriptions").names == ["clip0"]

    assert main(["-q", "describe", str(table), str(tmp_path / "all"), *common]) == 1
    err = capsys.readouterr().err
    assert "1 of 3 video(s) could not be described:" in err and "clip1: " in err and "FFmpeg cannot open" in err
    assert sorted(DescriptionCache.load(tmp_path / "all" / "embeddings").names) == ["clip0", "clip2"]


class Interrupted(Exception):
    pass


def test_interrupted_run_resumes_without_redoing_or_duplicating(generator, corpus, tmp_path, monkeypatch):
    _, dataset = corpus
    names = all_names(dataset)
    cache_dir = tmp_path / "desc"
    described: list[int] = []
    original = SignDescriptionGenerator.describe_frames

    def stop_after_two(self, frames):
        if len(described) == 2:
            raise Interrupted  # e.g. the job's time ran out while the third video was being described
        described.append(len(frames))
        return original(self, frames)

    monkeypatch.setattr(SignDescriptionGenerator, "describe_frames", stop_after_two)
    with pytest.raises(Interrupted):
        describe_dataset(generator, dataset, cache_dir, videos_per_shard=1, disable_progress=True)
    partial = DescriptionCache.load(cache_dir)
    assert partial.names == names[:2]
    before = {p.name: p.read_bytes() for p in partial.shard_files()}
    checksums = {n: partial.checksum(n) for n in partial.names}

    monkeypatch.setattr(SignDescriptionGenerator, "describe_frames", original)
    calls: list[int] = []

    def counting(self, frames):
        calls.append(len(frames))
        return original(self, frames)

    monkeypatch.setattr(SignDescriptionGenerator, "describe_frames", counting)
    cache = describe_dataset(generator, dataset, cache_dir, videos_per_shard=1, disable_progress=True)
    num_frames = frames_of(dataset)
    assert calls == [num_frames[n] for n in names[2:]]  # only the missing videos
    assert sorted(cache.names) == sorted(names) and len(cache.dataset) == len(names)  # no duplicates
    assert len(set(cache.dataset["name"])) == len(names)
    assert {n: cache.checksum(n) for n in names[:2]} == checksums  # finished rows unchanged
    assert all((cache_dir / f).read_bytes() == data for f, data in before.items())
    calls.clear()
    describe_dataset(generator, dataset, cache_dir, disable_progress=True)  # a third run does nothing
    assert calls == []


@pytest.mark.slow
def test_killed_while_writing_a_shard_leaves_no_half_entry(corpus, tmp_path):
    """SIGKILL between writing a shard's temp file and renaming it: the next run cleans up and resumes."""
    root, dataset = corpus
    cache_dir = tmp_path / "desc"
    script = textwrap.dedent(f"""
        import os, signal
        from sign_translation.data import load_sign_dataset
        from sign_translation.processing import description_cache, descriptions_from_corpus
        real_replace, renamed = os.replace, []
        def replace(src, dst):
            if str(dst).endswith(".arrow"):
                if len(renamed) == 2:
                    os.kill(os.getpid(), signal.SIGKILL)  # the third shard's temp file is complete, not renamed
                renamed.append(dst)
            real_replace(src, dst)
        description_cache.os.replace = replace
        descriptions_from_corpus(load_sign_dataset({str(root)!r}), {str(cache_dir)!r}, videos_per_shard=1)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    leftovers = [p.name for p in cache_dir.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1  # the killed shard, under its temporary name only
    assert len(DescriptionCache.load(cache_dir)) == 2  # readers never see it
    cache = descriptions_from_corpus(dataset, cache_dir, videos_per_shard=1)
    assert sorted(cache.names) == sorted(all_names(dataset))
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".tmp")]


# --------------------------------------------------------------------------------------------------- the cache
def test_corrupt_entries_are_detected_with_shard_and_video(corpus, tmp_path):
    _, dataset = corpus
    cache = descriptions_from_corpus(dataset, tmp_path / "desc", videos_per_shard=2)
    shard = cache.shard_files()[0]
    first = cache.dataset[0]
    data = shard.read_bytes()
    needle = first["descriptions"][0].encode()
    assert needle in data
    shard.write_bytes(data.replace(needle, needle.upper(), 1))  # same length, other content: a flipped sector
    with pytest.raises(SignInputError, match=rf"{shard.name}.*video '{first['name']}'.*checksum mismatch"):
        DescriptionCache.load(tmp_path / "desc")
    with pytest.raises(SignInputError, match="checksum mismatch"):  # a resumed run refuses it too
        descriptions_from_corpus(dataset, tmp_path / "desc")

    shard.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(SignInputError, match=rf"{shard.name}.*(unreadable|truncated)"):
        DescriptionCache.load(tmp_path / "desc")
    shard.write_bytes(b"not an arrow file")
    with pytest.raises(SignInputError, match=rf"{shard.name}.*unreadable"):
        DescriptionCache.load(tmp_path / "desc")
    shard.unlink()  # the advertised fix: delete the shard and re-run
    assert len(descriptions_from_corpus(dataset, tmp_path / "desc")) == 5


def test_shape_mismatch_between_frame_indices_and_embeddings_is_detected(tmp_path):
    import pyarrow as pa

    cache = DescriptionCache(tmp_path / "emb")
    with cache.writer("embeddings", {"encoder": "x", "dim": 3}) as writer:
        writer.add("a", [0, 1], 2, embeddings=np.ones((2, 3), np.float32), source_checksum="s")
    shard = cache.shard_files()[0]
    with pa.memory_map(str(shard)) as source:
        reader = pa.ipc.open_stream(source)
        schema, table = reader.schema, reader.read_all()
    table = table.set_column(2, "frame_indices", pa.array([[0]], pa.list_(pa.int64())))  # one index, 2 vectors
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as stream:
        stream.write_table(table.cast(schema))
    shard.write_bytes(sink.getvalue().to_pybytes())
    with pytest.raises(SignInputError, match=rf"{shard.name}.*video 'a'.*1 frame indices but 2 embeddings"):
        DescriptionCache.load(tmp_path / "emb")


def test_settings_mismatch_needs_overwrite(generator, corpus, tmp_path):
    _, dataset = corpus
    dev = dataset["dev"]
    describe_dataset(generator, dev, tmp_path / "desc", disable_progress=True)
    other = SignDescriptionGenerator(generator.model, generator.processor, prompt="Describe the hands.",
                                     max_new_tokens=3, name_or_path=generator.name_or_path)  # fmt: skip
    with pytest.raises(SignInputError, match="other settings.*prompt"):
        describe_dataset(other, dev, tmp_path / "desc", disable_progress=True)
    with pytest.raises(SignInputError, match="frame_stride"):
        describe_dataset(generator, dev, tmp_path / "desc", frame_stride=2, disable_progress=True)
    with pytest.raises(SignInputError, match="descriptions cache"):  # a descriptions folder is no embeddings cache
        DescriptionCache(tmp_path / "desc").writer("embeddings", {"dim": 4})
    cache = describe_dataset(other, dev, tmp_path / "desc", overwrite=True, disable_progress=True)
    assert cache.settings["prompt"] == "Describe the hands." and len(cache) == 1


def test_one_writer_at_a_time(tmp_path):
    cache = DescriptionCache(tmp_path / "c")
    with cache.writer("descriptions", {"source": "test"}) as writer:
        writer.add("a", [0], 1, descriptions=["x"])
        with pytest.raises(SignInputError, match="another process is writing"):
            DescriptionCache(tmp_path / "c").writer("descriptions", {"source": "test"})
        with pytest.raises(SignInputError, match="already cached"):
            writer.add("a", [0], 1, descriptions=["y"])
        with pytest.raises(SignInputError, match="expected 2 description strings"):
            writer.add("b", [0, 1], 2, descriptions=["y"])
        with pytest.raises(SignInputError, match="increase strictly"):
            writer.add("b", [1, 0], 2, descriptions=["y", "z"])
    assert DescriptionCache.load(tmp_path / "c").names == ["a"]


# --------------------------------------------------------------------------------------------------- step B
def test_encoder_cls_is_the_first_token_state_and_mean_pools_the_mask(encoder):
    texts = ["right hand: at the chin", "face: neutral", "left hand: resting at the side; face: neutral"]
    vectors = encoder.encode(texts)
    assert vectors.shape == (3, encoder.dim) and vectors.dtype == np.float32
    for text, vector in zip(texts, vectors):  # one by one, no padding: the [CLS] state
        inputs = encoder.tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            hidden = encoder.model(**inputs).last_hidden_state[0]
        assert inputs["input_ids"][0, 0] == encoder.tokenizer.cls_token_id
        np.testing.assert_allclose(vector, hidden[0].numpy(), atol=1e-5)
    mean = DescriptionEncoder(encoder.model, encoder.tokenizer, pooling="mean").encode(texts[:1])
    inputs = encoder.tokenizer(texts[0], return_tensors="pt")
    with torch.no_grad():
        expected = encoder.model(**inputs).last_hidden_state[0].mean(0)
    np.testing.assert_allclose(mean[0], expected.numpy(), atol=1e-5)
    assert encoder.encode([]).shape == (0, encoder.dim)
    with pytest.raises(SignInputError, match="pooling"):
        DescriptionEncoder(encoder.model, encoder.tokenizer, pooling="max")


def test_encode_descriptions_lookup_resume_and_staleness(encoder, corpus, tmp_path, monkeypatch):
    _, dataset = corpus
    descriptions = descriptions_from_corpus(dataset, tmp_path / "desc", frame_stride=2, videos_per_shard=2)
    embeddings = encode_descriptions(encoder, tmp_path / "desc", tmp_path / "emb", disable_progress=True)
    assert embeddings.kind == "embeddings" and embeddings.dim == encoder.dim
    assert embeddings.settings["descriptions"] == descriptions.settings
    name = dataset["train"][1]["name"]
    texts = dataset["train"][1]["descriptions"]
    entry = embeddings.get(name)
    assert entry["embeddings"].shape == (len(range(0, len(texts), 2)), encoder.dim)
    assert entry["source_checksum"] == descriptions.checksum(name)
    sampled = [0, 2, 3, 7, len(texts) - 1]  # e.g. a collator's sampled frames; odd ones map to a neighbour
    nearest = [0, 2, 2, 6, (len(texts) - 1) // 2 * 2]
    got = embeddings.embeddings_for(name, sampled)
    assert got.shape == (5, encoder.dim) and got.dtype == np.float32
    np.testing.assert_allclose(got, encoder.encode([texts[i] for i in nearest]), atol=1e-5)

    calls = []
    monkeypatch.setattr(encoder, "encode", lambda t: calls.append(t) or DescriptionEncoder.encode(encoder, t))
    encode_descriptions(encoder, descriptions, tmp_path / "emb", disable_progress=True)
    assert calls == []  # all cached: nothing re-encoded

    # one video per group: a text repeated across videos is still encoded once, with the same vectors
    again = encode_descriptions(encoder, descriptions, tmp_path / "emb1", videos_per_shard=1, disable_progress=True)
    encoded = [text for call in calls for text in call]
    distinct = {t for n in descriptions.names for t in descriptions.get(n)["descriptions"]}
    assert sorted(encoded) == sorted(distinct) and len(encoded) < sum(len(descriptions.get(n)["descriptions"])
                                                                      for n in descriptions.names)
    np.testing.assert_allclose(again.get(name)["embeddings"], entry["embeddings"], atol=1e-5)
    calls.clear()

    # a descriptions row regenerated differently (same settings) makes its cached vectors stale
    victim = descriptions.dataset[0]["name"]
    shard = next(p for p in descriptions.shard_files() if victim.encode() in p.read_bytes())
    shard.unlink()
    with DescriptionCache(tmp_path / "desc").writer("descriptions", descriptions.settings, rows_per_shard=1) as w:
        gone = [n for n in all_names(dataset) if n not in w]
        for n in gone:
            w.add(n, [0], 1, descriptions=["something else"])
    with pytest.raises(SignInputError, match="other descriptions"):
        encode_descriptions(encoder, tmp_path / "desc", tmp_path / "emb", disable_progress=True)
    with pytest.raises(SignInputError, match="pooling"):  # another encoder setting on the same folder
        encode_descriptions(DescriptionEncoder(encoder.model, encoder.tokenizer, pooling="mean"), tmp_path / "desc",
                            tmp_path / "emb", disable_progress=True)  # fmt: skip


def test_descriptions_from_corpus_matches_the_corpus_column(corpus, tmp_path):
    _, dataset = corpus
    cache = descriptions_from_corpus(dataset, tmp_path / "desc")
    for split in dataset.values():
        for row in split:
            entry = cache.get(row["name"])
            assert entry["descriptions"] == row["descriptions"]
            assert entry["frame_indices"].tolist() == list(range(row["num_frames"]))
    broken = dataset["dev"].map(lambda r: {"descriptions": r["descriptions"][:-1]})
    with pytest.raises(SignInputError, match=r"dev-00000.*descriptions for \d+ frames"):
        descriptions_from_corpus(broken, tmp_path / "other")


def test_cache_reopens_in_worker_processes(encoder, corpus, tmp_path):
    _, dataset = corpus
    descriptions_from_corpus(dataset, tmp_path / "desc")
    cache = encode_descriptions(encoder, tmp_path / "desc", tmp_path / "emb", disable_progress=True)
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.verify is False and clone._shards is None  # re-opened lazily, rows already checked
    name = cache.names[0]
    np.testing.assert_array_equal(clone.embeddings_for(name, [1, 0]), cache.embeddings_for(name, [1, 0]))

    # a training set holding the (unloaded) cache: each worker process opens it on its first lookup
    loader = torch.utils.data.DataLoader(
        DescriptionTargets(pickle.loads(pickle.dumps(cache)), cache.names), batch_size=2, num_workers=1,
        multiprocessing_context="fork",
    )  # fmt: skip
    batches = list(loader)
    assert torch.cat(batches).shape == (len(cache), 2, encoder.dim)
    np.testing.assert_array_equal(batches[0][0].numpy(), cache.embeddings_for(cache.names[0], [0, 1]))


class DescriptionTargets(torch.utils.data.Dataset):
    """What an MMSLT training set does: the description-mapper targets of a clip's sampled frames."""

    def __init__(self, cache: DescriptionCache, names: list[str]):
        self.cache, self.names = cache, names

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        return torch.from_numpy(self.cache.embeddings_for(self.names[i], [0, 1]).copy())


def test_bad_input(corpus, tmp_path):
    _, dataset = corpus
    with pytest.raises(SignInputError, match="not a description cache.*does not exist"):
        DescriptionCache(tmp_path / "missing").get("x")
    with pytest.raises(SignInputError, match="not a description cache"):
        DescriptionCache.load(tmp_path)
    cache = descriptions_from_corpus(dataset["dev"], tmp_path / "desc")
    with pytest.raises(SignInputError, match="no entry for video 'nope'"):
        cache.get("nope")
    with pytest.raises(SignInputError, match="out of range"):
        cache.descriptions_for("dev-00000", [10_000])
    with pytest.raises(SignInputError, match="holds no embeddings"):
        cache.embeddings_for("dev-00000", [0])
    doubled = dataset["dev"].add_item(dataset["dev"][0])
    with pytest.raises(SignInputError, match="occurs twice"):
        descriptions_from_corpus(doubled, tmp_path / "doubled")
    with pytest.raises(SignInputError, match="no 'name' column"):
        descriptions_from_corpus(dataset["dev"].remove_columns("name"), tmp_path / "noname")
    assert row_checksum("a", 1, np.array([0]), ["x"]) != row_checksum("a", 1, np.array([0]), ["y"])


# --------------------------------------------------------------------------------------------------- entry points
def test_cli_describe_runs_both_steps_and_resumes(mllm_dir, bert_dir, corpus, tmp_path, capsys):
    from sign_translation.cli import main

    root, dataset = corpus
    out = tmp_path / "run"
    argv = ["describe", str(root), str(out), "--mllm", mllm_dir, "--encoder", bert_dir, "--splits", "train,dev",
            "--max-new-tokens", "2", "--batch-size", "8", "--device", "cpu"]  # fmt: skip
    assert main(["-q", *argv]) == 0
    printed = capsys.readouterr().out
    assert f"({len(all_names(dataset))} videos" in printed and "dim 32" in printed
    embeddings = DescriptionCache.load(out / "embeddings")
    assert sorted(embeddings.names) == sorted(all_names(dataset))
    assert embeddings.settings["descriptions"]["model"] == mllm_dir
    assert main(["-q", *argv]) == 0  # resumes: nothing left to do
    assert main(["-q", *argv, "--prompt", "Describe the hands."]) == 2
    assert "other settings" in capsys.readouterr().err


def test_script_main_from_corpus_descriptions(bert_dir, corpus, tmp_path):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "train_scripts"))
    try:
        from generate_descriptions import main
    finally:
        sys.path.pop(0)
    root, dataset = corpus
    summary = main(["--dataset", "folder", "--data_dir", str(root), "--splits", "dev", "--from_corpus_descriptions",
                    "true", "--encoder_name_or_path", bert_dir, "--output_dir", str(tmp_path), "--device", "cpu"])  # fmt: skip
    assert summary["videos"] == 1 and summary["frames"] == dataset["dev"][0]["num_frames"] and summary["dim"] == 32
    cache = DescriptionCache.load(tmp_path / "embeddings")
    assert cache.get("dev-00000")["embeddings"].shape == (dataset["dev"][0]["num_frames"], 32)


def test_finished_caches_are_read_while_another_job_holds_the_lock(encoder, corpus, tmp_path):
    """Two benchmark jobs sharing one finished descriptions/embeddings cache: the second must not be refused
    because the first holds the writer's lock (it only reads); an unfinished cache still needs the lock."""
    _, dataset = corpus
    descriptions = descriptions_from_corpus(dataset, tmp_path / "desc")
    encode_descriptions(encoder, descriptions, tmp_path / "emb", disable_progress=True)
    with DescriptionCache(tmp_path / "desc").writer("descriptions", descriptions.settings):
        with DescriptionCache(tmp_path / "emb").writer("embeddings", DescriptionCache(tmp_path / "emb").settings):
            again = descriptions_from_corpus(dataset, tmp_path / "desc")  # finished: no lock taken
            assert sorted(again.names) == sorted(descriptions.names)
            embeddings = encode_descriptions(encoder, again, tmp_path / "emb", disable_progress=True)
            assert sorted(embeddings.names) == sorted(descriptions.names)
            with pytest.raises(SignInputError, match="another process"):
                descriptions_from_corpus(dataset, tmp_path / "desc", frame_stride=2)  # other settings: a writer
