"""sign-translation: gloss-free sign language translation as Hugging Face transformers models."""

from .processing.errors import SignInputError

__version__ = "0.1.0"

__all__ = ["SignInputError", "__version__"]
