"""Procure's version: the workspace's (the root ``pyproject.toml``), which every package of it
carries, read from the installed package's metadata."""

from importlib.metadata import version

__all__ = ["VERSION"]

VERSION = version("procure-shared")
