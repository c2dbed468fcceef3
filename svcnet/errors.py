"""User-facing errors: the CLI prints their message as one line and exits non-zero, without a traceback."""


class SvcnetError(Exception):
    """A problem the user can fix (bad input, missing file); the message says what to provide."""


class InputError(SvcnetError):
    """Unreadable, missing or inconsistent input frames, scribbles or videos."""


class ChecksumError(SvcnetError):
    """A downloaded or provided file does not have the expected sha256."""


class CheckpointError(SvcnetError):
    """A checkpoint is missing or its keys/shapes do not match the network."""


class ConfigError(SvcnetError):
    """The pipeline configuration (config/config.yaml) is missing, malformed or does not match its schema."""


class DiskFullError(SvcnetError):
    """The disk holding an output is full; files finished before are intact and temporaries are removed."""
