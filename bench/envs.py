"""Numbers for the environment layer (not a test: nothing here asserts a time).

    python bench/envs.py [--matrix nightly] [--cold] [--json]

- cold build time per image: with --cold, every docker-recipe image of the matrix is
  rebuilt now (``images.build(force=True)``) with an empty apt cache; without it, the
  time each image took when it was built, from its ``org.wheel-harness.build-seconds``
  label (the images are built first if missing, which is then a cold build too);
- warm ``harness envs build --matrix M`` (a fresh process, nothing to do);
- image sizes (docker's uncompressed size);
- container start + probe (``docker run --rm`` of the probe) and session start + one exec
  + removal, each the median of 3;
- coverage of yappi 1.7.6 (tests/data/real, every file of the release): Linux wheels some
  env of the matrix runs / Linux wheels shipped, and the reason for each of the others.

Run it on an otherwise idle machine: the numbers are wall-clock seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds inspect.py (another bench): keep it from shadowing the stdlib module.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness import matrix  # noqa: E402
from harness.envs import environment, images  # noqa: E402
from harness.envs.base import EnvKind  # noqa: E402
from harness.envs.daemon import image_inspect, image_labels, run_probe  # noqa: E402


def median_time(fn: object, n: int = 3) -> float:
    times = []
    for _ in range(n):
        start = time.monotonic()
        fn()  # type: ignore[operator]
        times.append(time.monotonic() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", default="nightly")
    parser.add_argument("--cold", action="store_true", help="rebuild every image now")
    parser.add_argument("--json", action="store_true", help="JSON on stdout")
    args = parser.parse_args()

    m = matrix.load(args.matrix, REPO / "matrices")
    specs = [s for s in m.envs if s.kind is EnvKind.DOCKER_RECIPE]
    rows: list[dict[str, object]] = []
    total_cold = 0.0
    for spec in specs:
        assert spec.recipe is not None
        recipe = images.load_recipe(spec.recipe, base=REPO / "containers")
        row: dict[str, object] = {"env": spec.name, "recipe": recipe.name, "image": recipe.tag}
        if args.cold:
            with tempfile.TemporaryDirectory() as empty_cache:
                os.environ["HARNESS_APT_CACHE"] = empty_cache
                start = time.monotonic()
                images.build(recipe, log=lambda msg: print(msg, file=sys.stderr), force=True)
                cold = time.monotonic() - start
                del os.environ["HARNESS_APT_CACHE"]
            row["cold_build_s"] = round(cold, 1)
        else:
            if image_inspect(recipe.tag) is None:
                images.build(recipe, log=lambda msg: print(msg, file=sys.stderr))
            info = image_inspect(recipe.tag)
            assert info is not None
            row["cold_build_s"] = float(image_labels(info).get(images.L_BUILD_S, "nan"))
        total_cold += float(str(row["cold_build_s"]))
        info = image_inspect(recipe.tag)
        assert info is not None
        size = info.get("Size")
        row["size_mb"] = round(size / 1e6) if isinstance(size, int) else None
        row["probe_s"] = round(
            median_time(
                lambda r=recipe: run_probe(
                    r.tag, interpreter=r.interpreter, platform=None, user=r.user
                )
            ),
            2,
        )
        env = environment(spec)

        def session_once(env: object = env) -> None:
            with env.session() as s:  # type: ignore[attr-defined]
                s.exec([s.python, "-c", "pass"], timeout=300)

        row["session_s"] = round(median_time(session_once), 2)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)

    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "harness", "envs", "build", "--matrix", args.matrix],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    warm = time.monotonic() - start
    from harness import coverage

    yappi = coverage.collect(sorted((REPO / "tests" / "data" / "real").glob("yappi-1.7.6-*.whl")))
    probed = [(s, environment(s).probe()) for s in m.envs]
    cov = coverage.compute(
        yappi, probed, matrix_name=f"matrix {args.matrix}", elsewhere=matrix.other_envs(m)
    )
    linux_ran, linux_total = cov.ran([coverage.Family.LINUX])
    result = {
        "matrix": args.matrix,
        "yappi_linux_wheels_ran": linux_ran,
        "yappi_linux_wheels_shipped": linux_total,
        "yappi_untested": {w.filename: w.reason for w in cov.wheels if not w.ran_in},
        "cores": os.cpu_count(),
        "images": rows,
        "cold_build_total_s": round(total_cold, 1),
        "warm_envs_build_s": round(warm, 2),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"matrix {args.matrix} on {os.cpu_count()} cores")
        print(f"{'env':10} {'cold build s':>12} {'size MB':>8} {'probe s':>8} {'session s':>9}")
        for r in rows:
            print(
                f"{r['env']!s:10} {r['cold_build_s']!s:>12} {r['size_mb']!s:>8} "
                f"{r['probe_s']!s:>8} {r['session_s']!s:>9}"
            )
        print(f"cold build total: {total_cold:.0f}s; warm `envs build`: {warm:.2f}s")
        print(f"yappi 1.7.6: {linux_ran} of {linux_total} Linux wheels run in matrix {args.matrix}")
        for name, why in result["yappi_untested"].items():  # type: ignore[union-attr]
            print(f"  untested {name}: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
