# Evaluate: frozen ECG embeddings -> MLP probes -> Tables 1-3, plots, and the manifest
# `ecgcmr predict` reads. Every (representation, target, seed) gets its own probe and
# its own result/weights files, but one job trains all targets of a (representation,
# seed): a probe trains in well under a second, and a job's start-up (interpreter,
# torch, sklearn) costs seconds.
# Training runs (evaluate.train_seeds): run k of a representation is its own
# representation wildcard, <name>_trainseed<k> (run 0: the plain name; ecgcmr.specs),
# with its own encoder, embeddings and probes; the tables and the bootstrap gather
# every run of a representation into its one row.
# Representations: "baseline" (MAE encoder, no alignment) and the alignment variants
# (Table 1 targets, paired subjects; rule `probe`), and "vit_{size}" (Table 2 targets,
# every ECG subject; rule `probe_vit`). Two rules because a rule's outputs cannot
# depend on its wildcards, and the two kinds probe different target lists.
# No functions here (snakemake --lint): input mappings are built once, as data.
from types import SimpleNamespace

from ecgcmr.config import BASELINE, representation_labels
from ecgcmr.evaluate.tables import TABLE1_TARGETS

EVAL = cfg("evaluate")
TABLE1_REPS = EVAL["representations"]
# representation -> display label, from config (align.variants[*].label, evaluate.baseline_label)
LABELS = representation_labels(config)
TABLE1_NAMES = {r: LABELS[r] for r in TABLE1_REPS}
VIT_REPS = [f"vit_{s}" for s in EVAL["vit_sizes"]]
N_RUNS = EVAL["train_seeds"]
N_MAE_RUNS = mae_runs(config)   # the baseline and ViT rows: one run per MAE run
TABLE1_RUNS = [run for rep in TABLE1_REPS
               for run in specs.run_names([rep], N_MAE_RUNS if rep == BASELINE else N_RUNS)]
VIT_RUNS = specs.run_names(VIT_REPS, N_MAE_RUNS)
TABLE1_TARGETS_RUN = [t for t in TABLE1_TARGETS if t in EVAL["targets"]]
TABLE2_TARGETS_RUN = EVAL["table2_targets"]
PROBE_WEIGHTS = P.probe_weights
INFERENCE_MANIFEST = P.inference_manifest
TABLES = P.tables_dir()
# the baseline and every configured alignment variant: a new variant needs no edit here
TABLE1_REP_PATTERN = specs.run_pattern([BASELINE, *cfg("align", "variants")])
VIT_REP_PATTERN = specs.run_pattern([f"vit_{s}" for s in specs.VIT_SIZES])   # Table 3 rows (ecgcmr.specs)
# The ECG encoder behind each training run of each representation: the baseline's run k
# is MAE run k, the one alignment run k starts from.
ENCODER_OF = {}
for _k in range(N_MAE_RUNS):
    ENCODER_OF[specs.run_name(BASELINE, _k)] = P.ecg_mae.format(size=specs.run_name(cfg("align", "ecg_size"), _k))
    for _s in EVAL["vit_sizes"]:
        ENCODER_OF[specs.run_name(f"vit_{_s}", _k)] = P.ecg_mae.format(size=specs.run_name(_s, _k))
for _k in range(N_RUNS):
    for _v in cfg("align", "variants"):
        ENCODER_OF[specs.run_name(_v, _k)] = P.aligned.format(variant=specs.run_name(_v, _k))
# What every probe job reads. The ECG index holds the ECG-derived targets (QRS number
# and duration); Table 1 probes do not read it, but their embeddings already depend on it.
PROBE_INPUTS = {"embeddings": P.embeddings, "targets": P.targets, "splits": P.splits,
                "ecg_index": P.ecg_index}


wildcard_constraints:
    representation=f"{TABLE1_REP_PATTERN}|{VIT_REP_PATTERN}",
    target=r"[A-Za-z0-9_]+",


rule embed:
    input:
        encoder=lambda wc: ENCODER_OF[wc.representation],
        ecg_index=P.ecg_index,
        norm_stats=P.ecg_norm_stats,
        splits=P.splits,
    output:
        P.embeddings,
    params:
        subjects=lambda wc: "ecg" if wc.representation.startswith("vit_") else "paired",
        batch_size=EVAL["embed_batch_size"],
    threads: cpus("embed")
    resources:
        **size("embed"),
        gpu=GPU,
    log:
        P.log("embed", "_{representation}"),
    benchmark:
        P.benchmark("embed", "_{representation}")
    script:
        "../scripts/embed.py"


# One job per (Table 1 representation, seed): a probe per Table 1 target, on the paired split.
rule probe:
    input:
        **PROBE_INPUTS,
    output:
        results=expand(P.probe, target=TABLE1_TARGETS_RUN, allow_missing=True),
        weights=expand(PROBE_WEIGHTS, target=TABLE1_TARGETS_RUN, allow_missing=True),
        predictions=P.probe_predictions,
    wildcard_constraints:
        representation=TABLE1_REP_PATTERN,
    params:
        targets=TABLE1_TARGETS_RUN,  # in the order of the outputs
        split_column="paired_split",
        hyperparameters=EVAL["probe"],
    threads: cpus("probe")
    resources:
        **size("probe"),
    log:
        P.log("probe", "_{representation}_{seed}"),
    benchmark:
        P.benchmark("probe", "_{representation}_{seed}")
    script:
        "../scripts/probe.py"


