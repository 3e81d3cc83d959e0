"""Grading one response against one gold answer (pure, deterministic, never a guess).

``grade`` tries the strict rules (explicit final-answer statements; the last stated answer wins), then, unless the
spec names one rule, the flexible rule of the answer type (the last answer-like item of the final paragraph). A
response with nothing extractable is ``no_answer``; a response that looks cut off is ``no_answer`` unless a strict
rule fired before the cut.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import NamedTuple

from judge.core.errors import InputError
from judge.core.graders import extract
from judge.core.graders.numerals import NUMBER_PATTERN, Numeral, find_numerals
from judge.core.graders.spec import AnswerType, ExtractionRule, GoldAnswer, Grade, GradeOutcome, GraderSpec
from judge.core.hashing import content_hash

GRADER_CODE_VERSION = 1
"""Bump when grading behaviour changes in a way the rule tables do not show."""

ACCEPTED_TYPES: dict[str, tuple[AnswerType, ...]] = {
    "auto": tuple(AnswerType),
    "numeric": (AnswerType.NUMBER,),
    "choice": (AnswerType.CHOICE,),
    "word": (AnswerType.WORD, AnswerType.EXACT),
    "all_of": (AnswerType.ALL_OF, AnswerType.WORD),
    "exact": (AnswerType.EXACT, AnswerType.WORD, AnswerType.CHOICE, AnswerType.NUMBER),
    "regex": (AnswerType.REGEX,),
}
"""Which gold answer types each grader can grade."""

_AUTO: dict[AnswerType, str] = {
    AnswerType.NUMBER: "numeric",
    AnswerType.CHOICE: "choice",
    AnswerType.WORD: "word",
    AnswerType.ALL_OF: "all_of",
    AnswerType.EXACT: "exact",
    AnswerType.REGEX: "regex",
}

_COPULA = re.compile(r"\b(?:is|are|was|were|be|been|equals|equal\s+to|comes\s+to|totals?)\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|never|no|isn't|aren't|wasn't|cannot|can't)\s+(?:\w+\s+)?$", re.IGNORECASE)
_NEGATED_AFTER = re.compile(
    r"(?:'s)?\s*\(?\s*(?:(?:who|which|that)\s+)?(?:(?:is|was|are|were)\s+not|isn't|wasn't|aren't|weren't)\b",
    re.IGNORECASE,
)
_EXPRESSION_END = re.compile(r"[,;\n]|\s+(?:or|which|when|because|since)\b|[.!?](?=\s|$)")
_OPTION_WORD = r"\b(?:option|choice|situation|answer(?:\s+is)?|statement|letter)\s*:?\s*"
_LETTER_FORMS = (
    re.compile(r"(?<![\w(])\(([A-Za-z])\)(?![\w])"),
    re.compile(r"(?<![\w(])([A-Za-z])\)(?!\w)"),
    re.compile(_OPTION_WORD + r"\(?([A-Za-z])(?:\)|(?=[.,;:!]|\s*$))", re.IGNORECASE | re.MULTILINE),
    re.compile(_OPTION_WORD + r"((?-i:[A-Z]))(?=\s)", re.IGNORECASE),
)
_BARE_LETTER = re.compile(r"\s*(?:\*\*)?(?:\(([A-Za-z])\)|([A-Za-z])(?=\)|[.,;:!]|\*\*|\s*$)|([A-Z])(?=\s))")
_PROMPT_OPTION = re.compile(r"^\s*\(?([A-Za-z])\s*[).:]\s+(\S.*?)\s*$", re.MULTILINE)
_PROMPT_LIST = re.compile(r"\b[A-Za-z]+(?:\s*,\s*(?:(?:or|and)\s+)?[A-Za-z]+){2,}")
_CONTENT_WORD = re.compile(r"[a-z]+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "her",
        "his",
        "their",
        "its",
        "this",
        "that",
        "these",
        "those",
        "it",
        "they",
        "she",
        "he",
        "we",
        "you",
        "i",
        "who",
        "which",
        "what",
        "there",
        "some",
        "any",
        "no",
        "not",
        "do",
        "does",
        "did",
        "as",
        "from",
        "into",
    ]
)
_ABSTAIN = re.compile(
    r"\b(?:not\s+sure|(?:don't|do\s+not)\s+know|(?:cannot|can't|can\s+not)\s+(?:be\s+)?(?:determined?|answer|tell|say)|"
    r"unable\s+to\s+(?:determine|answer|tell|say)|not\s+enough\s+information|insufficient\s+information|"
    r"impossible\s+to\s+(?:determine|tell|say))\b",
    re.IGNORECASE,
)
_PUNCTUATION = re.compile(r"[\s*_`\"'.,;:!?()\[\]{}]+")


class Found(NamedTuple):
    """An answer found in a region: its span in the response, its display text, whether it equals the gold."""

    start: int
    end: int
    text: str
    correct: bool


class Matcher(NamedTuple):
    """An answer type's two readings of a region: ``phrase`` (the first answer after a strict marker) and
    ``final`` (the flexible reading of the whole response), with the flexible rule's name."""

    phrase: Callable[[str, int, int], Found | None]
    final: Callable[[str], Found | None]
    flexible_name: str
    answers_up_front: bool = True
    """Whether a bare first line can state this type's answer (not for types whose reading is a whole statement)."""


