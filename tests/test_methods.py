"""One home per method (issue 12): the methods' facts are class attributes of their config classes, read through
`sign_translation.methods`; one stage vocabulary; the model card renders any method from its config class alone."""

import json

import pytest
from transformers import AutoConfig, PretrainedConfig

from sign_translation import FlaLlmConfig, MMSLTConfig, SignInputError
from sign_translation.card import render_model_card
from sign_translation.methods import STAGES, available_methods, get_method, normalize_stage, require_method
from sign_translation.recipes import list_recipes, load_recipe, recipe_path, script_path

DATASETS = {"fla_llm": ("phoenix14t", "csl_daily", "how2sign", "synthetic"), "mmslt": ("phoenix14t", "csl_daily",
                                                                                        "synthetic")}


@pytest.mark.parametrize("given,expected", [
    (1, "pretrain"), ("1", "pretrain"), ("stage1", "pretrain"), ("stage_1", "pretrain"), ("Stage 1", "pretrain"),
    ("pretrain", "pretrain"), ("pretraining", "pretrain"), (2, "translate"), ("stage2", "translate"),
    ("translate", "translate"), ("translation", "translate"),
])
def test_one_stage_vocabulary_accepts_the_old_spellings(given, expected):
    assert normalize_stage(given) == expected
    for method in available_methods().values():
        assert method.stage(given)["name"] == expected


@pytest.mark.parametrize("bad", [0, 3, "stage3", "finetune", True, None, ""])
def test_unknown_stage_names_the_value_and_the_choices(bad):
    with pytest.raises(SignInputError, match=r"stage=.*expected one of 'pretrain', 'translate'"):
        normalize_stage(bad)


def test_both_methods_describe_themselves_completely():
    methods = available_methods()
    assert set(methods) == {"fla_llm", "mmslt"}
    assert methods["fla_llm"].config_class is FlaLlmConfig and methods["mmslt"].config_class is MMSLTConfig
    for key, method in methods.items():
        assert method.stage_names == STAGES
        for field in ("title", "authors", "venue", "arxiv", "url", "bibtex", "summary", "results"):
            assert method.paper.get(field) is not None or field == "code_url", (key, field)
        assert method.paper["arxiv"] in method.paper["url"] and method.paper["arxiv"] in method.paper["bibtex"]
        assert script_path(method.training_script).is_file()
        for stage in method.stages:
            assert {"name", "paper_name", "model_class", "recipe", "summary", "description"} <= set(stage)
            cls = method.model_class(stage["name"])
            assert cls.config_class is method.config_class, (key, stage["name"])
            for dataset in DATASETS[key]:  # every shipped recipe is found and names its stage in the one vocabulary
                recipe = load_recipe(method.recipe(stage["name"], dataset))
                assert normalize_stage(recipe.get("stage", stage["name"])) == stage["name"], (key, dataset)
        assert method.stages[-1]["from_previous"]


def test_class_attributes_never_enter_config_json(tmp_path):
    for config in (FlaLlmConfig.tiny(), MMSLTConfig.tiny()):
        config.save_pretrained(tmp_path)
        saved = json.loads((tmp_path / "config.json").read_text())
        assert not {"paper", "stages", "method_name", "card_architecture", "training_script"} & set(saved)


def test_stage_of_a_checkpoint_comes_from_its_architecture():
    fla, mmslt = get_method("fla_llm"), get_method("mmslt")
    assert fla.stage_of_architectures(["FlaLlmForVisualInitialization"]) == "pretrain"
    assert fla.stage_of_architectures(["FlaLlmForConditionalGeneration"]) == "translate"
    assert mmslt.stage_of_architectures(["MMSLTForPreTraining"]) == "pretrain"
    assert mmslt.stage_of_architectures(["MMSLTForPretraining"]) == "pretrain"  # the old spelling
    assert mmslt.stage_of_architectures(None) == "translate"
    assert get_method("bert") is None and get_method(None) is None
    with pytest.raises(SignInputError, match="'fla_llm', 'mmslt'"):
        require_method("slt")


def test_recipes_are_found_without_importing_the_scripts():
    assert "fla_llm_synthetic_stage1.json" in list_recipes() and len(list_recipes()) >= 20
    assert recipe_path("mmslt_synthetic_translate.json").parent.name == "recipes"
    with pytest.raises(SignInputError, match="no such file"):
        recipe_path("fla_llm_nowhere_stage1.json")


class ToySLTConfig(PretrainedConfig):
    """A third method, described only by its config class (no code in the card module names it)."""

    model_type = "toy_slt"
    method_name = "ToySLT"
    paper = {"title": "A Toy Method for Sign Language Translation", "authors": "A. Author", "venue": "Nowhere 2031",
             "arxiv": "3101.00001", "url": "https://arxiv.org/abs/3101.00001", "code_url": None,
             "results": {"phoenix14t": (30.5, 50.25)}, "summary": "aligns toy signs with toy sentences.",
             "bibtex": "@article{toy2031, title={A Toy Method}, eprint={3101.00001}}"}
    training_script = "run_toy_slt.py"
    stages = (
        {"name": "pretrain", "paper_name": "toy alignment", "model_class": "ToySLTForPreTraining",
         "recipe": "toy_{dataset}_pretrain.json", "summary": "-", "description": "Toys are aligned with sentences."},
        {"name": "translate", "paper_name": "toy translation", "model_class": "ToySLTForConditionalGeneration",
         "recipe": "toy_{dataset}_translate.json", "from_previous": "pretrained_model_name_or_path", "summary": "-",
         "description": "A toy decoder writes the sentence."},
    )
    card_architecture = (("Toy encoder", "{toy_layers} layers of width {toy_width}", None),
                         ("Toy aligner", "temperature {toy_temperature}", ("pretrain",)))

    def __init__(self, toy_layers: int = 2, toy_width: int = 8, toy_temperature: float = 0.07, **kwargs):
        self.toy_layers, self.toy_width, self.toy_temperature = toy_layers, toy_width, toy_temperature
        super().__init__(**kwargs)


def test_a_third_method_gets_a_full_card_from_its_config_class_alone():
    AutoConfig.register(ToySLTConfig.model_type, ToySLTConfig, exist_ok=True)
    config = ToySLTConfig(architectures=["ToySLTForPreTraining"]).to_dict()
    card = render_model_card(config, training_args={"stage1": {"learning_rate": 0.5}},
                             eval_results={"bleu4": 12.0, "rouge_l": 40.0}, dataset_name="phoenix14t")
    text = card.text
    assert "# ToySLT sign language translation model" in text and "toy-slt" in card.data.tags
    assert "A Toy Method for Sign Language Translation" in text and "aligns toy signs" in text
    assert "output of stage 1 of 2 (toy alignment)" in text
    assert "### Stage 1: toy alignment" in text and "Toys are aligned with sentences." in text
    assert "### Stage 2: toy translation (not part of this checkpoint)" in text
    assert "| Toy encoder | 2 layers of width 8 |" in text and "| Toy aligner | temperature 0.07 |" in text
    assert "| learning rate | 0.5 |" in text
    assert "reports BLEU-4 30.50 and ROUGE-L 50.25" in text and "@article{toy2031" in text
    final = render_model_card(ToySLTConfig(architectures=["ToySLTForConditionalGeneration"]).to_dict())
    assert "final model of its 2-stage training" in final.text and "Toy aligner" not in final.text
