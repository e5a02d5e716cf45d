"""adf-promote: GitOps promotion for Azure Data Factory."""

__version__ = "0.1.0"
