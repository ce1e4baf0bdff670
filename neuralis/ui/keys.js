// JupyterLab's keyboard model for the Notebook page (a Streamlit Custom Component v2,
// mounted once in the page's DOM: no iframe of its own).
//
// Edit mode is the focus inside a cell's editor (a streamlit-ace frame, same origin): its
// window gets a capture listener for the run keys and Esc. Command mode is the focus
// anywhere else on the page: the document's listener takes the single-letter commands.
// Every action goes to Python as one trigger value {session, seq, actions: [...]}, each
// action {seq, action, cell, text}. The recent actions are sent again with every trigger,
// so two keys pressed within one script run are both done; Python skips those it did.
// Run actions carry the editor's text as the editor shows it now: nothing waits for the
// editor's debounced update.

const ACCENT = "#3b6fb6";
const BOX = "st-key-box-";
const EDITOR = 'iframe[title*="streamlit_ace"]';
const RESEND_MS = 4000;

function cellOf(el) {
  const box = el && el.closest ? el.closest(`[class*="${BOX}"]`) : null;
  if (!box) return null;
  const cls = [...box.classList].find((c) => c.startsWith(BOX));
  return cls ? cls.slice(BOX.length) : null;
}

function boxes() {
  return [...document.querySelectorAll(`[class*="${BOX}"]`)].filter((b) => cellOf(b));
}

function boxOf(cell) {
  return boxes().find((b) => cellOf(b) === cell) || null;
}

function aceOf(frame) {
  try {
    const el = frame.contentWindow.document.querySelector(".ace_editor");
    return el && el.env && el.env.editor ? el.env.editor : null;
  } catch (e) {
    return null;
  }
}

