"""Run one meowflow notebook job on a real Jupyter kernel.

    python nb_runner.py INPUT.ipynb OUTPUT.ipynb [--cell-timeout SECONDS]
                        [--params PARAMS.json] [--cwd DIR]

INPUT is the already-parameterised notebook. Cells run one at a time through
nbclient so that each gets papermill-style timing metadata and execution stops
at the first error. OUTPUT is always written, on failure too. Next to OUTPUT:
error.json ({cell_index, recipe_cell_index, execution_count, ename, evalue,
traceback}) on failure, meow_result.json when a cell tagged "result" produced
a value. Exit status: 0 success, 1 a cell or the kernel failed, 2 bad usage,
143 terminated by SIGTERM/SIGINT.

The kernel runs on this very interpreter (sys.executable), whatever kernelspec
named "python3" is installed: a notebook's kernel must see the same packages
that meowflow checked for.
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

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
INJECTED_TAG = "injected-parameters"
RESULT_TAG = "result"


class SameInterpreterSpecs(KernelSpecManager):
    """Every kernel name resolves to ipykernel on sys.executable."""

    def get_kernel_spec(self, kernel_name):
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="Python 3 (ipykernel)",
            language="python",
            resource_dir="",
        )


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
    return type(exc).__name__, str(exc), ANSI.sub("", str(exc))


def echo_streams(cell):
    """Copy a cell's stdout/stderr into the job's logs."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            (sys.stderr if out.get("name") == "stderr" else sys.stdout).write(text)
    sys.stdout.flush()
    sys.stderr.flush()


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1, ensure_ascii=False)
    os.replace(tmp, path)


def prepare(nb, parameters):
    """Papermill's bookkeeping: clear old outputs, mark every cell pending."""
    nb.metadata["papermill"] = {
        "parameters": parameters,
        "start_time": now_iso(),
        "end_time": None,
        "duration": None,
        "exception": None,
        "input_path": None,
        "output_path": None,
    }
    for cell in nb.cells:
        cell.metadata["papermill"] = {"start_time": None, "end_time": None, "duration": None, "status": "pending", "exception": None}
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None


async def run_cells(client, nb, state):
    msg_id = await ensure_async(client.kc.kernel_info())
    reply = await client.async_wait_for_reply(msg_id)
    if reply and "language_info" in reply.get("content", {}):
        nb.metadata["language_info"] = reply["content"]["language_info"]
    injected = 0
    count = 0
    code_cells = sum(1 for c in nb.cells if c.cell_type == "code")
    for index, cell in enumerate(nb.cells):
        if INJECTED_TAG in tags(cell):
            injected += 1
        pm = cell.metadata["papermill"]
        if cell.cell_type != "code":
            continue
        state["cell"] = (index, index - injected, cell)
        started = time.monotonic()
        pm["start_time"], pm["status"] = now_iso(), "running"
        try:
            count += 1
            await client.async_execute_cell(cell, index, execution_count=count)
            pm["status"] = "completed"
        except BaseException:
            pm["status"] = "failed"
            pm["exception"] = True
            raise
        finally:
            pm["end_time"] = now_iso()
            pm["duration"] = round(time.monotonic() - started, 6)
            echo_streams(cell)
        print(f"[meowflow] cell {index} done ({count}/{code_cells} code cells, {pm['duration']:.2f}s)", flush=True)
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


async def execute(args, nb, parameters, outdir):
    state = {"cell": None, "result": None}
    km = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=SameInterpreterSpecs())
    client = None
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    terminated = []

    def on_signal(signum):
        terminated.append(signum)
        task.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    error = None
    try:
        client = NotebookClient(
            nb,
            km=km,
            kernel_name="python3",
            timeout=math.ceil(args.cell_timeout) if args.cell_timeout > 0 else None,
            allow_errors=False,
            resources={"metadata": {"path": args.cwd}},
        )
        client.reset_execution_trackers()
        await client.async_start_new_kernel(cwd=args.cwd)
        await client.async_start_new_kernel_client()
        await run_cells(client, nb, state)
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
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, terminated.append, signum)
        await asyncio.shield(shutdown(client, km, now=bool(terminated) or error is not None))
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)

    pm = nb.metadata["papermill"]
    pm["end_time"] = now_iso()
    pm["exception"] = error is not None
    if error is not None:
        where = state["cell"]
        error = {
            "cell_index": where[0] if where else None,
            "recipe_cell_index": where[1] if where else None,
            "execution_count": where[2].get("execution_count") if where else None,
            **error,
        }
        write_json(os.path.join(outdir, "error.json"), error)
    if state["result"] is not None:
        write_json(os.path.join(outdir, "meow_result.json"), state["result"][0])
    return error, terminated


def main(argv):
    parser = argparse.ArgumentParser(prog="nb_runner.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--cell-timeout", type=float, default=0, help="seconds per cell; 0 for none")
    parser.add_argument("--params", default=None, help="JSON file of the injected parameters")
    parser.add_argument("--cwd", default=os.getcwd(), help="the kernel's working directory")
    args = parser.parse_args(argv)

    # nbformat warns about cell ids on old notebooks; the job log is no place for that.
    warnings.filterwarnings("ignore", module="nbformat")
    # The kernel inherits this: it silences debugpy's frozen-modules notice on every start.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    outdir = os.path.dirname(os.path.abspath(args.output))
    try:
        parameters = {}
        if args.params:
            with open(args.params, encoding="utf-8") as f:
                parameters = json.load(f)
        nb = nbformat.read(args.input, as_version=4)
    except Exception as exc:
        # Nothing ran, so there is no output notebook to write; say why instead.
        error = {"cell_index": None, "recipe_cell_index": None, "execution_count": None,
                 "ename": type(exc).__name__, "evalue": f"cannot read {args.input}: {exc}", "traceback": ""}
        write_json(os.path.join(outdir, "error.json"), error)
        print(f"[meowflow] {error['evalue']}", file=sys.stderr, flush=True)
        return 1
    prepare(nb, parameters)
    nb.metadata["papermill"]["input_path"] = args.input
    nb.metadata["papermill"]["output_path"] = args.output
    started = time.monotonic()
    try:
        error, terminated = asyncio.run(execute(args, nb, parameters, outdir))
    finally:
        nb.metadata["papermill"]["duration"] = round(time.monotonic() - started, 6)
        nbformat.write(nb, args.output)
    if terminated:
        print(f"[meowflow] {error['evalue']} during cell {error['cell_index']}", file=sys.stderr, flush=True)
        return 143
    if error is not None:
        where = f"cell {error['cell_index']}" if error["cell_index"] is not None else "the notebook"
        print(f"[meowflow] {where} raised {error['ename']}: {error['evalue']}\n{error['traceback']}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
