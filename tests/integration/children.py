"""Helpers for tests that start harness processes and signal them."""

from __future__ import annotations


def default_sigint() -> None:
    """preexec_fn for a child that a test interrupts: SIGINT back to its default. A shell
    starting a job in the background (`cmd &`, nohup, some CI runners) hands its children
    SIGINT ignored, and Python then installs no KeyboardInterrupt handler at all."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
