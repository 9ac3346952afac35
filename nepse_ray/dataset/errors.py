"""What the dataset can raise; each message says what happened and what to do (tree: :mod:`nepse_ray.nepse.errors`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..nepse.errors import NepseError, NepseInputError

if TYPE_CHECKING:
    from .report import SyncReport


class NotADatasetError(NepseInputError):
    """The directory is not a nepse-ray dataset: it holds other files and no manifest, or a manifest nepse-ray
    cannot read."""


class DatasetLockedError(NepseInputError):
    """Another writer (a ``sync``, a compaction) holds the dataset's lock."""


class DatasetCorruptError(NepseError):
    """The manifest names a file nepse-ray never writes, or a path that leads outside the dataset."""


class IncompleteSyncError(NepseError):
    """Some listings still failed at the end of a sync; everything else it fetched is committed.

    ``failed`` names each one (``"price_history NABIL"``) with its last error; the next sync tries them again.
    ``report`` is the sync's :class:`~nepse_ray.dataset.SyncReport`.
    """

    retryable = True

    def __init__(self, directory: str, failed: Sequence[str], report: SyncReport | None = None) -> None:
        shown = "; ".join(failed[:5]) + (f"; and {len(failed) - 5} more" if len(failed) > 5 else "")
        super().__init__(
            f"{directory}: {len(failed)} listing(s) failed ({shown}); everything else was committed. "
            "Run the sync again later: it fetches only what is missing",
            retryable=True,
        )
        self.failed = tuple(failed)
        self.report = report
