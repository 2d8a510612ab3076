"""The Data Use Register: who uses which data, why, and with what safeguards; public once published."""
