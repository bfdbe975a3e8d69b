# ecgcmr: CMR-guided ECG representations (dual-phase contrastive learning).
# Rules live in workflow/rules/, one file per stage, in data order.
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")


# The demo config is the embedded default; --configfile FILE overrides it key by key.
configfile: Path(workflow.basedir) / "config" / "config.yaml"


# set_default: the schema is the one home of defaults; rules read config[k], never .get(k, default)
validate(config, "workflow/schemas/config.schema.yaml", set_default=True)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/lock.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/cmr.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/align.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/exclusions.smk"


rule all:
    default_target: True
    input:
        ALL_TARGETS,
