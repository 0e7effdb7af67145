"""Which compiled files in a built add-on would load on which Splunk platform.

Splunk runs the add-on with its own Python 3.9 or 3.13 on Linux x86_64, Linux aarch64
(RHEL 8: glibc 2.28) and Windows x64. A compiled module built on the build machine
(CPython 3.11, glibc 2.36) loads on none of them. This reads every .so/.pyd in the
package (ELF machine and GLIBC symbol versions, PE machine, the interpreter tag in the
file name) and reports, for each platform, every module that would not import.
"""

from __future__ import annotations

import re
import struct
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

COMPILED_SUFFIXES = (".so", ".pyd")


@dataclass(frozen=True)
class Target:
    name: str
    os: str  # linux | windows
    arch: str  # x86_64 | aarch64
    python: tuple[int, int]
    glibc: tuple[int, int] = (0, 0)
    folder: str = ""  # lib/3rdparty/<folder> that mde_alerts.platform_libs adds

    def __str__(self) -> str:
        return self.name


MATRIX = [
    Target(
        f"{os_} {arch} Python {py[0]}.{py[1]}", os_, arch, py, glibc, f"{os_}_{'amd64' if os_ == 'windows' else arch}"
    )
    for os_, arch, glibc in [("linux", "x86_64", (2, 28)), ("linux", "aarch64", (2, 28)), ("windows", "x86_64", (0, 0))]
    for py in [(3, 9), (3, 13)]
]

_CPYTHON_SO = re.compile(r"^(?P<module>[^.]+)\.cpython-(?P<py>\d+)-(?P<arch>[a-z0-9_]+)-linux-gnu\.so$")
_ABI3_SO = re.compile(r"^(?P<module>[^.]+)\.abi3\.so$")
_CP_PYD = re.compile(r"^(?P<module>[^.]+)\.cp(?P<py>\d+)-win_(?P<arch>[a-z0-9]+)\.pyd$")
_PLAIN = re.compile(r"^(?P<module>[^.]+)\.(so|pyd)$")
_ELF_MACHINES = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64"}
_PE_MACHINES = {0x8664: "x86_64", 0xAA64: "aarch64", 0x14C: "x86"}


@dataclass(frozen=True)
class CompiledFile:
    path: PurePosixPath  # inside the app, e.g. lib/3rdparty/linux_x86_64/_cffi_backend....so
    binary: str  # elf | pe | unknown
    arch: str
    glibc: tuple[int, int]
    module: str  # dotted import name relative to its sys.path entry
    python: tuple[int, int] | None  # interpreter the file name is for; None: any (abi3/untagged)
    tag_arch: str | None
    abi3_min: tuple[int, int] | None


def _elf_facts(data: bytes) -> tuple[str, tuple[int, int]]:
    import io

    elf = ELFFile(io.BytesIO(data))
    arch = _ELF_MACHINES.get(elf.header["e_machine"], str(elf.header["e_machine"]))
    newest = (0, 0)
    for section in elf.iter_sections():
        if isinstance(section, GNUVerNeedSection):
            for _verneed, auxiliaries in section.iter_versions():
                for aux in auxiliaries:
                    match = re.match(r"GLIBC_(\d+)\.(\d+)", aux.name)
                    if match:
                        newest = max(newest, (int(match.group(1)), int(match.group(2))))
    return arch, newest


def _pe_arch(data: bytes) -> str:
    offset = struct.unpack_from("<I", data, 0x3C)[0]
    if data[offset : offset + 4] != b"PE\0\0":
        return "unknown"
    machine = struct.unpack_from("<H", data, offset + 4)[0]
    return _PE_MACHINES.get(machine, hex(machine))


def _split_py(digits: str) -> tuple[int, int]:
    return int(digits[0]), int(digits[1:])


def _sys_path_root(path: PurePosixPath) -> PurePosixPath:
    parts = path.parts
    if len(parts) >= 3 and parts[0] == "lib" and parts[1] == "3rdparty":
        return PurePosixPath(*parts[:3])
    return PurePosixPath(parts[0])  # lib/ or bin/


