"""Dataset loaders (PHOENIX14T, CSL-Daily, How2Sign, generic files) and the synthetic sign language corpus."""

from .generic import load_sign_dataset
from .loader_utils import annotation_encoding
from .loaders import load_csl_daily, load_how2sign, load_phoenix14t, read_label_file
from .safe_pickle import load_pickle
from .synthetic import make_synthetic_corpus

__all__ = [
    "annotation_encoding",
    "load_csl_daily",
    "load_how2sign",
    "load_phoenix14t",
    "load_pickle",
    "load_sign_dataset",
    "make_synthetic_corpus",
    "read_label_file",
]
