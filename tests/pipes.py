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


def line_while_running(
    argv: list[str], match: str, timeout: float, **env: str
) -> tuple[str | None, bool]:
    """(the first line of ``argv``'s stdout containing ``match``, or None if none came within
    ``timeout`` seconds; whether the process was still running when it came).  The process
    is killed afterwards.  ``env``: variables added to the child's environment."""
    child_env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"} | env
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=child_env)
    lines: queue.Queue[str] = queue.Queue()
    stdout = proc.stdout
    assert stdout is not None
    threading.Thread(target=lambda: [lines.put(x) for x in stdout], daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                break
            if match in line:
                return line, proc.poll() is None
        return None, proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
