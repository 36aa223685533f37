"""entrypoints.invalid: .dist-info/entry_points.txt as PyPI and pip read it.

PyPI (warehouse/utils/wheel.py, ``validate_entrypoints``, since 2026-05) refuses an upload
whose entry_points.txt is not UTF-8, is not an INI file as ``configparser`` reads it with
``=`` as the only delimiter and case-sensitive keys (so duplicate sections or keys, a line
without ``=``, or an entry before any section are refused), or names a ``console_scripts``
or ``gui_scripts`` entry with anything but ``[\\w.-]`` (no path separators, no spaces).

pip refuses to install a script entry point whose value is not ``module:callable``
("Invalid script entry point"), so a script value that is not an object reference with a
callable part is an error too. In other groups the value is read by the application, not
the installer: a value that is not an object reference (the Entry points specification's
``importable.module:object.attr [extras]``) is a warning.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Iterator

from harness.findings import Finding, error, warning
from harness.wheel import Wheel

SCRIPT_GROUPS = ("console_scripts", "gui_scripts")
_SCRIPT_NAME = re.compile(r"[\w.-]+")
# The Entry points specification's own pattern for an object reference.
_OBJECT_REFERENCE = re.compile(
    r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$"
)


class _CaseSensitive(configparser.ConfigParser):
    def optionxform(self, optionstr: str) -> str:
        return optionstr


def check(wheel: Wheel, dist_info: str) -> Iterator[Finding]:
    path = f"{dist_info}/entry_points.txt"
    raw = wheel.contents.get(path)
    if raw is None:
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield error("entrypoints.invalid", f"not UTF-8 ({exc}): PyPI refuses it", path=path)
        return
    parser = _CaseSensitive(delimiters=("=",), interpolation=None)
    try:
        parser.read_string(text, source="entry_points.txt")
    except configparser.Error as exc:
        detail = " ".join(str(exc).split())[:300]
        yield error(
            "entrypoints.invalid",
            f"not an INI file as PyPI reads it: {detail}; PyPI refuses the upload",
            path=path,
        )
        return
    for group in parser.sections():
        script = group in SCRIPT_GROUPS
        for name, value in parser.items(group, raw=True):
            if script and not _SCRIPT_NAME.fullmatch(name):
                yield error(
                    "entrypoints.invalid",
                    f"[{group}] {name!r}: a script name may use only letters, digits, "
                    "'_', '.' and '-' (no path separators or spaces); PyPI refuses the upload",
                    path=path,
                    group=group,
                    name=name,
                )
            problem = _reference_problem(value, need_callable=script)
            if problem is None:
                continue
            if script:
                yield error(
                    "entrypoints.invalid",
                    f"[{group}] {name} = {value!r}: {problem}; pip refuses to install it "
                    "(invalid script entry point)",
                    path=path,
                    group=group,
                    name=name,
                )
            else:
                yield warning(
                    "entrypoints.invalid",
                    f"[{group}] {name} = {value!r}: {problem} (the Entry points "
                    "specification); whatever loads this group will fail on it",
                    path=path,
                    group=group,
                    name=name,
                )


def _reference_problem(value: str, *, need_callable: bool) -> str | None:
    m = _OBJECT_REFERENCE.match(value.strip())
    if m is None:
        return "not an object reference (importable.module:object.attr)"
    if any(not part for part in m["module"].split(".")):
        return f"{m['module']!r} is not a dotted module name"
    attr = m["attr"]
    if attr is not None and any(not part for part in attr.split(".")):
        return f"{attr!r} is not a dotted attribute name"
    if need_callable and attr is None:
        return "a script needs module:callable, not a bare module"
    return None
