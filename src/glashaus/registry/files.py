"""Model version folders in the lakehouse's managed storage.

A version's files live at ``<root>/models/<catalog>/<schema>/<model>-<id8>/versions/<n>/``
(``Layout.model_version_location``) and never change once written. They are first
written to a staging folder, then moved into place in one step, so a failed
registration leaves no half-written version behind. On an object store the folder is
uploaded with ``pyarrow.fs`` and downloaded to a local cache to load.

>>> import os, tempfile
>>> files = registry.files
>>> staged = files.staging()
>>> with open(os.path.join(staged, "MLmodel"), "w") as f: _ = f.write("flavors: {}")
>>> target = tempfile.mkdtemp() + "/versions/3"
>>> files.publish(staged, target)
>>> os.listdir(target), os.path.exists(staged)
(['MLmodel'], False)
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import tempfile
import uuid
from typing import Any

import pyarrow.fs as pafs

from glashaus.errors import InvalidArgumentError, NotFoundError
from glashaus.tables import FileInfo
from glashaus.tables.volumes import check_path


class ModelFiles:
    """Write, fetch, list and read version folders under one lakehouse root."""

    def __init__(self, layout: Any) -> None:
        # ``layout`` is the lakehouse's storage Layout (the registry never imports storage).
        self.layout = layout

    def _shown(self, location: str) -> str:
        """A location as messages show it: below ``<lakehouse>``, never the root's own path (which
        only admins and owners may see, ``docs/access.md``)."""
        root = self.layout.root
        for prefix in (f"file://{root}", root):
            if location == prefix or location.startswith(prefix + "/"):
                return "<lakehouse>" + location[len(prefix) :]
        return location

    # -- writing --------------------------------------------------------------------

    def staging(self) -> str:
        """A new local folder to build a version in (on the same disk as the models, when local)."""
        if self.layout.is_local:
            base = os.path.join(self.layout.root, "models", ".staging")
            os.makedirs(base, exist_ok=True)
            return tempfile.mkdtemp(prefix="version-", dir=base)
        return tempfile.mkdtemp(prefix="glashaus-version-")

    def publish(self, staged: str, location: str) -> None:
        """Move a staged folder to ``location`` (a rename when local, an upload otherwise)."""
        if self.layout.is_local:
            os.makedirs(os.path.dirname(location), exist_ok=True)
            if os.path.exists(location):
                raise InvalidArgumentError(
                    f"{self._shown(location)} exists already; the version folder would be overwritten."
                )
            os.rename(staged, location)
            return
        fs, path = _filesystem(location)
        pafs.copy_files(staged, path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)
        shutil.rmtree(staged, ignore_errors=True)

    @staticmethod
    def discard(staged: str | None) -> None:
        if staged:
            shutil.rmtree(staged, ignore_errors=True)

    def copy_in(self, source: str, staged: str) -> None:
        """Copy a folder (a resolved source location) into the staging folder, links as links."""
        target = os.path.join(staged, "model")
        if "://" not in source or source.startswith("file://"):
            local = source.removeprefix("file://")
            if not os.path.isdir(local):
                raise NotFoundError(
                    f"{self._shown(source)} is not a folder; give the folder that holds the MLmodel file."
                )
            shutil.copytree(local, target, symlinks=True)
        else:
            fs, path = _filesystem(source)
            if fs.get_file_info(path).type != pafs.FileType.Directory:
                raise NotFoundError(
                    f"{self._shown(source)} is not a folder; give the folder that holds the MLmodel file."
                )
            os.makedirs(target)
            pafs.copy_files(path, target, source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
        # The staging folder itself becomes the version folder.
        for entry in os.listdir(target):
            os.rename(os.path.join(target, entry), os.path.join(staged, entry))
        os.rmdir(target)

    # -- reading ----------------------------------------------------------------------

    def local(self, location: str) -> str:
        """A local folder holding the version's files (downloaded once, when on an object store)."""
        if self.layout.is_local:
            if not os.path.isdir(location):
                raise NotFoundError(f"the model files at {self._shown(location)} are missing.")
            return location
        cache = os.path.join(_private_cache(), hashlib.sha256(location.encode()).hexdigest())
        if not os.path.isdir(cache):
            fs, path = _filesystem(location)
            partial = f"{cache}.{uuid.uuid4().hex}.partial"
            os.makedirs(partial)
            pafs.copy_files(path, partial, source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
            try:
                os.rename(partial, cache)
            except OSError:  # another process finished first: its copy is the same files
                shutil.rmtree(partial, ignore_errors=True)
        return cache

    def list(self, location: str, prefix: str = "") -> list[FileInfo]:
        fs, base = _filesystem(location)
        root = f"{base}/{check_path(prefix)}" if prefix else base
        selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
        return sorted(
            (
                FileInfo(info.path[len(base) + 1 :], info.size or 0, str(info.mtime) if info.mtime else None)
                for info in fs.get_file_info(selector)
                if info.type == pafs.FileType.File
            ),
            key=lambda f: f.path,
        )

    def read(self, location: str, path: str) -> bytes:
        rel = check_path(path)
        fs, base = _filesystem(location)
        try:
            with fs.open_input_stream(posixpath.join(base, rel)) as src:
                return src.read()
        except OSError:  # missing, or a folder
            raise NotFoundError(f"the model version has no file {rel!r}.") from None


def _filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    return pafs.FileSystem.from_uri(location if "://" in location else "file://" + location)


def _private_cache() -> str:
    """This OS user's download cache (mode 0700): nobody else can plant model files in it."""
    base = os.path.join(tempfile.gettempdir(), f"glashaus-models-{os.getuid()}")
    os.makedirs(base, mode=0o700, exist_ok=True)
    info = os.lstat(base)
    if info.st_uid != os.getuid() or info.st_mode & 0o077 or not os.path.isdir(base) or os.path.islink(base):
        raise InvalidArgumentError(f"the model cache {base} is not private to this user; remove it and retry.")
    return base
