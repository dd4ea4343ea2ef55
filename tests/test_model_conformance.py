"""transformers' common model / config / generation tests on every model class (issue 12).

One `*ModelTester` per model class (the two front ends `FlaLlmModel` / `MMSLTModel` and the four heads) builds a tiny config (hidden 32, 2 layers, 16 px frames, vocabulary 40) and
`pixel_values_videos` + `video_mask` inputs; the mixins in `tests/transformers_common/` (see its NOTICE) run on
them. The last part tests what the issue fixed beyond the mixins: LoRA weights that a checkpoint lacks start as
peft starts them, `mmlp_loss` on its own, paper-named modules, config field validation, the Auto classes.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers_common.test_configuration_common import ConfigTester
from transformers_common.test_modeling_common import GenerationTesterMixin, ModelTesterMixin

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

VOCAB = 40


class SignModelTester:
    """Tiny config + video inputs for one model class. `lm_kind`: the outputs its LLM part gives ("seq2seq",
    "causal", or "encoder" for MMLP); `num_visual_hidden_states`: the front end's stages."""

    batch_size = 2
    num_frames = 10
    image_size = 16
    num_hidden_layers = 2
    num_attention_heads = 4
    hidden_size = 32

    def __init__(self, config_class, lm_kind, num_visual_hidden_states, pretraining=False, **config_kwargs):
        # lm_kind "front_end": a front end (the visual tokens, no head): video inputs only
        self.config_class = config_class
        self.lm_kind = lm_kind
        self.num_visual_hidden_states = num_visual_hidden_states
        self.pretraining = pretraining
        self.config_kwargs = config_kwargs
        self.generation_prompt_length = 1 if lm_kind == "seq2seq" else 0  # the decoder start token

    def get_config(self, **overrides):
        return self.config_class.tiny(vocab_size=VOCAB, **{**self.config_kwargs, **overrides})

    def prepare_config_and_inputs_for_common(self):
        g = torch.Generator().manual_seed(0)
        video = torch.randn(self.batch_size, self.num_frames, 3, self.image_size, self.image_size, generator=g)
        mask = torch.ones(self.batch_size, self.num_frames, dtype=torch.long)
        mask[1, 7:] = 0  # the second clip is shorter: padding is exercised everywhere
        inputs = {"pixel_values_videos": video, "video_mask": mask}
        if self.lm_kind == "front_end":
            pass
        elif self.pretraining:
            config = self.get_config()
            inputs["input_ids"] = torch.tensor([[5, 6, 7, 2], [8, 9, 2, 1]])
            inputs["attention_mask"] = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
            inputs["description_embeds"] = torch.randn(self.batch_size, self.num_frames, config.description_size,
                                                       generator=g)
        else:
            inputs["labels"] = torch.tensor([[5, 6, 7, 2], [8, 9, 2, -100]])
        return self.get_config(), inputs

    def scalar_output(self, outputs):
        """What training backpropagates: the loss of a head; for a front end (no head, no loss) a function of its
        visual tokens that every one of them reaches."""
        if self.lm_kind == "front_end":
            return outputs.last_hidden_state.pow(2).mean()
        return outputs.loss


def fla_config_tester(make_config):
    return ConfigTester(FlaLlmConfig, make_config,
                        common_properties=("temporal_hidden_size", "temporal_kernel_size", "frame_stride"),
                        sub_configs=("vision_config", "translator_config", "text_config"),
                        label_smoothing=0.1, frame_stride=2, language_code="de_DE")


def mmslt_config_tester(make_config):
    return ConfigTester(MMSLTConfig, make_config,
                        common_properties=("temporal_hidden_size", "description_size", "lora_r"),
                        sub_configs=("vision_config", "text_config"),
                        mse_weight=0.5, lora_r=8, language_code="de_DE")


class CausalLLMVariant:
    """The same model class around a decoder-only LLM: only the tests whose path differs with the LLM kind
    (outputs, embeddings, training, generation) run again; the rest is the mBART variant's (set to None, so
    pytest does not collect them)."""

    test_not_applicable = test_config = test_save_load = test_determinism = test_forward_signature = None
    test_model_main_input_name = test_model_is_small = test_training_gradient_checkpointing = None
    test_retain_grad_hidden_states_attentions = test_eager_matches_sdpa_inference = None


