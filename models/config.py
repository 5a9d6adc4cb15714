"""The run configuration: the one source of truth for every setting's default, limits and liveness.

The API schema, the web form, the CLI's ``--set`` and the docs all read this module. A field marked
``live`` may be changed while a run trains (``apply_patch``); every other field needs a fork, because it
changes the networks, the data or the random stream the run was built on.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.config import JsonDict

# The fixes a run can switch on, in the order the run view shows them: what each does in one line and the paper it
# comes from. A field that belongs to one names it (``fix=``); the schema carries both (``config_schema``), so the
# page groups its controls by fix without a list of its own.
FIXES: dict[str, dict[str, str]] = {
    "unroll": {
        "title": "Unrolled GAN",
        "does": "G's loss looks K updates of D ahead, so G cannot win by chasing the weak spot D has right now.",
        "paper": "Metz et al. 2017",
    },
    "instance_noise": {
        "title": "Instance noise",
        "does": "Noise on every input of D, real and fake, makes the two distributions overlap so D's gradient "
        "stays informative.",
        "paper": "Sønderby et al. 2017; Arjovsky & Bottou 2017",
    },
    "label_smoothing": {
        "title": "One-sided label smoothing",
        "does": "D's target for real data drops below 1, so an overconfident D cannot saturate G's gradient.",
        "paper": "Salimans et al. 2016",
    },
    "feature_matching": {
        "title": "Feature matching",
        "does": "G matches the mean of a hidden layer of D on real data instead of fooling D's last output.",
        "paper": "Salimans et al. 2016",
    },
    "replay": {
        "title": "Experience replay",
        "does": "D also sees past fakes, so G cannot escape by hopping back to a mode D has forgotten.",
        "paper": "Pfau & Vinyals 2016; Shrivastava et al. 2017",
    },
    "pack": {
        "title": "Minibatch packing (PacGAN)",
        "does": "D judges m samples at once, so a generator that repeats itself is easy to catch.",
        "paper": "Lin et al. 2018",
    },
    "r1": {
        "title": "R1 gradient penalty",
        "does": "Penalises the slope of D on real data, so the game settles instead of circling.",
        "paper": "Mescheder et al. 2018",
    },
    "two_time_scale": {
        "title": "Two time-scale learning rates",
        "does": "G and D step with learning rates of their own; a faster D converges to a local equilibrium.",
        "paper": "Heusel et al. 2017",
    },
}


def _extra(live: bool, fix: str | None, families: tuple[str, ...] | None) -> JsonDict:
    extra: JsonDict = {"live": live}
    if fix is not None:
        extra["fix"] = fix
    if families is not None:
        extra["families"] = list(families)
    return extra


def live(
    default: Any, description: str, *, fix: str | None = None, families: tuple[str, ...] | None = None, **limits: Any
) -> Any:
    """A field that may be patched while the run trains; ``fix`` names the entry of FIXES it belongs to, ``families``
    the model families that read it when not all do (``field_families``)."""
    return Field(default, description=description, json_schema_extra=_extra(True, fix, families), **limits)


def fixed(
    default: Any, description: str, *, fix: str | None = None, families: tuple[str, ...] | None = None, **limits: Any
) -> Any:
    """A field fixed for the life of a run; changing it needs a fork."""
    return Field(default, description=description, json_schema_extra=_extra(False, fix, families), **limits)


def file_path(default: Any, description: str, **limits: Any) -> Any:
    """A fixed field that names a file or folder on the machine that trains. The CLI reads any its user can; the
    server confines every field marked so to the operator's data root (``file_path_fields``), so a new one cannot
    slip past that check."""
    return Field(default, description=description, json_schema_extra={"live": False, "file_path": True}, **limits)


class Strict(BaseModel):
    """Unknown keys are errors, so a typo in a config never silently does nothing."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# ----------------------------------------------------------------------------------------- datasets


class RingData(Strict):
    kind: Literal["ring"] = fixed("ring", "Gaussians on a circle.")
    modes: int = fixed(8, "Number of Gaussians on the circle.", ge=2, le=64)
    radius: float = fixed(1.0, "Radius of the circle.", gt=0, le=100)
    std: float = fixed(0.05, "Standard deviation of each Gaussian.", gt=0, le=10)
    n: int = fixed(50_000, "Points drawn once for the run.", ge=100, le=1_000_000)


