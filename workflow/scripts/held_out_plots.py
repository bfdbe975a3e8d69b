from ecgcmr.logs import snakemake_logging
from ecgcmr.report.held_out import held_out_predictions, plot_roc, plot_scatter

with snakemake_logging(snakemake):
    i, p = snakemake.input, snakemake.params
    preds = held_out_predictions(i.embeddings, i.targets, i.splits, list(i.probes))
    plot_roc(preds, snakemake.output.roc, f"{p.name}: outcomes, test split")
    plot_scatter(preds, snakemake.output.scatter, f"{p.name}: phenotypes, test split")
