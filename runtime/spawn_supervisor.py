"""The spawn supervisor of meowflow's local backend, in Python.

    python3 spawn_supervisor.py

The engine starts one, tells it its own environment first (the base every
task's environment differs from: this process's own may differ from it, by
a locale Python coerced or an interpreter shim's PATH),

    {"base": {"PATH": "...", ...}}

then hands it the job processes to start, one JSON object per line on stdin:

    {"id": 1, "file": "/bin/sh", "args": [...], "cwd": "...",
     "env": {"set": {...}, "unset": [...]}, "stdout": "...", "stderr": "..."}

and reads what became of them, one JSON object per line on stdout, after a
first line {"type": "ready"}:

    {"id": 1, "type": "started", "pid": 123, "start": "4567"}
    {"id": 1, "type": "exit", "code": 0, "signal": null}
    {"id": 1, "type": "error", "message": "..."}

It does what spawn-supervisor.ts does (the engine's fallback where no Python
3.8 or later runs), with posix_spawn: glibc starts the child with
clone(CLONE_VFORK), which copies no page tables, where Node's spawn forks.
A bash job then starts in a fraction of the time and CPU.

Each process starts in a session of its own (its own process group), with
stdin from /dev/null, stdout and stderr appended to its log files, every
signal at its default action (but glibc's two internal ones, which
posix_spawn leaves ignored) and none blocked, and no file descriptor but
those three: not even one the engine's own parent left open to it. The environment is the one this process started with, with the
task's differences applied.

It lives only as long as its stdin: when the engine exits, even by SIGKILL,
stdin reaches its end and this process exits. The processes it started run
on (under the wrapper that records their exit status), for the next engine to
re-attach. Terminal signals (Ctrl-C) are the engine's to act on: this process
ignores them and goes when its stdin closes.
"""

import json
import os
import select
import signal
import sys

BASE_ENV = None  # the engine's environment, its first line
IGNORED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
# Every signal a child may have inherited as ignored (Python itself ignores SIGPIPE and SIGXFSZ).
DEFAULTS = tuple(s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP))
LOG_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT

out = sys.stdout.buffer
running = {}  # pid -> task id


def reply(msg):
    try:
        out.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
        out.flush()
    except BrokenPipeError:
        # The engine is gone: there is no one to tell.
        os._exit(0)


def describe(err):
    return err.strerror or str(err) if isinstance(err, OSError) else str(err)


def process_start(pid):
    """Field 22 of /proc/PID/stat (clock ticks after boot); None for a zombie or a process gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split(" ")
    if fields[0] in ("Z", "X") or len(fields) < 20:
        return None
    return fields[19]


def start(task):
    tid = task["id"]
    try:
        log_out = os.open(task["stdout"], LOG_FLAGS, 0o666)
    except OSError as e:
        return reply({"id": tid, "type": "error", "message": f"cannot open the job's log files: {describe(e)}: {task['stdout']}"})
    try:
        log_err = os.open(task["stderr"], LOG_FLAGS, 0o666)
    except OSError as e:
        os.close(log_out)
        return reply({"id": tid, "type": "error", "message": f"cannot open the job's log files: {describe(e)}: {task['stderr']}"})
    file = task["file"]
    try:
        env = dict(BASE_ENV)
        for k in task["env"]["unset"]:
            env.pop(k, None)
        for k, v in task["env"]["set"].items():
            if "\0" in k or "\0" in v or "=" in k:
                raise ValueError(f"the environment variable {k!r} holds a NUL byte or its name an '='")
            env[k] = v
        # posix_spawn has no working directory of its own: the child inherits this process's (set each time:
        # the last one may have been removed since).
        try:
            os.chdir(task["cwd"])
        except OSError as e:
            raise ValueError(f"its working directory {task['cwd']}: {describe(e)}") from None
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, log_out, 1),
            (os.POSIX_SPAWN_DUP2, log_err, 2),
        ]
        spawn = os.posix_spawn if "/" in file else os.posix_spawnp
        pid = spawn(file, [file, *task["args"]], env, file_actions=actions, setsid=True, setsigdef=DEFAULTS, setsigmask=())
    except (OSError, ValueError) as e:
        return reply({"id": tid, "type": "error", "message": f"cannot start {file}: {describe(e)}"})
    finally:
        os.close(log_out)
        os.close(log_err)
    running[pid] = tid
    # Read before this process can reap it: the start time must be this very process's.
    reply({"id": tid, "type": "started", "pid": pid, "start": process_start(pid)})


def reap():
    while running:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        tid = running.pop(pid, None)
        if tid is None:
            continue
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = f"SIG{sig}"
            reply({"id": tid, "type": "exit", "code": None, "signal": name})
        else:
            reply({"id": tid, "type": "exit", "code": os.waitstatus_to_exitcode(status), "signal": None})


def keep_inherited_fds_to_self():
    """Descriptors this process inherited open (beyond stdin, stdout, stderr) do not pass on to jobs."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # the listing's own descriptor, closed meanwhile


def handle(line):
    global BASE_ENV
    message = json.loads(line)
    if "base" in message:
        BASE_ENV = message["base"]
    else:
        start(message)


def main():
    global BASE_ENV
    keep_inherited_fds_to_self()
    for s in IGNORED:
        signal.signal(s, signal.SIG_IGN)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    stdin = sys.stdin.fileno()
    pending = b""
    BASE_ENV = dict(os.environ)  # until the engine says its own
    reply({"type": "ready"})
    while True:
        readable, _, _ = select.select([stdin, wake_r], [], [])
        if wake_r in readable:
            os.read(wake_r, 4096)
            reap()
        if stdin in readable:
            chunk = os.read(stdin, 1 << 16)
            if not chunk:
                return  # the engine is gone
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    handle(line)
            reap()


if __name__ == "__main__":
    if not hasattr(os, "posix_spawn") or not hasattr(os, "waitstatus_to_exitcode"):
        sys.stderr.write("spawn supervisor: this Python has no os.posix_spawn (3.9 or later needed)\n")
        sys.exit(3)
    main()
