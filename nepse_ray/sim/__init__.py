"""A faithful NEPSE simulator: an aiohttp server with the site's handshake, signed bodies, pages and faults.

``Simulator`` runs it in-process (tests, the demo), ``SimulatorProcess`` in a child process (load tests and
benchmarks, so the server never shares a GIL with its clients); ``nepse-ray sim`` runs it from the command line.
"""

from .config import SimConfig
from .process import SimulatorError, SimulatorProcess
from .server import Simulator, serve

__all__ = ["SimConfig", "Simulator", "SimulatorError", "SimulatorProcess", "serve"]
