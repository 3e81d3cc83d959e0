"""What leaves the service as files: CSV tables safe to open in a spreadsheet (:mod:`judge.exports.table`)."""

from judge.exports.table import FORMULA_PREFIXES, csv_text, safe_cell

__all__ = ["FORMULA_PREFIXES", "csv_text", "safe_cell"]
