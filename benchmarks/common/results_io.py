"""The one results writer of the benchmarks: JSON + Markdown (+ PNG), atomic, one schema.

Every benchmark ends by calling :func:`write_results`, which writes
``<out_dir>/<name>.json`` (default out_dir: ``benchmarks/results``), the Markdown table
rendered from that same JSON document, a figure where the benchmark has one, and any
extra text files. Each file is written to a temporary file in the same folder and moved
into place with ``os.replace``, so a crash mid-write leaves the previous file intact.

Schema (``SCHEMA_VERSION``): a JSON object whose ``"meta"`` entry holds

* ``schema`` (int), ``benchmark`` (str): the version and the name of the file,
* ``command`` (list of str): the command line that reproduces the run,
* ``seeds`` (list of int), ``wall_s`` (float, seconds), ``torch`` (str: torch version),
* ``hardware`` (dict: platform, cores, torch threads, library versions),

and whose other entries are the benchmark's figures. A merged file (datasets run one at a
time) keeps the other entries of the file it replaces; its meta describes the last run.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from manifold_fm._io import atomic_write

__all__ = [
    "MODULES",
    "RESULTS",
    "SCHEMA_VERSION",
    "ResultsSchemaError",
    "add_output_args",
    "atomic_write",
    "default_module",
    "hardware",
    "make_meta",
    "read_results",
    "to_json",
    "validate_results",
    "write_results",
]

#: the committed results folder, benchmarks/results
RESULTS = Path(__file__).resolve().parents[1] / "results"
SCHEMA_VERSION = 1
#: results file -> the module whose ``python -m`` command writes it, where that is not
#: ``benchmarks.<name>`` (the package of that name)
MODULES = {
    "earth": "benchmarks.nll.earth",
    "torus": "benchmarks.nll.torus",
    "text": "benchmarks.discrete.text",
    "sequences": "benchmarks.discrete.sequences",
    "protein_levers": "benchmarks.protein.levers",
    "speed_cuda": "benchmarks.speed.gpu_check",
}

#: required meta fields and the JSON types each may take
_META_FIELDS: dict[str, tuple[type, ...]] = {
    "schema": (int,),
    "benchmark": (str,),
    "command": (list,),
    "seeds": (list,),
    "wall_s": (int, float),
    "torch": (str,),
    "hardware": (dict,),
}


class ResultsSchemaError(ValueError):
    """A results document does not follow the schema; the message names the field."""


def hardware() -> dict:
    """Machine and library description recorded with every result."""
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    for mod in ("flow_matching", "torchcfm", "roma", "e3nn", "geoopt"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:
            info[mod] = None
    return info


def make_meta(
    benchmark: str,
    *,
    seeds: Sequence[int],
    wall_s: float,
    argv: Sequence[str] | None = None,
    module: str | None = None,
) -> dict:
    """The ``meta`` block of a run: command line, seeds, wall seconds, torch, hardware.

    ``argv`` are the arguments the benchmark's ``main`` parsed (default ``sys.argv[1:]``);
    the command is ``python -m <module> *argv`` (module default: ``MODULES[benchmark]``, else
    ``benchmarks.<benchmark>``).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    return {
        "schema": SCHEMA_VERSION,
        "benchmark": benchmark,
        "command": ["python", "-m", module or default_module(benchmark), *map(str, args)],
        "seeds": [int(s) for s in seeds],
        "wall_s": float(wall_s),
        "torch": torch.__version__,
        "hardware": hardware(),
    }


def default_module(benchmark: str) -> str:
    """The module whose command writes ``<benchmark>.json`` (:data:`MODULES`)."""
    return MODULES.get(benchmark, f"benchmarks.{benchmark}")


def validate_results(doc: object, where: str = "results") -> None:
    """Raise :class:`ResultsSchemaError` naming the first field of ``doc`` off the schema."""
    if not isinstance(doc, dict):
        raise ResultsSchemaError(f"{where}: expected a JSON object, got {type(doc).__name__}")
    meta = doc.get("meta")
    if not isinstance(meta, dict):
        raise ResultsSchemaError(f"{where}: missing the 'meta' object")
    for key, types in _META_FIELDS.items():
        if key not in meta:
            raise ResultsSchemaError(f"{where}: meta lacks {key!r}")
        value = meta[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise ResultsSchemaError(
                f"{where}: meta[{key!r}] = {value!r} is not of type "
                + "/".join(t.__name__ for t in types)
            )
    if meta["schema"] != SCHEMA_VERSION:
        raise ResultsSchemaError(
            f"{where}: meta['schema'] = {meta['schema']}, this code reads {SCHEMA_VERSION}"
        )
    for key in ("command", "seeds"):
        kind = str if key == "command" else int
        bad = [v for v in meta[key] if isinstance(v, bool) or not isinstance(v, kind)]
        if bad:
            raise ResultsSchemaError(f"{where}: meta[{key!r}] holds non-{kind.__name__} {bad!r}")


def to_json(obj: object, level: int = 0) -> str:
    """JSON text of ``obj``: one entry per line, lists of plain values kept on one line.

    Equivalent to ``json.dumps(obj, allow_nan=False)`` when parsed back (NaN and infinity
    are refused); object keys must be strings.
    """
    pad, inner = " " * level, " " * (level + 1)
    if isinstance(obj, dict) and obj:
        bad = [k for k in obj if not isinstance(k, str)]
        if bad:
            raise ResultsSchemaError(f"JSON object keys must be strings, got {bad[0]!r}")
        items = [f"{inner}{json.dumps(k)}: {to_json(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in obj):
        items = [inner + to_json(v, level + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj, allow_nan=False)


def read_results(name: str, out_dir: Path | str | None = None) -> dict | None:
    """The validated document ``<out_dir>/<name>.json``, or None when there is none."""
    path = Path(out_dir or RESULTS) / f"{name}.json"
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    validate_results(doc, str(path))
    return doc


def write_results(
    name: str,
    payload: Mapping,
    meta: dict,
    *,
    out_dir: Path | str | None = None,
    markdown: Callable[[dict], str] | None = None,
    figure: Callable[[Path], None] | None = None,
    texts: Mapping[str, str] | None = None,
    merge: bool = False,
) -> dict:
    """Write ``<name>.json`` (payload + meta), its Markdown, figure and texts; return the doc.

    ``merge``: entries of an existing ``<name>.json`` that ``payload`` does not replace are
    kept. ``markdown(doc)`` renders ``<name>.md`` from the written document; ``figure(path)``
    saves ``<name>.png``; ``texts`` maps file names to extra text files (e.g. samples).
    The document is validated before anything is written.
    """
    if "meta" in payload:
        raise ResultsSchemaError(f"{name}: the payload may not carry its own 'meta' entry")
    out = Path(out_dir or RESULTS)
    old = read_results(name, out) if merge else None
    doc = {k: v for k, v in (old or {}).items() if k != "meta"}
    doc.update(payload)
    doc["meta"] = meta
    validate_results(doc, name)
    text = to_json(doc) + "\n"
    md = markdown(doc) if markdown is not None else None
    atomic_write(out / f"{name}.json", lambda p: p.write_text(text))
    if md is not None:
        atomic_write(out / f"{name}.md", lambda p: p.write_text(md))
    if figure is not None:
        atomic_write(out / f"{name}.png", figure)
    for fname, body in (texts or {}).items():
        atomic_write(out / fname, lambda p, body=body: p.write_text(body))
    return doc


def add_output_args(ap) -> None:
    """The ``--out-dir`` option every benchmark takes (default ``benchmarks/results``)."""
    ap.add_argument("--out-dir", default=str(RESULTS), help="folder of the result files")
