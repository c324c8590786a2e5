"""Run one meowflow notebook job on a real Jupyter kernel.

    python nb_runner.py INPUT.ipynb OUTPUT.ipynb [--cell-timeout SECONDS]
                        [--params PARAMS.json] [--cwd DIR] [--cell-numbers N,N,-,N]

INPUT is the already-parameterised notebook. Cells run one at a time through
nbclient so that each gets papermill-style timing metadata and execution stops
at the first error, as papermill's engine does; a cell ending in sys.exit(),
sys.exit(0) or SystemExit stops the run successfully, as in papermill. OUTPUT
is always written, on failure too, and then opens with papermill's error banner
linking to an anchor just above the failed cell. Next to OUTPUT: error.json
({cell_index, cell, execution_count, ename, evalue, traceback}) on failure,
meow_result.json when a cell tagged "result" produced a value. Exit status: 0
success, 1 a cell or the kernel failed, 2 bad usage, 143 terminated by
SIGTERM/SIGINT.

--cell-numbers gives each cell of INPUT its number in the recipe file (from 1,
"-" for the injected cell, "A-B" for a run of consecutive numbers); messages
name cells by it.

The kernel is the one the notebook's kernelspec names. "python3" (or "python",
or none) runs on this very interpreter (sys.executable), whatever kernelspec of
that name is installed: a Python notebook's kernel must see the same packages
that meowflow checked for.

With MEOW_KERNEL_POOL set (the local backend sets it when warm kernels are on),
a Python notebook runs on a pre-started kernel of the pool listening at that
socket (runtime/kernel_pool.py, through runtime/nb_pool_client.py), and this
process only relays its output, signals and exit status; with no pool there,
it runs as above, on a kernel of its own.
"""

import argparse
import ast
import asyncio
import datetime
import json
import math
import os
import re
import signal
import sys
import time
import warnings

if __name__ == "__main__" and os.environ.get("MEOW_KERNEL_POOL"):
    # Before the Jupyter imports below, which take longer than a warm run.
    import nb_pool_client

    _status = nb_pool_client.run(os.environ.pop("MEOW_KERNEL_POOL"), sys.argv[1:])
    if _status is not None:
        sys.exit(_status)

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
RESULT_TAG = "result"
SAME_INTERPRETER = ("python3", "python")

# papermill's error banner (papermill/execute.py), so the executed notebook
# shows where it failed when opened in Jupyter.
ERROR_MARKER_TAG = "papermill-error-cell-tag"
ERROR_STYLE = 'style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;"'
ERROR_MESSAGE_TEMPLATE = (
    f"<span {ERROR_STYLE}>An Exception was encountered at "
    "'<a href=\"#papermill-error-cell\">In [%s]</a>' (%s).</span>"
)
ERROR_ANCHOR_MSG = (
    f'<span id="papermill-error-cell" {ERROR_STYLE}>'
    "Execution using papermill encountered an exception here and stopped:"
    "</span>"
)


class MeowKernelSpecs(KernelSpecManager):
    """Python kernel names resolve to ipykernel on sys.executable; others as installed."""

    def get_kernel_spec(self, kernel_name):
        if kernel_name in SAME_INTERPRETER:
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name="Python 3 (ipykernel)",
                language="python",
                resource_dir="",
            )
        return super().get_kernel_spec(kernel_name)


def kernel_name_of(nb):
    spec = nb.metadata.get("kernelspec")
    name = spec.get("name") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name else "python3"


