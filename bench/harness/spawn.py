"""Run one command and write its own CPU time and peak RSS: `python spawn.py OUT -- COMMAND...`.

The bench starts every tool through this small launcher instead of directly: Linux carries a
process's RSS from before `exec` into its `ru_maxrss`, so a tool forked straight from the bench
would report at least the bench's own peak (a million room IDs held while writing a file, say).
Forked from this launcher, which stays a few MB, the tool's `ru_maxrss` is its own. OUT gets
{"exit_code", "cpu_s", "max_rss_mb"}; the launcher exits with the tool's exit code. SIGTERM and
SIGINT reach the tool (the process group's signal); the launcher itself outlives them to write
OUT.
"""

import json
import os
import signal
import subprocess
import sys


def main() -> int:
    """Start the command, wait for it, write what it cost."""
    out, separator, *command = sys.argv[1:]
    if separator != "--" or not command:
        print("usage: spawn.py OUT -- COMMAND...", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT):  # a handler, not SIG_IGN: exec resets it
        signal.signal(sig, lambda _signum, _frame: None)
    proc = subprocess.Popen(command)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(out, "w", encoding="utf-8") as file:
        json.dump(
            {
                "exit_code": proc.returncode,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "max_rss_mb": usage.ru_maxrss / 1024,
            },
            file,
        )
    return proc.returncode if proc.returncode >= 0 else 128 - proc.returncode


if __name__ == "__main__":
    sys.exit(main())
