"""What every method accepts, without importing torch: option defaults and their schemas, the
trainable groups, the weight files of frozen loss networks.

The configuration check (:mod:`cir.config`) validates each experiment's ``options`` against these
schemas, so ``snakemake -n`` rejects a misspelt or ill-typed option with its key path, long before a
job builds the method. The method classes take their ``defaults`` from here: one table, two users.
"""

from __future__ import annotations

from typing import Any

# JSON-schema fragments for the option types used below
NUMBER = {"type": "number", "minimum": 0}
BOOL = {"type": "boolean"}
POS_INT = {"type": "integer", "minimum": 1}
PROB = {"type": "number", "minimum": 0, "maximum": 1}
LAYER_PAIRS = {"oneOf": [{"const": "auto"},
                         {"type": "array", "minItems": 1,
                          "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string"}}}]}
NULL_OR_PATH = {"type": ["string", "null"]}

# values kept here (torch-free) and imported by the method modules
DEGRADATION_KINDS = ("blur", "noise", "resize", "mix")              # DCKD Table 6
UPCYCLING_OPS = ("inversion", "hflip", "vflip", "transpose")         # DUKD / DCKD public code
MIPKD_MASK_MODES = ("3d", "spatial")
# FAKD's official settings (cir/methods/fakd.py): affinity weight 10 summed over 3 layers, teacher
# weight 0.5, pixel losses on 0..255; the same balance for 0..1 images and averaged layers: 60/255.
FAKD_ALPHA = 0.5            # teacher-supervision weight; ground-truth weight is 1 - alpha
FAKD_FA_WEIGHT = 10.0       # "10*SA": weight of the summed spatial-affinity losses
FAKD_N_LAYERS = 3           # "--features [1,2,3]": three tapped feature maps
FAKD_RGB_RANGE = 255.0      # pixel losses computed on 0..255 intensities
FAKD_W_FA = FAKD_FA_WEIGHT * FAKD_N_LAYERS / (FAKD_ALPHA * FAKD_RGB_RANGE)   # = 60/255 ~ 0.235
SPN_NEGATIVE_MODELS = ("adaptive", "fixed_random", "fixed_pretrained")   # MCIR Table 6
SPN_STEPS_PAPER = [100, 500, 1000, 2000]    # MCIR Table 7 ("all four" is the default)
SPN_STEPS_CODE = [100, 200, 500, 1000]      # MCLIR FFANet config, neg_iter
MIPKD_LAMBDA_FEAT = 1.0     # MiPKD paper, Table 10
MIPKD_LAMBDA_BLOCK = 0.1    # MiPKD paper, Table 10

_Options = dict[str, tuple[Any, dict]]

_DCKD: _Options = {
    "w_rec": (1.0, NUMBER),                 # eq. (10)
    "w_kd": (1.0, NUMBER),                  # eq. (10)
    "w_dcl": (0.1, NUMBER),                 # lambda_dcl, Sec. Implementation / Table 7
    "w_ce": (0.001, NUMBER),                # lambda_ce, Table 7
    "dcr": (True, BOOL),                    # Table 5 switches
    "dmm": (True, BOOL),
    "num_negatives": (5, POS_INT),          # N, "default 5" (Fig. 8)
    "clean_negative": (True, BOOL),         # public code: the clean LR is one of the N history inputs
    "degradation": ("noise", {"enum": list(DEGRADATION_KINDS)}),   # Table 6; released configs: noise
    "history_alpha": (0.1, PROB),           # eq. (6) alpha; public code his <- 0.1 his + 0.9 src
    "history_source": ("ema", {"enum": ["ema", "student"]}),       # public code: the student's EMA
    "source_ema_decay": (0.999, {"type": "number", "minimum": 0, "exclusiveMaximum": 1}),
    "history_schedule": ([[0, 1000], [100000, 2000], [200000, 3000]],   # update step s grows
                         {"type": "array", "minItems": 1,
                          "items": {"type": "array", "minItems": 2, "maxItems": 2,
                                    "items": {"type": "integer", "minimum": 0}}}),
    "level_weights": ([1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0],   # lambda_i, public code
                      {"type": "array", "minItems": 1, "items": NUMBER}),
    "double_softmax": (False, BOOL),        # public code's second log-softmax in L_ce (off = paper)
    "encoder_weights": (None, NULL_OR_PATH),  # set by the job from the preset's encoder_init
    "encoder_stand_in": (False, BOOL),      # True: random encoder weights, recorded as a stand-in
    "encoder_input_range": ("0_1", {"enum": ["0_1", "-1_1"]}),  # public code feeds [0, 1] images
    "encoder_stand_in_ch": (None, {"type": ["integer", "null"], "minimum": 32, "multipleOf": 32}),
    # Multiplies the iteration counts above (history schedule; the EMA horizon of the source copy),
    # which the paper states for 2.5e5 iterations; the job sets it to the preset's length / 2.5e5.
    "iteration_scale": (1.0, {"type": "number", "exclusiveMinimum": 0}),
}

