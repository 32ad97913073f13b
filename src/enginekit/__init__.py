"""enginekit: speech engines with one model-management pattern, in Docker or as subprocesses."""

__version__ = "0.1.0"
