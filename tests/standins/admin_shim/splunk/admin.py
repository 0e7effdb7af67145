"""``splunk.admin`` as far as splunktaucclib uses it: one admin request, dispatched.

Why this file exists: a UCC REST handler script ends with ``admin.init(handler_class,
ctxInfo)``; inside splunkd that call reads the request splunkd is serving, builds the
handler (``MConfigHandler``: ``callerArgs``, ``requestedAction``, ``getSessionKey()``),
calls ``setup()`` then ``handleList``/``handleCreate``/``handleEdit``/``handleRemove``
with a ``confInfo`` to fill, and renders ``confInfo`` (or the exception) as the answer.
Here the caller (``tests/standins/rest_worker.py``) sets :data:`current` to the request,
runs the handler script, and reads :data:`outcome`. Nothing else of splunkd's admin
module is modelled: no capability checks, no argument filtering by ``supportedArgs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

ACTION_CREATE = 1
ACTION_EDIT = 2
ACTION_REMOVE = 4
ACTION_LIST = 16
ACTION_RELOAD = 32
CONTEXT_NONE = 0
CONTEXT_APP_ONLY = 1
CONTEXT_APP_AND_USER = 2
EAI_ENTRY_ACL = "eai:acl"
ACTIONS = {"create": ACTION_CREATE, "edit": ACTION_EDIT, "remove": ACTION_REMOVE, "list": ACTION_LIST}


@dataclass
class AdminRequest:
    """What splunkd hands a handler: the action, the entity, the arguments, the session."""

    action: str  # list | create | edit | remove
    name: Optional[str]
    data: dict[str, list[str]]
    session_key: str
    user: str = "admin"
    app: str = ""


@dataclass
class Outcome:
    """What the handler left: the filled confInfo, or the exception it raised."""

    items: dict[str, ConfItem] = field(default_factory=dict)
    error: Optional[BaseException] = None


current: Optional[AdminRequest] = None
outcome: Optional[Outcome] = None


class ConfItem(dict):  # type: ignore[type-arg]
    """One entity of the answer: its fields, plus metadata (``eai:acl`` and friends)."""

    def __init__(self) -> None:
        super().__init__()
        self.metadata: dict[str, Any] = {}

    def setMetadata(self, key: str, value: Any) -> None:  # noqa: N802 (splunk's name)
        self.metadata[key] = value


class ConfInfo(dict):  # type: ignore[type-arg]
    """``confInfo[name]`` makes the entity on first use, as splunkd's does."""

    def __missing__(self, name: str) -> ConfItem:
        item = ConfItem()
        self[name] = item
        return item


class CallerArgs:
    def __init__(self, name: Optional[str], data: dict[str, list[str]]) -> None:
        self.id = name
        self.data = data


class SupportedArgs:
    def __init__(self) -> None:
        self.required: list[str] = []
        self.optional: list[str] = []

    def addReqArg(self, name: str) -> None:  # noqa: N802
        self.required.append(name)

    def addOptArg(self, name: str) -> None:  # noqa: N802
        self.optional.append(name)


class MConfigHandler:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        request = current
        if request is None:
            raise RuntimeError("splunk.admin shim: no request is being served")
        self.requestedAction = ACTIONS[request.action]  # noqa: N815
        self.callerArgs = CallerArgs(request.name, request.data)  # noqa: N815
        self.supportedArgs = SupportedArgs()  # noqa: N815
        self.userName = request.user  # noqa: N815
        self.appName = request.app  # noqa: N815
        self._session_key = request.session_key

    def getSessionKey(self) -> str:  # noqa: N802
        return self._session_key

    def setup(self) -> None:
        pass


def init(handler_class: Any, ctxInfo: int = CONTEXT_APP_ONLY) -> None:  # noqa: N803 (splunk's name)
    """Serve :data:`current` with *handler_class*; leave the result in :data:`outcome`."""
    global outcome
    request = current
    if request is None:
        raise RuntimeError("splunk.admin shim: no request is being served")
    result = Outcome()
    conf_info = ConfInfo()
    try:
        handler = handler_class()
        handler.setup()
        method = {
            "list": handler.handleList,
            "create": handler.handleCreate,
            "edit": handler.handleEdit,
            "remove": handler.handleRemove,
        }[request.action]
        method(conf_info)
    except Exception as error:  # splunkd turns any exception into an error answer
        result.error = error
    result.items = dict(conf_info)
    outcome = result
