"""Where a response states its final answer (pure): masking, truncation, and the named extraction rules' regions.

Every function works on a *masked* copy of the response of the same length, so spans map back unchanged:

- calculator annotations ``<<5*20=100>>`` and Markdown/LaTeX escapes (``\\*``, ``\\(``) are blanked;
- spans that reproduce the prompt (``ECHO_TOKENS`` or more consecutive tokens found in the prompt's question text,
  option lines excluded) are blanked, so a response that restates the question is never graded from the
  question's own numbers or words.

Strict rules find explicit final-answer statements and return the *phrase* after their marker; the grader looks
for a typed answer there. Among all strict phrases that yield an answer, the one whose answer comes last wins (a
final answer overrides an earlier one); on a tie the more explicit rule wins (``STRICT_RULES`` order).
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

ECHO_TOKENS = 6
"""Consecutive tokens (words, numbers, symbols) shared with the prompt that count as a restatement."""

STRICT_RULES: tuple[str, ...] = (
    "boxed",
    "answer_is",
    "answer_label",
    "bold",
    "conclusion",
    "last_line",
    "first_line",
)
"""Strict rule names, most explicit first (the tie-break order)."""

_ANNOTATION = re.compile(r"<<[^<>\n]*>>")
_ESCAPES = re.compile(r"\\(?=[*()\[\]$%_#{}])")
_EMPHASIS = re.compile(r"\*\*|__")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_OPTION_LINE = re.compile(r"^\s*\(?[A-Za-z]\s*[).:]\s+\S.*$", re.MULTILINE)

BOXED = re.compile(r"\\boxed\s*\{")
ANSWER_IS = re.compile(
    r"\b(?:(?:the|my|our)\s+)?(?:(?:final|correct|right|short|best)\s+)?answer\s+"
    r"(?:is|would\s+be|will\s+be|should\s+be)\b(?:\s+that\b)?\s*:?",
    re.IGNORECASE,
)
ANSWER_LABEL = re.compile(r"\b(?:final\s+)?answer\s*(?:\*\*)?\s*[:=]", re.IGNORECASE)
BOLD = re.compile(r"\*\*(?=\S)([^*\n]{1,80}?)(?<=\S)\*\*")
CONCLUSION = re.compile(
    r"\b(?:therefore|thus|hence|so|in\s+conclusion|in\s+summary|in\s+short|to\s+summarize|to\s+sum\s+up|overall|"
    r"consequently|as\s+a\s+result)\b[,:]?",
    re.IGNORECASE | re.MULTILINE,
)
_LIST_MARKER = re.compile(r"^[ \t]*(?:[-*•][ \t]+|\d+[.)][ \t]+)?")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r]*\n")
_PLEASANTRY = re.compile(
    r"\b(?:let me know|hope (?:this|that) helps|feel free|any (?:other|more|further) questions|"
    r"does (?:this|that) make sense)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z]+")


class Prepared(NamedTuple):
    """A response ready for extraction: the original, its masked copy (same length), and whether it looks cut off."""

    original: str
    text: str
    truncated: bool


class Region(NamedTuple):
    """A span of the masked text where a rule says the final answer is stated."""

    rule: str
    start: int
    end: int


def _blank(text: str, spans: list[tuple[int, int]], keep: str = "\n") -> str:
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        for i in range(start, end):
            if chars[i] not in keep:
                chars[i] = " "
    return "".join(chars)


_ITEM_START = re.compile(r"(?:^|\n)[ \t]*(?:[-*•]|\d+[.)])$")


def _starts_sentence(text: str, position: int) -> bool:
    while position > 0 and text[position - 1] in " \t":
        position -= 1
    if position == 0 or text[position - 1] in ".!?:\n":
        return True
    return bool(_ITEM_START.search(text[max(0, position - 12) : position]))


@functools.lru_cache(maxsize=512)
def _prompt_grams(prompt: str) -> tuple[frozenset[tuple[str, ...]], frozenset[str]]:
    question = _OPTION_LINE.sub(" ", prompt)
    tokens = [t.casefold() for t in _TOKEN.findall(question)]
    grams = frozenset(tuple(tokens[i : i + ECHO_TOKENS]) for i in range(len(tokens) - ECHO_TOKENS + 1))
    return grams, frozenset(tokens)


def echo_spans(text: str, prompt: str) -> list[tuple[int, int]]:
    """Spans of ``text`` that reproduce ``ECHO_TOKENS`` or more consecutive tokens of the prompt's question."""
    grams, vocabulary = _prompt_grams(prompt)
    if not grams:
        return []
    lowered = text.casefold()
    if len(lowered) == len(text):
        matches = list(_TOKEN.finditer(lowered))
        folded = [m.group(0) for m in matches]
    else:
        matches = list(_TOKEN.finditer(text))
        folded = [m.group(0).casefold() for m in matches]
    covered = [False] * len(matches)
    run = 0
    for i, token in enumerate(folded):
        run = run + 1 if token in vocabulary else 0
        if run >= ECHO_TOKENS and tuple(folded[i - ECHO_TOKENS + 1 : i + 1]) in grams:
            for j in range(i - ECHO_TOKENS + 1, i + 1):
                covered[j] = True
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(matches):
        if covered[i]:
            j = i
            while j + 1 < len(matches) and covered[j + 1]:
                j += 1
            spans.append((matches[i].start(), matches[j].end()))
            i = j + 1
        else:
            i += 1
    return spans