class FrontEndVariant:
    """A front end: the visual tokens, no head — the upstream tests that need a head or attention layers skip, each
    with its reason."""

    test_resize_embeddings = False

    def test_resize_tokens_embeddings(self):
        pytest.skip("a front end has no token embeddings to resize: its input is a video, its output visual tokens")

    def test_model_get_set_embeddings(self):
        pytest.skip("a front end has no token embeddings (get_input_embeddings is None): its input is a video")

    def test_attention_outputs(self):
        pytest.skip("a front end has no attention layers (a CNN backbone and temporal convolutions)")

    def test_eager_matches_sdpa_inference(self):
        pytest.skip("a front end has no attention layers, so no attention implementation to switch")


class TestFlaLlmModel(FrontEndVariant, ModelTesterMixin):
    all_model_classes = (FlaLlmModel,)

    def setup_method(self):
        # stages: backbone features, local temporal module (= the visual tokens)
        self.model_tester = SignModelTester(FlaLlmConfig, "front_end", num_visual_hidden_states=2)
        self.config_tester = fla_config_tester(self.model_tester.get_config)


class TestMMSLTModel(FrontEndVariant, ModelTesterMixin):
    all_model_classes = (MMSLTModel,)

    def setup_method(self):
        # stages: backbone features, [features ; d̂], temporal conv, MLP (= the visual tokens)
        self.model_tester = SignModelTester(MMSLTConfig, "front_end", num_visual_hidden_states=4)
        self.config_tester = mmslt_config_tester(self.model_tester.get_config)


class TestFlaLlmForVisualInitialization(ModelTesterMixin, GenerationTesterMixin):
    all_model_classes = (FlaLlmForVisualInitialization,)
    all_generative_model_classes = (FlaLlmForVisualInitialization,)

    def setup_method(self):
        self.model_tester = SignModelTester(FlaLlmConfig, "seq2seq", num_visual_hidden_states=3)
        self.config_tester = fla_config_tester(self.model_tester.get_config)


class TestFlaLlmForConditionalGeneration(ModelTesterMixin, GenerationTesterMixin):
    all_model_classes = (FlaLlmForConditionalGeneration,)
    all_generative_model_classes = (FlaLlmForConditionalGeneration,)

    def setup_method(self):
        self.model_tester = SignModelTester(FlaLlmConfig, "seq2seq", num_visual_hidden_states=3)
        self.config_tester = fla_config_tester(self.model_tester.get_config)


class TestFlaLlmForConditionalGenerationCausalLLM(CausalLLMVariant, ModelTesterMixin, GenerationTesterMixin):
    all_model_classes = (FlaLlmForConditionalGeneration,)
    all_generative_model_classes = (FlaLlmForConditionalGeneration,)

    def setup_method(self):
        self.model_tester = SignModelTester(FlaLlmConfig, "causal", num_visual_hidden_states=3, llm="causal")
        self.config_tester = fla_config_tester(self.model_tester.get_config)


class TestMMSLTForPreTraining(ModelTesterMixin):
    all_model_classes = (MMSLTForPreTraining,)

    def setup_method(self):
        self.model_tester = SignModelTester(MMSLTConfig, "encoder", num_visual_hidden_states=4, pretraining=True)
        self.config_tester = mmslt_config_tester(self.model_tester.get_config)


class TestMMSLTForConditionalGeneration(ModelTesterMixin, GenerationTesterMixin):
    all_model_classes = (MMSLTForConditionalGeneration,)
    all_generative_model_classes = (MMSLTForConditionalGeneration,)

    def setup_method(self):
        self.model_tester = SignModelTester(MMSLTConfig, "seq2seq", num_visual_hidden_states=4)
        self.config_tester = mmslt_config_tester(self.model_tester.get_config)


class TestMMSLTForConditionalGenerationCausalLLM(CausalLLMVariant, ModelTesterMixin, GenerationTesterMixin):
    all_model_classes = (MMSLTForConditionalGeneration,)
    all_generative_model_classes = (MMSLTForConditionalGeneration,)

    def setup_method(self):
        self.model_tester = SignModelTester(MMSLTConfig, "causal", num_visual_hidden_states=4, llm="causal")
        self.config_tester = mmslt_config_tester(self.model_tester.get_config)


