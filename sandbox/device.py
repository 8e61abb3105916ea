"""Device resolution: ``auto`` picks cuda, then mps, then cpu (DESIGN §6)."""

from __future__ import annotations

import torch

from sandbox.errors import UsageError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def canonical_device(device: str | torch.device) -> torch.device:
    """The device as tensors report it: ``cuda`` becomes ``cuda:<current index>``.

    ``torch.device("cuda") != torch.zeros(1, device="cuda").device`` (``cuda:0``), so an env
    that kept the bare form would refuse every action made on its own device.

    Example:
        >>> canonical_device("cpu")
        device(type='cpu')
    """
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return device


def env_device(env: object) -> torch.device:
    """The device of an env's tensors, canonical (``cpu`` for an env that names none).

    Example:
        >>> class E: device = "cpu"
        >>> env_device(E())
        device(type='cpu')
    """
    return canonical_device(getattr(env, "device", "cpu"))


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"`` into a usable device.

    Args:
        spec: a device name, or ``"auto"`` for the fastest one present.

    Returns:
        The device; raises ``UsageError`` when the named one is not on this machine.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    if spec == "auto":
        if torch.cuda.is_available():
            return canonical_device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise UsageError(
            f"unknown device {spec!r}: expected one of {', '.join(DEVICE_CHOICES)} "
            "or an indexed form such as cuda:1"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(
                f"device {spec!r} asked for, but torch sees no CUDA GPU here "
                f"(torch {torch.__version__}); use --device cpu or --device auto"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(
                f"device {spec!r} asked for, but only {torch.cuda.device_count()} CUDA "
                "device(s) are visible"
            )
        return canonical_device(device)
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"device {spec!r} asked for, but MPS is not available here; use cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"unsupported device {spec!r}: expected one of {DEVICE_CHOICES}")
    return device
