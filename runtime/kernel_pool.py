"""A pool of pre-started Jupyter kernels for meowflow's notebook jobs.

    python kernel_pool.py SOCKET --size N --cwd DIR

meowflow's local backend starts one per interpreter while a registered pattern
runs a Python notebook and `warm_kernels` (N) is not 0. The pool keeps N
python3 kernels of this interpreter started and idle. A job's process
(nb_runner.py, through nb_pool_client.py) connects to SOCKET and is given one
of them for itself: the job's environment, working directory and PYTHONPATH
are set in the kernel, the notebook runs there exactly as nb_runner.py runs it
on a kernel of its own, and the kernel is then shut down while a new one
starts in the background to take its place. A kernel runs one job and nothing
else, so no job sees what another left in it.

When its stdin closes or its parent process changes (the engine died), the
pool takes no more jobs and shuts its idle kernels down; the jobs running
finish as they would on kernels of their own (their processes belong to the
job, which a restarted engine re-attaches to), and it exits. SIGTERM (the
engine closing) stops it at once, cancelling any job still running. Its
kernels are killed when it dies (PR_SET_PDEATHSIG), whatever way it dies.
"""

import argparse
import asyncio
import codecs
import collections
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys

nb_runner = None  # imported once the socket listens: the import takes a second or more

KERNEL_NAME = "python3"
START_TIMEOUT = 60
PARENT_POLL_S = 1.0
PR_SET_PDEATHSIG = 1


def log(text):
    sys.stderr.write(f"kernel pool: {text}\n")
    sys.stderr.flush()


def die_with_pool():
    """In the kernel, before exec: SIGKILL when the pool's thread that started it ends."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Kernel:
    """A started kernel and its client; `sink` receives its stdout and stderr while a job has it."""

    def __init__(self, km, kc):
        self.km = km
        self.kc = kc
        self.sink = None


class Relay(asyncio.Protocol):
    """A kernel's own stdout or stderr (what bypasses the notebook's outputs): to its job, or to the pool's stderr."""

    def __init__(self, kernel, stream):
        self.kernel = kernel
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def data_received(self, data):
        text = self.decoder.decode(data)
        if not text:
            return
        sink = self.kernel.sink
        if sink is not None:
            sink(self.stream, text)
        else:
            sys.stderr.write(text)


def setup_code(env, drop, paths, cwd):
    """One expression, run silently before the job: the job's environment,
    PYTHONPATH entries and working directory, leaving no name behind."""
    return (
        "(lambda os, sys, env, drop, paths, cwd: ("
        "os.chdir(cwd), [os.environ.pop(k, None) for k in drop], os.environ.update(env), "
        "sys.path.__setitem__(slice(1, 1), [p for p in paths if p not in sys.path])))"
        f"(__import__('os'), __import__('sys'), {env!r}, {drop!r}, {paths!r}, {cwd!r})"
    )