def code_version() -> str:
    """Short hash of the grading code version and every rule table."""
    return _code_version()


@functools.lru_cache(maxsize=1)
def _code_version() -> str:
    tables = [
        *extract.rule_tables(),
        NUMBER_PATTERN.pattern,
        _COPULA.pattern,
        _NEGATION.pattern,
        _NEGATED_AFTER.pattern,
        _EXPRESSION_END.pattern,
        _ABSTAIN.pattern,
        *(p.pattern for p in _LETTER_FORMS),
        _BARE_LETTER.pattern,
        _PROMPT_OPTION.pattern,
        _PROMPT_LIST.pattern,
        " ".join(sorted(_STOPWORDS)),
    ]
    return content_hash({"code": GRADER_CODE_VERSION, "tables": tables})[:12]


def resolve(spec: GraderSpec, gold: GoldAnswer) -> str:
    """The concrete grader for a gold answer (``auto`` picks by type); a grader that cannot grade that type is an
    ``InputError`` naming the types it accepts."""
    if gold.type not in ACCEPTED_TYPES[spec.name]:
        accepted = ", ".join(t.value for t in ACCEPTED_TYPES[spec.name])
        raise InputError(
            f"{spec.id} cannot grade a {gold.type.value} answer (it grades: {accepted}); use grader:auto",
            field="grader",
        )
    return _AUTO[gold.type] if spec.name == "auto" else spec.name


def grade(spec: GraderSpec, response: str, gold: GoldAnswer, *, prompt: str | None = None) -> Grade:
    """Grade ``response`` against ``gold``. ``prompt`` (the question text), when given, lets the grader ignore
    restatements of the question and read option texts and listed alternatives from it."""
    name = resolve(spec, gold)
    prepared = extract.prepare(response, prompt)
    matcher = _matcher(name, gold, prompt or "")
    found: Found | None = None
    rule: str | None = None
    if spec.rule in (None, ExtractionRule.STRICT):
        best: tuple[int, int, int, str, Found] | None = None
        for region in extract.strict_regions(prepared):
            if region.rule == "first_line" and not matcher.answers_up_front:
                continue
            hit = matcher.phrase(prepared.text, region.start, region.end)
            if hit is None:
                continue
            key = (hit.end, -extract.STRICT_RULES.index(region.rule), hit.start, region.rule, hit)
            if best is None or key[:3] > best[:3]:
                best = key
        if best is not None:
            found, rule = best[4], f"strict:{best[3]}"
    if found is None and spec.rule in (None, ExtractionRule.FLEXIBLE) and not prepared.truncated:
        found = matcher.final(prepared.text)
        rule = f"flexible:{matcher.flexible_name}" if found is not None else None
    if found is None or rule is None:
        return Grade(outcome=GradeOutcome.NO_ANSWER, extracted_answer=None, extraction_rule=None, span=None)
    return Grade(
        outcome=GradeOutcome.CORRECT if found.correct else GradeOutcome.INCORRECT,
        extracted_answer=found.text,
        extraction_rule=rule,
        span=(found.start, found.end),
    )


