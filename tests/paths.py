"""Where the tests find the repository and the real data."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATA = REPO / "data"
MT_BENCH = SAMPLE_DATA / "mt_bench"
"""The vendored MT-Bench sample: questions, GPT-4 references, the 6 human-judged models' answers, the votes."""
HUMAN_VOTES = MT_BENCH / "human_judgments_turn1.jsonl"
REFERENCES = MT_BENCH / "reference_answer" / "gpt-4.jsonl"
