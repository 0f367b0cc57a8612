"""Temperature schedules: `tau` as a function of the training step.

Each schedule is a small object with `value(step) -> float` (a pure function of
the step), a counter-based `step()` for loops that do not track the step
themselves, and `state_dict()` / `load_state_dict()` so that a resumed run
continues the schedule exactly:

```python
schedule = Exponential(tau0=1.0, rate=1e-4, minimum=0.5, every=1000)
tau = schedule.value(global_step)        # or: tau = schedule.step()
checkpoint["anneal"] = schedule.state_dict()
...
schedule.load_state_dict(checkpoint["anneal"])
```

Jang, Gu, Poole (ICLR 2017, Section 4) anneal `tau = max(0.5, exp(-r t))` with
`t` the global step, recomputed every `N` steps (`N` in {500, 1000},
`r` in {1e-5, 1e-4}); `Exponential` is that schedule.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from gumbel_softmax.checks import check_positive_finite

__all__ = ["Schedule", "Constant", "Exponential", "Linear", "Cosine", "Lambda"]


def _count(name: str, value: int, smallest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < smallest:
        raise ValueError(f"{name} must be >= {smallest}, got {value}")
    return int(value)


class Schedule:
    """Base class: subclasses set their parameters as attributes named in `_params` and define `_at`.

    The state is the parameters plus `last_step`, the step of the latest
    `step` call (`-1` before the first).
    """

    _params: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.last_step = -1

    def _at(self, step: int) -> float:
        raise NotImplementedError

    def value(self, step: int) -> float:
        """The temperature at `step` (an int >= 0); does not change the state."""
        return self._at(_count("step", step, 0))

    __call__ = value

    def step(self) -> float:
        """Advance the internal counter by one and return the temperature there (0 on the first call)."""
        self.last_step += 1
        return self.value(self.last_step)

    def state_dict(self) -> dict[str, Any]:
        """The parameters and the counter, as plain Python numbers."""
        state = {name: getattr(self, name) for name in self._params}
        state["last_step"] = self.last_step
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned (from a schedule of the same class)."""
        expected = set(self._params) | {"last_step"}
        if set(state) != expected:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict expects keys {sorted(expected)}, got {sorted(state)}; "
                "was the state saved from another schedule class?"
            )
        params = {name: state[name] for name in self._params}
        self.__init__(**params)  # type: ignore[misc]  # re-validates the parameters
        self.last_step = _count("last_step", state["last_step"], -1)

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._params)
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """`tau` at every step."""

    _params = ("tau",)

    def __init__(self, tau: float) -> None:
        super().__init__()
        self.tau = check_positive_finite("tau", tau)

    def _at(self, step: int) -> float:
        return self.tau


class Exponential(Schedule):
    """Jang et al.'s annealing: `tau = max(minimum, tau0 * exp(-rate * t))`.

    `t = every * floor(step / every)` is the last multiple of `every` at or
    below the step, so the temperature changes once every `every` steps.

    Args:
        tau0: the temperature at step 0 (> 0).
        rate: decay per step (>= 0).
        minimum: the floor (> 0); Jang et al. use 0.5.
        every: steps between updates (int >= 1); Jang et al. use 500 or 1000.
    """

    _params = ("tau0", "rate", "minimum", "every")

    def __init__(self, tau0: float = 1.0, rate: float = 1e-4, minimum: float = 0.5, every: int = 1) -> None:
        super().__init__()
        self.tau0 = check_positive_finite("tau0", tau0)
        self.rate = check_positive_finite("rate", rate, zero_ok=True)
        self.minimum = check_positive_finite("minimum", minimum)
        self.every = _count("every", every, 1)

    def _at(self, step: int) -> float:
        t = (step // self.every) * self.every
        return max(self.minimum, self.tau0 * math.exp(-self.rate * t))


class Linear(Schedule):
    """From `start` at step 0 to `end` at step `steps` in a straight line, then `end`."""

    _params = ("start", "end", "steps")

    def __init__(self, start: float, end: float, steps: int) -> None:
        super().__init__()
        self.start = check_positive_finite("start", start)
        self.end = check_positive_finite("end", end)
        self.steps = _count("steps", steps, 1)

    def _at(self, step: int) -> float:
        fraction = min(step, self.steps) / self.steps
        return self.start + (self.end - self.start) * fraction


class Cosine(Linear):
    """Half a cosine from `start` (step 0) to `end` (step `steps`), then `end`.

    `tau = end + (start - end) * (1 + cos(pi * min(step, steps) / steps)) / 2`.
    """

    def _at(self, step: int) -> float:
        fraction = min(step, self.steps) / self.steps
        return self.end + (self.start - self.end) * (1.0 + math.cos(math.pi * fraction)) / 2.0


class Lambda(Schedule):
    """Any user function `fn(step) -> tau`; its result is checked to be finite and > 0.

    Only the counter is in the state: a function cannot be saved, so build the
    schedule with the same `fn` before `load_state_dict`.
    """

    def __init__(self, fn: Callable[[int], float]) -> None:
        super().__init__()
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        self.fn = fn

    def _at(self, step: int) -> float:
        return check_positive_finite(f"fn({step})", float(self.fn(step)))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(state) != {"last_step"}:
            raise ValueError(f"Lambda.load_state_dict expects the key 'last_step' only, got {sorted(state)}")
        self.last_step = _count("last_step", state["last_step"], -1)

    def __repr__(self) -> str:
        return f"Lambda({self.fn!r})"


def parse(spec: str, tau: float, steps: int) -> Schedule:
    """A temperature schedule from a text spec `NAME[:key=value,...]`, starting at `tau`.

    Args:
        spec: `constant`; `exponential` (Jang et al.'s notebook: `max(0.5, tau * exp(-3e-5 t))`
            recomputed every 1000 steps; keys `rate`, `minimum`, `every`); `linear` or `cosine`
            from `tau` to `end` (default 0.5) over `steps` steps.
        tau: the temperature at step 0.
        steps: the length of the run (the span of `linear` and `cosine`).

    Returns:
        The schedule.

    Raises:
        ValueError: an unknown name or key, or a value that is not a number.

    Example:
        >>> parse("exponential:rate=1e-3,every=100", 1.0, 2000).value(0)
        1.0
    """
    name, _, rest = spec.partition(":")
    try:
        options = {k.strip(): float(v) for k, v in (item.split("=", 1) for item in rest.split(",") if item.strip())}
    except ValueError as error:
        raise ValueError(f"cannot read the schedule {spec!r}: use NAME or NAME:key=value,key=value") from error
    if name == "constant" and not options:
        return Constant(tau)
    if name == "exponential" and set(options) <= {"rate", "minimum", "every"}:
        every = options.get("every", 1000)
        if not (math.isfinite(every) and every == int(every)):
            raise ValueError(f"every must be a whole number of steps >= 1, got {every}")
        return Exponential(tau, options.get("rate", 3e-5), options.get("minimum", 0.5), int(every))
    if name in ("linear", "cosine") and set(options) <= {"end"}:
        return (Linear if name == "linear" else Cosine)(tau, options.get("end", 0.5), steps)
    raise ValueError(
        f"unknown temperature schedule {spec!r}: use constant, exponential[:rate=R,minimum=M,every=N], "
        "linear[:end=E] or cosine[:end=E]"
    )


__all__ += ["parse"]