def _matcher(name: str, gold: GoldAnswer, prompt: str) -> Matcher:
    if name == "numeric":
        return _number_matcher(gold)
    if name == "choice":
        return _choice_matcher(gold, prompt)
    if name == "word":
        return _word_matcher(gold, prompt)
    if name == "all_of":
        return _all_of_matcher(gold)
    if name == "exact":
        return _exact_matcher(gold)
    return _regex_matcher(gold)


# --- numbers -------------------------------------------------------------------------------------------------


def _number_correct(numeral: Numeral, gold: GoldAnswer) -> bool:
    if numeral.kind == "percent":
        return gold.accept_percent and gold.number_matches(numeral.value / 100.0)
    if numeral.kind in ("fraction", "latex_fraction") and gold.accept_fraction is False:
        return False
    return gold.number_matches(numeral.value)


def _numerals_in(text: str, start: int, end: int) -> list[Numeral]:
    return [n._replace(start=n.start + start, end=n.end + start) for n in find_numerals(text[start:end])]


def _answer_start(text: str, start: int, end: int) -> int:
    """Where a phrase's answer begins: after its last ``=``, else after its last copula that a number follows."""
    segment = text[start:end]
    equals = segment.rfind("=")
    if equals >= 0 and segment[equals + 1 :].strip():
        return start + equals + 1
    best = start
    for match in _COPULA.finditer(segment):
        if find_numerals(segment[match.end() :]):
            best = start + match.end()
    return best


_OPERATOR_TOKEN = re.compile(r"^[-+*/×·^]+$|^[-+*/×·^]|[-+*/×·^(]$")


def _expression(text: str, numeral: Numeral, begin: int, end: int) -> Found:
    """A non-numeric answer (``2z``, ``4.5*sqrt(2)``, ``sqrt(3) * 3 / 2``): the run of whitespace-separated tokens
    around ``numeral`` joined by operators, never correct."""
    tokens = [(m.start() + begin, m.end() + begin) for m in re.finditer(r"\S+", text[begin : max(end, numeral.end)])]
    index = next(i for i, (s, e) in enumerate(tokens) if s <= numeral.start < e or numeral.start < s)
    first = last = index
    while (
        first > 0
        and (
            _OPERATOR_TOKEN.search(text[tokens[first - 1][0] : tokens[first - 1][1]])
            or _OPERATOR_TOKEN.search(text[tokens[first][0] : tokens[first][1]])
        )
        and "\n" not in text[tokens[first - 1][1] : tokens[first][0]]
    ):
        first -= 1
    while (
        last + 1 < len(tokens)
        and (
            _OPERATOR_TOKEN.search(text[tokens[last][0] : tokens[last][1]])
            or _OPERATOR_TOKEN.search(text[tokens[last + 1][0] : tokens[last + 1][1]])
        )
        and "\n" not in text[tokens[last][1] : tokens[last + 1][0]]
    ):
        last += 1
    start, stop = tokens[first][0], tokens[last][1]
    while stop > start and text[stop - 1] in ".,;:!?":
        stop -= 1
    return Found(start, stop, " ".join(text[start:stop].split()), False)


