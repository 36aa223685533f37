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

The same build also makes the env's **venv template**: DIR/NAME-venv/venv, a venv made
by this very code with the env's own ``venv`` module (Debian's patches, lib64, the
activate scripts: whatever that Python does), and DIR/NAME-venv/layout.json, its
install scheme (``sysconfig.get_paths()`` asked of the template's own python, relative to
the venv) and the path the template was made at. The harness copies the template on the
host into a cell's directory (the path rewritten in its text files: a venv is relocatable
that way) and installs the wheel there with pypa/installer, so no process of the env runs
for the venv or the install (harness/verify/hostinstall.py).

Prints (--build-pip-cache also "VENV-TEMPLATE <dir>" when the template was made) one of:
    PIP-DIR <dir>     the compiled copy of the env's pip wheel: run <dir>/pip
    PIP-WHEEL <path>  no compiled copy: run <path>/pip (slow, correct)
    PIP-WHEEL         no bundled wheel: pip was installed into the venv (`-m pip`)
"""

import compileall
import glob
import json
import os
import shutil
import subprocess
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
    template = build_venv_template(target + "-venv", wheel)
    if template:
        print("VENV-TEMPLATE " + template, flush=True)
    return 0


def build_venv_template(root, wheel):
    """DIR/NAME-venv: the env's venv as ``main`` makes it, and its layout (best effort:
    without it the cells make their venv in the env as before)."""
    if os.path.isdir(root):
        return root
    tmp = tempfile.mkdtemp(prefix=".venv-", dir=os.path.dirname(root))
    try:
        made = os.path.join(tmp, "venv")
        venv.EnvBuilder(with_pip=not wheel, symlinks=os.name != "nt").create(made)
        probe = (
            "import json, sys, sysconfig; "
            "print(json.dumps({'paths': sysconfig.get_paths(), 'prefix': sys.prefix}))"
        )
        done = subprocess.run(
            [os.path.join(made, "bin", "python"), "-I", "-c", probe],
            stdout=subprocess.PIPE,
            check=True,
        )
        doc = json.loads(done.stdout.decode("utf-8").strip().splitlines()[-1])
        prefix = doc["prefix"]
        paths = {}
        for key, value in doc["paths"].items():
            rel = os.path.relpath(value, prefix)
            if not rel.startswith(".."):  # stdlib / platstdlib: the base's, not the venv's
                paths[key] = rel
        layout = {"template": made.replace(tmp, root, 1), "made_at": made, "paths": paths}
        with open(os.path.join(tmp, "layout.json"), "w") as fh:
            json.dump(layout, fh)
        for base, dirs, files in os.walk(tmp):  # readable by any uid of a later session
            for name in dirs + files:
                path = os.path.join(base, name)
                if not os.path.islink(path):
                    mode = os.stat(path).st_mode
                    os.chmod(path, mode | (0o755 if name in dirs or mode & 0o100 else 0o644))
        os.chmod(tmp, 0o755)
        os.rename(tmp, root)
    except (OSError, ValueError, KeyError, subprocess.CalledProcessError) as exc:
        print("no venv template: %s" % exc, file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
        return root if os.path.isdir(root) else ""
    return root


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
