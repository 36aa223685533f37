"""wheel.* and metadata.*: .dist-info/WHEEL and METADATA against the file name.

METADATA is parsed and validated by packaging.metadata (what PyPI itself uses); the long
description is rendered with readme_renderer exactly as ``twine check`` does.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import io
from collections.abc import Iterator
from functools import lru_cache

from packaging.metadata import ExceptionGroup, InvalidMetadata, Metadata, parse_email
from packaging.tags import parse_tag
from packaging.utils import canonicalize_name, canonicalize_version
from packaging.version import InvalidVersion, Version

from harness.checks import entrypoints
from harness.findings import Finding, error, warning
from harness.wheel import Wheel


def _read_text(
    wheel: Wheel, path: str, *, missing: str, invalid: str
) -> tuple[str | None, Finding | None]:
    """A .dist-info text file: its text, or the finding that says why there is none."""
    raw = wheel.contents.get(path)
    if raw is None:
        return None, error(missing, f"no {path.rsplit('/', 1)[-1]} file", path=path)
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, error(invalid, f"not UTF-8: {exc}", path=path)


def check(wheel: Wheel) -> Iterator[Finding]:
    if not wheel.readable:
        return
    dist_info = wheel.dist_info
    if dist_info is None:
        yield error("wheel.missing", "no .dist-info directory in the wheel")
        yield error("metadata.missing", "no .dist-info directory in the wheel")
        return
    others = [d for d in wheel.dist_info_dirs if d != dist_info]
    for d in others:
        yield error("metadata.mismatch", "more than one .dist-info directory", path=d)
    yield from _check_dist_info_name(wheel, dist_info)
    yield from _check_wheel_file(wheel, dist_info)
    yield from _check_metadata(wheel, dist_info)
    yield from entrypoints.check(wheel, dist_info)


def _check_dist_info_name(wheel: Wheel, dist_info: str) -> Iterator[Finding]:
    """The .dist-info directory and the file name's own spelling of the name.

    PyPI (warehouse/forklift/legacy.py) takes ``name`` and ``version`` verbatim from the
    file name (``filename.split("-", 2)``), looks for WHEEL, METADATA, RECORD, entry_points.txt
    and the license files under ``{name}-{version}.dist-info/``, and refuses a file name whose
    name part is not the normalized project name with ``_`` (``Foo_Bar-1.0-...`` is refused,
    ``foo_bar-1.0-...`` is taken)."""
    if wheel.name is None or wheel.version is None:
        return
    name_part, _, rest = wheel.filename.partition("-")
    version_part = rest.partition("-")[0]
    normalized = str(wheel.name).replace("-", "_")
    if name_part != normalized:
        yield error(
            "filename.invalid",
            f"the file name starts with {name_part!r}, not the normalized project name "
            f"{normalized!r} (binary distribution format, escaping): PyPI refuses the upload",
            name=name_part,
            expected=normalized,
        )
    expected_dir = f"{name_part}-{version_part}.dist-info"
    if dist_info == expected_dir:
        return
    stem = dist_info[: -len(".dist-info")]
    dname, sep, dversion = stem.rpartition("-")
    same = bool(sep) and canonicalize_name(dname) == wheel.name
    if same:
        try:
            same = Version(dversion) == wheel.version
        except InvalidVersion:
            same = False
    if same:
        message = (
            f".dist-info directory is {dist_info!r}, the file name says {expected_dir!r}: "
            "PyPI looks for WHEEL and METADATA there and refuses the upload"
        )
    else:
        message = (
            f".dist-info directory does not match the file name's {wheel.name} {wheel.version}"
        )
    yield error("metadata.mismatch", message, path=dist_info, expected=expected_dir)


def _check_wheel_file(wheel: Wheel, dist_info: str) -> Iterator[Finding]:
    path = f"{dist_info}/WHEEL"
    text, problem = _read_text(wheel, path, missing="wheel.missing", invalid="wheel.invalid")
    if text is None:
        if problem is not None:
            yield problem
        return
    msg = email.parser.Parser(policy=email.policy.compat32).parsestr(text)
    defects = [str(d) for d in msg.defects]
    version = msg.get("Wheel-Version")
    if version is None:
        yield error("wheel.invalid", "no Wheel-Version field", path=path, defects=defects)
        return
    try:
        major = int(str(version).strip().split(".")[0])
    except ValueError:
        yield error("wheel.invalid", f"unparsable Wheel-Version {version!r}", path=path)
        return
    if major != 1:
        yield error("wheel.invalid", f"unsupported Wheel-Version {version!r}", path=path)
    root_is_purelib = str(msg.get("Root-Is-Purelib", "")).strip().lower()
    if root_is_purelib not in ("true", "false"):
        yield error(
            "wheel.invalid",
            f"Root-Is-Purelib must be true or false, not {root_is_purelib!r}",
            path=path,
        )
    elif root_is_purelib == "true" and wheel.binaries():
        yield warning(
            "wheel.root-is-purelib",
            "Root-Is-Purelib is true but the wheel contains binaries "
            "(installs them into purelib; distributions may split lib/lib64)",
            path=path,
            binaries=[m.name for m, _ in wheel.binaries()][:10],
        )
    tag_lines = msg.get_all("Tag") or []
    declared: set[str] = set()
    for line in tag_lines:
        try:
            declared.update(str(t) for t in parse_tag(str(line).strip()))
        except ValueError:
            yield error("wheel.invalid", f"unparsable Tag line {line!r}", path=path)
    if not tag_lines:
        yield error("wheel.tag-mismatch", "WHEEL has no Tag lines", path=path)
    elif wheel.tags and declared != set(wheel.tag_strings):
        yield error(
            "wheel.tag-mismatch",
            "WHEEL Tag lines differ from the file name's tags",
            path=path,
            wheel_file=sorted(declared),
            file_name=wheel.tag_strings,
        )


def _check_metadata(wheel: Wheel, dist_info: str) -> Iterator[Finding]:
    path = f"{dist_info}/METADATA"
    text, problem = _read_text(wheel, path, missing="metadata.missing", invalid="metadata.invalid")
    if text is None:
        if problem is not None:
            yield problem
        return
    meta, problems = _parse_metadata(text)
    for fatal, message, field in problems:
        if fatal:
            yield error("metadata.invalid", message, path=path, field=field)
        else:
            yield warning("metadata.invalid", message, path=path, field=field)
    if meta is None:
        return
    if wheel.name is not None and canonicalize_name(meta.name) != wheel.name:
        yield error(
            "metadata.mismatch",
            f"METADATA Name {meta.name!r} differs from the file name's {wheel.name!r}",
            path=path,
        )
    if wheel.version is not None and meta.version != wheel.version:
        yield error(
            "metadata.mismatch",
            f"METADATA Version {meta.version} differs from the file name's "
            f"{canonicalize_version(wheel.version)}",
            path=path,
        )
    yield from _check_license(wheel, dist_info, meta, path)
    yield from _check_render(meta, path)


def _check_license(wheel: Wheel, dist_info: str, meta: Metadata, path: str) -> Iterator[Finding]:
    """PEP 639 as PyPI enforces it. License-Expression's SPDX syntax and License-File's path
    syntax are validated by packaging.metadata (metadata.invalid); what it cannot see is
    whether each License-File is in the wheel, and License beside License-Expression."""
    try:
        expression = meta.license_expression
        legacy = meta.license
        files = meta.license_files or []
        metadata_version = Version(meta.metadata_version)
    except (InvalidMetadata, InvalidVersion):
        return  # reported by the validation above
    if expression and legacy:
        yield error(
            "metadata.license",
            "License and License-Expression are both present; since Metadata-Version 2.4 "
            "they are mutually exclusive (PEP 639) and PyPI refuses the upload: keep "
            "License-Expression only",
            path=path,
            license_expression=expression,
        )
    if metadata_version < Version("2.4"):
        # License-File is undefined before 2.4 (a metadata.invalid warning above); twine
        # drops it from the upload, so PyPI never looks for the files.
        return
    names = {m.name for m in wheel.members if not m.is_dir}
    for license_file in files:
        where = f"{dist_info}/licenses/{license_file}"
        if where in names:
            continue
        beside = f"{dist_info}/{license_file}"
        hint = f" (it is at {beside}, where setuptools < 77 put it)" if beside in names else ""
        yield error(
            "metadata.license",
            f"License-File {license_file!r} is not in the wheel at {where}{hint}; PEP 639 "
            "puts license files under .dist-info/licenses/ and PyPI refuses the upload",
            path=path,
            license_file=license_file,
            expected=where,
        )


@lru_cache(maxsize=8)
def _parse_metadata(text: str) -> tuple[Metadata | None, tuple[tuple[bool, str, str | None], ...]]:
    """METADATA parsed and validated by packaging: (the Metadata, or None when a problem is
    fatal; the problems as (fatal, message, field)). The wheels of a release share a few
    distinct METADATA files (62 yappi wheels: 4), so each is parsed once per run."""
    raw_meta, _unparsed = parse_email(text)
    try:
        return Metadata.from_raw(raw_meta, validate=True), ()
    except ExceptionGroup as group:
        problems = []
        for exc in group.exceptions:
            field = exc.field if isinstance(exc, InvalidMetadata) else None
            # "introduced in metadata version": e.g. License-File in Metadata-Version 2.1, as
            # setuptools < 77 wrote it: PyPI accepted thousands of such uploads; worth
            # fixing, not a release blocker (a warning). Anything else is fatal.
            fatal = "introduced in metadata version" not in str(exc)
            problems.append((fatal, str(exc), field))
        if any(fatal for fatal, _, _ in problems):
            return None, tuple(problems)
        return Metadata.from_raw(raw_meta, validate=False), tuple(problems)


def _check_render(meta: Metadata, path: str) -> Iterator[Finding]:
    """Render the long description as twine check / PyPI would."""
    description = meta.description
    if not description or not description.strip():
        return
    content_type = (meta.description_content_type or "text/x-rst").strip()
    # All wheels of a release share one description: render it once per run.
    for code, message in _render_problems(description, content_type):
        yield error(code, message, path=path, content_type=content_type)


# Descriptions that can make docutils/markdown explode (megabytes of text, '>' nested
# thousands deep, tables thousands of columns wide) are rendered in a child process with
# CPU and memory limits; ordinary ones in-process (no cost for the common case).
RENDER_INLINE_MAX = 64 * 1024
RENDER_MAX_QUOTE_DEPTH = 32
RENDER_MAX_PIPES = 256
RENDER_CPU_S = 20
RENDER_MEMORY = 1024 * 1024**2
_RENDER_CHILD = """
import json, resource, sys
cpu, mem = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
from harness.checks.metadata import _render
text = sys.stdin.buffer.read().decode("utf-8", "surrogatepass")
print(json.dumps(list(_render(text, sys.argv[3]))))
"""


def _risky(description: str) -> bool:
    if len(description) > RENDER_INLINE_MAX:
        return True
    for line in description.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(">"):
            depth = len(stripped) - len(stripped.lstrip("> "))
            if depth > RENDER_MAX_QUOTE_DEPTH:
                return True
        if line.count("|") > RENDER_MAX_PIPES:
            return True
    return False


@lru_cache(maxsize=16)
def _render_problems(description: str, content_type: str) -> tuple[tuple[str, str], ...]:
    if _risky(description):
        return tuple(_render_bounded(description, content_type))
    return tuple(_render(description, content_type))


def _render_bounded(description: str, content_type: str) -> Iterator[tuple[str, str]]:
    import json
    import sys

    from harness import proc

    done = proc.run(
        [sys.executable, "-c", _RENDER_CHILD, str(RENDER_CPU_S), str(RENDER_MEMORY), content_type],
        input_text=description.encode("utf-8", "replace").decode("utf-8"),
        timeout=RENDER_CPU_S * 2,
        check=False,
        capture_bytes=256 * 1024,
    )
    if done.returncode == 0 and not done.timed_out:
        try:
            for code, message in json.loads(done.stdout.strip().splitlines()[-1]):
                yield (str(code), str(message))
        except (ValueError, IndexError, TypeError):
            pass
        else:
            return
    yield (
        "metadata.render",
        f"long description ({len(description)} characters) could not be rendered within "
        f"{RENDER_CPU_S} s of CPU and {RENDER_MEMORY // 1024**2} MiB: PyPI would not render "
        "it either",
    )


def _render(description: str, content_type: str) -> Iterator[tuple[str, str]]:
    msg = email.message.EmailMessage()
    msg["content-type"] = content_type
    ctype = msg.get_content_type()
    params = dict(msg["content-type"].params)
    # Imported here: docutils is the slowest import of the tool and most wheels never
    # need it (a description of plain text or no description at all).
    if ctype == "text/plain":
        return
    if ctype == "text/x-rst":
        import readme_renderer.rst

        stream = io.StringIO()
        rendered = readme_renderer.rst.render(description, stream=stream)
        if rendered is None:
            detail = " ".join(stream.getvalue().split())[:300]
            yield (
                "metadata.render",
                "long description (reStructuredText) would not render on PyPI"
                + (f": {detail}" if detail else ""),
            )
        return
    if ctype == "text/markdown":
        variant = params.get("variant", "GFM")
        if variant not in ("GFM", "CommonMark"):
            yield ("metadata.render", f"unknown Markdown variant {variant!r}")
            return
        if not _markdown_renders(description, variant):
            yield ("metadata.render", "long description (Markdown) would not render")
        return
    yield (
        "metadata.render",
        f"Description-Content-Type {content_type!r} is not one PyPI renders "
        "(text/plain, text/x-rst, text/markdown)",
    )


def _markdown_renders(description: str, variant: str) -> bool:
    """Whether ``readme_renderer.markdown.render`` (twine check's, PyPI's) returns HTML.

    It renders with comrak, colours fenced code blocks with Pygments, then cleans with nh3;
    it returns None only when comrak is missing or renders nothing, or when nh3 refuses.
    The Pygments step rewrites the inside of ``<pre>`` blocks and cannot make it return
    None, yet it is most of its CPU (each lexer's regexes are compiled on first use), so
    this runs the same steps without it: the same answer for a fraction of the cost
    (tests/unit/test_parse_once.py pins the equivalence).
    """
    import readme_renderer.markdown
    from readme_renderer.clean import clean

    renderer = readme_renderer.markdown.variants.get(variant)
    if renderer is None:
        return False
    rendered = renderer(description)
    return bool(rendered) and clean(rendered) is not None
