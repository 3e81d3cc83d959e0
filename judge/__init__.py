"""judge: LLM-as-judge grading with provenance."""
