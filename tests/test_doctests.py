"""Every `>>>` example in the package runs (issue 12: runnable docs).

The modules are imported by their installed names (`sign_translation.modeling.configuration_fla_llm`, not a bare
`modeling.configuration_fla_llm`, which would register every class a second time), so this collects them itself
instead of `pytest --doctest-modules`: every module of `sign_translation` except the training scripts, one test per
module that has examples. Examples that need data this machine does not have say so with `# doctest: +SKIP`.
"""

import doctest
import importlib
import pkgutil

import pytest

SKIP_PACKAGES = ("sign_translation.train_scripts",)  # scripts, not library code (they have no examples either)


# Sub-packages mapped from other folders (setup.cfg package_dir): an editable install does not list them under
# sign_translation.__path__, so they are walked from their own __path__.
MAPPED_PACKAGES = ("sign_translation.modeling", "sign_translation.processing", "sign_translation.data")


def _module_names() -> list[str]:
    names = {"sign_translation", *MAPPED_PACKAGES}
    for package in ("sign_translation", *MAPPED_PACKAGES):
        path = importlib.import_module(package).__path__
        for info in pkgutil.walk_packages(path, prefix=f"{package}."):
            names.add(info.name)
    return sorted(n for n in names if not n.startswith(SKIP_PACKAGES))


def _examples(module) -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [test for test in finder.find(module, module.__name__) if test.examples]


MODULES = _module_names()


def test_the_collection_sees_the_whole_package():
    for expected in ("sign_translation.modeling.configuration_fla_llm", "sign_translation.processing.collator",
                     "sign_translation.data.loaders", "sign_translation.card", "sign_translation.metrics"):
        assert expected in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name, tmp_path, monkeypatch):
    try:
        module = importlib.import_module(name)
    except ImportError as err:  # an optional extra (gradio for serve) that is not installed
        pytest.skip(f"{name} needs an optional dependency: {err}")
    tests = _examples(module)
    if not tests:
        pytest.skip(f"{name} has no >>> examples")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    # verbose=False: doctest otherwise follows `-v` in sys.argv (CI runs `pytest -v`) and reports every passing
    # example through `out` too; failures are counted from the results, the output only explains them
    runner = doctest.DocTestRunner(verbose=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report, failed = [], 0
    for test in tests:
        result = runner.run(test, out=report.append)
        assert result.attempted > 0 or test.examples
        failed += result.failed
    assert not failed, f"{name}: {failed} failing examples\n" + "".join(report)
