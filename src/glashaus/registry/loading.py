"""Loading model versions and reading their files, and the admins' trust for pickle-based ones.

Loading needs EXECUTE on the model; a version whose files would run code when loaded
(pickles) loads only once an admin has trusted exactly those files (``safety.py``), and
every refusal is audited.

>>> loading = registry.loading
>>> loading.load(bob, "main.shop.reco@champion").predict(X)[:3].tolist()
[0, 0, 1]
"""

from __future__ import annotations

from typing import Any

from glashaus.access import Access, Principal, request
from glashaus.access.guard import Guard
from glashaus.catalog import Securable
from glashaus.catalog.rows import utcnow
from glashaus.errors import InvalidArgumentError, NotFoundError, PermissionDeniedError, StorageError
from glashaus.registry import safety
from glashaus.registry.files import ModelFiles
from glashaus.registry.lookup import ModelLookup, model_check, model_name, version_number
from glashaus.registry.mlflow_lib import load_pyfunc
from glashaus.registry.refs import ModelRef
from glashaus.registry.sources import no_files
from glashaus.registry.versions import ModelVersion
from glashaus.tables import FileInfo

LOAD = model_check("EXECUTE", "model.load")
FILES = model_check("EXECUTE", "model.files")


class Loading:
    """set_trusted, load, local_path, list_files, read_file; pyfunc for scoring."""

    def __init__(self, *, access: Access, guard: Guard, lookup: ModelLookup, files: ModelFiles) -> None:
        self.access = access
        self.guard = guard
        self.lookup = lookup
        self.versions = lookup.versions
        self.files = files

    def set_trusted(self, who: Principal, name: str, version: int, trusted: bool = True) -> ModelVersion:
        """Let a pickle-based version load (admins only), for exactly the files it has now."""
        number = version_number(version)
        n = model_name(name)
        with request():
            self.access.require_admin(
                who, action="model.trust", details={"model": n.full, "version": number, "trusted": trusted}
            )
            model = self.guard.find(who, n, kinds=("model",))
            mv = self.versions.get(model, number)
            if not trusted:
                return self.versions.update(model, number, trusted_digest=None, trusted_by=None, trusted_at=None)
            folder = self.files.local(_files_of(mv))
            return self.versions.update(
                model, number, trusted_digest=safety.digest(folder), trusted_by=who.name, trusted_at=utcnow()
            )

    def load(self, who: Principal, ref: str | ModelRef) -> Any:
        """The version as an ``mlflow.pyfunc.PyFuncModel`` (needs EXECUTE; pickles need an admin's trust)."""
        with request():
            model, mv = self.lookup.resolve(who, ref, LOAD)
            return self.pyfunc(who, model, mv, action="model.load")

    def local_path(self, who: Principal, ref: str | ModelRef) -> tuple[ModelVersion, str]:
        """The version and a local folder with its files, checked as :meth:`load` checks them (for serving)."""
        with request():
            model, mv = self.lookup.resolve(who, ref, LOAD)
            return mv, self.checked_folder(who, model, mv, action="model.load")

    def list_files(self, who: Principal, ref: str | ModelRef, prefix: str = "") -> list[FileInfo]:
        with request():
            _, mv = self.lookup.resolve(who, ref, FILES)
            return self.files.list(_files_of(mv), prefix)

    def read_file(self, who: Principal, ref: str | ModelRef, path: str) -> bytes:
        """One file of a version (``MLmodel``, ``model.skops``, ...), e.g. for MLflow's artifact download."""
        with request():
            _, mv = self.lookup.resolve(who, ref, FILES)
            return self.files.read(_files_of(mv), path)

    def pyfunc(self, who: Principal, model: Securable, mv: ModelVersion, *, action: str) -> Any:
        """The version loaded (``mlflow.pyfunc``), if its files may be loaded (refusals are audited)."""
        return load_pyfunc(self.checked_folder(who, model, mv, action=action), ref=mv.ref)

    def checked_folder(self, who: Principal, model: Securable, mv: ModelVersion, *, action: str) -> str:
        """The version's local folder, if its files may be loaded (refusals are audited)."""
        folder = self.files.local(_files_of(mv))
        try:
            verdict = safety.assess(folder)
        except InvalidArgumentError as exc:  # they passed these checks when registered: storage changed them
            raise StorageError(
                f"the stored files of model {mv.ref} are no longer a model: {exc} They were checked "
                f"when the version was registered, so storage lost or changed them: an admin should "
                f"check {mv.storage_location}."
            ) from None
        if verdict.file_format != "pickle":
            return folder
        row = self.versions.raw(model, mv.version)
        if row.trusted_digest is None:
            why = (
                f"model {mv.ref} cannot be loaded: {verdict.reason}, and loading it would run code from its "
                f"files. An admin who has reviewed it can run lh.models.set_trusted({mv.name!r}, {mv.version}); "
                "or register it again in skops (scikit-learn) or a native format."
            )
        elif safety.digest(folder) != row.trusted_digest:
            why = (
                f"model {mv.ref} cannot be loaded: its files changed since {row.trusted_by} trusted them; an "
                f"admin must review and trust it again (lh.models.set_trusted({mv.name!r}, {mv.version}))."
            )
        else:
            return folder
        self.access.refuse(who, action=action, reason=why, details={"model": mv.name, "version": mv.version})
        raise PermissionDeniedError(why)


def _files_of(mv: ModelVersion) -> str:
    """Where a version's files are; a version without files (an MLflow client's) is refused, saying why."""
    if not mv.storage_location:
        raise NotFoundError(no_files(mv))
    return mv.storage_location
