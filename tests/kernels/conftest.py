"""Without Triton the kernel test modules are not collected (they would fail importing it), so they skip.

This does not depend on the order of the imports inside each module (an import sorter can move them).
"""

from __future__ import annotations

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("triton") else ["test_*.py"]
