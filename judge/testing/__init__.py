"""Test and benchmark helpers shipped with judge (a fake OpenAI-compatible provider)."""
