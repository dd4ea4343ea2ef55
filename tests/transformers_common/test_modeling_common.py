# Copyright The HuggingFace Team and the sign-translation authors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0); see NOTICE.
"""`ModelTesterMixin` / `GenerationTesterMixin`: transformers' common model tests (tests/test_modeling_common.py,
tests/generation/test_utils.py), re-written for models whose main input is a video.

Kept from upstream: test names and the property each test checks. Changed, for video input:
- inputs come from `model_tester.prepare_config_and_inputs_for_common()` as `pixel_values_videos` + `video_mask`
  (+ `labels`, or the sentence for MMLP); nothing assumes `input_ids` is the main input;
- a composite model exposes its LLM's outputs: for a seq2seq LLM `encoder_*`/`decoder_*`/`cross_attentions`,
  for a decoder-only LLM `hidden_states`/`attentions`, and for every model the front end's
  `visual_hidden_states`; the tester says which (`lm_kind`: "seq2seq", "causal" or "encoder"); a front end
  (`lm_kind` "front_end": the visual tokens, no head) returns its stages as `hidden_states`, like transformers'
  base models, and its training tests use the tester's `scalar_output` where a head has a loss;
- tests of the upstream mixin that cannot apply to a video-input model are not written; each is listed in
  `NOT_APPLICABLE` with its reason and reported as a skip (`test_not_applicable`).
"""

from __future__ import annotations

import inspect
import os
import tempfile

import pytest
import torch
from torch import nn

# Upstream ModelTesterMixin / GenerationTesterMixin tests that do not apply here, and why.
NOT_APPLICABLE = {
    "test_inputs_embeds": "the main input is a video (pixel_values_videos), not token ids: there are no input "
                          "embeddings to feed instead of it",
    "test_inputs_embeds_matches_input_ids": "no input_ids: the main input is a video",
    "test_headmasking": "head masks were removed from transformers 5",
    "test_torchscript": "TorchScript was removed from transformers 5's common tests",
    "test_model_parallelism": "needs several accelerators; the models are a few hundred MB at paper size",
    "test_multi_gpu_data_parallel_forward": "needs several GPUs",
    "test_flash_attn_2_inference_equivalence": "needs a CUDA GPU with flash-attn installed",
    "test_mismatched_shapes_have_properly_initialized_weights": "no classification heads (num_labels) to mismatch",
    "test_left_padding_compatibility": "the generated prefix is visual tokens built by the model from the video; "
                                       "padding is the video_mask's job, and batch-vs-single equality is tested",
    "test_assisted_decoding_matches_greedy_search": "custom generate (visual prefix) does not take an assistant",
    "test_contrastive_generate": "contrastive search moved to a Hub custom-generate repo in transformers 5",
    "test_generate_continue_from_past_key_values": "the custom generate starts from video, not from a cache",
}


def _compare(a, b, atol=1e-5, path="output"):
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b), f"{path}: {type(a)} of {len(a)} vs {type(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            _compare(x, y, atol, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        torch.testing.assert_close(a, b, atol=atol, rtol=1e-4, msg=f"{path} differs")
    else:
        assert a == b, path