class GridData(Strict):
    kind: Literal["grid"] = fixed("grid", "Gaussians on a square grid.")
    side: int = fixed(5, "Gaussians per side of the square grid.", ge=2, le=10)
    spacing: float = fixed(2.0, "Distance between neighbouring centres.", gt=0, le=100)
    std: float = fixed(0.05, "Standard deviation of each Gaussian.", gt=0, le=10)
    n: int = fixed(50_000, "Points drawn once for the run.", ge=100, le=1_000_000)


class SpiralData(Strict):
    kind: Literal["spiral"] = fixed("spiral", "One spiral arm.")
    turns: float = fixed(1.5, "Turns of the spiral arm.", gt=0, le=10)
    noise: float = fixed(0.02, "Gaussian noise added to each point.", ge=0, le=1)
    n: int = fixed(50_000, "Points drawn once for the run.", ge=100, le=1_000_000)


class MoonsData(Strict):
    kind: Literal["moons"] = fixed("moons", "scikit-learn's two moons.")
    noise: float = fixed(0.05, "Gaussian noise added to each point.", ge=0, le=1)
    n: int = fixed(50_000, "Points drawn once for the run.", ge=100, le=1_000_000)


class PointsData(Strict):
    kind: Literal["points"] = fixed("points", "Points drawn by the user.")
    points: list[tuple[float, float]] = fixed(
        ..., "User-drawn points (x, y); the data is these points jittered.", min_length=2, max_length=10_000
    )
    std: float = fixed(0.02, "Jitter added around each drawn point, in the drawing's units.", ge=0, le=10)
    n: int = fixed(50_000, "Points drawn once for the run.", ge=100, le=1_000_000)


class DigitsData(Strict):
    kind: Literal["digits"] = fixed("digits", "scikit-learn's 8×8 digits.")


class FashionMnistData(Strict):
    kind: Literal["fashion_mnist"] = fixed("fashion_mnist", "Fashion-MNIST's training split.")
    path: str | None = file_path(
        None, "Directory with the IDX files; default: Debian's dataset-fashion-mnist install.", max_length=4096
    )
    limit: int | None = fixed(None, "Use only the first N training images.", ge=100, le=60_000)


class NpzData(Strict):
    kind: Literal["npz"] = fixed("npz", "The user's own .npz file.")
    path: str = file_path(
        ...,
        "A .npz file with `x` ([N,2], [N,H,W] or [N,C,H,W]) and optional integer `y`.",
        min_length=1,
        max_length=4096,
    )


class UploadData(Strict):
    kind: Literal["upload"] = fixed("upload", "A dataset uploaded to the server (POST /api/datasets).")
    id: str = fixed(..., "The id the upload returned: 32 lowercase hex characters.", pattern=r"^[0-9a-f]{32}$")


class DiracData(Strict):
    kind: Literal["dirac"] = fixed(
        "dirac",
        "Dirac-GAN (Mescheder et al. 2018 §2): real data is a point mass at 0, one number per sample; model.arch "
        "dirac only.",
    )


DatasetConfig = Annotated[
    RingData
    | GridData
    | SpiralData
    | MoonsData
    | PointsData
    | DigitsData
    | FashionMnistData
    | NpzData
    | UploadData
    | DiracData,
    Field(discriminator="kind"),
]
LABELLED_KINDS = frozenset({"digits", "fashion_mnist", "npz", "upload"})
IMAGE_KINDS = frozenset({"digits", "fashion_mnist"})


# ----------------------------------------------------------------------------------------- model


FamilyName = Literal["gan", "ae", "vae", "made"]
FAMILIES: tuple[FamilyName, ...] = get_args(FamilyName)
# Tricks that only mean something against a discriminator: switched on in a run of another family, they are refused
# (``RunConfig._consistent``) rather than silently doing nothing. D's own settings (D_SETTINGS) and a trick's
# sub-settings while it is off are inert there: they have defaults, so they cannot be told apart from a user's choice,
# and a non-GAN family documents that it ignores them. The schema marks all of them GAN-only (``field_families``), so
# the page offers them for a GAN alone.
GAN_TRICKS_ON: dict[str, Any] = {
    "tricks.label_smoothing": lambda t: t.label_smoothing > 0,
    "tricks.instance_noise.std": lambda t: t.instance_noise.std > 0,
    "tricks.unroll_steps": lambda t: t.unroll_steps > 0,
    "tricks.feature_matching.enabled": lambda t: t.feature_matching.enabled,
    "tricks.replay.size": lambda t: t.replay.size > 0,
    "tricks.pack": lambda t: t.pack > 1,
    "tricks.r1_gamma": lambda t: t.r1_gamma > 0,
}
D_SETTINGS = ("train.lr_d", "train.d_steps", "train.loss", "train.gp_weight", "train.updates")


