"""Checkpoints saved by the code before the issue-12 refactor still load and give the same outputs.

`tests/data/legacy_checkpoints/<case>/` holds a tiny checkpoint of each model class saved by that code, the fixed
inputs and the outputs it produced (`make_legacy_checkpoints.py` documents how they were made). Loading goes through
`from_pretrained`, which refuses missing weights (`StrictLoadingMixin`), so a renamed parameter fails here loudly.
"""

import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

LEGACY = Path(__file__).resolve().parent / "data" / "legacy_checkpoints"
CASES = sorted(p.name for p in LEGACY.iterdir() if (p / "config.json").is_file())


def test_every_model_class_has_a_legacy_checkpoint():
    classes = {json.loads((LEGACY / c / "config.json").read_text())["architectures"][0] for c in CASES}
    assert classes == {"FlaLlmForVisualInitialization", "FlaLlmForConditionalGeneration", "MMSLTForPretraining",
                       "MMSLTForConditionalGeneration"}


@pytest.mark.parametrize("case", CASES)
def test_legacy_checkpoint_loads_with_same_outputs(case):
    import sign_translation

    sys.path.insert(0, str(LEGACY))
    try:
        from make_legacy_checkpoints import outputs_of
    finally:
        sys.path.remove(str(LEGACY))
    folder = LEGACY / case
    architecture = json.loads((folder / "config.json").read_text())["architectures"][0]
    cls = getattr(sign_translation, architecture)  # old names stay importable (MMSLTForPretraining is an alias)
    model = cls.from_pretrained(folder)
    assert type(model) is cls
    inputs = load_file(folder / "inputs.safetensors")
    expected = load_file(folder / "expected.safetensors")
    got = outputs_of(model, inputs)
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        if name == "generated":
            assert torch.equal(got[name], value), f"{case}: generated ids changed"
        else:
            torch.testing.assert_close(got[name], value, atol=1e-6, rtol=1e-5, msg=f"{case}: {name} changed")
