"""The one exception type of npgpt.data: ``DataError`` (defined in ``npgpt.errors``)."""

from ..errors import DataError

__all__ = ["DataError"]