class ModelConfig(Strict):
    family: FamilyName = fixed(
        "gan",
        "gan: the adversarial pair; ae: autoencoder (L2 reconstruction; samples decode z ~ N(0, I)); vae: "
        "variational autoencoder (Kingma & Welling 2014); made: masked autoregressive density (Germain et al. 2015) "
        "on binarised images or 2D data quantised into model.bins. ae, vae and made are MLPs (arch mlp) trained by "
        "one optimiser at train.lr_g; D's settings (lr_d, d_steps, loss, gp_weight, updates) do not apply to them.",
    )
    arch: Literal["mlp", "dcgan", "dirac"] = fixed(
        "mlp",
        "MLP for any data; DCGAN for 8, 16, 28 or 32 px images; dirac: the Dirac-GAN's one-parameter G(z) = θ and "
        "linear D(x) = ψ·x (dataset.kind dirac only).",
    )
    z_dim: int = fixed(16, "Latent dimension.", families=("gan", "ae", "vae"), ge=1, le=512)
    hidden: int = fixed(
        64,
        "MLP: units per hidden layer. DCGAN: channels of G's last and D's first conv (doubling per level).",
        ge=4,
        le=1024,
    )
    layers: int = fixed(2, "MLP: hidden layers in G and in D.", ge=1, le=8)
    activation: Literal["relu", "leaky_relu", "tanh"] = fixed("relu", "MLP hidden activation.")
    upsample: Literal["transposed", "resize_conv"] = fixed(
        "transposed",
        "DCGAN upsampler: transposed conv, or nearest resize then conv (Odena et al. 2016).",
        families=("gan",),
    )
    batch_norm: bool = fixed(
        True, "DCGAN: batch norm in G and D (never on G's output or D's input).", families=("gan",)
    )
    conditional: bool = fixed(
        False, "Conditional GAN: the label is fed to G and D (needs a labelled dataset).", families=("gan",)
    )
    label_dim: int = fixed(16, "Size of the label embedding of a conditional GAN.", families=("gan",), ge=1, le=256)
    theta0: float = fixed(
        1.0, "Dirac-GAN: G's parameter θ at step 0 (the equilibrium is θ = ψ = 0).", families=("gan",), ge=-10, le=10
    )
    psi0: float = fixed(1.0, "Dirac-GAN: D's parameter ψ at step 0.", families=("gan",), ge=-10, le=10)
    decoder_std: float = fixed(
        0.1,
        "VAE: σ of its Gaussian decoder p(x|z) = N(x̂, σ²I). The smaller, the more of x the code must carry against "
        "the KL term: a σ far above the data's own detail lets q(z|x) collapse onto the prior.",
        families=("vae",),
        gt=0,
        le=10,
    )
    bins: int = fixed(
        64,
        "MADE on 2D data: each coordinate is quantised into this many bins over the data's bounds, a categorical "
        "per coordinate (images are binarised instead).",
        families=("made",),
        ge=2,
        le=512,
    )


# ----------------------------------------------------------------------------------------- training

LossName = Literal["minimax", "nonsaturating", "least_squares", "hinge", "wasserstein_gp"]


class TrainConfig(Strict):
    lr_g: float = live(
        2e-4,
        "Generator learning rate (every network's, in a family other than the GAN).",
        fix="two_time_scale",
        gt=0,
        le=1,
    )
    lr_d: float = live(2e-4, "Discriminator learning rate.", fix="two_time_scale", gt=0, le=1)
    betas: tuple[float, float] = live(
        (0.5, 0.999), "Adam's (β1, β2); SGD uses β1 as momentum, RMSprop β2 as its smoothing constant."
    )
    optimizer: Literal["adam", "sgd", "rmsprop"] = live("adam", "Optimiser of both networks.")
    batch_size: int = live(256, "Real samples per D update (and fakes per update).", ge=2, le=4096)
    d_steps: int = live(1, "D updates per G update (Goodfellow 2014, Alg. 1).", ge=1, le=20)
    loss: LossName = live("nonsaturating", "GAN loss.")
    gp_weight: float = live(10.0, "Gradient penalty weight of wasserstein_gp.", ge=0, le=1000)
    updates: Literal["alternating", "simultaneous"] = live(
        "alternating",
        "alternating: G steps against D after this step's D updates; simultaneous: both step from the same point "
        "(G's gradient is taken against D as it was before them).",
    )

    kl_weight: float = live(
        1.0,
        "VAE: weight β of the KL term, loss = recon + β·KL (1 is the ELBO; Higgins et al. 2017 for β ≠ 1).",
        families=("vae",),
        ge=0,
        le=100,
    )

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, betas: tuple[float, float]) -> tuple[float, float]:
        for b in betas:
            if not 0 <= b < 1:
                raise ValueError("each must lie in [0, 1)")
        return betas


