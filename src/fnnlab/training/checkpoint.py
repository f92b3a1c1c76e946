"""Checkpoints: a model saved as its spec plus its weights, written atomically, loaded safely.

A fnnlab checkpoint is a ``torch.save`` file holding only plain containers, strings,
numbers and tensors::

    {"format": "fnnlab", "version": 1,
     "spec": model.spec.to_dict(),        # rebuilds the architecture, no script needed
     "state_dict": model.state_dict(),
     "extra": {...},                      # e.g. the likelihood, class labels
     "ensemble": {...},                   # only for an Ensemble: members, likelihood
     "training": {...}}                   # only in resumable checkpoints written by fit

An :class:`~fnnlab.training.bagging.Ensemble` of networks of one spec is saved the
same way: the members' spec, the ensemble's ``state_dict`` (``members.<i>.<key>``)
and an ``ensemble`` entry with the number of members and the likelihood (name and
options) that averages them.

Writing goes to a temporary file in the same folder, which is flushed, synced and then
renamed over the target with ``os.replace`` (atomic on POSIX and Windows), so a kill
mid-write leaves either the old file or the new one, never a torn one. Reading uses
``torch.load(weights_only=True)``, whose unpickler only builds tensors and plain
containers: a file tampered to contain any other pickled object is refused instead of
running its code.

Note [number lists as tensors]
    ``weights_only`` unpickles Python floats one by one in pure Python (about 4 us
    each), so a fitted quantile scaling of Tox21's 1238 columns (1.2 million
    quantiles in ``extra["preprocessor"]``) took 5 s to read. `write` therefore stores
    every list of at least 256 floats as a float64 tensor wrapped in
    ``{"__fnnlab_float64__": tensor}``, and `read` turns it back into the same list
    (float64 holds a Python float exactly), so callers see the payload they wrote
    and reading takes a fraction of a second.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

__all__ = ["load", "read", "save", "write"]

_FORMAT = "fnnlab"
_VERSION = 1
_PLAIN = (str, int, float, bool, type(None), torch.Tensor, torch.Size)
# Note [number lists as tensors]: the marker key, and the shortest list worth a tensor.
_PACKED = "__fnnlab_float64__"
_MIN_PACKED = 256


def _check_plain(value: Any, where: str) -> None:
    """Raise TypeError unless ``value`` is built from types ``weights_only`` can load."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, where)
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif not isinstance(value, _PLAIN):
        raise TypeError(
            f"Checkpoint value {where} has type {type(value).__name__}; checkpoints hold only "
            f"tensors, numbers, strings, None, lists and dicts, so they can be loaded without "
            f"running code. Convert it (e.g. to a string or a list)."
        )


