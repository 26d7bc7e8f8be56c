"""Run and logged-model files in the lakehouse's managed storage.

Artifact paths are relative to the tracking artifact root, the same paths the MLflow
artifact proxy uses (``mlflow-artifacts:/<path>``):

- ``<experiment_id>/<run_id>/artifacts/<file>`` for a run,
- ``<experiment_id>/models/<model_id>/artifacts/<file>`` for a logged model,

stored under ``<root>/ml/experiments/<experiment_id>/...``. Every path is checked
(relative, forward slashes, no empty, ``.`` or ``..`` parts, no NUL or backslash)
before it meets storage, so no caller can step outside the artifact folder.

>>> parse_artifact_path("3/0a1b/artifacts/model/MLmodel")
ArtifactPath(experiment_id='3', kind='run', owner_id='0a1b', rel='model/MLmodel')
"""

from __future__ import annotations

import contextlib
import errno
import posixpath
import uuid
from collections.abc import Iterator
from typing import NamedTuple

import pyarrow.fs as pafs

from glashaus.errors import InvalidArgumentError, NotFoundError
from glashaus.tables.volumes import check_name_lengths
from glashaus.tracking.entities import ArtifactFile

#: Uploads in flight (never listed).
_TEMP = ".glashaus-upload-"
_SHAPE = (
    "an artifact path has the form <experiment_id>/<run_id>/artifacts[/<file>] or "
    "<experiment_id>/models/<model_id>/artifacts[/<file>]"
)


class ArtifactPath(NamedTuple):
    experiment_id: str
    kind: str  # "run" or "model"
    owner_id: str
    #: The file or folder below the owner's ``artifacts`` folder ('' for the folder itself).
    rel: str


def check_relative(path: str, *, what: str = "artifact path") -> str:
    """A normalised relative path, or :class:`InvalidArgumentError` naming the problem."""
    if not isinstance(path, str):
        raise InvalidArgumentError(f"the {what} must be a string.")
    if "\x00" in path or "\\" in path or path.startswith("/"):
        raise InvalidArgumentError(f"{what} {path!r:.200} must be relative, with forward slashes and no NUL.")
    parts = path.strip("/").split("/") if path.strip("/") else []
    if any(p in ("", ".", "..") for p in parts):
        raise InvalidArgumentError(f"{what} {path!r:.200} may not contain empty, '.' or '..' parts.")
    check_name_lengths(parts, what=f"{what} {path[:80]!r}")
    return "/".join(parts)


def parse_artifact_path(path: str) -> ArtifactPath:
    """Split a proxy path into its experiment, owner (run or logged model) and file."""
    clean = check_relative(path)
    parts = clean.split("/") if clean else []
    if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        exp, kind, owner, rest = parts[0], "model", parts[2], parts[4:]
    elif len(parts) >= 3 and parts[2] == "artifacts":
        exp, kind, owner, rest = parts[0], "run", parts[1], parts[3:]
    else:
        raise NotFoundError(f"no artifacts at {path!r}: {_SHAPE}.")
    if not exp.isdigit():
        raise NotFoundError(f"no artifacts at {path!r}: {exp!r} is not an experiment id; {_SHAPE}.")
    return ArtifactPath(exp, kind, owner, "/".join(rest))


class ArtifactFiles:
    """Reads and writes files below one base location (a local folder or an object-store URI)."""

    def __init__(self, base: str) -> None:
        self.fs, self.base = pafs.FileSystem.from_uri(base if "://" in base else "file://" + base)
        self.base = self.base.rstrip("/")

    def _at(self, rel: str) -> str:
        return f"{self.base}/{rel}" if rel else self.base

    def put(self, rel: str, data: bytes) -> ArtifactFile:
        """Write atomically: to a temporary name beside the target, then renamed into place."""
        if not rel:
            raise InvalidArgumentError("an artifact upload needs a file name below the artifacts folder.")
        target = self._at(rel)
        with _caller_errors(rel):
            if self.fs.get_file_info(target).type == pafs.FileType.Directory:
                raise InvalidArgumentError(f"artifact {rel!r} is a folder; upload files below it.")
            folder = posixpath.dirname(target)
            self.fs.create_dir(folder, recursive=True)
            temp = f"{folder}/{_TEMP}{uuid.uuid4().hex}"
            try:
                with self.fs.open_output_stream(temp) as out:
                    out.write(data)
                self.fs.move(temp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    self.fs.delete_file(temp)
                raise
        return ArtifactFile(posixpath.basename(rel), False, len(data))

    def get(self, rel: str) -> bytes:
        with _caller_errors(rel):
            info = self.fs.get_file_info(self._at(rel))
            if info.type != pafs.FileType.File:
                raise NotFoundError(
                    f"artifact {rel!r} does not exist"
                    + (" (it is a folder)." if info.type == pafs.FileType.Directory else ".")
                )
            with self.fs.open_input_stream(self._at(rel)) as src:
                return src.read()

    def list(self, rel: str) -> list[ArtifactFile]:
        """The files and folders directly inside ``rel`` (nothing for a file or a missing folder)."""
        selector = pafs.FileSelector(self._at(rel), recursive=False, allow_not_found=True)
        try:
            infos = self.fs.get_file_info(selector)
        except (NotADirectoryError, OSError):
            return []
        return sorted(
            (
                ArtifactFile(
                    info.base_name,
                    info.type == pafs.FileType.Directory,
                    None if info.type == pafs.FileType.Directory else info.size,
                )
                for info in infos
                if info.type in (pafs.FileType.File, pafs.FileType.Directory) and not info.base_name.startswith(_TEMP)
            ),
            key=lambda f: f.path,
        )

    def delete(self, rel: str) -> None:
        target = self._at(rel)
        with _caller_errors(rel):
            kind = self.fs.get_file_info(target).type
            if kind == pafs.FileType.Directory:
                self.fs.delete_dir(target)
            elif kind == pafs.FileType.File:
                self.fs.delete_file(target)


@contextlib.contextmanager
def _caller_errors(rel: str) -> Iterator[None]:
    """What the file system refuses because of the path the caller chose, as the caller's error.

    (The file system's own messages name the absolute path in managed storage: never shown.)
    """
    try:
        yield
    except (NotADirectoryError, FileExistsError):
        raise InvalidArgumentError(
            f"artifact path {rel!r:.200} runs through a file as if it were a folder; choose another path."
        ) from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise InvalidArgumentError(f"artifact path {rel[:80]!r}... is too long for storage.") from None
        raise