_DCKD_STAR: _Options = {
    **_DCKD,
    "label_consistency": (True, BOOL),      # public DCKD configs: lcr_opt
    "w_lc": (1.0, NUMBER),                  # lcr_opt loss_weight 1.0
    "lc_prob": (0.5, PROB),                 # noisy.prob 0.5 per operation
    "aug_ops": (list(UPCYCLING_OPS), {"type": "array", "uniqueItems": True,
                                      "items": {"enum": list(UPCYCLING_OPS)}}),
    "zoom_in": (True, BOOL),                # DUKD data upcycling (all public DUKD configs)
    "zoom_in_cells": (1, POS_INT),          # DUKD n_gt_sub [1] in its x4 configs
    "w_zoom_in": (1.0, NUMBER),             # DUKD kd_opt loss_weight 1.0
    "zoom_in_prob": (0.3, PROB),            # DUKD noisy.prob 0.3
    "zoom_out": (False, BOOL),              # DUKD zoom_out: false in its x4 configs
    "w_zoom_out_rec": (1.0, NUMBER),
    "w_zoom_out_kd": (1.0, NUMBER),
}

_SPN: _Options = {
    "w_rec": (1.0, NUMBER),                 # the backbone's own reconstruction loss (train.rec_loss)
    "lambda_neg": (1e-4, NUMBER),           # paper Table 8 default; public config: 1e-3
    "steps": (SPN_STEPS_PAPER, {"type": "array", "minItems": 1, "items": POS_INT}),  # s_k, one negative each
    # multiplies the steps (a short preset keeps their ratios; each stays >= 1): the preset sets it
    "step_scale": (1.0, {"type": "number", "exclusiveMinimum": 0}),
    "alpha": (0.1, {"type": "number", "minimum": 0, "exclusiveMaximum": 1}),  # eq. (3), Table 9
    "init_weight": (0.1, PROB),             # public code neg_start: random share of a negative's start
    "negative_model": ("adaptive", {"enum": list(SPN_NEGATIVE_MODELS)}),      # Table 6
    "negative_seed": (42, {"type": "integer", "minimum": 0}),  # random starts of the negatives (code: seed 42)
    "encoder": ("vgg16", {"enum": ["vgg16", "vgg19"]}),       # BasicSR PerceptualLoss vgg_type
    "layers": (["relu1_2", "relu2_2", "relu3_3"], {"type": "array", "minItems": 1, "items": {"type": "string"}}),
    "layer_weights": ([0.2, 0.3, 0.5], {"type": "array", "minItems": 1, "items": NUMBER}),
    "input_norm": (True, BOOL),             # ImageNet mean/std (use_input_norm)
    "encoder_input_range": ("0_1", {"enum": ["0_1", "-1_1"]}),
    "encoder_weights": (None, NULL_OR_PATH),  # set by the job from the preset's encoder_init
    "encoder_stand_in": (False, BOOL),      # True: random VGG weights, recorded as a stand-in
    "encoder_stand_in_divisor": (1, POS_INT),  # narrows a random stand-in (CPU presets)
    # stop when validation PSNR falls this far below its best (0: never); Tables 8-9's collapses
    "collapse_drop_db": (3.0, NUMBER),
}