def _number_matcher(gold: GoldAnswer) -> Matcher:
    def phrase(text: str, start: int, end: int) -> Found | None:
        begin = _answer_start(text, start, end)
        numerals = [n for n in _numerals_in(text, begin, end) if n.role != "reference"]
        if not numerals:
            return None
        first = numerals[0]
        if first.standalone:
            return Found(first.start, first.end, text[first.start : first.end], _number_correct(first, gold))
        return _expression(text, first, begin, end)

    def final(text: str) -> Found | None:
        for p_start, p_end in extract.final_paragraphs(text)[:1]:
            numerals = [n for n in _numerals_in(text, p_start, p_end) if n.role != "reference"]
            if not numerals:
                continue
            standalone = [n for n in numerals if n.standalone]
            if standalone:
                last = standalone[-1]
                return Found(last.start, last.end, text[last.start : last.end], _number_correct(last, gold))
            for s_start, s_end in extract.sentences(text, p_start, p_end):
                if any(s_start <= n.start < s_end for n in numerals):
                    return phrase(text, s_start, s_end)
        return None

    return Matcher(phrase, final, "last_number")


# --- options, words and parts -----------------------------------------------------------------------------------


def _negated(text: str, start: int) -> bool:
    return bool(_NEGATION.search(text[max(0, start - 24) : start]))


def _word_hits(text: str, start: int, end: int, words: dict[str, str]) -> list[tuple[int, int, str]]:
    """Non-negated whole-word occurrences of ``words`` (folded text -> key) in ``[start, end)``, in order."""
    hits: list[tuple[int, int, str]] = []
    for folded, key in words.items():
        pattern = re.compile(rf"(?<![\w-]){re.escape(folded)}(?![\w-])", re.IGNORECASE)
        for match in pattern.finditer(text, start, end):
            if not _negated(text, match.start()) and not _NEGATED_AFTER.match(text, match.end()):
                hits.append((match.start(), match.end(), key))
    hits.sort()
    return hits


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _content(text: str) -> list[str]:
    return [_stem(w) for w in _CONTENT_WORD.findall(text.lower()) if w not in _STOPWORDS and len(w) > 1]


def _text_option_hit(text: str, start: int, end: int, options: dict[str, str]) -> tuple[int, int, str] | None:
    """The option whose text the region paraphrases: at least half of its content words present, and a clear
    margin (a quarter of its words) over every other option. ``None`` when no option stands out."""
    if not options:
        return None
    region_words = _content(text[start:end])
    present = set(region_words)
    scores: list[tuple[float, str]] = []
    for key, option_text in options.items():
        words = set(_content(option_text))
        if words:
            scores.append((len(words & present) / len(words), key))
    scores.sort(reverse=True)
    if not scores or scores[0][0] < 0.5 or (len(scores) > 1 and scores[0][0] - scores[1][0] < 0.25):
        return None
    best_words = set(_content(options[scores[0][1]]))
    positions = [m for m in re.finditer(r"[A-Za-z]+", text[start:end]) if _stem(m.group(0).lower()) in best_words]
    return start + positions[0].start(), start + positions[-1].end(), scores[0][1]


@functools.lru_cache(maxsize=512)
def _prompt_options(prompt: str) -> tuple[tuple[str, str], ...]:
    found = {m.group(1).casefold(): m.group(2) for m in _PROMPT_OPTION.finditer(prompt)}
    return tuple(found.items()) if len(found) >= 2 else ()


def prompt_options(prompt: str) -> dict[str, str]:
    """Lettered options in a prompt (``a) text``, ``(B) text``): letter (folded) -> option text."""
    return dict(_prompt_options(prompt))


@functools.lru_cache(maxsize=512)
def _prompt_alternatives(prompt: str, answer: str) -> tuple[str, ...]:
    folded = answer.casefold()
    for match in _PROMPT_LIST.finditer(prompt):
        items = [w.casefold() for w in re.findall(r"[A-Za-z]+", match.group(0)) if w.lower() not in ("or", "and")]
        if folded in items:
            return tuple(item for item in items if item != folded)
    return ()


def prompt_alternatives(prompt: str, answer: str) -> list[str]:
    """The other items of a list in the prompt that names ``answer`` (``east, south, west, or north``)."""
    return list(_prompt_alternatives(prompt, answer))


