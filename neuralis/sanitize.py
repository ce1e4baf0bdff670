"""Make what a notebook or an address bar supplies safe to show in the app's own page.

HTML outputs without scripts are drawn in the page (an iframe each would cost every click),
so they are cleaned here the way JupyterLab cleans untrusted HTML: an allowlist of tags and
attributes (nh3, no forms, no inputs, no ``<link>``), ``style`` attributes reduced to
harmless properties, ``<style>`` blocks reparsed and scoped to the output's own box, ids
prefixed, and the whole output wrapped in a box with paint containment, which clips what it
draws and is the containing block of anything ``position: fixed`` inside it. Text shown
through Markdown (metadata, file names, error messages) is escaped or put in a code span.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

_TAGS = {
    "a", "abbr", "acronym", "area", "article", "aside", "b", "bdi", "bdo", "blockquote", "br",
    "caption", "center", "cite", "code", "col", "colgroup", "data", "dd", "del", "details",
    "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "font", "footer", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hgroup", "hr", "i", "img", "ins", "kbd", "li", "map", "mark",
    "nav", "ol", "p", "pre", "q", "rp", "rt", "rtc", "ruby", "s", "samp", "small", "span",
    "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "time", "tr", "tt", "u", "ul", "var", "wbr",
}  # fmt: skip
_GENERIC_ATTRIBUTES = {
    "align", "border", "class", "dir", "height", "id", "lang", "style", "title", "valign",
    "width",
}  # fmt: skip
_PROPERTIES = {
    "background-color", "border", "border-bottom", "border-bottom-color", "border-bottom-style",
    "border-bottom-width", "border-collapse", "border-color", "border-left", "border-left-color",
    "border-left-style", "border-left-width", "border-radius", "border-right",
    "border-right-color", "border-right-style", "border-right-width", "border-spacing",
    "border-style", "border-top", "border-top-color", "border-top-style", "border-top-width",
    "border-width", "box-sizing", "caption-side", "clear", "color", "display", "empty-cells",
    "float", "font", "font-family", "font-size", "font-style", "font-variant", "font-weight",
    "height", "letter-spacing", "line-height", "list-style-type", "margin", "margin-bottom",
    "margin-left", "margin-right", "margin-top", "max-height", "max-width", "min-height",
    "min-width", "opacity", "overflow", "overflow-wrap", "overflow-x", "overflow-y", "padding",
    "padding-bottom", "padding-left", "padding-right", "padding-top", "table-layout",
    "text-align", "text-decoration", "text-decoration-color", "text-decoration-line",
    "text-decoration-style", "text-indent", "text-overflow", "text-shadow", "text-transform",
    "vertical-align", "visibility", "white-space", "width", "word-break", "word-wrap",
}  # fmt: skip
"""Style properties an output may set: no position, offsets, z-index, transforms or URLs."""
_CSS_PROPERTIES = _PROPERTIES | {"background"}  # in <style> values are checked for url()
_CSS_FUNCTIONS = {
    "calc", "clamp", "color", "color-mix", "conic-gradient", "hsl", "hsla", "hwb", "lab",
    "lch", "linear-gradient", "max", "min", "oklab", "oklch", "radial-gradient",
    "repeating-conic-gradient", "repeating-linear-gradient", "repeating-radial-gradient",
    "rgb", "rgba", "var",
}  # fmt: skip
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)(?:</style\s*>|\Z)", re.IGNORECASE | re.DOTALL)
BOX_CLASS = "neuralis-html"
BOX_STYLE = "contain: paint; overflow: auto; max-width: 100%"


CACHE_CHARS = 32 * 1024 * 1024
"""Cleaned outputs are remembered up to this many characters (every rerun draws them again)."""
_cache: OrderedDict[str, str] = OrderedDict()
_cache_chars = 0
_cache_lock = threading.Lock()


def contain_html(markup: str) -> str:
    """Return an HTML output cleaned and boxed, safe to put in the app's page."""
    global _cache_chars
    key = hashlib.sha256(markup.encode("utf-8", "surrogatepass")).hexdigest()
    with _cache_lock:
        if (hit := _cache.get(key)) is not None:
            _cache.move_to_end(key)
            return hit
    clean = _contain(markup)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = clean
            _cache_chars += len(clean)
        while _cache_chars > CACHE_CHARS and len(_cache) > 1:
            _cache_chars -= len(_cache.popitem(last=False)[1])
    return clean


