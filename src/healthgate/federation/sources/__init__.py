"""One module per kind of harvest source (see federation.adapters)."""
