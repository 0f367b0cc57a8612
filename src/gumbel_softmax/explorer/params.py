"""Parsing and checking the explorer API's query parameters: every value checked, every fault named.

A request's query string is untrusted text. Each parser here turns one parameter
into a Python value or raises `BadRequest` naming the parameter and
saying what a good value looks like; the server answers that with HTTP 400 and
a JSON body `{"error": ..., "parameter": ...}`. Nothing here touches torch.

The limits, and why they are where they are:

* `K` (the number of classes) in `[2, 64]`: a one-class distribution has
  nothing to sample, and 64 bars are as many as a page can show.
* `n` (draws per request) in `[1, 100_000]`: the issue's maximum. The
  server draws in chunks, so memory per request stays a few MB at any `n`.
* `tau` in `[0.01, 10]`: the page's slider range. Below 0.01 every soft
  sample is one-hot to float64 precision anyway; above 10 it is uniform.
* `|logit| <= 1000`: `exp(-745)` already underflows to 0 in float64, so a
  larger gap between logits changes no probability, while huge values could
  overflow once divided by `tau`. `-inf` masks a class; `+inf` and NaN
  are refused, and at least one class must stay unmasked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "BadRequest",
    "K_RANGE",
    "N_MAX",
    "TAU_RANGE",
    "LOGIT_LIMIT",
    "SEED_MAX",
    "RESOLUTION_RANGE",
    "NOISES",
    "MAX_QUERY",
    "single",
    "parse_logits",
    "parse_float",
    "parse_int",
    "parse_choice",
    "parse_bool",
    "check_known",
    "limits",
]

K_RANGE = (2, 64)
N_MAX = 100_000
TAU_RANGE = (0.01, 10.0)
LOGIT_LIMIT = 1000.0
SEED_MAX = 2**63 - 1
RESOLUTION_RANGE = (4, 100)
NOISES = ("gumbel", "normal")
MAX_QUERY = 4096  # bytes of query string: 64 logits of 20 characters and the rest fit with room to spare

_NEG_INF = {"-inf", "-infinity"}


class BadRequest(ValueError):
    """A request parameter is missing or bad. `parameter` names it (`"request"` for the whole request)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


def single(query: Mapping[str, Sequence[str]], name: str, default: str | None = None) -> str | None:
    """The one value of `name` in a parsed query (`urllib.parse.parse_qs` form), or `default`."""
    values = query.get(name)
    if values is None:
        return default
    if len(values) != 1:
        raise BadRequest(name, f"given {len(values)} times; give it once")
    return values[0]


def parse_logits(text: str | None, name: str = "logits") -> list[float]:
    """Comma-separated logits: `K` in `K_RANGE`, each finite with `|x| <= 1000`, or `-inf`.

    Returns:
        the logits as floats (`-inf` for a masked class); at least one is finite.
    """
    if text is None or not text.strip():
        raise BadRequest(name, "required: comma-separated numbers such as 0,1.5,-inf")
    parts = text.split(",")
    low, high = K_RANGE
    if not low <= len(parts) <= high:
        raise BadRequest(name, f"has {len(parts)} value(s); the number of classes K must be in [{low}, {high}]")
    values = []
    for index, part in enumerate(parts):
        token = part.strip()
        if token.lower() in _NEG_INF:
            values.append(-math.inf)
            continue
        try:
            value = float(token)
        except ValueError:
            raise BadRequest(name, f"value {index} ({token[:20]!r}) is not a number; use a decimal or -inf") from None
        if not math.isfinite(value) or abs(value) > LOGIT_LIMIT:
            raise BadRequest(
                name,
                f"value {index} is {token[:20]!r}; each logit must be finite with |x| <= {LOGIT_LIMIT:g}, "
                "or -inf to mask a class",
            )
        values.append(value)
    if all(math.isinf(v) for v in values):
        raise BadRequest(name, "every class is masked (-inf); leave at least one finite logit")
    return values


def _default(name: str, default: Any, wanted: str) -> Any:
    """The value of an absent parameter: `default`, or a `BadRequest` when it is required."""
    if default is None:
        raise BadRequest(name, f"required: {wanted}")
    return default


def parse_float(text: str | None, name: str, low: float, high: float, default: float | None = None) -> float:
    """A finite number in `[low, high]` (`default` when absent; required when `default` is None)."""
    if text is None:
        return _default(name, default, f"a number in [{low:g}, {high:g}]")
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(name, f"{text[:20]!r} is not a number; give one in [{low:g}, {high:g}]") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise BadRequest(name, f"{text[:20]!r} is out of range; give a finite number in [{low:g}, {high:g}]")
    return value


def parse_int(text: str | None, name: str, low: int, high: int, default: int | None = None) -> int:
    """A decimal integer in `[low, high]` (`default` when absent; required when `default` is None)."""
    if text is None:
        return _default(name, default, f"an integer in [{low}, {high}]")
    token = text.strip()
    # Checked before int(): int() of a long digit string is slow, and "1e3" or "2.0" should be refused.
    if not (token.isdigit() and token.isascii() and len(token) <= len(str(high))):
        raise BadRequest(name, f"{text[:20]!r} is not an integer in [{low}, {high}]")
    value = int(token)
    if not low <= value <= high:
        raise BadRequest(name, f"{value} is out of range; give an integer in [{low}, {high}]")
    return value


def parse_choice(text: str | None, name: str, choices: Sequence[str], default: str) -> str:
    """One of `choices` (`default` when absent)."""
    if text is None:
        return default
    if text not in choices:
        raise BadRequest(name, f"{text[:20]!r} is not one of {', '.join(choices)}")
    return text


def parse_bool(text: str | None, name: str, default: bool) -> bool:
    """`true`/`1` or `false`/`0` (`default` when absent)."""
    if text is None:
        return default
    if text.lower() in ("true", "1"):
        return True
    if text.lower() in ("false", "0"):
        return False
    raise BadRequest(name, f"{text[:20]!r} is not a boolean; use true or false")


def check_known(query: Mapping[str, Sequence[str]], known: Sequence[str]) -> None:
    """Refuse parameters an endpoint does not take (a typo would otherwise be ignored silently)."""
    for name in query:
        if name not in known:
            raise BadRequest(name[:40], f"unknown parameter; this endpoint takes {', '.join(known)}")


def limits() -> dict[str, object]:
    """The limits above as JSON-ready values (served by `/api/info`)."""
    return {
        "k": list(K_RANGE),
        "n_max": N_MAX,
        "tau": list(TAU_RANGE),
        "logit_abs_max": LOGIT_LIMIT,
        "seed_max": SEED_MAX,
        "resolution": list(RESOLUTION_RANGE),
        "noises": list(NOISES),
        "query_bytes_max": MAX_QUERY,
    }
