"""`splunk.rest.simpleRequest`: a REST call to the local splunkd (the stand-in's URI from the payload)."""

from __future__ import annotations

import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class _Response:
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status = status
        self.headers = headers

    def __getitem__(self, key: str) -> str:
        return self.headers[key]


def simpleRequest(  # noqa: N802, N803 (Splunk's names)
    path: str,
    sessionKey: str | None = None,  # noqa: N803
    getargs: dict[str, Any] | None = None,
    postargs: dict[str, Any] | None = None,
    method: str = "GET",
    raiseAllErrors: bool = False,  # noqa: N803
    jsonargs: str | None = None,
    **_: Any,
) -> tuple[_Response, bytes]:
    base = os.environ.get("MDE_STANDIN_SPLUNKD_URI", "https://127.0.0.1:8089")
    if not path.startswith("/"):
        path = "/services/" + path
    url = base + path + ("?" + urllib.parse.urlencode(getargs) if getargs else "")
    data = None
    headers = {"Authorization": f"Splunk {sessionKey}"}
    if jsonargs is not None:
        data, method = jsonargs.encode(), "POST"
        headers["Content-Type"] = "application/json"
    elif postargs is not None:
        data, method = urllib.parse.urlencode(postargs).encode(), "POST"
    context = ssl.create_default_context(cafile=os.environ.get("REQUESTS_CA_BUNDLE"))
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as answer:
            return _Response(answer.status, dict(answer.headers)), answer.read()
    except urllib.error.HTTPError as error:
        if raiseAllErrors:
            raise
        return _Response(error.code, dict(error.headers)), error.read()
