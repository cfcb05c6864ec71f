"""The papers' own numbers, in one place: the notebooks print them beside ours, the benchmark puts
them in its columns, and the registry (:mod:`blur2vid.reproduction.registry`) quotes them.

Sources: Jin et al., CVPR 2018 (Tables 2 and 3); HyperCUT (Pham et al., CVPR 2023), its pPSNR
table on REDS and its dataset table (RB2V).  Nothing here is measured by us.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["JIN_TABLE2", "JIN_TABLE3", "JIN_TABLE3_DEVICE", "HYPERCUT_PPSNR", "RB2V_COUNTS", "jin_table2_text",
           "jin_table3_text", "hypercut_ppsnr_text"]

JIN_TABLE2 = pd.DataFrame(
    {"GoPro 45% (dB)": [30.52, 32.20], "Jin test set (dB)": [28.19, 29.02], "GoPro original (dB)": [28.48, 26.98]},
    index=pd.Index(["Nah [21]", "Middle"], name="model"),
)
"""Jin Table 2: PSNR of the middle frame on three test sets."""

JIN_TABLE3_DEVICE = "NVIDIA Titan X"
JIN_TABLE3: dict[str, dict[str, float]] = {
    "Nah": {"320P": 2.43, "480P": 3.52, "720P": 4.80, "params_M": 12.0},
    "Middle": {"320P": 0.24, "480P": 0.30, "720P": 0.45, "params_M": 5.0},
    "Full": {"320P": 0.61, "480P": 0.74, "720P": 1.10, "params_M": 17.0},
}
"""Jin Table 3: seconds per image on a Titan X at three resolutions, and parameters in millions."""

HYPERCUT_PPSNR = pd.DataFrame(
    [[20.65, 22.63, 24.20, 23.50, 24.20, 22.63, 20.65], [22.87, 24.88, 26.29, 25.10, 26.29, 24.88, 22.86],
     [22.78, 24.47, 26.14, 31.50, 26.12, 24.49, 22.83], [26.75, 28.30, 29.42, 29.97, 29.41, 28.30, 26.76]],
    index=pd.Index(["Jin (REDS)", "Jin + HyperCUT (REDS)", "Purohit (REDS)", "Purohit + HyperCUT (REDS)"], name="model"),
    columns=[f"F{k}" for k in range(1, 8)],
).assign(mean=lambda d: d.mean(axis=1))
"""HyperCUT's per-frame pPSNR on REDS (its README), for the Jin and Purohit backbones."""

RB2V_COUNTS = {"street": (9000, 2053), "face": (8000, 2157), "hand": (12000, 4722)}
"""HyperCUT's dataset table: RB2V training / test samples per category."""


def jin_table2_text() -> str:
    rows = [f"{name.split(' ')[0]} " + "/".join(f"{v:.2f}" for v in JIN_TABLE2.loc[name]) for name in JIN_TABLE2.index]
    return ", ".join(rows) + " dB"


def jin_table3_text() -> str:
    rows = [f"{name} " + "/".join(f"{row[r]:.2f}" for r in ("320P", "480P", "720P")) + f" s {row['params_M']:.0f}M"
            for name, row in JIN_TABLE3.items()]
    return f"{JIN_TABLE3_DEVICE.split()[-2]} {JIN_TABLE3_DEVICE.split()[-1]}: " + "; ".join(rows)


def hypercut_ppsnr_text(backbone: str) -> str:
    base, ours = HYPERCUT_PPSNR.loc[f"{backbone} (REDS)", "mean"], HYPERCUT_PPSNR.loc[f"{backbone} + HyperCUT (REDS)", "mean"]
    return f"REDS, {backbone} backbone: mean {base:.2f} -> {ours:.2f} dB with HyperCUT"
