"""The front ends `FlaLlmModel` / `MMSLTModel` (the visual tokens, no head) inside both heads of each method.

transformers' convention: each head holds its base model as one attribute named by `base_model_prefix`, so
`AutoModel.from_pretrained(<head checkpoint>)` loads the front end out of a head's checkpoint and a head loads from
a front end's checkpoint (its own parts untrained). Checkpoints saved before the front ends existed keep loading
(tests/test_legacy_checkpoints.py; here: as front ends, and through a raw `load_state_dict`, Trainer's resume).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoModelForPreTraining, AutoModelForSeq2SeqLM

from sign_translation import (
    FlaLlmConfig,
    FlaLlmForConditionalGeneration,
    FlaLlmForVisualInitialization,
    FlaLlmModel,
    MMSLTConfig,
    MMSLTForConditionalGeneration,
    MMSLTForPreTraining,
    MMSLTModel,
)
from sign_translation.modeling.checkpoint_loading import CheckpointError

VOCAB = 40
LEGACY = Path(__file__).resolve().parent / "data" / "legacy_checkpoints"
HEADS = {
    FlaLlmForVisualInitialization: (FlaLlmModel, lambda: FlaLlmConfig.tiny(vocab_size=VOCAB)),
    FlaLlmForConditionalGeneration: (FlaLlmModel, lambda: FlaLlmConfig.tiny(vocab_size=VOCAB)),
    MMSLTForPreTraining: (MMSLTModel, lambda: MMSLTConfig.tiny(vocab_size=VOCAB)),
    MMSLTForConditionalGeneration: (MMSLTModel, lambda: MMSLTConfig.tiny(vocab_size=VOCAB)),
}


def video_inputs(frames: int = 10):
    g = torch.Generator().manual_seed(0)
    mask = torch.ones(2, frames, dtype=torch.long)
    mask[1, 7:] = 0
    return {"pixel_values_videos": torch.randn(2, frames, 3, 16, 16, generator=g), "video_mask": mask}


def _randomise_norm_statistics(model: torch.nn.Module) -> None:
    """Non-default BatchNorm buffers, so a test sees whether they were loaded too."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=g))
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=g) + 0.5)


@pytest.mark.parametrize("head_class", list(HEADS), ids=lambda c: c.__name__)
def test_head_holds_its_front_end_under_base_model_prefix(head_class):
    front_class, make_config = HEADS[head_class]
    head = head_class(make_config()).eval()
    front = getattr(head, head_class.base_model_prefix)
    assert type(front) is front_class and head.base_model is front
    assert all(key.startswith(f"{head_class.base_model_prefix}.") for key in head.state_dict()
               if key.split(".")[0] in ("backbone", "temporal", "description_mapper", "temporal_conv", "mlp"))
    with torch.no_grad():  # the head's visual tokens are its front end's output
        tokens = front(**video_inputs())
        if head_class is MMSLTForPreTraining:
            expected, _, _ = head.front_end(**video_inputs())
        elif head_class is FlaLlmForVisualInitialization:
            expected, _ = head._encode_video(**video_inputs())
        else:
            states = []
            head.visual_prefix(**video_inputs(), hidden_states=states)
            expected = states[-2]  # the front end's last stage, before the LLM-adapter / (MMSLT: the tokens)
            if head_class is MMSLTForConditionalGeneration:
                expected = states[-1]
    torch.testing.assert_close(tokens.last_hidden_state, expected)


@pytest.mark.parametrize("head_class", list(HEADS), ids=lambda c: c.__name__)
def test_auto_model_loads_the_front_end_from_a_head_checkpoint_and_back(head_class, tmp_path):
    front_class, make_config = HEADS[head_class]
    torch.manual_seed(0)
    head = head_class(make_config()).eval()
    _randomise_norm_statistics(head)
    head.save_pretrained(tmp_path / "head")
    prefix = f"{head_class.base_model_prefix}."
    saved = load_file(tmp_path / "head" / "model.safetensors")
    assert any(key.startswith(prefix) for key in saved)

    front = AutoModel.from_pretrained(tmp_path / "head").eval()
    assert type(front) is front_class
    expected = {k[len(prefix):]: v for k, v in head.state_dict().items() if k.startswith(prefix)}
    assert sorted(front.state_dict()) == sorted(expected)
    for key, value in front.state_dict().items():
        assert torch.equal(value, expected[key]), key
    with torch.no_grad():
        torch.testing.assert_close(front(**video_inputs()).last_hidden_state,
                                   head.base_model(**video_inputs()).last_hidden_state, rtol=0, atol=0)

    # the other direction: a head from a front end's checkpoint gets the front end's weights, its own parts start
    # untrained (transformers' base model → head)
    front.save_pretrained(tmp_path / "front")
    assert not any(k.startswith(prefix) for k in load_file(tmp_path / "front" / "model.safetensors"))
    again = head_class.from_pretrained(tmp_path / "front")
    for key, value in front.state_dict().items():
        assert torch.equal(again.state_dict()[prefix + key], value), key


def test_a_head_from_a_front_end_checkpoint_still_refuses_missing_front_end_weights(tmp_path):
    from safetensors.torch import save_file

    FlaLlmModel(FlaLlmConfig.tiny(vocab_size=VOCAB)).save_pretrained(tmp_path)
    state = load_file(tmp_path / "model.safetensors")
    save_file({k: v for k, v in state.items() if not k.startswith("temporal.")}, tmp_path / "model.safetensors",
              metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="temporal"):
        FlaLlmForConditionalGeneration.from_pretrained(tmp_path)


