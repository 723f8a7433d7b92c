"""Validators of call data and results: JSON that PostgreSQL's ``jsonb`` accepts, within limits.

Raise ``SerializationError`` naming where the bad value is; ``encode_result`` reads
``MAX_RESULT_BYTES``, nothing else reads settings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..exceptions import SerializationError
from .options import ARGUMENTS_LIMIT_NAME, RESULT_LIMIT_NAME, _storable_text


def encode_json(
    value: Any, *, what: str, max_bytes: int | None, limit_name: str | None = None
) -> str:
    """Return ``value`` as JSON text that PostgreSQL's ``jsonb`` accepts, or raise.

    The text is compact UTF-8-ready JSON: no NaN or infinity, no NUL character (``\\u0000``,
    which ``jsonb`` refuses) and no lone surrogate, in values or dict keys at any depth. ``what``
    names the value in messages, without its article (e.g. ``"result of task app.jobs.f"``);
    ``max_bytes`` is the largest size allowed, counted as UTF-8 bytes of the text (``None``: no
    limit), and ``limit_name`` the setting that sets it, for the message (e.g.
    ``RESULT_LIMIT_NAME``). Raises ``SerializationError`` saying what was wrong and where, before
    anything is written.

    >>> encode_json({"a": [1, "é"]}, what="x", max_bytes=None)
    '{"a":[1,"é"]}'
    >>> encode_json(["ok", {"k": "a\\x00b"}], what="result", max_bytes=None)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    django_jobs.exceptions.SerializationError: The result contains a NUL ... at [1]['k'], ...
    """
    text, size = _encode(value, what)
    check_size(size, what=what, max_bytes=max_bytes, limit_name=limit_name)
    return text


def _encode(value: Any, what: str) -> tuple[str, int]:
    # The JSON text of ``value`` and its size in UTF-8 bytes, or SerializationError.
    text = _dumps(value, what)
    return text, len(_utf8(text, value, what))


def check_size(
    size: int, *, what: str, max_bytes: int | None, limit_name: str | None = None
) -> None:
    """Raise ``SerializationError`` if ``size`` bytes of ``what`` exceed ``max_bytes``.

    >>> check_size(2048, what="result", max_bytes=1024)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    django_jobs.exceptions.SerializationError: The result is 2.0 KiB (2048 bytes) ... id instead.
    """
    if max_bytes is not None and size > max_bytes:
        setting = f", {limit_name}" if limit_name else ""
        raise SerializationError(
            f"The {what} is {_human(size)} ({size} bytes) as JSON, over the limit of "
            f"{_human(max_bytes)} ({max_bytes} bytes{setting}). Store the data elsewhere (a "
            "model, a file in storage) and pass its id instead."
        )


def encode_call(
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    max_bytes: int | None,
    limit_name: str | None = ARGUMENTS_LIMIT_NAME,
) -> tuple[str, str]:
    """Return ``(args_json, kwargs_json)`` for a task call, or raise ``SerializationError``.

    Every argument must be JSON (see ``encode_json``) and ``kwargs`` keys must be str; the error
    names the first bad argument. ``max_bytes`` bounds both texts together (UTF-8 bytes).
    """
    # Exact tuple, list and dict first: the ABC checks cost more than the rest of a small call.
    if type(args) not in (tuple, list) and (
        isinstance(args, str | bytes) or not isinstance(args, Sequence)
    ):
        raise SerializationError(f"args must be a list or tuple, got {args!r:.80}.")
    if type(kwargs) is not dict and not isinstance(kwargs, Mapping):
        raise SerializationError(f"kwargs must be a dict, got {kwargs!r:.80}.")
    for key in kwargs:
        if type(key) is not str and not isinstance(key, str):
            raise SerializationError(f"Keyword argument names must be strings, got {key!r:.80}.")
    try:
        args_json, args_size = _encode(list(args), "positional arguments")
        kwargs_json, kwargs_size = _encode(dict(kwargs), "keyword arguments")
    except SerializationError:
        # Name the culprit: check each argument on its own.
        for index, value in enumerate(args):
            encode_json(value, what=f"positional argument {index}", max_bytes=None)
        for name, value in kwargs.items():
            encode_json(value, what=f"keyword argument {name!r}", max_bytes=None)
        raise
    size = args_size + kwargs_size
    check_size(size, what="arguments (args and kwargs)", max_bytes=max_bytes, limit_name=limit_name)
    return args_json, kwargs_json


#: As ``json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))``, built
#: once: ``json.dumps`` with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def _dumps(value: Any, what: str) -> str:
    try:
        # ensure_ascii=False leaves lone surrogates as they are, for _utf8 to find; with it on
        # they would become \ud800 escapes, which jsonb refuses too.
        text = _ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise SerializationError(
            f"The {what} ({type(value).__name__}: {value!r:.80}) is not JSON-serialisable: "
            f"{exc}. Pass plain data (str, int, float, bool, None, lists, dicts; dict keys become "
            "strings): an id instead of a model instance, an ISO 8601 string instead of a "
            "datetime."
        ) from exc
    # json.dumps always escapes control characters, so a NUL can only appear as the escape;
    # "\\u0000" inside an escaped backslash ("\\\\u0000") is a false alarm that _find rules out.
    if "\\u0000" in text:
        found = _find(value, "", lambda s: "\x00" in s)
        if found is not None:
            raise SerializationError(
                f"The {what} contains a NUL character (\\x00) at {found or 'the top'}, "
                "which PostgreSQL cannot store in JSON. Remove it, or send binary data as "
                "base64 text."
            )
    return text


def _utf8(text: str, value: Any, what: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        found = _find(value, "", lambda s: not _storable_text(s))
        raise SerializationError(
            f"The {what} contains a lone surrogate at {found or 'the top'}, which is not "
            "valid Unicode (often bytes decoded with errors='surrogateescape'). Decode the bytes "
            "properly, or send them as base64 text."
        ) from None


def _find(value: Any, where: str, bad: Any) -> str | None:
    # Depth-first walk to the first string (value or key) for which bad(s) holds; its location.
    if isinstance(value, str):
        return where if bad(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and bad(key):
                return f"the key {key!r:.40}" + (f" in {where}" if where else "")
            found = _find(item, f"{where}[{key!r:.40}]", bad)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _find(item, f"{where}[{index}]", bad)
            if found is not None:
                return found
    return None


def _human(size: int) -> str:
    """Return ``size`` bytes for people.

    >>> _human(1536), _human(5 * 1024 * 1024)
    ('1.5 KiB', '5.0 MiB')
    """
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


def encode_result(result: Any, *, task_path: str) -> str:
    """Return a task's ``result`` as ``jsonb``-safe JSON text, or raise ``SerializationError``.

    The worker's check of a return value before it is written: ``encode_json`` under
    ``DJANGO_JOBS["MAX_RESULT_BYTES"]`` (read here), naming the task in the message.
    """
    from ..conf import jobs_settings

    return encode_json(
        result,
        what=f"result of task {task_path}",
        max_bytes=jobs_settings.MAX_RESULT_BYTES,
        limit_name=RESULT_LIMIT_NAME,
    )
