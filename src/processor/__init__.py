"""Processor worker: turns queued media into Ittybit renditions and records what comes back."""
