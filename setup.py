"""Package layout only (metadata is in pyproject.toml).

pyproject.toml cannot add packages mapped from another directory to the ones it finds, so the top-level
web/ (templates and static files) is mapped here into the wheel as the data-only package ``server.web``;
server/config.py finds it there when no source tree's web/ is beside the code.
"""

from setuptools import find_namespace_packages, setup

WEB = ["server.web", *(f"server.web.{p}" for p in find_namespace_packages("web"))]

setup(
    packages=[*find_namespace_packages(include=["server", "server.*"], exclude=["*.__pycache__"]), *WEB],
    package_dir={"server.web": "web"},
)