def is_clean_exit(cell):
    """papermill's rule: SystemExit with no code or code 0 is not an error."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return out.get("ename") == "SystemExit" and out.get("evalue") in ("", "0")
    return False


def place(number, index):
    """A cell as a person names it: its number in the recipe file."""
    if number is not None:
        return f"cell {number}"
    return "the injected-parameters cell" if index is not None else "the notebook"


def message(error):
    """`cell 3 raised E: v` and the traceback, without its last line when that repeats `E: v`."""
    head = f"{error['ename']}: {error['evalue']}"
    lines = error["traceback"].rstrip().split("\n") if error["traceback"] else []
    while lines and not lines[-1].strip():
        lines.pop()
    if lines and lines[-1].strip() == head.strip():
        lines.pop()
    tb = "\n".join(lines).strip()
    return f"{place(error['cell'], error['cell_index'])} raised {head}" + (f"\n{tb}" if tb else "")


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def tags(cell):
    return cell.get("metadata", {}).get("tags", []) or []


def parse_text(text):
    """A JSON value from text: JSON first, then a Python literal (a repr)."""
    text = text.strip()
    if not text:
        return None, False
    try:
        return json.loads(text), True
    except ValueError:
        pass
    try:
        value = ast.literal_eval(text)
        json.dumps(value)
        return value, True
    except Exception:
        return None, False


def cell_result(cell):
    """The value a result-tagged cell reports: its last rich or JSON-on-stdout output."""
    for out in reversed(cell.get("outputs", [])):
        kind = out.get("output_type")
        if kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "application/json" in data:
                return data["application/json"], True
            if "text/plain" in data:
                text = data["text/plain"]
                text = "".join(text) if isinstance(text, list) else text
                value, ok = parse_text(text)
                return (value, True) if ok else (text, True)
        elif kind == "stream" and out.get("name") == "stdout":
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            value, ok = parse_text(text)
            if not ok:
                lines = [line for line in text.splitlines() if line.strip()]
                value, ok = parse_text(lines[-1]) if lines else (None, False)
            if ok:
                return value, True
    return None, False


def error_of(cell, exc):
    """ename, evalue and ANSI-free traceback of a failed cell."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            tb = "\n".join(out.get("traceback", []))
            return out.get("ename", "Error"), out.get("evalue", ""), ANSI.sub("", tb)
    if isinstance(exc, CellExecutionError) and getattr(exc, "ename", None):
        # No error output (IPython prints a UsageError to stderr instead): the
        # reply still names the error, and the cell's stderr already shows it.
        return exc.ename, exc.evalue or "", ""
    return type(exc).__name__, str(exc), ANSI.sub("", str(exc))


def say(stream, text):
    """Writes to this process's stdout or stderr (the job's logs). A warm run
    passes its own `say`, which relays to the job's process instead."""
    f = sys.stderr if stream == "stderr" else sys.stdout
    f.write(text)
    f.flush()


def echo_streams(cell, say):
    """Copy a cell's stdout/stderr into the job's logs."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            say("stderr" if out.get("name") == "stderr" else "stdout", text)


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1, ensure_ascii=False)
    os.replace(tmp, path)


def prepare(nb, parameters):
    """Papermill's bookkeeping: clear old outputs, mark every cell pending."""
    pm = nb.metadata.get("papermill")
    if not isinstance(pm, dict):
        pm = nb.metadata["papermill"] = {"default_parameters": {}, "environment_variables": {}}
    pm["parameters"] = parameters
    pm.update({"start_time": now_iso(), "end_time": None, "duration": None, "exception": None})
    for cell in nb.cells:
        cell.metadata["papermill"] = {"start_time": None, "end_time": None, "duration": None, "status": "pending", "exception": None}
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None


async def run_cells(client, nb, state, numbers, say):
    msg_id = await ensure_async(client.kc.kernel_info())
    reply = await client.async_wait_for_reply(msg_id)
    if reply and "language_info" in reply.get("content", {}):
        nb.metadata["language_info"] = reply["content"]["language_info"]
    count = 0
    done = 0
    # Progress counts the cells the user wrote: the injected cell is not one of them.
    code_cells = sum(1 for i, c in enumerate(nb.cells) if c.cell_type == "code" and numbers[i] is not None)
    for index, cell in enumerate(nb.cells):
        pm = cell.metadata["papermill"]
        if cell.cell_type != "code":
            continue
        state["cell"] = (index, numbers[index], cell)
        started = time.monotonic()
        pm["start_time"], pm["status"] = now_iso(), "running"
        clean_exit = False
        try:
            count += 1
            await client.async_execute_cell(cell, index, execution_count=count)
            pm["status"] = "completed"
        except CellExecutionError:
            clean_exit = is_clean_exit(cell)
            pm["status"] = "completed" if clean_exit else "failed"
            pm["exception"] = not clean_exit
            if not clean_exit:
                raise
        except BaseException:
            pm["status"] = "failed"
            pm["exception"] = True
            raise
        finally:
            pm["end_time"] = now_iso()
            pm["duration"] = round(time.monotonic() - started, 6)
            echo_streams(cell, say)
        if numbers[index] is None:
            say("stdout", f"[meowflow] injected-parameters cell done ({pm['duration']:.2f}s)\n")
        else:
            done += 1
            say("stdout", f"[meowflow] cell {numbers[index]} done ({done}/{code_cells} code cells, {pm['duration']:.2f}s)\n")
        if clean_exit:
            say("stdout", f"[meowflow] {place(numbers[index], index)} called sys.exit() with no error status: the run stops here, successfully\n")
            break
        if RESULT_TAG in tags(cell):
            value, ok = cell_result(cell)
            if ok:
                state["result"] = (value,)


