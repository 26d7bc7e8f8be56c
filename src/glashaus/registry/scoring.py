"""Batch scoring: a model's predictions for every row of a table, written as one Delta commit.

1. The input table's columns and types are checked against the model's signature
   before any row is read: missing or mistyped columns are named in one error.
2. Rows stream in record batches through the governed read path (the caller's row
   filters and column masks apply), each batch is cast to the signature's types and
   predicted; memory holds one batch at a time.
3. Predictions (with the input columns kept beside them) are spilled to an Arrow file
   on local disk, memory-mapped, and written to the output table in one commit, with
   lineage from the input table and the model version (each at its exact version).
   A failure anywhere before that commit leaves the output table as it was.

>>> _ = lh.create_table("main.shop.candidates", data=X)
>>> _ = lh.models.register(model, "main.shop.reco", input_example=X.head(3))   # a signature to check against
>>> _ = lh.models.set_alias("main.shop.reco", "champion", 2)
>>> lh.models.score("main.shop.reco@champion", table="main.shop.candidates",
...                 output="main.shop.scores").rows
6
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from glashaus.access import Principal, request
from glashaus.catalog import parse_name
from glashaus.errors import InvalidArgumentError, SchemaMismatchError
from glashaus.lineage import Source
from glashaus.registry.lookup import ModelLookup, model_check
from glashaus.registry.mlflow_lib import mlflow
from glashaus.registry.refs import ModelRef
from glashaus.tables.writes import CREATE_TABLE, WRITE

if TYPE_CHECKING:
    from glashaus.registry.loading import Loading
    from glashaus.tables import TablesService

#: ``progress(rows_done, rows_total)``: rows_total is an estimate (before row filters), or None.
ProgressFn = Callable[[int, int | None], None]

ScoreMode = Literal["overwrite", "append"]

SCORE = model_check("EXECUTE", "model.score")


@dataclass(frozen=True)
class ScoreResult:
    """What a scoring run did: model version used, input version read, output version written."""

    model: str
    model_version: int
    table: str
    table_version: int
    output: str
    output_version: int
    rows: int


@dataclass(frozen=True)
class InputColumn:
    name: str
    spec: str  # how the signature describes it, e.g. 'long (required)'
    cast_to: pa.DataType | None  # None: handed to MLflow as it is (arrays, objects)
    required: bool
    nulls_forbidden: bool


# -- signature against table -----------------------------------------------------------------


def _accepts(mlflow_type: str, t: pa.DataType) -> pa.DataType | None:
    """The Arrow type to cast ``t`` to for an MLflow column type, or None if MLflow would refuse it.

    Follows MLflow's own conversions (``_enforce_mlflow_datatype``): upcasts within a kind,
    integers to double, decimals to double.
    """
    T = pa.types
    signed = T.is_signed_integer(t)
    unsigned = T.is_unsigned_integer(t)
    width = t.bit_width if (signed or unsigned or T.is_floating(t)) else 0
    rules: dict[str, tuple[bool, pa.DataType]] = {
        "boolean": (T.is_boolean(t), pa.bool_()),
        "integer": ((signed and width <= 32) or (unsigned and width <= 16), pa.int32()),
        "long": (signed or (unsigned and width <= 32), pa.int64()),
        "float": (T.is_floating(t) and width <= 32, pa.float32()),
        "double": (T.is_floating(t) or signed or unsigned or T.is_decimal(t), pa.float64()),
        "string": (T.is_string(t) or T.is_large_string(t) or T.is_string_view(t), pa.string()),
        "binary": (T.is_binary(t) or T.is_large_binary(t) or T.is_fixed_size_binary(t), pa.binary()),
        "datetime": (T.is_timestamp(t) or T.is_date(t), pa.timestamp("ns")),
    }
    ok, target = rules.get(mlflow_type, (False, pa.null()))
    return target if ok else None


def check_signature(
    schema: pa.Schema, signature: dict[str, Any] | None, *, model: str, table: str
) -> list[InputColumn]:
    """The columns to hand the model, or a :class:`SchemaMismatchError` naming every problem."""
    if not signature or not signature.get("inputs"):
        raise SchemaMismatchError(
            f"model {model} has no signature, so {table} cannot be checked against it; register the model "
            "with input_example= (the signature is inferred) or signature=."
        )
    from mlflow.models.signature import ModelSignature
    from mlflow.types import DataType

    inputs = ModelSignature.from_dict(signature).inputs
    if inputs.is_tensor_spec() or not inputs.has_input_names():
        raise SchemaMismatchError(
            f"model {model} takes unnamed tensors ({inputs}); scoring a table needs a signature with named columns."
        )
    columns = {f.name: f.type for f in schema}
    missing, mistyped, chosen = [], [], []
    for spec in inputs.inputs:
        kind = spec.type.name if isinstance(spec.type, DataType) else None
        described = f"{kind or spec.type} ({'required' if spec.required else 'optional'})"
        if spec.name not in columns:
            if spec.required:
                missing.append(f"{spec.name} ({described})")
            continue
        actual = columns[spec.name]
        target = _accepts(kind, actual) if kind is not None else None
        if kind is not None and target is None:
            mistyped.append(f"{spec.name} is {actual}, the signature wants {described}")
            continue
        chosen.append(
            InputColumn(
                spec.name, described, target, spec.required, spec.required and kind in ("integer", "long", "boolean")
            )
        )
    if missing or mistyped:
        problems = []
        if missing:
            problems.append(f"missing column(s): {', '.join(missing)}")
        if mistyped:
            problems.append(f"mistyped column(s): {'; '.join(mistyped)}")
        raise SchemaMismatchError(
            f"model {model} cannot score {table}: {'. '.join(problems)}. The table's columns are "
            f"{', '.join(f'{n} ({t})' for n, t in columns.items())}; fix the table (or a view over it) or "
            "register a model whose signature matches."
        )
    return chosen


# -- batches --------------------------------------------------------------------------------


def model_input(batch: pa.RecordBatch, columns: list[InputColumn], *, table: str) -> Any:
    """One batch as the pandas frame the model gets: signature columns, cast to its types."""
    arrays, names = [], []
    for c in columns:
        values = batch.column(c.name)
        if c.nulls_forbidden and values.null_count:
            raise SchemaMismatchError(
                f"column {c.name} of {table} holds NULL values, but the model's signature declares it {c.spec}; "
                "fill or filter them (e.g. a view with COALESCE) before scoring."
            )
        if c.cast_to is not None and not values.type.equals(c.cast_to):
            if pa.types.is_timestamp(values.type) and values.type.tz is not None:
                values = values.cast(pa.timestamp(values.type.unit))  # MLflow wants naive (UTC) times
            values = values.cast(c.cast_to)
        arrays.append(values)
        names.append(c.name)
    return pa.Table.from_arrays(arrays, names=names).to_pandas()


def predictions(result: Any, rows: int, *, column: str, model: str) -> dict[str, pa.Array]:
    """A model's output as Arrow columns: one ``column``, or ``column_<name>`` per output column."""
    import numpy as np

    module = type(result).__module__.split(".")[0]
    if module == "pandas" and hasattr(result, "columns"):
        if len(result.columns) == 1:
            out = {column: pa.array(result.iloc[:, 0])}
        else:
            out = {f"{column}_{c}": pa.array(result[c]) for c in result.columns}
    elif module == "pandas":
        out = {column: pa.array(result)}
    elif isinstance(result, np.ndarray):
        if result.ndim == 2 and result.shape[1] == 1:
            result = result[:, 0]
        out = {column: pa.array(result if result.ndim == 1 else list(result))}
    elif isinstance(result, dict):
        out = {f"{column}_{k}": pa.array(v) for k, v in result.items()}
    else:
        out = {column: pa.array(list(result))}
    for name, values in out.items():
        if len(values) != rows:
            raise InvalidArgumentError(f"model {model} returned {len(values)} predictions for {rows} rows ({name}).")
    return out


