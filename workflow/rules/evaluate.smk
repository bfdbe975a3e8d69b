# Evaluate: frozen ECG embeddings -> one MLP probe per (representation, target, seed)
# -> Tables 1-3, plots, and the manifest `ecgcmr predict` reads.
# Representations: "baseline" (MAE encoder, no alignment), the alignment variants
# (Table 1, paired subjects) and "vit_{size}" (Table 2, every ECG subject).
from ecgcmr.evaluate.tables import REPRESENTATION_NAMES, TABLE1_TARGETS, TABLE2_COLUMNS
from types import SimpleNamespace

from ecgcmr.phenotypes import ECG_DERIVED

EVAL = cfg("evaluate")
TABLE1_REPS = EVAL["representations"]
VIT_REPS = [f"vit_{s}" for s in EVAL["vit_sizes"]]
TABLE1_TARGETS_RUN = [t for t in TABLE1_TARGETS if t in EVAL["targets"]]
PROBE_WEIGHTS = P.probe_weights
INFERENCE_MANIFEST = P.inference_manifest
TABLES = P.tables_dir()


wildcard_constraints:
    representation=r"baseline|2d|2d_time|3d_ed|dual_phase|vit_(tiny|small|medium|base)",
    target=r"[A-Za-z0-9_]+",


def encoder_of(representation):
    """The ECG encoder file behind a representation."""
    if representation == "baseline":
        return expand(P.ecg_mae, size=cfg("align", "ecg_size"))[0]
    if representation.startswith("vit_"):
        return expand(P.ecg_mae, size=representation.removeprefix("vit_"))[0]
    return expand(P.aligned, variant=representation)[0]


def probe_inputs(wildcards):
    inputs = {"embeddings": P.embeddings.format(representation=wildcards.representation),
              "targets": P.targets, "splits": P.splits}
    if wildcards.target in ECG_DERIVED:  # QRS number/duration: the ECG cache's measurements
        inputs["ecg_index"] = P.ecg_index
    return inputs


rule embed:
    input:
        encoder=lambda wc: encoder_of(wc.representation),
        ecg_index=P.ecg_index,
        norm_stats=P.ecg_norm_stats,
        splits=P.splits,
    output:
        P.embeddings,
    params:
        subjects=lambda wc: "ecg" if wc.representation.startswith("vit_") else "paired",
        batch_size=EVAL["embed_batch_size"],
        device=EVAL["device"],
    resources:
        mem_mb=8000,
        runtime=60,
        cpus_per_task=4,
        gpu=1,
    log:
        P.log("embed", "_{representation}"),
    benchmark:
        P.benchmark("embed", "_{representation}")
    script:
        "../scripts/embed.py"


rule probe:
    input:
        unpack(probe_inputs),
    output:
        result=P.probe,
        weights=PROBE_WEIGHTS,
    params:
        # Table 2 probes reuse the pretraining split (all ECG subjects); Table 1's the paired one
        split_column=lambda wc: "pretrain" if wc.representation.startswith("vit_") else "paired_split",
        hyperparameters=EVAL["probe"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
        cpus_per_task=1,
    log:
        P.log("probe", "_{representation}_{target}_{seed}"),
    benchmark:
        P.benchmark("probe", "_{representation}_{target}_{seed}")
    script:
        "../scripts/probe.py"


rule table1:
    input:
        probes=expand(P.probe, representation=TABLE1_REPS, target=TABLE1_TARGETS_RUN, seed=EVAL["seeds"]),
    output:
        csv=f"{TABLES}/table1.csv",
        md=f"{TABLES}/table1.md",
        html=report(f"{TABLES}/table1.html", caption="../report/table1.rst", category="Results",
                    subcategory="Table 1"),
        results=f"{TABLES}/probe_results.csv",
    params:
        representations=TABLE1_REPS,
    resources:
        mem_mb=1000,
        runtime=10,
        cpus_per_task=1,
    log:
        P.log("table1"),
    benchmark:
        P.benchmark("table1")
    script:
        "../scripts/table1.py"


rule table2:
    input:
        probes=expand(P.probe, representation=VIT_REPS, target=EVAL["table2_targets"], seed=EVAL["seeds"]),
    output:
        csv=f"{TABLES}/table2.csv",
        md=f"{TABLES}/table2.md",
        html=report(f"{TABLES}/table2.html", caption="../report/table2.rst", category="Results",
                    subcategory="Table 2"),
    resources:
        mem_mb=1000,
        runtime=10,
        cpus_per_task=1,
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
                    subcategory="Table 3"),
    params:
        sizes=EVAL["vit_sizes"],
    resources:
        mem_mb=4000,
        runtime=10,
        cpus_per_task=1,
    log:
        P.log("table3"),
    benchmark:
        P.benchmark("table3")
    script:
        "../scripts/table3.py"


