"""Synthetic UK Biobank cohort: latent physiology written in the real UKB file formats."""
