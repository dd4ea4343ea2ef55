"""PHOENIX-synth: distinct signs for every gloss, the corpus builder on real annotations, and the benchmark's variants
end to end on a tiny budget."""

import hashlib
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

from sign_translation.data.synthetic import hashed_sign_collisions, sign_parameters_for
from sign_translation.data.synthetic_grammar import BUILTIN_SIGNS
from sign_translation.data.synthetic_render import hashed_sign_parameters

REPO = Path(__file__).resolve().parents[1]


def _colliding_glosses() -> tuple[str, str]:
    """Two made-up glosses whose plain hashed signs coincide (found by search: ~1 in 18,144 pairs collides)."""
    seen = {}
    for i in range(100_000):
        gloss = f"G{i}"
        sign = hashed_sign_parameters(gloss)
        if sign in seen:
            return seen[sign], gloss
        seen[sign] = gloss
    raise AssertionError("no collision among 100,000 glosses")


def test_distinct_signs_resolve_hash_collisions():
    first, second = _colliding_glosses()
    assert hashed_sign_parameters(first) == hashed_sign_parameters(second)
    glosses = [second, first, "WETTER", "REGEN"]
    vocabulary = sign_parameters_for(glosses)
    assert list(vocabulary) == glosses
    assert len(set(vocabulary.values())) == len(glosses)
    # the sorted-first gloss keeps its sign, the other draws again; glosses without a collision are unchanged
    keeps, redraws = sorted([first, second])
    assert vocabulary[keeps] == hashed_sign_parameters(keeps)
    assert vocabulary[redraws] == hashed_sign_parameters(redraws, 1) != hashed_sign_parameters(redraws)
    assert vocabulary["WETTER"] == hashed_sign_parameters("WETTER")
    report = hashed_sign_collisions([([first, "REGEN"], "a"), ([second, "REGEN"], "b"), (["WETTER"], "c")])
    assert report["gloss_pairs"] == 1 and report["glosses"] == 2
    assert report["clips"] == 2 and report["merged_sequences"] == 2


def test_distinct_signs_keep_builtin_signs():
    builtin = next(iter(BUILTIN_SIGNS))
    vocabulary = sign_parameters_for([builtin, "MORGEN"])
    assert vocabulary[builtin] == BUILTIN_SIGNS[builtin]
    assert vocabulary["MORGEN"] != BUILTIN_SIGNS[builtin]


def test_pairs_without_glosses_are_refused_unless_allowed(tmp_path):
    from sign_translation.data import load_sign_dataset
    from sign_translation.data.synthetic import write_synthetic_corpus
    from sign_translation.processing.errors import SignInputError

    pairs = {"train": [("REGEN NORD", "regen im norden")], "dev": [("", "sonst regnet es")], "test": []}
    with pytest.raises(SignInputError, match="gloss sequence is empty"):
        write_synthetic_corpus(tmp_path / "refused", pairs=pairs, num_train=None, num_dev=None, num_test=None)
    summary = write_synthetic_corpus(tmp_path / "kept", pairs=pairs, num_train=None, num_dev=None, num_test=None,
                                     image_size=32, allow_empty_glosses=True)
    assert summary.counts == {"train": 1, "dev": 1, "test": 0}
    dev = load_sign_dataset(tmp_path / "kept")["dev"][0]
    assert dev["gloss"] == "" and dev["text"] == "sonst regnet es" and dev["sign_spans"] == []
    assert dev["num_frames"] > 0  # the signer at rest


@pytest.fixture(scope="module")
def phoenix_labels(shared_data) -> Path:
    path = shared_data / "annotations" / "phoenix14t"
    if not (path / "labels.train").is_file():
        pytest.skip(f"PHOENIX14T label files not available in {path}")
    return path


