"""Errors the worker reports to its operator."""


class ConfigError(Exception):
    """A setting, handler path or rules file is wrong; the message names it and the fix."""
