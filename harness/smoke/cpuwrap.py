"""Make a venv's interpreter run under qemu user-mode with a CPU model (envs with `cpu = ...`).

Executed INSIDE the environment by the venv's own python (stdlib only, Python 3.6+):
    python cpuwrap.py VENV_DIR QEMU QEMU_CPU ARCH

* checks the env's machine is ARCH (a CPU model of another architecture is a matrix error);
* replaces VENV/bin/python, python3, python3.X (symlinks to the base interpreter) by
      #!/bin/sh
      exec QEMU -cpu QEMU_CPU -0 "$0" /usr/bin/python3.X "$@"
  so the guest interpreter sees argv[0] = the venv's python: it finds pyvenv.cfg, and its
  sys.executable (used by subprocess/multiprocessing) is the wrapper again;
* writes a site-packages .pth hook that reports a SIGILL's address and instruction bytes on
  stderr ("HARNESS-SIGILL addr=N bytes=HEX"), then dies of SIGILL as before;
* runs the wrapped interpreter once and prints what it reports.
"""

import os
import platform
import subprocess
import sys
import sysconfig

HOOK = r'''"""wheel-harness: on SIGILL, print the faulting address and instruction bytes, then die.

Only os.write and ctypes.string_at run in the handler: under qemu 7.2 user-mode, opening a
file (/proc/self/maps) inside a guest signal handler crashes the guest, so the library is
found afterwards, by the harness, from the instruction bytes.
"""
import os


def _install():
    try:
        import ctypes
    except ImportError:  # a Python without ctypes (musl builds): the reason goes without it
        return
    wide = ctypes.sizeof(ctypes.c_void_p) == 8

    class SigInfo(ctypes.Structure):
        _fields_ = [("signo", ctypes.c_int), ("errno", ctypes.c_int), ("code", ctypes.c_int)]
        _fields_ += [("pad", ctypes.c_int)] if wide else []
        _fields_ += [("addr", ctypes.c_void_p)]

    handler_t = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.POINTER(SigInfo), ctypes.c_void_p)

    class SigAction(ctypes.Structure):
        _fields_ = [
            ("handler", handler_t),
            ("mask", ctypes.c_ulong * (128 // ctypes.sizeof(ctypes.c_ulong))),
            ("flags", ctypes.c_int),
            ("restorer", ctypes.c_void_p),
        ]

    def on_sigill(signo, info, context):
        try:
            addr = info.contents.addr or 0
            os.write(2, b"\nHARNESS-SIGILL addr=%d\n" % addr)
            if addr and info.contents.code > 0:  # a fault, not kill(): addr is the pc
                code = ctypes.string_at(addr, 16).hex().encode()
                os.write(2, b"HARNESS-SIGILL addr=%d bytes=%s\n" % (addr, code))
        except BaseException:
            pass  # SA_RESETHAND: the instruction runs again and the default action kills

    action = SigAction()
    action.handler = handler_t(on_sigill)
    action.flags = 0x4 - 0x80000000  # SA_SIGINFO | SA_RESETHAND, as a C int
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.sigaction(4, ctypes.byref(action), None) == 0:
        globals()["_keep"] = (action, on_sigill)


_install()
'''

WRAPPER = """#!/bin/sh
# wheel-harness: this venv's interpreter under qemu user-mode, CPU model {cpu}
exec {qemu} -cpu {cpu} -0 "$0" {real} "$@"
"""


def main(venv, qemu, cpu, arch):
    machine = platform.machine()
    if machine != arch:
        print(
            "this env's machine is %s: a %s CPU model cannot emulate it" % (machine, arch),
            flush=True,
        )
        return 2
    if not os.access(qemu, os.X_OK):
        print("%s is missing or not executable in the env" % qemu, flush=True)
        return 2
    bindir = os.path.join(venv, "bin")
    names = [n for n in os.listdir(bindir) if n == "python" or n.startswith("python3")]
    names = [n for n in names if not n.endswith("-config")]
    real = os.path.realpath(sys.executable)
    for name in sorted(names):
        path = os.path.join(bindir, name)
        os.unlink(path)
        with open(path, "w") as fh:
            fh.write(WRAPPER.format(qemu=qemu, cpu=cpu, real=real))
        os.chmod(path, 0o755)
    site = sysconfig.get_paths()["purelib"]
    hook = [os.path.join(site, "_wheel_harness_sigill" + ext) for ext in (".py", ".pth")]
    with open(hook[0], "w") as fh:
        fh.write(HOOK)
    with open(hook[1], "w") as fh:
        fh.write("import _wheel_harness_sigill\n")
    python = os.path.join(bindir, "python")
    print("wrapped %s (%s) under %s -cpu %s" % (", ".join(sorted(names)), real, qemu, cpu))
    # the hook runs Python from a signal handler through ctypes: some interpreter builds
    # crash doing that under qemu. Deliver a SIGILL once; keep the hook only if it worked.
    out = run([python, "-c", SELF_TEST])
    if "HARNESS-SIGILL addr=" not in out.stdout or "hook-ok" not in out.stdout:
        for path in hook:
            os.unlink(path)
        print("SIGILL hook removed (it does not work in this interpreter under qemu)")
        out = run([python, "-c", WHERE])
    print(out.stdout.strip(), flush=True)
    if out.returncode != 0 or "IN-VENV %s " % os.path.realpath(venv) not in out.stdout:
        print("the emulated interpreter did not start in the venv", flush=True)
        return 1
    return 0


# the wrapped interpreter must see the venv (sys.prefix) and name itself (sys.executable)
WHERE = "import os, sys; print('IN-VENV %s %s' % (os.path.realpath(sys.prefix), sys.executable))"
SELF_TEST = WHERE + "; import signal; os.kill(os.getpid(), signal.SIGILL); print('hook-ok')"


def run(argv):
    return subprocess.run(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        check=False,
    )


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
