"""Who may attach through the door: the policy as the conversation asks it, and the slot.

The conversation (`door_conversation.py`) applies these; they are apart so that the
bridge, which shares one slot among its connections, need not import the conversation.
"""

from __future__ import annotations

import typing as t

from .access_policy import Denial
from .door_events import RefusalKind

if t.TYPE_CHECKING:
    from .access_policy import PeerDenial, Verdict

__all__ = [
    "BUSY",
    "CLIENT_MAX_MESSAGE",
    "PRE_ATTACH_MAX_MESSAGE",
    "Gatekeeper",
    "Slot",
    "refusal_for",
]

#: Largest request before a successful ``attach`` (``initialize`` and ``attach`` are a few
#: hundred bytes): what a peer without the token can make us hold, per connection.
PRE_ATTACH_MAX_MESSAGE = 64 * 1024
#: Largest request an attached IDE may send.
CLIENT_MAX_MESSAGE = 4 * 1024 * 1024
#: Refusing a second IDE: who is attached goes to the audit log, not to the newcomer.
BUSY = "remotedbg: another IDE is already attached; detach it first"

_REFUSALS = {
    Denial.PEER_NOT_ALLOWED: RefusalKind.PEER_NOT_ALLOWED,
    Denial.WINDOW_CLOSED: RefusalKind.WINDOW_CLOSED,
    Denial.TOKEN_MISSING: RefusalKind.TOKEN_MISSING,
    Denial.TOKEN_NOT_STRING: RefusalKind.TOKEN_NOT_STRING,
    Denial.TOKEN_WRONG: RefusalKind.TOKEN_WRONG,
}


def refusal_for(denial: Denial | None) -> RefusalKind:
    """The refusal for a policy's denial; a policy that gives none refused a token."""
    return RefusalKind.TOKEN_WRONG if denial is None else _REFUSALS[denial]


class Gatekeeper(t.Protocol):
    """The access policy as the conversation asks it (``door.access.AccessPolicy``)."""

    def peer_denial(self, peer: str) -> PeerDenial | None: ...

    def verdict(self, peer: str, arguments: t.Mapping[str, object] | None) -> Verdict: ...


class Slot:
    """The one attached session, shared by a bridge's conversations; `peer` is read anywhere."""

    def __init__(self) -> None:
        self.owner: object | None = None
        self.peer: str | None = None

    def other(self, owner: object) -> str | None:
        """The peer of a session held by someone other than `owner`, if any (for the log only)."""
        return self.peer if self.owner is not None and self.owner is not owner else None

    def claim(self, owner: object, peer: str) -> bool:
        if self.owner is not None and self.owner is not owner:
            return False
        self.owner, self.peer = owner, peer
        return True

    def release(self, owner: object) -> None:
        if self.owner is owner:
            self.owner = self.peer = None
