# Copyright The HuggingFace Team and the sign-translation authors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0); see NOTICE.
"""`ConfigTester`: transformers' common config checks (tests/test_configuration_common.py), re-written.

Kept from upstream: the method names and what each checks (common properties settable and passed through
`__init__`, JSON string / file round trips, save/load with and without a subfolder, composite sub-configs
surviving the round trip, `num_labels`, construction without arguments, every init kwarg ending up on the config).
Changed: plain asserts instead of a unittest parent; `config_class.tiny(...)`-style kwargs come from the caller;
the `num_labels` check only checks what a `PreTrainedConfig` guarantees (no task heads here).
"""

from __future__ import annotations

import copy
import json
import os
import tempfile


class ConfigTester:
    def __init__(self, config_class, make_config, common_properties=(), sub_configs=(), **inputs_dict):
        """`make_config(**overrides)` builds a (tiny) config; `inputs_dict` are init kwargs with non-default
        values that must reach the config."""
        self.config_class = config_class
        self.make_config = make_config
        self.common_properties = tuple(common_properties)
        self.sub_configs = tuple(sub_configs)
        self.inputs_dict = inputs_dict

    def create_and_test_config_common_properties(self):
        config = self.make_config()
        for prop in self.common_properties:
            assert hasattr(config, prop), f"{self.config_class.__name__} lacks {prop}"
        for prop in self.common_properties:  # settable, and accepted by __init__
            value = getattr(config, prop)
            setattr(config, prop, value)
            assert getattr(config, prop) == value
            rebuilt = self.make_config(**{prop: value})
            assert getattr(rebuilt, prop) == value, f"{prop} not passed through __init__"

    def create_and_test_config_to_json_string(self):
        config = self.make_config(**self.inputs_dict)
        obj = json.loads(config.to_json_string())
        for key, value in self.inputs_dict.items():
            assert obj[key] == value, f"{key}: {obj[key]!r} != {value!r}"

    def create_and_test_config_to_json_file(self):
        config_first = self.make_config(**self.inputs_dict)
        with tempfile.TemporaryDirectory() as tmpdirname:
            json_file_path = os.path.join(tmpdirname, "config.json")
            config_first.to_json_file(json_file_path)
            config_second = self.config_class.from_json_file(json_file_path)
        assert config_second.to_dict() == config_first.to_dict()

    def create_and_test_config_from_and_save_pretrained(self):
        config_first = self.make_config(**self.inputs_dict)
        with tempfile.TemporaryDirectory() as tmpdirname:
            config_first.save_pretrained(tmpdirname)
            config_second = self.config_class.from_pretrained(tmpdirname)
        assert config_second.to_dict() == config_first.to_dict()

    def create_and_test_config_from_and_save_pretrained_subfolder(self):
        config_first = self.make_config(**self.inputs_dict)
        subfolder = "test"
        with tempfile.TemporaryDirectory() as tmpdirname:
            sub_tmpdirname = os.path.join(tmpdirname, subfolder)
            config_first.save_pretrained(sub_tmpdirname)
            config_second = self.config_class.from_pretrained(tmpdirname, subfolder=subfolder)
        assert config_second.to_dict() == config_first.to_dict()

    def create_and_test_config_from_and_save_pretrained_composite(self):
        """Composite configs: each sub-config keeps its class and values through save/load."""
        config = self.make_config(**self.inputs_dict)
        with tempfile.TemporaryDirectory() as tmpdirname:
            config.save_pretrained(tmpdirname)
            loaded = self.config_class.from_pretrained(tmpdirname)
        for name in self.sub_configs:
            original, reloaded = getattr(config, name), getattr(loaded, name)
            assert type(reloaded) is type(original), name
            assert reloaded.to_dict() == original.to_dict(), name

    def create_and_test_config_with_num_labels(self):
        config = self.make_config(num_labels=5)
        assert len(config.id2label) == 5 and len(config.label2id) == 5
        config.num_labels = 3
        assert len(config.id2label) == 3 and len(config.label2id) == 3

    def check_config_can_be_init_without_params(self):
        config = self.config_class()  # the paper-size defaults
        assert config is not None

    def check_config_arguments_init(self):
        """Every kwarg of the common `PreTrainedConfig` that a user may set reaches the config."""
        kwargs = {"output_hidden_states": True, "output_attentions": True, "return_dict": False,
                  "id2label": {0: "a", 1: "b"}, "problem_type": "single_label_classification"}
        config = self.make_config(**copy.deepcopy(kwargs))
        for key, value in kwargs.items():
            got = getattr(config, key)
            assert got == value, f"{key}: {got!r} != {value!r}"

    def run_common_tests(self):
        self.create_and_test_config_common_properties()
        self.create_and_test_config_to_json_string()
        self.create_and_test_config_to_json_file()
        self.create_and_test_config_from_and_save_pretrained()
        self.create_and_test_config_from_and_save_pretrained_subfolder()
        self.create_and_test_config_from_and_save_pretrained_composite()
        self.create_and_test_config_with_num_labels()
        self.check_config_can_be_init_without_params()
        self.check_config_arguments_init()