async def shutdown(client, km, now):
    """Stop the kernel and its channels, whatever state they are in."""
    try:
        if client is not None and client.kc is not None:
            client.kc.stop_channels()
    except Exception:
        pass
    try:
        if km.has_kernel:
            await km.shutdown_kernel(now=now)
    except Exception:
        try:
            await km.shutdown_kernel(now=True)
        except Exception:
            pass
    try:
        await ensure_async(km.cleanup_resources())
    except Exception:
        pass


# Done in a warm kernel that ran its job to the end, before it is killed (a
# clean exit takes most of a second): files left open are flushed, as they
# would be as the kernel exits, so the job's outputs are complete when it
# ends. (Exit handlers are not run: the kernel's own would close its sockets.)
WARM_EXIT = """def _meow_exit():
    import gc, io
    kinds = (io.TextIOWrapper, io.BufferedWriter, io.BufferedRandom)
    for o in gc.get_objects():
        try:
            if type(o) in kinds and not o.closed:
                o.flush()
        except BaseException:
            pass
_meow_exit()
"""
WARM_EXIT_TIMEOUT = 10


async def warm_exit(client):
    """Runs WARM_EXIT in the kernel; False when it did not answer in time."""
    kc = client.kc
    msg_id = kc.execute(WARM_EXIT, silent=True, store_history=False, allow_stdin=False)
    try:
        await asyncio.wait_for(client.async_wait_for_reply(msg_id), WARM_EXIT_TIMEOUT)
        return True
    except Exception:
        return False


def new_kernel_manager(kernel_name):
    return AsyncKernelManager(kernel_name=kernel_name, kernel_spec_manager=MeowKernelSpecs())


async def start_kernel(client, cwd):
    """Starts the kernel, and once more, with a new manager, if it dies on the
    way up: two kernels starting at once, in two jobs, can be handed the same
    free port. Returns the kernel manager in use."""
    for attempt in (1, 2):
        try:
            await client.async_start_new_kernel(cwd=cwd)
            await client.async_start_new_kernel_client()
            return client.km
        except RuntimeError as exc:
            if attempt == 2:
                raise
            print(f"[meowflow] the kernel did not start ({exc}); starting it once more", file=sys.stderr, flush=True)
            if client.km is not None:
                await shutdown(client, client.km, now=True)
            client.kc = None
            client.km = new_kernel_manager(client.kernel_name)


async def execute(args, nb, parameters, outdir, numbers, say, warm=None, terminated=None):
    """Runs the notebook, on a kernel of its own, or on `warm`, a started
    (manager, client) pair that ran nothing else. A warm run is stopped by
    whoever owns it: it cancels this task after appending the signal to
    `terminated`. The kernel is shut down at the end, but for a warm one that
    ran to the end: its owner shuts that down once it has answered the job."""
    state = {"cell": None, "result": None}
    kernel_name = kernel_name_of(nb)
    km = new_kernel_manager(kernel_name) if warm is None else warm[0]
    client = None
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    own_signals = terminated is None
    terminated = [] if terminated is None else terminated

    def on_signal(signum):
        terminated.append(signum)
        task.cancel()

    if own_signals:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum)
    error = None
    try:
        client = NotebookClient(
            nb,
            km=km,
            kernel_name=kernel_name,
            timeout=math.ceil(args.cell_timeout) if args.cell_timeout > 0 else None,
            allow_errors=False,
            resources={"metadata": {"path": args.cwd}},
        )
        client.reset_execution_trackers()
        if warm is None:
            km = await start_kernel(client, args.cwd)
        else:
            client.kc = warm[1]
            client.kc.allow_stdin = False
        await run_cells(client, nb, state, numbers, say)
        if warm is not None:
            await warm_exit(client)
    except asyncio.CancelledError:
        error = {"ename": "Terminated", "evalue": f"stopped by signal {terminated[0] if terminated else '?'}", "traceback": ""}
    except (CellExecutionError, CellTimeoutError, DeadKernelError, Exception) as exc:
        if terminated:
            # nbclient turns our cancellation into DeadKernelError; it was the signal.
            ename, evalue, tb = "Terminated", f"stopped by signal {terminated[0]}", ""
        elif state["cell"] is not None:
            ename, evalue, tb = error_of(state["cell"][2], exc)
        else:
            ename, evalue, tb = type(exc).__name__, str(exc), ""
        error = {"ename": ename, "evalue": evalue, "traceback": tb}
    finally:
        # A second SIGTERM must not cut the kernel's shutdown short (the default
        # action would orphan it); the backend's SIGKILL after its grace still can.
        if own_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, terminated.append, signum)
        # The manager in use: a second start attempt has a new one.
        if client is not None and client.km is not None:
            km = client.km
        # A warm kernel that ran its job to the end is left to its owner, which
        # answers the job first (it is idle: nothing of the job runs there).
        if warm is None or terminated or error is not None:
            await asyncio.shield(shutdown(client, km, now=warm is not None or bool(terminated) or error is not None))
        if own_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

    pm = nb.metadata["papermill"]
    pm["end_time"] = now_iso()
    pm["exception"] = error is not None
    if error is not None:
        where = state["cell"]
        error = {
            "cell_index": where[0] if where else None,
            "cell": where[1] if where else None,
            "execution_count": where[2].get("execution_count") if where else None,
            **error,
        }
        write_json(os.path.join(outdir, "error.json"), error)
        if where is not None and error["ename"] != "Terminated":
            add_error_banner(nb, error)
    if state["result"] is not None:
        write_json(os.path.join(outdir, "meow_result.json"), state["result"][0])
    return error, terminated


