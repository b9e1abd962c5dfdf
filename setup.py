"""The one thing pyproject.toml cannot say: the top-level ``alembic/`` ships inside the wheel as
``registry.migrations`` (a package-dir mapping), so an installed provreg can ``provreg init``.
Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["registry*", "schemas*", "cli*"]),
        "registry.migrations",
        "registry.migrations.versions",
    ],
    package_dir={"registry.migrations": "alembic"},
)
