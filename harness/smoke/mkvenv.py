"""Create the run's venv, fast: without pip, and name the env's own pip to run it with.

Executed INSIDE an environment by its base interpreter (stdlib only, Python 3.6+):

    python mkvenv.py VENV_DIR [--pip-cache DIR]    a venv; prints how to run the env's pip
    python mkvenv.py --build-pip-cache DIR         once per env: compile the env's pip

`python -m venv` spends most of its time installing pip into the venv (ensurepip), and
running pip straight from its bundled wheel (`python pip.whl/pip`) recompiles every pip
module on every start (zipimport writes no bytecode): 2-4 s of CPU per pip call natively,
~20x that under qemu. So, once per environment, ``--build-pip-cache`` unpacks the env's
own bundled pip wheel (the very pip `venv` would have installed) into DIR and compiles it
with the env's own interpreter; the cells mount DIR read-only and run
`VENV/bin/python DIR/NAME/pip ...`, a layout pip supports.

Prints one of (last line wins):
    PIP-DIR <dir>     the compiled copy of the env's pip wheel: run <dir>/pip
    PIP-WHEEL <path>  no compiled copy: run <path>/pip (slow, correct)
    PIP-WHEEL         no bundled wheel: pip was installed into the venv (`-m pip`)
"""

import compileall
import glob
import os
import shutil
import sys
import tempfile
import venv
import zipfile


def bundled_pip():
    dirs = []
    try:
        import ensurepip

        dirs.append(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled"))
    except ImportError:
        pass
    dirs += ["/usr/share/python-wheels", os.path.join(sys.prefix, "share", "python-wheels")]
    for d in dirs:
        found = sorted(glob.glob(os.path.join(d, "pip-*.whl")))
        if found:
            return found[-1]
    return ""


def cache_name(wheel):
    """One compiled copy per pip wheel and interpreter (bytecode is per Python version)."""
    stem = os.path.basename(wheel)[: -len(".whl")]
    return "%s-%s" % (stem, sys.implementation.cache_tag or "nocache")


def debundle(tree, wheel_dir):
    """A debundled pip (Debian 11 and older) puts every *.whl of its wheel directory on
    sys.path and imports its dependencies from those zips, uncompiled. Unpack the same
    wheels into TREE/debundled/NAME.whl/ (directories, so they compile) and point the copy's
    WHEEL_DIR there: the same code, imported from directories instead of zips."""
    init = os.path.join(tree, "pip", "_vendor", "__init__.py")
    with open(init) as fh:
        text = fh.read()
    if "DEBUNDLED = True" not in text:
        return
    target = os.path.join(tree, "debundled")
    for wheel in glob.glob(os.path.join(wheel_dir, "*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            # without their .dist-info: from a zip, pkg_resources never lists a wheel's
            # dist as installed; from a directory it would, and pip would then take its
            # own six/requests/... as already installed in the cell's venv
            code = [n for n in zf.namelist() if not n.split("/", 1)[0].endswith(".dist-info")]
            zf.extractall(os.path.join(target, os.path.basename(wheel)), members=code)
    lines = []
    for line in text.splitlines(True):
        if line.startswith("WHEEL_DIR = "):
            line = (
                "WHEEL_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname("
                "os.path.abspath(__file__)))), 'debundled')  # harness: unpacked copies\n"
            )
        lines.append(line)
    with open(init, "w") as fh:
        fh.write("".join(lines))


def build_pip_cache(root):
    wheel = bundled_pip()
    if not wheel:
        print("no bundled pip wheel in this environment", file=sys.stderr)
        return 1
    target = os.path.join(root, cache_name(wheel))
    if not os.path.isdir(target):
        tmp = tempfile.mkdtemp(prefix=".build-", dir=root)
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(tmp)
        debundle(tmp, os.path.dirname(wheel))
        workers = os.cpu_count() or 1
        ok = compileall.compile_dir(os.path.join(tmp, "pip"), quiet=1, workers=workers)
        if os.path.isdir(os.path.join(tmp, "debundled")):  # best effort: py2-only files fail
            compileall.compile_dir(os.path.join(tmp, "debundled"), quiet=2, workers=workers)
        if not ok:
            print("compiling %s failed" % wheel, file=sys.stderr)
            shutil.rmtree(tmp, ignore_errors=True)
            return 1
        for base, dirs, files in os.walk(tmp):  # readable by any uid of a later session
            for name in dirs + files:
                os.chmod(os.path.join(base, name), 0o755 if name in dirs else 0o644)
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, target)  # atomic: a racing builder's copy wins, ours goes
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not os.path.isdir(target):
                raise
    print("PIP-DIR " + target, flush=True)
    return 0


def main(argv):
    if argv[:1] == ["--build-pip-cache"]:
        return build_pip_cache(argv[1])
    target = argv[0]
    cache = argv[argv.index("--pip-cache") + 1] if "--pip-cache" in argv else ""
    wheel = bundled_pip()
    venv.EnvBuilder(with_pip=not wheel, symlinks=os.name != "nt").create(target)
    compiled = os.path.join(cache, cache_name(wheel)) if cache and wheel else ""
    if compiled and os.path.isfile(os.path.join(compiled, "pip", "__main__.py")):
        print("PIP-DIR " + compiled, flush=True)
    else:
        print("PIP-WHEEL " + wheel, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
