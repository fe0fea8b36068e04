"""Built-in notifiers, one module each."""
