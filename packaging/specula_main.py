"""Entry point of the packaged app (PyInstaller)."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
