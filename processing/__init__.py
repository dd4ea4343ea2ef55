"""Video and text processing for sign language translation (installed as `sign_translation.processing`)."""

from .errors import SignInputError

__all__ = ["SignInputError"]
