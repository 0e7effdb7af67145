"""Everything the add-on's setup pages need, started together: the stand-ins of section 10.

Why this file exists: the browser tests, ``make demo-ui`` and ``make screenshots`` all
need the same stack: the Microsoft and splunkd stand-ins (:class:`StandinStack`), the
app's own REST handlers and ``data/inputs``/``data/indexes`` mounted on that splunkd
(``splunkd_handlers``, ``splunkd_data``), and Splunk Web in front (``splunkweb``), for
one unpacked app. The app is reached through ``<work>/etc/apps/<app>`` because
splunktaucclib takes the app's name from its handler's path. Handlers and validation run
under Splunk's Python with the environment splunkd would give them: ``SPLUNK_HOME``,
``SPLUNKD_URI``, Microsoft's hostnames sent to the stand-in, and the stand-in's CA in
``SSL_CERT_FILE`` (the variable the add-on honours after its own TLS setting).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .launcher import HOSTMAP_DIR, SCHEME, RunResult, StandinStack, child_env
from .splunkd_data import DataEndpoints, ScriptValidator
from .splunkd_handlers import ADMIN_SHIM, AdminHandlers
from .splunkd_search import FooterSearch
from .splunkweb import SplunkWebStandin

KV_CHECKPOINTS = "ta_defender_endpoint_alerts_checkpoints"


def installed(app_dir: Path, workdir: Path) -> Path:
    """*app_dir* as ``.../etc/apps/<app>`` (a symlink in *workdir* when it is elsewhere)."""
    if app_dir.parent.name == "apps" and app_dir.parent.parent.name == "etc":
        return app_dir
    apps = workdir / "etc" / "apps"
    apps.mkdir(parents=True, exist_ok=True)
    link = apps / app_dir.name
    if not link.exists():
        link.symlink_to(app_dir.resolve(), target_is_directory=True)
    return link


class UiStack:
    """Stand-ins + REST handlers + Splunk Web for one app; ``with UiStack(...) as ui:``."""

    def __init__(self, app_dir: Path, workdir: Path, python: str, *, web_port: int = 0) -> None:
        self.workdir = workdir
        self.python = python
        self.app_dir = installed(app_dir, workdir)
        self.splunk_home = workdir / "splunk"
        self.checkpoint_dir = self.splunk_home / "var" / "lib" / "splunk" / "modinputs" / SCHEME
        self.stack = StandinStack(workdir / "stack", app_default_dir=self.app_dir / "default")
        self._web_port = web_port
        self.handlers: AdminHandlers | None = None
        self.web: SplunkWebStandin | None = None

    @property
    def splunkd(self) -> Any:
        assert self.stack.splunkd is not None
        return self.stack.splunkd

    def handler_env(self) -> dict[str, str]:
        env = child_env(
            hostmap=self.stack.hostmap,
            ca_path=None,
            splunk_home=str(self.splunk_home),
            env_extra={
                "SSL_CERT_FILE": str(self.stack.tls.ca),
                "SPLUNKD_URI": self.stack.server_uri,
                "PYTHONPATH": os.pathsep.join([str(ADMIN_SHIM), str(HOSTMAP_DIR)]),
            },
        )
        return env

    def start(self) -> UiStack:
        self.stack.start()
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        env = self.handler_env()
        log = self.splunk_home / "var" / "log" / "splunk" / "python.log"
        self.handlers = AdminHandlers(self.app_dir, self.python, env, log)
        validator = ScriptValidator(
            self.app_dir, SCHEME, self.python, env, self.stack.server_uri, self.stack.session_key, self.checkpoint_dir
        )
        self.search = FooterSearch(self.app_dir)
        self.splunkd.extensions.extend([DataEndpoints(SCHEME, validator), self.search, self.handlers])
        self.web = SplunkWebStandin(
            self.app_dir, self.splunkd.port, self.stack.session_key, str(self.stack.tls.ca), port=self._web_port
        ).start()
        return self

    def stop(self) -> None:
        if self.web is not None:
            self.web.stop()
        if self.handlers is not None:
            self.handlers.close()
        self.stack.stop()

    def __enter__(self) -> UiStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the pages stored -------------------------------------------------------
    def input_stanza(self, name: str) -> dict[str, str] | None:
        stanza: dict[str, str] | None = self.splunkd.stanza("inputs", f"{SCHEME}://{name}")
        return stanza

    def run_input(self, name: str, timeout: float = 120.0, **overrides: Any) -> RunResult:
        """Run an input the pages created, with its stored parameters, as splunkd would."""
        stanza = self.input_stanza(name)
        assert stanza is not None, f"no input {name!r} was stored"
        params: Mapping[str, Any] = {**stanza, **overrides}
        return self.stack.run_modinput(
            self.app_dir,
            {name: params},
            python=self.python,
            checkpoint_dir=self.checkpoint_dir,
            splunk_home=self.splunk_home,
            timeout=timeout,
        )
