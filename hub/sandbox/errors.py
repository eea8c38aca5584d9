"""The one error the sandbox raises: it could not start, or was used before it started."""


class SandboxError(RuntimeError):
    """The sandbox (a Prism mock or the proxy) could not start, or is not started."""
