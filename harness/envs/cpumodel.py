"""CPU models an env can declare (``cpu = "x86-64-v1"``): the smoke steps' interpreter runs
under qemu user-mode with that model, so code beyond it dies with SIGILL as on a real CPU.

How, in a docker env: the host's static ``qemu-<arch>-static`` is bind-mounted read-only at
:data:`QEMU_TARGET`; after pip has installed the wheel (natively, at full speed),
``smoke/cpuwrap.py`` turns the venv's ``bin/python*`` into a two-line shell script that
``exec``s ``qemu -cpu MODEL -0 $0 <the real interpreter>``. Every later use of the venv's
python is emulated: the smoke suites, the user's test-command (``python -m pytest`` through
the activated venv), and subprocesses started with ``sys.executable``. Processes exec'd
from other binaries (a compiled helper, ``/usr/bin/python3`` by absolute path) run
natively: qemu user-mode emulates one process and its forks, not what it execs.

cpuwrap.py also puts a ``.pth`` hook in the venv that, on SIGILL, prints the faulting
address, the mapped file + offset and the instruction bytes (``HARNESS-SIGILL {json}``);
:func:`sigill_reason` turns that into the run's reason, the instruction disassembled here.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from harness.checks.cpu import Family, describe_instruction, elf_code, function_at
from harness.envs.base import EnvSpec, Mount
from harness.errors import InfraError

QEMU_TARGET = "/opt/wheel-harness/qemu"
SIGILL_EXIT = (132, -4)  # 128 + SIGILL from docker exec / a shell; -SIGILL from Popen
SIGILL_MARK = "HARNESS-SIGILL "
MAX_LIB = 256 << 20  # a library larger than this is not searched for the faulting bytes


class CpuModel(StrEnum):
    X86_64_V1 = "x86-64-v1"
    X86_64_V2 = "x86-64-v2"
    X86_64_V3 = "x86-64-v3"
    ARMV8_0 = "armv8.0"


@dataclass(frozen=True, kw_only=True)
class Emulation:
    model: CpuModel
    arch: str  # platform.machine() the env must have
    qemu: str  # the host binary (qemu-user-static)
    qemu_cpu: str  # qemu -cpu argument
    label: str  # for messages: "x86-64-v1 (qemu64)"


# qemu 7.2 (Debian bookworm) TCG: AVX2 code raises SIGILL under qemu64 and Nehalem and runs
# under Haswell. Haswell's features TCG lacks are switched off (else qemu warns each start).
EMULATIONS: dict[CpuModel, Emulation] = {
    CpuModel.X86_64_V1: Emulation(
        model=CpuModel.X86_64_V1, arch="x86_64", qemu="qemu-x86_64-static",
        qemu_cpu="qemu64", label="x86-64-v1 (qemu64)",
    ),
    CpuModel.X86_64_V2: Emulation(
        model=CpuModel.X86_64_V2, arch="x86_64", qemu="qemu-x86_64-static",
        qemu_cpu="Nehalem", label="x86-64-v2 (Nehalem)",
    ),
    CpuModel.X86_64_V3: Emulation(
        model=CpuModel.X86_64_V3, arch="x86_64", qemu="qemu-x86_64-static",
        qemu_cpu="Haswell,-pcid,-x2apic,-tsc-deadline,-hle,-invpcid,-rtm",
        label="x86-64-v3 (Haswell)",
    ),
    CpuModel.ARMV8_0: Emulation(
        model=CpuModel.ARMV8_0, arch="aarch64", qemu="qemu-aarch64-static",
        qemu_cpu="cortex-a53", label="armv8.0 (cortex-a53)",
    ),
}  # fmt: skip


_FAMILIES = {"x86_64": Family.X86_64, "aarch64": Family.AARCH64}


def emulation(spec: EnvSpec) -> Emulation | None:
    return EMULATIONS[CpuModel(spec.cpu)] if spec.cpu else None


def host_qemu(emu: Emulation) -> Path:
    found = shutil.which(emu.qemu) or shutil.which(emu.qemu.removesuffix("-static"))
    if not found:
        raise InfraError(
            f"cpu = {str(emu.model)!r} needs {emu.qemu} on this machine "
            "(Debian: apt-get install qemu-user-static)"
        )
    return Path(found).resolve()


def mounts(spec: EnvSpec) -> list[Mount]:
    """The qemu binary, read-only, for an env that declares a CPU model (else nothing)."""
    emu = emulation(spec)
    return [] if emu is None else [Mount(source=host_qemu(emu), target=QEMU_TARGET)]


def wrap_argv(spec: EnvSpec, venv_python: str, smoke_dir: str, venv_dir: str) -> list[str]:
    """The step that makes the venv's interpreter run under the env's CPU model."""
    emu = emulation(spec)
    assert emu is not None
    return [venv_python, f"{smoke_dir}/cpuwrap.py", venv_dir, QEMU_TARGET, emu.qemu_cpu, emu.arch]


def sigill_reason(
    spec: EnvSpec, returncode: int | None, output: str, *, machine: str, wheel: Path | None
) -> tuple[str, dict[str, object]] | None:
    """(reason, detail) when a smoke step died of SIGILL, else None."""
    emulated = "uncaught target signal 4 " in output
    if returncode not in SIGILL_EXIT and not emulated and SIGILL_MARK not in output:
        return None
    emu = emulation(spec)
    where = emu.label if emu is not None else f"this machine's {machine} CPU"
    reason = f"illegal instruction on {where}: the wheel needs a newer CPU than its tag promises"
    detail: dict[str, object] = {"cpu": str(emu.model) if emu else "", "signal": "SIGILL"}
    addr, code = _fault(output)
    if addr is not None:
        detail["address"] = addr
    if code:
        detail["bytes"] = code.hex()
        arch = emu.arch if emu is not None else machine
        family = _FAMILIES.get(arch)
        if family is not None:
            instruction = describe_instruction(family, code, addr or 0)
            where_in = _locate(wheel, code, family) if wheel is not None else None
            detail["instruction"] = instruction
            if where_in is not None:
                detail.update(where_in)
            at = (
                f" in {where_in['function']} ({where_in['library']}+{where_in['offset']:#x})"
                if where_in is not None
                else ""
            )
            if instruction:
                reason += f": {instruction}{at}"
    return reason, detail


_FAULT = re.compile(rf"^{SIGILL_MARK}addr=(\d{{1,20}})(?: bytes=([0-9a-f]{{2,64}}))?\s*$", re.M)


def _fault(output: str) -> tuple[int | None, bytes]:
    addr: int | None = None
    code = b""
    for m in _FAULT.finditer(output):
        addr = int(m[1])
        if m[2] and len(m[2]) % 2 == 0:
            code = bytes.fromhex(m[2])
    return addr, code


def _locate(wheel: Path, code: bytes, family: Family) -> dict[str, object] | None:
    """The wheel's binary, address and function holding ``code`` (the faulting bytes)."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                name = info.filename
                if not (name.endswith(".so") or ".so." in name) or info.file_size > MAX_LIB:
                    continue
                data = zf.read(info)
                if code not in data:
                    continue
                image = elf_code(data)
                if image is None or image.family is not family:
                    continue
                functions = image.functions()
                starts = [f[0] for f in functions]
                for base, text in image.regions:
                    i = text.find(code)
                    if i >= 0:
                        vaddr = base + i
                        return {  # names come from the wheel: data, bounded
                            "library": name.rsplit("/", 1)[-1][:200],
                            "member": name[:300],
                            "offset": vaddr,
                            "function": function_at(functions, starts, vaddr)[:200],
                        }
    except (OSError, zipfile.BadZipFile, ValueError, KeyError):
        return None
    except Exception:  # noqa: BLE001 - a diagnosis must never turn a failed cell into a crash
        return None
    return None
