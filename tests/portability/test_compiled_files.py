"""Every compiled file in the package must load on every platform Splunk runs the add-on on."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path, PurePosixPath

import pytest

from tests.portability.compiled import Target, describe, problems, read_package
from tests.pythons import find_python

LINUX_X86_39 = Target("linux x86_64 Python 3.9", "linux", "x86_64", (3, 9), (2, 28), "linux_x86_64")


def test_built_package_loads_on_every_platform(package_path: Path) -> None:
    files = read_package(package_path)
    assert problems(files) == []
    # Stronger: every dependency is pure Python, so there is nothing platform-specific to go wrong.
    assert [str(item.path) for item in describe(files)] == [], "a compiled file entered the package"


def _system_elf() -> bytes:
    """A real x86_64 ELF shared object from this machine's own Python (glibc >= 2.34 here)."""
    import _ssl  # type: ignore[import-not-found]  # noqa: F401  (any compiled stdlib module)

    return Path(sys.modules["_ssl"].__file__ or "").read_bytes()


@pytest.mark.skipif(sys.platform != "linux", reason="needs a Linux ELF to play with")
def test_a_cp311_only_module_is_named() -> None:
    files = {PurePosixPath("lib/fastjson/_speed.cpython-311-x86_64-linux-gnu.so"): _system_elf()}
    found = problems(files, [LINUX_X86_39])
    assert found == [
        "linux x86_64 Python 3.9: no loadable build of module fastjson._speed "
        "(have: lib/fastjson/_speed.cpython-311-x86_64-linux-gnu.so)"
    ]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc builds the glibc-2.34 probe")
def test_a_module_needing_glibc_234_is_named(tmp_path: Path) -> None:
    # pthread_create moved into libc in glibc 2.34: this library needs GLIBC_2.34.
    source = tmp_path / "probe.c"
    source.write_text(
        "#include <pthread.h>\nvoid *run(void *a){return a;}\n"
        "int start(void){pthread_t t; return pthread_create(&t, 0, run, 0);}\n"
    )
    library = tmp_path / "probe.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(library), str(source), "-pthread"], check=True)
    files = {PurePosixPath("lib/3rdparty/linux_x86_64/probe.abi3.so"): library.read_bytes()}
    found = problems(files, [LINUX_X86_39])
    assert len(found) == 2, found
    assert "lib/3rdparty/linux_x86_64/probe.abi3.so needs glibc 2.34" in found[0]


def test_wrong_architecture_and_pure_fallback() -> None:
    elf = _system_elf()
    aarch64 = Target("linux aarch64 Python 3.9", "linux", "aarch64", (3, 9), (2, 40), "linux_aarch64")
    misplaced = {PurePosixPath("lib/3rdparty/linux_aarch64/_x.abi3.so"): elf}
    assert problems(misplaced, [aarch64])[0].endswith("_x.abi3.so is built for x86_64")
    # an accelerator with a pure-Python twin may be missing on a platform
    accelerated = {
        PurePosixPath("lib/pkg/md.cpython-311-x86_64-linux-gnu.so"): elf,
        PurePosixPath("lib/pkg/md.py"): b"",
    }
    assert problems(accelerated, [LINUX_X86_39]) == []


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_package_imports_under_splunk_python(package_path: Path, tmp_path: Path, version: str) -> None:
    """Really import msal and sign with cryptography under Splunk's Python versions."""
    python = find_python(version)
    if python is None:
        pytest.skip(f"python{version} is not installed on this machine")
        return
    with tarfile.open(package_path) as archive:
        archive.extractall(tmp_path, filter="data")
    app = next(tmp_path.iterdir())
    script = (
        "import sys; sys.path[:0] = [sys.argv[1] + '/bin', sys.argv[1] + '/lib']\n"
        "import mde_alerts.modinput, msal, requests, solnlib.conf_manager, rsa\n"
        "from mde_alerts.client_assertion import CertificateAssertion\n"
        "public, private = rsa.newkeys(1024)\n"
        "jwt = CertificateAssertion('c', private.save_pkcs1().decode(), 'ab' * 20).sign('https://login/t/token')\n"
        "head, body, signature = jwt.split('.')\n"
        "import base64; pad = lambda t: base64.urlsafe_b64decode(t + '=' * (-len(t) % 4))\n"
        "rsa.verify((head + '.' + body).encode(), pad(signature), public)\n"
        "print('cryptography' in sys.modules, len(jwt.split('.')))\n"
    )
    result = subprocess.run([python, "-c", script, str(app)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False 3"  # signed and verified without any compiled library
