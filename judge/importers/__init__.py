"""Importers: one module per file format (MT-Bench, AlpacaEval, Arena-Hard, Arena battles, JudgeBench, LLMBar,
gold answers, the generic JSON Lines/CSV formats, column-wise vote files). Each validates everything it reads into
typed records (:mod:`judge.importers.records`, ``file:line: field`` errors) before anything is written; the store
writes an :class:`~judge.importers.bundle.ImportBundle` once (:func:`judge.store.ingest.write_bundle`)."""

from judge.importers.bundle import ImportBundle
from judge.importers.records import PromptRecord, ResponseRecord, VoteRecord

__all__ = ["ImportBundle", "PromptRecord", "ResponseRecord", "VoteRecord"]
