"""Sharing checkpoints: flat remote code (`export_remote_code`), model cards and pushing to a Hub endpoint."""

from .remote_code import export_remote_code, remote_code_files, variant_of_directory

__all__ = ["export_remote_code", "remote_code_files", "variant_of_directory"]
