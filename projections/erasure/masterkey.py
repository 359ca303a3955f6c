"""Master keys: what wraps the per-subject data keys of an erasable store.

A provider is any object with `name` (a line for `stats` and errors: never
the key itself), `wrap(key) -> bytes` and `unwrap(blob) -> bytes` (raising
`MasterKeyError` when the blob was not wrapped by it). A KMS plugs in there:
wrap and unwrap are its encrypt and decrypt calls. Three come with it:

- `KeyFile(path)`: 32 random bytes in a file (base64, one line), created
  with the store, mode 0600. The default is the database path + ".key"
  (a SQLite file; a PostgreSQL log has no file beside it: `EnvKey` or
  `master_key=` there). A
  new store never adopts a key file that is already there (someone else may
  have planted it, and could read everything sealed under it).
- `EnvKey(var)`: the same base64 text in an environment variable
  (default `SESSIONLOG_MASTER_KEY`), never written anywhere.
- `StaticKey(secret)`: 32 bytes the caller holds (tests, secret managers).

Each of them wraps with AES-256-GCM and a fresh random 96-bit nonce per data
key (nonce + ciphertext + tag are stored): a master key wraps one data key
per subject, far below the 2**32 random nonces one AES-GCM key may take.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any, Protocol

from eventlog.backends.factory import is_url

from ..errors import MasterKeyError

#: The environment variable `EnvKey` reads by default, and that the default
#: provider prefers to the key file when it is set.
ENV_VAR = "SESSIONLOG_MASTER_KEY"
_WRAP_AAD = b"sessionlog data key v1"


def aesgcm(secret: bytes) -> Any:
    """An AES-GCM cipher, or one line saying which extra to install."""
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise ImportError("erasable stores need the cryptography package: "
                          "pip install 'sessionlog[erasable]'") from None
    return AESGCM(secret)


class MasterKeyProvider(Protocol):
    """What an erasable store asks for its data keys."""

    name: str

    def wrap(self, key: bytes) -> bytes: ...

    def unwrap(self, blob: bytes) -> bytes: ...


class _Secret:
    """Wrapping with a 32-byte secret read by `_load`."""

    name = "master key"

    def __init__(self) -> None:
        self._cipher: Any = None

    def _load(self) -> bytes:
        raise NotImplementedError

    def create(self) -> None:
        """Make the secret if it does not exist (first use of a new file)."""

    def _aes(self) -> Any:
        if self._cipher is None:
            self._cipher = aesgcm(self._load())
        return self._cipher

    def wrap(self, key: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aes().encrypt(nonce, key, _WRAP_AAD)

    def unwrap(self, blob: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag
        try:
            return bytes(self._aes().decrypt(blob[:12], blob[12:], _WRAP_AAD))
        except (InvalidTag, ValueError):
            raise MasterKeyError(f"wrong master key: {self.name} does not open this file's "
                                 "keys; nothing was read or written") from None


def _decode(text: str, where: str) -> bytes:
    try:
        secret = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        secret = b""
    if len(secret) != 32:
        raise MasterKeyError(f"{where} does not hold a master key (base64 of 32 bytes); "
                             "nothing was read or written")
    return secret


class KeyFile(_Secret):
    """A master key in a file (base64 of 32 random bytes), created on first
    use with mode 0600."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.name = f"key file {self.path}"

    def create(self) -> None:
        secret = base64.b64encode(os.urandom(32)) + b"\n"
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            # Made by someone else (the store that makes it holds the write
            # lock): a planted key would let its maker read everything.
            raise MasterKeyError(
                f"{self.path} already exists, but the store it would key is new: a new "
                "erasable store never adopts a key file it did not make (move that file "
                "away if it is yours, or pass the key as $SESSIONLOG_MASTER_KEY); nothing "
                "was written") from None
        try:
            os.write(fd, secret)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _load(self) -> bytes:
        try:
            with open(self.path, encoding="ascii") as f:
                text = f.read()
        except FileNotFoundError:
            raise MasterKeyError(
                f"missing master key: {self.path} not found (nor {ENV_VAR} set); the file's "
                "content cannot be read without it; nothing was read or written") from None
        except (OSError, UnicodeDecodeError) as e:
            raise MasterKeyError(f"cannot read the master key {self.path}: {e}") from None
        return _decode(text, self.path)


class EnvKey(_Secret):
    """A master key in an environment variable (base64 of 32 bytes)."""

    def __init__(self, var: str = ENV_VAR) -> None:
        super().__init__()
        self.var = var
        self.name = f"environment variable {var}"

    def _load(self) -> bytes:
        text = os.environ.get(self.var)
        if not text:
            raise MasterKeyError(f"missing master key: {self.var} is not set; nothing was "
                                 "read or written")
        return _decode(text, self.var)


class StaticKey(_Secret):
    """A master key the caller holds (32 bytes)."""

    def __init__(self, secret: bytes, name: str = "the caller's master key") -> None:
        super().__init__()
        if not isinstance(secret, bytes) or len(secret) != 32:
            raise ValueError("a master key is 32 bytes")
        self._secret, self.name = secret, name

    def _load(self) -> bytes:
        return self._secret


def new_secret() -> str:
    """A new master key as the base64 text `KeyFile` and `EnvKey` read."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


def default_provider(path: str) -> MasterKeyProvider:
    """`EnvKey()` when SESSIONLOG_MASTER_KEY is set, else the key file beside
    the database (`<path>.key`); in memory, a key that lives as long as the
    process.

    Raises:
        MasterKeyError: `path` is a PostgreSQL URL and the variable is not
            set (there is no file beside a database server to keep a key in).
    """
    if os.environ.get(ENV_VAR):
        return EnvKey()
    if is_url(path):
        raise MasterKeyError(
            f"missing master key: an erasable PostgreSQL log takes its master key from "
            f"${ENV_VAR} (base64 of 32 bytes; `python -c \"from projections.erasure.masterkey "
            "import new_secret; print(new_secret())\"` makes one) or, in Python, "
            "master_key=; nothing was read or written")
    if path == ":memory:" or path.startswith("file::memory:"):
        return StaticKey(os.urandom(32), "a key held in memory")
    return KeyFile(path + ".key")