def _abi3_min(files: dict[PurePosixPath, bytes], root: PurePosixPath) -> tuple[int, int] | None:
    """The oldest Python an abi3 wheel in that folder was built for (its WHEEL tag)."""
    best: tuple[int, int] | None = None
    for path, data in files.items():
        if path.parent.parent == root and path.name == "WHEEL" and path.parent.name.endswith(".dist-info"):
            for tag in re.findall(r"^Tag: cp(\d+)-abi3-", data.decode(errors="replace"), re.M):
                version = _split_py(tag)
                best = version if best is None else min(best, version)
    return best


def describe(files: dict[PurePosixPath, bytes]) -> list[CompiledFile]:
    compiled = []
    for path, data in sorted(files.items()):
        if not path.name.endswith(COMPILED_SUFFIXES):
            continue
        if data[:4] == b"\x7fELF":
            binary, (arch, glibc) = "elf", _elf_facts(data)
        elif data[:2] == b"MZ":
            binary, arch, glibc = "pe", _pe_arch(data), (0, 0)
        else:
            binary, arch, glibc = "unknown", "unknown", (0, 0)
        root = _sys_path_root(path)
        package = ".".join(path.parent.relative_to(root).parts)
        python: tuple[int, int] | None = None
        tag_arch: str | None = None
        abi3_min = None
        for pattern in (_CPYTHON_SO, _CP_PYD):
            match = pattern.match(path.name)
            if match:
                python, tag_arch = _split_py(match.group("py")), match.group("arch")
                break
        else:
            match = _ABI3_SO.match(path.name) or _PLAIN.match(path.name)
            if match:
                abi3_min = _abi3_min(files, root)
        module_name = match.group("module") if match else path.name
        compiled.append(
            CompiledFile(path, binary, arch, glibc, f"{package}.{module_name}".lstrip("."), python, tag_arch, abi3_min)
        )
    return compiled


def importable_by(target: Target, item: CompiledFile) -> bool:
    """Would the target's interpreter consider this file when importing its module?"""
    root = _sys_path_root(item.path)
    if root.parts[:2] == ("lib", "3rdparty") and root.name != target.folder:
        return False  # another platform's folder is never on sys.path
    name = item.path.name
    if target.os == "linux":
        if name.endswith(".pyd"):
            return False
        if item.python is not None:
            return item.python == target.python
        return True  # .abi3.so and plain .so
    if not name.endswith(".pyd"):
        return False
    return item.python is None or item.python == target.python


def load_problem(target: Target, item: CompiledFile) -> str | None:
    """Why the file would fail to load on the target, or None."""
    wanted = "elf" if target.os == "linux" else "pe"
    if item.binary != wanted:
        return f"is a {item.binary} binary, not {wanted}"
    if item.arch != target.arch:
        return f"is built for {item.arch}"
    if item.tag_arch and item.tag_arch.replace("amd64", "x86_64") != target.arch:
        return f"is named for {item.tag_arch}"
    if target.os == "linux" and item.glibc > target.glibc:
        return f"needs glibc {item.glibc[0]}.{item.glibc[1]}"
    if item.python is None and item.abi3_min is not None and item.abi3_min > target.python:
        return f"is abi3 for Python >= {item.abi3_min[0]}.{item.abi3_min[1]}"
    return None


def problems(files: dict[PurePosixPath, bytes], matrix: list[Target] = MATRIX) -> list[str]:
    compiled = describe(files)
    sources = {str(path)[: -len(".py")] for path in files if path.suffix == ".py"}
    found = []
    for module in sorted({item.module for item in compiled}):
        candidates = [item for item in compiled if item.module == module]
        has_pure_twin = any(str(item.path.parent / item.module.split(".")[-1]) in sources for item in candidates)
        for target in matrix:
            usable = [item for item in candidates if importable_by(target, item)]
            broken = [(item, load_problem(target, item)) for item in usable]
            for item, problem in broken:
                if problem:
                    found.append(f"{target}: {item.path} {problem}")
            if not any(problem is None for _, problem in broken) and not has_pure_twin:
                names = ", ".join(str(item.path) for item in candidates)
                found.append(f"{target}: no loadable build of module {module} (have: {names})")
    return found


def read_package(package: Path) -> dict[PurePosixPath, bytes]:
    files = {}
    with tarfile.open(package) as archive:
        for member in archive.getmembers():
            if member.isfile():
                parts = PurePosixPath(member.name).parts
                handle = archive.extractfile(member)
                if handle is not None:
                    files[PurePosixPath(*parts[1:])] = handle.read()
    return files