function install() {
  const K = {
    send: null,
    session: Math.random().toString(36).slice(2),
    seq: 0,
    log: [],
    selected: null,
    seenData: null,
    pendingFocus: null,
    lastEmit: 0,
    pressed: {},
    style: document.createElement("style"),
  };
  K.style.id = "neuralis-keys-style";
  document.head.appendChild(K.style);

  K.paint = function () {
    document.body.dataset.neuralisSelected = K.selected || "";
    const mode = document.body.dataset.neuralisMode || "command";
    const sel = K.selected ? CSS.escape(K.selected) : "";
    K.style.textContent = K.selected
      ? `.${BOX}${sel} { border-color: ${ACCENT} !important;` +
        ` box-shadow: inset 3px 0 0 ${ACCENT}; }` +
        `.${BOX}${sel} .st-key-acts-${sel}, .${BOX}${sel} .st-key-mdhead-${sel} { opacity: 1; }` +
        (mode === "command"
          ? `.${BOX}${sel} { outline: 2px solid ${ACCENT}55;` +
            ` outline-offset: 1px; }`
          : "")
      : "";
  };

  K.select = function (cell, scroll) {
    if (!cell) return;
    K.selected = cell;
    K.paint();
    const box = boxOf(cell);
    if (box && scroll) box.scrollIntoView({ block: "nearest" });
  };

  // A command typed twice within a second (D D, I I, 0 0): the first press only arms it.
  K.twice = function (letter, action, cell) {
    const now = Date.now();
    if (now - (K.pressed[letter] || 0) < 1000) {
      K.pressed[letter] = 0;
      K.emit(action, cell);
    } else {
      K.pressed[letter] = now;
    }
  };

  K.caughtUp = function (done) {
    if (K.seq === 0 || Date.now() - K.lastEmit > RESEND_MS) return true;
    return !!done && done.session === K.session && done.seq >= K.seq;
  };

  K.emit = function (action, cell, text) {
    const now = Date.now();
    K.lastEmit = now;
    K.seq += 1;
    const item = { seq: K.seq, action: action, cell: cell || null };
    if (typeof text === "string") item.text = text;
    K.log = K.log.filter((a) => now - a.t < RESEND_MS);
    K.log.push(Object.assign({ t: now }, item));
    if (K.send) {
      K.send("key", {
        session: K.session,
        actions: K.log.map((a) => ({ seq: a.seq, action: a.action, cell: a.cell, text: a.text })),
      });
    }
  };

  K.commandMode = function (cell) {
    document.body.dataset.neuralisMode = "command";
    K.select(cell || K.selected);
    const box = boxOf(K.selected);
    if (box) {
      if (!box.hasAttribute("tabindex")) box.setAttribute("tabindex", "-1");
      box.focus({ preventScroll: true });
    }
    K.paint();
  };

  K.editMode = function (cell) {
    const box = boxOf(cell);
    const frame = box && box.querySelector(EDITOR);
    const ace = frame && aceOf(frame);
    if (!ace) return false;
    document.body.dataset.neuralisMode = "edit";
    K.select(cell);
    frame.focus();
    ace.focus();
    return true;
  };

  K.textOf = function (cell) {
    const box = boxOf(cell);
    const frame = box && box.querySelector(EDITOR);
    const ace = frame && aceOf(frame);
    return ace ? ace.getValue() : undefined;
  };

  K.next = function (cell, step) {
    const ids = boxes().map(cellOf);
    const i = ids.indexOf(cell);
    if (i < 0) return ids[0] || null;
    const j = i + step;
    return j >= 0 && j < ids.length ? ids[j] : null;
  };

  // Run keys, the same in both modes; true when the key was one of them.
  K.runKey = function (e, cell) {
    if (e.key !== "Enter" || !(e.ctrlKey || e.metaKey || e.shiftKey || e.altKey)) return false;
    e.preventDefault();
    e.stopImmediatePropagation();
    const text = K.textOf(cell);
    if (e.shiftKey) {
      K.emit("run-next", cell, text);
      const next = K.next(cell, 1);
      if (next) K.commandMode(next);
      else K.pendingFocus = "new";
      const box = boxOf(next);
      if (box) box.scrollIntoView({ block: "nearest" });
    } else if (e.altKey) {
      K.emit("run-insert", cell, text);
      K.pendingFocus = "new";
    } else {
      K.emit("run", cell, text);
    }
    return true;
  };

  K.saveKey = function (e, cell) {
    if (!((e.ctrlKey || e.metaKey) && (e.key === "s" || e.key === "S"))) return false;
    e.preventDefault();
    e.stopImmediatePropagation();
    K.emit("save", cell, cell ? K.textOf(cell) : undefined);
    return true;
  };

  K.hook = function (frame) {
    let win;
    try {
      win = frame.contentWindow;
      if (!win || win.__neuralisHooked) return;
    } catch (e) {
      return;
    }
    win.__neuralisHooked = true;
    win.addEventListener(
      "keydown",
      function (e) {
        const cell = cellOf(frame);
        if (!cell) return;
        if (K.runKey(e, cell) || K.saveKey(e, cell)) return;
        if (e.key === "Escape" && !e.ctrlKey && !e.altKey && !e.metaKey) {
          const popup = win.document.querySelector(".ace_autocomplete, .ace_search");
          if (popup && popup.offsetParent !== null) return; // Esc closes ace's own popup first
          e.preventDefault();
          K.commandMode(cell);
        }
      },
      true,
    );
    win.addEventListener("focus", function () {
      const cell = cellOf(frame);
      document.body.dataset.neuralisMode = "edit";
      if (cell) K.select(cell);
    });
    const cell = cellOf(frame);
    if (cell && K.pendingFocus === cell) {
      const tryFocus = function (n) {
        if (K.editMode(cell)) K.pendingFocus = null;
        else if (n > 0) setTimeout(() => tryFocus(n - 1), 50);
      };
      tryFocus(40);
    }
  };

  K.scan = function () {
    document.querySelectorAll(EDITOR).forEach(K.hook);
  };

  K.help = function () {
    const dlg = document.getElementById("neuralis-keys-help");
    if (!dlg) return;
    if (dlg.open) dlg.close();
    else dlg.showModal();
  };

  document.addEventListener(
    "keydown",
    function (e) {
      const el = document.activeElement;
      const cell = K.selected && boxOf(K.selected) ? K.selected : boxes().map(cellOf)[0];
      if (K.saveKey(e, null)) return;
      const dlg = document.getElementById("neuralis-keys-help");
      if (dlg && dlg.open) return; // the dialog closes on Esc by itself
      if (el && el.closest && el.closest('input, textarea, select, [contenteditable="true"]')) {
        return; // the page's own widgets keep their keys
      }
      if (el && el.tagName === "IFRAME") return; // an output frame, or an editor loading
      if (!cell) return;
      if (K.runKey(e, cell)) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const onButton = el && el.closest && el.closest("button, a, [role='button']");
      const key = e.key;
      let handled = true;
      if (key === "Enter") {
        if (onButton) return; // a focused button keeps Enter
        if (!K.editMode(cell)) {
          K.pendingFocus = cell;
          K.emit("edit", cell);
        }
      } else if (key === "Escape") {
        K.commandMode(cell);
      } else if (key === "ArrowUp" || key === "k" || key === "K") {
        const to = K.next(cell, -1);
        if (to) {
          K.commandMode(to);
          K.emit("select", to);
        }
      } else if (key === "ArrowDown" || key === "j" || key === "J") {
        const to = K.next(cell, 1);
        if (to) {
          K.commandMode(to);
          K.emit("select", to);
        }
      } else if (key === "a" || key === "A") {
        K.emit("above", cell);
      } else if (key === "b" || key === "B") {
        K.emit("below", cell);
      } else if (key === "m" || key === "M") {
        K.emit("markdown", cell);
      } else if (key === "y" || key === "Y") {
        K.emit("code", cell);
      } else if (key === "z" || key === "Z") {
        K.emit("undo", cell);
      } else if (key === "d" || key === "D") {
        K.twice("d", "delete", cell);
      } else if (key === "i" || key === "I") {
        K.twice("i", "interrupt", cell);
      } else if (key === "0") {
        K.twice("0", "restart", cell);
      } else if (key === "h" || key === "H") {
        K.help();
      } else {
        handled = false;
      }
      if (handled) {
        e.preventDefault();
        e.stopPropagation();
      }
    },
    true,
  );

  // A click in a cell (not in its editor: that is the frame's focus) selects it.
  document.addEventListener(
    "mousedown",
    function (e) {
      const cell = cellOf(e.target);
      if (!cell) return;
      if (e.target.tagName !== "IFRAME") document.body.dataset.neuralisMode = "command";
      K.select(cell);
    },
    true,
  );

  // A double click on a Markdown cell's text edits it, as in JupyterLab.
  document.addEventListener("dblclick", function (e) {
    const cell = cellOf(e.target);
    const box = boxOf(cell);
    if (!cell || !box || !box.querySelector(`.st-key-mdhead-${CSS.escape(cell)}`)) return;
    if (e.target.closest && e.target.closest("button")) return;
    K.pendingFocus = cell;
    K.emit("edit", cell);
  });

  // Continuous scrolling (neuralis/ui/window.py): near an end of the drawn window, press
  // that end's button; once the window has slid, put the cell that was in view back where
  // it was on the screen, so reading goes on without a jump.
  K.lastY = 0;
  K.down = true;
  K.sliding = null;
  K.scroller = function () {
    return document.querySelector('[data-testid="stMain"]') || document.scrollingElement;
  };
  K.anchor = function () {
    const box = boxes().find((b) => b.getBoundingClientRect().bottom > 0);
    return box ? { cell: cellOf(box), top: box.getBoundingClientRect().top } : null;
  };
  K.edge = function () {
    if (K.sliding) return;
    const key = K.down ? "window-later" : "window-earlier";
    const button = document.querySelector(`.st-key-${key} button`);
    if (!button) return;
    const r = button.getBoundingClientRect();
    const near = K.down ? r.top < window.innerHeight + 100 : r.bottom > -100;
    if (!near) return;
    const first = boxes().map(cellOf)[0];
    K.sliding = { anchor: K.anchor(), first: first, since: Date.now() };
    button.click();
  };
  K.settle = function () {
    const s = K.sliding;
    if (!s) return;
    const first = boxes().map(cellOf)[0];
    if (first === s.first && Date.now() - s.since < 8000) return; // not slid yet
    K.sliding = null;
    const box = s.anchor && boxOf(s.anchor.cell);
    if (box) K.scroller().scrollTop += box.getBoundingClientRect().top - s.anchor.top;
    K.lastY = K.scroller().scrollTop; // this scroll is no reader's: it slides nothing
  };
  document.addEventListener(
    "scroll",
    function () {
      const y = K.scroller().scrollTop;
      if (y === K.lastY) return;
      K.down = y > K.lastY;
      K.lastY = y;
      K.edge();
    },
    true,
  );
  setInterval(K.settle, 100);

  // A heading picked in the contents: scroll its cell to the top once it is drawn.
  K.reveal = function (cell, tries) {
    const box = boxOf(cell);
    if (box) {
      box.scrollIntoView({ block: "start" });
      K.lastY = K.scroller().scrollTop;
    } else if (tries > 0) {
      setTimeout(() => K.reveal(cell, tries - 1), 100);
    }
  };

  new MutationObserver(K.scan).observe(document.body, { childList: true, subtree: true });
  setInterval(K.scan, 250); // an editor frame that loaded a new document needs hooking again
  K.scan();
  return K;
}