class ModelTesterMixin:
    """Set `model_tester` (built in `setup_method`), `all_model_classes` and `test_resize_embeddings`."""

    model_tester = None
    all_model_classes: tuple = ()
    test_resize_embeddings = True

    def _prepare_for_class(self, inputs_dict, model_class):
        return dict(inputs_dict)

    def _model(self, model_class, config):
        torch.manual_seed(0)
        return model_class(config).eval()

    @pytest.mark.parametrize("name", sorted(NOT_APPLICABLE))
    def test_not_applicable(self, name):
        pytest.skip(f"{name}: {NOT_APPLICABLE[name]}")

    def test_config(self):
        self.config_tester.run_common_tests()

    def test_save_load(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = self._model(model_class, config)
            with torch.no_grad():
                first = model(**self._prepare_for_class(inputs, model_class)).to_tuple()
            with tempfile.TemporaryDirectory() as tmp:
                model.save_pretrained(tmp)
                reloaded = model_class.from_pretrained(tmp).eval()
            with torch.no_grad():
                second = reloaded(**self._prepare_for_class(inputs, model_class)).to_tuple()
            _compare(first, second)

    def test_can_use_safetensors(self):
        """Saved with safetensors, reloaded: every tensor of the state dict back, shared (tied) ones included."""
        config, _ = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = self._model(model_class, config)
            with tempfile.TemporaryDirectory() as tmp:
                model.save_pretrained(tmp, safe_serialization=True)
                assert os.path.isfile(os.path.join(tmp, "model.safetensors"))
                reloaded = model_class.from_pretrained(tmp)
            ours, theirs = model.state_dict(), reloaded.state_dict()
            assert sorted(ours) == sorted(theirs)
            for key in ours:
                torch.testing.assert_close(ours[key], theirs[key], msg=key)

    def test_determinism(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = self._model(model_class, config)
            with torch.no_grad():
                first = model(**self._prepare_for_class(inputs, model_class))[0]
                second = model(**self._prepare_for_class(inputs, model_class))[0]
            torch.testing.assert_close(first, second)

    def test_forward_signature(self):
        for model_class in self.all_model_classes:
            names = list(inspect.signature(model_class.forward).parameters)[1:]
            assert names[:2] == ["pixel_values_videos", "video_mask"], names

    def test_model_main_input_name(self):
        for model_class in self.all_model_classes:
            first = list(inspect.signature(model_class.forward).parameters)[1]
            assert model_class.main_input_name == first

    def test_model_is_small(self):
        config, _ = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            assert self._model(model_class, config).num_parameters() < 1_000_000

    def test_model_outputs_equivalence(self):
        """`return_dict=False` (argument or config) gives the tuple the ModelOutput's `to_tuple()` gives."""
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = self._model(model_class, config)
            for extra in ({}, {"output_hidden_states": True, "output_attentions": True}):
                kwargs = {**self._prepare_for_class(inputs, model_class), **extra}
                with torch.no_grad():
                    tuple_output = model(**kwargs, return_dict=False)
                    dict_output = model(**kwargs, return_dict=True)
                assert isinstance(tuple_output, tuple)
                _compare(tuple_output, dict_output.to_tuple())
            model.config.return_dict = False
            with torch.no_grad():
                assert isinstance(model(**self._prepare_for_class(inputs, model_class)), tuple)
            model.config.return_dict = True

    def _check_hidden_states(self, outputs):
        tester = self.model_tester
        layers = tester.num_hidden_layers
        visual = outputs.hidden_states if tester.lm_kind == "front_end" else outputs.visual_hidden_states
        assert visual is not None and len(visual) == tester.num_visual_hidden_states
        assert all(h.shape[0] == tester.batch_size for h in visual)
        if tester.lm_kind == "front_end":  # the last stage is the output
            torch.testing.assert_close(visual[-1], outputs.last_hidden_state)
        elif tester.lm_kind == "seq2seq":
            assert len(outputs.encoder_hidden_states) == layers + 1
            assert len(outputs.decoder_hidden_states) == layers + 1
            assert outputs.encoder_hidden_states[0].shape[-1] == tester.hidden_size
            # the LLM encoder reads exactly the visual tokens the front end made
            assert outputs.encoder_hidden_states[0].shape[:2] == visual[-1].shape[:2]
        elif tester.lm_kind == "causal":
            assert len(outputs.hidden_states) == layers + 1
            assert outputs.hidden_states[0].shape[-1] == tester.hidden_size
        else:  # "encoder": MMLP's LLM encoder over the visual tokens
            assert len(outputs.encoder_hidden_states) == layers + 1
            assert outputs.encoder_hidden_states[0].shape[:2] == visual[-1].shape[:2]

    def _no_hidden_states(self, outputs):
        for name in ("visual_hidden_states", "encoder_hidden_states", "decoder_hidden_states", "hidden_states"):
            assert getattr(outputs, name, None) is None, name

    def test_hidden_states_output(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = self._model(model_class, config)
            with torch.no_grad():
                self._no_hidden_states(model(**self._prepare_for_class(inputs, model_class)))
                self._check_hidden_states(model(**self._prepare_for_class(inputs, model_class),
                                                output_hidden_states=True))
            # check that output_hidden_states also works using config
            flagged = self.model_tester.get_config(output_hidden_states=True)
            model = self._model(model_class, flagged)
            with torch.no_grad():
                self._check_hidden_states(model(**self._prepare_for_class(inputs, model_class)))
                self._no_hidden_states(model(**self._prepare_for_class(inputs, model_class),
                                             output_hidden_states=False))

    def _check_attentions(self, outputs):
        tester = self.model_tester
        layers, heads = tester.num_hidden_layers, tester.num_attention_heads
        if tester.lm_kind == "seq2seq":
            groups = (outputs.encoder_attentions, outputs.decoder_attentions, outputs.cross_attentions)
        elif tester.lm_kind == "causal":
            groups = (outputs.attentions,)
        else:
            groups = (outputs.encoder_attentions,)
        for group in groups:
            assert group is not None and len(group) == layers
            assert all(a.shape[:2] == (tester.batch_size, heads) for a in group)
            assert all(torch.isfinite(a).all() for a in group)

    def _no_attentions(self, outputs):
        for name in ("encoder_attentions", "decoder_attentions", "cross_attentions", "attentions"):
            assert getattr(outputs, name, None) is None, name

    def test_attention_outputs(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = self._model(model_class, config)
            with torch.no_grad():
                self._no_attentions(model(**self._prepare_for_class(inputs, model_class)))
                self._check_attentions(model(**self._prepare_for_class(inputs, model_class), output_attentions=True))
            # check that output_attentions also works using config
            model = self._model(model_class, self.model_tester.get_config(output_attentions=True))
            with torch.no_grad():
                self._check_attentions(model(**self._prepare_for_class(inputs, model_class)))

    def test_retain_grad_hidden_states_attentions(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = self._model(model_class, config)
            outputs = model(**self._prepare_for_class(inputs, model_class), output_hidden_states=True,
                            output_attentions=True)
            states = outputs.hidden_states if self.model_tester.lm_kind == "front_end" else outputs.visual_hidden_states
            visual = states[-1]  # the visual tokens the LLM reads
            visual.retain_grad()
            first = self.model_tester.scalar_output(outputs)
            first.backward()
            assert visual.grad is not None

    def test_training(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = self._model(model_class, config).train()
            loss = self.model_tester.scalar_output(model(**self._prepare_for_class(inputs, model_class)))
            loss.backward()
            trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
            assert trainable
            assert any(p.grad is not None and p.grad.abs().sum() > 0 for _, p in trainable)

    def test_training_gradient_checkpointing(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            if not model_class.supports_gradient_checkpointing:
                continue
            grads = []
            for checkpointing in (False, True):
                model = self._model(model_class, config).train()
                if checkpointing:
                    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
                    assert model.is_activation_checkpointing
                self.model_tester.scalar_output(model(**self._prepare_for_class(inputs, model_class))).backward()
                grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
            assert sorted(grads[0]) == sorted(grads[1])
            for name in grads[0]:  # same math, only recomputed
                torch.testing.assert_close(grads[0][name], grads[1][name], atol=1e-5, rtol=1e-4, msg=name)

    def test_model_get_set_embeddings(self):
        config, _ = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = self._model(model_class, config)
            embeddings = model.get_input_embeddings()
            assert isinstance(embeddings, nn.Embedding)
            new = nn.Embedding(10, embeddings.embedding_dim)
            model.set_input_embeddings(new)
            assert model.get_input_embeddings() is new
            output = model.get_output_embeddings()
            assert output is None or isinstance(output, nn.Linear)

    def test_resize_tokens_embeddings(self):
        if not self.test_resize_embeddings:
            pytest.skip("resizing is not supported by this model")
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = self._model(model_class, self.model_tester.get_config())
            vocab = model.config.get_text_config().vocab_size
            before = model.get_input_embeddings().weight.clone()
            model.resize_token_embeddings(vocab + 10)
            assert model.config.get_text_config().vocab_size == vocab + 10
            assert model.get_input_embeddings().weight.shape[0] == vocab + 10
            torch.testing.assert_close(model.get_input_embeddings().weight[:vocab], before)
            with torch.no_grad():
                outputs = model(**self._prepare_for_class(inputs, model_class))
            if getattr(outputs, "logits", None) is not None:
                assert outputs.logits.shape[-1] == vocab + 10
            # a checkpoint saved after resizing loads back at the new size with the same outputs
            with tempfile.TemporaryDirectory() as tmp:
                model.save_pretrained(tmp)
                reloaded = model_class.from_pretrained(tmp).eval()
            assert reloaded.get_input_embeddings().weight.shape[0] == vocab + 10
            with torch.no_grad():
                _compare(outputs.to_tuple(), reloaded(**self._prepare_for_class(inputs, model_class)).to_tuple())
            # shrinking (token ids of the inputs stay below the new size)
            model.resize_token_embeddings(vocab - 5)
            assert model.get_input_embeddings().weight.shape[0] == vocab - 5
            with torch.no_grad():
                outputs = model(**self._prepare_for_class(inputs, model_class))
            if getattr(outputs, "logits", None) is not None:
                assert outputs.logits.shape[-1] == vocab - 5
            # pad_to_multiple_of
            model.resize_token_embeddings(vocab, pad_to_multiple_of=64)
            assert model.get_input_embeddings().weight.shape[0] % 64 == 0

    def test_eager_matches_sdpa_inference(self):
        """The attention of every sub-model that has one (the LLM; a ResNet backbone has none) switched between
        eager and SDPA: same outputs."""
        from transformers import PreTrainedModel

        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = self._model(model_class, config)
            # a sub-model with attention: it supports SDPA and holds no sub-model that does not (the front end
            # `FlaLlmModel`/`MMSLTModel` holds only the ResNet, which has no attention implementation to switch)
            attending = [m for m in model.modules() if m is not model and isinstance(m, PreTrainedModel)
                         and all(sub._supports_sdpa for sub in m.modules() if isinstance(sub, PreTrainedModel))]
            assert attending, "no sub-model with an attention implementation"
            results = []
            for implementation in ("eager", "sdpa"):
                for sub in attending:
                    sub.set_attn_implementation(implementation)
                with torch.no_grad():
                    results.append(model(**self._prepare_for_class(inputs, model_class)).to_tuple())
            _compare(results[0], results[1], atol=1e-5)


class GenerationTesterMixin:
    """The generation tests that apply to a `generate` written by hand around the LLM's own `generate`."""

    all_generative_model_classes: tuple = ()

    def _generate(self, model, inputs, **kwargs):
        video = {k: inputs[k] for k in ("pixel_values_videos", "video_mask")}
        return model.generate(**video, do_sample=False, **kwargs)

    def test_greedy_generate(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_generative_model_classes:
            model = ModelTesterMixin._model(self, model_class, config)
            out = self._generate(model, inputs, num_beams=1, max_new_tokens=4)
            assert out.shape[0] == self.model_tester.batch_size
            assert out.dtype == torch.long

    def test_beam_search_generate(self):
        """Beam search with one beam is greedy search."""
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_generative_model_classes:
            model = ModelTesterMixin._model(self, model_class, config)
            greedy = self._generate(model, inputs, num_beams=1, max_new_tokens=5)
            beam = self._generate(model, inputs, num_beams=1, num_return_sequences=1, max_new_tokens=5,
                                  early_stopping=False, length_penalty=1.0)
            assert torch.equal(greedy, beam)
            wide = self._generate(model, inputs, num_beams=3, max_new_tokens=5)
            assert wide.shape[0] == self.model_tester.batch_size

    def test_generate_max_new_tokens(self):
        """`max_new_tokens` is the number of new tokens (with `min_new_tokens` equal to it, reached exactly)."""
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_generative_model_classes:
            model = ModelTesterMixin._model(self, model_class, config)
            for limit in (1, 4):
                out = self._generate(model, inputs, num_beams=1, max_new_tokens=limit, min_new_tokens=limit)
                assert out.shape[1] - self.model_tester.generation_prompt_length == limit

    def _sentence(self, ids, eos):
        """Generated tokens after the prompt up to and including the first end-of-sentence."""
        tokens = ids[self.model_tester.generation_prompt_length:].tolist()
        return tokens[: tokens.index(eos) + 1] if eos in tokens else tokens

    def test_generate_batch_matches_single(self):
        """Each video translated alone gives the same sentence as in a padded batch (video_mask does the
        padding), with greedy search and with beam search."""
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_generative_model_classes:
            model = ModelTesterMixin._model(self, model_class, config)
            eos = model.config.eos_token_id
            for beams in (1, 2):
                batch = self._generate(model, inputs, num_beams=beams, max_new_tokens=5)
                for i in range(self.model_tester.batch_size):
                    length = int(inputs["video_mask"][i].sum())
                    single = {"pixel_values_videos": inputs["pixel_values_videos"][i : i + 1, :length],
                              "video_mask": inputs["video_mask"][i : i + 1, :length]}
                    alone = self._generate(model, single, num_beams=beams, max_new_tokens=5)[0]
                    assert self._sentence(batch[i], eos) == self._sentence(alone, eos), (beams, i)