# DRCNet's Intra-CR (cir/losses/drcnet.py, cir/methods/drcnet_cr.py). Paper vs public code: the
# supplement's risk sum_s [l1 + alpha * l_c] gives no alpha and no overall factor; the public code
# (leefly072/DRCNet, IntraCRLoss) hard-codes alpha = 0.05 and scales both terms by its loss_weight
# (0.5 GoPro and Rain13K, 1 SIDD). Negatives n_k = lambda_k * input + (1 - lambda_k) * gt (code;
# the repository figure names the images), lambda and denominator weights (1, 0.95, 0.90) in both.
_NUMBERS = {"type": "array", "minItems": 1, "items": NUMBER}
_DRCNET_CR: _Options = {
    "cr": ("intra", {"enum": ["intra", "extra", "none"]}),  # extra: the input alone (AECR-Net; a guess)
    "w_cr": (0.05, NUMBER),                 # alpha: public code's 0.05 (no value in the supplement)
    "loss_weight": (1.0, NUMBER),           # code loss_weight (0.5 GoPro/Rain13K, 1 SIDD); paper: none
    "stage_weights": ([1.0, 1.0], _NUMBERS),               # code: plain sum over both stages
    "mix_weights": ([1.0, 0.95, 0.90],                      # lambda_k, the input's share of negative k
                    {"type": "array", "minItems": 1, "items": PROB}),
    "neg_weights": ([1.0, 0.95, 0.90], _NUMBERS),          # denominator weights (code: the lambdas)
    "layers": (["relu1_1", "relu2_1", "relu3_1"],           # code slices [0:2], [2:7], [7:12]
               {"type": "array", "minItems": 1, "items": {"type": "string"}}),
    "level_weights": ([1 / 16, 1 / 8, 1 / 4], _NUMBERS),   # code lists a 4th (1.0), never used
    "input_norm": (False, BOOL),            # code: [0, 1] images into VGG19, no ImageNet mean/std
    "encoder_input_range": ("0_1", {"enum": ["0_1", "-1_1"]}),
    "encoder_weights": (None, NULL_OR_PATH),  # set by the job from the preset's encoder_init
    "encoder_stand_in": (False, BOOL),      # True: random VGG19 weights, recorded as a stand-in
    "encoder_stand_in_divisor": (1, POS_INT),  # narrows a random stand-in (CPU presets)
}

# Cria-CL (seed 004; cir/methods/criacl.py, cir/losses/criacl.py). Defaults: the paper (eq. 11's
# weights, Euclidean pixel criterion, the positive/negative partition of "Anchor Selection", the
# spatial-view masks in the criteria); `assignment: code` with the code's weights and L1 is the
# public training code (RWSR-EDL's compiled SRGAN_al_model). VGG19 layers: L_per at conv5_4 (both);
# the paper's "bottom"/"top" perceptual criteria name no layers: ours (blocks 1-2 / 4-5).
CRIACL_ASSIGNMENTS = ("paper", "code")
CRIACL_ANCHORS = ("pix", "per", "adv")           # Table VI
_LAYERS = {"type": "array", "minItems": 1, "items": {"type": "string"}}
_CRIACL: _Options = {
    "assignment": ("paper", {"enum": list(CRIACL_ASSIGNMENTS)}),
    "w_pix": (0.01, NUMBER),                # alpha (eq. 11); code pixel_weight 0.01
    "w_per": (1.0, NUMBER),                 # beta; code feature_weight 1
    "w_adv": (0.005, NUMBER),               # gamma; code gan_weight 5e-3
    "w_align": (0.01, NUMBER),              # lambda_a; code: 0.01 written in the step
    "w_unif": (0.01, NUMBER),               # lambda_u; code cr_weight (1e-3 in the published yml)
    "align": (True, BOOL),                  # Table V switches
    "unif": (True, BOOL),
    "anchor": ("pix", {"enum": list(CRIACL_ANCHORS)}),
    "eta": (2.0, {"type": "number", "minimum": 1}),          # eq. (8); Fig. 4 alpha = 2
    "t": (2.0, {"type": "number", "exclusiveMinimum": 0}),  # eq. (9); Fig. 4 t = 2
    "pix_loss": ("l2", {"enum": ["l2", "l1"]}),   # paper: "Euclidean"; code: L1
    "masked_criteria": (True, BOOL),        # paper: only the pixels in the spatial view (Fig. 4); code: none
    "per_layer": ("conv5_4", {"type": "string"}),            # L_per: VGG19 conv5_4 before ReLU (code)
    "bottom_layers": (["conv1_2", "conv2_2"], _LAYERS),     # C_perc^B (positive): not named in the paper
    "top_layers": (["conv4_4", "conv5_4"], _LAYERS),        # C_perc^T (negative): not named in the paper
    "discriminator": ({"ndf": 64, "n_layers": 3, "norm": "batch"},   # PatchGAN of the public code
                      {"type": "object", "additionalProperties": False,
                       "properties": {"ndf": POS_INT, "n_layers": POS_INT, "norm": {"enum": ["batch", "none", "instance"]}}}),
    "input_norm": (True, BOOL),             # ImageNet mean/std before VGG (the code's use_input_norm)
    "encoder_input_range": ("0_1", {"enum": ["0_1", "-1_1"]}),
    "encoder_weights": (None, NULL_OR_PATH),  # set by the job from the preset's encoder_init
    "encoder_stand_in": (False, BOOL),      # True: random VGG19 weights, recorded as a stand-in
    "encoder_stand_in_divisor": (1, POS_INT),
}

