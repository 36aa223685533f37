"""The profiler smoke suite: what breaks in a profiler's native code only in a real run.

Runs inside the environment (stdlib only, Python 3.9+). Any profiler plugs in with an
adapter: a small class with start/stop/clear/func_stats/export. Adapters here: yappi and the
stdlib's cProfile (which also proves the suite itself on any interpreter).

Steady under load: no check judges a wall-clock window. Workloads are a fixed amount of
work (``spin``) or a fixed amount of this thread's CPU time (``burn_cpu``), and every
expectation is relative to what the run itself measured (the CPU the loop really got, the
wall time the sleep really took), so a saturated machine or an emulator (qemu) only makes
the suite slower, never wrong. The only clocks used as limits are hang guards
(``HANG_GUARD_S``), far beyond any sane run.
"""

import asyncio
import gc
import os
import sys
import tempfile
import threading
import time


class Unsupported(Exception):
    """The adapter's profiler cannot do this (reported as skipped, not failed)."""


# --------------------------------------------------------------- workloads


HANG_GUARD_S = 120.0  # a wait that should take milliseconds gives up only after this


def spin(n):
    """A fixed amount of pure-Python work (n loop iterations), whatever the clock says."""
    total = 0
    for i in range(n):
        total += i & 7
    return total


def busy(n=20000):
    """The profiled workload of most checks: fixed work, in a function named busy."""
    return spin(n)


def burn_cpu(seconds):
    """Spin until THIS thread has consumed ``seconds`` of CPU (not wall) time; return the
    CPU time it really consumed. On a saturated machine this takes longer, not less CPU."""
    clock = getattr(time, "thread_time", time.process_time)
    start = clock()
    while clock() - start < seconds:
        spin(2000)
    return clock() - start


def sleeper(seconds):
    time.sleep(seconds)


def recurse(n):
    return 0 if n == 0 else 1 + recurse(n - 1)


def c_calls():
    data = list(range(20000, 0, -1))
    return sorted(data)[0] + len(sorted(data, reverse=True))


async def coro_work(i):
    await asyncio.sleep(0.01)
    return i


def before_thread_work(stop, rounds):
    while not stop.is_set():
        busy()
        rounds.append(1)


def after_thread_work():
    busy()


def wait_for(predicate, what):
    """Poll until ``predicate()``; the deadline is a hang guard, never the verdict."""
    end = time.monotonic() + HANG_GUARD_S
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("%s did not happen within %ds" % (what, HANG_GUARD_S))
        time.sleep(0.005)


# --------------------------------------------------------------- adapters


class CProfileAdapter:
    name = "cprofile"
    threads = False

    def __init__(self):
        import cProfile

        self._mod = cProfile
        self._prof = None
        self._clock = "wall"

    def set_clock(self, clock):
        self._clock = clock

    def start(self):
        timer = time.process_time if self._clock == "cpu" else time.perf_counter
        self._prof = self._mod.Profile(timer)
        self._prof.enable()

    def stop(self):
        self._prof.disable()

    def clear(self):
        self._prof = None

    def func_stats(self):
        """{function name: (ncalls, total time incl. callees)}"""
        import pstats

        st = pstats.Stats(self._prof)
        out = {}
        for (_file, _line, fname), (_cc, nc, _tt, ct, _callers) in st.stats.items():
            prev = out.get(fname, (0, 0.0))
            out[fname] = (prev[0] + nc, max(prev[1], ct))
        return out

    def export(self, path):
        self._prof.dump_stats(path)


class YappiAdapter:
    name = "yappi"
    threads = True

    def __init__(self):
        import yappi

        self._y = yappi

    def set_clock(self, clock):
        self._y.set_clock_type(clock)

    def start(self):
        self._y.start(builtins=True, profile_threads=True)

    def stop(self):
        self._y.stop()

    def clear(self):
        self._y.clear_stats()

    def func_stats(self):
        out = {}
        for s in self._y.get_func_stats():
            prev = out.get(s.name, (0, 0.0))
            out[s.name] = (prev[0] + s.ncall, max(prev[1], s.ttot))
        return out

    def export(self, path):
        self._y.get_func_stats().save(path, type="pstat")


ADAPTERS = {"cprofile": CProfileAdapter, "yappi": YappiAdapter}


def find(stats, needle):
    for name, value in stats.items():
        if name == needle or name.endswith("." + needle) or name.endswith(needle + ">"):
            return value
    for name, value in stats.items():
        if needle in name:
            return value
    return None


def rss_kib():
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, AttributeError):
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return usage // 1024 if sys.platform == "darwin" else usage


# --------------------------------------------------------------- checks


