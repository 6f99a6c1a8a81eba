"""Packaging: header and cdef agree, import has no side effects, the libraries are found."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import puffer_kernels
from puffer_kernels import _loader

HEADER = Path(__file__).resolve().parents[1] / "src" / "puffer_kernels" / "csrc" / "advantage.h"


def _declarations(text: str) -> dict[str, str]:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = text.replace("PUFF_API", "")
    decls = {}
    for m in re.finditer(r"([\w\s\*]+?)\b(puff_\w+)\s*\(([^)]*)\)\s*;", text):
        decls[m.group(2)] = " ".join((m.group(1) + "(" + m.group(3) + ")").split())
    return decls


def test_cdef_matches_header():
    header = _declarations(HEADER.read_text())
    cdef = _declarations(_loader.CDEF + _loader.CUDA_CDEF)
    assert len(header) == 10
    assert header == cdef


def test_import_has_no_side_effects():
    code = (
        "import sys, puffer_kernels\n"
        "from puffer_kernels import _loader\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert _loader.cpu_lib.cache_info().currsize == 0, 'library loaded at import'\n"
        "assert _loader.cuda_lib.cache_info().currsize == 0, 'CUDA library loaded at import'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_c_library_is_installed_next_to_the_package():
    path = _loader.find_library(_loader.CPU_LIB)
    assert path is not None
    assert _loader.cpu_lib() is not None


def test_version():
    assert puffer_kernels.__version__ == "0.1.0"
