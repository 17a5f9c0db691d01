"""Who owns loaded models: load, share, lease a main + draft pair for a reply, evict.

The chat, the local server, the CLI and the draft advisor all go through one
`ModelRuntime(library, defaults, index)`:

    with runtime.lease(main_key, draft_spec, gone=client_gone, cancel=stop) as lease:
        for item in lease.generate(request):
            ...

- `lease(main, draft)` resolves both through the library, checks the pair against the cached
  compatibility index (a model never drafts for itself), waits fairly per model (one running,
  MAX_WAITING waiting, then ModelBusyError; a waiter whose client is gone leaves the line),
  loads on demand (the draft with at least the main's context) and holds both models for the
  whole reply. `Lease.main`, `Lease.draft` (a DraftSource built once for the lease),
  `Lease.generate(request, cancel=..., prediction=...)`.
- `load(key, settings, progress=, pin=)` loads for the app; `evict(key, cancel=, wait=)` and
  `close()` wait for (or cancel) the leases: nothing is closed under a running decode.
- `loaded()` says what is loaded, leased, pinned and when it was last used; `evict_idle(s)`
  frees what nobody has used for a while (never a leased or pinned model).
- Draft specs (none, prompt lookup, a model) are read in one place: app/runtime/drafts.py.

Qt-free, below chat/server/ui and above the engines.
"""

from app.runtime.drafts import DraftPlan, resolve_draft_spec
from app.runtime.errors import (
    ClientGoneError,
    ModelBusyError,
    RuntimeClosedError,
    SelfDraftError,
    UnknownModelError,
)
from app.runtime.lease import Lease, LoadProgress
from app.runtime.model_ref import LoadedInfo, LoadSettings, ModelRef
from app.runtime.runtime import ModelRuntime
from app.runtime.slots import MAX_WAITING

__all__ = [
    "MAX_WAITING",
    "ClientGoneError",
    "DraftPlan",
    "Lease",
    "LoadProgress",
    "LoadSettings",
    "LoadedInfo",
    "ModelBusyError",
    "ModelRef",
    "ModelRuntime",
    "RuntimeClosedError",
    "SelfDraftError",
    "UnknownModelError",
    "resolve_draft_spec",
]
