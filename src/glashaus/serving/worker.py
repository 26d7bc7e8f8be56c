"""Model processes: each served model version is scored in a child process of its own.

Why: a predict is milliseconds of pure Python (a 50-tree forest spends ~4 ms in joblib
and input validation per call, whatever the row count), and parsing the input against
the signature and writing the JSON answer are pandas work. In the server's process all
of that held the GIL, and every request thread (sign-in, the audit check, the socket)
queued behind it. In a child the server's batch thread only writes a batch to a pipe
and waits (GIL released), so requests keep flowing while the model computes, on the
other core.

The child (``python -m glashaus.serving.worker FOLDER REF``) loads the folder that the
registry checked for the caller (``RegistryService.local_path``: EXECUTE, and an admin's
trust for pickled models, audited) with ``mlflow.pyfunc.load_model``, exactly as the
registry's own ``load`` does, then answers batches: parse each payload against the
signature, predict (merged when possible: :func:`batching.score_together`) and write
MLflow's ``{"predictions": ...}`` for each caller. Frames on its stdin/stdout are a
4-byte length and JSON, both ways: nothing is unpickled in the server. The child's own
prints go to stderr, never into the frames. It exits when its stdin closes (the server
stopped, or died).

>>> version, folder = registry.local_path(alice, "main.shop.reco@champion")
>>> model = ModelProcess.start(folder, ref="main.shop.reco/1")
>>> model.score([{"dataframe_split": {"columns": ["light", "water"], "data": [[0.9, 0.1]]}}])
[b'{"predictions": [1]}']
>>> model.close()
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
from typing import IO, Any, BinaryIO, NoReturn

from glashaus.errors import GlashausError, InvalidArgumentError, ServiceUnavailableError, StorageError
from glashaus.registry.mlflow_lib import load_pyfunc
from glashaus.serving.batching import Payload, Result, score_together

_LENGTH = struct.Struct(">I")
_MAX_FRAME = 1 << 30  # bytes; a longer "frame" is garbage on the pipe, not a batch


class ModelProcess:
    """A child process serving one model version; :meth:`score` is one batch, one round trip."""

    def __init__(self, proc: subprocess.Popen[bytes], ref: str) -> None:
        if proc.stdin is None or proc.stdout is None:
            raise ValueError("a model process talks over its pipes: start it with stdin=PIPE, stdout=PIPE")
        self._proc, self._stdin, self._stdout = proc, proc.stdin, proc.stdout
        self.ref = ref
        self._lock = threading.Lock()
        self._dead = False

    @classmethod
    def start(cls, folder: str, *, ref: str) -> ModelProcess:
        """Start the child and wait until the model is loaded (InvalidArgumentError if it cannot be,
        StorageError if its files cannot be read)."""
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "glashaus.serving.worker", folder, ref],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        model = cls(proc, ref)
        try:
            hello = model._receive()
        except ServiceUnavailableError:
            model.close()
            raise
        if "error" in hello:
            model.close()
            raise (StorageError if hello.get("storage") else InvalidArgumentError)(hello["error"])
        return model

    @property
    def alive(self) -> bool:
        """False once the child was found gone (a failed round trip) or closed; checked per request,
        so it asks no system call."""
        return not self._dead

    def score(self, payloads: list[Payload]) -> list[Result]:
        """Each payload's answer (the JSON body, bytes) or the exception its caller raises."""
        with self._lock:
            self._send({"payloads": payloads})
            answer = self._receive()
        return [
            r["body"].encode()
            if "body" in r
            else InvalidArgumentError(r["error"])
            if r.get("invalid")
            else RuntimeError(f"model {self.ref} failed: {r['error']}")
            for r in answer["results"]
        ]

    def close(self) -> None:
        """Stop the child (it exits when its stdin closes; killed if it does not within 10 s)."""
        self._dead = True
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            self._proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode()
        try:
            self._stdin.write(_LENGTH.pack(len(data)) + data)
            self._stdin.flush()
        except (OSError, ValueError):
            self._gone()

    def _receive(self) -> dict[str, Any]:
        try:
            message = _read_frame(self._stdout)
        except ValueError:  # not a frame of ours: the child cannot be trusted to answer any more
            self._proc.kill()
            message = None
        if message is None:
            self._gone()
        return message

    def _gone(self) -> NoReturn:
        self._dead = True
        raise ServiceUnavailableError(
            f"the process serving model {self.ref} stopped (exit code {self._proc.poll()}; its error is in the "
            "server's log); it is started again on the next request: retry."
        )


def _read_frame(stream: IO[bytes]) -> dict[str, Any] | None:
    """The next frame, None at the end of the stream; ValueError if what comes is no frame."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    if size > _MAX_FRAME:
        raise ValueError(f"a frame of {size} bytes")
    data = stream.read(size)
    if len(data) < size:
        return None
    return json.loads(data)


def _write_frame(stream: BinaryIO, message: dict[str, Any]) -> None:
    data = json.dumps(message).encode()
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


# -- the child ---------------------------------------------------------------------------------


def score_payload(model: Any, payload: Payload) -> Any:
    """Parse one payload against the model's signature and predict (MLflow's scoring server's steps)."""
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server

    params = payload.get("params")
    if params is not None and not isinstance(params, dict):
        raise InvalidArgumentError("'params' must be a JSON object.")
    try:
        parsed = scoring_server.infer_and_parse_data(
            {k: v for k, v in payload.items() if k != "params"}, model.metadata.get_input_schema()
        )
        return model.predict(parsed, params=params) if params else model.predict(parsed)
    except MlflowException as exc:
        raise InvalidArgumentError(f"the input does not match the model's signature: {exc.message}") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidArgumentError(f"the model could not score this input: {exc}") from None


def answer(model: Any, payloads: list[Payload]) -> list[dict[str, Any]]:
    """One frame's results: MLflow's JSON answer per payload, or its error."""
    from mlflow.pyfunc import scoring_server

    out: list[dict[str, Any]] = []
    for result in score_together(lambda p: score_payload(model, p), payloads):
        if isinstance(result, InvalidArgumentError):
            out.append({"error": str(result), "invalid": True})
        elif isinstance(result, Exception):
            out.append({"error": f"{type(result).__name__}: {result}", "invalid": False})
        else:
            try:
                parts: list[str] = []
                sink = type("Sink", (), {"write": lambda _self, text, parts=parts: parts.append(text)})()
                scoring_server.predictions_to_json(result, sink)
                out.append({"body": "".join(parts)})
            except Exception as exc:  # noqa: BLE001 - a model answering something JSON cannot hold
                out.append({"error": f"the model's predictions cannot be written as JSON: {exc}", "invalid": False})
    return out


def main(argv: list[str]) -> int:
    folder, ref = argv
    frames = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the model's prints must not corrupt the frames
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    try:
        model = load_pyfunc(folder, ref=ref)
    except GlashausError as exc:
        _write_frame(frames, {"error": str(exc), "storage": isinstance(exc, StorageError)})
        return 1
    _write_frame(frames, {"ready": True})
    while (message := _read_frame(requests)) is not None:
        _write_frame(frames, {"results": answer(model, message["payloads"])})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