def add_error_banner(nb, error):
    """papermill's banner: a note at the top linking to an anchor just above the failed cell."""
    count = error["execution_count"]
    banner = nbformat.v4.new_markdown_cell(ERROR_MESSAGE_TEMPLATE % ("" if count is None else count, place(error["cell"], error["cell_index"])))
    anchor = nbformat.v4.new_markdown_cell(ERROR_ANCHOR_MSG)
    for cell in (banner, anchor):
        cell.metadata["tags"] = [ERROR_MARKER_TAG]
        if nb.nbformat_minor < 5:
            del cell["id"]
    nb.cells.insert(error["cell_index"], anchor)
    nb.cells.insert(0, banner)


def cell_numbers(text, count):
    """--cell-numbers: per cell, a number, a run "A-B" of consecutive ones, or "-"; by default the cells' positions from 1."""
    if text is None:
        return list(range(1, count + 1))
    numbers = []
    for item in text.split(",") if text else []:
        if item == "-":
            numbers.append(None)
        elif "-" in item:
            first, last = (int(n) for n in item.split("-"))
            numbers.extend(range(first, last + 1))
        else:
            numbers.append(int(item))
    if len(numbers) != count:
        raise ValueError(f"--cell-numbers has {len(numbers)} entries for {count} cells")
    return numbers


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="nb_runner.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--cell-timeout", type=float, default=0, help="seconds per cell; 0 for none")
    parser.add_argument("--params", default=None, help="JSON file of the injected parameters")
    parser.add_argument("--cwd", default=os.getcwd(), help="the kernel's working directory")
    parser.add_argument("--cell-numbers", default=None, help="each cell's number in the recipe file, '-' for the injected cell")
    return parser.parse_args(argv)


def quiet():
    """Settings of a process that runs notebooks (the kernels it starts inherit the environment)."""
    # nbformat warns about cell ids on old notebooks; the job log is no place for that.
    warnings.filterwarnings("ignore", module="nbformat")
    # The kernel inherits this: it silences debugpy's frozen-modules notice on every start.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


async def run_job(args, say, warm=None, terminated=None):
    """One notebook job: reads INPUT, runs it (see `execute`), always writes
    OUTPUT, and returns the exit status."""
    outdir = os.path.dirname(os.path.abspath(args.output))
    try:
        parameters = {}
        if args.params:
            with open(args.params, encoding="utf-8") as f:
                parameters = json.load(f)
        nb = nbformat.read(args.input, as_version=4)
        numbers = cell_numbers(args.cell_numbers, len(nb.cells))
    except Exception as exc:
        # Nothing ran, so there is no output notebook to write; say why instead.
        error = {"cell_index": None, "cell": None, "execution_count": None,
                 "ename": type(exc).__name__, "evalue": f"cannot read {args.input}: {exc}", "traceback": ""}
        write_json(os.path.join(outdir, "error.json"), error)
        say("stderr", f"[meowflow] {error['evalue']}\n")
        return 1
    prepare(nb, parameters)
    nb.metadata["papermill"]["input_path"] = args.input
    nb.metadata["papermill"]["output_path"] = args.output
    started = time.monotonic()
    try:
        error, terminated = await execute(args, nb, parameters, outdir, numbers, say, warm, terminated)
    finally:
        nb.metadata["papermill"]["duration"] = round(time.monotonic() - started, 6)
        nbformat.write(nb, args.output)
    if terminated:
        say("stderr", f"[meowflow] {error['evalue']} during {place(error['cell'], error['cell_index'])}\n")
        return 143
    if error is not None:
        say("stderr", f"[meowflow] {message(error)}\n")
        return 1
    return 0


def main(argv):
    args = parse_args(argv)
    quiet()
    return asyncio.run(run_job(args, say))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
