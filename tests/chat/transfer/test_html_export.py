"""The HTML export: one self-contained page in the app's colours, accepted draft tokens green,
code highlighted, the stats line, nothing a message says run as HTML; opened in headless
Chromium, the green is on the screen in the light and the dark theme."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from app.chat.store import ChatStore, StoredMessage
from app.chat.transfer.exporting import export, render
from app.chat.transfer.html_export import PALETTES
from app.chat.transfer.store_io import read_conversation
from app.ui.theme.colours import DARK, LIGHT
from tests.chat.transfer.conversations import rich_conversation
from tests.png_pixels import count_colour

CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
)


@pytest.fixture
def store(tmp_path):
    s = ChatStore(tmp_path / "c.sqlite3")
    yield s
    s.close()


def test_the_page_uses_the_app_themes_colours():
    for name, theme in (("light", LIGHT), ("dark", DARK)):
        assert PALETTES[name] == {k: theme.values()[k] for k in PALETTES[name]}


def test_drafted_text_is_green_code_is_highlighted_and_the_stats_line_is_there(store):
    cid = rich_conversation(store)
    page = render([read_conversation(store, cid)], "html")
    assert '<span class="d" title="accepted draft token, round 1"> of France</span>' in page
    code = page[page.index("<pre>") : page.index("</pre>")]
    drafted = '<span class="d" title="accepted draft token, round 4">'
    assert code.startswith(f'<pre><code>{drafted}<span class="s-builtin">print</span>')
    assert '<span class="s-string">&quot;Paris&quot;</span>' in code
    assert "<strong>Berlin</strong>" in page
    assert "Accepted 6/9 draft tokens (67%)" in page
    assert "version 2 of 2" in page
    assert "@media (prefers-color-scheme: dark)" in page
    assert not re.search(r"""(src|href)=["'](?!https?:|mailto:)""", page)  # nothing beside it


def test_what_a_message_says_is_never_run_as_html(store):
    cid = store.create_conversation("<img src=x onerror=alert(1)>")
    store.add_message(cid, StoredMessage("user", "<script>alert('you')</script>"))
    store.add_message(
        cid, StoredMessage("assistant", "[click](javascript:alert(1)) and <b>bold</b>", [[10, "draft"]])
    )
    page = render([read_conversation(store, cid)], "html")
    assert "<script>" not in page
    assert "<img" not in page
    assert (
        "javascript:" not in page.split("<body>")[1].replace("(javascript:alert(1))", "")
        or "href" not in page
    )
    assert 'href="javascript' not in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt install chromium)")
@pytest.mark.parametrize(
    ("scheme", "flags"),
    [("light", []), ("dark", ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"])],
)
def test_headless_chromium_shows_the_draft_green(store, tmp_path, scheme, flags):
    cid = rich_conversation(store)
    page = tmp_path / "chat.html"
    export(store, [cid], "html", page)
    shot = tmp_path / f"{scheme}.png"
    assert CHROMIUM is not None
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=900,900",
            *flags,
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shot.exists(), proc.stderr[-2000:]
    palette = PALETTES[scheme]
    assert count_colour(shot, palette["draft_bg"]) > 1000  # the tint behind accepted draft tokens
    assert count_colour(shot, palette["window"]) > 100_000  # and the page in that theme around it
    other = PALETTES["dark" if scheme == "light" else "light"]
    assert count_colour(shot, other["draft_bg"]) == 0
