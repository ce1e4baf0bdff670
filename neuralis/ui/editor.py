"""The code editor (streamlit-ace) and the page's styles.

The keyboard (neuralis/ui/keys.py) hands the text a run key ran to :func:`sent`, so an
editor whose debounced update comes later never brings older text back.
"""

from __future__ import annotations

import streamlit as st
from streamlit_ace import st_ace

from neuralis.ui.session_keys import EDITOR_INIT

# Ace lays out lines of its measured font height (16 px for its 14 px monospace font), and
# at 1x pixel density an underscore falls just below that box and is not drawn: `a_b` read
# as `a b`. streamlit-ace has no option for it, so the script below gives every editor frame
# a taller line (Ace measures the font through CSS that inherits it, and relays out).
_ACE_CSS = ".ace_editor { line-height: LINE_HEIGHT; }"
LINE_HEIGHT = 1.4

# The keyboard (run keys, command mode) is neuralis/ui/keys.py; this script only styles the
# editor frames, at once when one (re)loads.
_SHORTCUTS = """
<script>
(function () {
  const top = window;
  if (top.__neuralisShortcuts) { return; }
  top.__neuralisShortcuts = true;
  function style(win) {
    const doc = win.document;
    if (!doc || !doc.head || doc.getElementById("neuralis-ace")) { return; }
    const css = doc.createElement("style");
    css.id = "neuralis-ace";
    css.textContent = ACE_CSS;
    doc.head.appendChild(css);
  }
  function hook(frame) {
    let win;
    try { win = frame.contentWindow; if (!win) { return; } style(win); }
    catch (e) { return; }
    if (!frame.__neuralisLoad) {  // style a (re)loaded frame at once, not on the next tick
      frame.__neuralisLoad = true;
      frame.addEventListener("load", function () { hook(frame); });
    }
  }
  setInterval(function () {
    document.querySelectorAll('iframe[title*="streamlit_ace"]').forEach(hook);
  }, 300);
})();
</script>
""".replace("ACE_CSS", repr(_ACE_CSS.replace("LINE_HEIGHT", str(LINE_HEIGHT))))

# streamlit-ace hard-codes Ace's live autocompletion, whose popup opens while one types and
# takes the next Enter: `import time` + Enter saved `import NotImplemented`. This script
# (its own, apart from the shortcuts) turns it off in every editor of every editor frame,
# new ones included; completion stays on an explicit Ctrl+Space (basic autocompletion).
_NO_LIVE_COMPLETION = """
<script>
(function () {
  if (window.__neuralisNoLive) { return; }
  window.__neuralisNoLive = true;
  function quiet(win) {
    win.document.querySelectorAll(".ace_editor").forEach(function (el) {
      const ed = el.env && el.env.editor;
      if (ed && ed.getOption("enableLiveAutocompletion")) {
        ed.setOptions({enableLiveAutocompletion: false});
      }
    });
  }
  function sweep() {
    document.querySelectorAll('iframe[title*="streamlit_ace"]').forEach(function (frame) {
      let win;
      try { win = frame.contentWindow; if (!win || !win.document) { return; } quiet(win); }
      catch (e) { return; }
      if (!win.__neuralisNoLive) {  // an editor made between sweeps: before its first key
        win.__neuralisNoLive = true;
        win.addEventListener("keydown", function () { quiet(win); }, true);
      }
    });
  }
  setInterval(sweep, 300);
})();
</script>
"""

_STYLES = """
<style>
pre.neuralis-ansi, pre.neuralis-stderr {
  font-family: "Source Code Pro", monospace; font-size: 0.85rem; white-space: pre-wrap;
  padding: 0.5rem 0.75rem; border-radius: 0.4rem; margin: 0; background: #f8f8fa;
}
pre.neuralis-stderr { background: #fdecec; }
/* Cells out of view skip layout and paint until scrolled to: a click redraws what is seen. */
[class*="st-key-box-"] { content-visibility: auto; contain-intrinsic-size: auto 160px; }
</style>
"""


def install_page_helpers() -> None:
    """Add the editor styles, the editors without live completion and the output styles to
    the page (once per run)."""
    st.html(_STYLES)
    st.html(_SHORTCUTS, unsafe_allow_javascript=True)
    st.html(_NO_LIVE_COMPLETION, unsafe_allow_javascript=True)


_SENT = "neuralis_editor_sent"
"""Editor key -> (the value the editor had sent, the newer text a run key brought)."""


def sent(key: str, text: str) -> None:
    """Take ``text`` as the editor's value until the editor itself sends something newer.

    streamlit-ace (``auto_update``) sends its text 200 ms after the last keystroke; a run
    key sends it at once. Until the editor's own update arrives, its widget value is the
    older text, which must not replace the text that ran.
    """
    pending: dict[str, tuple[object, str]] = st.session_state.setdefault(_SENT, {})
    pending[key] = (st.session_state.get(key), text)


def code_editor(key: str, source: str, *, language: str = "python") -> str:
    """Show an editor whose height follows its text; return the text it holds.

    The editor gets ``source`` only when it is created: later arguments must not change,
    or the component would reset its text to them and drop what the user typed since.
    """
    initial: dict[str, str] = st.session_state.setdefault(EDITOR_INIT, {})
    if key not in st.session_state:
        # A new editor, or one drawn again after a run without it (the cell was deleted
        # and restored, or changed type and back): it starts from the text the cell has now.
        initial[key] = source
    first = initial.setdefault(key, source)
    value = st_ace(
        value=first,
        language=language,
        theme="chrome",
        keybinding="vscode",
        min_lines=max(2, first.count("\n") + 1),
        font_size=14,
        tab_size=4,
        show_gutter=True,
        auto_update=True,
        key=key,
    )
    pending: dict[str, tuple[object, str]] = st.session_state.get(_SENT, {})
    if key in pending:
        stale, text = pending[key]
        if value == stale:
            return text
        del pending[key]  # the editor caught up (or the user typed on)
    return value if isinstance(value, str) else source
