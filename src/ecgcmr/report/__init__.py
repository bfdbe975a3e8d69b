"""What the Snakemake report shows a clinician beyond the paper's tables: per-run
pseudonyms instead of participant ids, the cohort's flow, baseline characteristics
per split, and ROC / predicted-vs-true plots of the held-out test split."""