# Uni-Removal's knowledge transfer (seed 003; cir/methods/uniremoval.py, cir/losses/uniremoval.py):
# the paper's alpha1 0.5 (x0.99 per epoch), alpha2 0.1, tau 1e-6; the rest is ours (the paper names
# no VGG layers, no tap layer, no epoch length): VGG19 slices and weights of TKL&MR's MCR loss.
_UNIREMOVAL_KT: _Options = {
    "task_teachers": (["haze", "rain", "blur"], {"type": "array", "minItems": 3, "maxItems": 3,
                                                 "items": {"enum": ["haze", "rain", "blur"]}, "uniqueItems": True}),
    "w_pixel": (1.0, NUMBER),               # eq. (1), weight 1 in eq. (6)
    "alpha1": (0.5, NUMBER),                # eq. (5), decayed per epoch
    "alpha2": (0.1, NUMBER),                # eq. (6)
    "decay": (0.99, PROB),                  # alpha1's factor per epoch
    "steps_per_epoch": (132, POS_INT),      # ours: GoPro's 2,103 pairs / batch 16 (the smallest set); the preset sets it
    "tau": (1e-6, {"type": "number", "exclusiveMinimum": 0}),
    "form": ("neg_log", {"enum": ["neg_log", "printed_ratio", "one_minus_ratio"]}),   # ours: -log of eq. (2)
    "icl": (True, BOOL),                    # Table IV switches
    "fcl": (True, BOOL),
    "feature_layer": ("net.stage3_orsnet", {"type": "string"}),   # ours: MPRNet's ORSNet (runs once per forward)
    "vgg_layers": (["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"], _LAYERS),
    "vgg_weights": ([1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0], {"type": "array", "minItems": 1, "items": NUMBER}),
    "input_norm": (False, BOOL),            # TKL&MR feeds [0, 1] images, no ImageNet mean/std
    "encoder_weights": (None, NULL_OR_PATH),
    "encoder_stand_in": (False, BOOL),
    "encoder_stand_in_divisor": (1, POS_INT),
}

# Uni-Removal's domain adaptation: lambda1 0.5 (x0.99 per epoch), lambda2 = lambda3 = 0.1, tau 1e-6 as
# printed (lambda4 0.01 is printed but in no equation: not an option); the discriminator and the GAN
# form are not given: CycleGAN's (LSGAN, PatchGAN with InstanceNorm, D loss halved) is ours.
_UNIREMOVAL_DA: _Options = {
    "lambda1": (0.5, NUMBER),
    "lambda2": (0.1, NUMBER),
    "lambda3": (0.1, NUMBER),
    "decay": (0.99, PROB),
    "steps_per_epoch": (100, POS_INT),      # ours (no epoch length in the paper); the preset sets it
    "tau": (1e-6, {"type": "number", "exclusiveMinimum": 0}),
    "form": ("neg_log", {"enum": ["neg_log", "printed_ratio", "one_minus_ratio"]}),
    "eicl": (True, BOOL),                   # Table V switches
    "efcl": (True, BOOL),
    "gan": ("lsgan", {"enum": ["lsgan", "printed"]}),
    "d_real": ("clear", {"enum": ["clear", "restored_clear"]}),
    "d_weight": (0.5, NUMBER),              # CycleGAN's backward_D_basic
    "discriminator": ({"ndf": 64, "n_layers": 3, "norm": "instance"},
                      {"type": "object", "additionalProperties": False,
                       "properties": {"ndf": POS_INT, "n_layers": POS_INT,
                                      "norm": {"enum": ["batch", "none", "instance"]}}}),
    "feature_layer": ("net.stage3_orsnet", {"type": "string"}),
    "vgg_layers": (["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"], _LAYERS),
    "vgg_weights": ([1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0], {"type": "array", "minItems": 1, "items": NUMBER}),
    "input_norm": (False, BOOL),
    "encoder_weights": (None, NULL_OR_PATH),
    "encoder_stand_in": (False, BOOL),
    "encoder_stand_in_divisor": (1, POS_INT),
}

