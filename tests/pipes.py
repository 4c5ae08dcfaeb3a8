"""Reading a command's output through a pipe while it runs, as a wrapper (a CI log) does.

Python block-buffers stdout on a pipe, so a line the code does not flush arrives only when
the buffer fills or the process ends.  This machine, and perhaps CI, sets PYTHONUNBUFFERED=1,
which would hide a missing flush: the child runs without it.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time


def lines_while_running(
    argv: list[str], match: str, timeout: float, **env: str
) -> tuple[list[str], bool]:
    """(the lines of ``argv``'s stdout up to and including the first that contains ``match``,
    or all that came within ``timeout`` seconds if none did; whether the process was still
    running then).  The child's stdin is a pipe that stays open, so a child that reads it
    waits; the process is killed afterwards.  ``env``: variables added to its environment."""
    child_env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"} | env
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env
    )
    lines: queue.Queue[str] = queue.Queue()
    stdout = proc.stdout
    assert stdout is not None
    threading.Thread(target=lambda: [lines.put(x) for x in stdout], daemon=True).start()
    got: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(lines.get(timeout=left))
            except queue.Empty:
                break
            if match in got[-1]:
                break
        return got, proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
