from ecgcmr.evaluate.compare import write_deltas
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    i, p, o = snakemake.input, snakemake.params, snakemake.output
    write_deltas(list(i.predictions), i.gates, o.csv, o.md, p.arms, p.baseline, p.targets, p.names,
                 n_boot=p.n_boot, seed=p.seed, comparisons=p.pairs)
