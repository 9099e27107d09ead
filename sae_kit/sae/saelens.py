"""SAELens-compatible folders: save one kit SAE so `sae_lens.SAE.load_from_disk` reads it, and read such folders back.

SAELens 6.x keeps one SAE per folder (https://github.com/jbloomAus/SAELens, `SAE.load_from_disk` / `save_model`):

    cfg.json                  {"architecture": "standard" | "topk" | "jumprelu", "d_in", "d_sae", "dtype", "device",
                               "apply_b_dec_to_input", "normalize_activations", ("k",) "metadata": {...}}
    sae_weights.safetensors   W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in]
                              (jumprelu: and threshold [d_sae])

and computes  a = ReLU((x − b_dec·[apply_b_dec_to_input]) @ W_enc + b_enc)  (TopK: the k largest pre-activations,
ReLU on those, zeros elsewhere) and  x̂ = a @ W_dec + b_dec.  That is the kit's forward with W_enc transposed
([inst, d_sae, d] → [d, d_sae]), `decoder_bias=True` and `centre_input = apply_b_dec_to_input`:

- architecture "l1" ↔ "standard"; "topk" ↔ "topk" (`k` is always written: SAELens silently defaults it to 100);
- a kit SAE without decoder bias is saved with b_dec = 0 and apply_b_dec_to_input=False (same outputs);
- "matryoshka" → "standard" (or "topk" with its k): at inference it is a plain SAE, the nesting only shaped
  training; `metadata.sae_kit_prefixes` records the prefixes, and the folder loads back as "l1" (or "topk");
- "batchtopk" ↔ "jumprelu": at inference a BatchTopK SAE keeps c = pre · [pre > θ] with one learned θ ≥ 0, which is
  SAELens' JumpReLU  a = ReLU(pre) · [pre > threshold]  with threshold = θ for every latent (SAELens saves its own
  BatchTopK SAEs the same way). The kit writes `metadata.sae_kit_k` so the folder loads back as BatchTopK; a JumpReLU
  folder from elsewhere loads only when its threshold is one value ≥ 0 for all latents and you pass `k=` (the
  BatchTopK k it was trained with: the kit's BatchTopK needs it to train, not to encode).

Loading accepts what SAELens writes (extra cfg keys are ignored) but refuses what would change the outputs silently:
`normalize_activations` other than "none" (the input scaling lives outside the weights) and
`rescale_acts_by_decoder_norm=True` (SAELens' TopK training default, folded into the weights on save; a folder that
still says True would need its decoder norms folded in). Tensors are read with safetensors; nothing is unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from sae_kit.io import read_json
from sae_kit.sae.base import SAE, SAEConfig

__all__ = ["save_saelens", "load_saelens", "SAELENS_VERSION", "CFG_FILE", "WEIGHTS_FILE"]

SAELENS_VERSION = "6.0.0"
"""The SAELens format version written into `metadata.sae_lens_version`."""
CFG_FILE = "cfg.json"
WEIGHTS_FILE = "sae_weights.safetensors"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "float64": torch.float64}
KIT_TO_SAELENS = {"l1": "standard", "topk": "topk", "batchtopk": "jumprelu"}
SAELENS_TO_KIT = {v: k for k, v in KIT_TO_SAELENS.items()}


def save_saelens(sae: SAE, path: str | Path, inst: int = 0, hook_name: str = "", model_name: str = "",
                 dtype: str = "float32") -> Path:
    """Write instance `inst` of a kit SAE as a SAELens 6.x folder (cfg.json + sae_weights.safetensors); returns it.

    hook_name, model_name: where the SAE reads its activations (e.g. "blocks.3.mlp.hook_post", "tiny-lm"), recorded in
    the metadata as SAELens does. dtype: the stored precision ("float32", "float16", "bfloat16" or "float64").
    """
    if not isinstance(sae, SAE):
        raise ValueError(f"sae must be a sae_kit.SAE, got {type(sae).__name__}")
    cfg = sae.cfg
    if isinstance(inst, bool) or not isinstance(inst, int) or not 0 <= inst < cfg.n_inst:
        raise ValueError(f"inst must be an integer in [0, n_inst={cfg.n_inst}), got {inst!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    if cfg.architecture == "batchtopk" and float(sae.threshold[inst]) < 0:
        raise ValueError(f"BatchTopK threshold θ={float(sae.threshold[inst])} < 0 cannot be written as a JumpReLU (θ ≥ 0)")
    for name, value in (("hook_name", hook_name), ("model_name", model_name)):
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
    arch = cfg.architecture
    if arch == "matryoshka":  # at inference a Matryoshka SAE is a plain L1 or TopK SAE: the nesting only shaped training
        arch = "topk" if cfg.ks else "l1"
    torch_dtype = DTYPES[dtype]
    with torch.no_grad():
        b_dec = sae.b_dec[inst] if sae.b_dec is not None else torch.zeros(cfg.d, device=sae.W_dec.device)
        tensors = {
            "W_enc": sae.W_enc[inst].T,  # [d_in, d_sae]
            "b_enc": sae.b_enc[inst],  # [d_sae]
            "W_dec": sae.W_dec[inst],  # [d_sae, d_in]
            "b_dec": b_dec,  # [d_in]
        }
        if cfg.architecture == "batchtopk":
            tensors["threshold"] = sae.threshold[inst].expand(cfg.d_sae)  # [d_sae] one θ for every latent
        tensors = {k: v.detach().to("cpu", torch_dtype).contiguous() for k, v in tensors.items()}
    saelens_cfg: dict[str, Any] = {
        "architecture": KIT_TO_SAELENS[arch],
        "d_in": cfg.d,
        "d_sae": cfg.d_sae,
        "dtype": dtype,
        "device": "cpu",
        "apply_b_dec_to_input": bool(cfg.decoder_bias and cfg.centre_input),
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": {"sae_lens_version": SAELENS_VERSION, "hook_name": hook_name, "model_name": model_name},
    }
    if arch == "topk":
        saelens_cfg["k"] = cfg.ks[inst]
        saelens_cfg["rescale_acts_by_decoder_norm"] = False
    if cfg.architecture == "batchtopk":
        saelens_cfg["metadata"]["sae_kit_k"] = cfg.ks[inst]
    if cfg.architecture == "matryoshka":
        saelens_cfg["metadata"]["sae_kit_prefixes"] = cfg.prefixes
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    tmp_w, tmp_c = folder / (WEIGHTS_FILE + ".tmp"), folder / (CFG_FILE + ".tmp")
    save_file(tensors, str(tmp_w))
    tmp_c.write_text(json.dumps(saelens_cfg, indent=2) + "\n")
    os.replace(tmp_w, folder / WEIGHTS_FILE)
    os.replace(tmp_c, folder / CFG_FILE)
    return folder


def _positive_int(cfg: dict, key: str, where: Path) -> int:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: {key} must be a positive integer, got {value!r}")
    return value


def load_saelens(path: str | Path, k: int | None = None) -> SAE:
    """Read a SAELens folder (written by `save_saelens` or by SAELens 6.x) into a kit SAE with n_inst=1.

    The result gives SAELens' codes and reconstruction: `sae(x).codes[0]`, `sae(x).x_hat[0]`. Its SAELens cfg is kept
    as `sae.saelens_cfg` (hook_name and model_name are in its "metadata"). Weights are stored in the kit as float32.
    A folder that is not an SAE, has a mismatched tensor, an unknown architecture or a missing cfg key raises
    ValueError naming the file and the problem. k: only for a "jumprelu" folder not written by the kit (see the module
    docstring); it becomes the BatchTopK k.
    """
    folder = Path(path)
    cfg, arch, d_in, d_sae, apply_b_dec, k = _read_saelens_cfg(folder, k)
    tensors = _read_saelens_tensors(folder / WEIGHTS_FILE, arch, d_in, d_sae)
    if arch == "jumprelu":
        th = tensors["threshold"].float()
        if not (th == th[0]).all() or th[0] < 0:
            raise ValueError(f"{folder / WEIGHTS_FILE}: the kit's BatchTopK has one threshold ≥ 0 for all latents; this JumpReLU's "
                             f"thresholds range over [{float(th.min()):.4g}, {float(th.max()):.4g}]")
    b_dec = tensors["b_dec"].float()
    kit_cfg = SAEConfig(d=d_in, d_sae=d_sae, architecture=SAELENS_TO_KIT[arch], k=k,
                        decoder_bias=bool(apply_b_dec or b_dec.any()), centre_input=apply_b_dec)
    sae = SAE(kit_cfg)
    with torch.no_grad():
        sae.W_enc.copy_(tensors["W_enc"].float().T[None])  # [1, d_sae, d]
        sae.b_enc.copy_(tensors["b_enc"].float()[None])  # [1, d_sae]
        sae.W_dec.copy_(tensors["W_dec"].float()[None])  # [1, d_sae, d]
        if sae.b_dec is not None:
            sae.b_dec.copy_(b_dec[None])  # [1, d]
        if arch == "jumprelu":
            sae.threshold.fill_(float(tensors["threshold"][0]))  # [1]
    sae.saelens_cfg = cfg
    return sae.eval()


def _read_saelens_cfg(folder: Path, k: int | None) -> tuple[dict, str, int, int, bool, int | None]:
    """Read and check a SAELens folder's cfg.json: (cfg, architecture, d_in, d_sae, apply_b_dec_to_input, k)."""
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder (a SAELens SAE is a folder with {CFG_FILE} and {WEIGHTS_FILE})")
    cfg_path, w_path = folder / CFG_FILE, folder / WEIGHTS_FILE
    for p in (cfg_path, w_path):
        if not p.is_file():
            raise ValueError(f"{p}: missing; a SAELens SAE folder holds {CFG_FILE} and {WEIGHTS_FILE}")
    cfg = read_json(cfg_path)
    if not isinstance(cfg, dict):
        raise ValueError(f"{cfg_path}: expected a JSON object, got {type(cfg).__name__}")
    for key in ("d_in", "d_sae", "dtype"):
        if key not in cfg:
            raise ValueError(f"{cfg_path}: required key {key!r} is missing")
    metadata = cfg.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ValueError(f"{cfg_path}: metadata must be a JSON object, got {metadata!r}")
    if "architecture" not in cfg and "sae_lens_version" in metadata:
        raise ValueError(f"{cfg_path}: required key 'architecture' is missing")
    arch = cfg.get("architecture", "standard")  # SAELens' own default for folders written before 6.0
    if arch not in SAELENS_TO_KIT:
        raise ValueError(f"{cfg_path}: unknown or unsupported architecture {arch!r}; the kit loads {sorted(SAELENS_TO_KIT)}")
    d_in, d_sae = _positive_int(cfg, "d_in", cfg_path), _positive_int(cfg, "d_sae", cfg_path)
    norm = cfg.get("normalize_activations", "none")
    if norm not in ("none", None):
        raise ValueError(
            f"{cfg_path}: normalize_activations={norm!r} is not supported (the kit does not rescale inputs); only 'none'"
        )
    if cfg.get("rescale_acts_by_decoder_norm", False):
        raise ValueError(
            f"{cfg_path}: rescale_acts_by_decoder_norm=True is not supported; load it in SAELens and save it again "
            "(SAELens folds the decoder norms into the weights on save), or fold them yourself"
        )
    apply_b_dec = cfg.get("apply_b_dec_to_input", True)  # SAELens' default
    if not isinstance(apply_b_dec, bool):
        raise ValueError(f"{cfg_path}: apply_b_dec_to_input must be true or false, got {apply_b_dec!r}")
    if arch == "jumprelu":
        k = k if k is not None else metadata.get("sae_kit_k")
        if k is None:
            raise ValueError(f"{cfg_path}: a 'jumprelu' SAE loads as the kit's BatchTopK only with its k: pass "
                             "load_saelens(path, k=...) (metadata.sae_kit_k is absent)")
        k = _positive_int({"k": k}, "k", cfg_path)
        if k > d_sae:
            raise ValueError(f"{cfg_path}: k={k} is larger than d_sae={d_sae}")
    elif k is not None:
        raise ValueError(f"k is only for 'jumprelu' folders; {cfg_path} is {arch!r}")
    if arch == "topk":
        if "k" not in cfg:
            raise ValueError(f"{cfg_path}: required key 'k' is missing for architecture 'topk'")
        k = _positive_int(cfg, "k", cfg_path)
        if k > d_sae:
            raise ValueError(f"{cfg_path}: k={k} is larger than d_sae={d_sae}")

    return cfg, arch, d_in, d_sae, apply_b_dec, k


