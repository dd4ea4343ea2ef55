"""The private (underscore) APIs of transformers, torchcodec, peft and torch that the package relies on.

Each test checks one of them the way the package uses it and fails with a message naming the API, the file that uses
it and what to do — so a release that renames, removes or changes one breaks here, loudly, rather than somewhere deep
in a pipeline, a processor or a training run. The list is in the README ("Development"); keep the two in step.
"""

import inspect
from pathlib import Path

import pytest
import torch

TEST_DATA = Path(__file__).resolve().parent / "data"


def _fail(api: str, user: str, problem: str) -> str:
    return (f"private API changed: {api} (used by {user}): {problem}. Adapt {user} to the new release, then this "
            "test and the README list in 'Development'.")


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


# ---------------------------------------------------------------------------------------------- torchcodec
def test_torchcodec_container_metadata():
    """processing/video_io.py reads the container-level duration (mkv/webm have none per stream) to detect
    truncated files; without it that check silently switches off."""
    from torchcodec.decoders import VideoDecoder

    api, user = "torchcodec._core.get_container_metadata(VideoDecoder._decoder)", "processing/video_io.py"
    try:
        from torchcodec._core import get_container_metadata
    except ImportError as err:
        pytest.fail(_fail(api, user, f"cannot import it ({err})"))
    decoder = VideoDecoder(str(TEST_DATA / "SOUP.mp4"), seek_mode="exact")
    assert hasattr(decoder, "_decoder"), _fail(api, user, "VideoDecoder has no `_decoder` attribute")
    metadata = get_container_metadata(decoder._decoder)
    duration = getattr(metadata, "duration_seconds_from_header", None)
    assert isinstance(duration, float) and duration > 0, _fail(
        api, user, f"`duration_seconds_from_header` is {duration!r}, expected a positive float")


# ---------------------------------------------------------------------------------------------- transformers
def test_pipeline_private_hooks():
    """pipeline_sign_translation.py: `_prepare_generate_kwargs` (generation defaults for pipelines that call
    generate), the component flags `_load_processor` & co. and `_pipeline_calls_generate`; serve.py: the
    `_sanitize_parameters` triple and the `_preprocess_params` / `_forward_params` / `_postprocess_params` a pipeline
    keeps."""
    from transformers import Pipeline

    user = "src/sign_translation/pipeline_sign_translation.py"
    assert callable(getattr(Pipeline, "_prepare_generate_kwargs", None)), _fail(
        "Pipeline._prepare_generate_kwargs", user, "it no longer exists")
    assert _parameters(Pipeline._prepare_generate_kwargs)[:2] == ["self", "generate_kwargs"], _fail(
        "Pipeline._prepare_generate_kwargs", user, f"signature is now {inspect.signature(Pipeline._prepare_generate_kwargs)}")
    for flag in ("_load_processor", "_load_tokenizer", "_load_image_processor", "_load_video_processor",
                 "_load_feature_extractor", "_pipeline_calls_generate"):
        assert hasattr(Pipeline, flag), _fail(f"Pipeline.{flag}", user, "the class flag is gone: pipeline() no longer "
                                              "reads it to decide what to load")
    source = inspect.getsource(Pipeline.__init__)
    for name in ("_preprocess_params", "_forward_params", "_postprocess_params", "_sanitize_parameters"):
        assert name in source, _fail(f"Pipeline.{name}", "src/sign_translation/serve.py",
                                     "Pipeline.__init__ no longer sets/uses it")


