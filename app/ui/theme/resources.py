"""Where the icon and stylesheet are: the checkout's resources/, or PyInstaller's unpack folder."""

from __future__ import annotations

import sys
from pathlib import Path

RESOURCES = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[3])) / "resources"