class InstanceNoise(Strict):
    std: float = live(
        0.0, "σ of Gaussian noise added to every input of D, real and fake.", fix="instance_noise", ge=0, le=5
    )
    anneal_steps: int = live(
        0,
        "σ falls linearly to 0 over this many steps from when it was set; 0 keeps σ constant.",
        fix="instance_noise",
        ge=0,
        le=1_000_000,
    )


class FeatureMatching(Strict):
    enabled: bool = live(
        False, "G matches the mean of an intermediate D layer on real data (Salimans §3.1).", fix="feature_matching"
    )
    weight: float = live(1.0, "Weight of the feature-matching term.", fix="feature_matching", gt=0, le=1000)
    keep_adversarial: bool = live(
        False, "Add the adversarial G loss to the feature-matching term.", fix="feature_matching"
    )


class Replay(Strict):
    size: int = live(0, "Experience replay buffer of past fakes; 0 is off.", fix="replay", ge=0, le=100_000)
    fraction: float = live(0.5, "Share of each D fake batch drawn from the buffer.", fix="replay", ge=0, le=1)


class TricksConfig(Strict):
    label_smoothing: float = live(
        0.0, "One-sided: D's real target becomes 1 − this; fakes stay 0.", fix="label_smoothing", ge=0, le=0.5
    )
    instance_noise: InstanceNoise = Field(default_factory=InstanceNoise)
    unroll_steps: int = live(
        0, "Unrolled GAN: G looks K D-updates ahead (Metz et al. 2017); 0 is off.", fix="unroll", ge=0, le=20
    )
    unroll_lr: float | None = live(None, "Step size of the unrolled D updates; default lr_d.", fix="unroll", gt=0, le=1)
    unroll_order: Literal["second", "first"] = live(
        "second", "second: G's gradient flows through the K updates (the paper); first: it does not.", fix="unroll"
    )
    feature_matching: FeatureMatching = Field(default_factory=FeatureMatching)
    replay: Replay = Field(default_factory=Replay)
    pack: int = fixed(1, "PacGAN: D judges m samples at once (Lin et al. 2018); 1 is off.", fix="pack", ge=1, le=8)
    r1_gamma: float = live(
        0.0,
        "R1: γ/2·E‖∇ₓD(x)‖² on real data added to D's loss (Mescheder et al. 2018, eq. 9); 0 is off.",
        fix="r1",
        ge=0,
        le=1000,
    )


class StreamConfig(Strict):
    metrics_every: int = live(1, "Steps between metric events.", ge=1, le=10_000)
    samples_every: int = live(50, "Steps between sample (and 2D field) frames.", ge=1, le=100_000)
    max_frames_per_second: float = live(
        5.0,
        "At most this many sample/field frames a second, whatever samples_every says: a fast 2D run would "
        "otherwise spend its time drawing for a page that cannot show more.",
        gt=0,
        le=60,
    )
    max_steps_per_second: float = live(
        0.0,
        "Slow motion: at most this many training steps a second, so each one can be watched (a frame follows every "
        "step, within max_frames_per_second); 0 trains at full speed.",
        ge=0,
        le=1000,
    )
    n_samples: int = live(512, "Points (2D) or images in a sample frame.", ge=1, le=4096)
    field_resolution: int = live(32, "Side of D's output grid in a 2D field frame.", ge=4, le=128)
    eval_every: int = live(100, "Steps between quality measurements.", ge=1, le=100_000)
    eval_samples: int = live(2500, "Samples drawn for each quality measurement.", ge=100, le=20_000)
    checkpoint_every: int = live(500, "Steps between checkpoints.", ge=1, le=1_000_000)


# ----------------------------------------------------------------------------------------- run


