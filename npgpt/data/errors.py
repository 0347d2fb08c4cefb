"""The one exception type of npgpt.data."""


class DataError(ValueError):
    """Bad input data: unreadable file, unknown character, split too short, ..."""
