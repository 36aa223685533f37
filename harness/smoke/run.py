"""Smoke-suite runner, executed INSIDE an environment by the env's own Python (3.9+).

Stdlib only. Usage:
    python run.py import MODULE...            import every module
    python run.py profiler --adapter NAME     the profiler suite (adapters: yappi, cprofile)

Prints one line per check ("ok NAME 0.012s" / "FAIL NAME: reason") and, last, one line
"HARNESS-RESULT {json}" that the harness parses. Exit 0 iff every check passed.

Completion: the harness passes "--token T" (removed from sys.argv before any code under
test runs); the result line carries it and "complete": true, and the harness passes a suite
only with that line. Code under test that ends the process early (sys.exit(0) or
os._exit(0) in a package's __init__) therefore fails the suite instead of passing it.
"""

import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MAX_ERROR = 2000  # characters of one check's error kept in the result line
_TOKEN = [""]


def _take_token(argv):
    """Remove "--token T" from argv (so code under test never sees it); remember T."""
    if "--token" in argv:
        i = argv.index("--token")
        _TOKEN[0] = argv[i + 1] if i + 1 < len(argv) else ""
        del argv[i : i + 2]
    return argv


def _emit(results):
    failed = [r for r in results if not r["ok"]]
    doc = {
        "checks": results,
        "passed": len(results) - len(failed),
        "failed": len(failed),
        "complete": True,
        "token": _TOKEN[0],
    }
    print("HARNESS-RESULT " + json.dumps(doc), flush=True)
    return 1 if failed else 0


def run_checks(checks):
    """checks: list of (name, callable). Each runs once; exceptions become failures."""
    results = []
    for name, fn in checks:
        t0 = time.perf_counter()
        try:
            detail = fn()
            ok, why = True, ""
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # a result, not a crash
            detail = None
            ok = False
            if isinstance(exc, SystemExit):
                why = "SystemExit: the code under test called sys.exit(%r)" % (exc.code,)
            else:
                why = "%s: %s" % (type(exc).__name__, exc)
            if len(why) > MAX_ERROR:
                why = why[:MAX_ERROR] + "... (%d characters)" % len(why)
            tb = traceback.format_exc().strip().splitlines()
            print("\n".join(tb[-12:]), file=sys.stderr)
        dt = time.perf_counter() - t0
        results.append(
            {
                "name": name,
                "ok": ok,
                "duration_s": round(dt, 4),
                "error": why,
                "detail": detail if isinstance(detail, (dict, list, str)) else None,
            }
        )
        if ok and isinstance(detail, str) and detail.startswith("skipped"):
            print("skip %-28s %s" % (name, detail[len("skipped: ") :]), flush=True)
        elif ok:
            print("ok   %-28s %.3fs" % (name, dt), flush=True)
        else:
            print("FAIL %-28s %s" % (name, why), flush=True)
    return results


def _extension_file(mod):
    """The extension file of dotted name ``mod``, found from its top-level package's
    directory without importing the packages in between (None: not found)."""
    import importlib.machinery
    import importlib.util

    parts = mod.split(".")
    spec = importlib.util.find_spec(parts[0])
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        folder = os.path.join(base, *parts[1:-1])
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            candidate = os.path.join(folder, parts[-1] + suffix)
            if os.path.isfile(candidate):
                return candidate
    return None


def _load_extension(mod, path):
    """Run the extension's PyInit, as an import would, without its parent packages."""
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.ExtensionFileLoader(mod, path)
    spec = importlib.util.spec_from_file_location(mod, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def suite_import(modules):
    """Import each module (the harness passes the wheel's top-level packages, then every
    extension module it ships by dotted name); each import is one check. A shared library
    shipped inside a package that is not a Python module at all (no PyInit_<name>, e.g. a
    ctypes-loaded helper) is reported as skipped, not failed."""
    import importlib

    # the wheel's own top-level names: the harness passes its top-level packages first
    ours = set(m.split(".")[0] for m in modules)

    def optional(mod, exc):
        """Why a failed import of extension ``mod`` is an optional dependency missing, not
        a broken module (None: it is broken): its init imports a module that neither this
        wheel ships nor its requirements installed (zstandard._cffi needs _cffi_backend,
        from cffi, which only the `cffi` extra requires). The top-level imports of the
        wheel are never judged this way: `import zstandard` itself must work."""
        missing = getattr(exc, "name", None)
        if not isinstance(exc, ModuleNotFoundError) or not missing or "." not in mod:
            return None
        if missing == mod or missing.split(".")[0] in ours:
            return None
        return (
            "skipped: needs module %s, which is not in this wheel and not installed by its "
            "requirements (an optional dependency?)" % missing
        )

    def make(mod):
        def check():
            try:
                m = importlib.import_module(mod)
            except ImportError as exc:
                if "does not define module export function" in str(exc):
                    return "skipped: not a Python extension module (%s)" % exc
                parent = mod.rpartition(".")[0]
                if not parent or parent in sys.modules:
                    why = optional(mod, exc)
                    if why:
                        return why
                    raise  # the module itself failed to load
                # a parent package's __init__ failed (greenlet.tests imports psutil, a test
                # dependency): what is checked here is the compiled module, so load its file
                # directly; the failure of the parent is kept in the detail
                path = _extension_file(mod)
                if path is None:
                    raise
                try:
                    _load_extension(mod, path)
                except ImportError as direct:
                    why = optional(mod, direct)
                    if why:
                        return why
                    raise
                return {
                    "file": path,
                    "loaded_directly": True,
                    "parent_error": "%s: %s" % (type(exc).__name__, exc),
                }
            return {"file": getattr(m, "__file__", None)}

        return check

    if not modules:
        print("FAIL import: no modules given", flush=True)
        return _emit(
            [
                {
                    "name": "import",
                    "ok": False,
                    "duration_s": 0,
                    "error": "no modules to import",
                    "detail": None,
                }
            ]
        )
    return _emit(run_checks([("import " + m, make(m)) for m in modules]))


def main(argv):
    argv = _take_token(list(argv))
    del sys.argv[1:]
    sys.argv.extend(argv)
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    suite, rest = argv[0], argv[1:]
    if suite == "import":
        return suite_import(rest)
    if suite == "profiler":
        import profiler_suite

        adapter = "cprofile"
        if "--adapter" in rest:
            adapter = rest[rest.index("--adapter") + 1]
        return _emit(run_checks(profiler_suite.checks(adapter)))
    print("unknown suite %r" % suite, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
