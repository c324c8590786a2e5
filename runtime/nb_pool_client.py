"""The job's side of a warm notebook run (standard library only: it must start fast).

nb_runner.py calls run(SOCKET, ARGV) when MEOW_KERNEL_POOL names the socket of
a kernel pool (runtime/kernel_pool.py). The pool runs the notebook on a
pre-started kernel; this process stays the job's process: it relays the run's
stdout and stderr to its own (the job's logs), turns SIGTERM and SIGINT into a
cancel of the run, and exits with the run's exit status. When this process
dies (SIGKILL), the pool sees the connection close and kills the kernel.

Lines on the socket are JSON. To the pool: {"argv", "env", "cwd"} once, then
{"cancel": SIGNUM}. From the pool: {"o": TEXT} and {"e": TEXT} (stdout,
stderr), {"started": true} once a kernel is the job's, {"x": STATUS} at the
end, or {"cold": REASON} when the pool will not run it.
"""

import json
import os
import selectors
import signal
import socket
import sys


def run(path, argv):
    """The exit status of the run on the pool at `path`, or None when it ran
    nothing there (no pool, a pool stopping, or one that failed before the
    notebook started): the caller then runs it on a kernel of its own."""
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
    except OSError:
        return None
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    received = []
    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, lambda n, _f: received.append(n))
    old_wakeup = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    try:
        env = dict(os.environ)
        hello = {"argv": argv, "env": env, "cwd": os.getcwd()}
        sock.sendall((json.dumps(hello) + "\n").encode())
        status = relay(sock, wake_r, received)
    except OSError:
        status = None
    finally:
        signal.set_wakeup_fd(old_wakeup)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sock.close()
        wake_r.close()
        wake_w.close()
    # Stopped before anything ran: not a reason to run it elsewhere.
    return 143 if status is None and received else status


def relay(sock, wake, received):
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    sel.register(wake, selectors.EVENT_READ)
    buffer = b""
    started = False
    sent = 0
    while True:
        for key, _ in sel.select():
            if key.fileobj is wake:
                try:
                    wake.recv(4096)
                except BlockingIOError:
                    pass
                continue
            chunk = sock.recv(65536)
            if not chunk:
                if not started:
                    return None
                sys.stderr.write("[meowflow] the kernel pool stopped during the run\n")
                sys.stderr.flush()
                return 1
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                msg = json.loads(line)
                if "o" in msg:
                    sys.stdout.write(msg["o"])
                    sys.stdout.flush()
                elif "e" in msg:
                    sys.stderr.write(msg["e"])
                    sys.stderr.flush()
                elif "started" in msg:
                    started = True
                elif "x" in msg:
                    return msg["x"]
                elif "cold" in msg:
                    return None
        while sent < len(received):
            sock.sendall((json.dumps({"cancel": received[sent]}) + "\n").encode())
            sent += 1