# ------------------------------------------------------------------------------------------ beyond the mixins
def _translation_inputs():
    _, inputs = SignModelTester(MMSLTConfig, "seq2seq", 4).prepare_config_and_inputs_for_common()
    return inputs


@pytest.mark.parametrize("model_class", [MMSLTForConditionalGeneration, MMSLTForPreTraining])
def test_lora_weights_missing_from_a_checkpoint_start_untrained(model_class, tmp_path):
    """transformers initialises the weights a checkpoint lacks with `_init_weights`; LoRA layers sit inside the LLM,
    whose `_init_weights` would draw lora_B from N(0, std). They must start as peft starts them (lora_B = 0), so
    the adapter leaves the checkpoint's output unchanged before training."""
    from sign_translation.modeling.llm_bridge import lora_disabled, lora_layers

    torch.manual_seed(0)
    model = model_class(MMSLTConfig.tiny(vocab_size=VOCAB)).eval()
    model.save_pretrained(tmp_path)
    state = load_file(tmp_path / "model.safetensors")
    assert any("lora_B" in key for key in state)
    save_file({k: v for k, v in state.items() if "lora_" not in k}, tmp_path / "model.safetensors",
              metadata={"format": "pt"})
    loaded = model_class.from_pretrained(tmp_path).eval()
    lm = loaded.llm if model_class is MMSLTForConditionalGeneration else loaded.llm_encoder
    layers = lora_layers(lm)
    assert layers
    for layer in layers:
        assert torch.count_nonzero(layer.lora_B["default"].weight) == 0
        assert torch.count_nonzero(layer.lora_A["default"].weight) > 0  # peft's Kaiming init, not zeros
    if model_class is MMSLTForConditionalGeneration:
        inputs = _translation_inputs()
        with torch.no_grad():
            with_adapter = loaded(**inputs).logits
            with lora_disabled(lm):
                without = loaded(**inputs).logits
            original = model(**inputs).logits
        torch.testing.assert_close(with_adapter, without)
        torch.testing.assert_close(with_adapter, original)


def test_lora_weights_in_a_checkpoint_are_loaded_not_reinitialised(tmp_path):
    from sign_translation.modeling.llm_bridge import lora_layers

    model = MMSLTForConditionalGeneration(MMSLTConfig.tiny(vocab_size=VOCAB))
    with torch.no_grad():
        for layer in lora_layers(model.llm):
            layer.lora_B["default"].weight.normal_()
    model.save_pretrained(tmp_path)
    loaded = MMSLTForConditionalGeneration.from_pretrained(tmp_path)
    for ours, theirs in zip(lora_layers(model.llm), lora_layers(loaded.llm)):
        torch.testing.assert_close(ours.lora_B["default"].weight, theirs.lora_B["default"].weight)


def test_mmlp_loss_is_symmetric_infonce_plus_masked_mse():
    from sign_translation.modeling.modeling_mmslt import mmlp_loss

    g = torch.Generator().manual_seed(0)
    video = torch.nn.functional.normalize(torch.randn(3, 8, generator=g), dim=-1)
    text = torch.nn.functional.normalize(torch.randn(3, 8, generator=g), dim=-1)
    scale = torch.tensor(2.0)
    mapped, target = torch.randn(3, 5, 4, generator=g), torch.randn(3, 5, 4, generator=g)
    mask = torch.tensor([[1] * 5, [1] * 3 + [0] * 2, [1] * 4 + [0]])
    out = mmlp_loss(video, text, scale, mapped, target, mask, mse_weight=0.1)
    logits = scale.exp() * video @ text.T
    by_hand = 0.0
    for i in range(3):  # -log softmax of the matching pair, rows (video→text) and columns (text→video)
        by_hand += -(logits[i].log_softmax(-1)[i] + logits[:, i].log_softmax(-1)[i]) / 2
    torch.testing.assert_close(out["contrastive_loss"], by_hand / 3)
    valid = mask.bool()
    mse = ((mapped - target) ** 2)[valid].mean()
    torch.testing.assert_close(out["description_loss"], mse)
    torch.testing.assert_close(out["loss"], by_hand / 3 + 0.1 * mse)
    changed = target.clone()
    changed[1, 3:] += 5.0  # padded frames do not count
    torch.testing.assert_close(mmlp_loss(video, text, scale, mapped, changed, mask)["loss"],
                               mmlp_loss(video, text, scale, mapped, target, mask)["loss"])
    assert mmlp_loss(video, text, torch.tensor(10.0))["logits_per_video"].max() <= 100.0 + 1e-4  # scale clamp


