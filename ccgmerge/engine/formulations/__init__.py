"""The exact formulations, one module each."""
