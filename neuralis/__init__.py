"""Neuralis: a self-hosted notebook for data teams."""

__version__ = "0.1.0"
