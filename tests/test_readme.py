"""The README's Python snippet runs verbatim on the CPU."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_snippet_runs() -> None:
    snippet = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    loss = namespace["loss"]
    assert loss.ndim == 0 and loss.isfinite()
    assert namespace["method"].projector.layers[0].weight.grad is not None