# One job per (ViT size, seed): a probe per Table 2 target, reusing the pretraining
# split (all ECG subjects).
use rule probe as probe_vit with:
    output:
        results=expand(P.probe, target=TABLE2_TARGETS_RUN, allow_missing=True),
        weights=expand(PROBE_WEIGHTS, target=TABLE2_TARGETS_RUN, allow_missing=True),
        predictions=P.probe_predictions,
    wildcard_constraints:
        representation=VIT_REP_PATTERN,
    params:
        targets=TABLE2_TARGETS_RUN,
        split_column="pretrain",
        hyperparameters=EVAL["probe"],
    threads: cpus("probe_vit")
    resources:
        **size("probe_vit"),
    log:
        P.log("probe_vit", "_{representation}_{seed}"),
    benchmark:
        P.benchmark("probe_vit", "_{representation}_{seed}")


rule table1:
    input:
        probes=expand(P.probe, representation=TABLE1_RUNS, target=TABLE1_TARGETS_RUN, seed=EVAL["seeds"]),
        predictions=expand(P.probe_predictions, representation=TABLE1_RUNS, seed=EVAL["seeds"]),
    output:
        csv=f"{TABLES}/table1.csv",
        md=f"{TABLES}/table1.md",
        html=report(f"{TABLES}/table1.html", caption="../report/table1.rst", category="Results",
                    subcategory="Table 1", labels={"figure": "Table 1: phenotypes and outcomes"}),
        results=f"{TABLES}/probe_results.csv",
    params:
        representations=TABLE1_REPS,
        names=TABLE1_NAMES,
        n_boot=cfg("compare", "n_boot"),   # the bootstrap behind the cells' intervals and marks
        seed=cfg("compare", "seed"),
    threads: cpus("table1")
    resources:
        **size("table1"),
    log:
        P.log("table1"),
    benchmark:
        P.benchmark("table1")
    script:
        "../scripts/table1.py"


rule table2:
    input:
        probes=expand(P.probe, representation=VIT_RUNS, target=TABLE2_TARGETS_RUN, seed=EVAL["seeds"]),
        predictions=expand(P.probe_predictions, representation=VIT_RUNS, seed=EVAL["seeds"]),
    output:
        csv=f"{TABLES}/table2.csv",
        md=f"{TABLES}/table2.md",
        html=report(f"{TABLES}/table2.html", caption="../report/table2.rst", category="Results",
                    subcategory="Table 2", labels={"figure": "Table 2: ECG features by ViT size"}),
    params:
        n_boot=cfg("compare", "n_boot"),
        seed=cfg("compare", "seed"),
    threads: cpus("table2")
    resources:
        **size("table2"),
    log:
        P.log("table2"),
    benchmark:
        P.benchmark("table2")
    script:
        "../scripts/table2.py"


rule table3:
    input:
        encoders=expand(P.ecg_mae, size=EVAL["vit_sizes"]),
    output:
        csv=f"{TABLES}/table3.csv",
        md=f"{TABLES}/table3.md",
        html=report(f"{TABLES}/table3.html", caption="../report/table3.rst", category="Results",
                    subcategory="Table 3", labels={"figure": "Table 3: ViT sizes"}),
    params:
        sizes=EVAL["vit_sizes"],
    threads: cpus("table3")
    resources:
        **size("table3"),
    log:
        P.log("table3"),
    benchmark:
        P.benchmark("table3")
    script:
        "../scripts/table3.py"


# The bars draw the tables' own numbers (mean, 95 % interval, row labels) from their CSVs.
rule probe_plots_table1:
    input:
        table=rules.table1.output.csv,
    output:
        report(f"{TABLES}/table1_bars.png", caption="../report/bars.rst", category="Results",
               subcategory="Table 1", labels={"figure": "Table 1 as bars"}),
    params:
        targets=TABLE1_TARGETS_RUN,
    threads: cpus("probe_plots_table1")
    resources:
        **size("probe_plots_table1"),
    log:
        P.log("probe_plots_table1"),
    benchmark:
        P.benchmark("probe_plots_table1")
    script:
        "../scripts/probe_plots.py"


rule probe_plots_table2:
    input:
        table=rules.table2.output.csv,
    output:
        report(f"{TABLES}/table2_bars.png", caption="../report/bars.rst", category="Results",
               subcategory="Table 2", labels={"figure": "Table 2 as bars"}),
    params:
        targets=TABLE2_TARGETS_RUN,
    threads: cpus("probe_plots_table2")
    resources:
        **size("probe_plots_table2"),
    log:
        P.log("probe_plots_table2"),
    benchmark:
        P.benchmark("probe_plots_table2")
    script:
        "../scripts/probe_plots.py"


