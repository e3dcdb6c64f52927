"""media-pipeline: the command-line client of the media-pipeline API."""

__version__ = "0.1.0"
