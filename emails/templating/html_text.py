"""Reading email HTML: the readable text part derived from it, and whether it has a visible link to a variable.

The standard library's html.parser rather than html2text: html2text is GPL-3.0 (Sesame ships to customers'
own machines) and writes Markdown (`**bold**`, `[text](url)`, escaped `\\*`), which is not what a mail client's
plain-text view should show. What a text part needs (skip head, style, script and hidden blocks; break lines at
blocks; keep link targets) is one small parser.
"""

import re
from html.parser import HTMLParser

_SKIP = {"head", "style", "script", "title", "template", "noscript"}
_BLOCK = {
    "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "figcaption", "figure", "footer",
    "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden"
    r"|(?<![-\w])(?:font-size|max-height|opacity)\s*:\s*0(?:\.0*)?(?:px|em|rem|pt|%)?\s*(?:!important)?\s*(?:;|$)"
)


def _hidden(tag: str, attrs: dict[str, str | None]) -> bool:
    return "hidden" in attrs or bool(_HIDDEN_STYLE.search((attrs.get("style") or "").lower()))


class _Walker(HTMLParser):
    """Tracks which open elements are skipped (head, style, hidden ones) so subclasses see only visible content."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._stack: list[tuple[str, bool]] = []  # (tag, hides its content)

    @property
    def hiding(self) -> bool:
        return any(hides for _, hides in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        hides = tag in _SKIP or _hidden(tag, values)
        if tag not in _VOID:
            self._stack.append((tag, hides))
            if not self.hiding:
                self.visible_start(tag, values)
        elif not hides and not self.hiding:
            self.visible_start(tag, values)

    def handle_endtag(self, tag: str) -> None:
        if not any(open_tag == tag for open_tag, _ in self._stack):
            return  # a stray end tag
        while self._stack:
            was_hidden = self.hiding
            open_tag, _ = self._stack.pop()
            if not was_hidden:
                self.visible_end(open_tag)
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.hiding:
            self.visible_data(data)

    def visible_start(self, tag: str, attrs: dict[str, str | None]) -> None: ...

    def visible_end(self, tag: str) -> None: ...

    def visible_data(self, data: str) -> None: ...


class _TextWriter(_Walker):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._links: list[tuple[str, int]] = []  # (href, where its text starts in parts)
        self._pre = 0

    def visible_start(self, tag: str, attrs: dict[str, str | None]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "hr":
            self.parts.append("\n\n----------\n\n")
        elif tag == "img" and attrs.get("alt"):
            self.parts.append(str(attrs["alt"]))
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag in _BLOCK:
            self.parts.append("\n\n" if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "table") else "\n")
        elif tag == "a":
            self._links.append((attrs.get("href") or "", len(self.parts)))
        if tag == "pre":
            self._pre += 1

    def visible_end(self, tag: str) -> None:
        if tag == "a" and self._links:
            href, start = self._links.pop()
            label = "".join(self.parts[start:]).strip()
            if href.startswith(("http://", "https://", "mailto:")) and href.removeprefix("mailto:") != label:
                self.parts.append(f" ({href})" if label else href)
        elif tag == "pre":
            self._pre -= 1
        elif tag in _BLOCK and tag != "li":
            self.parts.append("\n\n" if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "table") else "\n")

    def visible_data(self, data: str) -> None:
        self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """A readable plain-text version of an email's HTML: paragraphs, line breaks, list items, link targets."""
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    lines = [line.strip() for line in "".join(writer.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


class _LinkFinder(_Walker):
    def __init__(self, href_matches: re.Pattern[str]) -> None:
        super().__init__()
        self.href_matches = href_matches
        self.found = False
        self._open: list[list[str]] = []  # the visible text of each open matching link

    def visible_start(self, tag: str, attrs: dict[str, str | None]) -> None:
        if tag == "a" and self.href_matches.fullmatch((attrs.get("href") or "").strip()):
            self._open.append([])
        elif tag == "img" and self._open and (attrs.get("alt") or attrs.get("src")):
            self._open[-1].append("[image]")

    def visible_end(self, tag: str) -> None:
        if tag == "a" and self._open and "".join(self._open.pop()).strip():
            self.found = True

    def visible_data(self, data: str) -> None:
        if self._open:
            self._open[-1].append(data)


def html_has_visible_link(html: str, *, variable: str | None = None, url: str | None = None) -> bool:
    """Whether the HTML has a link a reader can see (not inside a hidden element, with text or an image) whose
    href is `{{ variable }}` (template source, filters allowed) or exactly `url` (rendered HTML)."""
    if variable is not None:
        pattern = re.compile(r"\{\{-?\s*" + re.escape(variable) + r"\s*(?:\|[^}]*)?-?\}\}")
    elif url is not None:
        pattern = re.compile(re.escape(url))
    else:
        raise ValueError("give the variable or the url")
    finder = _LinkFinder(pattern)
    finder.feed(html)
    finder.close()
    return finder.found