def _contain(markup: str) -> str:
    import nh3

    digest = hashlib.sha1(markup.encode("utf-8", "surrogatepass")).hexdigest()
    scope = f"{BOX_CLASS}-{digest[:10]}"
    css = "\n".join(_scoped_css(block, scope) for block in _STYLE_BLOCK.findall(markup))
    attributes = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
    attributes["*"] = _GENERIC_ATTRIBUTES
    body = nh3.clean(
        markup,
        tags=_TAGS,
        attributes=attributes,
        attribute_filter=_no_data_links,
        url_schemes={"http", "https", "mailto", "data"},
        filter_style_properties=_PROPERTIES,
        link_rel="noopener noreferrer nofollow",
        id_prefix=f"{scope}-",
    )
    style = f"<style>{css}</style>" if css else ""
    return f'<div class="{BOX_CLASS} {scope}" style="{BOX_STYLE}">{style}{body}</div>'


def _no_data_links(tag: str, attribute: str, value: str) -> str | None:
    """Allow ``data:`` URLs for images only (inline plots), never as a link target."""
    if attribute != "src" and value.strip().lower().startswith("data:"):
        return None
    return value


def _scoped_css(css: str, scope: str) -> str:
    """Reparse a ``<style>`` block: rules scoped under the output's box, safe values only.

    At-rules (``@import``, ``@font-face``, ``@media``...) are dropped; every selector is
    prefixed with the box's class, so ``body`` or ``.stApp`` match nothing of the app.
    """
    import tinycss2

    rules = []
    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type != "qualified-rule":
            continue
        selector = _scoped_selector(rule.prelude, scope)
        body = _declarations(rule.content)
        text = f"{selector} {{ {body} }}"
        if selector and body and "<" not in text:  # "</style>" in a string would end the block
            rules.append(text)
    return "\n".join(rules)


def _scoped_selector(prelude: list[Any], scope: str) -> str:
    import tinycss2
    from tinycss2.serializer import serialize_name

    groups: list[list[str]] = [[]]
    for token in prelude:
        if token.type == "literal" and token.value == ",":
            groups.append([])
        elif token.type == "hash":  # ids were prefixed in the markup
            groups[-1].append("#" + serialize_name(f"{scope}-{token.value}"))
        else:
            groups[-1].append(tinycss2.serialize([token]))
    selectors = ["".join(g).strip() for g in groups]
    if not all(selectors) or any(sel[0] in "~+" for sel in selectors):
        return ""  # "~ p" after the box's class would reach the app's elements beside it
    return ", ".join(f".{scope} {s}" for s in selectors)


def _declarations(content: list[Any] | None) -> str:
    import tinycss2

    kept = []
    decls = tinycss2.parse_declaration_list(content or [], skip_comments=True, skip_whitespace=True)
    for decl in decls:
        if decl.type != "declaration" or decl.lower_name not in _CSS_PROPERTIES:
            continue
        if not _safe_value(decl.value):
            continue
        value = tinycss2.serialize(decl.value).strip()
        kept.append(f"{decl.lower_name}: {value}{' !important' if decl.important else ''};")
    return " ".join(kept)


def _safe_value(tokens: Iterable[Any]) -> bool:
    """Tell whether a CSS value loads nothing: no url(), only colour and maths functions."""
    for token in tokens:
        if token.type == "url":
            return False
        if token.type == "function":
            if token.lower_name not in _CSS_FUNCTIONS or not _safe_value(token.arguments):
                return False
        elif token.type in ("() block", "[] block", "{} block") and not _safe_value(token.content):
            return False
    return True


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&=^\"'])")
_PLAIN_NAME = re.compile(r"[\w .\-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_AUTOLINK = re.compile(r"(?<=\\:)|(?i:(?<=www))(?=\\\.)|(?=@)")


def markdown_text(text: str) -> str:
    """Return text that Streamlit's Markdown shows as written: no links, images or markup.

    Every ASCII punctuation mark is backslash-escaped (CommonMark) and line breaks become
    spaces. Autolinks ("http://", "www.", "a@b.c") and Streamlit's ":icon:" shortcodes are
    found after escapes are resolved, so a zero-width space goes after every ":", between
    "www" and ".", and before "@".
    """
    flat = _CONTROL.sub(" ", text)
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", flat)
    return _AUTOLINK.sub("\u200b", escaped)


def label_text(name: str) -> str:
    """Return a file name for a Markdown label: plain names as they are, others escaped."""
    plain = _PLAIN_NAME.fullmatch(name) and "www." not in name.lower()
    return name if plain else markdown_text(name)


def code_span(text: str) -> str:
    """Return text as one Markdown code span that nothing inside can close."""
    flat = _CONTROL.sub(" ", text)
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat.strip() else ""
    return f"{fence}{pad}{flat}{pad}{fence}" if flat else "` `"