def _choice_matcher(gold: GoldAnswer, prompt: str) -> Matcher:
    answer_key = str(gold.answer).strip().casefold()
    choices = [c.strip().casefold() for c in (gold.choices or [answer_key])]
    letters = all(len(c) == 1 and c.isalpha() for c in choices)
    texts: dict[str, str] = {}
    if letters:
        texts = {k: v for k, v in prompt_options(prompt).items() if k in choices}
    else:
        texts = {c: c for c in choices if len(c.split()) > 2}
    words = {} if letters else {c: c for c in choices}

    def candidates(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
        hits = _word_hits(text, start, end, words) if words else []
        if letters:
            for pattern in _LETTER_FORMS:
                for match in pattern.finditer(text, start, end):
                    if match.group(1).casefold() in choices:
                        hits.append((match.start(1), match.end(1), match.group(1).casefold()))
        if not hits:
            option = _text_option_hit(text, start, end, texts)
            if option is not None:
                hits.append(option)
        hits.sort()
        return hits

    def found(text: str, hit: tuple[int, int, str]) -> Found:
        written = text[hit[0] : hit[1]]
        shown = written if written.casefold() == hit[2] else hit[2]
        return Found(hit[0], hit[1], shown, hit[2] == answer_key)

    def phrase(text: str, start: int, end: int) -> Found | None:
        if letters:
            bare = _BARE_LETTER.match(text, start, end)
            group = next((g for g in (1, 2, 3) if bare is not None and bare.group(g) is not None), 0)
            if bare is not None and group and bare.group(group).casefold() in choices:
                return found(text, (bare.start(group), bare.end(group), bare.group(group).casefold()))
        hits = candidates(text, start, end)
        return found(text, hits[0]) if hits else None

    def final(text: str) -> Found | None:
        for p_start, p_end in extract.final_paragraphs(text)[:1]:
            hits = candidates(text, p_start, p_end)
            if hits:
                return found(text, hits[-1])
        return None

    return Matcher(phrase, final, "last_option")


def _accepted_words(gold: GoldAnswer) -> dict[str, str]:
    answers = [str(gold.answer), *gold.variants]
    return {a.strip().casefold(): "gold" for a in answers if a.strip()}


def _statement(text: str, start: int, end: int) -> str:
    """A region as shown when it holds no gold word: after its last copula, one line, at most 80 characters."""
    segment = text[start:end]
    copulas = list(_COPULA.finditer(segment))
    if copulas and segment[copulas[-1].end() :].strip():
        segment = segment[copulas[-1].end() :]
    shown = " ".join(segment.split()).strip(" .")
    return shown[:80]


def _word_matcher(gold: GoldAnswer, prompt: str) -> Matcher:
    accepted = _accepted_words(gold)
    others = {a: a for a in prompt_alternatives(prompt, str(gold.answer)) if a not in accepted}

    def phrase(text: str, start: int, end: int) -> Found | None:
        if others:
            hits = _word_hits(text, start, end, {**accepted, **others})
            if not hits:
                return None
            first = hits[0]
            return Found(first[0], first[1], text[first[0] : first[1]], first[2] == "gold")
        hits = _word_hits(text, start, end, accepted)
        if hits:
            return Found(hits[0][0], hits[0][1], text[hits[0][0] : hits[0][1]], True)
        if _ABSTAIN.search(text, start, end):
            return None
        shown = _statement(text, start, end)
        if not shown:
            return None
        begin, stripped = _trimmed(text, start, end)
        return Found(begin, begin + len(stripped), shown, False)

    def final(text: str) -> Found | None:
        if others:
            for p_start, p_end in extract.final_paragraphs(text)[:1]:
                hits = _word_hits(text, p_start, p_end, {**accepted, **others})
                if hits:
                    last = hits[-1]
                    return Found(last[0], last[1], text[last[0] : last[1]], last[2] == "gold")
            return None
        for p_start, p_end in extract.final_paragraphs(text):
            for s_start, s_end in extract.sentences(text, p_start, p_end):
                return phrase(text, s_start, s_end)
        return None

    return Matcher(phrase, final, "last_option" if others else "last_sentence", answers_up_front=bool(others))


def _all_of_matcher(gold: GoldAnswer) -> Matcher:
    parts = gold.answer if isinstance(gold.answer, list) else [str(gold.answer)]
    folded = {p.strip().casefold(): p for p in parts}

    def phrase(text: str, start: int, end: int) -> Found | None:
        if not text[start:end].strip() or _ABSTAIN.search(text, start, end):
            return None
        hits = _word_hits(text, start, end, {k: k for k in folded})
        present = {h[2] for h in hits}
        if present == set(folded):
            first = min(h[0] for h in hits)
            last = max(h[1] for h in hits)
            shown = "; ".join(text[h[0] : h[1]] for h in _first_each(hits))
            return Found(first, last, shown, True)
        if hits:
            parts = _first_each(hits)
            shown = "; ".join(text[h[0] : h[1]] for h in parts)
            return Found(parts[0][0], parts[-1][1], shown, False)
        return _unmatched(text, start, end)

    return Matcher(phrase, _in_final_paragraph(phrase), "final_paragraph", answers_up_front=False)


def _trimmed(text: str, start: int, end: int) -> tuple[int, str]:
    """The region's text without surrounding blanks, and where it begins."""
    stripped = text[start:end].strip()
    return start + text[start:end].find(stripped[:1]), stripped


def _unmatched(text: str, start: int, end: int) -> Found:
    """The whole region as an answer that is not the gold one (shown on one line, at most 120 characters)."""
    begin, stripped = _trimmed(text, start, end)
    return Found(begin, begin + len(stripped), " ".join(stripped.split())[:120], False)


def _in_final_paragraph(phrase: Callable[[str, int, int], Found | None]) -> Callable[[str], Found | None]:
    """A matcher's ``final``: ``phrase`` read over the response's final paragraph."""

    def final(text: str) -> Found | None:
        for p_start, p_end in extract.final_paragraphs(text):
            return phrase(text, p_start, p_end)
        return None

    return final


def _first_each(hits: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    seen: set[str] = set()
    kept: list[tuple[int, int, str]] = []
    for hit in hits:
        if hit[2] not in seen:
            seen.add(hit[2])
            kept.append(hit)
    return kept


def _normal(text: str) -> str:
    return _PUNCTUATION.sub(" ", text).strip().casefold()


def _exact_matcher(gold: GoldAnswer) -> Matcher:
    accepted = {_normal(a) for a in [str(gold.answer), *gold.variants]}

    def phrase(text: str, start: int, end: int) -> Found | None:
        begin, stripped = _trimmed(text, start, end)
        if not _normal(stripped) or _ABSTAIN.search(stripped):
            return None
        return Found(begin, begin + len(stripped), stripped, _normal(stripped) in accepted)

    def final(text: str) -> Found | None:
        for p_start, p_end in extract.final_paragraphs(text):
            lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text[p_start:p_end])]
            for l_start, l_end in reversed(lines):
                hit = phrase(text, p_start + l_start, p_start + l_end)
                if hit is not None:
                    return hit
        return None

    return Matcher(phrase, final, "last_line", answers_up_front=False)


def _regex_matcher(gold: GoldAnswer) -> Matcher:
    pattern = re.compile(gold.regex_source)

    def phrase(text: str, start: int, end: int) -> Found | None:
        stripped = text[start:end].strip()
        if not stripped:
            return None
        match = pattern.search(text, start, end)
        if match is not None:
            return Found(match.start(), match.end(), match.group(0), True)
        if _ABSTAIN.search(text, start, end):
            return None
        return _unmatched(text, start, end)

    return Matcher(phrase, _in_final_paragraph(phrase), "final_paragraph", answers_up_front=False)
