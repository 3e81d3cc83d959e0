"""The private arena: voter tokens, blind A/B units, pair selection and live ratings.

Pure parts (tokens, markdown, selection, live ratings, throttle) import no I/O; :mod:`judge.arena.service` runs
them over the store (:mod:`judge.store.arena` holds the SQL).
"""

__all__ = ["board", "live", "markdown", "selection", "service", "throttle", "tokens"]