def test_pipeline_hooks_drive_our_pipeline(tmp_path):
    """The flags really decide what loads: our pipeline gets the ProcessorMixin processor and generation settings."""
    from transformers import pipeline

    from sign_translation import (
        FlaLlmConfig,
        FlaLlmForConditionalGeneration,
        SignTranslationProcessor,
        SignVideoProcessor,
    )
    from sign_translation.hub import export_checkpoint
    from sign_translation.tokenization import train_mbart_tokenizer

    tokenizer = train_mbart_tokenizer(["it rains in the north", "sun tomorrow"], vocab_size=40)
    model = FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=len(tokenizer))).eval()
    model.generation_config.max_new_tokens = 3
    processor = SignTranslationProcessor(SignVideoProcessor(size=32, crop_size=28, frame_stride=8), tokenizer)
    folder = export_checkpoint(model, processor, tmp_path / "ckpt", write_card=False)
    translator = pipeline("sign-translation", model=str(folder))
    assert isinstance(translator.processor, SignTranslationProcessor), _fail(
        "Pipeline._load_processor", "src/sign_translation/pipeline_sign_translation.py",
        f"pipeline() loaded {type(translator.processor).__name__} instead of the ProcessorMixin processor")
    preprocess, forward, postprocess = translator._sanitize_parameters()
    assert isinstance(translator._forward_params, dict) and isinstance(forward, dict)
    assert isinstance(translator(str(TEST_DATA / "SOUP.mp4"))["translation_text"], str)


def test_trainer_get_dataloader_signature():
    """training.py overrides `Trainer._get_dataloader` to tell the collator whether it serves training (random crop,
    augmentation) or evaluation, and calls the parent with positional arguments."""
    from transformers import Trainer

    api, user = "Trainer._get_dataloader", "src/sign_translation/training.py (SignTrainerMixin)"
    assert hasattr(Trainer, "_get_dataloader"), _fail(api, user, "it no longer exists")
    expected = ["self", "dataset", "description", "batch_size", "sampler_fn", "is_training", "dataloader_key"]
    assert _parameters(Trainer._get_dataloader) == expected, _fail(
        api, user, f"signature is now {inspect.signature(Trainer._get_dataloader)}, expected ({', '.join(expected)})")
    for public in ("get_train_dataloader", "get_eval_dataloader", "get_test_dataloader"):
        assert "_get_dataloader" in inspect.getsource(getattr(Trainer, public)), _fail(
            api, user, f"Trainer.{public} no longer goes through it")


def test_trainer_issue_warnings_after_load():
    """training.py overrides `Trainer._issue_warnings_after_load(load_result)` to drop tied weights (stored once)
    from the missing keys a resumed run reports; it reads `PreTrainedModel.all_tied_weights_keys` (target -> source)."""
    from transformers import LlamaConfig, LlamaForCausalLM, Trainer

    api, user = "Trainer._issue_warnings_after_load", "src/sign_translation/training.py (SignTrainerMixin)"
    assert hasattr(Trainer, "_issue_warnings_after_load"), _fail(api, user, "it no longer exists")
    assert _parameters(Trainer._issue_warnings_after_load) == ["self", "load_result"], _fail(
        api, user, f"signature is now {inspect.signature(Trainer._issue_warnings_after_load)}")
    assert "_issue_warnings_after_load" in inspect.getsource(Trainer._load_from_checkpoint), _fail(
        api, user, "Trainer._load_from_checkpoint no longer reports missing keys through it")
    tied = LlamaForCausalLM(LlamaConfig(vocab_size=16, hidden_size=8, intermediate_size=8, num_hidden_layers=1,
                                        num_attention_heads=2, tie_word_embeddings=True))
    assert getattr(tied, "all_tied_weights_keys", None) == {"lm_head.weight": "model.embed_tokens.weight"}, _fail(
        "PreTrainedModel.all_tied_weights_keys", user,
        f"expected {{target: source}} of the tied weights, got {getattr(tied, 'all_tied_weights_keys', None)!r}")


def test_config_attn_implementation():
    """modeling_fla_llm.py / modeling_mmslt.py / llm_bridge.py read `config._attn_implementation` of an LLM to keep
    its attention kernel when composing it (building the composite config resets it) and to switch to eager for
    `output_attentions`."""
    from transformers import AutoModelForSeq2SeqLM, MBartConfig

    api, user = "PretrainedConfig._attn_implementation", "modeling/modeling_fla_llm.py, modeling/llm_bridge.py"
    config = MBartConfig(vocab_size=40, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                         decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32)
    model = AutoModelForSeq2SeqLM.from_config(config, attn_implementation="eager")
    assert getattr(model.config, "_attn_implementation", None) == "eager", _fail(
        api, user, f"reads {getattr(model.config, '_attn_implementation', 'nothing')!r} after choosing eager")
    model.set_attn_implementation("sdpa")
    assert model.config._attn_implementation == "sdpa", _fail(api, user, "set_attn_implementation does not update it")


