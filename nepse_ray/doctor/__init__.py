"""``nepse-ray doctor``: what differs between the site and what nepse-ray knows, check by check.

Each check is a small function (:mod:`.checks`) of one shared :class:`~nepse_ray.doctor.session.Session`; running
them is :mod:`.run`, the report model :mod:`.report`, its rendering (rich table, JSON) :mod:`.render`.
"""

from .report import Check, DoctorReport, Status
from .run import doctor

__all__ = ["Check", "DoctorReport", "Status", "doctor"]
