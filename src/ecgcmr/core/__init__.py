"""The lowest layer: helpers with no knowledge of ECGs, CMR or training (atomic file
writes, digests, device choice, process-group helpers, learning-rate schedules). Every
stage may import from here; this package imports nothing from the rest of ``ecgcmr``."""
