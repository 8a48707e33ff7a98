"""Killing a child process at a chosen moment, for the tests that prove what a hard kill leaves."""
import signal
import subprocess
import time
from typing import Callable


def kill_when(process: subprocess.Popen, ready: Callable[[], bool], timeout: float, waiting_for: str) -> None:
    """SIGKILL `process` as soon as `ready()` holds, polling every 50 ms, and wait for it to die;
    fails if the process ends first or `ready()` does not hold within `timeout` seconds. The
    caller kills the process in a `finally` if this fails."""
    deadline = time.time() + timeout
    while not ready():
        assert process.poll() is None, f"the process ended before {waiting_for}"
        assert time.time() < deadline, f"no {waiting_for} within {timeout:.0f} s"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
