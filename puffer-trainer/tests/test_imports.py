"""Importing the package is cheap and inert: no torch until a command needs it, no side effects at all."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from shell_helpers import child_env


def run_python(code: str, *argv: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *argv], capture_output=True, text=True, cwd=cwd,
        env=child_env(), timeout=120,
    )  # fmt: skip


def test_import_does_not_load_torch():
    proc = run_python("import puffer_trainer, sys; assert 'torch' not in sys.modules, 'torch was imported'")
    assert proc.returncode == 0, proc.stderr


def test_list_and_help_do_not_load_torch():
    proc = run_python(
        """
        import contextlib, io, sys
        from puffer_trainer.cli import main

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["list"]) == 0
            for argv in (["--help"], ["train", "--help"], ["eval", "--help"], ["autotune", "--help"]):
                try:
                    main(argv)
                except SystemExit as exit:
                    assert exit.code == 0, (argv, exit.code)
        assert "ocean/squared" in out.getvalue() and "--train.KEY" in out.getvalue()
        assert "torch" not in sys.modules, "torch was imported"
        import puffer_trainer

        assert puffer_trainer.Trainer.__name__ == "Trainer" and "torch" in sys.modules  # loads on first use
        assert callable(puffer_trainer.train) and callable(puffer_trainer.make_policy)
        """
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


PROBE = """
import faulthandler, importlib, json, logging, os, pkgutil, random, signal, sys, threading, warnings

def snapshot():
    state = {
        "signal handlers": {int(s): repr(signal.getsignal(s)) for s in signal.valid_signals()
                            if signal.getsignal(s) is not None},
        "warning filters": repr(warnings.filters), "environment": dict(os.environ), "argv": sys.argv[:],
        "sys.path": sys.path[:], "cwd": os.getcwd(), "files": sorted(os.listdir(".")),
        "logging": repr((logging.root.handlers, logging.root.level, logging.lastResort,
                         logging.getLogger("puffer_trainer").handlers)),
        "streams and hooks": repr((sys.stdout, sys.stderr, sys.excepthook, threading.excepthook)),
        "threads": threading.active_count(), "faulthandler": faulthandler.is_enabled(),
        "python rng": repr(random.getstate()),
    }
    if "torch" in sys.modules:
        import numpy, torch
        state["torch settings"] = repr((torch.get_num_threads(), torch.get_num_interop_threads(),
                                        torch.get_default_dtype(), torch.is_grad_enabled(),
                                        torch.are_deterministic_algorithms_enabled()))
        state["torch rng"] = torch.get_rng_state().tolist()
        state["numpy rng"] = numpy.random.get_state()[1].tolist()
    return state

def changed(before, after):
    return sorted(key for key in after if before.get(key) != after[key])

start = snapshot()
import puffer_trainer  # the package itself, before any third-party import: nothing may change at all
alone = changed(start, snapshot())
# The declared dependencies may have import side effects of their own (torch sets variables and filters);
# import them first so that what follows measures this package's modules only.
import gymnasium, matplotlib, numpy, puffer_core, puffer_kernels, rich, torch
before = snapshot()
names = [m.name for m in pkgutil.walk_packages(puffer_trainer.__path__, "puffer_trainer.")
         if m.name != "puffer_trainer.__main__"]
for name in names:
    importlib.import_module(name)
print(json.dumps({"alone": alone, "modules": changed(before, snapshot()), "names": names}))
"""


def test_importing_every_module_has_no_side_effects(tmp_path):
    # Arguments that any import-time argv parsing would choke on, and an empty working folder to watch.
    proc = run_python(PROBE, "--train.learning-rate", "not-a-number", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["alone"] == [], f"`import puffer_trainer` changed: {result['alone']}"
    assert result["modules"] == [], f"importing {result['names']} changed: {result['modules']}"
    assert {"puffer_trainer.trainer", "puffer_trainer.run", "puffer_trainer.signals"} <= set(result["names"])
    assert list(tmp_path.iterdir()) == []
