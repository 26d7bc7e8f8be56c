"""Volumes: governed folders of files (images, documents, model files).

Paths inside a volume are validated (relative, no ``..``, no empty parts), so a
caller can never step outside the volume's folder.

>>> vols.put(alice, "main.shop.images", "plants/monstera.jpg", b"...")
FileInfo(path='plants/monstera.jpg', size=3, modified=None)
"""

from __future__ import annotations

import contextlib
import errno
import posixpath
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow.fs as pafs

from glashaus.access import Principal
from glashaus.access.guard import Check
from glashaus.catalog import Securable
from glashaus.errors import InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from glashaus.tables.service import TablesService


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    modified: str | None


#: The longest file or folder name (in UTF-8 bytes) local file systems take; longer ones are refused
#: before they reach storage, on object stores too, so a path works wherever the lakehouse lives.
MAX_NAME_BYTES = 255


def check_name_lengths(parts: list[str], *, what: str) -> None:
    """Refuse a path with a name longer than :data:`MAX_NAME_BYTES` (:class:`InvalidArgumentError`).

    >>> check_name_lengths(["a", "b.txt"], what="file path 'a/b.txt'")
    >>> check_name_lengths(["x" * 300], what="file path 'x...'")
    Traceback (most recent call last):
    glashaus.errors.InvalidArgumentError: ...
    """
    for part in parts:
        size = len(part.encode("utf-8", "surrogatepass"))
        if size > MAX_NAME_BYTES:
            raise InvalidArgumentError(
                f"{what}: the name {part[:40]!r}... is {size} bytes long; a file or folder "
                f"name may have at most {MAX_NAME_BYTES} bytes."
            )


def check_path(path: str) -> str:
    """A normalised relative path inside a volume, or :class:`InvalidArgumentError`.

    >>> check_path("a/b.txt")
    'a/b.txt'
    """
    if not isinstance(path, str) or not path.strip("/"):
        raise InvalidArgumentError("a file path inside a volume may not be empty.")
    if "\\" in path or "\x00" in path or path.startswith("/"):
        raise InvalidArgumentError(f"file path {path!r:.200} must be relative, with forward slashes.")
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise InvalidArgumentError(f"file path {path!r:.200} may not contain empty, '.' or '..' parts.")
    check_name_lengths(parts, what=f"file path {path[:80]!r}")
    return posixpath.join(*parts)


@contextlib.contextmanager
def _file_errors(volume: str, rel: str) -> Iterator[None]:
    """Folders where a file was meant (and the reverse), or over-long names: the caller's to fix."""
    try:
        yield
    except FileNotFoundError:
        raise NotFoundError(f"file {rel!r} does not exist in volume {volume}.") from None
    except IsADirectoryError:
        raise InvalidArgumentError(f"{rel!r} is a folder in volume {volume}, not a file; name a file in it.") from None
    except (NotADirectoryError, FileExistsError):
        raise InvalidArgumentError(
            f"{rel!r} in volume {volume} runs through a file as if it were a folder; choose another path."
        ) from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise InvalidArgumentError(f"file path {rel[:80]!r}... in volume {volume} is too long.") from None
        if exc.errno is None and "is a directory" in str(exc):  # pyarrow's local file system says so in words
            raise InvalidArgumentError(
                f"{rel!r} is a folder in volume {volume}, not a file; name a file in it."
            ) from None
        raise


PUT = Check("WRITE VOLUME", "volume.put", kinds=("volume",))
GET = Check("READ VOLUME", "volume.get", kinds=("volume",))
LIST = Check("READ VOLUME", "volume.list", kinds=("volume",))
DELETE = Check("WRITE VOLUME", "volume.delete", kinds=("volume",))


def _files(volume: Securable) -> tuple[pafs.FileSystem, str]:
    """The volume's file system and its folder in it."""
    location = volume.storage_location or ""
    return pafs.FileSystem.from_uri(location if "://" in location else "file://" + location)


class VolumesService:
    """Files in volumes: put, get, list, delete; each authorized by the guard (READ VOLUME, WRITE VOLUME)."""

    def __init__(self, tables: TablesService) -> None:
        self.guard = tables.guard

    def put(self, who: Principal, volume: str, path: str, data: bytes, *, overwrite: bool = True) -> FileInfo:
        """Write a file into a volume atomically (to a temporary name, then renamed into place); needs WRITE VOLUME.

        >>> lh.put_file("main.shop.images", "plants/fern.jpg", b"...").size
        3
        """
        rel = check_path(path)
        with self.guard.require(who, PUT, volume) as allowed:
            fs, base = _files(allowed.found)
            target = f"{base}/{rel}"
            with _file_errors(volume, rel):
                if not overwrite and fs.get_file_info(target).type != pafs.FileType.NotFound:
                    raise InvalidArgumentError(f"{volume}/{rel} exists already; pass overwrite=True to replace it.")
                if fs.get_file_info(target).type == pafs.FileType.Directory:
                    raise IsADirectoryError(target)
                fs.create_dir(posixpath.dirname(target), recursive=True)
                temp = f"{posixpath.dirname(target)}/.{uuid.uuid4().hex}.tmp"
                try:
                    with fs.open_output_stream(temp) as out:
                        out.write(data)
                    fs.move(temp, target)
                except BaseException:
                    with contextlib.suppress(OSError):
                        fs.delete_file(temp)
                    raise
            return FileInfo(rel, len(data), None)

    def get(self, who: Principal, volume: str, path: str) -> bytes:
        """The bytes of a file in a volume; needs READ VOLUME.

        >>> _ = lh.put_file("main.shop.images", "plants/fern.jpg", b"...")
        >>> lh.get_file("main.shop.images", "plants/fern.jpg")
        b'...'
        """
        rel = check_path(path)
        with self.guard.require(who, GET, volume) as allowed:
            fs, base = _files(allowed.found)
            with _file_errors(volume, rel), fs.open_input_stream(f"{base}/{rel}") as src:
                return src.read()

    def list(self, who: Principal, volume: str, prefix: str = "") -> list[FileInfo]:
        """The files in a volume (under ``prefix``, a folder or one file), by path; needs READ VOLUME.

        >>> _ = lh.put_file("main.shop.images", "plants/fern.jpg", b"...")
        >>> [f.path for f in lh.list_files("main.shop.images", "plants")]
        ['plants/fern.jpg']
        """
        with self.guard.require(who, LIST, volume) as allowed:
            fs, base = _files(allowed.found)
            root = f"{base}/{check_path(prefix)}" if prefix else base
            with _file_errors(volume, prefix):
                found = fs.get_file_info(root)
                if found.type == pafs.FileType.File:  # a prefix naming one file lists that file
                    infos = [found]
                elif found.type == pafs.FileType.Directory:
                    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
                else:
                    infos = []
            return sorted(
                (
                    FileInfo(info.path[len(base) + 1 :], info.size or 0, str(info.mtime) if info.mtime else None)
                    for info in infos
                    if info.type == pafs.FileType.File and not info.base_name.startswith(".")
                ),
                key=lambda f: f.path,
            )

    def delete(self, who: Principal, volume: str, path: str) -> None:
        """Delete a file from a volume; needs WRITE VOLUME."""
        rel = check_path(path)
        with self.guard.require(who, DELETE, volume) as allowed:
            fs, base = _files(allowed.found)
            with _file_errors(volume, rel):
                fs.delete_file(f"{base}/{rel}")
