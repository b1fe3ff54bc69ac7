"""The compiled loop's table of losses, written from their compiled twins when the extension is built.

Each loss's compiled twin sits next to its class: ``cdef inline double
<name>_loss(double p, double y, double param)`` and ``<name>_dloss`` in the
``.pxd`` beside the class's module (``_residual.pxd`` for ``_residual.py``),
``<name>`` being the loss's ``Loss.name``. ``setup.py`` calls
``write_dispatch`` before it compiles ``skgd/_sgd_fast.pyx``; the file it
writes, ``skgd/_sgd_losses.pxd``, numbers the twins in the order their files
list them and dispatches on that code, so no code is written by hand. This
module imports nothing of skgd: the build loads it by its path.
"""

import re
from pathlib import Path

#: The file the compiled loop cimports its losses from, in the package folder.
DISPATCH = "_sgd_losses.pxd"

_TWIN = re.compile(r"^cdef inline double (\w+?)_(d?loss)\(double p, double y, double param\) noexcept nogil:", re.M)


def twins(folder):
    """The compiled twins in ``folder``'s ``.pxd`` files: (module, loss name) pairs, in code order.

    Parameters
    ----------
    folder : path-like
        The loss package's folder (``skgd/_loss``).

    Returns
    -------
    list of (str, str)

    Raises
    ------
    ValueError
        If a loss has its ``_loss`` or its ``_dloss`` but not both, or two files twin the same name.
    """
    found = []
    for path in sorted(Path(folder).glob("*.pxd")):
        parts = {}
        for name, kind in _TWIN.findall(path.read_text(encoding="utf-8")):
            parts.setdefault(name, set()).add(kind)
        for name, kinds in parts.items():
            if kinds != {"loss", "dloss"}:
                (missing,) = {"loss", "dloss"} - kinds
                raise ValueError(f"{path.name}: the compiled twin of {name!r} lacks its {name}_{missing}.")
            if name in (known for _, known in found):
                raise ValueError(f"{path.name}: a second compiled twin of {name!r}.")
            found.append((path.stem, name))
    return found


def dispatch(folder):
    """The text of ``DISPATCH`` for the twins in ``folder``: the codes' count and names, ``_loss`` and ``_dloss``.

    Parameters
    ----------
    folder : path-like
        The loss package's folder.

    Returns
    -------
    str
    """
    found = twins(folder)
    lines = [
        "# cython: language_level=3, cdivision=True",
        "# Written by skgd/_loss/_twins.py from skgd/_loss/*.pxd when the extension is built: do not edit.",
        '"""The compiled twins of skgd._loss.LOSSES by code: code k is the k-th ``_loss_names()`` names."""',
        "from libc.math cimport NAN",
        "",
    ]
    for module in dict.fromkeys(module for module, _ in found):
        names = sorted(f"{name}_{kind}" for m, name in found if m == module for kind in ("loss", "dloss"))
        lines.append(f"from ._loss.{module} cimport {', '.join(names)}")
    lines += ["", "", "cdef enum:", f"    LOSS_COUNT = {len(found)}", "", ""]
    lines += ["cdef inline tuple _loss_names():", f"    return ({''.join(f'{n!r}, ' for _, n in found)})"]
    for kind in ("loss", "dloss"):
        lines += ["", "", f"cdef inline double _{kind}(int code, double p, double y, double param) noexcept nogil:"]
        for code, (_, name) in enumerate(found):
            branch = "if" if code == 0 else "elif"
            lines += [f"    {branch} code == {code}:", f"        return {name}_{kind}(p, y, param)"]
        lines.append("    return NAN  # unreachable: codes are checked on entry")
    return "\n".join(lines) + "\n"


def write_dispatch(package):
    """Write ``DISPATCH`` into ``package`` from the twins in its ``_loss`` folder, where its text changed.

    Parameters
    ----------
    package : path-like
        The ``skgd`` folder of a source tree.
    """
    target, text = Path(package) / DISPATCH, dispatch(Path(package) / "_loss")
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
