"""A small, safe Markdown subset for model answers: everything is escaped first, then only our own tags added.

Supported: fenced code blocks, inline code, headings (shown as h4-h6), bullet and numbered lists, block quotes,
bold and italic, paragraphs and line breaks. Links and images are shown as their text; raw HTML stays text.
"""

from __future__ import annotations

import html
import re

_FENCE = re.compile(r"^\s*(```|~~~)\s*([A-Za-z0-9_+#.-]{0,30})")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,9}[.)]\s+(.*)$")
_QUOTE = re.compile(r"^\s*&gt;\s?(.*)$")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])|(?<![\w_])_(?=\S)([^_]+?)(?<=\S)_(?![\w_])")
_CODE = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]*)\)")


def _emphasis(text: str) -> str:
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if m.group(2) else m.group(1), text)
    text = _BOLD.sub(lambda m: f"<strong>{m.group(1) or m.group(2)}</strong>", text)
    return _ITALIC.sub(lambda m: f"<em>{m.group(1) or m.group(2)}</em>", text)


def render_inline(escaped: str) -> str:
    """Inline markup of one already-escaped line: code spans first (left verbatim), then emphasis."""
    out: list[str] = []
    position = 0
    for match in _CODE.finditer(escaped):
        out.append(_emphasis(escaped[position : match.start()]))
        out.append(f"<code>{match.group(2)}</code>")
        position = match.end()
    out.append(_emphasis(escaped[position:]))
    return "".join(out)


def render_markdown(text: str) -> str:
    """HTML for ``text``: escaped, then the subset above. Safe to insert into a page as is."""
    out: list[str] = []
    paragraph: list[str] = []
    list_tag: str | None = None
    lines = text.replace("\r\n", "\n").split("\n")

    def close_paragraph() -> None:
        if paragraph:
            out.append("<p>" + "<br>".join(render_inline(p) for p in paragraph) + "</p>")
            paragraph.clear()

    def close_list() -> None:
        nonlocal list_tag
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    i = 0
    while i < len(lines):
        raw = lines[i]
        fence = _FENCE.match(raw)
        if fence:
            close_paragraph()
            close_list()
            marker, language = fence.group(1), fence.group(2)
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i])
                i += 1
            i += 1  # the closing fence (or the end)
            css = f' class="language-{html.escape(language, quote=True)}"' if language else ""
            out.append(f"<pre><code{css}>" + html.escape("\n".join(body), quote=True) + "</code></pre>")
            continue
        line = html.escape(raw, quote=True)
        i += 1
        if not line.strip():
            close_paragraph()
            close_list()
            continue
        heading = _HEADING.match(line)
        if heading:
            close_paragraph()
            close_list()
            level = min(6, len(heading.group(1)) + 3)
            out.append(f"<h{level}>{render_inline(heading.group(2))}</h{level}>")
            continue
        item = _BULLET.match(line)
        numbered = None if item else _NUMBERED.match(line)
        if item or numbered:
            close_paragraph()
            tag = "ul" if item else "ol"
            if list_tag != tag:
                close_list()
                out.append(f"<{tag}>")
                list_tag = tag
            content = (item or numbered).group(1)  # type: ignore[union-attr]
            out.append(f"<li>{render_inline(content)}</li>")
            continue
        quote = _QUOTE.match(line)
        if quote:
            close_paragraph()
            close_list()
            out.append(f"<blockquote>{render_inline(quote.group(1))}</blockquote>")
            continue
        close_list()
        paragraph.append(line)
    close_paragraph()
    close_list()
    return "\n".join(out)
