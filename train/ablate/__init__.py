"""`assay ablate`: is a corpus better training data? The same model, the same token budget, several seeds,
scored in bits per byte on text none of the variants trained on (DCLM, FineWeb).

    from train.ablate import AblateConfig, ablate, parse_eval, parse_variant
    ablate(AblateConfig(variants=[parse_variant("raw=out/raw"), parse_variant("curated=out/corpus")],
                        evals=[parse_eval("news=articles.jsonl")], budget_tokens=2_000_000, seeds=3,
                        out_dir="out/ablation"))
"""

from train.ablate.experiment import ablate
from train.ablate.outputs import (
    ABLATE_JSON,
    ABLATE_MD,
    BPB_PLOT,
    CURVES_PLOT,
    bpb_figure,
    comparisons,
    curves_figure,
    read_ablation,
)
from train.ablate.spec import AblateConfig, EvalSource, Variant, parse_eval, parse_variant

__all__ = ["ABLATE_JSON", "ABLATE_MD", "BPB_PLOT", "CURVES_PLOT", "AblateConfig", "EvalSource", "Variant",
           "ablate", "bpb_figure", "comparisons", "curves_figure", "parse_eval", "parse_variant",
           "read_ablation"]