def test_mmlp_forward_uses_mmlp_loss():
    from sign_translation.modeling.modeling_mmslt import mmlp_loss

    config, inputs = SignModelTester(MMSLTConfig, "encoder", 4, pretraining=True).prepare_config_and_inputs_for_common()
    model = MMSLTForPreTraining(config).eval()
    with torch.no_grad():
        out = model(**inputs)
        again = mmlp_loss(out.video_embeds, out.text_embeds, model.logit_scale)
    torch.testing.assert_close(out.contrastive_loss, again["contrastive_loss"])
    torch.testing.assert_close(out.logits_per_video, again["logits_per_video"])
    torch.testing.assert_close(out.loss, out.contrastive_loss + config.mse_weight * out.description_loss)


def test_paper_named_modules_keep_the_generic_parameter_names():
    from sign_translation.modeling.modeling_fla_llm import LightTranslator
    from sign_translation.modeling.visual_encoder import DescriptionMapper, LLMAdapter, MLPAdapter, VLAdapter

    stage1 = FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=VOCAB))
    stage2 = FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=VOCAB))
    mmslt = MMSLTForConditionalGeneration(MMSLTConfig.tiny(vocab_size=VOCAB))
    assert isinstance(stage1.vl_adapter, VLAdapter) and isinstance(stage1.vl_adapter, MLPAdapter)
    assert isinstance(stage2.llm_adapter, LLMAdapter)
    assert isinstance(mmslt.description_mapper, DescriptionMapper)
    assert type(stage1.translator) is type(LightTranslator.from_config(stage1.config.translator_config))
    for module in (stage1.vl_adapter, stage2.llm_adapter, mmslt.description_mapper):
        assert sorted(module.state_dict()) == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]


@pytest.mark.parametrize("field, value", [
    ("lora_r", 0), ("lora_alpha", -1), ("lora_dropout", 1.0), ("mse_weight", -0.1), ("temperature_init", 0.0),
    ("label_smoothing", 1.0), ("description_size", 0), ("temporal_hidden_size", 2.5), ("max_frames", 0),
    ("llm_finetuning", "qlora"), ("llm_type", "encoder"), ("lora_target_modules", []), ("temporal_kernel_size", 0),
])
def test_mmslt_config_rejects_bad_fields_naming_them(field, value):
    with pytest.raises((ValueError, TypeError), match=field):
        MMSLTConfig.tiny(vocab_size=VOCAB, **{field: value})


@pytest.mark.parametrize("field, value", [
    ("temporal_kernel_size", 4), ("frame_stride", 0), ("label_smoothing", -0.1), ("llm_adapter_hidden_size", 0),
    ("initializer_range", 0.0), ("vl_adapter_hidden_size", 0), ("llm_finetuning", "qlora"), ("lora_r", 0),
    ("lora_alpha", -1), ("lora_dropout", 1.0), ("lora_target_modules", []),
])
def test_fla_llm_config_rejects_bad_fields_naming_them(field, value):
    with pytest.raises((ValueError, TypeError), match=field):
        FlaLlmConfig.tiny(vocab_size=VOCAB, **{field: value})


def test_auto_classes_and_old_names():
    from transformers import AutoModelForPreTraining, AutoModelForSeq2SeqLM

    import sign_translation
    from sign_translation.modeling import modeling_mmslt

    assert sign_translation.MMSLTForPretraining is MMSLTForPreTraining is modeling_mmslt.MMSLTForPretraining
    assert type(AutoModelForPreTraining.from_config(FlaLlmConfig.tiny(vocab_size=VOCAB))) is FlaLlmForVisualInitialization
    assert type(AutoModelForPreTraining.from_config(MMSLTConfig.tiny(vocab_size=VOCAB))) is MMSLTForPreTraining
    assert type(AutoModelForSeq2SeqLM.from_config(MMSLTConfig.tiny(vocab_size=VOCAB))) is MMSLTForConditionalGeneration
