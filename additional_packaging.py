"""Post-processing that ucc-gen runs on the built add-on (its `cleanup_output_files` hook).

ucc-gen installs `package/lib/requirements.txt` with the build machine's pip, so any
compiled file arrives built for *this* machine (CPython 3.11, glibc 2.36), which
Splunk's Python 3.9 / 3.13 on RHEL 8, aarch64 or Windows cannot load. The add-on's
own dependencies are all pure Python; this hook removes what ucc-gen brings beyond
them and would only cost portability or AppInspect findings: leftovers of packages
excluded in `package/lib/exclude.txt` (namespace packages pip cannot uninstall by
name), pip's console scripts, and the optional mypyc accelerators of
charset_normalizer, whose pure-Python twins sit beside them. `tests/portability`
checks the result. It also sets the file modes AppInspect expects.
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

# Compiled modules that have a pure-Python twin in the same package (mypyc builds).
OPTIONAL_ACCELERATORS = ["charset_normalizer"]
# Leftovers of excluded packages, cffi (see package/lib/exclude.txt), and the console
# scripts pip put under lib/bin.
LEFTOVERS = [
    "opentelemetry",
    "opentelemetry_*.dist-info",
    "bin",
    "google",
    "grpc",
    "cffi",
    "cffi-*.dist-info",
    "_cffi_backend*",
]
COMPILED_SUFFIXES = (".so", ".pyd", ".dll", ".dylib")


def remove_optional_accelerators(lib: Path) -> None:
    for package in OPTIONAL_ACCELERATORS:
        for path in (lib / package).rglob("*"):
            if path.suffix in COMPILED_SUFFIXES:
                path.unlink()


def normalize_modes(app: Path) -> None:
    """Files 0644, folders 0755: what AppInspect and Splunk Cloud expect."""
    for path in app.rglob("*"):
        if path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
    app.chmod(0o755)


SETTINGS_HANDLER = "bin/ta_defender_endpoint_alerts_rh_settings.py"
SETTINGS_HANDLER_CALL = "        handler=AdminExternalHandler,\n"
SETTINGS_HANDLER_IMPORT = "from splunktaucclib.rest_handler.admin_external import AdminExternalHandler\n"


def use_settings_handler(app: Path) -> None:
    """Point UCC's generated settings handler at `mde_settings_handler.SettingsHandler`.

    UCC 6.6 gives settings tabs no `restHandlerModule`; this is the one line that differs.
    A generated file of another shape stops the build rather than ship without the check.
    """
    path = app / SETTINGS_HANDLER
    text = path.read_text(encoding="utf-8")
    if text.count(SETTINGS_HANDLER_CALL) != 1 or text.count(SETTINGS_HANDLER_IMPORT) != 1:
        raise RuntimeError(
            f"{SETTINGS_HANDLER}: ucc-gen wrote an unexpected handler call; update additional_packaging.py"
        )
    text = text.replace(SETTINGS_HANDLER_CALL, "        handler=SettingsHandler,\n")
    text = text.replace(
        SETTINGS_HANDLER_IMPORT, SETTINGS_HANDLER_IMPORT + "from mde_settings_handler import SettingsHandler\n"
    )
    path.write_text(text, encoding="utf-8")


def cleanup_output_files(output_path: str, ta_name: str) -> None:
    app = Path(output_path) / ta_name
    use_settings_handler(app)
    lib = app / "lib"
    for pattern in LEFTOVERS:
        for leftover in lib.glob(pattern):
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
    for stray in ("requirements.txt", "exclude.txt"):
        (lib / stray).unlink(missing_ok=True)
    remove_optional_accelerators(lib)
    for cache in app.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    normalize_modes(app)


def additional_packaging(ta_name: str) -> None:
    """Nothing to do here: all post-processing needs the output path (see above)."""
