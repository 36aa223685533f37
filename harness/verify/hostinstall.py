"""A cell's venv and install, done on this machine into the cell's directory.

When a cell's directory is on this machine (a host session, or a shared container's cell
directory, bind-mounted from here: harness.envs.containers), nothing of the env has to
run for the venv or the install, and under qemu that is most of a cell's time (an arm64
cell spent ~25 s making its venv and ~48 s in `pip install` at load ~5):

- **venv**: a copy of the env's venv template (made once per env by the env's own
  ``venv`` module, harness/smoke/mkvenv.py), its old path rewritten in its text files
  (pyvenv.cfg, the activate scripts): a venv is relocatable that way;
- **install**: pypa/installer unpacks the wheel into the template's install scheme
  (``sysconfig.get_paths()`` as the template's own python reported it), writes the
  console scripts with the venv's python in their shebang, RECORD and INSTALLER; the
  wheel's bytes are hashed as they are read, so the files installed come from the file
  whose sha256 the cell expects;
- **pick**: pip's choice, from the env's own pip's tag list (``get_supported()``, probed in
  the env) and pip's candidate order (harness.coverage.pick), over the cell's whole
  wheelhouse: the same decision `pip install --no-index --find-links` makes there
  (tests/integration/test_pick_replica.py compares the two in every built env).

The cell's own processes (the smoke suites, the project's test command) still run in the
env, as the env's interpreter, on the venv made here.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.records import RecordEntry
from installer.sources import WheelFile
from installer.utils import Scheme

from harness.verify.pipcache import VenvTemplate

INSTALLER = b"harness\n"  # .dist-info/INSTALLER of what the harness installed
TEXT_LIMIT = 1 << 20  # files of a venv template worth rewriting are small text files


@dataclass
class Confined(SchemeDictionaryDestination):
    """installer's destination, refusing to write through a symlink out of the venv: the
    venv's ``bin/python`` links to the env's interpreter, a path that on this machine
    may be nothing (a wheel's ``.data/scripts/python`` would create it) or this
    machine's own interpreter. installer itself rejects ``..`` in names."""

    def write_to_fs(
        self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        root = os.path.realpath(self.venv_root)
        target = os.path.realpath(os.path.join(self.scheme_dict[scheme], path))
        if os.path.commonpath([root, target]) != root:
            raise ValueError(f"{path}: would be written outside the venv ({target})")
        return super().write_to_fs(scheme, path, stream, is_executable)

    venv_root: str = ""


class InstallError(Exception):
    """The wheel could not be installed (its message is the step's output)."""


@dataclass(frozen=True, kw_only=True)
class Installed:
    sha256: str  # of the bytes the install read
    files: int  # members of the wheel


def copy_venv(template: VenvTemplate, dest: Path, path_in_env: str) -> int:
    """Copy the template to ``dest`` (seen as ``path_in_env`` by the env), its old path
    rewritten; returns the number of files rewritten."""
    shutil.copytree(template.venv, dest, symlinks=True)
    old, new = template.made_at.encode(), path_in_env.encode()
    rewritten = 0
    for path in dest.rglob("*"):
        if path.is_symlink() or not path.is_file() or path.stat().st_size > TEXT_LIMIT:
            continue
        data = path.read_bytes()
        if old in data:
            path.write_bytes(data.replace(old, new))
            rewritten += 1
    return rewritten


def scheme(template: VenvTemplate, venv: Path, python_short: str, project: str) -> dict[str, str]:
    """installer's scheme: the template's paths under ``venv`` (headers where pip puts a
    venv's: include/site/pythonX.Y/NAME)."""
    paths = {key: str(venv / rel) for key, rel in template.paths.items()}
    return {
        "purelib": paths["purelib"],
        "platlib": paths["platlib"],
        "scripts": paths["scripts"],
        "data": paths["data"],
        "headers": str(venv / "include" / "site" / f"python{python_short}" / project),
    }


def install_wheel(
    wheel: Path,
    *,
    sha256: str,
    template: VenvTemplate,
    venv: Path,
    venv_in_env: str,
    python_short: str,
) -> Installed:
    """Install ``wheel`` into ``venv`` (seen as ``venv_in_env`` in the env); InstallError
    when its bytes are not the expected ones or it cannot be installed."""
    digest = hashlib.sha256()
    with wheel.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise InstallError(f"{wheel.name}: sha256 {digest.hexdigest()}, expected {sha256}")
        fh.seek(0)
        try:
            with zipfile.ZipFile(fh) as zf:
                source = WheelFile(zf)
                project = re.sub(r"[-_.]+", "_", source.distribution)
                paths = scheme(template, venv, python_short, project)
                scripts_in_env = venv_in_env + paths["scripts"][len(str(venv)) :]
                destination = Confined(
                    paths,
                    interpreter=f"{scripts_in_env}/python",
                    script_kind="posix",
                    bytecode_optimization_levels=(),
                    venv_root=str(venv),
                )
                install(source, destination, additional_metadata={"INSTALLER": INSTALLER})
                files = len(zf.namelist())
        except InstallError:
            raise
        except Exception as exc:  # any malformed wheel: the step's failure
            raise InstallError(f"{wheel.name}: {type(exc).__name__}: {exc}") from exc
    return Installed(sha256=digest.hexdigest(), files=files)
