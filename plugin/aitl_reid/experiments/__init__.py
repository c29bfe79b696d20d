"""Measured experiments: the Table 1 ablation on the fixed synthetic benchmark (tools/benchmark_synthetic.py)."""
from .ablation import AblationPlan, RunRecord, ensure_dataset, run_ablation
from .summary import RunResult, VariantSummary, read_run_result, summarise_variants, write_mean_curves
from .variants import TABLE1_VARIANTS, Variant, table1_variants

__all__ = [
    "AblationPlan", "RunRecord", "ensure_dataset", "run_ablation",
    "RunResult", "VariantSummary", "read_run_result", "summarise_variants", "write_mean_curves",
    "TABLE1_VARIANTS", "Variant", "table1_variants",
]