def looks_truncated(text: str) -> bool:
    """Whether the response seems cut off: its last line has an unclosed bracket or ends on an operator or comma,
    or it ends in a loop of one repeated line (the usual sign of a generation stopped by its token limit)."""
    stripped = text.rstrip().rstrip("*_`~").rstrip()
    if not stripped:
        return False
    last_line = stripped.splitlines()[-1]
    if any(last_line.count(o) > last_line.count(c) for o, c in ("()", "[]", "{}")):
        return True
    if stripped[-1] in "([{/*+=^,\\" or (stripped[-1] == "-" and not stripped.endswith("--")):
        return True
    lines = [line.strip() for line in stripped.splitlines() if line.strip()]
    tail = lines[-10:]
    return len(tail) >= 8 and max(tail.count(line) for line in tail) >= 6


def prepare(response: str, prompt: str | None = None) -> Prepared:
    """Mask annotations, escapes and restatements of the prompt; detect truncation."""
    spans = [(m.start(), m.end()) for m in _ANNOTATION.finditer(response)]
    spans += [(m.start(), m.end()) for m in _ESCAPES.finditer(response)]
    spans += [(m.start(), m.end()) for m in _EMPHASIS.finditer(response)]
    masked = _blank(response, spans)
    if prompt:
        masked = _blank(masked, echo_spans(masked, prompt), keep="\n.!?:")
    return Prepared(response, masked, looks_truncated(response))


def sentence_end(text: str, start: int) -> int:
    """End of the sentence (or line) that contains ``start``."""
    match = _SENTENCE_END.search(text, start)
    return len(text) if match is None else match.end()


def _next_block(text: str, start: int) -> int:
    """End of the next non-empty paragraph after ``start`` (for a statement ending in a colon)."""
    position = start
    while position < len(text) and text[position].isspace():
        position += 1
    breaks = _PARAGRAPH_BREAK.search(text, position)
    return len(text) if breaks is None else breaks.start()


def _phrase(text: str, start: int) -> tuple[int, int] | None:
    """The phrase after a marker: the rest of its sentence, or the next block when that rest is empty or ends in
    a colon at the end of its line."""
    line_end = text.find("\n", start)
    line_end = len(text) if line_end < 0 else line_end
    rest = text[start:line_end].strip()
    if not rest or rest.endswith(":"):
        end = _next_block(text, line_end)
        return (start, end) if text[start:end].strip() else None
    end = sentence_end(text, start)
    return start, end


