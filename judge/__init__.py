"""judge: LLM-as-judge grading with provenance."""

import os

# LiteLLM must use its bundled price table, never fetch one at import time (no network is assumed).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
