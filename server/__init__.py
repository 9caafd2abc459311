"""Concord: video mediation and conferencing coordinator."""

__version__ = "0.1.0"