def strict_regions(prepared: Prepared) -> list[Region]:
    """The phrases of every explicit final-answer statement, in text order."""
    text = prepared.text
    regions: list[Region] = []
    lowered = text.lower()
    for match in BOXED.finditer(text) if "boxed" in text else ():
        depth, position = 1, match.end()
        while position < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            position += 1
        if depth == 0:
            regions.append(Region("boxed", match.end(), position - 1))
    last_paragraph = final_paragraphs(text)[:1]
    final_start = last_paragraph[0][0] if last_paragraph else len(text)
    for name, pattern in (("answer_is", ANSWER_IS), ("answer_label", ANSWER_LABEL), ("conclusion", CONCLUSION)):
        if name != "conclusion" and "answer" not in lowered:
            continue
        for match in pattern.finditer(text):
            if name == "conclusion" and not _starts_sentence(text, match.start()):
                continue
            phrase = _phrase(text, match.end())
            if phrase is None or (name == "conclusion" and phrase[1] <= final_start):
                continue
            regions.append(Region(name, *phrase))
    for match in BOLD.finditer(prepared.original) if "**" in prepared.original else ():
        content = match.group(1)
        if match.start() >= final_start and not content.rstrip().endswith(":"):
            regions.append(Region("bold", match.start(1), match.end(1)))
    line = last_line(prepared)
    if line is not None and not prepared.truncated:
        regions.append(Region("last_line", *line))
    opening = first_line(prepared)
    if opening is not None:
        regions.append(Region("first_line", *opening))
    regions.sort(key=lambda r: (r.start, r.end))
    if prepared.truncated:
        regions = [r for r in regions if r.end < len(text.rstrip())]
    return regions


def last_line(prepared: Prepared) -> tuple[int, int] | None:
    """The last line as a final statement: a bare answer (at most three words), ``label: answer`` or
    ``... = answer`` (at most 60 characters, as written); the span is the part after the last ``=`` or ``:``."""
    text = prepared.text
    stripped = text.rstrip()
    if not stripped:
        return None
    line_start = stripped.rfind("\n") + 1
    marker = _LIST_MARKER.match(prepared.original, line_start)
    start = marker.end() if marker is not None else line_start
    line = stripped[start:]
    written = prepared.original[start : len(stripped)]
    if not line.strip() or len(written.strip()) > 60:
        return None
    for separator in ("=", ":"):
        index = line.rfind(separator)
        if index >= 0 and line[index + 1 :].strip() and written[index] == separator:
            return start + index + 1, len(stripped)
    if len(_WORD.findall(written)) <= 3 and len(written.strip()) <= 30:
        return start, len(stripped)
    return None


def first_line(prepared: Prepared) -> tuple[int, int] | None:
    """The first line as an answer given up front: at most two words and 30 characters as written ("False.",
    "(B)", "38"), not a heading ending in a colon nor the first step of a computation (an ``=``)."""
    original = prepared.original
    start = len(original) - len(original.lstrip())
    end = original.find("\n", start)
    end = len(original) if end < 0 else end
    written = original[start:end].strip()
    if not written or written.endswith(":") or "=" in written or len(written) > 30 or len(_WORD.findall(written)) > 2:
        return None
    if not prepared.text[start:end].strip():
        return None
    return start, start + len(original[start:end].rstrip())


def final_paragraphs(text: str) -> list[tuple[int, int]]:
    """Paragraph spans with visible content, last first, skipping closing pleasantries and questions."""
    spans: list[tuple[int, int]] = []
    position = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        spans.append((position, match.start()))
        position = match.end()
    spans.append((position, len(text)))
    kept = [(s, e) for s, e in spans if text[s:e].strip() and not _is_pleasantry(text[s:e])]
    return kept[::-1]


def sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans within ``[start, end)`` with visible content, last first, skipping pleasantries/questions."""
    spans: list[tuple[int, int]] = []
    position = start
    while position < end:
        stop = min(sentence_end(text, position), end)
        if text[position:stop].strip() and not _is_pleasantry(text[position:stop]):
            spans.append((position, stop))
        position = stop
    return spans[::-1]


def _is_pleasantry(span: str) -> bool:
    stripped = span.strip()
    return bool(_PLEASANTRY.search(stripped)) or (stripped.endswith("?") and "\n" not in stripped)


def rule_tables() -> list[str]:
    """The patterns and constants that define the rules (hashed into the graders' version)."""
    return [
        str(ECHO_TOKENS),
        ",".join(STRICT_RULES),
        _ANNOTATION.pattern,
        _ESCAPES.pattern,
        _EMPHASIS.pattern,
        _OPTION_LINE.pattern,
        BOXED.pattern,
        ANSWER_IS.pattern,
        ANSWER_LABEL.pattern,
        BOLD.pattern,
        CONCLUSION.pattern,
        _SENTENCE_END.pattern,
        _PARAGRAPH_BREAK.pattern,
        _PLEASANTRY.pattern,
    ]
