"""API keys of the servers added as model sources, kept in the system keyring (the `keyring`
package: macOS Keychain, Windows Credential Locker, the Secret Service on Linux), never in
our JSON files. Where no keyring is available, storing a key is refused with a message that
says what to install; nothing falls back to a file.
"""

from __future__ import annotations

import logging

from app.core.errors import SpeculaError

log = logging.getLogger(__name__)

SERVICE = "Specula model servers"  # the keyring's service name; the user name is the server's


class KeyringUnavailableError(SpeculaError):
    """There is no system keyring to keep (or read) a server's API key."""


NO_KEYRING = (
    "no system keyring is available to keep the API key ({why}); Specula never writes keys to "
    "its own files: install and unlock one (GNOME Keyring or KWallet on Linux; macOS and Windows "
    "have one), or add the server without a key"
)


def _unavailable(exc: Exception) -> KeyringUnavailableError:
    why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return KeyringUnavailableError(NO_KEYRING.format(why=why))


def keyring_problem() -> str | None:
    """Why keys cannot be kept here, or None when a keyring backend is there (doctor)."""
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
    except Exception as exc:  # a broken keyring install must not stop the app
        return NO_KEYRING.format(why=f"keyring failed: {exc}")
    if isinstance(backend, fail.Keyring):
        return NO_KEYRING.format(why="no keyring backend found")
    return None


def store_key(server: str, key: str) -> None:
    """Keep `key` for `server` (KeyringUnavailableError when it cannot be kept)."""
    import keyring

    try:
        keyring.set_password(SERVICE, server, key)
    except Exception as exc:  # NoKeyringError, or a backend failing its own way (locked, D-Bus)
        raise _unavailable(exc) from None


def read_key(server: str) -> str | None:
    """The key kept for `server`, None when there is none (KeyringUnavailableError when the
    keyring cannot be read)."""
    import keyring

    try:
        return keyring.get_password(SERVICE, server)
    except Exception as exc:
        raise _unavailable(exc) from None


def forget_key(server: str) -> None:
    """Remove the key kept for `server`, if any (a keyring that cannot be reached is logged:
    removing a server must not fail over its key)."""
    import keyring
    from keyring.errors import PasswordDeleteError

    try:
        keyring.delete_password(SERVICE, server)
    except PasswordDeleteError:
        pass
    except Exception as exc:
        log.warning("could not remove the API key of %s from the keyring: %s", server, exc)
