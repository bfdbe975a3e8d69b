"""ecgcmr: CMR-guided ECG representations (dual-phase contrastive learning)."""

__version__ = "0.1.0"
