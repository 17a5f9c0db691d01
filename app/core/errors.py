"""Errors a person can act on. Every message is one line that names the thing at fault."""

from __future__ import annotations


class SpeculaError(Exception):
    """Base of every error we raise on purpose; its text is shown to the user as is."""


class InvalidRequestError(SpeculaError):
    """A request or setting is out of range or malformed."""


class ModelFileError(SpeculaError):
    """A model file is missing, unreadable, truncated or not a model."""


class ModelLoadError(SpeculaError):
    """The engine refused a model file that looked fine on disk."""


class DraftIncompatibleError(SpeculaError):
    """The chosen draft model cannot draft for the main model."""


class ContextOverflowError(SpeculaError):
    """The prompt does not fit in the loaded context."""


class EngineUnavailableError(SpeculaError):
    """The engine a model needs is not installed here."""
