"""The one exception type of the package for bad input (videos, frame folders, label files, arguments).

It lives in `processing/` because the processor files travel with saved checkpoints (remote code) and must not
import the package absolutely; `sign_translation.SignInputError` is this same class.
"""


class SignInputError(ValueError):
    """Bad input: the message names the file or field and says what was expected.

    Subclasses `ValueError` so code that already catches `ValueError` keeps working.
    """