def _read_saelens_tensors(w_path: Path, arch: str, d_in: int, d_sae: int) -> dict[str, torch.Tensor]:
    """Read and check a SAELens folder's weights: exactly the tensors its architecture has, in the cfg's shapes."""
    expected = {"W_enc": (d_in, d_sae), "b_enc": (d_sae,), "W_dec": (d_sae, d_in), "b_dec": (d_in,)}
    if arch == "jumprelu":
        expected["threshold"] = (d_sae,)
    try:
        with safe_open(str(w_path), framework="pt") as f:
            names = set(f.keys())
            missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
            if missing or extra:
                raise ValueError(f"{w_path}: tensors must be exactly {sorted(expected)}; missing {missing}, unexpected {extra}")
            tensors = {name: f.get_tensor(name) for name in expected}
    except (SafetensorError, OSError) as e:
        raise ValueError(f"{w_path}: corrupt or not a safetensors file ({e})") from e
    for name, shape in expected.items():
        t = tensors[name]
        if tuple(t.shape) != shape:
            raise ValueError(f"{w_path}: tensor {name} has shape {tuple(t.shape)}, expected {shape} from {CFG_FILE} "
                             f"(d_in={d_in}, d_sae={d_sae})")
        if not t.is_floating_point():
            raise ValueError(f"{w_path}: tensor {name} has dtype {t.dtype}, expected a floating-point type")

    return tensors
