"""``DataError``, the exception for bad input data. It sits below ``npgpt.data`` and
``npgpt.tokenizers`` (both raise it), so neither package has to import the other for it."""


class DataError(ValueError):
    """Bad input data: unreadable file, unknown character, split too short, ..."""