METHOD_OPTIONS: dict[str, _Options] = {
    "supervised": {"w_rec": (1.0, NUMBER)},                          # DCKD eq. (2)
    "logits": {"w_rec": (1.0, NUMBER), "w_kd": (1.0, NUMBER)},        # DCKD eqs. (2)-(3)
    "fakd": {
        "w_rec": (1.0, NUMBER),             # L1 to ground truth (DCKD eq. 2)
        "w_kd": (1.0, NUMBER),              # L1 to the teacher's output (DCKD eq. 3)
        "w_fa": (FAKD_W_FA, NUMBER),        # affinity term, averaged over layers
        "layers": ("auto", LAYER_PAIRS),    # or [[teacher_layer, student_layer], ...]
        "fa_downsample": (1, POS_INT),      # max-pool factor before the affinity; 1 = paper
    },
    "dckd": _DCKD,
    "dckd_star": _DCKD_STAR,
    "spn": _SPN,
    "drcnet_cr": _DRCNET_CR,
    "criacl": _CRIACL,
    "uniremoval_kt": _UNIREMOVAL_KT,
    "uniremoval_da": _UNIREMOVAL_DA,
    "mipkd": {
        "w_rec": (1.0, NUMBER),             # L1 to ground truth (DCKD eq. 2)
        "w_kd": (1.0, NUMBER),              # L1 to the teacher's output
        "w_feat": (MIPKD_LAMBDA_FEAT, NUMBER),
        "w_block": (MIPKD_LAMBDA_BLOCK, NUMBER),
        "w_ae": (1.0, NUMBER),              # auto-encoder loss (MiPKD Table 8); weight not given
        "feature_mixer": (True, BOOL),      # MiPKD Table 5 switches
        "block_mixer": (True, BOOL),
        "layers": ("auto", LAYER_PAIRS),
        "mask": ("3d", {"enum": list(MIPKD_MASK_MODES)}),
        "mask_ratio": (0.5, PROB),          # not given in the paper: cir default
        "student_block_prob": (0.5, PROB),  # P(R_k = 1); not given in the paper: cir default
        "latent_channels": (None, {"type": ["integer", "null"], "minimum": 1}),
    },
}

# Trainable groups of a method, in the order of the phases of one training step (default: the
# student alone, group "g"). Each group gets its own optimiser, schedule and clipping.
METHOD_GROUPS: dict[str, tuple[str, ...]] = {"criacl": ("g", "d"),   # Cria-CL: generator, discriminator
                                              "uniremoval_da": ("g", "d")}

# Weight files (cir.data.registry ASSETS) a method's frozen loss networks load.
METHOD_ASSETS: dict[str, tuple[str, ...]] = {
    "dckd": ("vqgan_imagenet_f16_1024.ckpt",),
    "dckd_star": ("vqgan_imagenet_f16_1024.ckpt",),
    "spn": ("vgg16-397923af.pth",),
    "drcnet_cr": ("vgg19-dcbb9e9d.pth",),
    "criacl": ("vgg19-dcbb9e9d.pth",),
    "uniremoval_kt": ("vgg19-dcbb9e9d.pth",),
    "uniremoval_da": ("vgg19-dcbb9e9d.pth",),
}

# Methods whose options include the preset-dependent iteration scale (set by the job).
ITERATION_SCALED = frozenset(m for m, o in METHOD_OPTIONS.items() if "iteration_scale" in o)


def defaults(method: str) -> dict[str, Any]:
    """Every option of ``method`` with its default value (a fresh copy)."""
    import copy

    return {k: copy.deepcopy(v[0]) for k, v in METHOD_OPTIONS[method].items()}


def options_schema(method: str) -> dict:
    """JSON schema of ``method``'s options mapping (no unknown keys)."""
    return {"type": "object", "additionalProperties": False,
            "properties": {k: v[1] for k, v in METHOD_OPTIONS[method].items()}}


def groups(method: str) -> tuple[str, ...]:
    return METHOD_GROUPS.get(method, ("g",))


def register(name: str, options: _Options, groups: tuple[str, ...] = ("g",),
             assets: tuple[str, ...] = ()) -> None:
    """Add a method's table entries (used by methods defined outside this package, e.g. tests)."""
    METHOD_OPTIONS[name] = options
    if groups != ("g",):
        METHOD_GROUPS[name] = tuple(groups)
    if assets:
        METHOD_ASSETS[name] = tuple(assets)