def output_type(signature: dict[str, Any] | None) -> pa.DataType:
    """The prediction column's type when no row came to tell (an empty input)."""
    mapping = {
        "boolean": pa.bool_(),
        "integer": pa.int32(),
        "long": pa.int64(),
        "float": pa.float32(),
        "double": pa.float64(),
        "string": pa.string(),
        "binary": pa.binary(),
    }
    try:
        from mlflow.models.signature import ModelSignature

        outputs = ModelSignature.from_dict(signature).outputs if signature else None
        spec = outputs.inputs[0] if outputs is not None and len(outputs.inputs) == 1 else None
        if spec is not None:
            kind = getattr(spec.type, "name", None) or str(getattr(spec, "type", ""))
            return mapping.get(kind, pa.float64())
    except Exception:  # noqa: BLE001 - an unusual output signature: fall back to double
        pass
    return pa.float64()


class Spill:
    """Batches written to an Arrow file on local disk, read back memory-mapped (not into the heap)."""

    def __init__(self, folder: str) -> None:
        self.path = os.path.join(folder, "scores.arrow")
        self._sink: Any = None
        self._writer: Any = None
        self.schema: pa.Schema | None = None
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if self._writer is None:
            self.schema = batch.schema
            self._sink = pa.OSFile(self.path, "wb")
            self._writer = pa.ipc.new_file(self._sink, batch.schema)
        elif not batch.schema.equals(self.schema):
            try:
                batch = batch.cast(self.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
                raise SchemaMismatchError(
                    f"the model's predictions changed type between batches ({self.schema} then {batch.schema}); "
                    "declare the output type in the model's signature or score with a larger batch_size."
                ) from None
        self._writer.write_batch(batch)
        self.rows += batch.num_rows

    @contextmanager
    def table(self, empty_schema: pa.Schema) -> Iterator[pa.Table]:
        if self._writer is None:
            yield empty_schema.empty_table()
            return
        self._writer.close()
        self._sink.close()
        with pa.memory_map(self.path, "r") as source:
            yield pa.ipc.open_file(source).read_all()


def score_batches(
    reader: pa.RecordBatchReader,
    pyfunc: Any,
    columns: list[InputColumn],
    *,
    keep: list[str],
    prediction_column: str,
    model: str,
    table: str,
    spill: Spill,
    progress: ProgressFn | None,
    total: int | None,
) -> None:
    """Predict every batch of ``reader`` and spill ``keep`` columns plus predictions."""
    ml = mlflow()
    done = 0
    for batch in reader:
        if batch.num_rows == 0:
            continue
        frame = model_input(batch, columns, table=table)
        try:
            result = pyfunc.predict(frame)
        except ml.exceptions.MlflowException as exc:
            raise SchemaMismatchError(
                f"model {model} refused rows {done}-{done + batch.num_rows - 1} of {table}: {exc.message}"
            ) from None
        except Exception as exc:  # noqa: BLE001 - the model's own code failed: say where, keep the trace out
            raise InvalidArgumentError(
                f"model {model} failed on rows {done}-{done + batch.num_rows - 1} of {table}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        predicted = predictions(result, batch.num_rows, column=prediction_column, model=model)
        kept = {name: batch.column(name) for name in keep}
        spill.write(pa.RecordBatch.from_pydict({**kept, **predicted}))
        done += batch.num_rows
        if progress is not None:
            progress(done, total)


@contextmanager
def scratch() -> Iterator[str]:
    """A local folder for the spill file, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="glashaus-score-") as folder:
        yield folder


@contextmanager
def rich_progress(label: str) -> Iterator[ProgressFn]:
    """A Rich progress bar on stderr, as a ``progress`` callback.

    >>> with rich_progress("scoring") as bar: bar(50, 100)
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task = bars.add_task(label, total=None)

    def update(done: int, total: int | None) -> None:
        bars.update(task, completed=done, total=max(total or 0, done) or None)

    with bars:
        yield update


class BatchScoring:
    """score: a model version's predictions for a table, into another table, in one commit."""

    def __init__(self, *, tables: TablesService, lookup: ModelLookup, loading: Loading) -> None:
        self.tables = tables
        self.guard = tables.guard
        self.lookup = lookup
        self.loading = loading

    def score(
        self,
        who: Principal,
        ref: str | ModelRef,
        *,
        table: str,
        output: str,
        mode: ScoreMode = "overwrite",
        batch_size: int = 65_536,
        keep: list[str] | None = None,
        prediction_column: str = "prediction",
        progress: ProgressFn | None = None,
    ) -> ScoreResult:
        """Predict every row of ``table`` (``@vN`` pins a version) into ``output`` in one Delta commit.

        Needs EXECUTE on the model, SELECT on the table and MODIFY on ``output`` (or CREATE TABLE on
        its schema when new). ``keep`` names the input columns copied beside the predictions (default:
        all). The table is checked against the model's signature before any row is read.
        """
        if mode not in ("overwrite", "append"):
            raise InvalidArgumentError(f"mode must be 'overwrite' or 'append', not {mode!r}.")
        prediction_column = parse_name(prediction_column, levels=1, allow_version=False).full
        source_name = parse_name(table, allow_version=True)
        out = parse_name(output, allow_version=False)
        if out.catalog == "system":
            raise InvalidArgumentError(
                f"cannot write scores to {out.full!r}: the system catalog is written only by Glashaus."
            )
        if out.full == source_name.full:
            raise InvalidArgumentError(f"output {out.full} is the table being scored; write the scores elsewhere.")
        with request():
            model, mv = self.lookup.resolve(who, ref, SCORE, {"table": str(source_name), "output": out.full})
            # Scores go into an existing table only with MODIFY on it, into a new one with CREATE TABLE.
            with self.guard.require_if_exists(who, WRITE, out, details={"mode": mode}) as target:
                exists = target is not None
            if not exists:
                self.guard.allow(who, CREATE_TABLE, out)
            read = self.tables.read_batches(who, str(source_name), batch_size=batch_size, action="model.score")
            columns = check_signature(read.reader.schema, mv.signature, model=mv.ref, table=read.table)
            kept = list(read.reader.schema.names) if keep is None else [c.lower() for c in keep]
            unknown = [c for c in kept if c not in read.reader.schema.names]
            if unknown:
                raise InvalidArgumentError(
                    f"keep= names {unknown}, which {read.table} does not have; its columns "
                    f"are {read.reader.schema.names}."
                )
            clash = [c for c in kept if c == prediction_column or c.startswith(prediction_column + "_")]
            if clash:
                raise InvalidArgumentError(
                    f"{read.table} has a column {clash[0]!r} already; pass "
                    "prediction_column= another name (or keep= fewer columns)."
                )
            pyfunc = self.loading.pyfunc(who, model, mv, action="model.score")
            with scratch() as folder:
                spill = Spill(folder)
                score_batches(
                    read.reader,
                    pyfunc,
                    columns,
                    keep=kept,
                    prediction_column=prediction_column,
                    model=mv.ref,
                    table=read.table,
                    spill=spill,
                    progress=progress,
                    total=read.num_rows,
                )
                empty = _empty_schema(read.reader.schema, kept, prediction_column, mv.signature)
                lineage = [Source(read.table, "table", read.version), Source(mv.name, "model", mv.version)]
                with spill.table(empty) as scores:
                    if not exists:
                        self.tables.create_table(
                            who, out.full, schema=scores.schema, comment=f"Predictions of {mv.ref} for {read.table}."
                        )
                    try:
                        commit = self.tables.write(
                            who, out.full, scores, mode=mode, sources=lineage, operation="model.score"
                        )
                    except BaseException:
                        if not exists:  # all or nothing: no empty table left behind
                            self.tables.drop(who, out.full, kind="table", if_exists=True)
                        raise
            return ScoreResult(mv.name, mv.version, read.table, read.version, out.full, commit.version, spill.rows)


def _empty_schema(schema: pa.Schema, kept: list[str], column: str, signature: dict[str, Any] | None) -> pa.Schema:
    return pa.schema([schema.field(c) for c in kept] + [pa.field(column, output_type(signature))])
