"""What the generated remote methods (``remote.py``) call: one operation by its declared name.

:class:`Calls` is the base of the remote client: each generated method hands its arguments
to :meth:`Calls._call` with the operation's qualified name; the client (``client.py``)
sends them to the operation's route. :class:`Namespace` is ``remote.models`` and the other
namespaces: their calls go through the client that made them.
"""

from __future__ import annotations

from typing import Any

from glashaus.errors import InvalidArgumentError
from glashaus.operations import Operation, by_name


class Calls:
    """The base of the remote client: sends one declared operation's arguments."""

    def _call(self, qualname: str, **arguments: Any) -> Any:
        op = by_name()[qualname]
        defaults = op.signature.parameters
        # Only what the caller gave: a default stays the server's (some are sentinels), a local one stays here.
        sent = {
            name: value
            for name, value in arguments.items()
            if name not in op.local and value is not defaults[name].default
        }
        return self._send_operation(op, sent)

    def _send_operation(self, op: Operation, arguments: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _embedded_only(self, qualname: str) -> InvalidArgumentError:
        op = by_name()[qualname]
        return InvalidArgumentError(f"{op.qualname} is not available on a served lakehouse: {op.embedded_only}.")


class Namespace:
    """``remote.models``, ``remote.runs``, ...: the operations of one namespace, sent by the client."""

    def __init__(self, client: Calls) -> None:
        self._client = client

    def _call(self, qualname: str, **arguments: Any) -> Any:
        return self._client._call(qualname, **arguments)

    def _embedded_only(self, qualname: str) -> InvalidArgumentError:
        return self._client._embedded_only(qualname)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"
