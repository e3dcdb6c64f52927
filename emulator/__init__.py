"""A local stand-in for the Ittybit media API that really transcodes with ffmpeg.

Start it with ``python -m emulator`` (see README.md) or in-process with
``Emulator(Config(...)).start()``. Standard library only at run time.
"""

from emulator.app import Emulator
from emulator.config import Config

__all__ = ["Config", "Emulator"]
__version__ = "0.1.0"
