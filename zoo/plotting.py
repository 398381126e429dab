"""matplotlib for every figure zoo draws (analysis, reports): an optional dependency, named when it is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.errors import ZooError

MISSING = "figures need matplotlib: pip install 'ssl-zoo[plot]' (or pip install matplotlib)"


def has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def require_matplotlib() -> None:
    """Fail early, before minutes of work, when figures cannot be drawn."""
    if not has_matplotlib():
        raise ZooError(MISSING)


def pyplot() -> Any:
    """matplotlib.pyplot on the file-only Agg backend (no display needed)."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, paths: Path | list[Path]) -> None:
    """Write the figure to each path (the suffix picks the format), then free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    for path in [paths] if isinstance(paths, Path) else paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    plt.close(fig)
