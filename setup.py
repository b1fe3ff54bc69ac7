"""The compiled loop, built with the flags each compiler takes.

Everything else about the package is declared in pyproject.toml; an extension
module is declared here, where setuptools supports it (its ``ext-modules``
table in pyproject.toml is experimental).

- GCC and Clang get ``-O3`` and, in release builds, ``-g0``: Python's own
  CFLAGS carry ``-g``, which would ship about 1.6 MB of debug information in
  the extension. MSVC gets ``/O2`` (``_sgd_fast.pyx`` supports MSVC).
- The losses' table ``skgd/_sgd_losses.pxd`` is written from their compiled
  twins (``skgd/_loss/*.pxd``) before the loop compiles: ``skgd/_loss/_twins.py``.
- On x86-64 the same loop is built a second time with AVX2 and without FMA
  (``skgd._sgd_fast_avx2``, bitwise the same fits); MSVC builds only the
  portable one.
- A build with debug information: ``SKGD_DEBUG_BUILD=1 pip install -e .`` (or,
  with Cython installed, ``python setup.py build_ext --inplace --debug``).
"""

import importlib.util
import os
import platform
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class BuildExt(build_ext):
    """build_ext that picks optimisation and debug flags by compiler type."""

    def build_extensions(self):
        _twins().write_dispatch(Path(__file__).parent / "skgd")
        debug = self.debug or os.environ.get("SKGD_DEBUG_BUILD", "0") not in ("", "0")
        if self.compiler.compiler_type == "msvc":
            flags = ["/O2"]
            # MSVC's /arch:AVX2 may contract a * b + c into FMA, which rounds
            # differently: that build would not be bitwise the portable one.
            self.extensions = [extension for extension in self.extensions if extension.name != AVX2.name]
        else:  # GCC, Clang and the compilers that mimic them
            flags = ["-O3"] if debug else ["-O3", "-g0"]
        for extension in self.extensions:
            extension.extra_compile_args = [*flags, *extension.extra_compile_args]
        super().build_extensions()


def _twins():
    """skgd/_loss/_twins.py, loaded by its path (importing skgd would need its runtime dependencies)."""
    spec = importlib.util.spec_from_file_location("_twins", Path(__file__).parent / "skgd" / "_loss" / "_twins.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The loop again, for x86-64 CPUs with AVX2 (``skgd._sgd_loop`` picks it at import):
#: no FMA, so each product and sum rounds as the portable build's.
AVX2 = Extension(
    "skgd._sgd_fast_avx2",
    sources=["skgd/_sgd_fast_avx2.pyx"],
    extra_compile_args=["-mavx2", "-mno-fma", "-ffp-contract=off"],
)
X86_64 = platform.machine().lower() in ("x86_64", "amd64")

setup(
    ext_modules=[Extension("skgd._sgd_fast", sources=["skgd/_sgd_fast.pyx"]), *([AVX2] if X86_64 else [])],
    cmdclass={"build_ext": BuildExt},
)