def checks(adapter_name):
    if adapter_name not in ADAPTERS:
        raise SystemExit("unknown adapter %r (known: %s)" % (adapter_name, ", ".join(ADAPTERS)))
    a = ADAPTERS[adapter_name]()

    def profiled(fn, clock="wall"):
        a.clear()
        a.set_clock(clock)
        a.start()
        try:
            fn()
        finally:
            a.stop()
        return a.func_stats()

    def start_stop():
        stats = profiled(busy)
        got = find(stats, "busy")
        assert got is not None, "busy() not in the stats"
        assert got[0] == 1, "busy() counted %d times, expected 1" % got[0]
        return {"functions": len(stats)}

    def cpu_clock():
        # 0.1s of this thread's CPU, however long that takes on a busy machine; the
        # profiler must charge most of what the loop really consumed, and (almost)
        # nothing to a sleep, which consumes no CPU however long it lasts.
        consumed = []
        stats = profiled(lambda: (sleeper(0.3), consumed.append(burn_cpu(0.1))), clock="cpu")
        s, b = find(stats, "sleeper"), find(stats, "burn_cpu")
        assert s is not None and b is not None, "workload functions missing"
        assert s[1] < 0.15, "cpu clock charged %.3fs to a 0.3s sleep" % s[1]
        assert b[1] > 0.5 * consumed[0], (
            "cpu clock charged only %.3fs to a loop that consumed %.3fs of CPU"
            % (b[1], consumed[0])
        )
        return {
            "sleep_cpu_s": round(s[1], 4),
            "busy_cpu_s": round(b[1], 4),
            "consumed_cpu_s": round(consumed[0], 4),
        }

    def wall_clock():
        # judged against the wall time the sleep really took (measured around it), not
        # against a window: a starved process sleeps longer, and the profiler must say so
        took = []

        def timed_sleep():
            t0 = time.perf_counter()
            sleeper(0.2)
            took.append(time.perf_counter() - t0)

        stats = profiled(timed_sleep, clock="wall")
        s = find(stats, "sleeper")
        assert s is not None, "sleeper() missing"
        assert 0.15 < s[1] <= took[0] * 1.05 + 0.01, (
            "wall clock gave %.3fs for a sleep that took %.3fs" % (s[1], took[0])
        )
        return {"sleep_wall_s": round(s[1], 4), "measured_s": round(took[0], 4)}

    def threads_before():
        if not a.threads:
            raise Unsupported("profiles the calling thread only")
        stop = threading.Event()
        rounds = []
        t = threading.Thread(target=before_thread_work, args=(stop, rounds))
        t.start()
        try:
            wait_for(lambda: rounds, "the thread's first round")

            def while_thread_works():
                # two more whole rounds of the thread's work while profiling
                seen = len(rounds)
                wait_for(lambda: len(rounds) >= seen + 2, "two rounds of the thread")

            stats = profiled(while_thread_works)
        finally:
            stop.set()
            t.join(HANG_GUARD_S)
        assert find(stats, "busy") is not None, "thread started before start() not profiled"

    def threads_after():
        if not a.threads:
            raise Unsupported("profiles the calling thread only")

        def work():
            ts = [threading.Thread(target=after_thread_work) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(HANG_GUARD_S)

        stats = profiled(work)
        got = find(stats, "after_thread_work")
        assert got is not None, "threads started after start() not profiled"
        assert got[0] == 4, "after_thread_work counted %d times, expected 4" % got[0]

    def asyncio_tasks():
        async def main():
            return await asyncio.gather(*(coro_work(i) for i in range(10)))

        stats = profiled(lambda: asyncio.run(main()))
        got = find(stats, "coro_work")
        assert got is not None, "coroutine not in the stats"
        assert got[0] >= 10, "coro_work counted %d times for 10 tasks" % got[0]
        return {"ncall": got[0]}

    def fork_child():
        if not hasattr(os, "fork"):
            raise Unsupported("no os.fork on this platform")
        a.clear()
        a.set_clock("wall")
        a.start()
        busy()
        pid = os.fork()
        if pid == 0:  # child: the profiler must keep working or restart cleanly
            code = 1
            try:
                a.stop()
                a.clear()
                a.start()
                recurse(10)
                a.stop()
                code = 0 if find(a.func_stats(), "recurse") else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        busy()
        a.stop()
        code = (
            os.waitstatus_to_exitcode(status)
            if hasattr(os, "waitstatus_to_exitcode")
            else status >> 8
        )
        assert code == 0, "forked child exited %d (profiling broken after fork)" % code
        assert find(a.func_stats(), "busy") is not None, "parent stats lost after fork"

    def deep_recursion():
        depth = min(800, sys.getrecursionlimit() - 100)
        stats = profiled(lambda: recurse(depth))
        got = find(stats, "recurse")
        assert got is not None and got[0] == depth + 1, "recurse counted %s, expected %d" % (
            got and got[0],
            depth + 1,
        )

    def calls_into_c():
        stats = profiled(c_calls)
        assert find(stats, "c_calls") is not None, "c_calls missing"
        assert find(stats, "sorted") is not None, "builtin sorted() not in the stats"

    def no_growth():
        def cycle():
            a.clear()
            a.start()
            c_calls()
            a.stop()
            a.func_stats()

        for _ in range(20):
            cycle()
        gc.collect()
        before = rss_kib()
        for _ in range(200):
            cycle()
        gc.collect()
        grown = rss_kib() - before
        assert grown < 20 * 1024, "RSS grew %d KiB over 200 start/stop cycles" % grown
        return {"rss_growth_kib": grown}

    def stats_export():
        import pstats

        profiled(busy)
        fd, path = tempfile.mkstemp(suffix=".pstat")
        os.close(fd)
        try:
            a.export(path)
            st = pstats.Stats(path)
            names = [k[2] for k in st.stats]
            assert any("busy" in n for n in names), "exported stats lack busy()"
            return {"entries": len(names)}
        finally:
            os.unlink(path)

    def wrap(fn):
        def run():
            try:
                return fn()
            except Unsupported as exc:
                return "skipped: %s" % exc

        return run

    return [
        ("start/stop", wrap(start_stop)),
        ("cpu clock", wrap(cpu_clock)),
        ("wall clock", wrap(wall_clock)),
        ("threads before start", wrap(threads_before)),
        ("threads after start", wrap(threads_after)),
        ("asyncio tasks", wrap(asyncio_tasks)),
        ("forked child", wrap(fork_child)),
        ("deep recursion", wrap(deep_recursion)),
        ("calls into C", wrap(calls_into_c)),
        ("no growth over cycles", wrap(no_growth)),
        ("stats export", wrap(stats_export)),
    ]