# The aligned ECG encoder and heads of the projected variant, and the frozen CMR
# encoders its pairs use (the alignment stage's own mapping, align_inputs).
SHARED_SPACE_CMR = {k: v for k, v in align_inputs(SimpleNamespace(variant=EVAL["projection_variant"])).items()
                    if k.startswith("cmr_")}


rule shared_space:
    input:
        ecg_encoder=P.aligned.format(variant=EVAL["projection_variant"]),
        heads=str(Path(P.model_dir(f"align_{EVAL['projection_variant']}"), "heads.pt")),
        ecg_index=P.ecg_index,
        norm_stats=P.ecg_norm_stats,
        crop_index=P.crop_index,
        splits=P.splits,
        targets=P.targets,
        **SHARED_SPACE_CMR,
    output:
        report(f"{TABLES}/shared_space_{EVAL['projection_variant']}.png", caption="../report/shared_space.rst",
               category="Results", subcategory="Shared latent space",
               labels={"figure": "shared ECG-CMR latent space"}),
    params:
        modalities=sorted(k.removeprefix("cmr_") for k in SHARED_SPACE_CMR),
        colour_by=EVAL["projection_colour"],
    threads: cpus("shared_space")
    resources:
        **size("shared_space"),
        gpu=GPU,
    log:
        P.log("shared_space"),
    benchmark:
        P.benchmark("shared_space")
    script:
        "../scripts/shared_space.py"


# What the encoder saw in training (amplitude, heart rate, noise): predict flags records outside.
rule training_ranges:
    input:
        ecg_index=P.ecg_index,
        splits=P.splits,
    output:
        P.training_ranges,
    params:
        sample_rate=cfg("ecg", "sample_rate"),
    threads: cpus("training_ranges")
    resources:
        **size("training_ranges"),
    log:
        P.log("training_ranges"),
    benchmark:
        P.benchmark("training_ranges")
    script:
        "../scripts/training_ranges.py"


rule inference_manifest:
    input:
        encoder=ENCODER_OF[EVAL["inference_representation"]],
        norm_stats=P.ecg_norm_stats,
        probes=expand(PROBE_WEIGHTS, representation=EVAL["inference_representation"],
                      target=TABLE1_TARGETS_RUN, seed=EVAL["seeds"]),
        training_ranges=P.training_ranges,
        splits=P.splits,
    output:
        INFERENCE_MANIFEST,
    params:
        representation=EVAL["inference_representation"],
        ecg=cfg("ecg"),
        synthetic=cfg("cohort", "synthetic"),
        run_name=config["run_name"],
    threads: cpus("inference_manifest")
    resources:
        **size("inference_manifest"),
    log:
        P.log("inference_manifest"),
    benchmark:
        P.benchmark("inference_manifest")
    script:
        "../scripts/inference_manifest.py"


# The inference encoder to take away: safetensors weights and a JSON model card.
rule encoder_card:
    input:
        manifest=INFERENCE_MANIFEST,
        metrics=rules.table1.output.results,
    output:
        weights=str(Path(P.results, "inference", "ecg_encoder.safetensors")),
        card=str(Path(P.results, "inference", "model_card.json")),
    threads: cpus("encoder_card")
    resources:
        **size("encoder_card"),
    log:
        P.log("encoder_card"),
    benchmark:
        P.benchmark("encoder_card")
    script:
        "../scripts/encoder_card.py"


# The inference representation on the test split: ROC per outcome, predicted vs true per phenotype.
rule held_out_plots:
    input:
        embeddings=P.embeddings.format(representation=EVAL["inference_representation"]),
        targets=P.targets,
        splits=P.splits,
        probes=rules.inference_manifest.input.probes,
    output:
        roc=report(f"{TABLES}/roc_{EVAL['inference_representation']}.png", caption="../report/roc.rst",
                   category="Results", subcategory="Held-out test split", labels={"figure": "ROC curves, outcomes"}),
        scatter=report(f"{TABLES}/scatter_{EVAL['inference_representation']}.png",
                       caption="../report/scatter.rst", category="Results", subcategory="Held-out test split",
                       labels={"figure": "predicted vs true, phenotypes"}),
    params:
        representation=EVAL["inference_representation"],
        name=LABELS[EVAL["inference_representation"]],
    threads: cpus("held_out_plots")
    resources:
        **size("held_out_plots"),
    log:
        P.log("held_out_plots"),
    benchmark:
        P.benchmark("held_out_plots")
    script:
        "../scripts/held_out_plots.py"


ALL_TARGETS += [rules.table1.output.md, rules.probe_plots_table1.output[0], INFERENCE_MANIFEST]
ALL_TARGETS += [rules.encoder_card.output.card, rules.held_out_plots.output.roc]
if EVAL["projection_variant"] in TABLE1_REPS:
    ALL_TARGETS += rules.shared_space.output
if VIT_REPS:
    ALL_TARGETS += [rules.table2.output.md, rules.table3.output.md, rules.probe_plots_table2.output[0]]