rule probe_plots_table1:
    input:
        probes=rules.table1.input.probes,
    output:
        report(f"{TABLES}/table1_bars.png", caption="../report/bars.rst", category="Results",
               subcategory="Table 1"),
    params:
        representations=TABLE1_REPS,
        targets=TABLE1_TARGETS_RUN,
        names=REPRESENTATION_NAMES,
    resources:
        mem_mb=1000,
        runtime=10,
        cpus_per_task=1,
    log:
        P.log("probe_plots_table1"),
    benchmark:
        P.benchmark("probe_plots_table1")
    script:
        "../scripts/probe_plots.py"


rule probe_plots_table2:
    input:
        probes=rules.table2.input.probes,
    output:
        report(f"{TABLES}/table2_bars.png", caption="../report/bars.rst", category="Results",
               subcategory="Table 2"),
    params:
        representations=VIT_REPS,
        targets=EVAL["table2_targets"],
        names={r: r.removeprefix("vit_").capitalize() for r in VIT_REPS},
    resources:
        mem_mb=1000,
        runtime=10,
        cpus_per_task=1,
    log:
        P.log("probe_plots_table2"),
    benchmark:
        P.benchmark("probe_plots_table2")
    script:
        "../scripts/probe_plots.py"


def shared_space_inputs(wildcards=None):
    """The aligned ECG encoder and heads of the projected variant, and the frozen CMR
    encoders its pairs use (the alignment stage's own mapping, align_inputs)."""
    variant = EVAL["projection_variant"]
    align_dir = P.model_dir(f"align_{variant}")
    cmr = {k: v for k, v in align_inputs(SimpleNamespace(variant=variant)).items() if k.startswith("cmr_")}
    return {"ecg_encoder": P.aligned.format(variant=variant), "heads": str(Path(align_dir, "heads.pt")),
            "ecg_index": P.ecg_index, "norm_stats": P.ecg_norm_stats, "crop_index": P.crop_index,
            "splits": P.splits, "targets": P.targets, **cmr}


rule shared_space:
    input:
        unpack(shared_space_inputs),
    output:
        report(f"{TABLES}/shared_space_{EVAL['projection_variant']}.png", caption="../report/shared_space.rst",
               category="Results", subcategory="Shared latent space"),
    params:
        modalities=sorted(k.removeprefix("cmr_") for k in shared_space_inputs() if k.startswith("cmr_")),
        colour_by=EVAL["projection_colour"],
        device=EVAL["device"],
    resources:
        mem_mb=8000,
        runtime=30,
        cpus_per_task=2,
        gpu=1,
    log:
        P.log("shared_space"),
    benchmark:
        P.benchmark("shared_space")
    script:
        "../scripts/shared_space.py"


rule inference_manifest:
    input:
        encoder=encoder_of(EVAL["inference_representation"]),
        norm_stats=P.ecg_norm_stats,
        probes=expand(PROBE_WEIGHTS, representation=EVAL["inference_representation"],
                      target=TABLE1_TARGETS_RUN, seed=EVAL["seeds"]),
    output:
        INFERENCE_MANIFEST,
    params:
        results_dir=P.results,
        representation=EVAL["inference_representation"],
        ecg=cfg("ecg"),
    resources:
        mem_mb=500,
        runtime=5,
        cpus_per_task=1,
    log:
        P.log("inference_manifest"),
    benchmark:
        P.benchmark("inference_manifest")
    script:
        "../scripts/inference_manifest.py"


ALL_TARGETS += [rules.table1.output.md, rules.probe_plots_table1.output[0], INFERENCE_MANIFEST]
if EVAL["projection_variant"] in TABLE1_REPS:
    ALL_TARGETS += rules.shared_space.output
if VIT_REPS:
    ALL_TARGETS += [rules.table2.output.md, rules.table3.output.md, rules.probe_plots_table2.output[0]]