def test_saved_auto_map_names_the_front_end_and_the_pretraining_head(tmp_path):
    for head_class, (front_class, make_config) in HEADS.items():
        folder = tmp_path / head_class.__name__
        head_class(make_config()).save_pretrained(folder)
        auto_map = json.loads((folder / "config.json").read_text())["auto_map"]
        module = head_class.__module__.rsplit(".", 1)[-1]
        pretraining = FlaLlmForVisualInitialization if front_class is FlaLlmModel else MMSLTForPreTraining
        assert auto_map["AutoModel"] == f"{module}.{front_class.__name__}"
        assert auto_map["AutoModelForPreTraining"] == f"{module}.{pretraining.__name__}"
        if head_class.can_generate():  # the translating classes (FLa-LLM's stage 1 translates with Light-T)
            assert auto_map["AutoModelForSeq2SeqLM"] == f"{module}.{head_class.__name__}"
        else:
            assert "AutoModelForSeq2SeqLM" not in auto_map
    # in-process registration
    assert type(AutoModel.from_config(FlaLlmConfig.tiny(vocab_size=VOCAB))) is FlaLlmModel
    assert type(AutoModel.from_config(MMSLTConfig.tiny(vocab_size=VOCAB))) is MMSLTModel
    assert type(AutoModelForPreTraining.from_config(MMSLTConfig.tiny(vocab_size=VOCAB))) is MMSLTForPreTraining
    assert type(AutoModelForSeq2SeqLM.from_config(FlaLlmConfig.tiny(vocab_size=VOCAB))) is FlaLlmForConditionalGeneration


@pytest.mark.slow
def test_front_end_and_pretraining_head_load_with_remote_code_only(tmp_path):
    """In a fresh process without the package: `AutoModel` → the front end and `AutoModelForPreTraining` → the
    first stage, from a stage-2 checkpoint's `auto_map` and code files."""
    torch.manual_seed(0)
    head = MMSLTForConditionalGeneration(MMSLTConfig.tiny(vocab_size=VOCAB)).eval()
    head.save_pretrained(tmp_path / "ckpt")
    inputs = video_inputs()
    torch.save(inputs, tmp_path / "inputs.pt")
    with torch.no_grad():
        expected = head.model(**inputs).last_hidden_state
    code = f"""
import sys, torch
sys.modules["sign_translation"] = None  # only the checkpoint's own code
from transformers import AutoModel, AutoModelForPreTraining
front = AutoModel.from_pretrained({str(tmp_path / "ckpt")!r}, trust_remote_code=True).eval()
assert type(front).__name__ == "MMSLTModel" and "transformers_modules" in type(front).__module__
with torch.no_grad():
    out = front(**torch.load({str(tmp_path / "inputs.pt")!r})).last_hidden_state
torch.save(out, {str(tmp_path / "out.pt")!r})
pre = AutoModelForPreTraining.from_config(front.config, trust_remote_code=True)
print(type(pre).__name__)
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "MMSLTForPreTraining"
    torch.testing.assert_close(torch.load(tmp_path / "out.pt"), expected, rtol=0, atol=0)


@pytest.mark.parametrize("case", ["mmslt_translation", "mmslt_pretraining", "fla_llm_stage2"])
def test_legacy_checkpoint_loads_as_front_end_and_resaves_in_the_new_layout(case, tmp_path):
    import sign_translation

    folder = LEGACY / case
    architecture = json.loads((folder / "config.json").read_text())["architectures"][0]
    head = getattr(sign_translation, architecture).from_pretrained(folder).eval()
    front = AutoModel.from_pretrained(folder).eval()
    assert type(front) is type(head.base_model)
    for key, value in front.state_dict().items():
        assert torch.equal(value, head.base_model.state_dict()[key]), key
    # saved again, the keys carry the prefix (transformers' layout), and the round trip is exact
    head.save_pretrained(tmp_path)
    keys = load_file(tmp_path / "model.safetensors").keys()
    assert all(not k.startswith(("backbone.", "description_mapper.", "temporal_conv.", "mlp.")) for k in keys)
    reloaded = type(head).from_pretrained(tmp_path)
    assert reloaded.state_dict().keys() == head.state_dict().keys()
    assert all(torch.equal(v, reloaded.state_dict()[k]) for k, v in head.state_dict().items())


def test_raw_load_state_dict_accepts_the_old_mmslt_layout():
    """Trainer resumes a checkpoint-* folder with a plain `model.load_state_dict(...)`: a folder saved before the
    front end moved under `model.` must still restore every weight."""
    state = load_file(LEGACY / "mmslt_translation" / "model.safetensors")
    assert any(k.startswith("backbone.") for k in state)
    model = MMSLTForConditionalGeneration(MMSLTConfig.from_pretrained(LEGACY / "mmslt_translation"))
    result = model.load_state_dict(state, strict=False)
    assert result.unexpected_keys == []
    # only the tied word embeddings, which a safetensors file stores once (as the shared weight)
    assert all(k.endswith(("embed_tokens.weight", "lm_head.weight")) for k in result.missing_keys), result.missing_keys
    assert torch.equal(model.model.backbone.model.embedder.embedder.convolution.weight,
                       state["backbone.model.embedder.embedder.convolution.weight"])