def write(payload: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``payload`` to ``path`` atomically (temporary file + ``os.replace``)."""
    path = Path(path)
    packed = _walk(payload, _packed)
    _check_plain(packed, "payload")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(packed, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save(model: torch.nn.Module, path: str | os.PathLike, **extra: Any) -> Path:
    """Save ``model`` as its spec (JSON-like dict) plus its ``state_dict``, atomically.

    Parameters
    ----------
    model : FNN or Ensemble
        A model with a ``.spec`` (built by :func:`fnnlab.models.build`), or an
        :class:`~fnnlab.training.bagging.Ensemble` of such models with one spec.
    path : str or PathLike
        Target file (conventionally ``.pt``). Its folder is created if needed.
    **extra
        Plain values stored alongside (likelihood name, class labels, feature names).

    Returns
    -------
    Path
        The written path.
    """
    from fnnlab.training.bagging import Ensemble

    ensemble = isinstance(model, Ensemble)
    spec = getattr(model.members[0] if ensemble else model, "spec", None)
    if spec is None or not hasattr(spec, "to_dict"):
        raise TypeError(
            f"save() needs a model built by fnnlab.build (one with a .spec), got "
            f"{type(model).__name__}. For other modules save the state_dict with torch.save."
        )
    payload = {
        "format": _FORMAT,
        "version": _VERSION,
        "spec": spec.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": dict(extra),
    }
    if ensemble:
        if any(getattr(m, "spec", None) != spec for m in model.members):
            raise TypeError("save() stores one spec for an Ensemble; its members have "
                            "different specs. Save each member on its own.")
        lik = model.likelihood
        payload["ensemble"] = {"members": len(model.members), "likelihood": lik.name,
                               "likelihood_options": dict(vars(lik))}
    return write(payload, path)


def read(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely and return its dict (see the module docstring).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file holds pickled objects other than tensors and plain containers
        (refused: loading them could run code), or is not a fnnlab checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint {str(path)!r} does not exist.")
    if not zipfile.is_zipfile(path):
        # torch.save writes a zip archive; anything else is junk or a bare pickle,
        # which we never unpickle.
        raise ValueError(
            f"{str(path)!r} is not a fnnlab checkpoint: it is not in torch.save's archive "
            f"format (a bare pickle or another file). Save models with fnnlab.save."
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()
        detail = next((line for line in reason if "Unsupported" in line or "GLOBAL" in line),
                      reason[0] if reason else "")
        raise ValueError(
            f"Refusing to load {str(path)!r}: it contains pickled Python objects beyond "
            f"tensors and plain containers ({detail.strip()}), which could run code when "
            f"loaded. A fnnlab checkpoint never does; only open files you trust."
        ) from None
    except (RuntimeError, EOFError, OSError) as error:
        raise ValueError(
            f"{str(path)!r} is not a readable checkpoint ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}). Was it truncated or "
            f"written by another program?"
        ) from None
    if not (isinstance(payload, dict) and payload.get("format") == _FORMAT):
        raise ValueError(
            f"{str(path)!r} is not a fnnlab checkpoint (no 'format': 'fnnlab' entry). Save "
            f"models with fnnlab.save."
        )
    return _walk(payload, _unpacked)


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> torch.nn.Module:
    """Rebuild the model saved at ``path`` from its spec and load its weights.

    The file is read with ``weights_only=True`` (see :func:`read`). Resumable training
    checkpoints written by ``fit(checkpoint=...)`` load too, when the model had a spec.
    A saved :class:`~fnnlab.training.bagging.Ensemble` loads as an ``Ensemble``.
    """
    from fnnlab.likelihoods import LIKELIHOODS
    from fnnlab.models import FNNSpec, build
    from fnnlab.training.bagging import Ensemble

    payload = read(path, map_location)
    if "spec" not in payload:
        raise ValueError(
            f"{str(path)!r} holds no model spec (it was written for a model without .spec); "
            f"rebuild the module yourself and load payload['state_dict']."
        )
    spec = FNNSpec.from_dict(payload["spec"])
    if "ensemble" in payload:
        info = payload["ensemble"]
        lik = LIKELIHOODS.create(info["likelihood"], **info["likelihood_options"])
        model = Ensemble([build(spec) for _ in range(info["members"])], lik)
    else:
        model = build(spec)
    state = payload.get("state_dict")
    if not isinstance(state, dict):
        raise ValueError(f"{str(path)!r} holds no weights (no 'state_dict' dict); the file "
                         f"was damaged or written by another program. Save models with "
                         f"fnnlab.save.")
    _check_weights(model.state_dict(), state, path)
    model.load_state_dict(state)
    return model.to(map_location)


def _walk(value: Any, replace: Callable[[Any], Any]) -> Any:
    """``value`` with every part for which ``replace`` returns non-None replaced by it.

    Containers in which nothing was replaced are returned as they are (an
    ``OrderedDict`` state dict keeps its type and metadata).
    """
    new = replace(value)
    if new is not None:
        return new
    if isinstance(value, dict):
        items = {key: _walk(item, replace) for key, item in value.items()}
        changed = any(items[key] is not item for key, item in value.items())
        return items if changed else value
    if type(value) in (list, tuple):
        parts = [_walk(item, replace) for item in value]
        changed = any(new is not old for new, old in zip(parts, value, strict=True))
        return type(value)(parts) if changed else value
    return value


def _packed(value: Any) -> dict[str, torch.Tensor] | None:
    """A list of >= 256 floats as a tagged float64 tensor (Note [number lists as tensors])."""
    if (type(value) is list and len(value) >= _MIN_PACKED
            and all(type(item) is float for item in value)):
        return {_PACKED: torch.tensor(value, dtype=torch.float64)}
    return None


def _unpacked(value: Any) -> list[float] | None:
    """A tagged tensor of `_packed` back as its list of floats."""
    if (isinstance(value, dict) and len(value) == 1
            and isinstance(value.get(_PACKED), torch.Tensor)):
        return value[_PACKED].tolist()
    return None


def _check_weights(expected: dict[str, Any], found: dict[str, Any],
                   path: str | os.PathLike) -> None:
    """Raise one line naming the first missing, unexpected or misshapen weights."""
    problems = []
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    if missing:
        problems.append(f"missing {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected {_few(unexpected)}")
    misshapen = [f"{k} is {tuple(found[k].shape)}, not {tuple(v.shape)}"
                 for k, v in expected.items()
                 if k in found and isinstance(found[k], torch.Tensor)
                 and found[k].shape != v.shape]
    if misshapen:
        problems.append(_few(misshapen, quote=False))
    if problems:
        raise ValueError(
            f"The weights in {str(path)!r} do not fit the model its spec describes: "
            f"{'; '.join(problems)}. The file was damaged or edited; save the model again "
            f"with fnnlab.save."
        )


def _few(items: list[str], limit: int = 3, quote: bool = True) -> str:
    shown = ", ".join(repr(i) if quote else i for i in items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")
