"""The preemption watch: SIGTERM sets it in one process, and the old handler comes back.

The whole path (save at the signalled step, exit 143, exact resume) is in test_resume.py.
"""

from __future__ import annotations

import os
import signal
import threading

from instructrec_jax.training.preemption import PREEMPTED_EXIT_CODE, PreemptionWatch


def test_sigterm_is_seen_at_the_next_step_and_the_previous_handler_is_restored():
    calls = []

    def previous(signum, frame):
        calls.append(signum)

    old = signal.signal(signal.SIGTERM, previous)
    try:
        with PreemptionWatch() as watch:
            assert not watch.reached(1)
            os.kill(os.getpid(), signal.SIGTERM)
            assert watch.reached(2)
        assert signal.getsignal(signal.SIGTERM) is previous
        assert calls == []  # the watch took the signal, not the previous handler
    finally:
        signal.signal(signal.SIGTERM, old)


def test_off_the_main_thread_the_watch_installs_nothing():
    seen = {}

    def run():
        with PreemptionWatch() as watch:
            seen["handler"] = signal.getsignal(signal.SIGTERM)
            seen["reached"] = watch.reached(1)

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == {"handler": before, "reached": False}


def test_the_exit_status_is_that_of_a_process_ended_by_sigterm():
    assert PREEMPTED_EXIT_CODE == 143
