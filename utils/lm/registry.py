"""Every text-model experiment of the reference, by name, in one registry.

An experiment fixes the base model (used by the ``full`` profile), the recipe and, for GPT-2,
the data format. The ``smoke`` and ``cpu`` profiles run the same recipe on small models built
from configs with tokenizers trained on our data (no hub): only sizes, data and epochs differ —
and the learning rate, because a model trained from scratch needs a larger one than fine-tuning.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# Reference §3: "transfer_1" arguments, reused by kogpt2_1 and gpt2_base_1.
TRANSFER_1 = {"dropout": 0.2, "learning_rate": 5e-5, "lr_scheduler_type": "linear", "warmup_steps": 500,
              "weight_decay": 0.01, "max_grad_norm": 1.0}  # fmt: skip
# Trainer defaults, as transfer_0 / gpt2_base_0 / kogpt2_0 used them.
DEFAULTS = {"dropout": 0.1, "learning_rate": 5e-5, "lr_scheduler_type": "linear", "warmup_steps": 0,
            "weight_decay": 0.0, "max_grad_norm": 1.0}  # fmt: skip


@dataclass(frozen=True)
class Experiment:
    name: str
    family: str  # "t5" | "gpt2"
    base_model: str  # hub id, used by the full profile
    recipe: dict = field(default_factory=lambda: dict(DEFAULTS))
    data_format: int | None = None  # GPT-2 only: 1 "labels, comment", 2 "입력 : … \n 출력 : …"
    kogpt2: bool = False  # KoGPT2's tokenizer needs its special tokens set explicitly
    large: bool = False  # Colab T5-large: bf16/fp32, gradient checkpointing, Adafactor, accumulation
    # Training rows that teach naming every label (utils.lm.data): each multi-object row also in up
    # to ``label_orders`` object orders, and rows with rare objects repeated until each object is
    # in at least ``min_object_rows`` rows. 1 and 0: the data as it is.
    label_orders: int = 1
    min_object_rows: int = 0
    note: str = ""


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in [
        Experiment("transfer_0", "t5", "paust/pko-t5-base", note="Trainer defaults (ref. val loss 0.1783)"),
        Experiment(
            "transfer_1", "t5", "paust/pko-t5-base", dict(TRANSFER_1), note="tuned recipe (ref. 0.1790)"
        ),
        Experiment(
            "transfer_1_large_colab",
            "t5",
            "paust/pko-t5-large",
            dict(TRANSFER_1),
            large=True,
            note="T5-large on a free Colab T4 (ref. 0.1745 on an A100)",
        ),
        Experiment(
            "transfer_2_coverage",
            "t5",
            "paust/pko-t5-base",
            label_orders=2,
            min_object_rows=20,
            note="transfer_0 + a second label order, rare objects repeated (the shipped cpu pick)",
        ),
        Experiment(
            "gpt2_base_0", "gpt2", "openai-community/gpt2", data_format=2, note="defaults (ref. 0.7163)"
        ),
        Experiment(
            "gpt2_base_1",
            "gpt2",
            "openai-community/gpt2",
            dict(TRANSFER_1),
            data_format=2,
            note="+ transfer_1 args",
        ),
        Experiment(
            "kogpt2_0",
            "gpt2",
            "skt/kogpt2-base-v2",
            data_format=1,
            kogpt2=True,
            note="defaults (ref. 0.2937)",
        ),
        Experiment(
            "kogpt2_1",
            "gpt2",
            "skt/kogpt2-base-v2",
            dict(TRANSFER_1),
            data_format=1,
            kogpt2=True,
            note="ref. 0.2933",
        ),
        Experiment(
            "kogpt2_2",
            "gpt2",
            "skt/kogpt2-base-v2",
            dict(TRANSFER_1),
            data_format=2,
            kogpt2=True,
            note="prompt format",
        ),
    ]
}


@dataclass(frozen=True)
class ProfileSizes:
    """What a profile changes: model size, data, epochs, batch and the from-scratch learning rate."""

    max_train: int | None
    max_eval: int | None
    epochs: int
    batch_size: int
    vocab_size: int | None  # None: the hub tokenizer
    model: dict  # config overrides for a model built from scratch; empty for full
    learning_rate: float | None  # None: the recipe's
    warmup_steps: int | None = None
    eval_steps: int | None = None  # evaluate (and keep a checkpoint) every n steps; None: every epoch
    patience: int = 10  # evaluations without a better val loss before early stopping
    # Wall-clock bound on training: past it the run stops, evaluates, and keeps its best checkpoint,
    # so a slow draw of the machine trains for fewer steps instead of for longer.
    time_limit_minutes: float | None = None
    bf16: bool = False  # bf16 autocast where the CPU (AMX, AVX512-BF16) or GPU supports it
    # Optimizer steps that end training (instead of ``epochs``): the budget is compute, so more
    # training rows (extra label orders) mean fewer epochs, not a longer run.
    max_steps: int | None = None


PROFILES: dict[str, dict[str, ProfileSizes]] = {
    "smoke": {
        "t5": ProfileSizes(
            48,
            16,
            2,
            16,
            400,
            {"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 1, "num_heads": 2},
            3e-3,
            0,
        ),
        "gpt2": ProfileSizes(
            48, 16, 2, 16, 400, {"n_embd": 32, "n_layer": 1, "n_head": 2, "n_positions": 128}, 3e-3, 0
        ),
    },
    "cpu": {
        # The pick of the sweep (models/t5/sweep.md, sweep_final.md): the 6.6 M shape with bf16
        # autocast, lr 1.5e-3 linear, batch 32, the whole 20-minute budget of a cpu run: 3,500
        # steps (about 4 epochs of transfer_2_coverage's rows) take about 18 min at the 3.2 steps/s
        # of a CPU with bf16; without it (2.3 steps/s) the limit stops the run near 2,700 steps at
        # its best checkpoint so far, as it stops a slower, shared machine.
        "t5": ProfileSizes(
            None,
            600,
            4,
            32,
            4000,
            {"d_model": 256, "d_kv": 32, "d_ff": 768, "num_layers": 3, "num_heads": 8},
            1.5e-3,
            200,
            eval_steps=250,
            patience=4,
            time_limit_minutes=20,
            bf16=True,
            max_steps=3500,
        ),
        # The same budget as the T5 recipe: 2,500 steps of batch 32 within 20 minutes (6 epochs of
        # the 20,000 rows would take 25-50 minutes here).
        "gpt2": ProfileSizes(
            None,
            600,
            6,
            32,
            4000,
            {"n_embd": 256, "n_layer": 4, "n_head": 8, "n_positions": 128},
            1e-3,
            200,
            eval_steps=250,
            patience=4,
            time_limit_minutes=20,
            max_steps=2500,
        ),
    },
    "full": {
        "t5": ProfileSizes(None, None, 100, 16, None, {}, None),
        "gpt2": ProfileSizes(None, None, 100, 16, None, {}, None),
    },
}


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise KeyError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def sizes_for(experiment: Experiment, profile: str) -> ProfileSizes:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    return PROFILES[profile][experiment.family]


def with_changes(
    experiment: Experiment, profile: str, changes: dict | None
) -> tuple[Experiment, ProfileSizes]:
    """The experiment and its profile sizes with some values changed (a sweep's variant): keys
    of ``ProfileSizes`` change the sizes, ``model`` is merged into the model config,
    ``label_orders`` and ``min_object_rows`` change the training rows, anything else is a recipe
    value."""
    sizes = sizes_for(experiment, profile)
    changes = dict(changes or {})
    size_keys = set(ProfileSizes.__dataclass_fields__)
    size_changes = {k: changes.pop(k) for k in list(changes) if k in size_keys}
    row_changes = {k: changes.pop(k) for k in list(changes) if k in ROW_SETTINGS}
    if "model" in size_changes:
        size_changes["model"] = {**sizes.model, **size_changes["model"]}
    unknown = set(changes) - set(experiment.recipe)
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(sorted(size_keys | ROW_SETTINGS | set(experiment.recipe)))}")  # fmt: skip
    changed = replace(experiment, recipe={**experiment.recipe, **changes}, **row_changes)
    return changed, replace(sizes, **size_changes)


ROW_SETTINGS = {"label_orders", "min_object_rows"}  # Experiment fields a sweep variant may change


def with_recipe(experiment: Experiment, **changes) -> Experiment:
    """A copy of an experiment with some recipe values changed (for ablations in notebooks)."""
    return replace(experiment, recipe={**experiment.recipe, **changes})