class RunConfig(Strict):
    seed: int = fixed(0, "Seed of every random draw of the run.", ge=0, le=2**31 - 1)
    device: str = fixed("auto", "auto (CUDA when present), cpu, cuda or cuda:N.", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    steps: int = live(
        5000,
        "Training steps (each d_steps D updates then one G update; a single update made by hand while paused counts "
        "as one); the run completes after this many.",
        ge=1,
        le=10_000_000,
    )
    dataset: DatasetConfig = Field(default_factory=RingData)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    tricks: TricksConfig = Field(default_factory=TricksConfig)
    stream: StreamConfig = Field(default_factory=StreamConfig)

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        kind = self.dataset.kind
        family = self.model.family
        if family != "gan":
            if self.model.arch != "mlp":
                raise ValueError(f"model.arch: family {family} is built of MLPs; arch '{self.model.arch}' is the GAN's")
            if self.model.conditional:
                raise ValueError(f"model.conditional: family {family} has no conditional form here, only the GAN")
            for path, on in GAN_TRICKS_ON.items():
                if on(self.tricks):
                    raise ValueError(f"{path}: a GAN trick; family {family} has no discriminator to apply it to")
        if self.model.conditional and kind not in LABELLED_KINDS:
            raise ValueError(f"model.conditional: dataset '{kind}' has no labels")
        if self.model.arch == "dcgan" and kind not in IMAGE_KINDS | {"npz", "upload"}:
            raise ValueError(f"model.arch: dcgan needs an image dataset, not '{kind}'")
        if self.model.arch == "dirac" and kind != "dirac":
            raise ValueError(f"model.arch: dirac needs dataset.kind dirac, not '{kind}'")
        if kind == "dirac" and self.model.arch != "dirac":
            raise ValueError(f"dataset.kind: dirac data is for model.arch dirac, not '{self.model.arch}'")
        if self.model.arch == "dirac" and self.tricks.pack > 1:
            raise ValueError("tricks.pack: packing is not defined for the Dirac-GAN's one-parameter D")
        if self.train.batch_size % self.tricks.pack:
            raise ValueError("train.batch_size: must be a multiple of tricks.pack")
        if self.model.conditional and self.tricks.pack > 1:
            raise ValueError("tricks.pack: packing is not defined for a conditional GAN")
        if self.tricks.label_smoothing and self.train.loss in ("hinge", "wasserstein_gp"):
            raise ValueError(f"tricks.label_smoothing: loss '{self.train.loss}' has no real target to smooth")
        return self


# ----------------------------------------------------------------------------------------- patches


class ConfigError(ValueError):
    """A config or patch was refused; ``errors`` names each field and the reason."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))


def _field_path(loc: tuple[Any, ...]) -> str:
    """Pydantic's error location as a dotted path, dropping union tags such as 'ring'."""
    parts = [str(p) for p in loc]
    if (
        len(parts) > 1
        and parts[0] == "dataset"
        and parts[1]
        in {"ring", "grid", "spiral", "moons", "points", "digits", "fashion_mnist", "npz", "upload", "dirac"}
    ):
        parts.pop(1)
    return ".".join(parts) or "config"


def validation_errors(error: ValidationError) -> list[dict[str, str]]:
    out = []
    for e in error.errors():
        field = _field_path(tuple(e["loc"]))
        reason = str(e["msg"]).removeprefix("Value error, ")
        if field == "config" and ": " in reason:  # cross-field validators name the field first
            field, reason = reason.split(": ", 1)
        out.append({"field": field, "reason": reason})
    return out


def parse_config(data: dict[str, Any]) -> RunConfig:
    """Validate a full config; raise ConfigError naming each bad field."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(validation_errors(e)) from None


def live_paths(model: type[BaseModel] = RunConfig, prefix: str = "") -> set[str]:
    """Dotted paths of every live leaf field, read from the schema's flags."""
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths |= live_paths(annotation, path + ".")
        elif isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("live"):
            paths.add(path)
    return paths


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The config models an annotation can hold: itself, or the members of a union (optional, discriminated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def file_path_fields(model: type[BaseModel] = RunConfig, prefix: str = "") -> set[str]:
    """Dotted paths of every field marked ``file_path``, in every member of every union (each dataset kind)."""
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("file_path"):
            paths.add(path)
        for member in _models_in(info.annotation):
            paths |= file_path_fields(member, path + ".")
    return paths


def _leaves(patch: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in patch.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= _leaves(value, path + ".")
        else:
            out[path] = value
    return out


def _set_path(tree: dict[str, Any], path: str, value: Any) -> bool:
    """False when part of ``path`` is already a value, not a block (``{"steps.x": 1}``, ``{"a": 1, "a.b": 2}``)."""
    *parents, leaf = path.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
        if not isinstance(tree, dict):
            return False
    tree[leaf] = value
    return True


def flatten_patch(patch: dict[str, Any]) -> dict[str, Any]:
    """A nested or dotted patch as {dotted path: value}."""
    return _leaves(patch)


def apply_patch(config: RunConfig, patch: dict[str, Any], *, live_only: bool = True) -> RunConfig:
    """A new config with ``patch`` applied; only live fields unless ``live_only`` is False (a fork).

    ``patch`` may be nested (``{"tricks": {"unroll_steps": 5}}``) or dotted (``{"tricks.unroll_steps": 5}``).
    """
    patch = dict(patch)
    new_dataset = patch.pop("dataset", None)
    leaves = flatten_patch(patch)
    if "dataset.kind" in leaves and new_dataset is None:  # dotted form of a kind change: gather the new block
        new_dataset = {k.removeprefix("dataset."): leaves.pop(k) for k in list(leaves) if k.startswith("dataset.")}
    if isinstance(new_dataset, dict) and "kind" in new_dataset:
        leaves["dataset"] = new_dataset  # another dataset kind replaces the whole dataset block
    elif new_dataset is not None:
        leaves |= flatten_patch({"dataset": new_dataset})
    if not leaves:
        raise ConfigError([{"field": "patch", "reason": "empty patch"}])
    allowed = live_paths()
    data = config.model_dump(mode="json")
    errors = []
    for path, value in leaves.items():
        if live_only and path not in allowed:
            known = path_exists(path, data)
            reason = "not a live field; fork the run to change it" if known else "no such field"
            errors.append({"field": path, "reason": reason})
            continue
        if not _set_path(data, path, value):
            errors.append({"field": path, "reason": "a value, not a block of fields, is already set above it"})
    if errors:
        raise ConfigError(errors)
    return parse_config(data)


def path_exists(path: str, data: dict[str, Any]) -> bool:
    """Whether the dotted ``path`` names a key in the nested dict ``data``."""
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _leaf_extras(model: type[BaseModel] = RunConfig, prefix: str = "") -> dict[str, dict[str, Any]]:
    """{dotted path: the field's schema extras (live, fix, families)} of every leaf outside the dataset union."""
    out: dict[str, dict[str, Any]] = {}
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out |= _leaf_extras(annotation, path + ".")
        elif not _models_in(annotation):  # a leaf, not the dataset union (its kinds' fields are every family's)
            out[path] = dict(info.json_schema_extra) if isinstance(info.json_schema_extra, dict) else {}
    return out


def field_families() -> dict[str, list[str]]:
    """{dotted path: the model families that read it} for every field that not all of them read, so the page offers
    a run only the settings that act on it. The GAN's alone: every setting of a fix one of GAN_TRICKS_ON belongs to
    (a trick with its sub-settings) and D_SETTINGS; the others name theirs (``families=``)."""
    extras = _leaf_extras()
    gan_fixes = {extras[path].get("fix") for path in GAN_TRICKS_ON} - {None}
    out: dict[str, list[str]] = {}
    for path, extra in extras.items():
        if "families" in extra:
            out[path] = list(extra["families"])
        elif path in D_SETTINGS or extra.get("fix") in gan_fixes:
            out[path] = ["gan"]
    return out


def config_schema() -> dict[str, Any]:
    """JSON schema of RunConfig; every leaf carries ``live`` true/false beside its limits, a field that belongs to
    a fix names it (``fix``), a field not every model family reads lists those that do (``families``), and ``fixes``
    describes each fix (FIXES, in order), with the families all of whose settings apply to them (``families``)."""
    schema = RunConfig.model_json_schema()
    families = field_families()
    for path, names in families.items():
        node = schema
        *parents, leaf = path.split(".")
        for part in parents:
            node = node["properties"][part]
            if "$ref" in node:
                node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        node["properties"][leaf]["families"] = names
    extras = _leaf_extras()
    fixes: dict[str, dict[str, Any]] = {}
    for key, fix in FIXES.items():
        settings = [path for path, extra in extras.items() if extra.get("fix") == key]
        # A fix is offered to the families that read every one of its settings (two time-scales: lr_d, the GAN's).
        fixes[key] = {**fix, "families": [f for f in FAMILIES if all(f in families.get(p, FAMILIES) for p in settings)]}
    return {**schema, "fixes": fixes}
