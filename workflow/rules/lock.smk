# One run at a time per results_dir (ecgcmr.runlock): Snakemake's own lock covers only
# its working directory. Taken when jobs start (never for dry runs, --report, --dag),
# released when the run ends, successfully or not.
from ecgcmr.runlock import RunLockedError, acquire, release

_RUN_LOCK = {}


onstart:
    if workflow.is_main_process:
        try:
            _RUN_LOCK["held"] = acquire(config["results_dir"], log=logger.warning)
        except RunLockedError as e:
            logger.error(f"ecgcmr: {e}")
            raise SystemExit(1)


onsuccess:
    release(config["results_dir"], _RUN_LOCK.get("held"))


onerror:
    release(config["results_dir"], _RUN_LOCK.get("held"))