class Pool:
    def __init__(self, size, cwd):
        self.size = size
        self.cwd = cwd
        self.idle = []
        self.waiters = collections.deque()
        self.starting = 0
        # Kernels given to jobs and not yet shut down: they count until they are, so a
        # replacement starts once a job is over, not while it runs, unless jobs wait.
        self.in_use = 0
        self.failures = 0
        self.closing = False
        # Connection tasks and the signals that stopped them.
        self.jobs = {}
        self.background = set()
        self.launch_env = dict(os.environ)

    def spawn(self, coro):
        task = asyncio.ensure_future(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    def fill(self):
        waiting = sum(1 for w in self.waiters if not w.done())
        while not self.closing and len(self.idle) + self.starting + self.in_use < self.size + waiting:
            self.starting += 1
            self.spawn(self.start_one())

    async def start_one(self):
        km = nb_runner.new_kernel_manager(KERNEL_NAME)
        kernel = None
        try:
            await km.start_kernel(cwd=self.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=die_with_pool)
            kernel = Kernel(km, km.client())
            process = km.provisioner.process
            loop = asyncio.get_running_loop()
            await loop.connect_read_pipe(lambda: Relay(kernel, "stdout"), process.stdout)
            await loop.connect_read_pipe(lambda: Relay(kernel, "stderr"), process.stderr)
            kernel.kc.start_channels()
            await kernel.kc.wait_for_ready(timeout=START_TIMEOUT)
        except asyncio.CancelledError:
            # Stopping: the kernel goes now (and would die with the pool anyway).
            self.starting -= 1
            await asyncio.shield(nb_runner.shutdown(None, km, now=True))
            raise
        except Exception as exc:
            self.starting -= 1
            self.failures += 1
            log(f"a kernel did not start: {exc}")
            await self.dispose(kernel) if kernel else await nb_runner.shutdown(None, km, now=True)
            # A job waiting runs on a kernel of its own, whose start reports the real error.
            while self.waiters:
                w = self.waiters.popleft()
                if not w.done():
                    w.set_result(None)
                    break
            delay = 0 if self.failures == 1 else min(30, 2 ** (self.failures - 1))
            asyncio.get_running_loop().call_later(delay, self.fill)
            return
        self.starting -= 1
        self.failures = 0
        if self.closing:
            await self.dispose(kernel)
        else:
            self.give(kernel)

    def give(self, kernel):
        while self.waiters:
            w = self.waiters.popleft()
            if not w.done():
                w.set_result(kernel)
                return
        self.idle.append(kernel)

    async def take(self):
        """A kernel that ran nothing, or None (the pool is stopping or cannot start one)."""
        while self.idle:
            kernel = self.idle.pop(0)
            if await kernel.km.is_alive():
                self.in_use += 1
                return kernel
            log("an idle kernel died; starting another")
            self.spawn(self.dispose(kernel))
        if self.closing:
            return None
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        self.fill()
        try:
            kernel = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                self.give(waiter.result())
            raise
        if kernel is not None:
            self.in_use += 1
        return kernel

    async def release(self, kernel):
        """Shuts down a kernel a job had, and starts its replacement."""
        try:
            await self.dispose(kernel)
        finally:
            self.in_use -= 1
            self.fill()

    async def dispose(self, kernel):
        kernel.sink = None
        try:
            kernel.kc.stop_channels()
        except Exception:
            pass
        await nb_runner.shutdown(None, kernel.km, now=True)

    async def enter(self, kernel, env, cwd):
        """Gives the kernel the job's environment, as if it had been started for the job."""
        env = dict(env)
        env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        drop = sorted(k for k in self.launch_env if k not in env and not k.startswith("JPY_"))
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        msg_id = kernel.kc.execute(setup_code(env, drop, paths, cwd), silent=True, store_history=False, allow_stdin=False)
        while True:
            reply = await kernel.kc.get_shell_msg(timeout=START_TIMEOUT)
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                break
        content = reply.get("content", {})
        if content.get("status") != "ok":
            raise RuntimeError(f"{content.get('ename')}: {content.get('evalue')}")

    async def serve(self, reader, writer):
        task = asyncio.current_task()
        terminated = []
        stage = ["waiting"]
        kernel = None
        status = None

        def send(msg):
            if not writer.is_closing():
                writer.write((json.dumps(msg) + "\n").encode())

        def say(stream, text):
            send({"o" if stream == "stdout" else "e": text})

        async def listen():
            while True:
                line = await reader.readline()
                signum = signal.SIGKILL if not line else json.loads(line).get("cancel")
                # Once: a second cancel would cut short the kernel's shutdown and the output notebook.
                if signum is not None and stage[0] != "done" and not terminated:
                    terminated.append(signum)
                    task.cancel()
                if not line:
                    return

        try:
            hello = json.loads(await reader.readline())
            args = nb_runner.parse_args(hello["argv"])
        except (ValueError, KeyError, TypeError, SystemExit):
            writer.close()
            return
        if self.closing:
            send({"cold": "the kernel pool is stopping"})
            await self.close_writer(writer)
            return
        self.jobs[task] = terminated
        listener = asyncio.ensure_future(listen())
        try:
            kernel = await self.take()
            if kernel is not None:
                try:
                    await self.enter(kernel, hello["env"], args.cwd)
                except Exception as exc:
                    log(f"a kernel refused the job's environment: {exc}")
                    await self.release(kernel)
                    kernel = None
            if kernel is None:
                stage[0] = "done"
                send({"cold": "no kernel"})
            else:
                stage[0] = "running"
                send({"started": True})
                kernel.sink = say
                status = await nb_runner.run_job(args, say, warm=(kernel.km, kernel.kc), terminated=terminated)
        except asyncio.CancelledError:
            status = 143
        except Exception as exc:
            say("stderr", f"[meowflow] the kernel pool failed: {type(exc).__name__}: {exc}\n")
            status = 1
        finally:
            stage[0] = "done"
            listener.cancel()
            del self.jobs[task]
            # A run that ended well left an idle kernel: the job is answered first.
            if status == 0:
                send({"x": status})
            if kernel is not None:
                await asyncio.shield(self.release(kernel))
            if status is not None and status != 0:
                send({"x": status})
            await self.close_writer(writer)

    @staticmethod
    async def close_writer(writer):
        try:
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        except (OSError, asyncio.CancelledError):
            pass

    async def stop(self, now):
        self.closing = True
        while self.waiters:
            w = self.waiters.popleft()
            if not w.done():
                w.set_result(None)
        idle, self.idle = self.idle, []
        await asyncio.gather(*(self.dispose(k) for k in idle), return_exceptions=True)
        if now:
            for task in list(self.background):
                task.cancel()
            for task, terminated in list(self.jobs.items()):
                terminated.append(signal.SIGTERM)
                task.cancel()
        while self.jobs or self.background:
            await asyncio.gather(*self.jobs, *self.background, return_exceptions=True)


class EndOfInput(asyncio.Protocol):
    def __init__(self, done):
        self.done = done

    def eof_received(self):
        if not self.done.done():
            self.done.set_result(False)

    def connection_lost(self, exc):
        self.eof_received()


async def serve(args, listener):
    loop = asyncio.get_running_loop()
    stopped = loop.create_future()

    def stop(now):
        if not stopped.done():
            stopped.set_result(now)

    parent = os.getppid()

    def watch_parent():
        if os.getppid() != parent:
            stop(False)
        else:
            loop.call_later(PARENT_POLL_S, watch_parent)

    loop.add_signal_handler(signal.SIGTERM, stop, True)
    loop.add_signal_handler(signal.SIGINT, lambda: None)
    pool = Pool(args.size, args.cwd)
    server = await asyncio.start_unix_server(pool.serve, sock=listener)
    await loop.connect_read_pipe(lambda: EndOfInput(stopped), sys.stdin)
    watch_parent()
    pool.fill()
    now = await stopped
    server.close()
    try:
        os.unlink(args.socket)
    except OSError:
        pass
    await pool.stop(now)


def main(argv):
    parser = argparse.ArgumentParser(prog="kernel_pool.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("socket")
    parser.add_argument("--size", type=int, default=1, help="idle kernels kept started")
    parser.add_argument("--cwd", default=os.getcwd(), help="the kernels' working directory at start")
    args = parser.parse_args(argv)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # the socket is born 0600: only this user may hand it jobs
    try:
        if os.path.exists(args.socket):
            os.unlink(args.socket)
        listener.bind(args.socket)
    finally:
        os.umask(old)
    listener.listen(128)
    # Jobs may connect from now on: they wait in the backlog while Jupyter loads.
    print("listening", flush=True)
    global nb_runner
    import nb_runner

    nb_runner.quiet()
    asyncio.run(serve(args, listener))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
