"""Which stored files the model may name, and the names the server gives uploaded files.

The store keeps two kinds of files side by side: *supplementary files* that File elements and
thumbnails name (package part names such as ``/aasx/files/manual.pdf``, or URIs), and the
server's own files (``plant/description.sha256``, ``packages/…``), whose names never start with
``/`` and have no URI scheme. A File value or thumbnail path is written by clients, so it is
only ever a *reference*: the API serves or exports a stored file only when the reference is a
supplementary name, and deletes one only when the server assigned it.

Uploaded content is stored under a name the server assigns from the content itself,
``/aasx/files/<sha256 prefix>/<file name>``: two elements never share a name for different
content, a replacement gets a new name, and an import may not put other bytes under such a name
(``check_import``), so a client-chosen path can never reach another element's file.

An upload is streamed into a ``Spool``, a private file under the data directory's ``uploads/``,
hashing as it goes, and refused the moment it passes its limit; the store copies it from there
in chunks (``store.FileContent``), so its content is never held in memory whole.
"""

from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import re
import tempfile
from pathlib import Path

from basyx.aas import model
from basyx.aas.util import traversal

from twinbridge.aas import limits
from twinbridge.aas.errors import InvalidInput, StorageError, StorageFull
from twinbridge.aas.limits import check_text
from twinbridge.aas.store import FileContent, private_directory

ATTACHMENTS = "/aasx/files"
THUMBNAILS = "/aasx/thumbnails"
_DIGEST_LENGTH = 32
_ASSIGNED = re.compile(rf"^({re.escape(ATTACHMENTS)}|{re.escape(THUMBNAILS)})/([0-9a-f]{{{_DIGEST_LENGTH}}})/[^/]+$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def is_supplementary(name: str) -> bool:
    """A name a File element or thumbnail may reach: an absolute part name or a URI, never one
    of the server's own files."""
    return name.startswith("/") or _SCHEME.match(name) is not None


def check_reference(value: str, where: str) -> None:
    """A File value or thumbnail path the exports can write: no ``..`` or ``.`` segments, no
    backslashes, only xs:string characters. Relative names and URIs stay allowed (Part 1)."""
    check_text(value, where)
    if _SCHEME.match(value) is not None and not value.lower().startswith("file:"):
        return
    path = value.split(":", 1)[1] if _SCHEME.match(value) else value
    if "\\" in path or any(segment in (".", "..") for segment in path.split("/")):
        raise InvalidInput(f"{where}: the path {value!r} has '.', '..' or '\\' segments; "
                           "a supplementary file is named by a plain path such as /aasx/files/manual.pdf")


def plain_file_name(file_name: str, what: str) -> str:
    """The last segment of a client's file name, checked (used as the end of an assigned name)."""
    base = posixpath.basename(file_name.replace("\\", "/")).strip()
    if base in ("", ".", "..") or len(base) > 255:
        raise InvalidInput(f"{what} {file_name!r} does not name a file")
    check_text(base, what)
    if any(ord(character) < 0x20 for character in base):
        raise InvalidInput(f"{what} {file_name!r} holds control characters")
    return base


def assigned_name(folder: str, digest: str, file_name: str) -> str:
    """``<folder>/<sha256 of the content>/<file name>``: the name the server stores an upload under
    (``digest``: the content's sha256 in hex, as ``Spool.digest`` gives it)."""
    return f"{folder}/{digest[:_DIGEST_LENGTH]}/{file_name}"


UPLOADS = "uploads"
"""The data directory's folder of uploads being received (private; emptied at start-up)."""
_SPOOL_PREFIX = "upload-"


def clear_spools(directory: Path) -> None:
    """Delete what an earlier run left in ``directory`` (uploads cut off by a crash), and make it private."""
    private_directory(directory)
    for leftover in directory.glob(f"{_SPOOL_PREFIX}*"):
        leftover.unlink(missing_ok=True)


class Spool:
    """An upload written chunk by chunk into a private file of ``directory``, within ``limit``.

    ``write`` raises ``LimitExceeded`` (413) as soon as the content passes ``limit``, so the rest
    is never read; ``content()`` hands the file over to the store (whose writer deletes it once
    written); ``discard()`` deletes it unless it was handed over. The sha256 the assigned name
    needs is computed on the way (about 0.15 ms per 64 KiB chunk, on the event loop).
    """

    def __init__(self, directory: Path, limit: int, what: str, key: str, bounds: limits.Limits) -> None:
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=_SPOOL_PREFIX, dir=directory)  # 0600
        except OSError as error:
            raise _spool_error(error, what, directory) from None
        self.path = Path(name)
        self._stream = os.fdopen(handle, "wb")
        self._hash = hashlib.sha256()
        self._limit, self._what, self._key, self._bounds = limit, what, key, bounds
        self.size = 0
        self._handed_over = False

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        limits.check_size(self.size, self._limit, self._what, self._key, self._bounds)
        self._hash.update(chunk)
        try:
            self._stream.write(chunk)
        except OSError as error:
            raise _spool_error(error, self._what, self.path.parent) from None

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        self._stream.close()

    def read(self) -> bytes:
        """The whole content (a Blob's value, a package to parse: things held in memory anyway)."""
        self.close()
        return self.path.read_bytes()

    def content(self) -> FileContent:
        """The file for ``Twin.save_file``; from here on the store's writer deletes it."""
        self.close()
        self._handed_over = True
        return FileContent(self.path, self.size)

    def discard(self) -> None:
        self.close()
        if not self._handed_over:
            self.path.unlink(missing_ok=True)


def is_assigned(name: str) -> bool:
    """Whether the server gave this name to an upload (only such files are deleted with their element)."""
    return _ASSIGNED.match(name) is not None


def _spool_error(error: OSError, what: str, directory: Path) -> StorageError:
    """A full disk is 507 like a store refusing a write; any other failure 503."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull(f"no room left in {directory} to receive {what}")
    return StorageError(f"cannot receive {what} in {directory}: {error.strerror or error}")


def check_import(name: str, content: bytes) -> None:
    """A file arriving in a package: a supplementary part name, and content matching an assigned name."""
    if not name.startswith("/"):
        raise InvalidInput(f"the package file {name!r} is not a part name (it must start with '/')")
    check_reference(name, f"the package file {name!r}")
    matched = _ASSIGNED.match(name)
    if matched is not None and hashlib.sha256(content).hexdigest()[:_DIGEST_LENGTH] != matched.group(2):
        raise InvalidInput(f"the package file {name!r} does not hold the content its name was assigned for")


def check_references(obj: object) -> None:
    """Every File value and thumbnail path in ``obj`` (a shell, submodel, element or asset
    information) passes ``check_reference``."""
    if isinstance(obj, model.AssetAdministrationShell):
        obj = obj.asset_information
    if isinstance(obj, model.AssetInformation):
        thumbnail = obj.default_thumbnail
        if thumbnail is not None:
            check_reference(thumbnail.path, "the thumbnail path")
        return
    elements: list[object] = []
    if isinstance(obj, model.Submodel):
        elements = list(traversal.walk_submodel(obj))
    elif isinstance(obj, model.SubmodelElement):
        elements = [obj, *traversal.walk_submodel_element(obj)]
    for element in elements:
        if isinstance(element, model.File) and element.value:
            check_reference(element.value, f"the File {element.id_short or 'element'}")