def test_real_phoenix14t_hash_collisions_are_removed(phoenix_labels):
    from sign_translation.data.phoenix_synth import phoenix14t_pairs

    pairs = phoenix14t_pairs(phoenix_labels)
    assert {s: len(p) for s, p in pairs.items()} == {"train": 7096, "dev": 519, "test": 642}
    everything = [(p["gloss"], p["text"]) for items in pairs.values() for p in items]
    report = hashed_sign_collisions(everything)
    assert report["gloss_pairs"] > 0  # the plain assignment does collide at this size
    glosses = sorted({g for gloss, _ in everything for g in gloss.split()})
    assert len(glosses) == report["glosses_total"]
    assert len(set(sign_parameters_for(glosses).values())) == len(glosses)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_phoenix_synth_builder_on_20_pairs(phoenix_labels, tmp_path):
    from sign_translation.data import load_sign_dataset
    from sign_translation.data.phoenix_synth import phoenix14t_pairs, write_phoenix_synth

    counts = {"train": 14, "dev": 3, "test": 3}
    out = tmp_path / "phoenix_synth"
    summary = write_phoenix_synth(out, phoenix_labels, num_train=14, num_dev=3, num_test=3)
    assert summary.counts == counts and summary.rendered == 20 and summary.reused == 0

    # splits kept: each split holds the first pairs of the same PHOENIX14T split, in order
    pairs = phoenix14t_pairs(phoenix_labels)
    dataset = load_sign_dataset(out)
    for split, n in counts.items():
        assert dataset[split]["text"] == [p["text"] for p in pairs[split][:n]]
        assert dataset[split]["gloss"] == [" ".join(p["gloss"].split()) for p in pairs[split][:n]]

    # every gloss of the corpus has a sign of its own
    corpus = json.loads((out / "corpus.json").read_text())
    signs = [json.dumps(s, sort_keys=True) for s in corpus["vocabulary"].values()]
    used = {g for split in dataset.values() for row in split["gloss"] for g in row.split()}
    assert set(corpus["vocabulary"]) == used and len(set(signs)) == len(signs)
    assert corpus["settings"]["image_size"] == 32 and corpus["settings"]["frames_per_sign"] == 6

    # resumable: a second call renders nothing; a lost clip is rendered again, identically
    clip = out / "train" / "train-00003.mp4"
    before = _digest(clip)
    again = write_phoenix_synth(out, phoenix_labels, num_train=14, num_dev=3, num_test=3)
    assert again.rendered == 0 and again.reused == 20
    clip.unlink()
    (out / "train" / ".train-00005.tmp999.mp4").write_bytes(b"interrupted")  # a half-written clip
    resumed = write_phoenix_synth(out, phoenix_labels, num_train=14, num_dev=3, num_test=3)
    assert resumed.rendered == 1 and resumed.reused == 19
    assert _digest(clip) == before
    assert not list((out / "train").glob(".*tmp*"))


def test_synth_cli_phoenix14t(phoenix_labels, tmp_path, capsys):
    from sign_translation.cli import main

    out = tmp_path / "cli_corpus"
    assert main(["synth", str(out), "--phoenix14t", str(phoenix_labels), "--num-train", "2", "--num-dev", "1",
                 "--num-test", "1", "--image-size", "16"]) == 0
    printed = capsys.readouterr().out
    assert "train 2, dev 1, test 1" in printed and "glosses distinct" in printed
    assert json.loads((out / "corpus.json").read_text())["settings"]["image_size"] == 16


