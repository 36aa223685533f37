"""`harness envs list|build|prune`: the environments of the matrices, and their images."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

from harness import console, matrix
from harness.envs import environment
from harness.envs.base import EnvKind, EnvSpec, EnvStatus
from harness.errors import UsageError

HELP = "list, build and prune the environments wheels are installed into"
DESCRIPTION = """\
Environments come from matrices/*.toml (see harness/matrix.py for the schema); docker
images are built offline from containers/ recipes and tagged with a hash of the recipe,
so an unchanged recipe is never rebuilt. Each image carries a probe of its Python:
version, libc, arch and pip's supported tags.

  harness envs list [--matrix M] [--format json] [--tags]
  harness envs build [NAME...] [--matrix M] [--force]
  harness envs prune [RECIPE...] [--dry-run] [--older-than HOURS]

Without --matrix, list and build use every env of every matrix in matrices/.

examples:
  harness envs build --matrix linux       # build what is missing (cached by recipe hash)
  harness envs list --matrix linux --format json
  harness envs prune --dry-run
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="envs_command", metavar="SUBCOMMAND")
    sub.required = True
    p_list = sub.add_parser("list", help="each env: kind, image, built?, python, libc, arch, tags")
    _matrix_arg(p_list)
    p_list.add_argument("--format", choices=("text", "json"), default="text")
    p_list.add_argument("--tags", action="store_true", help="text: print every supported tag")
    p_build = sub.add_parser("build", help="build (or pull) what is missing")
    p_build.add_argument("names", nargs="*", metavar="NAME", help="env names (default: all)")
    _matrix_arg(p_build)
    p_build.add_argument("--force", action="store_true", help="rebuild even if up to date")
    p_prune = sub.add_parser("prune", help="remove images of recipes no longer in the tree")
    p_prune.add_argument(
        "recipes", nargs="*", metavar="RECIPE", help="only these recipes' images (default: all)"
    )
    p_prune.add_argument("--dry-run", action="store_true", help="only say what would go")
    p_prune.add_argument(
        "--older-than",
        type=float,
        default=24.0,
        metavar="HOURS",
        help="only images made more than HOURS ago (default 24): every checkout of this "
        "machine shares the Docker daemon, and another branch may use a recipe version "
        "this tree no longer has; 0 removes them all",
    )


def _matrix_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--matrix",
        "-m",
        metavar="M",
        help="a matrix name in matrices/ (linux, nightly, ...) or a .toml path",
    )


def select(matrix_name: str | None, names: Sequence[str] = ()) -> list[EnvSpec]:
    m = matrix.load(matrix_name) if matrix_name else matrix.load_all()
    if not names:
        return list(m.envs)
    return [m.get(n) for n in names]


def run(args: argparse.Namespace) -> int:
    command = args.envs_command
    if command == "list":
        return _list(args)
    if command == "build":
        return _build(args)
    if command == "prune":
        return _prune(args)
    raise UsageError(f"unknown envs subcommand {command!r}")


def status(spec: EnvSpec) -> EnvStatus:
    env = environment(spec)
    ready = env.is_ready()
    probe = env.probe() if ready else None
    return EnvStatus(spec=spec, image=env.image, ready=ready, probe=probe)


def status_json(row: EnvStatus) -> dict[str, object]:
    p = row.probe
    return {
        "name": row.spec.name,
        "kind": row.spec.kind.value,
        "image": row.image,
        "built": row.ready,
        "description": row.spec.description,
        "python": p.python_version if p else row.spec.python,
        "implementation": p.implementation if p else None,
        "libc": p.libc if p else None,
        "libc_version": p.libc_version if p else None,
        "arch": p.machine if p else None,
        "platform": p.platform if p else None,
        "pip": p.pip_version if p else None,
        "tags": list(p.tags) if p else [],
    }


def _list(args: argparse.Namespace) -> int:
    rows = [status(spec) for spec in select(args.matrix)]
    if args.format == "json":
        payload = {"schema": "harness-envs/1", "envs": [status_json(r) for r in rows]}
        console.write_stdout(json.dumps(payload, indent=2) + "\n")
        return 0
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("env", "kind", "image", "built", "python", "libc", "arch", "tags"):
        table.add_column(column)
    for r in rows:
        p = r.probe
        kind = r.spec.kind.value
        built = "yes" if r.ready else "no"
        if r.spec.kind is EnvKind.HOST:
            built = "n/a" if r.ready else "missing"
        table.add_row(
            r.spec.name,
            kind,
            r.image or (p.executable if p else "-"),
            built,
            p.python_version if p else (r.spec.python or "?"),
            f"{p.libc} {p.libc_version}".strip() if p and p.libc else "-",
            p.machine if p else "-",
            f"{len(p.tags)} ({p.tags[0]} ...)" if p and p.tags else "-",
        )
    console.out().print(table)
    if args.tags:
        for r in rows:
            if r.probe:
                console.out().print(f"\n{r.spec.name} ({len(r.probe.tags)} tags)")
                for tag in r.probe.tags:
                    console.out().print(f"  {tag}", markup=False)
    return 0


def _build(args: argparse.Namespace) -> int:
    specs = select(args.matrix, args.names)
    if any(s.kind is EnvKind.DOCKER_RECIPE for s in specs):
        from harness.envs import images
        from harness.envs.daemon import ensure_daemon

        ensure_daemon()
        if args.force:
            images.preflight([images.find(s.recipe) for s in specs if s.recipe])
        else:
            images.preflight_specs(specs)
    start = time.monotonic()
    built = 0
    for spec in specs:
        env = environment(spec)
        t0 = time.monotonic()
        if args.force and spec.kind is EnvKind.DOCKER_RECIPE:
            from harness.envs import images

            assert spec.recipe is not None
            did = images.build(images.find(spec.recipe), log=console.info, force=True)
        else:
            did = env.prepare(log=console.info)
        probe = env.probe()
        what = "built" if did else "up to date"
        console.info(
            f"{spec.name}: {what} ({time.monotonic() - t0:.1f}s): Python {probe.python_version}, "
            f"{probe.platform}, {len(probe.tags)} tags"
        )
        built += int(did)
    console.info(f"{len(specs)} env(s), {built} built, in {time.monotonic() - start:.1f}s")
    return 0


def _prune(args: argparse.Namespace) -> int:
    from harness.envs import images

    if not args.older_than >= 0:
        raise UsageError("--older-than must be 0 or more hours")
    stale = images.prune(
        dry_run=args.dry_run, older_than_s=args.older_than * 3600, recipes=args.recipes
    )
    verb = "would remove" if args.dry_run else "removed"
    for row in stale:
        console.info(f"{verb} {row.ref} (recipe {row.recipe or '?'}, {row.size / 1e6:.0f} MB)")
    console.info(f"{verb} {len(stale)} image(s)")
    if not args.recipes:
        cached = images.prune_build_cache(dry_run=args.dry_run, older_than_s=args.older_than * 3600)
        for path, size in cached:
            console.info(f"{verb} build cache {path.name} ({size / 1e6:.0f} MB)")
        if cached:
            console.info(
                f"{verb} {len(cached)} build cache entr{'y' if len(cached) == 1 else 'ies'}"
            )
    return 0
