"""Create the run's venv, fast: without pip, and name the env's own bundled pip wheel.

Executed INSIDE an environment by its base interpreter (stdlib only, Python 3.6+):
    python mkvenv.py VENV_DIR
`python -m venv` spends most of its time installing pip into the venv (ensurepip). The
harness instead runs the env's own bundled pip wheel (the very pip `venv` would have
installed) from outside the venv: `VENV/bin/python PIP.whl/pip install ...`, a layout pip
supports. Prints "PIP-WHEEL <path>" (empty path: none found, pip was installed the slow way).
"""

import glob
import os
import sys
import venv


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


def main(target):
    wheel = bundled_pip()
    venv.EnvBuilder(with_pip=not wheel, symlinks=os.name != "nt").create(target)
    print("PIP-WHEEL " + wheel, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
