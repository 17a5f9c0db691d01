"""Errors of the model runtime; each is one line a person can act on."""

from __future__ import annotations

from app.core.errors import DraftIncompatibleError, SpeculaError
from app.library.resolve import UnknownModelError as UnknownModelError  # raised by the resolver


class SelfDraftError(DraftIncompatibleError):
    """A model was asked to draft for itself (main and draft would share one cache)."""


class ModelBusyError(SpeculaError):
    """Too many requests are already waiting for this model."""


class ClientGoneError(SpeculaError):
    """The caller went away (or cancelled) while waiting for a model."""


class RuntimeClosedError(SpeculaError):
    """The runtime is shutting down and takes no more leases."""
