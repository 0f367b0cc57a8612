"""The progress bar of the training loops (`train vae`/`sbn`, `train ssl`, `train molgan`).

`progress_bar(enabled, total, start, desc)` is tqdm's bar over `total` steps, starting at `start` (a
resumed run), or, when not `enabled` (`--no-progress`, every rank but the first), a bar that shows nothing
and needs no tqdm. Both take `set_postfix(**values)`, `update(n)` and `close()`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SilentBar", "progress_bar"]


class SilentBar:
    """A progress bar that shows nothing: no tqdm needed."""

    def set_postfix(self, **_: Any) -> None:
        """Show nothing."""

    def update(self, _: int = 1) -> None:
        """Count nothing."""

    def close(self) -> None:
        """Close nothing."""


def progress_bar(enabled: bool, total: int, start: int, desc: str) -> Any:
    """tqdm's bar over `total` steps from `start`, labelled `desc`; a `SilentBar` when not `enabled`."""
    if not enabled:
        return SilentBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, desc=desc, dynamic_ncols=True)