def test_model_support_flags_and_init_weights_hook():
    """Our PreTrainedModel subclasses declare `_supports_sdpa` / `_supports_flash_attn` and override
    `_init_weights(module)`, which transformers calls for every module it initialises."""
    from transformers import PreTrainedModel

    user = "modeling/modeling_fla_llm.py, modeling/modeling_mmslt.py"
    for flag in ("_supports_sdpa", "_supports_flash_attn"):
        assert hasattr(PreTrainedModel, flag), _fail(f"PreTrainedModel.{flag}", user, "the flag is gone")
    assert _parameters(PreTrainedModel._init_weights) == ["self", "module"], _fail(
        "PreTrainedModel._init_weights", user, f"signature is now {inspect.signature(PreTrainedModel._init_weights)}")

    from sign_translation import FlaLlmConfig, FlaLlmForVisualInitialization, FlaLlmPreTrainedModel

    seen = []
    original = FlaLlmPreTrainedModel._init_weights  # the heads' and the front end's (FlaLlmModel) hook

    def spy(self, module):
        seen.append(type(module).__name__)
        return original(self, module)

    FlaLlmPreTrainedModel._init_weights = spy
    try:
        FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=40))
    finally:
        FlaLlmPreTrainedModel._init_weights = original
    assert "Linear" in seen and "Conv1d" in seen, _fail(
        "PreTrainedModel._init_weights", user, f"post_init() no longer calls it for our modules (saw {set(seen)})")


def test_register_for_auto_class_sets_auto_class(tmp_path):
    """`register_for_auto_class` stores the Auto class in `_auto_class`, which `save_pretrained` reads to copy the code
    files and write `auto_map`; `StrictLoadingMixin.save_pretrained` reads it too, to add the family's other
    entries (AutoModel → front end, AutoModelForPreTraining → first stage)."""
    import json

    from sign_translation import MMSLTConfig, MMSLTForConditionalGeneration, MMSLTModel

    user = "modeling/checkpoint_loading.py"
    assert getattr(MMSLTModel, "_auto_class", None) == "AutoModel", _fail(
        "PreTrainedModel._auto_class", user, f"register_for_auto_class no longer sets it ({vars(MMSLTModel)})")
    MMSLTForConditionalGeneration(MMSLTConfig.tiny(vocab_size=40)).save_pretrained(tmp_path)
    auto_map = json.loads((tmp_path / "config.json").read_text()).get("auto_map", {})
    assert auto_map.get("AutoModel") == "modeling_mmslt.MMSLTModel" and (tmp_path / "modeling_mmslt.py").is_file(), _fail(
        "PreTrainedModel._auto_class", user, f"save_pretrained wrote auto_map {auto_map}")


def test_processor_loading_hooks():
    """processing_sign_translation.py overrides the classmethod `ProcessorMixin._get_arguments_from_pretrained` (to
    load the video processor as itself, with and without the package) and calls `_load_tokenizer_from_pretrained`."""
    from transformers import ProcessorMixin

    user = "processing/processing_sign_translation.py"
    api = "ProcessorMixin._get_arguments_from_pretrained"
    assert isinstance(inspect.getattr_static(ProcessorMixin, "_get_arguments_from_pretrained"), classmethod), _fail(
        api, user, "it is no longer a classmethod")
    assert _parameters(ProcessorMixin._get_arguments_from_pretrained)[:2] == [
        "pretrained_model_name_or_path", "processor_dict"], _fail(
        api, user, f"signature is now {inspect.signature(ProcessorMixin._get_arguments_from_pretrained)}")
    assert "_get_arguments_from_pretrained" in inspect.getsource(ProcessorMixin.from_pretrained), _fail(
        api, user, "ProcessorMixin.from_pretrained no longer calls it")
    api = "ProcessorMixin._load_tokenizer_from_pretrained"
    assert hasattr(ProcessorMixin, api.split(".")[1]), _fail(api, user, "it no longer exists")
    assert _parameters(ProcessorMixin._load_tokenizer_from_pretrained)[:2] == [
        "sub_processor_type", "pretrained_model_name_or_path"], _fail(
        api, user, f"signature is now {inspect.signature(ProcessorMixin._load_tokenizer_from_pretrained)}")