export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  const K = window.__neuralisKeys || (window.__neuralisKeys = install());
  K.send = setTriggerValue;
  const d = data || {};
  const seen = JSON.stringify([d.selected, d.focus, d.seq]);
  if (seen !== K.seenData) {
    K.seenData = seen;
    // The page moves the selection itself as keys are pressed (Shift+Enter moves on at once);
    // a selection drawn before Python did all those keys is older than the page's own.
    if (d.selected && K.caughtUp(d.done)) K.select(d.selected);
    if (d.reveal) K.reveal(d.reveal, 50);
    if (d.focus) {
      K.pendingFocus = d.focus;
      const frame = boxOf(d.focus) && boxOf(d.focus).querySelector(EDITOR);
      if (frame && frame.contentWindow && frame.contentWindow.__neuralisHooked) {
        setTimeout(() => {
          if (K.editMode(d.focus)) K.pendingFocus = null;
        }, 0);
      }
    } else if (K.pendingFocus === "new") {
      K.pendingFocus = null;
    }
  }
  const button = parentElement.querySelector("button.neuralis-keys-button");
  if (button && !button.__hooked) {
    button.__hooked = true;
    button.addEventListener("click", K.help);
  }
  const close = parentElement.querySelector("button.neuralis-keys-close");
  if (close && !close.__hooked) {
    close.__hooked = true;
    close.addEventListener("click", K.help);
  }
  K.scan();
  return () => {
    if (K.send === setTriggerValue) K.send = null;
  };
}
