"""The desktop app (PySide6): the only room that imports Qt."""