def test_video_processor_standardize_kwargs():
    """video_processing_sign_translation.py turns its kwargs into validated options with
    `BaseVideoProcessor._standardize_kwargs` (SizeDict sizes, defaults)."""
    from sign_translation import SignVideoProcessor

    api, user = "BaseVideoProcessor._standardize_kwargs", "processing/video_processing_sign_translation.py"
    processor = SignVideoProcessor(size=32, crop_size=28)
    assert hasattr(processor, "_standardize_kwargs"), _fail(api, user, "it no longer exists")
    options = processor._standardize_kwargs(size={"height": 32, "width": 32}, crop_size={"height": 28, "width": 28},
                                            do_resize=True, do_center_crop=True, default_to_square=True)
    assert options["size"].height == 32 and options["crop_size"].width == 28, _fail(
        api, user, f"returned {options!r}, expected SizeDict sizes")


def test_fast_tokenizer_backend_attribute():
    """modeling/vocabulary_trimming.py reads a tokenizer's `tokenizers.Tokenizer` through `backend_tokenizer`,
    falling back to the private `_tokenizer`."""
    from sign_translation.tokenization import train_mbart_tokenizer

    tokenizer = train_mbart_tokenizer(["it rains in the north", "sun tomorrow"], vocab_size=40)
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    assert backend is not None and hasattr(backend, "to_str"), _fail(
        "PreTrainedTokenizerFast.backend_tokenizer / ._tokenizer", "modeling/vocabulary_trimming.py",
        f"{type(tokenizer).__name__} exposes no tokenizers.Tokenizer")


# ---------------------------------------------------------------------------------------------- peft, torch
def test_peft_base_tuner_layer():
    """llm_bridge.py finds the LoRA layers it injected with `peft.tuners.tuners_utils.BaseTunerLayer` (an internal
    module path) to switch them off for MMSLT's frozen text pass."""
    api, user = "peft.tuners.tuners_utils.BaseTunerLayer", "modeling/llm_bridge.py"
    try:
        from peft import LoraConfig, inject_adapter_in_model
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError as err:
        pytest.fail(_fail(api, user, f"cannot import it ({err})"))
    model = torch.nn.Sequential(torch.nn.Linear(4, 4))
    model = inject_adapter_in_model(LoraConfig(r=2, target_modules=["0"]), model)
    layers = [m for m in model.modules() if isinstance(m, BaseTunerLayer)]
    assert layers and all(hasattr(layer, "enable_adapters") and hasattr(layer, "disable_adapters")
                          for layer in layers), _fail(
        api, user, "injected LoRA layers are not BaseTunerLayer instances with enable_adapters() / disable_adapters")


def test_torch_batchnorm_base_class():
    """visual_encoder.py finds every BatchNorm (1d/2d/3d, SyncBatchNorm) through `nn.modules.batchnorm._BatchNorm`
    to restore their running statistics after the recomputation of a checkpointed forward."""
    api, user = "torch.nn.modules.batchnorm._BatchNorm", "modeling/visual_encoder.py"
    base = getattr(torch.nn.modules.batchnorm, "_BatchNorm", None)
    assert base is not None, _fail(api, user, "it no longer exists")
    for cls in (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.SyncBatchNorm):
        assert issubclass(cls, base), _fail(api, user, f"{cls.__name__} is no longer a subclass")
