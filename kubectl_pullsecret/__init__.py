"""kubectl-pullsecret: diagnose and repair image pull credentials."""

__version__ = "0.1.0"
