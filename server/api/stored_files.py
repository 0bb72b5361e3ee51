"""The stored file behind a File element or a thumbnail: served, replaced and released safely.

The File value or thumbnail path is a client's *reference* (``aas.files``): a file is served
only when the reference is a supplementary name (never the server's own files), and deleted
only when the server assigned its name to an upload and nothing else references it, so a
client who writes another object's path into its own File cannot reach that object's file.
"""

from __future__ import annotations

from basyx.aas import model

from twinbridge.aas import files, paths
from twinbridge.aas.errors import NotFound
from twinbridge.aas.twin import Twin


def load(twin: Twin, name: str, what: str) -> tuple[str, bytes]:
    """(content type, bytes) of the file ``name`` references, or ``NotFound``."""
    stored = twin.load_file(name) if files.is_supplementary(name) else None
    if stored is None:
        raise NotFound(f"{what} points to {name!r}, which is not stored on this server")
    return stored


def referenced_elsewhere(twin: Twin, name: str, owner: object) -> bool:
    """Whether a File other than ``owner`` (in any submodel) or another shell's thumbnail names ``name``."""
    for submodel in twin.submodels.values():
        stack: list[model.SubmodelElement] = list(submodel.submodel_element)
        while stack:
            element = stack.pop()
            if isinstance(element, model.File) and element is not owner and element.value == name:
                return True
            stack.extend(paths.children(element))
    for shell in twin.shells.values():
        thumbnail = shell.asset_information.default_thumbnail
        if shell is not owner and thumbnail is not None and thumbnail.path == name:
            return True
    return False


def release(twin: Twin, name: str | None, owner: object) -> None:
    """Delete the file ``owner`` no longer references, if the server assigned it and no one else uses it."""
    if name and files.is_assigned(name) and _exists(twin, name) and not referenced_elsewhere(twin, name, owner):
        twin.delete_file(name)


def store(twin: Twin, folder: str, file_name: str, content_type: str, upload: files.Spool) -> tuple[str, bool]:
    """Save an upload under its assigned name, copied by the store from its spooled file; (name,
    whether it was new, so a failed edit can undo it)."""
    name = files.assigned_name(folder, upload.digest, file_name)
    existed = _exists(twin, name)
    if not existed:
        twin.save_file(name, content_type, upload.content())
    return name, not existed


def _exists(twin: Twin, name: str) -> bool:
    """Without loading the content (an attachment can be hundreds of MiB)."""
    return name in twin.store.file_names(name)


def media_type(content_type: str | None, fallback: str = "application/octet-stream") -> str:
    """``content_type`` if it can be an HTTP header value, else ``fallback`` (an element stored
    before the door checked media types must not make its download drop the connection)."""
    if content_type and all(" " <= character <= "~" for character in content_type):
        return content_type
    return fallback
