"""In-process stand-ins for external services (they speak the real wire protocol)."""
