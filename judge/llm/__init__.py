"""The LLM edge: judge model calls through LiteLLM, retries, cost, and the local judge server.

Importing this package pins LiteLLM to its bundled model-price map (no network fetch at import), before any
submodule imports LiteLLM. Import the client from :mod:`judge.llm.client`.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