# --------------------------------------------------------------------------------------------- the benchmark
@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("phoenix_synth_bench", REPO / "benchmarks" / "phoenix_synth.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _tiny_stage1_recipe(tmp_path: Path, name: str = "phoenix_synth_fla_stage1.json") -> Path:
    recipe = json.loads((REPO / "train_scripts/recipes" / name).read_text())
    recipe["train_tokenizer_vocab_size"] = 80
    overrides = recipe["config_overrides"]
    overrides["vision_config"].update(hidden_sizes=[8, 8, 16], embedding_size=8)
    overrides["translator_config"].update(d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                                          decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32)
    overrides.update(temporal_hidden_size=16, vl_adapter_hidden_size=16)
    recipe.update(per_device_train_batch_size=4, per_device_eval_batch_size=8, warmup_steps=0,
                  dataloader_num_workers=0, logging_steps=2)
    path = tmp_path / f"tiny_{name}"
    path.write_text(json.dumps(recipe))
    return path


@pytest.mark.slow
def test_benchmark_most_frequent_and_stage1(bench, tiny_corpus, tmp_path, capsys):
    results = tmp_path / "results.json"
    common = ["--corpus", str(tiny_corpus), "--workdir", str(tmp_path / "runs"), "--results", str(results)]
    a = bench.main(["--variant", "a", *common])
    from sign_translation.data import load_sign_dataset

    train_texts = load_sign_dataset(tiny_corpus)["train"]["text"]
    assert a["settings"]["sentence"] in train_texts and a["variant"] == "most_frequent"
    assert 0 <= a["test"]["bleu4"] <= 100 and a["test"]["signature"].startswith("nrefs:1")

    c = bench.main(["--variant", "c", *common, "--recipe", str(_tiny_stage1_recipe(tmp_path)),
                    "--max-steps", "4", "--eval-steps", "2", "--tag", "tiny"])
    assert [p["step"] for p in c["curve"]] == [2, 4]
    assert all(p["train_seconds"] > 0 for p in c["curve"])
    assert c["curve"][0]["train_seconds"] <= c["curve"][1]["train_seconds"] <= c["train_seconds"]
    assert c["steps"] == 4 and 0 < c["parameters"]["trainable"] <= c["parameters"]["total"]
    assert set(c["test"]) >= {"bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "signature"}
    assert c["dev_bleu4"] in [p["dev_bleu4"] for p in c["curve"]]  # the tested checkpoint is the best on dev
    # how much the model reads its video: dev loss with its own video vs another clip's
    reliance = c["video_reliance"]
    dev_clips = len(load_sign_dataset(tiny_corpus)["dev"])
    assert reliance["split"] == "dev" and reliance["clips"] == dev_clips and reliance["tokens"] > 0
    assert reliance["gap"] == pytest.approx(reliance["loss_other_video"] - reliance["loss_own_video"], abs=2e-4)
    assert 0 < reliance["loss_own_video"] < 20
    # the tested checkpoint carries a model card with its PHOENIX-synth numbers
    card = Path(c["model_card"]).read_text()
    assert "- phoenix_synth" in card and "[PHOENIX-synth](" in card and "8 rendered signers" in card
    assert f"| {c['test']['bleu4']:.2f} |" in card

    records = json.loads(results.read_text())
    assert [r["variant"] for r in records] == ["most_frequent", "fla_stage1"]
    assert results.with_suffix(".png").stat().st_size > 0
    table = bench.format_table(records)
    assert "most frequent train sentence" in table and "FLa-LLM stage 1" in table
    assert f"{reliance['gap']:.2f}" in table.splitlines()[2] and "another clip's video" in table
    # --probe measures any checkpoint the same way (here the step-2 one)
    bench.main(["--probe", str(Path(c["run_dir"]) / "checkpoint-2"), *common])
    probed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert probed["checkpoint"].endswith("checkpoint-2") and probed["clips"] == dev_clips

    # resuming a finished run trains no further and reproduces the result
    again = bench.main(["--variant", "c", *common, "--recipe", str(_tiny_stage1_recipe(tmp_path)),
                        "--max-steps", "4", "--eval-steps", "2", "--tag", "tiny"])
    assert again["test"]["bleu4"] == c["test"]["bleu4"] and again["curve"] == c["curve"]

    # a run stopped after its step-2 checkpoint continues from there to the same weights and the same curve
    from safetensors.torch import load_file

    model_dir = Path(c["run_dir"])
    finished = load_file(model_dir / "checkpoint-4" / "model.safetensors")
    shutil.rmtree(model_dir / "checkpoint-4")
    (model_dir / "results.json").unlink()
    resumed = bench.main(["--variant", "c", *common, "--recipe", str(_tiny_stage1_recipe(tmp_path)),
                          "--max-steps", "4", "--eval-steps", "2", "--tag", "tiny"])
    again_weights = load_file(model_dir / "checkpoint-4" / "model.safetensors")
    assert finished.keys() == again_weights.keys()
    assert all(torch.equal(finished[k], again_weights[k]) for k in finished)
    assert [p["step"] for p in resumed["curve"]] == [2, 4]
    assert [p["dev_bleu4"] for p in resumed["curve"]] == [p["dev_bleu4"] for p in c["curve"]]
    assert resumed["test"] == c["test"]


def _two_step_stage1(bench, tiny_corpus: Path, tmp_path: Path, recipe_name: str, tag: str) -> dict:
    """Variant c for 2 steps on the tiny corpus with a stage-1 recipe shrunk to tiny sizes (its other settings kept)."""
    recipe = _tiny_stage1_recipe(tmp_path, recipe_name)
    return bench.main(["--variant", "c", "--corpus", str(tiny_corpus), "--workdir", str(tmp_path / "runs"),
                       "--results", str(tmp_path / "results.json"), "--recipe", str(recipe), "--max-steps", "2",
                       "--eval-steps", "2", "--max-eval-samples", "3", "--tag", tag])


@pytest.mark.slow
def test_stage1_recipe_with_the_papers_sgd(bench, tiny_corpus, tmp_path):
    """`phoenix_synth_fla_stage1_sgd.json` trains stage 1 with the paper's optimiser: SGD, momentum 0.9, lr 1e-2."""
    c = _two_step_stage1(bench, tiny_corpus, tmp_path, "phoenix_synth_fla_stage1_sgd.json", "sgd")
    assert c["settings"]["optim"] == "sgd" and c["settings"]["learning_rate"] == 0.01
    state = torch.load(Path(c["run_dir"]) / "checkpoint-2" / "optimizer.pt", weights_only=True)
    groups = state["param_groups"]
    assert {g["momentum"] for g in groups} == {0.9} and {g["initial_lr"] for g in groups} == {0.01}
    assert {g["weight_decay"] for g in groups} == {0.0, 1e-4}  # no decay on biases and norms, as for AdamW
    assert "exp_avg" not in next(iter(state["state"].values()))  # not Adam's moments: SGD's momentum buffers
    assert all("momentum_buffer" in s for s in state["state"].values())


@pytest.mark.slow
def test_stage1_recipe_with_word_dropout(bench, tiny_corpus, tmp_path):
    """`phoenix_synth_fla_stage1_worddrop.json` trains stage 1 with `decoder_input_dropout` 0.4, saved in the checkpoint."""
    c = _two_step_stage1(bench, tiny_corpus, tmp_path, "phoenix_synth_fla_stage1_worddrop.json", "worddrop")
    assert json.loads((Path(c["run_dir"]) / "config.json").read_text())["decoder_input_dropout"] == 0.4
    assert c["settings"]["config_overrides"]["decoder_input_dropout"] == 0.4


@pytest.fixture(scope="module")
def tiny_llm(tiny_corpus, tmp_path_factory) -> Path:
    """A tiny random Gemma-3 causal LM with an offline-learnt Unigram tokenizer, saved as a plain folder (what
    `--llm` takes)."""
    from transformers import AutoModelForCausalLM, Gemma3TextConfig

    from sign_translation.data import load_sign_dataset
    from sign_translation.tokenization import train_mbart_tokenizer

    folder = tmp_path_factory.mktemp("tiny_llm")
    data = load_sign_dataset(tiny_corpus)["train"]
    tokenizer = train_mbart_tokenizer(list(data["text"]) + list(data["gloss"]), vocab_size=150)
    tokenizer.save_pretrained(folder)
    config = Gemma3TextConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2, num_key_value_heads=1, head_dim=16, sliding_window=16,
                              max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
                              bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_benchmark_llm_variants_on_a_tiny_llm(bench, tiny_corpus, tiny_llm, tmp_path):
    results = tmp_path / "results.json"
    common = ["--corpus", str(tiny_corpus), "--workdir", str(tmp_path / "runs"), "--results", str(results),
              "--llm", str(tiny_llm), "--max-steps", "2", "--eval-steps", "2", "--max-eval-samples", "3"]
    c = bench.main(["--variant", "c", *common, "--recipe", str(_tiny_stage1_recipe(tmp_path))])
    stage1 = Path(c["run_dir"])
    from sign_translation.processing import SignTranslationProcessor

    tokenizer = SignTranslationProcessor.from_pretrained(stage1).tokenizer
    assert len(tokenizer) < 150  # the LLM's tokenizer, trimmed to the training sentences
    d = bench.main(["--variant", "d", *common])
    e = bench.main(["--variant", "e", *common])
    b = bench.main(["--variant", "b", *common])
    for record in (c, d, e, b):  # c: the LLM whose trimmed tokenizer its Light-T uses
        assert record["llm"] == str(tiny_llm)
        assert [p["step"] for p in record["curve"]] == [2]
        assert set(record["test"]) >= {"bleu4", "rouge_l", "signature"}
    assert "video_reliance" not in b  # text only
    for record in (d, e):  # the stage-2 checkpoint reads video through its frozen encoder (no feature cache)
        assert record["video_reliance"]["clips"] == 3 and "gap" in record["video_reliance"]
    assert d["settings"]["llm_name_or_path"] == str(tiny_llm) and "llm_config" in e["settings"]
    recipe = json.loads((bench.RECIPES / "phoenix_synth_fla_stage2.json").read_text())
    assert d["settings"]["llm_learning_rate"] == recipe["llm_learning_rate"]
    assert e["settings"]["llm_learning_rate"] == recipe["random_init_overrides"]["llm_learning_rate"]
    # the equal-wall-clock comparison counts the frozen encoder's training time
    assert d["stage1_train_seconds"] == c["train_seconds"] > 0
    table = bench.format_table(json.loads(results.read_text()))
    assert "+stage1" in table and f"[{tiny_llm.name} tokenizer]" in table
    # stage 2 trains the adapter and the LLM, not the frozen visual encoder
    assert d["parameters"]["trainable"] < d["parameters"]["total"]
    assert [r["variant"] for r in json.loads(results.read_text())] == [
        "fla_stage1", "fla_stage2", "fla_stage2_random", "text_llm"]


def test_benchmark_refuses_llm_variants_without_llm(bench, tiny_corpus, tmp_path):
    with pytest.raises(SystemExit, match="needs --llm"):
        bench.main(["--variant", "d", "--corpus", str(tiny_corpus), "--results", str(tmp_path / "r.json")])


@pytest.mark.slow
def test_benchmark_mmslt_variants_with_and_without_mapper(bench, tiny_corpus, tiny_llm, tmp_path):
    from sign_translation.data import load_sign_dataset
    from sign_translation.tokenization import build_offline_text_encoder

    corpus = load_sign_dataset(tiny_corpus)
    texts = sorted({d for split in corpus.values() for row in split["descriptions"] for d in row})
    encoder = build_offline_text_encoder(texts, str(tmp_path / "encoder"), hidden_size=16, num_layers=1)
    tiny = {"vision_config": {"model_type": "resnet", "depths": [1, 1], "hidden_sizes": [8, 16],
                              "layer_type": "basic", "embedding_size": 8},
            "text_config": {"model_type": "mbart", "d_model": 32, "encoder_layers": 1, "decoder_layers": 1,
                            "encoder_attention_heads": 4, "decoder_attention_heads": 4, "encoder_ffn_dim": 64,
                            "decoder_ffn_dim": 64, "max_position_embeddings": 256},  # MMSLT generates up to 150
            "description_mapper_hidden_size": 16, "temporal_hidden_size": 16, "mlp_hidden_size": 16,
            "temporal_kernel_size": 3, "lora_r": 4, "lora_alpha": 8}
    small = {"per_device_train_batch_size": 4, "per_device_eval_batch_size": 6, "warmup_steps": 0,
             "dataloader_num_workers": 0, "logging_steps": 1}
    recipes = REPO / "train_scripts" / "recipes"
    pretrain = {**json.loads((recipes / "phoenix_synth_mmslt_pretrain.json").read_text()), **small,
                "train_tokenizer_vocab_size": 120, "config_overrides": tiny}
    translate = {**json.loads((recipes / "phoenix_synth_mmslt_translate.json").read_text()), **small,
                 "generation_num_beams": 1}
    (tmp_path / "pre.json").write_text(json.dumps(pretrain))
    (tmp_path / "tr.json").write_text(json.dumps(translate))
    results = tmp_path / "results.json"
    common = ["--corpus", str(tiny_corpus), "--workdir", str(tmp_path / "runs"), "--results", str(results),
              "--description-encoder", encoder, "--recipe", str(tmp_path / "pre.json"), str(tmp_path / "tr.json"),
              "--max-steps", "2", "--eval-steps", "2"]
    f = bench.main(["--variant", "f", *common])
    g = bench.main(["--variant", "g", *common])
    assert f["settings"]["pretrain"]["config_overrides"]["use_description_mapper"] is True
    assert g["settings"]["pretrain"]["config_overrides"]["use_description_mapper"] is False
    for record in (f, g):
        assert [p["step"] for p in record["curve"]] == [2]
        assert {"bleu4", "rouge_l", "signature"} <= set(record["test"])
        assert 0 <= record["retrieval_after_pretraining"]["video_to_text_r1"] <= 100
        assert record["video_reliance"]["tokens"] > 0 and "gap" in record["video_reliance"]
    assert [r["variant"] for r in json.loads(results.read_text())] == ["mmslt", "mmslt_no_mapper"]

    # a longer translation stage on the same pre-training: the untagged run's pre-training is reused, not redone
    before = sorted(p.name for p in (tmp_path / "runs").iterdir())
    longer = bench.main(["--variant", "f", *common, "--tag", "longer", "--translation-steps", "4"])
    assert longer["pretraining"] == f["pretraining"] and longer["pretraining"].endswith("-seed0/pretrain")
    assert longer["settings"]["translate"]["max_steps"] == 4 and [p["step"] for p in longer["curve"]] == [2, 4]
    assert not (tmp_path / "runs" / (Path(f["pretraining"]).parent.name + "-longer") / "pretrain").exists()
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(before + [Path(f["pretraining"]).parent.name + "-longer"])
    shared = tmp_path / "runs" / "feature_cache" / Path(f["pretraining"]).parent.name  # one feature cache per pre-training
    assert any(shared.iterdir()) and not list((tmp_path / "runs").glob("*/model/feature_cache"))
    # a larger description term: its own pre-training, the weight in the trained config, g's recipe run to pair with
    heavier = bench.main(["--variant", "f", *common, "--tag", "mse5", "--mse-weight", "5"])
    assert heavier["pretraining"] != f["pretraining"] and heavier["g_tag"] is None
    assert heavier["settings"]["pretrain"]["config_overrides"]["mse_weight"] == 5.0
    assert json.loads((REPO / heavier["pretraining"] / "config.json").read_text()
                      if (REPO / heavier["pretraining"]).is_dir() else
                      (Path(heavier["pretraining"]) / "config.json").read_text())["mse_weight"] == 5.0
    with pytest.raises(SystemExit):
        bench.parse_args(["--variant", "c", "--translation-steps", "4"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--variant", "f", "--translation-steps", "0"])

    # a pretrained LLM as the whole translator on g's finished pre-training (--pretraining, --llm): no new
    # pre-training, the front end's backbone exactly g's, the LLM's own tokenizer trimmed to the training sentences
    translate_llm = {**json.loads((recipes / "phoenix_synth_mmslt_translate_llm.json").read_text()), **small}
    (tmp_path / "tr_llm.json").write_text(json.dumps(translate_llm))
    given = REPO / g["pretraining"] if (REPO / g["pretraining"]).is_dir() else Path(g["pretraining"])
    on_llm = bench.main(["--variant", "g", "--corpus", str(tiny_corpus), "--workdir", str(tmp_path / "runs"),
                         "--results", str(results), "--description-encoder", encoder, "--recipe",
                         str(tmp_path / "pre.json"), str(tmp_path / "tr_llm.json"), "--max-steps", "2",
                         "--eval-steps", "2", "--llm", str(tiny_llm), "--pretraining", str(given), "--tag", "llm"])
    assert on_llm["pretraining"] == g["pretraining"] and on_llm["llm"] == str(tiny_llm)
    assert on_llm["settings"]["translate"]["front_end_only"] is True
    assert on_llm["settings"]["pretrain"]["config_overrides"]["use_description_mapper"] is False
    assert on_llm["video_reliance"]["tokens"] > 0 and [p["step"] for p in on_llm["curve"]] == [2]
    model_dir = REPO / on_llm["run_dir"] if (REPO / on_llm["run_dir"]).is_dir() else Path(on_llm["run_dir"])
    assert model_dir.is_dir() and not (model_dir.parent / "pretrain").exists()
    from sign_translation import MMSLTForConditionalGeneration, MMSLTForPreTraining
    from sign_translation.processing import SignTranslationProcessor

    trained = MMSLTForConditionalGeneration.from_pretrained(model_dir)
    assert trained.config.text_config.model_type == "gemma3_text" and trained.config.llm_type == "causal"
    assert len(SignTranslationProcessor.from_pretrained(model_dir).tokenizer) < 150  # trimmed
    backbone = MMSLTForPreTraining.from_pretrained(given).backbone.state_dict()
    assert all(torch.equal(backbone[k], v) for k, v in trained.backbone.state_dict().items())  # frozen
    assert "[tiny_llm" in bench.format_table(json.loads(results.read_text()))
    with pytest.raises(SystemExit, match="without the description mapper"):
        bench.main(["--variant", "f", "--corpus", str(tiny_corpus), "--workdir", str(tmp_path / "runs"),
                    "--results", str(results), "--description-encoder", encoder, "--llm", str(tiny_llm),
                    "--pretraining", str(given), "--tag", "llm"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--variant", "g", "--pretraining", str(given)])  # needs --tag


def test_curves_show_unfinished_runs_with_their_stage1_time(bench, tmp_path):
    """A stopped stage-2 run (curve points, no record yet) is drawn, offset by its stage-1 encoder's training time;
    recorded runs are not drawn twice."""
    workdir = tmp_path / "runs"
    stage1 = workdir / "fla_stage1-llm-seed0" / "model"
    stage2 = workdir / "fla_stage2-llm-seed0" / "model"
    for folder, curve in ((stage1, {"points": [{"step": 10, "train_seconds": 60.0, "dev_bleu4": 1.0}],
                                    "seconds_at_step": {"10": 60.0}}),
                          (stage2, {"points": [{"step": 5, "train_seconds": 30.0, "dev_bleu4": 2.0}],
                                    "seconds_at_step": {"5": 30.0}})):
        folder.mkdir(parents=True)
        (folder / bench.CURVE_FILE).write_text(json.dumps(curve))
    recorded = [{"variant": "fla_stage1", "seed": 0, "tag": None, "run_dir": str(stage1),
                 "curve": [{"step": 10, "train_seconds": 60.0, "dev_bleu4": 1.0}]}]
    unfinished = bench.unfinished_curves(recorded, workdir)
    assert [(r["variant"], r["tag"], r["stage1_train_seconds"]) for r in unfinished] == [
        ("fla_stage2", "unfinished", 60.0)]
    assert len(bench.unfinished_curves([], workdir)) == 2
    tagged = workdir / "fla_stage1-llm-seed0-long" / "model"  # a run under its own tag keeps it in the legend
    tagged.mkdir(parents=True)
    (tagged / bench.CURVE_FILE).write_text((stage1 / bench.CURVE_FILE).read_text())
    assert [(r["variant"], r["run_tag"]) for r in bench.unfinished_curves(recorded, workdir)] == [
        ("fla_stage1", "long"), ("fla_stage2", None)]
    png = bench.plot_curves(recorded, tmp_path / "curves.png", workdir=workdir)
    assert png.is_file() and png.stat().st_size > 1000


def test_sign_recognition_probe_cuts_every_sign_and_reports_chance(tiny_corpus, tmp_path):
    """benchmarks/phoenix_synth_signs.py: one instance per signed gloss, cut with the renderer's spans and cropped
    like the processor; a short training run writes its record (accuracy per target beside chance)."""
    spec = importlib.util.spec_from_file_location("phoenix_synth_signs", REPO / "benchmarks" / "phoenix_synth_signs.py")
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    rows = [json.loads(line) for line in (tiny_corpus / "dev" / "metadata.jsonl").read_text().splitlines() if line]
    frames, glosses = probe.sign_instances(tiny_corpus, "dev", frames=3, crop=28)
    assert glosses == [g for row in rows if row["sign_spans"] for g in row["gloss"].split()]
    assert tuple(frames.shape) == (len(glosses), 3, 3, 28, 28) and frames.dtype == torch.uint8

    results = tmp_path / "signs.json"
    record = probe.main(["--corpus", str(tiny_corpus), "--results", str(results), "--epochs", "2", "--frames", "2",
                         "--batch-size", "16"])
    assert json.loads(results.read_text()) == [record]
    assert set(record["dev_accuracy"]) >= {"step", "gloss", *probe.FACTORS}
    assert all(0 <= record["dev_accuracy"][k] <= 100 for k in ("gloss", *probe.FACTORS))
    assert record["classes"]["hands"] == 2 and record["corpus"]["dev_signs"] == len(glosses)
    assert 0 < record["chance_most_frequent_train_class"]["gloss"] < 100


def test_translator_probe_trains_light_t_on_frozen_features(tiny_corpus, tiny_tokenizer, tmp_path):
    """benchmarks/phoenix_synth_translator_probe.py: per-frame features of a frozen backbone computed once (stride 4,
    through the checkpoint's own video processor), FLa-LLM stage 1's temporal module + VL-adapter + Light-T trained
    on them; each evaluation reports the dev loss with own and with another clip's features and their gap."""
    from sign_translation import (
        FlaLlmConfig,
        FlaLlmForVisualInitialization,
        SignTranslationProcessor,
        SignVideoProcessor,
    )

    spec = importlib.util.spec_from_file_location(
        "phoenix_synth_translator_probe", REPO / "benchmarks" / "phoenix_synth_translator_probe.py")
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    stage1 = tmp_path / "stage1"
    FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=len(tiny_tokenizer))).save_pretrained(stage1)
    video_processor = SignVideoProcessor(size={"height": 32, "width": 32}, crop_size={"height": 28, "width": 28})
    SignTranslationProcessor(video_processor, tiny_tokenizer).save_pretrained(stage1)
    out = tmp_path / "probe.json"
    argv = ["--stage1", str(stage1), "--corpus", str(tiny_corpus), "--cache", str(tmp_path / "cache"), "--steps", "4",
            "--eval-every", "2", "--batch", "8", "--warmup", "1", "--output", str(out)]
    log = probe.main(argv)
    assert [point["step"] for point in log] == [2, 4] and json.loads(out.read_text())["log"] == log
    for point in log:
        assert point["gap"] == pytest.approx(point["dev_loss_other_video"] - point["dev_loss_own_video"], abs=2e-4)
        assert point["dev_loss_own_video"] > 0 and 0 <= point["dev_bleu4"] <= 100
    cached = torch.load(next((tmp_path / "cache").glob("features-*.pt")), weights_only=True)
    rows = [json.loads(line) for line in (tiny_corpus / "dev" / "metadata.jsonl").read_text().splitlines() if line]
    assert cached["dev"]["lengths"].tolist() == [-(-row["num_frames"] // 4) for row in rows]
    assert cached["dev"]["features"].shape[0] == sum(cached["dev"]["lengths"].tolist())
    # the first dev clip's features are the stage-1 backbone on what the checkpoint's processor makes of the clip
    backbone = FlaLlmForVisualInitialization.from_pretrained(stage1).visual_encoder.backbone.model.eval()
    pixels = video_processor(str(tiny_corpus / "dev" / rows[0]["file_name"]), frame_stride=4)["pixel_values_videos"][0]
    assert pixels.shape[-2:] == (28, 28)
    with torch.no_grad():
        expected = backbone(pixel_values=pixels).pooler_output.flatten(1)
    torch.testing.assert_close(cached["dev"]["features"][: len(pixels)], expected)
    timeless = lambda points: [{k: v for k, v in point.items() if k != "train_seconds"} for point in points]  # noqa: E731
    assert timeless(probe.main(argv)) == timeless(log)  # same seed, cached features: the same run


def test_table_summarises_seeds_and_pairs_f_with_g(bench):
    """Runs with several seeds get mean ± sd; f − g is taken per seed (same seed and tag), so the mapper's effect
    is read against its spread. A run with one seed, or an f without its g, gets no summary line."""
    def record(variant, seed, test, dev, tag=None):
        return {"variant": variant, "seed": seed, "tag": tag, "dev_bleu4": dev, "settings": {},
                "test": {"bleu1": 0.0, "bleu2": 0.0, "bleu3": 0.0, "bleu4": test, "rouge_l": 0.0}}

    rows = [record("mmslt", 0, 8.0, 7.0), record("mmslt", 1, 9.0, 8.0), record("mmslt", 2, 10.0, 9.0),
            record("mmslt_no_mapper", 0, 8.5, 7.5), record("mmslt_no_mapper", 1, 8.5, 8.5),
            record("mmslt", 0, 9.5, 9.2, tag="t6000"), record("mmslt_no_mapper", 0, 9.8, 10.3, tag="t6000"),
            record("fla_stage1", 0, 1.2, 1.3)]
    lines = bench.seed_summary(rows)
    assert lines[0] == ("f: 3 seeds (0, 1, 2): test BLEU-4 9.00 ± 1.00 (min 8.00, max 10.00); "
                        "dev BLEU-4 8.00 ± 1.00 (min 7.00, max 9.00)")
    assert lines[1].startswith("g: 2 seeds (0, 1): test BLEU-4 8.50 ± 0.00")
    # seeds 0 and 1 have both: f − g = −0.5 and +0.5; seed 2 has no g; the t6000 pair is a single seed
    assert lines[2] == ("f - g, same seed, 2 seeds: test BLEU-4 0.00 ± 0.71 (min -0.50, max 0.50), f ahead in 1 of 2; "
                        "dev BLEU-4 -0.50 ± 0.00 (min -0.50, max -0.50)")
    assert len(lines) == 3
    assert lines[2] in bench.format_table(rows)


def test_table_pairs_an_mse_weight_run_with_the_recipes_g(bench):
    """An f run that changes only the description term's weight (`--mse-weight`, recorded as `g_tag: None`) is
    compared with g's recipe run of the same seed, since g has no description term; the label says which."""
    def record(variant, seed, test, dev, tag=None, **extra):
        return {"variant": variant, "seed": seed, "tag": tag, "dev_bleu4": dev, "settings": {},
                "test": {"bleu1": 0.0, "bleu2": 0.0, "bleu3": 0.0, "bleu4": test, "rouge_l": 0.0}, **extra}

    rows = [record("mmslt", 0, 9.0, 8.0, tag="mse5", g_tag=None), record("mmslt", 1, 7.0, 7.5, tag="mse5", g_tag=None),
            record("mmslt_no_mapper", 0, 8.0, 7.0), record("mmslt_no_mapper", 1, 8.0, 7.0)]
    lines = bench.seed_summary(rows)
    assert lines[-1] == ("f (mse5) - g, same seed, 2 seeds: test BLEU-4 0.00 ± 1.41 (min -1.00, max 1.00), f ahead in "
                         "1 of 2; dev BLEU-4 0.75 ± 0.35 (min 0.50, max 1.00)")
    # a weight change on a longer schedule (tag "mse5-p6000", no g_tag recorded): g's run of the same schedule
    heavier = {"pretrain": {"config_overrides": {"mse_weight": 5.0}}}
    rows = [record("mmslt", 0, 9.0, 8.0, tag="mse5-p6000", settings=heavier),
            record("mmslt", 1, 7.0, 7.5, tag="mse5-p6000", settings=heavier),
            record("mmslt_no_mapper", 0, 8.0, 7.0, tag="p6000"), record("mmslt_no_mapper", 1, 8.0, 7.0, tag="p6000"),
            record("mmslt_no_mapper", 0, 1.0, 1.0), record("mmslt_no_mapper", 1, 1.0, 1.0)]
    assert bench.seed_summary(rows)[-1].startswith("f (mse5-p6000) - g (p6000), same seed, 2 seeds: test BLEU-4 "
                                                   "0.00 ± 1.41")
    # a tag that only starts like one ("msex") without a weight change keeps its own tag
    assert bench._g_counterpart_tag(record("mmslt", 0, 1.0, 1.0, tag="msex-p6000")) == "msex-p6000"


def test_mse_weight_needs_a_tag_and_variant_f(bench):
    with pytest.raises(SystemExit):
        bench.parse_args(["--variant", "f", "--mse-weight", "5"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--variant", "g", "--mse-weight", "5", "--tag", "x"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--variant", "f", "--mse-weight", "-1", "--tag", "x"])
    assert bench.parse_args(["--variant", "f", "--mse-weight", "5", "--tag", "mse5"]).mse_weight == 5.0


def test_records_appended_at_once_are_all_kept(bench, tmp_path):
    """Variants run side by side and may finish together: every append is kept, the file stays valid JSON."""
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "results" / "phoenix_synth.json"
    bench.append_result(path, {"variant": "most_frequent", "seed": 0, "payload": "x" * 20_000})

    def append(i):
        bench.append_result(path, {"variant": "mmslt", "seed": i, "payload": "x" * 20_000})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(append, range(64)))
    records = json.loads(path.read_text())
    assert sorted(r["seed"] for r in records if r["variant"] == "mmslt") == list(range(64))
    assert len(records) == 65
    assert not list(path.parent.glob("*.tmp"))


def test_table_keeps_the_llm_and_tag_of_long_labels(bench):
    """A long variant description is shortened, never the LLM name or the tag: two runs of e that differ only by
    their tag stay told apart in the table."""
    def record(tag):
        return {"variant": "fla_stage2_random", "seed": 0, "tag": tag, "llm": "/models/gemma-3-270m-q4_k_m",
                "dev_bleu4": 1.0, "settings": {},
                "test": {"bleu1": 0.0, "bleu2": 0.0, "bleu3": 0.0, "bleu4": 1.0, "rouge_l": 0.0}}

    lines = bench.format_table([record(None), record("t4500")]).splitlines()[1:3]
    labels = [line[2:58].rstrip() for line in lines]
    assert labels[0].endswith("… [gemma-3-270m-q4_k_m]") and labels[1].endswith("… [gemma-3-270m-q4_k_m] (t4500)")
    assert labels[0].startswith("FLa-LLM stage 2") and labels[0] != labels[1]
    assert all(line[58:].split()[0] == "0" for line in lines)  # the seed column did not move
