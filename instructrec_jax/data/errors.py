"""Errors raised by the data layer; every message names the file, line or filter at fault."""

from __future__ import annotations


class DataFormatError(ValueError):
    """A raw or processed file holds a line that cannot be parsed.

    Attributes:
      path: the file.
      line_number: 1-based line number (0 when the problem is not tied to a line).
    """

    def __init__(self, path: str, line_number: int, reason: str) -> None:
        self.path = path
        self.line_number = line_number
        self.reason = reason
        where = f"{path}:{line_number}" if line_number else path
        super().__init__(f"{where}: {reason}")


class EmptyDatasetError(ValueError):
    """A preprocessing step left nothing; ``step`` names the filter that emptied the data."""

    def __init__(self, dataset: str, step: str, detail: str) -> None:
        self.dataset = dataset
        self.step = step
        super().__init__(f"dataset {dataset!r} is empty after {step}: {detail}")
